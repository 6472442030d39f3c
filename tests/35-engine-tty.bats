#!/usr/bin/env bats
# shellcheck disable=SC2016  # the shell inside the container expands these
# Containers with a terminal (-t: a pty from the runtime's --console-socket, held by the monitor),
# the attach socket (run, attach, start -a), detach keys, and start/restart of an exited
# container. A terminal is needed: tests/tools/pty-drive.py runs the CLI on a pty of its own and
# types into it, waiting for what it expects (bounded) before typing on.
load helpers
load engine
bats_require_minimum_version 1.5.0

setup() {
  requires root rootfs overlay cmd:/usr/bin/python3
  engine_setup
  DRIVE="$PROJECT_DIR/tests/tools/pty-drive.py"
}

teardown() {
  engine_teardown
  if [[ -n ${NET_NS:-} ]]; then
    mdn system prune -f >/dev/null 2>&1 || true
    ip netns del "$NET_NS" 2>/dev/null || true
    netns_mount_restore
  fi
}

# minidocker in this test's own network namespace (the bridge driver's links and rules go there)
mdn() { nsenter --net="/run/netns/$NET_NS" -- "$MINIDOCKER" --root "$ROOT" "$@"; }

# drive ROWS COLS STEP... -- minidocker ARGS: the CLI on a pty (see pty-drive.py).
drive() {
  local args=()
  while [[ $1 != -- ]]; do
    args+=("$1")
    shift
  done
  shift
  /usr/bin/python3 "$DRIVE" "${args[@]}" -- "$MINIDOCKER" --root "$ROOT" "$@"
}

monitor_pid() {
  jq -r .MonitorPid "$(container_dir "$1")/state.json"
}

@test "tty: run -t gives the container a pty of our window's size, with both runtimes" {
  for runtime in minidocker runc; do
    [[ $runtime == runc ]] && ! command -v runc >/dev/null && continue
    run drive 30 100 'expect:end' wait -- run --rm -t --runtime "$runtime" --network none busybox \
      sh -c 'tty; [ -t 0 ] && [ -t 1 ] && echo stdin-stdout-tty; echo "TERM=$TERM"; stty size; echo end'
    assert_success
    assert_line --partial "/dev/pts/0"
    assert_line --partial "stdin-stdout-tty"
    assert_line --partial "TERM=xterm"
    assert_line --partial "30 100"
    assert_line "exit: 0"
  done
}

@test "tty: run -it: typed input, window size follows ours, Ctrl-C is the container's, exit code" {
  run drive 30 100 'expect:/ # ' 'send:stty size\r' 'expect:30 100' 'resize:40,120' \
    'send:stty size\r' 'expect:40 120' \
    'send:sleep 1234; echo not-inter""rupted\r' 'poll:pgrep -x -f "sleep 1234"' 'send:\x03' \
    'send:echo still""alive\r' 'expect:stillalive' 'send:exit 5\r' wait -- \
    run --rm -it --network none busybox sh
  assert_success
  assert_line --partial "stillalive"
  refute_line --partial "not-interrupted"
  assert_line "exit: 5"
}

@test "tty: Ctrl-P Ctrl-Q detaches, the container runs on; attach comes back; logs have its output" {
  run drive 30 100 'expect:/ # ' 'send:echo o""ne\r' 'expect:one' 'send:\x10\x11' wait -- \
    run -it --name t --network none busybox sh
  assert_success
  assert_line "exit: 0"
  wait_status t running
  run md ps
  assert_line --regexp ' Up .* t$'
  # attach: the same shell (its variable is still set); the detach keys again: Docker's message.
  run drive 30 100 raw 'send:X=kept; echo "var=$X"\r' 'expect:var=kept' 'send:\x10\x11' wait -- \
    attach t
  assert_line --partial "read escape sequence"
  assert_line "exit: 1"
  run drive 30 100 raw 'send:echo "var=$X"; exit 3\r' wait -- attach t
  assert_line --partial "var=kept"
  assert_line "exit: 3"
  wait_status t exited
  # A tty container's log: one stream, stdout, with the pty's \r\n.
  run md logs t
  assert_line --partial "one"
  assert_line --partial "var=kept"
  [[ $(jq -r .stream "$(container_dir t)"/*-json.log | sort -u) == stdout ]]
}

@test "tty: -it with a stdin that is not a terminal is refused; a bad --detach-keys too" {
  run md run --rm -it --network none busybox true </dev/null
  assert_failure
  assert_output "Error: the input device is not a TTY"
  run md run --rm --detach-keys ctrl-1 --network none busybox true
  assert_failure
  assert_output "Error: Invalid detach keys (ctrl-1) provided"
  [[ -z $(ls -A "$ROOT/containers") ]]
}

@test "restart: start of an exited container runs it again (the rw layer keeps a counter), both runtimes" {
  for runtime in minidocker runc; do
    [[ $runtime == runc ]] && ! command -v runc >/dev/null && continue
    run md run --name "c-$runtime" --runtime "$runtime" --network none busybox \
      sh -c 'n=$(cat /count 2>/dev/null || echo 0); n=$((n+1)); echo $n >/count; echo "run $n"; exit $n'
    assert_failure 1
    assert_output "run 1"
    first_finished=$(md inspect "c-$runtime" | jq -r '.[0].State.FinishedAt')
    run md start -a "c-$runtime"
    assert_failure 2
    assert_output "run 2"
    run md start "c-$runtime"
    assert_output "c-$runtime"
    run md wait "c-$runtime"
    assert_output 3
    run md restart -t 1 "c-$runtime"
    assert_output "c-$runtime"
    run md wait "c-$runtime"
    assert_output 4
    state=$(md inspect "c-$runtime" | jq -c '.[0].State')
    [[ $(jq -r .ExitCode <<<"$state") == 4 ]]
    [[ $(jq -r .FinishedAt <<<"$state") > $first_finished ]]
    [[ $(jq -r .FinishedAt <<<"$state") > $(jq -r .StartedAt <<<"$state") ]]
    [[ $(md inspect "c-$runtime" | jq -r '.[0].RestartCount') == 0 ]]
    # One log, appended to by each run.
    run md logs "c-$runtime"
    assert_output "$(printf 'run %s\n' 1 2 3 4)"
  done
}

@test "restart: a running container is stopped and started again: a new PID 1, the same rootfs" {
  md run -d --name r --network none busybox sh -c 'date +%s%N >>/starts; exec sleep 1000' >/dev/null
  wait_status r running
  old_pid=$(md inspect r | jq -r '.[0].State.Pid')
  run md restart -t 1 r
  assert_output r
  wait_status r running
  new_pid=$(md inspect r | jq -r '.[0].State.Pid')
  [[ $new_pid != "$old_pid" && $new_pid != 0 ]]
  kill -0 "$new_pid"
  run ! kill -0 "$old_pid"
  # While running, FinishedAt is the last run's (as Docker shows it).
  [[ $(md inspect r | jq -r '.[0].State.FinishedAt') != 0001-01-01T00:00:00Z ]]
  for _ in $(seq 300); do
    [[ $(wc -l <"$(container_dir r)/merged/starts") == 2 ]] && break
    sleep 0.1
  done
  [[ $(wc -l <"$(container_dir r)/merged/starts") == 2 ]]
}

@test "attach: a non-tty container's output from now on; stdin with -i; --sig-proxy; a stopped one is refused" {
  md run -d --name ticks --network none busybox \
    sh -c 'trap "exit 7" TERM; i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.1; done' \
    >/dev/null
  for _ in $(seq 300); do
    md logs ticks | grep -q "tick 3" && break
    sleep 0.1
  done
  "$MINIDOCKER" --root "$ROOT" attach ticks >"$BATS_TEST_TMPDIR/out" &
  cli=$!
  for _ in $(seq 300); do
    [[ $(wc -l <"$BATS_TEST_TMPDIR/out") -ge 3 ]] && break
    sleep 0.1
  done
  [[ $(wc -l <"$BATS_TEST_TMPDIR/out") -ge 3 ]]
  run ! grep -qx "tick 0" "$BATS_TEST_TMPDIR/out"
  # --sig-proxy (the default): our SIGTERM goes to the container (its trap exits 7), and we exit
  # with its code.
  kill -TERM "$cli"
  for _ in $(seq 300); do
    kill -0 "$cli" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$cli" 2>/dev/null; then
    kill -KILL "$cli"
    fail "attach went on after SIGTERM: the signal did not reach the container"
  fi
  rc=0
  wait "$cli" || rc=$?
  ((rc == 7))
  wait_status ticks exited

  md run -d -i --name cat --network none busybox \
    sh -c 'while read -r l; do echo "got $l"; done; echo "stdin ended"' >/dev/null
  run bash -c "printf 'a\nb\n' | '$MINIDOCKER' --root '$ROOT' attach cat"
  assert_success
  assert_output "$(printf 'got a\ngot b\nstdin ended')"

  run md attach cat
  assert_failure
  assert_output "Error: You cannot attach to a stopped container, start it first"
}

@test "attach: start -ai of a created -i container, then of the exited one (a new stdin)" {
  md create -i --name ci --network none busybox sh -c 'read -r l; echo "got $l"' >/dev/null
  run bash -c "echo first | '$MINIDOCKER' --root '$ROOT' start -ai ci"
  assert_success
  assert_output "got first"
  run bash -c "echo second | '$MINIDOCKER' --root '$ROOT' start -ai ci"
  assert_success
  assert_output "got second"
}

@test "tty: an idle monitor (with a pty and an attach socket) stays under 1 MiB of RSS" {
  md run -d -it --name idle --network none busybox sh >/dev/null
  wait_status idle running
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$(monitor_pid idle)/status")
  echo "monitor VmRSS: $rss kB" >&3
  ((rss < 1024))
}

@test "exec -t: a pty through the runtime's console socket, with both runtimes: size, Ctrl-C, exit code" {
  for runtime in minidocker runc; do
    [[ $runtime == runc ]] && ! command -v runc >/dev/null && continue
    md run -d --name "e-$runtime" --runtime "$runtime" --network none busybox sleep 1000 >/dev/null
    run drive 30 100 'expect:end' wait -- exec -t "e-$runtime" \
      sh -c '[ -t 0 ] && [ -t 1 ] && echo stdin-stdout-tty; echo end; exit 3'
    assert_line --partial "stdin-stdout-tty"
    assert_line "exit: 3"
    # The size is the pty's before the process runs (process.consoleSize in the runtime's
    # --process file), and that file keeps -e, -w and -u.
    run drive 30 100 'expect:end' wait -- exec -t -e GREETING=hi -w /tmp -u 1000:1001 \
      "e-$runtime" sh -c 'stty size; echo "$GREETING $(pwd) $(id -u):$(id -g)"; echo end'
    assert_line --partial "30 100"
    assert_line --partial "hi /tmp 1000:1001"
    assert_line "exit: 0"
    run drive 30 100 raw 'expect:/ # ' 'send:stty size\r' 'expect:30 100' 'resize:40,120' \
      'send:stty size\r' 'expect:40 120' 'send:sleep 4321; echo not-inter""rupted\r' \
      'poll:pgrep -x -f "sleep 4321"' 'send:\x03' 'send:exit 4\r' wait -- \
      exec -it "e-$runtime" sh
    refute_line --partial "not-interrupted"
    assert_line "exit: 4"
    md rm -f "e-$runtime" >/dev/null
  done
}

@test "restart: a bridge container comes back on its network (its namespace is kept until rm)" {
  requires cmd:iptables cmd:nsenter
  netns_mount_remember
  NET_NS="lab-tty-$$-$BATS_TEST_NUMBER"
  ip netns add "$NET_NS"
  nsenter --net="/run/netns/$NET_NS" ip link set lo up
  run mdn run --name b busybox sh -c 'ip -4 -o addr show eth0 | awk "{print \$4}"; exit 2'
  assert_failure 2
  [[ $output == */* ]] || fail "no address on eth0: $output"
  first=$output
  run mdn start -a b
  assert_failure 2
  assert_output "$first"
  mdn rm -f b >/dev/null
}
