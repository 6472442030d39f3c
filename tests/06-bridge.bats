#!/usr/bin/env bats
# Lesson 06 as a user runs it: a bridge, two containers on veth pairs, pings, NAT, port mapping,
# network modes. Every run happens in a throwaway network namespace (unshare -n), so the machine's
# own interfaces and firewall are never touched; the tests check that too.
load helpers

setup() {
  BRIDGE="$LESSONS/06-bridge/bridge"
  DIR="$LESSONS/06-bridge"
}

# What the real host's network looks like: links and firewall rules, one per line.
host_net_state() {
  ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'
  iptables -S
  iptables -t nat -S
  cat /proc/sys/net/ipv4/ip_forward
}

# Runs the lesson in a fresh network namespace, then prints what is left there after it.
#   in_netns ARGS...   -> the lesson's stdout, a line "--- left:", links, lab-bridge rules, ip_forward
in_netns() {
  unshare -n -- sh -c '"$@"; rc=$?; echo "--- left:"; ip -o link show | cut -d: -f2 | tr -d " " | sed "s/@.*//";
    iptables -S; iptables -t nat -S; echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)"; exit $rc' sh "$@"
}

json_part() { sed '/^--- left:$/,$d' <<<"$1"; }
left_part() { sed '1,/^--- left:$/d' <<<"$1"; }

@test "bridge: two containers on lab0 ping each other and the gateway, and all is removed" {
  requires root rootfs cmd:iptables cmd:jq
  before=$(host_net_state)
  run in_netns "$BRIDGE" --mode bridge --json
  assert_success
  j=$(json_part "$output")
  assert_equal "$(jq -r .held <<<"$j")" true
  assert_equal "$(jq -r .bridge <<<"$j")" lab0
  assert_equal "$(jq -r .gateway <<<"$j")" 172.29.0.1
  assert_equal "$(jq -r '[.containers[].address] | join(" ")' <<<"$j")" "172.29.0.2 172.29.0.3"
  # what each child reported from inside its own namespace
  assert_equal "$(jq -r '.containers[0].addresses | join(",")' <<<"$j")" "eth0 172.29.0.2/24"
  assert_equal "$(jq -r '.containers[1].interfaces | join(",")' <<<"$j")" "lo,eth0"
  [[ $(jq -r '.containers[0].netns' <<<"$j") != "$(jq -r '.containers[1].netns' <<<"$j")" ]]
  assert_equal "$(jq -r '[.bridge_ports[].name] | sort | join(" ")' <<<"$j")" "lab-veth1 lab-veth2"
  assert_equal "$(jq -r '[.pings[] | select(.ok)] | length' <<<"$j")" 4
  assert_equal "$(jq -r '[.pings[].to] | sort | join(" ")' <<<"$j")" "172.29.0.1 172.29.0.1 172.29.0.2 172.29.0.3"
  # nothing of it is left in the namespace it ran in
  left=$(left_part "$output")
  assert_equal "$(grep -cE '^(lab0|lab-veth|lab-out)' <<<"$left")" 0
  [[ $left != *lab-bridge* ]]
  assert_line "ip_forward=0"
  # and the machine's own network never saw any of it
  assert_equal "$(host_net_state)" "$before"
}

@test "bridge: MASQUERADE shows the container as the host's address; -p 8080:80 serves its page" {
  requires root rootfs cmd:iptables cmd:jq
  run in_netns "$BRIDGE" --mode bridge --json
  assert_success
  j=$(json_part "$output")
  # only the server in the "outside" namespace writes seen_from: the address it was reached from
  assert_equal "$(jq -r .masquerade.seen_from <<<"$j")" 198.51.100.1
  assert_equal "$(jq -r .masquerade.container <<<"$j")" 172.29.0.2
  assert_equal "$(jq -r .masquerade.held <<<"$j")" true
  # what "the internet" reported from inside its own namespace
  assert_equal "$(jq -r '.outside.addresses | join(",")' <<<"$j")" "eth0 198.51.100.2/24"
  [[ $(jq -r .outside.netns <<<"$j") != "$(jq -r '.containers[0].netns' <<<"$j")" ]]
  # the page was written for container one and served by busybox httpd inside it
  assert_equal "$(jq -r .port_mapping.page <<<"$j")" "hello from lab-c1 (172.29.0.2:80)"
  assert_equal "$(jq -r .port_mapping.url <<<"$j")" "http://198.51.100.1:8080/"
  assert_equal "$(jq -r '.iptables_rules | length' <<<"$j")" 4
  jq -e '.iptables_rules | any(. == "-A POSTROUTING -s 172.29.0.0/24 ! -o lab0 -m comment --comment lab-bridge -j MASQUERADE")' <<<"$j"
  jq -e '.iptables_rules | any(test("--dport 8080 .* -j DNAT --to-destination 172.29.0.2:80"))' <<<"$j"
  jq -e '.iptables_rules | any(. == "-A FORWARD -s 172.29.0.0/24 -m comment --comment lab-bridge -j ACCEPT")' <<<"$j"
  jq -e '.iptables_rules | any(. == "-A FORWARD -d 172.29.0.0/24 -m comment --comment lab-bridge -j ACCEPT")' <<<"$j"
  assert_equal "$(jq -r '.rules_left | length' <<<"$j")" 0
  assert_equal "$(jq -r .ip_forward_before <<<"$j")" 0
}

@test "bridge: --bridge and --subnet choose the names and addresses" {
  requires root rootfs cmd:iptables cmd:jq
  run in_netns "$BRIDGE" --mode bridge --bridge lab-test0 --subnet 10.77.0.0/16 --json
  assert_success
  j=$(json_part "$output")
  assert_equal "$(jq -r .gateway <<<"$j")" 10.77.0.1
  assert_equal "$(jq -r '.containers[1].addresses[0]' <<<"$j")" "eth0 10.77.0.3/16"
  jq -e '.iptables_rules | any(. == "-A POSTROUTING -s 10.77.0.0/16 ! -o lab-test0 -m comment --comment lab-bridge -j MASQUERADE")' <<<"$j"
  refute_line --regexp '^lab-test0$'
}

@test "bridge: --mode none sees only lo" {
  requires root rootfs cmd:jq
  run unshare -n -- "$BRIDGE" --mode none --json
  assert_success
  assert_equal "$(jq -r '.modes.none.interfaces | join(",")' <<<"$output")" lo
  [[ $(jq -r .modes.none.netns <<<"$output") != "$(readlink /proc/self/ns/net)" ]]
  # under unshare -n the lesson itself has only lo: the child's namespace must not be the lesson's
  host_ns=$(jq -r .modes.none.host_netns <<<"$output")
  [[ $host_ns == net:\[* ]]
  [[ $(jq -r .modes.none.netns <<<"$output") != "$host_ns" ]]
  [[ $host_ns != "$(readlink /proc/self/ns/net)" ]]
  assert_equal "$(jq -r .modes.none.held <<<"$output")" true
}

@test "bridge: --mode host sees the host's interfaces and namespace" {
  requires root rootfs cmd:jq
  run "$BRIDGE" --mode host --json
  assert_success
  assert_equal "$(jq -r .modes.host.netns <<<"$output")" "$(readlink /proc/self/ns/net)"
  assert_equal "$(jq -r '.modes.host.interfaces | join(" ")' <<<"$output")" \
    "$(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); printf "%s%s", sep, $2; sep=" " }')"
}

@test "bridge: --mode container joins lab-c1's namespace and sees its eth0" {
  requires root rootfs cmd:jq
  run in_netns "$BRIDGE" --mode container --json
  assert_success
  j=$(json_part "$output")
  assert_equal "$(jq -r .modes.container.netns <<<"$j")" "$(jq -r '.containers[0].netns' <<<"$j")"
  assert_equal "$(jq -r '.modes.container.addresses | join(",")' <<<"$j")" "eth0 172.29.0.2/24"
  # container mode needs no NAT: no rules were added
  assert_equal "$(jq -r 'has("iptables_rules")' <<<"$j")" false
}

@test "bridge: narration numbers every step and ends with a verdict that held" {
  requires root rootfs cmd:iptables
  run unshare -n -- "$BRIDGE"
  assert_success
  assert_line --regexp '^\[1/16\] rtnl_route_alloc_cache\(AF_INET\) +~ ip -4 route$'
  assert_line --regexp '^\[2/16\] rtnl_link_add\("lab0", type bridge\) +~ ip link add lab0 type bridge$'
  assert_line --regexp '^      lab-veth1: master lab0 state '
  assert_line --regexp '^      lab-c1 -> 172\.29\.0\.3 +reply$'
  assert_line --regexp '^\[16/16\] '
  assert_line --regexp '^      lab-outside \(pid [0-9]+\) sees lo, eth0 \(eth0 198\.51\.100\.2/24\); '
  assert_line --index -1 --partial "MASQUERADE hid lab-c1 behind 198.51.100.1"
  assert_line --index -1 --regexp '^verdict: HELD - '
}

@test "bridge: --quiet prints only the verdict; no colour without a terminal" {
  requires root rootfs cmd:iptables
  run unshare -n -- "$BRIDGE" --quiet
  assert_success
  assert_equal "${#lines[@]}" 1
  assert_output --regexp '^verdict: HELD - '
  refute_output --partial $'\033['
}

@test "bridge: firewall rules live in the lesson's network namespace; --keep leaves them there" {
  requires root rootfs cmd:iptables cmd:ip
  before=$(host_net_state)
  # a private mount namespace with its own /run, so ip netns pins vanish with it
  run unshare -n -m -- sh -c 'mount -t tmpfs lab-run /run && "$1" --mode bridge --keep > /tmp/lab-bridge-keep.out;
    echo "rc=$?"; ip netns list; iptables -t nat -S; iptables -S FORWARD
    ip netns exec lab-c1 "$2" ping -c 1 -W 2 172.29.0.3 >/dev/null && echo "kept-ping-ok"
    grep "^        sudo " /tmp/lab-bridge-keep.out | sed "s/sudo //g" > /tmp/lab-bridge-keep.sh
    sh -e /tmp/lab-bridge-keep.sh && echo "removed-ok"; sleep 0.2
    ip -o link show | cut -d: -f2 | tr -d " "; iptables -t nat -S | grep -c lab-bridge; cat /proc/sys/net/ipv4/ip_forward' \
    sh "$BRIDGE" "$ROOTFS/bin/busybox"
  rm -f /tmp/lab-bridge-keep.out /tmp/lab-bridge-keep.sh
  assert_line "rc=0"
  assert_line --regexp '^lab-c1( |$)'
  assert_line --regexp '^lab-outside( |$)'
  assert_line --partial -- "-A POSTROUTING -s 172.29.0.0/24 ! -o lab0 -m comment --comment lab-bridge -j MASQUERADE"
  assert_line "kept-ping-ok"
  # the printed commands remove it all
  assert_line "removed-ok"
  refute_line --regexp '^(lab0|lab-veth[12]|lab-out)(@.*)?$'
  assert_equal "${lines[-2]}" 0
  assert_equal "${lines[-1]}" 0
  assert_equal "$(host_net_state)" "$before"
}

@test "bridge: Ctrl-C removes everything made so far" {
  requires root rootfs cmd:iptables
  run unshare -n -- bash -c '"$1" --mode bridge > /tmp/lab-bridge-int.out 2>&1 & p=$!
    for _ in $(seq 500); do grep -q "^\[3/" /tmp/lab-bridge-int.out && break; sleep 0.01; done
    kill -INT $p; wait $p; echo "rc=$?"; sleep 0.2
    ip -o link show | cut -d: -f2 | tr -d " "; iptables -t nat -S | grep -c lab-bridge; cat /tmp/lab-bridge-int.out' sh "$BRIDGE"
  rm -f /tmp/lab-bridge-int.out
  assert_line "rc=130"
  assert_line "bridge: interrupted; everything created so far was removed"
  refute_line --regexp '^(lab0|lab-veth[12]|lab-out)(@.*)?$'
  refute_output --partial "verdict:"
}

@test "bridge: a subnet that overlaps a route here is refused in one line, nothing made" {
  requires root cmd:ip
  run unshare -n -- sh -c 'ip link add lab-x type veth peer name lab-y && ip addr add 172.29.5.1/16 dev lab-x &&
    ip link set lab-x up && "$1" --subnet 172.29.0.0/24 2>&1; echo "rc=$?"; ip -o link show | cut -d: -f2 | tr -d " "' sh "$BRIDGE"
  assert_equal "${lines[0]}" "bridge: the subnet 172.29.0.0/24 overlaps the route 172.29.0.0/16 on this host; choose another with --subnet"
  assert_equal "${lines[1]}" "rc=1"
  refute_line --regexp '^(lab0|lab-veth[12])(@.*)?$'
}

@test "bridge: an existing link with the bridge's name is refused in one line" {
  requires root cmd:ip
  run unshare -n -- sh -c 'ip link add lab0 type veth peer name lab-y && "$1" 2>&1; echo "rc=$?"' sh "$BRIDGE"
  assert_equal "${#lines[@]}" 2
  assert_line --index 0 --partial "a link called lab0 exists already"
  assert_line --index 1 "rc=1"
}

@test "bridge: bad options are refused in one line with exit 2" {
  for args in "--bridge=" "--bridge abcdefghijklmnop" "--bridge a/b" "--bridge=a b" \
              "--subnet 172.29.0.5/24" "--subnet nonsense" "--subnet 10.0.0.0/30" "--mode bogus" "--keeep"; do
    # shellcheck disable=SC2086
    run unshare -n -- "$BRIDGE" $args
    [[ $args == "--bridge=a b" ]] && run unshare -n -- "$BRIDGE" "--bridge=a b"
    assert_failure 2
    assert_equal "${#lines[@]}" 1
    assert_output --partial "see bridge --help"
  done
  run "$BRIDGE" --bridge abcdefghijklmnop
  assert_output --partial "is 16 bytes; interface names are at most 15"
  run "$BRIDGE" --subnet 172.29.0.5/24
  assert_output --partial "did you mean 172.29.0.0/24?"
}

@test "bridge: without root it says so in one line and exits non-zero" {
  run_as_nobody "$BRIDGE"
  assert_failure 1
  assert_equal "${#lines[@]}" 1
  assert_output --partial "needs root"
  assert_output --partial "sudo ./bridge"
}

@test "bridge: --help explains every option" {
  run "$BRIDGE" --help
  assert_success
  for opt in --bridge --subnet --mode --keep --json --quiet; do
    assert_output --partial -- "$opt"
  done
}

@test "bridge demo.sh: ip, iptables and nsenter do the same, checked, and clean up" {
  requires root rootfs cmd:ip cmd:iptables cmd:nsenter cmd:bridge
  before=$(host_net_state)
  run unshare -n -- sh -c '"$1"; echo "rc=$?"; sleep 0.2; ip -o link show | cut -d: -f2 | tr -d " "; iptables -t nat -S | grep -c MASQUERADE' sh "$DIR/demo.sh"
  assert_line "rc=0"
  assert_line --regexp '^      lab-veth1: master lab0 state '
  assert_line "      the outside server saw the connection from 198.51.100.1"
  assert_line --partial 'verdict: HELD'
  refute_line --regexp '^(lab0|lab-veth[12]|lab-out)(@.*)?$'
  assert_equal "${lines[-1]}" 0
  assert_equal "$(host_net_state)" "$before"
}

@test "bridge demo.sh: refuses a bad bridge name and makes nothing" {
  run "$DIR/demo.sh" "abcdefghijklmnop"
  assert_failure
  assert_output --partial "1-15 bytes"
}

@test "bridge bench.sh: one markdown row per step" {
  requires root rootfs cmd:iptables cmd:jq
  run "$DIR/bench.sh" 1
  assert_success
  assert_equal "${#lines[@]}" 5
  assert_line --regexp '^\| bridge: create bridge \| [0-9.]+ ms \|$'
  assert_line --regexp '^\| bridge: move veth into namespace \| [0-9.]+ ms \|$'
}

@test "bridge: README transcripts match the real output (English and Chinese)" {
  requires root rootfs cmd:iptables
  check_transcript "$DIR/README.md" "$DIR/README.zh.md"
}
