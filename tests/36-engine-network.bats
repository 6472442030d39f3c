#!/usr/bin/env bats
# shellcheck disable=SC2016  # the shell inside the container expands these
# The engine's networking (final/engine/networking.cpp over final/network): `run` on the default
# bridge, on a user network, with -p, --network container:NAME; network connect/disconnect; port;
# rm and system prune leaving nothing; the engine SIGKILLed at each step of `run`.
#
# As in 31-network.bats, the engine runs inside a network namespace each test makes (a pinned
# "host" namespace, ip netns add lab-eng-...): its bridge, veths and iptables rules live there and
# die with it; the machine's own interfaces and firewall are never touched. `nsenter --net`
# changes only the network namespace, so the engine's mounts are the machine's, as always.
load helpers
load engine
bats_require_minimum_version 1.5.0

# /run/netns: taken away again if these tests made it (helpers.bash)
setup_file() { netns_mount_remember; }
teardown_file() { netns_mount_restore; }

setup() {
  requires root rootfs overlay cmd:iptables cmd:jq cmd:nsenter
  HOST_NS="lab-eng-$$-$BATS_TEST_NUMBER"
  CLIENT_NS=""
  BB="$ROOTFS/bin/busybox"
  ip netns add "$HOST_NS"
  in_host ip link set lo up
  engine_setup
}

teardown() {
  engine_teardown
  md system prune -f >/dev/null 2>&1 || true
  [[ -z $CLIENT_NS ]] || ip netns del "$CLIENT_NS" 2>/dev/null || true
  ip netns del "$HOST_NS" 2>/dev/null || true
}

in_host() { nsenter --net="/run/netns/$HOST_NS" -- "$@"; }
# minidocker with this test's engine root, in the test's host namespace
md() { in_host "$MINIDOCKER" --root "$ROOT" "$@"; }
ip_of() { md inspect "$1" | jq -r ".[0].NetworkSettings.Networks[\"${2:-bridge}\"].IPAddress"; }
id_of() { md inspect "$1" | jq -r '.[0].Id'; }

# fetch URL [NAMESPACE]: busybox wget from the host namespace (or another), 3 s at most
fetch() { timeout 3 nsenter --net="${2:-/run/netns/$HOST_NS}" -- "$BB" wget -q -O - "$1"; }
# wait_http URL: until an httpd answers there (bounded: 30 s)
wait_http() {
  local _
  for _ in $(seq 300); do
    fetch "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "nothing answered at $1"
}

# A "client" namespace: another machine on 198.51.100.0/24 cabled to the host namespace.
make_client() {
  CLIENT_NS="lab-eng-c-$$-$BATS_TEST_NUMBER"
  ip netns add "$CLIENT_NS"
  in_host ip link add lab-cli type veth peer name lab-clip netns "$CLIENT_NS"
  in_host ip addr add 198.51.100.1/24 dev lab-cli
  in_host ip link set lab-cli up
  nsenter --net="/run/netns/$CLIENT_NS" -- sh -c 'ip link set lo up; ip addr add 198.51.100.2/24 dev lab-clip;
    ip link set lab-clip up; ip route add default via 198.51.100.1'
}

# What the engine may leave in the host namespace and on the machine: rules naming a container,
# veths, pinned namespaces, mounts under the root, cgroups.
leftovers() {
  in_host iptables-save | grep -E -- '--comment "?minidocker:[0-9a-f]{64}' || true
  in_host ip -o link show type veth || true
  ls -A "$ROOT/netns" 2>/dev/null || true
  findmnt -rn -o TARGET | grep "^$ROOT" || true
  ls -d /sys/fs/cgroup/*/minidocker/* /sys/fs/cgroup/minidocker/* 2>/dev/null || true
}

@test "engine network: run on the default bridge: an address, /etc/hosts, ping and wget between containers" {
  md run -d --name web busybox httpd -f -p 80 -h /etc >/dev/null
  web_ip=$(ip_of web)
  [[ $web_ip == 172.18.0.2 ]] || fail "web got $web_ip"
  run md run --rm busybox sh -c 'ip -4 -o addr show eth0; ip route show default; cat /etc/hosts; cat /etc/hostname'
  assert_success
  assert_line --partial "inet 172.18.0.3/16"
  assert_line --partial "default via 172.18.0.1 dev eth0"
  assert_line --partial "127.0.0.1	localhost"
  # its own line: address, hostname (the id's first 12 characters) and name
  assert_line --regexp '^172\.18\.0\.3	[0-9a-f]{12} [a-z]+_[a-z]+$'
  run md run --rm busybox sh -c "ping -c 1 -W 2 $web_ip && wget -q -O - http://$web_ip/hostname"
  assert_success
  assert_line --partial "1 packets received"
  assert_line "$(md inspect web | jq -r '.[0].Config.Hostname')"
  # runc, given the same bundle, joins the namespace the engine pinned and wired
  run md run --rm --runtime runc busybox sh -c "ip -4 -o addr show eth0; wget -q -O - http://$web_ip/hostname"
  assert_success
  assert_line --partial "inet 172.18.0.3/16"
  assert_line "$(md inspect web | jq -r '.[0].Config.Hostname')"
  # inspect: Docker's NetworkSettings
  run md inspect web
  assert_equal "$(jq -r '.[0].NetworkSettings.IPAddress' <<<"$output")" 172.18.0.2
  assert_equal "$(jq -r '.[0].NetworkSettings.Gateway' <<<"$output")" 172.18.0.1
  assert_equal "$(jq -r '.[0].NetworkSettings.Networks.bridge.MacAddress' <<<"$output")" 02:42:ac:12:00:02
  assert_equal "$(jq -r '.[0].HostConfig.NetworkMode' <<<"$output")" bridge
}

@test "engine network: on a user network containers reach each other by name" {
  md network create app >/dev/null
  md run -d --name api --network app busybox httpd -f -p 80 -h /etc >/dev/null
  [[ $(ip_of api app) == 172.19.0.2 ]]
  run md run --rm --name client --network app busybox sh -c 'grep -w api /etc/hosts; wget -q -O - http://api/hostname'
  assert_success
  assert_line "172.19.0.2	api"
  assert_line "$(md inspect api | jq -r '.[0].Config.Hostname')"
  # the default bridge gives no names of others (as Docker's)
  md run -d --name other busybox sleep 1000 >/dev/null
  run md run --rm busybox grep -c other /etc/hosts
  assert_output 0
  # the network cannot go while a container is on it; prune keeps it too
  run md network rm app
  assert_failure
  assert_output --partial "has active endpoints"
  md rm -f api >/dev/null
  run md network prune -f
  assert_output $'Deleted Networks:\napp'
}

@test "engine network: -p 8080:80 reaches httpd from another namespace and from the host; an unpublished port does not; ps and port show it" {
  make_client
  md run -d --name web -p 8080:80 -p 127.0.0.1:8081:81 busybox sh -c 'httpd -p 80 -h /etc; httpd -p 81 -h /etc; httpd -f -p 82 -h /etc' >/dev/null
  hostname=$(md inspect web | jq -r '.[0].Config.Hostname')
  wait_http http://127.0.0.1:8080/hostname
  run fetch http://198.51.100.1:8080/hostname "/run/netns/$CLIENT_NS"
  assert_success
  assert_output "$hostname"
  run fetch http://127.0.0.1:8081/hostname
  assert_output "$hostname"
  # 8081 is published on 127.0.0.1 only: not from the other machine
  run fetch http://198.51.100.1:8081/hostname "/run/netns/$CLIENT_NS"
  assert_failure
  # port 82 is served inside but not published: the other machine cannot reach it
  run fetch "http://$(ip_of web):82/hostname" "/run/netns/$CLIENT_NS"
  assert_failure
  run md ps
  assert_line --regexp '0\.0\.0\.0:8080->80/tcp, 127\.0\.0\.1:8081->81/tcp +web$'
  run md port web
  assert_output $'80/tcp -> 0.0.0.0:8080\n81/tcp -> 127.0.0.1:8081'
  run md port web 80
  assert_output "0.0.0.0:8080"
  run md port web 83
  assert_failure 1
  assert_output "Error: No public port '83/tcp' published for web"
  assert_equal "$(md inspect web | jq -c '.[0].HostConfig.PortBindings["80/tcp"]')" '[{"HostIp":"","HostPort":"8080"}]'
  # the same host port twice: Docker's words, exit 125, nothing left of the second
  run md run -d -p 8080:80 busybox true
  assert_failure 125
  assert_output "Error: Bind for 0.0.0.0:8080 failed: port is already allocated"
  [[ $(md ps -aq | wc -l) -eq 1 ]]
}

@test "engine network: -p 80 picks the lowest free ephemeral port, -p 8090-8091:80-81 publishes a range, -p 8090-8092:80 takes the free port of its range" {
  # The namespace's own ephemeral ports (the sysctl is per network namespace): 32768 and up.
  [[ $(in_host cat /proc/sys/net/ipv4/ip_local_port_range) == $'32768\t60999' ]]
  md run -d --name web -p 80 -p 8090-8091:80-81 busybox sh -c 'httpd -p 81 -h /etc; httpd -f -p 80 -h /etc' >/dev/null
  hostname=$(md inspect web | jq -r '.[0].Config.Hostname')
  run md port web
  assert_output $'80/tcp -> 0.0.0.0:32768\n80/tcp -> 0.0.0.0:8090\n81/tcp -> 0.0.0.0:8091'
  wait_http http://127.0.0.1:32768/hostname
  run fetch http://127.0.0.1:8091/hostname
  assert_output "$hostname"
  # HostConfig keeps what was asked ("" for a random port), NetworkSettings what was bound.
  assert_equal "$(md inspect web | jq -c '.[0].HostConfig.PortBindings["80/tcp"]')" \
    '[{"HostIp":"","HostPort":""},{"HostIp":"","HostPort":"8090"}]'
  assert_equal "$(md inspect web | jq -c '.[0].NetworkSettings.Ports["80/tcp"]')" \
    '[{"HostIp":"0.0.0.0","HostPort":"32768"},{"HostIp":"0.0.0.0","HostPort":"8090"}]'
  # the next random port is the next free one; a range with a free port gets it
  md run -d --name second -p 80 -p 8090-8092:80 busybox httpd -f -p 80 -h /etc >/dev/null
  run md port second 80
  assert_output $'0.0.0.0:32769\n0.0.0.0:8092'
  # a range with no free port left: Docker's words, nothing left of the container
  run md run -d -p 8090-8091:80 busybox true
  assert_failure 125
  assert_output "Error: Bind for 0.0.0.0:8090-8091 failed: port is already allocated"
  run md run -d -p 8090-8091:80-82 busybox true
  assert_failure 125
  assert_output "Error: Invalid ranges specified for container and host Ports: 80-82 and 8090-8091"
  [[ $(md ps -aq | wc -l) -eq 2 ]]
}

@test "engine network: --network container:NAME shares the address and hostname; host shares the host's links" {
  md run -d --name web busybox sleep 1000 >/dev/null
  run md run --rm --network container:web busybox sh -c 'ip -4 -o addr show eth0; hostname'
  assert_success
  assert_line --partial "inet $(ip_of web)/16"
  assert_line "$(md inspect web | jq -r '.[0].Config.Hostname')"
  run md run --rm --network container:web -p 80:80 busybox true
  assert_failure 125
  assert_output "Error: conflicting options: port publishing and the container type network mode"
  run md run --rm --network container:nosuch busybox true
  assert_failure 125
  assert_output "Error: No such container: nosuch"
  # host: the test's host namespace itself (its links, the bridge's included), and the host's
  # hostname. The names only: after a veth's "@", iproute2 prints its peer's index in the other
  # namespace ("@if2") and busybox's ip the link of that index here ("@minidocker0").
  run md run --rm --network host busybox sh -c "ip -o link show | cut -d' ' -f2 | cut -d@ -f1; hostname"
  assert_output "$(in_host ip -o link show | cut -d' ' -f2 | cut -d@ -f1)"$'\n'"$(hostname)"
}

@test "engine network: network connect adds eth1 and the peers' names; disconnect takes it away" {
  md network create app >/dev/null
  md run -d --name api --network app busybox sleep 1000 >/dev/null
  md run -d --name web busybox sleep 1000 >/dev/null
  id=$(id_of web)
  md network connect app web
  run nsenter --net="$ROOT/netns/$id" ip -4 -o addr show eth1
  assert_output --partial "inet 172.19.0.3/16"
  run grep -w api "$ROOT/containers/$id/hosts"
  assert_output "172.19.0.2	api"
  run md network connect app web
  assert_failure
  assert_output --partial "already exists in network app"
  md network disconnect app web
  run nsenter --net="$ROOT/netns/$id" ip -o link show eth1
  assert_failure
  run grep -cw api "$ROOT/containers/$id/hosts"
  assert_output 0
  run md network disconnect app web
  assert_failure
  assert_output --partial "is not connected to network app"
  # a container on none has no namespace the engine can wire
  md run -d --name lonely --network none busybox sleep 1000 >/dev/null
  run md network connect app lonely
  assert_failure
  [[ ${#lines[@]} -eq 1 ]]
}

@test "engine network: rm frees the address, the veth, the rules and the pinned namespace" {
  md run -d --name one -p 8080:80 busybox sleep 1000 >/dev/null
  md run -d --name two busybox sleep 1000 >/dev/null
  [[ -n $(leftovers) ]]
  md rm -f one >/dev/null
  # the next container gets .2 again
  md run -d --name three busybox sleep 1000 >/dev/null
  [[ $(ip_of three) == 172.18.0.2 ]]
  md rm -f two three >/dev/null
  run leftovers
  assert_output ""
  run md network inspect bridge
  assert_equal "$(jq -r '.[0].Containers | length' <<<"$output")" 0
}

@test "engine network: bad input is one line, exit 125, and nothing is left" {
  for args in "-p 99999:80" "-p abc" "-p 80-81:80-82" "--network nosuch" "--network container:"; do
    # shellcheck disable=SC2086
    run md run --rm $args busybox true
    assert_failure 125
    [[ ${#lines[@]} -eq 1 ]] || fail "$args: $output"
    [[ $output == Error:* ]] || fail "$args: $output"
  done
  run md run --rm --network nosuch busybox true
  assert_output "Error: network nosuch not found"
  [[ -z $(ls -A "$ROOT/containers") ]]
  run leftovers
  assert_output ""
}

@test "engine network: 20 run -d at once on the bridge get 20 distinct addresses; rm -f of all leaves nothing" {
  for i in $(seq 20); do md run -d --name "c$i" busybox sleep 1000 >/dev/null & done
  wait
  run md ps -q
  [[ ${#lines[@]} -eq 20 ]] || fail "$output"
  addresses=$(for i in $(seq 20); do ip_of "c$i"; done | sort -u)
  [[ $(wc -l <<<"$addresses") -eq 20 ]] || fail "$addresses"
  for i in $(seq 20); do md rm -f "c$i" >/dev/null & done
  wait
  run leftovers
  assert_output ""
}

@test "engine network: the CLI SIGKILLed at each step of run: ps -a tells the truth, system prune leaves nothing" {
  local port=9000
  for step in rootfs record network bundle monitor; do
    port=$((port + 1))
    MINIDOCKER_ENGINE_KILL_AT=$step md run -d -p "$port:80" busybox sleep 1000 >/dev/null 2>&1 &
    wait $! && fail "run was not killed at $step"
    # ps -a answers, and says nothing is running
    run md ps -a
    assert_success
    run md ps -q
    assert_output ""
  done
  run md system prune -f
  assert_success
  run leftovers
  assert_output ""
  [[ -z $(ls -A "$ROOT/containers") ]]
  # and the engine works on
  run md run --rm busybox true
  assert_success
}

@test "engine network: a monitor SIGKILLed: the container is Exited (137) and rm leaves nothing" {
  md run -d --name web -p 8080:80 busybox sleep 1000 >/dev/null
  monitor=$(jq -r .MonitorPid "$(container_dir web)/state.json")
  kill -KILL "$monitor"
  run md ps -a
  assert_line --regexp 'Exited \(137\) .* web$'
  md rm web >/dev/null
  run leftovers
  assert_output ""
}

@test "engine-demo.sh holds, and leaves no engine root, namespace or rule behind" {
  before=$(ls -d /var/tmp/lab-engine-* 2>/dev/null || true)
  run "$PROJECT_DIR/final/engine-demo.sh"
  assert_success
  assert_line --index -1 "held: web ran on 2 read-only layers + its rw layer, in its own namespaces and a 64 MiB cgroup, answered through the bridge and the published port, and rm -f left nothing"
  [[ $(ls -d /var/tmp/lab-engine-* 2>/dev/null || true) == "$before" ]]
  run ip netns list
  refute_output --partial lab-engine-
}
