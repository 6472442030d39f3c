#!/usr/bin/env bats
# final/network, the network driver, as the engine will use it (through `minidocker network` and
# its hidden endpoint verbs _connect, _disconnect, _hosts, _prune).
#
# Everything happens inside network namespaces each test makes: a pinned "host" namespace
# (ip netns add lab-net-...) in which the driver makes its bridge, veths and iptables rules, the
# containers' namespaces the driver pins under the test's own engine root, and a "client"
# namespace playing another machine. Commands run with `nsenter --net=/run/netns/NAME`, which
# changes only the network namespace: the bind mounts that pin the containers' namespaces stay
# visible from one command to the next (`ip netns exec` would give each command a mount namespace
# of its own, and `unshare -n` around one script could not share a host namespace between the
# test's steps and its teardown). The machine's own interfaces and firewall are never touched;
# teardown removes the namespaces, the pins and the engine root on every path.
load helpers
bats_require_minimum_version 1.5.0

# /run/netns: taken away again if these tests made it (helpers.bash)
setup_file() { netns_mount_remember; }
teardown_file() { netns_mount_restore; }

setup() {
  MINIDOCKER="$PROJECT_DIR/final/minidocker"
  BB="$ROOTFS/bin/busybox"
  HOST_NS="lab-net-$$-$BATS_TEST_NUMBER"
  CLIENT_NS=""
  ROOT=$(mktemp -d /tmp/lab-net-root-XXXXXX)
  PIDS=()
  ip netns add "$HOST_NS"
  in_host ip link set lo up
}

teardown() {
  local pid pin
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  in_host "$MINIDOCKER" --root "$ROOT" network _prune --all >/dev/null 2>&1 || true
  for pin in "$ROOT"/netns/*; do
    [[ -e $pin ]] || continue
    umount -l "$pin" 2>/dev/null || true
  done
  [[ -z $CLIENT_NS ]] || ip netns del "$CLIENT_NS" 2>/dev/null || true
  ip netns del "$HOST_NS" 2>/dev/null || true
  rm -rf "$ROOT"
}

in_host() { nsenter --net="/run/netns/$HOST_NS" -- "$@"; }
# md ARGS...: minidocker with this test's engine root, in the test's host namespace
md() { in_host "$MINIDOCKER" --root "$ROOT" "$@"; }
# in_ctr ID CMD...: a command in container ID's pinned network namespace
in_ctr() {
  local id=$1
  shift
  nsenter --net="$ROOT/netns/$id" -- "$@"
}
ip_of() { md network _connect "$@" | jq -r .IPAddress; }

# An httpd serving "hello from ID" on port 80 inside container ID's namespace.
serve() {
  local id=$1
  mkdir -p "$ROOT/www-$id"
  echo "hello from $id" >"$ROOT/www-$id/index.html"
  # nsenter joining only a network namespace execs httpd itself, so $! is httpd; its output
  # must not hold bats' file descriptors open
  nsenter --net="$ROOT/netns/$id" -- "$BB" httpd -f -p 80 -h "$ROOT/www-$id" </dev/null >/dev/null 2>&1 &
  PIDS+=($!)
}

# fetch NAMESPACE_FILE URL: wget from that namespace, giving up after 3 s (busybox wget has no
# timeout of its own)
fetch() { timeout 3 nsenter --net="$1" -- "$BB" wget -q -O - "$2"; }

# A "client" namespace: another machine on 198.51.100.0/24 (TEST-NET-2), cabled to the host
# namespace (198.51.100.1) by a veth, its default route through the host.
make_client() {
  CLIENT_NS="lab-net-c-$$-$BATS_TEST_NUMBER"
  ip netns add "$CLIENT_NS"
  in_host ip link add lab-cli type veth peer name lab-clip netns "$CLIENT_NS"
  in_host ip addr add 198.51.100.1/24 dev lab-cli
  in_host ip link set lab-cli up
  nsenter --net="/run/netns/$CLIENT_NS" -- sh -c 'ip link set lo up; ip addr add 198.51.100.2/24 dev lab-clip;
    ip link set lab-clip up; ip route add default via 198.51.100.1'
}
in_client() { nsenter --net="/run/netns/$CLIENT_NS" -- "$@"; }

# The host namespace's rules, without counters and comments about the dump itself.
rules() { in_host iptables-save | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'; }

@test "network: ls shows bridge, host and none with Docker's columns; inspect has Docker's shape" {
  requires root cmd:iptables cmd:jq cmd:nsenter
  run md network ls
  assert_success
  assert_line --index 0 --regexp '^NETWORK ID +NAME +DRIVER +SCOPE$'
  assert_line --index 1 --regexp '^[0-9a-f]{12} +bridge +bridge +local$'
  assert_line --index 2 --regexp '^[0-9a-f]{12} +host +host +local$'
  assert_line --index 3 --regexp '^[0-9a-f]{12} +none +null +local$'
  run md network inspect bridge
  assert_success
  assert_equal "$(jq -r '.[0].Name' <<<"$output")" bridge
  assert_equal "$(jq -r '.[0].Id | length' <<<"$output")" 64
  assert_equal "$(jq -r '.[0].Driver' <<<"$output")" bridge
  assert_equal "$(jq -r '.[0].IPAM.Config[0].Subnet' <<<"$output")" 172.18.0.0/16
  assert_equal "$(jq -r '.[0].IPAM.Config[0].Gateway' <<<"$output")" 172.18.0.1
  assert_equal "$(jq -r '.[0].Containers | length' <<<"$output")" 0
  # the default bridge's link is made at its first connect, not before
  run in_host ip link show minidocker0
  assert_failure
}

@test "network: two endpoints on the default bridge get .2 and .3 and ping each other by IP" {
  requires root rootfs cmd:iptables cmd:jq cmd:nsenter
  run md network _connect bridge c1 --name one
  assert_success
  assert_equal "$(jq -r .IPAddress <<<"$output")" 172.18.0.2
  assert_equal "$(jq -r .Gateway <<<"$output")" 172.18.0.1
  assert_equal "$(jq -r .MacAddress <<<"$output")" 02:42:ac:12:00:02
  assert_equal "$(jq -r .NetnsPath <<<"$output")" "$ROOT/netns/c1"
  assert_equal "$(ip_of bridge c2 --name two)" 172.18.0.3
  # what each container sees from inside its own namespace
  run in_ctr c1 ip -4 -o addr show eth0
  assert_output --partial "172.18.0.2/16"
  run in_ctr c2 ip route show default
  assert_output --partial "default via 172.18.0.1 dev eth0"
  # (ip, not /sys/class/net: sysfs shows the namespace of whoever mounted it)
  run in_ctr c1 ip -o link show eth0
  assert_output --partial "link/ether 02:42:ac:12:00:02"

  # both host ends are ports of minidocker0, which holds the gateway
  run in_host ip -o link show master minidocker0
  assert_equal "${#lines[@]}" 2
  run in_host ip -4 -o addr show minidocker0
  assert_output --partial 172.18.0.1/16
  run in_ctr c1 "$BB" ping -c 1 -W 2 172.18.0.3
  assert_success
  assert_output --partial "1 packets received"
  run in_ctr c2 "$BB" ping -c 1 -W 2 172.18.0.2
  assert_success
  run md network inspect bridge
  assert_equal "$(jq -r '.[0].Containers.c1.Name' <<<"$output")" one
  assert_equal "$(jq -r '.[0].Containers.c2.IPv4Address' <<<"$output")" 172.18.0.3/16
}

@test "network: on a user-defined network each container's hosts lines name its peers, and ping by name works" {
  requires root rootfs cmd:iptables cmd:jq cmd:nsenter cmd:unshare
  run md network create --subnet 10.99.0.0/24 appnet
  assert_success
  id=$output
  [[ $id =~ ^[0-9a-f]{64}$ ]]
  run in_host ip -4 -o addr show "br-${id:0:12}"
  assert_output --partial 10.99.0.1/24
  md network _connect appnet a --name web --hosts "$ROOT/hosts-a"
  md network _connect appnet b --name db --hosts "$ROOT/hosts-b"
  run md network _hosts a
  assert_output "$(printf '10.99.0.2\tweb\n10.99.0.3\tdb')"
  # a's file was rewritten when db connected after it
  run grep -c $'^10.99.0.3\tdb$' "$ROOT/hosts-a"
  assert_output 1
  # web pings db by name, through its own /etc/hosts (bound in a private mount namespace)
  # shellcheck disable=SC2016  # expanded by the inner sh
  run unshare -m -- sh -c 'mount --bind "$1" /etc/hosts && nsenter --net="$2" -- "$3" ping -c 1 -W 2 db' \
    sh "$ROOT/hosts-a" "$ROOT/netns/a" "$BB"
  assert_success
  assert_output --partial "PING db (10.99.0.3)"
  assert_output --partial "1 packets received"
  # the default bridge names no peers, as Docker's does not
  md network _connect bridge x --name lonely
  md network _connect bridge y --name other
  run md network _hosts y
  assert_output "$(printf '172.18.0.3\tother')"
  # db leaves: web's file forgets it
  md network _disconnect b
  run grep -c db "$ROOT/hosts-a"
  assert_output 0
}

@test "network: -p 8080:80 reaches the container from another netns, from the host and its 127.0.0.1; an unpublished port does not" {
  requires root rootfs cmd:iptables cmd:jq cmd:nsenter
  md network _connect bridge c1 --name pub -p 8080:80 >/dev/null
  md network _connect bridge c2 --name hidden >/dev/null
  serve c1
  serve c2
  make_client
  H=/run/netns/$HOST_NS C=/run/netns/$CLIENT_NS
  # the httpds are up when the host reaches them directly (the host is on the bridge)
  for _ in $(seq 50); do
    fetch "$H" http://172.18.0.3/ >/dev/null 2>&1 && fetch "$H" http://172.18.0.2/ >/dev/null 2>&1 && break
    sleep 0.1
  done
  run fetch "$C" http://198.51.100.1:8080/
  assert_success
  assert_output "hello from c1"
  run fetch "$H" http://172.18.0.1:8080/
  assert_output "hello from c1"
  # 127.0.0.1 too, without a userland proxy: nat OUTPUT, route_localnet on the bridge, MASQUERADE
  run fetch "$H" http://127.0.0.1:8080/
  assert_output "hello from c1"
  # c2 publishes nothing: from the client, its port 80 is dropped in FORWARD
  run fetch "$C" http://172.18.0.3:80/
  assert_failure
  run in_host iptables -S MINIDOCKER-FORWARD -v
  assert_output --regexp "-o minidocker0 -m comment --comment \"?minidocker:net:[0-9a-f]{12}\"? -c [1-9][0-9]* [0-9]+ -j DROP"
  # and c1's port 8080 is not open on c2's side of things: nothing else was published
  run fetch "$C" http://198.51.100.1:8081/
  assert_failure
  # a second container cannot take the same host port
  run md network _connect bridge c3 -p 8080:81
  assert_failure
  assert_output "Error: Bind for 0.0.0.0:8080 failed: port is already allocated"
  [[ ! -e $ROOT/netns/c3 ]]
}

@test "network: disconnect removes the container's rules, veth, pinned namespace and lease; twice is fine" {
  requires root cmd:iptables cmd:jq cmd:nsenter
  md network _connect bridge keep >/dev/null
  before=$(rules)
  links_before=$(in_host ip -o link show | awk -F': ' '{print $2}')
  run md network _connect bridge c1 --name gone -p 127.0.0.1:9090:90/udp -p 8080:80
  assert_success
  veth=$(jq -r .Veth <<<"$output")
  run rules
  assert_output --partial '-A MINIDOCKER -d 127.0.0.1/32 ! -i minidocker0 -p udp -m udp --dport 9090 -m comment --comment "minidocker:c1" -j DNAT --to-destination 172.18.0.3:90'
  assert_output --partial '-A MINIDOCKER -d 172.18.0.3/32 ! -i minidocker0 -o minidocker0 -p tcp -m tcp --dport 80 -m comment --comment "minidocker:c1" -j ACCEPT'
  grep -q "$ROOT/netns/c1" /proc/self/mountinfo
  run md network _disconnect c1
  assert_success
  assert_equal "$(rules)" "$before"
  assert_equal "$(in_host ip -o link show | awk -F': ' '{print $2}')" "$links_before"
  run in_host ip link show "$veth"
  assert_failure
  [[ ! -e $ROOT/netns/c1 ]]
  run ! grep -q "$ROOT/netns/c1" /proc/self/mountinfo
  run md network _disconnect c1
  assert_success
  # the address is free again
  assert_equal "$(ip_of bridge c9)" 172.18.0.3
}

@test "network: 20 concurrent connects get 20 distinct addresses; 20 concurrent disconnects leave nothing" {
  requires root cmd:iptables cmd:jq cmd:nsenter
  local i pids=()
  for i in $(seq 20); do
    md network _connect bridge "c$i" >"$ROOT/out-$i" 2>&1 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i"; done
  run sh -c "cat '$ROOT'/out-* | jq -r .IPAddress | sort -u | wc -l"
  assert_output 20
  run sh -c "cat '$ROOT'/out-* | jq -r .IPAddress | sort -t. -k4 -n | tail -1"
  assert_output 172.18.0.21
  run in_host ip -o link show master minidocker0
  assert_equal "${#lines[@]}" 20
  pids=()
  for i in $(seq 20); do
    md network _disconnect "c$i" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i"; done
  run in_host ip -o link show master minidocker0
  assert_output ""
  run ls "$ROOT/netns"
  assert_output ""
  run md network inspect bridge
  assert_equal "$(jq -r '.[0].Containers | length' <<<"$output")" 0
  run rules
  refute_output --partial 'minidocker:c'
}

@test "network: bad input gets one line and a non-zero exit, and changes nothing" {
  requires root cmd:iptables cmd:nsenter
  md network create --subnet 10.77.0.0/16 used >/dev/null
  md network _connect used c1 >/dev/null
  before=$(rules)
  check() {
    run md "$@"
    assert_failure
    assert_equal "${#lines[@]}" 1
  }
  check network _connect bridge c2 -p 80:abc
  assert_output "Error: Invalid containerPort: abc"
  check network _connect bridge c2 -p 1:2:3:4
  assert_output --partial "invalid port format"
  check network create --subnet 10.77.5.0/24 clash
  assert_output --partial "Pool overlaps with other one on this address space"
  check network create --subnet 10.1.2.3/24 notnet
  assert_output --partial "invalid subnet 10.1.2.3/24"
  check network create used
  assert_output "Error: network with name used already exists"
  check network create bridge
  check network _connect nosuch c2
  assert_output "Error: network nosuch not found"
  check network rm nosuch
  check network rm used
  assert_output --regexp "^Error: error while removing network: network used id [0-9a-f]{64} has active endpoints$"
  check network rm bridge
  assert_output "Error: bridge is a pre-defined network and cannot be removed"
  # inspect prints what it found (nothing, []) and then the error, as Docker's does
  run md network inspect nosuch
  assert_failure
  assert_line "[]"
  assert_line "Error: network nosuch not found"
  assert_equal "$(rules)" "$before"
  [[ ! -e $ROOT/netns/c2 ]]
  # rm works once the network is empty, and takes its bridge and rules with it
  md network _disconnect c1
  id=$(md network inspect used | jq -r '.[0].Id')
  run md network rm used
  assert_success
  assert_output used
  run in_host ip link show "br-${id:0:12}"
  assert_failure
  run rules
  refute_output --partial "minidocker:net:${id:0:12}"
}

@test "network: prune removes endpoints, leftovers and, with --all, every bridge and chain" {
  requires root cmd:iptables cmd:nsenter
  md network create --subnet 10.66.0.0/24 extra >/dev/null
  md network _connect extra e1 -p 8080:80 >/dev/null
  md network _connect bridge b1 >/dev/null
  # a connect killed half-way: a veth on the bridge and a pinned namespace no record names
  in_host ip link add vethdead type veth peer name vethdeadp
  in_host ip link set vethdead master minidocker0
  touch "$ROOT/netns/dead"
  mount --bind /proc/self/ns/net "$ROOT/netns/dead"
  run md network _prune
  assert_success
  assert_line "link vethdead"
  assert_line "netns dead"
  [[ -e $ROOT/netns/e1 ]]
  run md network _prune --all
  assert_success
  assert_line "endpoint e1"
  assert_line "network extra"
  run rules
  refute_output --partial minidocker
  refute_output --partial MINIDOCKER
  run in_host ip -o link show
  assert_output --regexp '^1: lo:'
  assert_equal "${#lines[@]}" 1
  run ls "$ROOT/netns"
  assert_output ""
  # ip_forward stays on, as Docker leaves it
  run in_host cat /proc/sys/net/ipv4/ip_forward
  assert_output 1
}

@test "network: subnets avoid the namespace's routes: the default bridge moves on, a given one is refused" {
  requires root cmd:iptables cmd:jq cmd:nsenter
  in_host ip link add lab-taken type veth peer name lab-takenp
  in_host ip link set lab-taken up
  in_host ip route add 172.18.0.0/16 dev lab-taken
  in_host ip route add 10.55.0.0/16 dev lab-taken
  run md network inspect bridge
  assert_equal "$(jq -r '.[0].IPAM.Config[0].Subnet' <<<"$output")" 172.19.0.0/16
  run md network create --subnet 10.55.1.0/24 onroute
  assert_failure
  assert_output "Error: Pool overlaps with other one on this address space (the route 10.55.0.0/16 of this host)"
  # without --subnet, the next free one after the bridge's
  md network create auto >/dev/null
  run md network inspect auto
  assert_equal "$(jq -r '.[0].IPAM.Config[0].Subnet' <<<"$output")" 172.20.0.0/16
  in_host ip link del lab-taken
}

@test "network: --explain narrates each kernel step with its lesson on stderr; stdout stays Docker's" {
  requires root cmd:iptables cmd:nsenter
  run --separate-stderr md --explain network create --subnet 10.44.0.0/24 told
  assert_success
  [[ $output =~ ^[0-9a-f]{64}$ ]]
  # shellcheck disable=SC2154  # set by run --separate-stderr
  grep -qF '[lesson 06] rtnl_link_add("br-' <<<"$stderr"
  grep -qF '~ ip link add br-' <<<"$stderr"
  run --separate-stderr md --explain network _connect told e1 -p 8080:80
  assert_success
  grep -qF '[lesson 06] rtnl_link_add("veth' <<<"$stderr"
  grep -qF 'IFLA_NET_NS_FD=open("'"$ROOT"'/netns/e1")' <<<"$stderr"
  grep -qF -- '--to-destination 10.44.0.2:80' <<<"$stderr"
}

# What a crash could leave in the test's host namespace and engine root, one item a line.
driver_state() {
  rules
  in_host ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print "link " $2 }'
  find "$ROOT/netns" -mindepth 1 -printf 'netns %f\n' | sort
  grep -F "$ROOT" /proc/self/mountinfo | awk '{print "mount " $5}'
  md network inspect bridge | jq -r '.[0].Containers | keys[]' | sed 's/^/endpoint /'
}

@test "network: connect SIGKILLed at each step leaves only what prune removes" {
  requires root cmd:iptables cmd:jq cmd:nsenter
  md network _connect bridge keep >/dev/null
  before=$(driver_state)
  local step
  for step in netns veth attached configured rules; do
    MINIDOCKER_NETWORK_KILL_AT=$step run md network _connect bridge crash -p 8080:80
    assert_equal "$status" 137
    run md network _prune
    assert_success
    assert_equal "$(driver_state)" "$before"
  done
  # and the next connect gets the address the killed ones never kept
  run md network _connect bridge crash -p 8080:80
  assert_success
  assert_equal "$(jq -r .IPAddress <<<"$output")" 172.18.0.3
}
