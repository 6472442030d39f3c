#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031  # DAEMON_PID: set and read within each test
# shellcheck disable=SC2154  # $stderr: set by `run --separate-stderr`
# Networks, volumes and system prune through the daemon (`minidocker -H unix://SOCK network ...`),
# compared with the CLI doing the same job itself on the same engine root; and the daemon on TCP
# (`daemon -H tcp://127.0.0.1:PORT --insecure-tcp`): refused without the flag or on any other
# address, a warning when served, and the real docker client and ours talking to it over TCP.
# Every daemon that makes bridges or listens on TCP runs in a network namespace of the test's own
# (its own loopback): nothing is made or served in the host's; `mdn` is the CLI in that namespace,
# `mdh` our client through the unix socket.
load helpers
load engine
load daemon
bats_require_minimum_version 1.5.0

# /run/netns: taken away again if these tests made it (helpers.bash)
setup_file() { netns_mount_remember; }
teardown_file() { netns_mount_restore; }

setup() {
  daemon_setup
  HOST_NS=""
  export IN_PROCESS=mdn  # same_through_daemon's in-process side: in the daemon's namespace if any
}

teardown() {
  if [[ -n $HOST_NS ]]; then
    # Containers and networks live in the namespace: removed from there, before it goes (and
    # with it the bridges and the rules).
    remove_containers_in "$HOST_NS"
  fi
  daemon_teardown
  [[ -z $HOST_NS ]] || ip netns del "$HOST_NS" 2>/dev/null || true
}

in_host() { nsenter --net="/run/netns/$HOST_NS" -- "$@"; }

# The CLI doing the job itself: in the daemon's namespace when it has one, as the daemon would.
mdn() {
  if [[ -n $HOST_NS ]]; then
    in_host env DOCKER_HOST='' "$MINIDOCKER" --root "$ROOT" "$@"
  else
    DOCKER_HOST='' "$MINIDOCKER" --root "$ROOT" "$@"
  fi
}

start_in_namespace() {
  requires cmd:iptables cmd:nsenter
  HOST_NS="lab-d50-$$-$BATS_TEST_NUMBER"
  daemon_start "$HOST_NS" "$@"
}

# Runs SETUP then `mdh ARGS`, SETUP again then `mdn ARGS` (a verb that changes the state is
# compared on two equal states), and fails unless both printed the same (ids aside).
same_after() {
  local setup=$1 out err rc
  shift
  $setup
  run --separate-stderr mdh "$@"
  out=$(ids_out <<<"$output") err=$stderr rc=$status
  $setup
  run --separate-stderr mdn "$@"
  [[ $status == "$rc" ]] || fail "$*: exit $rc through the daemon, $status in-process"
  [[ $(ids_out <<<"$output") == "$out" ]] ||
    fail "$*: through the daemon:"$'\n'"$out"$'\n'"in-process:"$'\n'"$output"
  [[ $stderr == "$err" ]] || fail "$*: stderr through the daemon: '$err', in-process: '$stderr'"
}

ids_out() { sed -E 's/[0-9a-f]{64}/ID/g'; }

@test "network create, ls, inspect, rm through the daemon print what the CLI prints; the bridge is in the daemon's namespace" {
  start_in_namespace
  run mdh network create --subnet 10.77.0.0/24 front
  assert_success
  assert_output --regexp '^[0-9a-f]{64}$'
  front=$output
  run mdh network create -d bridge back
  assert_success
  back=$output
  # The bridges were made where the daemon runs, never in the host's namespace.
  in_host ip link show "br-${front:0:12}" >/dev/null
  run ip link show "br-${front:0:12}"
  assert_failure
  for args in "network ls" "network ls -q" "network ls --no-trunc" "network list" \
    "network inspect front" "network inspect front back"; do
    # shellcheck disable=SC2086  # the words of the verb
    same_through_daemon $args
  done
  [[ $(mdh network inspect front | jq -r '.[0] | "\(.Id) \(.IPAM.Config[0].Subnet)"') == \
    "$front 10.77.0.0/24" ]]
  run mdh network ls
  assert_line --regexp "^${back:0:12} +back +bridge +local$"
  # The errors: the same words, the same exit codes.
  same_through_daemon network inspect front nosuch
  assert_failure 1
  [[ $stderr == "Error: network nosuch not found" ]]
  [[ $(jq -r '.[0].Name' <<<"$output") == front ]]
  same_through_daemon network create front
  assert_failure 1
  [[ $stderr == "Error: network with name front already exists" ]]
  same_through_daemon network create --subnet 10.77.0.128/25 other
  assert_failure 1
  same_through_daemon network rm nosuch
  assert_failure 1
  same_through_daemon network create -d macvlan x
  assert_failure 125
  # rm: the name printed, the bridge gone from the namespace.
  run mdh network rm front back
  assert_success
  assert_output $'front\nback'
  run in_host ip link show "br-${front:0:12}"
  assert_failure
  same_through_daemon network ls
  refute_line --partial front
  assert_line --regexp '^[0-9a-f]{12} +bridge +bridge +local$'
  # Each was one request of Docker's API.
  grep -q '^POST /v1.41/networks/create 201' "$DAEMON_LOG"
  grep -q '^GET /v1.41/networks 200' "$DAEMON_LOG"
  grep -q '^GET /v1.41/networks/nosuch 404' "$DAEMON_LOG"
  grep -q '^DELETE /v1.41/networks/front 204' "$DAEMON_LOG"
}

two_networks() {
  mdn network create net-a >/dev/null
  mdn network create net-b >/dev/null
}

@test "network connect, disconnect and prune through the daemon as in-process" {
  start_in_namespace
  mdn network create front >/dev/null
  mdn network create back >/dev/null
  run mdh run -d --name c1 --network front busybox sleep 60
  assert_success
  run mdh network connect back c1
  assert_success
  assert_output ""
  [[ $(mdh inspect c1 | jq -c '.[0].NetworkSettings.Networks | keys') == '["back","front"]' ]]
  # The container sees its second interface (the daemon's namespace is where it was made).
  run mdn exec c1 ip -o -4 addr show
  [[ $(grep -c ' eth[0-9] ' <<<"$output") == 2 ]] || fail "$output"
  same_through_daemon network connect back c1
  assert_failure 1
  same_through_daemon network connect nosuch c1
  assert_failure 1
  same_through_daemon network connect back nosuch
  assert_failure 1
  # A network with a container on it is not removed, in the same words.
  same_through_daemon network rm back
  assert_failure 1
  run mdh network disconnect back c1
  assert_success
  assert_output ""
  [[ $(mdh inspect c1 | jq -c '.[0].NetworkSettings.Networks | keys') == '["front"]' ]]
  same_through_daemon network disconnect back c1
  assert_failure 1
  grep -q '^POST /v1.41/networks/back/connect 200' "$DAEMON_LOG"
  grep -q '^POST /v1.41/networks/back/disconnect 200' "$DAEMON_LOG"
  mdh rm -f c1 >/dev/null
  mdn network rm front back >/dev/null
  # prune and rm of two unused networks: through the daemon, then in-process on the same state.
  same_after two_networks network prune -f
  assert_output $'Deleted Networks:\nnet-a\nnet-b'
  same_after two_networks network rm net-a net-b
  assert_output $'net-a\nnet-b'
  # Without -f it asks first; an answer but y keeps them.
  two_networks
  run bash -c 'echo n | "$0" -H "unix://$1" network prune' "$MINIDOCKER" "$SOCK"
  assert_success
  assert_output "WARNING! This will remove all custom networks not used by at least one container.
Are you sure you want to continue? [y/N] "
  mdn network inspect net-a net-b >/dev/null
  run bash -c 'echo y | "$0" -H "unix://$1" network prune' "$MINIDOCKER" "$SOCK"
  assert_line net-a
  assert_line net-b
  run mdn network inspect net-a
  assert_failure 1
}

@test "volume create, ls, inspect, rm through the daemon print what the CLI prints" {
  daemon_start
  run mdh volume create named
  assert_success
  assert_output named
  run mdh volume create
  assert_success
  assert_output --regexp '^[0-9a-f]{64}$'
  anonymous=$output
  for args in "volume ls" "volume ls -q" "volume list" "volume inspect named" \
    "volume inspect named $anonymous"; do
    # shellcheck disable=SC2086
    same_through_daemon $args
  done
  [[ $(mdh volume inspect named | jq -r '.[0].Mountpoint') == "$ROOT/volumes/named/_data" ]]
  same_through_daemon volume inspect named nosuch
  assert_failure 1
  [[ $(jq -r '.[0].Name' <<<"$output") == named ]]
  [[ $stderr == Error:* ]]
  same_through_daemon volume rm nosuch
  assert_failure 1
  # -f: a missing volume is no error, and nothing is printed for it.
  same_through_daemon volume rm -f nosuch
  assert_success
  assert_output ""
  same_through_daemon volume create a b
  assert_failure 1
  # A volume in use stays, in the same words; with -f too.
  mdn create --name user --network none -v named:/data busybox true >/dev/null
  same_through_daemon volume rm named
  assert_failure 1
  same_through_daemon volume rm -f named
  assert_failure 1
  mdn rm user >/dev/null
  run mdh volume rm named "$anonymous"
  assert_success
  assert_output "named
$anonymous"
  [[ ! -e $ROOT/volumes/named ]]
  same_through_daemon volume ls
  assert_output "DRIVER    VOLUME NAME"
  grep -q '^POST /v1.41/volumes/create 201' "$DAEMON_LOG"
  grep -q '^GET /v1.41/volumes 200' "$DAEMON_LOG"
  grep -q '^DELETE /v1.41/volumes/named 204' "$DAEMON_LOG"
}

# An anonymous volume no container uses (its container removed), one in use, and a named one.
some_volumes() {
  named_volume
  mdn run --name dropped --network none -v /unused busybox sh -c 'echo x >/unused/x'
  mdn rm dropped >/dev/null
  mdn inspect keep >/dev/null 2>&1 || mdn create --name keep --network none -v /used busybox true \
    >/dev/null
}

named_volume() { mdn volume create named >/dev/null; }

@test "volume prune and prune -a through the daemon as in-process" {
  daemon_start
  same_after some_volumes volume prune -f
  [[ $(ids_out <<<"$output") == $'Deleted Volumes:\nID\n\nTotal reclaimed space: 2B' ]] ||
    fail "$output"
  # -a: the named one too; the one `keep` uses stays.
  used=$(mdn inspect keep | jq -r '.[0].Mounts[0].Name')
  same_after named_volume volume prune -af
  assert_output $'Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B'
  run mdn volume ls -q
  assert_output "$used"
  grep -q '^POST /v1.41/volumes/prune?filters=%7B%22all%22%3A%5B%22false%22%5D%7D 200' \
    "$DAEMON_LOG"
}

# What system prune removes: a stopped container with a file in its layer, an unused network,
# an anonymous volume no container uses, a dangling image (a tag moved away from it).
prunable() {
  mdn rmi lab/dangling:v1 >/dev/null 2>&1 || true
  mdn run --name stopped --network none busybox sh -c 'echo x >/file' >/dev/null
  mdn network create unused >/dev/null
  mdn create --name gone --network none -v /anon busybox true >/dev/null
  mdn rm gone >/dev/null
  mdn commit stopped lab/dangling:v1 >/dev/null
  mdn commit stopped lab/dangling:v1 >/dev/null
}

@test "system prune through the daemon as in-process: containers, networks, --volumes, images" {
  start_in_namespace
  same_after prunable system prune -f --volumes
  assert_line --index 0 "Deleted Containers:"
  assert_line --index 1 --regexp '^[0-9a-f]{64}$'
  assert_line "Deleted Networks:"
  assert_line unused
  assert_line "Deleted Volumes:"
  assert_line "Deleted Images:"
  assert_line --regexp '^deleted: sha256:[0-9a-f]{64}$'
  # The stopped container's file counts: more than nothing reclaimed.
  [[ ${lines[-1]} =~ ^Total\ reclaimed\ space:\ [0-9.]+k?B$ ]] || fail "$output"
  refute_line "Total reclaimed space: 0B"
  # Without --volumes the anonymous volume stays, both ways.
  same_after prunable system prune -f
  refute_line "Deleted Volumes:"
  [[ $(mdn volume ls -q | wc -l) == 2 ]]
  mdn volume prune -f >/dev/null
  # Nothing left to prune: the same one line.
  same_through_daemon system prune -f
  assert_output "Total reclaimed space: 0B"
  # The prompt, as Docker's, with --volumes' line; n keeps everything.
  run bash -c 'echo n | "$0" -H "unix://$1" system prune --volumes' "$MINIDOCKER" "$SOCK"
  assert_success
  assert_output "WARNING! This will remove:
  - all stopped containers
  - all networks not used by at least one container
  - all anonymous volumes not used by at least one container
  - all dangling images

Are you sure you want to continue? [y/N] "
  # -a: every image no container uses (busybox's too, the last).
  mdn tag busybox lab/extra:v1
  run mdh system prune -af
  assert_success
  assert_line "untagged: lab/extra:v1"
  assert_line "untagged: busybox:latest"
  assert_line --regexp '^deleted: sha256:'
  [[ -z $(mdn images -q) ]]
  grep -q '^POST /v1.41/containers/prune 200' "$DAEMON_LOG"
  grep -q '^POST /v1.41/networks/prune 200' "$DAEMON_LOG"
  grep -q '^POST /v1.41/images/prune 200' "$DAEMON_LOG"
  grep -q '^POST /v1.41/images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D 200' \
    "$DAEMON_LOG"
}

@test "daemon on TCP: refused without --insecure-tcp, refused on any address but 127.0.0.1" {
  requires cmd:unshare
  # Each in a network namespace that dies with the command: were a refusal to fail, nothing would
  # have listened on the host's network.
  run unshare -n "$MINIDOCKER" daemon -H tcp://127.0.0.1:2375 --root "$ROOT"
  assert_failure 1
  assert_output "Error: refusing to listen on tcp://127.0.0.1:2375 without --insecure-tcp: there is no TLS here, and whoever can reach the port is root on this host"
  for address in 0.0.0.0:2375 192.168.1.10:2375 example.com:2375 '[::1]:2375' 127.0.0.2:2375; do
    run unshare -n "$MINIDOCKER" daemon -H "tcp://$address" --insecure-tcp --root "$ROOT"
    assert_failure 1
    [[ $output == "Error: refusing to listen on tcp://$address: only 127.0.0.1 (or localhost) is served over TCP, as there is no TLS here" ||
      $output == "Error: invalid -H tcp://$address: expected tcp://HOST:PORT" ]] || fail "$output"
  done
  # A refused tcp:// next to a unix socket: refused before anything is bound, no socket left.
  run unshare -n "$MINIDOCKER" daemon -H "unix://$SOCK" -H tcp://127.0.0.1:2375 --root "$ROOT"
  assert_failure 1
  [[ ! -e $SOCK ]]
  for bad in tcp://127.0.0.1:99999 tcp://127.0.0.1: tcp:// fd:// ssh://host unix://relative; do
    run unshare -n "$MINIDOCKER" daemon -H "$bad" --insecure-tcp --root "$ROOT"
    assert_failure 1
    assert_output --partial "Error: invalid -H $bad: expected"
  done
}

@test "daemon on TCP with --insecure-tcp: the warning; docker and our client over tcp://127.0.0.1" {
  start_in_namespace -H tcp://127.0.0.1:2375 --insecure-tcp
  # It listens in its own namespace, never in the host's.
  [[ $(readlink "/proc/$DAEMON_PID/ns/net") != $(readlink /proc/self/ns/net) ]]
  grep -qx "minidocker daemon: API 1.41 on unix://$SOCK (engine root $ROOT)" "$DAEMON_LOG"
  grep -qx "minidocker daemon: API 1.41 on tcp://127.0.0.1:2375 (engine root $ROOT)" "$DAEMON_LOG"
  grep -q '^minidocker daemon: WARNING: API is accessible on http://127.0.0.1:2375 without encryption. Access to the remote API is equivalent to root access on the host' \
    "$DAEMON_LOG"
  tcp_docker() {
    in_host env DOCKER_CONFIG="$BATS_TEST_TMPDIR/docker-config" "$DOCKER" \
      -H tcp://127.0.0.1:2375 "$@"
  }
  run tcp_docker version --format '{{.Server.Version}} {{.Server.APIVersion}}'
  assert_success
  assert_output "0.10.0 1.41"
  # run --rm: create, attach (the TCP connection hijacked), wait, start; the exit code back.
  run --separate-stderr tcp_docker run --rm --network none busybox sh -c 'echo out; echo err >&2; exit 3'
  assert_failure 3
  assert_output out
  [[ $stderr == err ]]
  run bash -c 'seq 1 5000 | "$@" run -i --rm --network none busybox md5sum' _ \
    nsenter --net="/run/netns/$HOST_NS" -- env DOCKER_CONFIG="$BATS_TEST_TMPDIR/docker-config" \
    "$DOCKER" -H tcp://127.0.0.1:2375
  assert_success
  assert_output "$(seq 1 5000 | md5sum)"
  # Our client over TCP: the same answers as through the socket.
  tcp_md() { in_host env DOCKER_HOST='' "$MINIDOCKER" -H tcp://127.0.0.1:2375 "$@"; }
  tcp_docker run -d --name web --network none busybox sleep 60 >/dev/null
  run tcp_md ps -a
  assert_success
  assert_line --index 1 --regexp '^[0-9a-f]{12} +busybox +"sleep 60" .* web$'
  run tcp_md ps -aq --no-trunc
  assert_output "$(mdh ps -aq --no-trunc)"
  run --separate-stderr tcp_md run --rm --network none busybox sh -c 'echo hi; exit 4'
  assert_failure 4
  assert_output hi
  run tcp_md volume create over-tcp
  assert_output over-tcp
  run in_host env DOCKER_HOST=tcp://localhost:2375 "$MINIDOCKER" volume ls -q
  assert_output over-tcp
  run --separate-stderr tcp_md --explain rm -f web
  assert_output web
  [[ $stderr == "[client] DELETE /v1.41/containers/web?force=1&v=0 -> 204 No Content" ]]
  # The daemon logged them as it logs the socket's.
  grep -q '^GET /v1.41/version 200' "$DAEMON_LOG"
  grep -q '^POST /v1.41/containers/create 201' "$DAEMON_LOG"
  grep -q '^POST /v1.41/volumes/create 201' "$DAEMON_LOG"
  # Nobody on another port: Docker's words.
  run in_host env DOCKER_HOST='' "$MINIDOCKER" -H tcp://127.0.0.1:2 ps
  assert_failure 1
  assert_output "Cannot connect to the minidocker daemon at tcp://127.0.0.1:2. Is the daemon running?"
  daemon_stop
  [[ $DAEMON_STATUS == 0 ]]
  grep -q 'socket removed' "$DAEMON_LOG"
}

@test "daemon: at its start it recovers what a killed command left (an endpoint, its rules)" {
  start_in_namespace
  mdh network ls >/dev/null
  daemon_stop
  # A connect SIGKILLed once its rules were made: an endpoint no container record names.
  run in_host env MINIDOCKER_NETWORK_KILL_AT=rules "$MINIDOCKER" --root "$ROOT" \
    network _connect bridge crash -p 8080:80
  assert_equal "$status" 137
  [[ -e $ROOT/netns/crash ]]
  in_host iptables-save | grep -q 8080
  daemon_start "$HOST_NS"
  grep -q "minidocker daemon: recovered " "$DAEMON_LOG"
  [[ ! -e $ROOT/netns/crash ]]
  run in_host iptables-save
  refute_output --partial 8080
}
