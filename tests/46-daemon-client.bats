#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031  # DAEMON_PID: set and read within each test
# shellcheck disable=SC2154  # $stderr: set by `run --separate-stderr`
# Our own CLI as the daemon's client (final/daemon/http_client.cpp): `minidocker -H unix://SOCK
# VERB` (or DOCKER_HOST) asks the daemon over the Docker Engine API, and prints what the CLI
# prints when it does the job itself on the same engine root: the same lines, the same exit
# codes, the same errors. `md` is the CLI doing the job itself (images.bash), `mdh` the client.
# Every container runs with --network none but the -p test's, whose daemon runs in a network
# namespace the test makes; each test has an engine root and a socket of its own, and teardown
# stops the daemon and removes every container.
load helpers
load engine
load daemon
load registry
bats_require_minimum_version 1.5.0

# /run/netns: taken away again if these tests made it (helpers.bash)
setup_file() { netns_mount_remember; }
teardown_file() { netns_mount_restore; }

setup() {
  daemon_setup
  HOST_NS=""
}

teardown() {
  [[ -z ${REGISTRY_PID:-} ]] || stop_registry
  if [[ -n $HOST_NS ]]; then
    # The -p test's containers are on a bridge inside its namespace: removed from there, before
    # the namespace (and with it the bridge and the rules) goes.
    remove_containers_in "$HOST_NS"
  fi
  daemon_teardown
  [[ -z $HOST_NS ]] || ip netns del "$HOST_NS" 2>/dev/null || true
}

in_host() { nsenter --net="/run/netns/$HOST_NS" -- "$@"; }

@test "client: ps, images and inspect print what the CLI prints on the daemon's root" {
  daemon_start
  md run -d --name web --network none busybox sleep 60 >/dev/null
  md create --name made --network none busybox sh -c 'echo a long command line here' >/dev/null
  md run --name ended --network none busybox sh -c 'exit 3' || true
  md tag busybox lab/busybox:v1
  for args in "ps" "ps -a" "ps -q" "ps -a -q" "ps -a --no-trunc" "container ls -a" \
    "images" "images -a" "images -q" "image ls" "inspect web" "inspect web made ended"; do
    # shellcheck disable=SC2086  # the words of the verb
    same_through_daemon $args
  done
  # The client really asked the daemon: its log has the requests.
  grep -q '^GET /v1.41/containers/json?all=1 200' "$DAEMON_LOG"
  grep -q '^GET /v1.41/images/json?all=0 200' "$DAEMON_LOG"
  grep -q '^GET /v1.41/containers/web/json 200' "$DAEMON_LOG"
  run mdh ps -a
  assert_success
  assert_line --regexp '^[0-9a-f]{12} +busybox +"sh -c exit 3" .* Exited \(3\) .* ended$'
  # One missing among others: the others printed, "Error: No such container: nosuch", exit 1.
  same_through_daemon inspect web nosuch
  assert_failure 1
  [[ $stderr == "Error: No such container: nosuch" ]]
}

@test "client: start, stop, kill, rm and logs as in-process; errors in the same words" {
  daemon_start
  # Two containers of each kind: one for the CLI alone, one for the client, the same output.
  for who in local remote; do
    md run --name "out-$who" --network none busybox sh -c 'echo out; echo err >&2; exit 3' \
      >/dev/null 2>&1 || true
    md create --name "made-$who" --network none busybox sleep 60 >/dev/null
    md run -d --name "up-$who" --network none busybox sleep 60 >/dev/null
  done
  run --separate-stderr mdh logs out-remote
  assert_success
  assert_output out
  [[ $stderr == err ]]
  run --separate-stderr md logs out-local
  assert_output out
  [[ $stderr == err ]]
  run --separate-stderr mdh logs -t out-remote
  assert_output --regexp '^20[0-9-]+T[0-9:.]+Z out$'
  run --separate-stderr mdh logs --tail 0 out-remote
  assert_success
  assert_output ""
  # logs -f: each line as the container writes it, to its exit.
  md run -d --name slow --network none busybox sh -c 'echo one; sleep 2; echo two >&2' >/dev/null
  mdh logs -f slow >"$BATS_TEST_TMPDIR/follow.out" 2>"$BATS_TEST_TMPDIR/follow.err" &
  local follower=$!
  sleep 1
  [[ $(cat "$BATS_TEST_TMPDIR/follow.out") == one ]]
  [[ ! -s $BATS_TEST_TMPDIR/follow.err ]]
  wait "$follower"
  [[ $(cat "$BATS_TEST_TMPDIR/follow.err") == two ]]
  run mdh start made-remote
  assert_success
  assert_output made-remote
  [[ $(md inspect made-remote | jq -r '.[0].State.Status') == running ]]
  run mdh stop -t 1 made-remote
  assert_success
  assert_output made-remote
  [[ $(md inspect made-remote | jq -r '.[0].State.Status') == exited ]]
  run mdh kill up-remote
  assert_success
  assert_output up-remote
  [[ $(md inspect up-remote | jq -r '.[0].State.Status') == exited ]]
  run mdh rm made-remote up-remote out-remote
  assert_success
  assert_output $'made-remote\nup-remote\nout-remote'
  run md inspect made-remote
  assert_failure 1
  # The same verbs' errors, through the daemon and in-process: same text, same exit code.
  md stop -t 1 up-local >/dev/null
  same_through_daemon kill up-local
  assert_failure 1
  assert_output ""
  [[ $stderr == "Error: Cannot kill container: up-local: Container "*" is not running" ]]
  for verb in "stop" "kill" "rm" "rm -f" "logs" "start"; do
    # shellcheck disable=SC2086
    same_through_daemon $verb nosuch
    [[ $stderr == "Error: No such container: nosuch" ]]
  done
  same_through_daemon kill -s NOSUCH up-local
  assert_failure 1
  # rm -f of a running container, and the client's answer for each name it was given.
  md run -d --name up-again --network none busybox sleep 60 >/dev/null
  run --separate-stderr mdh rm -f up-again nosuch
  assert_failure 1
  assert_output up-again
  [[ $stderr == "Error: No such container: nosuch" ]]
  run md inspect up-again
  assert_failure 1
}

@test "client: run and create as in-process: output, streams, exit code, flags; -d prints the id" {
  daemon_start
  same_through_daemon run --rm --network none busybox echo hi
  assert_success
  assert_output hi
  # stdout and stderr apart (the 8-byte frames split back), the container's exit code ours.
  same_through_daemon run --rm --network none busybox sh -c 'echo out; echo err >&2; exit 3'
  assert_failure 3
  assert_output out
  [[ $stderr == err ]]
  # -e (KEY alone from the client's environment), -v: what the container sees.
  mkdir "$BATS_TEST_TMPDIR/data"
  echo inside >"$BATS_TEST_TMPDIR/data/f"
  export FROM_CLIENT=yes
  # shellcheck disable=SC2016  # the container's shell expands them
  same_through_daemon run --rm --network none -e A=1 -e FROM_CLIENT \
    -v "$BATS_TEST_TMPDIR/data:/data" busybox sh -c 'echo $A $FROM_CLIENT; cat /data/f'
  assert_success
  assert_output $'1 yes\ninside'
  # --memory and --cpus: the container's limits, as the CLI's own run records them.
  md run -d --name lim-local --network none --memory 64m --cpus 0.5 busybox sleep 60 >/dev/null
  mdh run -d --name lim-remote --network none --memory 64m --cpus 0.5 busybox sleep 60 >/dev/null
  for name in lim-local lim-remote; do
    [[ $(md inspect "$name" | jq -c '.[0].HostConfig | [.Memory, .NanoCpus]') == \
      "[67108864,500000000]" ]]
  done
  # A limit the CLI refuses is refused before anything is sent, in its words.
  same_through_daemon run --rm --network none --memory 1k busybox true
  assert_failure 125
  # -i: our stdin reaches the container, its end is the container's EOF.
  run bash -c 'seq 1 20000 | "$0" -H "unix://$1" run -i --rm --network none busybox md5sum' \
    "$MINIDOCKER" "$SOCK"
  assert_success
  assert_output "$(seq 1 20000 | md5sum)"
  # A program that cannot be run: the same words and 127; a missing image: the same error.
  same_through_daemon -127 run --rm --network none busybox nosuch
  assert_failure 127
  same_through_daemon -127 run --network none busybox nosuch
  assert_failure 127
  # A missing image: 125 both ways; the daemon names it with its default tag, as Docker's does.
  run --separate-stderr md run --rm --network none nosuch-image true
  assert_failure 125
  [[ $stderr == "Error: No such image: nosuch-image" ]]
  run --separate-stderr mdh run --rm --network none nosuch-image true
  assert_failure 125
  [[ $stderr == "Error: No such image: nosuch-image:latest" ]]
  # Without --rm the container stays, exited with its code; --name names it.
  run mdh run --name kept --network none busybox sh -c 'exit 7'
  assert_failure 7
  [[ $(md inspect kept | jq -r '.[0].State | "\(.Status) \(.ExitCode)"') == "exited 7" ]]
  grep -q '^POST /v1.41/containers/[0-9a-f]*/wait?condition=next-exit 200' "$DAEMON_LOG"
  grep -q '^POST /v1.41/containers/[0-9a-f]*/wait?condition=removed 200' "$DAEMON_LOG"
  # -d and create print the id; the daemon made what the CLI would have.
  run mdh run -d --name bg --network none busybox sleep 60
  assert_success
  assert_output --regexp '^[0-9a-f]{64}$'
  [[ $(md inspect bg | jq -r '.[0].Id') == "$output" ]]
  [[ $(md inspect bg | jq -r '.[0].State.Status') == running ]]
  run mdh create --name made --network none busybox true
  assert_output --regexp '^[0-9a-f]{64}$'
  [[ $(md inspect made | jq -r '.[0].State.Status') == created ]]
  # The order Docker's CLI keeps: create, attach, wait, start.
  run --separate-stderr mdh --explain run --rm --network none busybox true
  assert_success
  [[ ${#stderr_lines[@]} == 4 ]]
  [[ ${stderr_lines[0]} == "[client] POST /v1.41/containers/create -> 201 Created" ]]
  [[ ${stderr_lines[1]} =~ ^\[client\]\ POST\ /v1.41/containers/[0-9a-f]{64}/attach\?stream=1\&stdout=1\&stderr=1\ -\>\ 101\  ]]
  [[ ${stderr_lines[2]} =~ /wait\?condition=removed\ -\>\ 200\ OK$ ]]
  [[ ${stderr_lines[3]} =~ /start\ -\>\ 204\ No\ Content$ ]]
}

@test "client: exec as in-process: output, stderr apart, exit code, -e, -w, -i, -d" {
  daemon_start
  md run -d --name web --network none busybox sleep 60 >/dev/null
  same_through_daemon exec web sh -c 'echo out; echo err >&2; exit 5'
  assert_failure 5
  assert_output out
  [[ $stderr == err ]]
  # shellcheck disable=SC2016  # the container's shell expands them
  same_through_daemon exec -e GREETING=hello -w /tmp web sh -c 'echo $GREETING $(pwd)'
  assert_success
  assert_output "hello /tmp"
  run bash -c 'echo piped | "$0" -H "unix://$1" exec -i web cat' "$MINIDOCKER" "$SOCK"
  assert_success
  assert_output piped
  # A missing command: 127 both ways; Docker's daemon tells it inside the stream (so on stdout),
  # the CLI's own on stderr, in the same words.
  run -127 --separate-stderr md exec web nosuch
  # shellcheck disable=SC2016  # Docker's words
  [[ $stderr == *'exec: "nosuch": executable file not found in $PATH'* ]]
  run -127 --separate-stderr mdh exec web nosuch
  # shellcheck disable=SC2016  # Docker's words
  assert_output --partial 'exec: "nosuch": executable file not found in $PATH'
  same_through_daemon exec nosuch true
  assert_failure 1
  run mdh exec -d web touch /tmp/detached
  assert_success
  assert_output ""
  sleep 0.5
  run md exec web ls /tmp/detached
  assert_success
}

@test "client: run -d -p through the daemon in a network namespace of the test's own" {
  requires cmd:iptables cmd:nsenter
  # The daemon, and so the engine's bridge, veths and NAT rules, in a namespace that dies with
  # the test; our client reaches it through the socket's path, from the host's namespace.
  HOST_NS="lab-d46-$$-$BATS_TEST_NUMBER"
  daemon_start "$HOST_NS"
  run mdh run -d --name web -p 8080:80 busybox httpd -f -p 80 -h /etc
  assert_success
  hostname=$(mdh inspect web | jq -r '.[0].Config.Hostname')
  body=""
  for _ in $(seq 100); do
    body=$(timeout 3 nsenter --net="/run/netns/$HOST_NS" -- "$ROOTFS/bin/busybox" wget -q -O - \
      http://127.0.0.1:8080/hostname 2>/dev/null) && break
    sleep 0.1
  done
  [[ $body == "$hostname" ]]
  # ps through the daemon shows the port as the CLI does inside that namespace.
  run mdh ps
  assert_line --index 1 --regexp ' 0\.0\.0\.0:8080->80/tcp +web$'
  [[ $(normalized <<<"$output") == \
    "$(in_host env DOCKER_HOST='' "$MINIDOCKER" --root "$ROOT" ps | normalized)" ]]
  run mdh rm -f web
  assert_success
  assert_output web
}

@test "client: tag and rmi print what the CLI prints; rmi of a missing image is the same error" {
  daemon_start
  run mdh tag busybox lab/remote:v1
  assert_success
  assert_output ""
  md tag busybox lab/local:v1
  run md images lab/remote
  assert_line --index 1 --regexp '^lab/remote +v1 '
  run --separate-stderr mdh rmi lab/remote:v1
  assert_success
  assert_output "Untagged: lab/remote:v1"
  run --separate-stderr md rmi lab/local:v1
  assert_output "Untagged: lab/local:v1"
  same_through_daemon rmi nosuch:v9
  assert_failure 1
  [[ $stderr == "Error: No such image: nosuch:v9" ]]
  # A missing source: the daemon names it with its default tag, as Docker's daemon does.
  run --separate-stderr mdh tag nosuch lab/x
  assert_failure 1
  [[ $stderr == "Error: No such image: nosuch:latest" ]]
  # A registry's port is not a tag: repo "localhost:5000/lab/b", tag "v2".
  run mdh tag busybox localhost:5000/lab/b:v2
  assert_success
  run md images localhost:5000/lab/b
  assert_line --index 1 --regexp '^localhost:5000/lab/b +v2 '
}

@test "client: push and pull through the daemon print what the CLI prints; a missing tag is the same error" {
  start_registry
  daemon_start
  md tag busybox "$REGISTRY/lab/remote:v1"
  md tag busybox "$REGISTRY/lab/local:v1"
  # Layers the registry has not seen yet, then the same push again: both ways alike.
  run --separate-stderr mdh push "$REGISTRY/lab/remote:v1"
  assert_success
  remote_push=$output
  run --separate-stderr md push "$REGISTRY/lab/local:v1"
  assert_success
  # The same lines but the repository's name (the digest is the same manifest's).
  [[ ${remote_push//lab\/remote/lab/x} == "${output//lab\/local/lab/x}" ]] ||
    fail "through the daemon: $remote_push; in-process: $output"
  assert_line --regexp '^v1: digest: sha256:[0-9a-f]{64} size: [0-9]+$'
  md rmi "$REGISTRY/lab/remote:v1" "$REGISTRY/lab/local:v1" >/dev/null
  same_through_daemon pull "$REGISTRY/lab/remote:v1"
  assert_success
  assert_line --index 0 "v1: Pulling from lab/remote"
  assert_line "Status: Image is up to date for $REGISTRY/lab/remote:v1"
  assert_line --index -1 "$REGISTRY/lab/remote:v1"
  # busybox's image, under three names now: each push recorded its repository's digest.
  run md image inspect "$REGISTRY/lab/remote:v1"
  [[ $(jq -r '.[0].RepoDigests | map(sub("@.*"; "")) | join(" ")' <<<"$output") == \
    "$REGISTRY/lab/local $REGISTRY/lab/remote" ]]
  # A tag the registry does not have: the in-process error, through the stream's errorDetail.
  same_through_daemon pull "$REGISTRY/lab/remote:nosuch"
  assert_failure 1
  [[ $stderr == Error:* ]]
  run --separate-stderr mdh push "$REGISTRY/lab/none:v1"
  assert_failure 1
  [[ $stderr == "Error: An image does not exist locally with the tag: $REGISTRY/lab/none" ]]
}

@test "client: --explain shows each request and the status line it got" {
  daemon_start
  md create --name made --network none busybox true >/dev/null
  run --separate-stderr mdh --explain ps -a
  assert_success
  assert_line --index 1 --partial made
  [[ $stderr == "[client] GET /v1.41/containers/json?all=1 -> 200 OK" ]]
  run --separate-stderr mdh --explain rm made
  assert_output made
  [[ $stderr == "[client] DELETE /v1.41/containers/made?force=0&v=0 -> 204 No Content" ]]
  run --separate-stderr mdh --explain inspect made
  assert_failure 1
  [[ $stderr == $'[client] GET /v1.41/containers/made/json -> 404 Not Found\nError: No such container: made' ]]
}

@test "client: DOCKER_HOST when -H is absent; -H wins; an empty DOCKER_HOST is in-process" {
  daemon_start
  md create --name made --network none busybox true >/dev/null
  run env DOCKER_HOST="unix://$SOCK" "$MINIDOCKER" --root /nonexistent ps -aq
  assert_success
  assert_output "$(md ps -aq)"
  [[ $(grep -c '^GET /v1.41/containers/json?all=1 200' "$DAEMON_LOG") == 1 ]]
  # -H before DOCKER_HOST, as Docker's CLI: a socket nobody serves says so.
  run env DOCKER_HOST="unix://$SOCK" "$MINIDOCKER" -H "unix://$BATS_TEST_TMPDIR/none.sock" ps
  assert_failure 1
  assert_output "Cannot connect to the minidocker daemon at unix://$BATS_TEST_TMPDIR/none.sock. Is the daemon running?"
  run env DOCKER_HOST='' "$MINIDOCKER" --root "$ROOT" ps -aq
  assert_output "$(md ps -aq)"
  [[ $(grep -c '^GET /v1.41/containers/json?all=1 200' "$DAEMON_LOG") == 1 ]]
}

@test "client: a verb not served through a daemon is refused in one line, never run here" {
  daemon_start
  run --separate-stderr mdh stats
  assert_failure 1
  [[ $stderr == "minidocker -H: stats without --no-stream is not available through a daemon yet; run it without -H" ]]
  md create --name made --network none busybox true >/dev/null
  # Nothing ran: no container but the one made above.
  [[ $(md ps -aq | wc -l) == 1 ]]
  [[ $(md inspect made | jq -r '.[0].State.Status') == created ]]
  # -H is the client's: `daemon -H` is still the daemon's socket, and a bad -H is one line.
  run "$MINIDOCKER" -H ssh://somewhere ps
  assert_failure 1
  assert_output "Error: invalid -H ssh://somewhere: expected unix:///PATH or tcp://HOST:PORT"
}

@test "client: a daemon that is not there: Docker's words, exit 1" {
  run --separate-stderr "$MINIDOCKER" -H "unix://$BATS_TEST_TMPDIR/none.sock" ps
  assert_failure 1
  assert_output ""
  [[ $stderr == "Cannot connect to the minidocker daemon at unix://$BATS_TEST_TMPDIR/none.sock. Is the daemon running?" ]]
  for verb in "images" "inspect x" "stop x" "rm x" "logs x" "rmi x" "tag a b"; do
    # shellcheck disable=SC2086
    run --separate-stderr "$MINIDOCKER" -H "unix://$BATS_TEST_TMPDIR/none.sock" $verb
    assert_failure 1
    [[ $stderr == "Cannot connect to the minidocker daemon at"* ]]
  done
}
