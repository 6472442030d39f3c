#!/usr/bin/env bats
# final/demo.sh as a student runs it (make demo): its verdict, and that it leaves nothing behind
# when it holds, when a step fails, and when it is stopped half-way. (Its output is checked line
# by line by the transcript in final/README.md: tests/00-docs.bats.)
load helpers

DEMO="$PROJECT_DIR/final/demo.sh"

# Nothing new on the host since `before`, and no bundle or container of the demo left.
assert_nothing_left() {
  local before=$1
  "$PROJECT_DIR/tests/leakcheck.sh" snapshot >"$BATS_TEST_TMPDIR/after"
  run "$PROJECT_DIR/tests/leakcheck.sh" compare "$before" "$BATS_TEST_TMPDIR/after"
  assert_success
  run bash -c "ls -d /tmp/lab-bundle-* /run/minidocker/runtime/lab-demo-* 2>/dev/null"
  assert_output ""
}

@test "runtime demo: demo.sh holds and leaves nothing" {
  requires root rootfs cmd:jq
  "$PROJECT_DIR/tests/leakcheck.sh" snapshot >"$BATS_TEST_TMPDIR/before"
  run "$DEMO"
  assert_success
  assert_line --partial "      minidocker"
  assert_line --regexp '^ +1 root +sleep 1000$'
  assert_line --regexp '^verdict: HELD'
  assert_nothing_left "$BATS_TEST_TMPDIR/before"
}

@test "runtime demo: a step that fails (no sleep in the rootfs) ends the demo and leaves nothing" {
  requires root rootfs cmd:jq
  local broken="$BATS_TEST_TMPDIR/rootfs"
  cp -a "$ROOTFS" "$broken"
  rm "$broken/bin/sleep"
  "$PROJECT_DIR/tests/leakcheck.sh" snapshot >"$BATS_TEST_TMPDIR/before"
  run "$DEMO" "$broken"
  assert_failure
  assert_output --partial '[3/6]'
  assert_output --partial 'executable file "sleep" not found'
  refute_output --partial 'verdict: HELD'
  assert_nothing_left "$BATS_TEST_TMPDIR/before"
}

@test "runtime demo: SIGTERM while it pauses with its container running removes everything" {
  requires root rootfs cmd:jq
  local out="$BATS_TEST_TMPDIR/out" in="$BATS_TEST_TMPDIR/in" line demo rc=0
  mkfifo "$out" "$in"
  "$PROJECT_DIR/tests/leakcheck.sh" snapshot >"$BATS_TEST_TMPDIR/before"
  # fd 3 is bats' own: the demo must not hold it (bats would wait for it), and we use 5 and 6.
  exec 6<>"$in"  # the demo's stdin: open, and nothing ever written to it
  "$DEMO" --pause <"$in" >"$out" 2>&1 3>&- 6>&- &
  demo=$!
  exec 5<"$out"
  # --pause prints this line after start, then waits in read: the container runs sleep 1000.
  while IFS= read -r line <&5; do
    [[ $line == *"paused: container"* ]] && break
  done
  [[ $line == *"paused: container"* ]] || fail "the demo never paused"
  run cat "/run/minidocker/runtime/lab-demo-$demo/state.json"
  assert_success
  kill -TERM "$demo"
  cat <&5 >/dev/null  # keep reading: the trap must not die of SIGPIPE
  exec 5<&- 6>&-
  wait "$demo" || rc=$?
  assert_equal "$rc" 143
  assert_nothing_left "$BATS_TEST_TMPDIR/before"
}

@test "runtime demo: without root it says so and does nothing" {
  requires root
  run_as_nobody "$DEMO"
  assert_failure
  assert_output --partial "demo.sh: containers need root"
}
