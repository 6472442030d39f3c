#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031  # DAEMON_PID: set and read within each test
# The daemon under stress (final/daemon): bad requests get Docker's error JSON and the daemon
# stays up; 50 requests at once are all answered; a client gone in the middle of an attach takes
# nothing with it; containers outlive the daemon (their monitors are independent) and a
# restarted daemon finds them, even after a SIGKILL in the middle of a run. Everything runs with
# --network none: no bridge, no firewall rule.
load helpers
load engine
load daemon
bats_require_minimum_version 1.5.0

setup() {
  daemon_setup
}

teardown() {
  daemon_teardown
}

# The HTTP status and the body of a request: "STATUS BODY".
status_and_body() {
  curl -sS --unix-socket "$SOCK" -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' "$@"
  echo " $(cat "$BATS_TEST_TMPDIR/body")"
}

@test "daemon: malformed JSON, a wrong field type, a huge body, garbage bytes: Docker's errors, still up" {
  daemon_start
  run status_and_body -X POST -H 'Content-Type: application/json' -d '{"Image": "busybox",' \
    http://localhost/v1.41/containers/create
  assert_output --regexp '^400 \{"message":".+"\}$'
  still_up
  run status_and_body -X POST -H 'Content-Type: application/json' -d '{"Image": 42}' \
    http://localhost/v1.41/containers/create
  assert_output --regexp '^400 \{"message":".+"\}$'
  still_up
  # 17 MiB of JSON: over the daemon's 16 MiB for a JSON body; answered 413, the rest unread.
  head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$BATS_TEST_TMPDIR/huge.json"
  run status_and_body -X POST -H 'Content-Type: application/json' \
    --data-binary "@$BATS_TEST_TMPDIR/huge.json" http://localhost/v1.41/containers/create
  assert_output --regexp '^413 \{"message":"request body too large: .*16 MiB'
  still_up
  # Not HTTP at all: the connection is dropped, nobody else notices.
  /usr/bin/python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"hello\r\n\r\n"); s.recv(100)' \
    "$SOCK" 2>/dev/null || true
  still_up
  run docker ps -a
  assert_success
  # Nothing was created by any of them.
  [[ -z $(md ps -aq) ]]
}

@test "daemon: attach and wait on a missing container are 404 No such container, through the client too" {
  daemon_start
  run status_and_body -X POST -H 'Connection: Upgrade' -H 'Upgrade: tcp' \
    'http://localhost/v1.41/containers/nope/attach?stream=1&stdout=1'
  assert_output '404 {"message":"No such container: nope"}'
  run status_and_body -X POST 'http://localhost/v1.41/containers/nope/wait'
  assert_output '404 {"message":"No such container: nope"}'
  run docker attach nope
  assert_failure 1
  assert_output "Error: No such container: nope"
  still_up
}

@test "daemon: 50 requests at once (ps, inspect, run --rm) are all answered correctly; nothing leaks" {
  md create --network none --name web busybox true >/dev/null
  daemon_start
  local out=$BATS_TEST_TMPDIR/out pids=() i mounts cgroups
  # web's mount and cgroups (a created container has both), before and after
  mounts=$(mounts_matching "$ROOT")
  cgroups=$(find /sys/fs/cgroup -maxdepth 3 -type d -path '*/minidocker/*' | sort)
  mkdir -p "$out"
  for i in $(seq 20); do
    docker ps -a --format '{{.Names}}' >"$out/ps.$i" 2>&1 &
    pids+=($!)
    api http://localhost/v1.41/containers/web/json >"$out/inspect.$i" 2>&1 &
    pids+=($!)
  done
  for i in $(seq 10); do
    docker run --rm --network none busybox echo "run $i" >"$out/run.$i" 2>&1 &
    pids+=($!)
  done
  local failed=0
  for i in "${pids[@]}"; do wait "$i" || failed=$((failed + 1)); done
  ((failed == 0)) || fail "$failed of 50 requests failed: $(head -n 3 "$out"/* | head -n 60)"
  for i in $(seq 20); do
    grep -qx web "$out/ps.$i" || fail "ps $i: $(cat "$out/ps.$i")"
    [[ $(jq -r .Name "$out/inspect.$i") == /web ]] || fail "inspect $i: $(cat "$out/inspect.$i")"
  done
  for i in $(seq 10); do
    [[ $(cat "$out/run.$i") == "run $i" ]] || fail "run $i: $(cat "$out/run.$i")"
  done
  # The ten --rm containers are gone, with their cgroups and mounts; web is still there.
  run docker ps -a --format '{{.Names}}'
  assert_output web
  [[ $(mounts_matching "$ROOT") == "$mounts" ]]
  [[ $(find /sys/fs/cgroup -maxdepth 3 -type d -path '*/minidocker/*' | sort) == "$cgroups" ]]
  still_up
}

@test "daemon: a client killed in the middle of an attach leaves no thread and no descriptor behind" {
  daemon_start
  md run -d --network none --name cat busybox sh -c 'while :; do echo tick; sleep 0.2; done' >/dev/null
  # Warm up: the first requests allocate what the daemon keeps (the io_context's descriptors).
  docker ps >/dev/null
  local fds threads
  fds=$(entries "/proc/$DAEMON_PID/fd")
  threads=$(entries "/proc/$DAEMON_PID/task")
  # The client itself in the background (not the docker() function, whose subshell SIGKILL
  # would kill while leaving the client attached).
  DOCKER_HOST="unix://$SOCK" DOCKER_CONFIG="$BATS_TEST_TMPDIR/docker-config" "$DOCKER" attach cat \
    >"$BATS_TEST_TMPDIR/attach.out" 2>&1 &
  local client=$!
  local _
  for _ in $(seq 50); do
    grep -q tick "$BATS_TEST_TMPDIR/attach.out" && break
    sleep 0.1
  done
  grep -q tick "$BATS_TEST_TMPDIR/attach.out" || fail "the attach never showed output"
  kill -KILL "$client"
  wait "$client" || true
  # The daemon notices on its next write (within the 0.2 s of a tick) and lets go.
  for _ in $(seq 50); do
    [[ $(entries "/proc/$DAEMON_PID/fd") -le $fds &&
      $(entries "/proc/$DAEMON_PID/task") -le $threads ]] && break
    sleep 0.1
  done
  [[ $(entries "/proc/$DAEMON_PID/fd") -le $fds ]] ||
    fail "descriptors: $fds before, $(entries "/proc/$DAEMON_PID/fd") after"
  [[ $(entries "/proc/$DAEMON_PID/task") -le $threads ]] ||
    fail "threads: $threads before, $(entries "/proc/$DAEMON_PID/task") after"
  # The container did not notice: Docker's attach never stops what it attached to.
  [[ $(md inspect cat | jq -r '.[0].State.Status') == running ]]
  still_up
}

@test "daemon: live restore: a container outlives the daemon; the restarted daemon finds it, stops it" {
  daemon_start
  id=$(docker run -d --network none --name long busybox sleep 1000)
  pid=$(md inspect long | jq -r '.[0].State.Pid')
  daemon_stop
  [[ $DAEMON_STATUS == 0 ]]
  # The daemon is gone, the container is not.
  kill -0 "$pid"
  [[ $(md inspect long | jq -r '.[0].State.Status') == running ]]
  daemon_start
  run docker ps --no-trunc --format '{{.ID}} {{.Names}} {{.State}}'
  assert_output "$id long running"
  run docker stop -t 1 long
  assert_success
  assert_output long
  run docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' long
  assert_output "exited 137"
  run kill -0 "$pid"
  assert_failure
}

@test "daemon: SIGKILL in the middle of a run: restarted, it tells the truth; rm and system prune leave the host as it was" {
  host_state >"$BATS_TEST_TMPDIR/before"
  daemon_start
  docker run --network none --name mid busybox sh -c 'echo started; sleep 1000' \
    >"$BATS_TEST_TMPDIR/run.out" 2>&1 &
  local client=$! _
  for _ in $(seq 100); do
    grep -q started "$BATS_TEST_TMPDIR/run.out" && break
    sleep 0.1
  done
  grep -q started "$BATS_TEST_TMPDIR/run.out" || fail "the run never started: $(cat "$BATS_TEST_TMPDIR/run.out")"
  kill -KILL "$DAEMON_PID"
  wait "$DAEMON_PID" || true
  DAEMON_PID=
  # The client loses its daemon and says so; the container is still running.
  run wait "$client"
  assert_failure
  [[ $(md inspect mid | jq -r '.[0].State.Status') == running ]]
  # A new daemon replaces the stale socket and reports the container as it is.
  daemon_start
  run docker ps --format '{{.Names}} {{.State}}'
  assert_output "mid running"
  run docker rm -f mid
  assert_success
  assert_output mid
  run docker system prune -f
  assert_success
  run docker ps -aq
  assert_output ""
  daemon_stop
  host_state >"$BATS_TEST_TMPDIR/after"
  # The engine root's own mounts (the image store) are the test's; everything else must match.
  run "$PROJECT_DIR/tests/leakcheck.sh" compare "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
  assert_success
}
