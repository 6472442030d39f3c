#!/usr/bin/env bats
# Lesson 06 as a user runs it: a bridge, two containers on veth pairs, pings, NAT, port mapping,
# network modes. Every run happens in a throwaway network namespace (unshare -n), so the machine's
# own interfaces and firewall are never touched; the tests check that too.
load helpers
load kill-points

setup() {
  BRIDGE="$LESSONS/06-bridge/bridge"
  DIR="$LESSONS/06-bridge"
  HOLDER=""
  PID=""
}

teardown() {
  # a test that failed half-way must not leave its processes (and their network namespace) behind
  [[ -z $PID ]] || kill -KILL "$PID" 2>/dev/null || true
  if [[ -n $HOLDER ]]; then
    # what a killed run left in the holder's namespace, a saved ip_forward in /run/lab included
    nsenter -t "$HOLDER" -n "$PROJECT_DIR/doctor/doctor" --clean >/dev/null 2>&1 || true
    kill -KILL "$HOLDER" 2>/dev/null || true
  fi
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
  jq -e '.iptables_rules.nat | any(. == "-A POSTROUTING -s 172.29.0.0/24 ! -o lab0 -m comment --comment lab-bridge -j MASQUERADE")' <<<"$j"
  jq -e '.iptables_rules.nat | any(test("--dport 8080 .* -j DNAT --to-destination 172.29.0.2:80"))' <<<"$j"
  assert_equal "$(jq -r '.rules_left | length' <<<"$j")" 0
  assert_equal "$(jq -r .ip_forward_before <<<"$j")" 0
}

@test "bridge: the rules are Docker's layout under lab names, every one marked lab-bridge" {
  requires root rootfs cmd:iptables cmd:jq
  run in_netns "$BRIDGE" --mode bridge --json
  assert_success
  j=$(json_part "$output")
  # what iptables -S listed while the rules were in place, in its order
  c=" -m comment --comment lab-bridge"
  assert_equal "$(jq -r '.iptables_rules.filter[]' <<<"$j")" "-N LAB-DOCKER
-N LAB-DOCKER-USER
-A FORWARD$c -j LAB-DOCKER-USER
-A FORWARD -o lab0 -m conntrack --ctstate RELATED,ESTABLISHED$c -j ACCEPT
-A FORWARD -o lab0$c -j LAB-DOCKER
-A FORWARD -i lab0 ! -o lab0$c -j ACCEPT
-A FORWARD -i lab0 -o lab0$c -j ACCEPT
-A LAB-DOCKER -d 172.29.0.2/32 ! -i lab0 -o lab0 -p tcp -m tcp --dport 80$c -j ACCEPT
-A LAB-DOCKER ! -i lab0 -o lab0$c -j DROP
-A LAB-DOCKER-USER$c -j RETURN"
  assert_equal "$(jq -r '.iptables_rules.nat[]' <<<"$j")" "-N LAB-DOCKER
-A PREROUTING -m addrtype --dst-type LOCAL$c -j LAB-DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL$c -j LAB-DOCKER
-A POSTROUTING -s 172.29.0.0/24 ! -o lab0$c -j MASQUERADE
-A LAB-DOCKER ! -i lab0 -p tcp -m tcp --dport 8080$c -j DNAT --to-destination 172.29.0.2:80"
  # and what each rule is for held, as the lesson saw it
  assert_equal "$(jq -r .host_to_published.page <<<"$j")" "hello from lab-c1 (172.29.0.2:80)"
  assert_equal "$(jq -r .container_to_elsewhere.answer <<<"$j")" "you came from 198.51.100.1"
  assert_equal "$(jq -r .unpublished.inside_page <<<"$j")" "hello from lab-c2 (172.29.0.3:80)"
  assert_equal "$(jq -r .unpublished.from_outside_ok <<<"$j")" false
  (( $(jq -r .unpublished.dropped <<<"$j") > 0 ))
}

# Runs ./bridge --mode bridge --shell in a fresh network namespace and, once the lesson says its
# shell is there, feeds that shell the commands read from stdin; prints the lesson's output (the
# shell's included), "rc=N", then what is left in that namespace: links, lab rules, ip_forward.
with_shell() {
  local commands
  commands=$(cat)
  unshare -n -- bash -c '
    d=$(mktemp -d /tmp/lab-bridge-test-XXXXXX); mkfifo "$d/in"
    "$1" --mode bridge --shell <"$d/in" >"$d/out" 2>&1 & p=$!
    exec 3>"$d/in"
    for _ in $(seq 300); do grep -q "exit it to remove everything" "$d/out" && break; sleep 0.1; done
    grep -q "exit it to remove everything" "$d/out" && printf "%s\nexit\n" "$2" >&3
    exec 3>&-
    wait $p; rc=$?; cat "$d/out"; rm -rf "$d"; echo "rc=$rc"
    echo "--- left:"; ip -o link show | cut -d: -f2 | tr -d " " | sed "s/@.*//"
    (iptables -S; iptables -t nat -S) | grep -e lab-bridge -e "^-N LAB-"
    echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)"' sh "$BRIDGE" "$commands"
}

@test "bridge: from its --shell, a container's :8080 reaches the real server, the host its published port, the outside no unpublished one" {
  requires root rootfs cmd:iptables cmd:nsenter
  www=$(mktemp -d /tmp/lab-bridge-www-XXXXXX)
  chmod 755 "$www"
  echo "the real server" >"$www/index.html"
  run with_shell <<EOF
BB=$ROOTFS/bin/busybox
nsenter -t \$OUTSIDE -n \$BB httpd -f -p 8080 -h $www & h=\$!
for _ in \$(seq 50); do r=\$(nsenter -t \$C2 -n \$BB wget -q -O - http://198.51.100.2:8080/ 2>/dev/null) && break; sleep 0.1; done
echo "c2-to-elsewhere: \$r"
kill \$h; wait \$h
echo "host-to-published: \$(\$BB wget -q -O - http://198.51.100.1:8080/ 2>/dev/null)"
echo "c1-to-c2: \$(nsenter -t \$C1 -n \$BB wget -q -O - http://172.29.0.3/ 2>/dev/null)"
nsenter -t \$OUTSIDE -n ip route add 172.29.0.0/24 via 198.51.100.1
echo "outside-to-c2: \$(timeout 3 nsenter -t \$OUTSIDE -n \$BB wget -q -O - http://172.29.0.3/ 2>/dev/null || echo unreachable)"
echo "outside-to-published: \$(nsenter -t \$OUTSIDE -n \$BB wget -q -O - http://198.51.100.1:8080/ 2>/dev/null)"
EOF
  rm -rf "$www"
  # lab-c2 asked 198.51.100.2:8080 and got that server, not lab-c1 (DNAT only for local addresses)
  assert_line "c2-to-elsewhere: the real server"
  # the host's own connection to its published port (nat OUTPUT)
  assert_line "host-to-published: hello from lab-c1 (172.29.0.2:80)"
  # lab-c2's port 80 serves over the bridge, but not the outside, even with a route to it
  assert_line "c1-to-c2: hello from lab-c2 (172.29.0.3:80)"
  assert_line "outside-to-c2: unreachable"
  assert_line "outside-to-published: hello from lab-c1 (172.29.0.2:80)"
  assert_line "rc=0"
  assert_line --partial "verdict: HELD"
  left=$(left_part "$output")
  assert_equal "$(grep -cE '^(lab0|lab-veth|lab-out)' <<<"$left")" 0
  [[ $left != *lab-bridge* && $left != *LAB-* ]]
  [[ $left == *ip_forward=0* ]]
}

@test "bridge: ip_forward's old value waits in /run/lab/sysctl/<netns inode> while it runs, and goes after" {
  requires root rootfs cmd:iptables
  run with_shell <<'EOF'
f=/run/lab/sysctl/$(stat -L -c %i /proc/self/ns/net)/net.ipv4.ip_forward
echo "saved=$(cat $f) now=$(cat /proc/sys/net/ipv4/ip_forward) file=$f"
EOF
  assert_line "rc=0"
  assert_line --regexp '^saved=0 now=1 file=/run/lab/sysctl/[0-9]+/net.ipv4.ip_forward$'
  f=$(sed -n 's/^saved=.* file=//p' <<<"$output")
  [[ ! -e $f && ! -e ${f%/*} ]]
  assert_line "ip_forward=0"
}

# A network namespace that outlives the lesson run in it, as the host's own does: held by a
# sleeping process (HOLDER). Waits (bounded) until unshare has made it.
start_holder() {
  unshare -n sleep infinity 3>&- 8>&- &
  HOLDER=$!
  kp_wait_for "unshare -n to make a network namespace" holder_ready
}
holder_ready() {
  local ns
  ns=$(readlink "/proc/$HOLDER/ns/net") && [[ $ns != "$(readlink /proc/self/ns/net)" ]]
}
in_holder() { nsenter -t "$HOLDER" -n "$@"; }
# In holder_state's $output: the twelve rules of the lesson, every one with the lab-bridge
# comment, every chain named LAB-* (what doctor --clean finds and removes).
assert_twelve_lab_rules() {
  local line
  [[ $(grep -c "^-A " <<<"$output") -eq 12 ]] || fail "not the twelve rules: $output"
  while read -r line; do
    [[ $line == *"--comment lab-bridge"* ]] || fail "a rule without the lab comment: $line"
  done < <(grep '^-A ' <<<"$output")
  while read -r line; do
    [[ $line == "-N LAB-"* ]] || fail "a chain without a LAB- name: $line"
  done < <(grep '^-N ' <<<"$output")
}
# The holder's namespace as start_holder made it: only lo, ip_forward 0, no saved value.
assert_holder_as_found() {
  run holder_state
  assert_equal "$output" "lo
ip_forward=0
saved=none"
}
no_veth_in_holder() { ! in_holder ip -o link show | grep -qE '^[0-9]+: lab-(veth|out)'; }

# What is left in the holder's namespace: links, every iptables line that is not a policy,
# ip_forward, and the saved value (or "none").
holder_state() {
  in_holder sh -c 'ip -o link show | cut -d: -f2 | tr -d " " | sed "s/@.*//"
    iptables -S | grep -v "^-P"; iptables -t nat -S | grep -v "^-P"
    echo "ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)"
    f=/run/lab/sysctl/$(stat -L -c %i /proc/self/ns/net)/net.ipv4.ip_forward
    echo "saved=$(cat "$f" 2>/dev/null || echo none)"'
}

@test "bridge: SIGKILL during --shell: its processes die with it, all it leaves is lab-named, doctor --clean removes it and restores ip_forward, the next run holds" {
  requires root rootfs cmd:iptables cmd:nsenter
  kp_before
  start_holder
  mkfifo "$BATS_TEST_TMPDIR/in"
  exec 8<>"$BATS_TEST_TMPDIR/in"
  nsenter -t "$HOLDER" -n "$BRIDGE" --mode bridge --shell <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- 8>&- &
  PID=$!
  echo 'echo shell-ready' >&8
  # blocked: the shell reads its stdin, a fifo this test holds open; bridge waits for the shell
  kp_wait_for "the shell of ./bridge --shell" grep -q '^shell-ready' "$BATS_TEST_TMPDIR/out"
  mapfile -t inside < <(kp_descendants "$PID")  # containers, lab-outside, httpds, the shell
  [[ ${#inside[@]} -ge 5 ]]
  kp_kill "$PID"
  PID=""
  exec 8>&-
  kp_processes_gone "${inside[@]}"
  # The veths go with the containers' namespaces, but the kernel dismantles a dead namespace
  # later, from a work queue: wait (bounded) for that.
  kp_wait_for "the veths to go with the containers' namespaces" no_veth_in_holder
  # what the kernel could not remove: the bridge, the rules, the chains, ip_forward; every rule
  # marked lab-bridge, every chain LAB-*
  run holder_state
  assert_line "lab0"
  refute_line --regexp '^lab-(veth|out)'
  assert_line "ip_forward=1"
  assert_line "saved=0"
  assert_line --partial -- "-A LAB-DOCKER ! -i lab0 -p tcp -m tcp --dport 8080 -m comment --comment lab-bridge -j DNAT"
  assert_twelve_lab_rules
  # the next run refuses, pointing at doctor, and changes nothing
  run in_holder "$BRIDGE" --mode bridge
  assert_failure 1
  assert_equal "${#lines[@]}" 1
  assert_output --partial "an earlier run (killed, or --keep) left a link called lab0"
  assert_output --partial "doctor/doctor --clean"
  # doctor, in that namespace, lists it all and --clean removes it and puts ip_forward back
  run in_holder "$PROJECT_DIR/doctor/doctor"
  assert_line --partial "- link lab0: "
  assert_line --partial "- iptables-chain nat: LAB-DOCKER"
  run in_holder "$PROJECT_DIR/doctor/doctor" --clean
  assert_success
  assert_holder_as_found
  # the next run holds, and leaves the namespace as it found it
  run in_holder "$BRIDGE" --mode bridge --quiet
  assert_success
  assert_output --regexp '^verdict: HELD - '
  assert_holder_as_found
  kp_kill "$HOLDER"
  HOLDER=""
  kp_after
}

@test "bridge demo.sh: SIGKILL while it waits (--wait): its processes die with it, all it leaves is lab-named, doctor --clean removes it, the next run holds" {
  requires root rootfs cmd:ip cmd:iptables cmd:nsenter cmd:bridge cmd:setpriv
  kp_before
  start_holder
  mkfifo "$BATS_TEST_TMPDIR/in"
  exec 8<>"$BATS_TEST_TMPDIR/in"
  nsenter -t "$HOLDER" -n "$DIR/demo.sh" --wait <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- 8>&- &
  PID=$!
  # blocked: demo.sh reads a line from its stdin, a fifo this test holds open
  kp_wait_for "demo.sh --wait to wait for Enter" grep -q 'press Enter to remove it' "$BATS_TEST_TMPDIR/out"
  mapfile -t inside < <(kp_descendants "$PID")  # three sleeping namespaces, four httpds
  [[ ${#inside[@]} -ge 7 ]]
  www=$(ls -d /tmp/lab-bridge-demo-*)
  kp_kill "$PID"
  PID=""
  exec 8>&-
  kp_processes_gone "${inside[@]}"
  run holder_state
  assert_line "lab0"
  assert_line "ip_forward=1"
  assert_line "saved=0"
  assert_twelve_lab_rules
  [[ -d $www ]]
  # the next run refuses, pointing at doctor
  run in_holder "$DIR/demo.sh"
  assert_failure 1
  assert_output --partial "doctor/doctor --clean"
  run in_holder "$PROJECT_DIR/doctor/doctor" --clean
  assert_success
  assert_output --partial "$www"
  [[ ! -e $www ]]
  assert_holder_as_found
  run in_holder "$DIR/demo.sh"
  assert_success
  assert_line --index -1 --regexp '^verdict: HELD - '
  assert_holder_as_found
  kp_kill "$HOLDER"
  HOLDER=""
  kp_after
}

@test "bridge: --bridge and --subnet choose the names and addresses" {
  requires root rootfs cmd:iptables cmd:jq
  run in_netns "$BRIDGE" --mode bridge --bridge lab-test0 --subnet 10.77.0.0/16 --json
  assert_success
  j=$(json_part "$output")
  assert_equal "$(jq -r .gateway <<<"$j")" 10.77.0.1
  assert_equal "$(jq -r '.containers[1].addresses[0]' <<<"$j")" "eth0 10.77.0.3/16"
  jq -e '.iptables_rules.nat | any(. == "-A POSTROUTING -s 10.77.0.0/16 ! -o lab-test0 -m comment --comment lab-bridge -j MASQUERADE")' <<<"$j"
  jq -e '.iptables_rules.filter | any(. == "-A LAB-DOCKER ! -i lab-test0 -o lab-test0 -m comment --comment lab-bridge -j DROP")' <<<"$j"
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
  assert_line --regexp '^\[1/19\] rtnl_route_alloc_cache\(AF_INET\) +~ ip -4 route$'
  assert_line --regexp '^\[2/19\] rtnl_link_add\("lab0", type bridge\) +~ ip link add lab0 type bridge$'
  assert_line --regexp '^      lab-veth1: master lab0 state '
  assert_line --regexp '^      lab-c1 -> 172\.29\.0\.3 +reply$'
  assert_line --regexp '^\[19/19\] '
  assert_line --regexp '^      lab-outside \(pid [0-9]+\) sees lo, eth0 \(eth0 198\.51\.100\.2/24\); '
  assert_line --index -1 --partial "MASQUERADE hid lab-c1 behind 198.51.100.1"
  assert_line --index -1 --partial "port 8080 reached lab-c1:80 from outside and from the host itself"
  assert_line --index -1 --partial "lab-c2 reached another server's port 8080"
  assert_line --index -1 --partial "lab-c2's unpublished port 80 was dropped from outside"
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
    echo "saved-files=$(ls /run/lab/sysctl/*/net.ipv4.ip_forward | wc -l)"
    echo "sudo-lines=$(grep -c sudo /tmp/lab-bridge-keep.out)"
    sed -n "/remove it all with/,\$p" /tmp/lab-bridge-keep.out | grep "^        " > /tmp/lab-bridge-keep.sh
    sh -e /tmp/lab-bridge-keep.sh && echo "removed-ok"
    ip -o link show | cut -d: -f2 | tr -d " "; ls /run/lab/sysctl/*/net.ipv4.ip_forward 2>/dev/null
    (iptables -S; iptables -t nat -S) | grep -c -e lab-bridge -e "^-N LAB-"; cat /proc/sys/net/ipv4/ip_forward' \
    sh "$BRIDGE" "$ROOTFS/bin/busybox"
  rm -f /tmp/lab-bridge-keep.out /tmp/lab-bridge-keep.sh
  assert_line "rc=0"
  assert_line "saved-files=1"
  # the commands are shown without sudo: a Debian root has none
  assert_line "sudo-lines=0"
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
    kill -INT $p; wait $p; echo "rc=$?"
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

@test "bridge: an existing link with the bridge's name is refused in one line, pointing at doctor" {
  requires root cmd:ip
  run unshare -n -- sh -c 'ip link add lab0 type veth peer name lab-y && "$1" 2>&1; echo "rc=$?"' sh "$BRIDGE"
  assert_equal "${#lines[@]}" 2
  assert_line --index 0 --partial "a link called lab0"
  assert_line --index 0 --partial "doctor/doctor --clean"
  assert_line --index 1 "rc=1"
  refute_output --partial "ip link del"
}

@test "bridge: --bridge eth0 or lo (the host's links) is refused in one line before anything is made" {
  requires root cmd:ip
  for name in eth0 lo docker0 lab1; do
    run unshare -n -- sh -c 'ip link add eth0 type veth peer name lab-p; "$1" --bridge "$2" 2>&1; echo "rc=$?"
      ip -o link show | cut -d: -f2 | tr -d " " | sed "s/@.*//" | sort | tr "\n" " "' sh "$BRIDGE" "$name"
    assert_equal "${#lines[@]}" 3
    assert_line --index 0 --partial "bridge: --bridge: \"$name\" is not a lab name"
    assert_line --index 1 "rc=2"
    assert_line --index 2 "eth0 lab-p lo "
    # never advise deleting a link the lesson did not make
    refute_output --partial "link del"
  done
}

@test "bridge: loopback, multicast, link-local, 0/8, reserved and the lesson's own outside subnet are refused up front" {
  requires root cmd:ip
  for subnet in 127.0.0.0/24 127.0.0.0/8 224.0.0.0/24 239.1.0.0/16 169.254.0.0/16 0.0.0.0/8 \
                240.0.0.0/24 255.255.255.0/24 198.51.100.0/24 198.51.0.0/16 198.51.100.64/26; do
    run unshare -n -- sh -c '"$1" --subnet "$2" 2>&1; echo "rc=$?"; ip -o link show | wc -l' sh "$BRIDGE" "$subnet"
    assert_equal "${#lines[@]}" 3
    assert_line --index 0 --regexp "^bridge: --subnet: $subnet (lies in [0-9./]+ \(|overlaps 198\.51\.100\.0/24, the lesson's own \"internet\")"
    assert_line --index 1 "rc=2"
    assert_line --index 2 "1"  # lo only: nothing was made
  done
}

@test "bridge: leftovers of a run that could not clean up are refused in one line, pointing at doctor" {
  requires root cmd:ip cmd:iptables
  # a private /run, so the saved value made here stays out of the machine's own /run
  run unshare -n -m -- sh -c 'mount -t tmpfs lab-run /run
    iptables -N LAB-DOCKER; iptables -A FORWARD -m comment --comment lab-bridge -j ACCEPT
    d=/run/lab/sysctl/$(stat -L -c %i /proc/self/ns/net); mkdir -p $d; echo 0 > $d/net.ipv4.ip_forward
    "$1" --mode bridge 2>&1; echo "rc=$?"; ip -o link show | wc -l; cat $d/net.ipv4.ip_forward' sh "$BRIDGE"
  assert_equal "${#lines[@]}" 4
  assert_line --index 0 --partial "an earlier run (killed, or --keep) left "
  assert_line --index 0 --partial "the filter chain LAB-DOCKER"
  assert_line --index 0 --partial "1 iptables rule(s) marked lab-bridge"
  assert_line --index 0 --partial "the saved ip_forward /run/lab/sysctl/"
  assert_line --index 0 --partial "remove what the lessons left with: doctor/doctor --clean"
  assert_line --index 1 "rc=1"
  assert_line --index 2 "1"  # nothing made
  assert_line --index 3 "0"  # the saved value untouched: it is the true old one
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
  assert_output --partial "./bridge"  # how to run it as root: common's advice, not pinned here
}

@test "bridge: --help explains every option" {
  run "$BRIDGE" --help
  assert_success
  for opt in --bridge --subnet --mode --keep --shell --json --quiet; do
    assert_output --partial -- "$opt"
  done
}

@test "bridge demo.sh: ip, iptables and nsenter do the same, checked, and clean up" {
  requires root rootfs cmd:ip cmd:iptables cmd:nsenter cmd:bridge
  before=$(host_net_state)
  run unshare -n -- sh -c '"$1"; echo "rc=$?"; ip -o link show | cut -d: -f2 | tr -d " "
    ls /run/lab/sysctl/$(stat -L -c %i /proc/self/ns/net) 2>&1 | grep -c "No such file"
    (iptables -S; iptables -t nat -S) | grep -c -e lab-bridge -e "^-N LAB-"' sh "$DIR/demo.sh"
  assert_line "rc=0"
  # the README shows both ports forwarding: the demo waits for that before it prints them
  assert_line "      lab-veth1: master lab0 state forwarding"
  assert_line "      lab-veth2: master lab0 state forwarding"
  assert_line "      iptables -I FORWARD 1 -j LAB-DOCKER-USER"
  assert_line "      iptables -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j LAB-DOCKER"
  assert_line "      the outside server saw the connection from 198.51.100.1"
  assert_line '      http://198.51.100.1:8080/ from the host -> "hello from container one"  (nat OUTPUT)'
  assert_line "      the outside server on 8080 saw C2's connection from 198.51.100.1 (no DNAT: not a local address)"
  assert_line --partial '      http://172.29.0.3/ from outside -> ""  (dropped by '
  assert_line --partial 'verdict: HELD'
  refute_line --regexp '^(lab0|lab-veth[12]|lab-out)(@.*)?$'
  assert_equal "${lines[-2]}" 1  # the saved ip_forward is gone with its directory
  assert_equal "${lines[-1]}" 0  # no lab rule or chain left
  assert_equal "$(host_net_state)" "$before"
}

@test "bridge demo.sh: refuses a bad bridge name, the host's links and special subnets, and makes nothing" {
  requires root
  run "$DIR/demo.sh" "abcdefghijklmnop"
  assert_failure 2
  assert_output --partial "1-15 bytes"
  for name in eth0 lo; do
    run unshare -n -- "$DIR/demo.sh" "$name"
    assert_failure 2
    assert_equal "${#lines[@]}" 1
    assert_output --partial "\"$name\" is not a lab name"
    refute_output --partial "link del"
  done
  for prefix in 127.0.0 224.1.2 169.254.3 0.1.2 240.0.0 198.51.100 300.1.1; do
    run unshare -n -- sh -c '"$1" lab0 "$2" 2>&1; echo "rc=$?"; ip -o link show | wc -l' sh "$DIR/demo.sh" "$prefix"
    assert_equal "${#lines[@]}" 3
    assert_line --index 1 "rc=2"
    assert_line --index 2 "1"
  done
}

@test "bridge demo.sh: leftovers of a killed run are refused in one line, pointing at doctor" {
  requires root cmd:ip cmd:iptables
  run unshare -n -- sh -c 'ip link add lab0 type bridge; iptables -t nat -N LAB-DOCKER
    "$1" 2>&1; echo "rc=$?"' sh "$DIR/demo.sh"
  assert_equal "${#lines[@]}" 2
  assert_line --index 0 --partial "an earlier run left the link lab0, 1 lab-bridge iptables rule(s) or LAB- chain(s) here"
  assert_line --index 0 --partial "doctor/doctor --clean"
  assert_line --index 1 "rc=1"
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
