# SIGKILL tests for the lessons' programs and demo.sh: kill at a point where the program is
# blocked on something the test controls, then check that doctor --clean leaves the host as it
# was before. Load after helpers:
#   load helpers
#   load kill-points
# The shape of a test:
#   kp_before                                  # snapshot of the host
#   mkfifo "$BATS_TEST_TMPDIR/in"; exec 8<>"$BATS_TEST_TMPDIR/in"
#   "$PROGRAM" --shell <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- 8>&- &
#   pid=$!
#   kp_wait_for "the shell inside" grep -q '^ready' "$BATS_TEST_TMPDIR/out"
#   kp_kill "$pid"
#   kp_processes_gone "${children[@]}"          # what the kernel must end with it
#   kp_after                                   # doctor --clean, then nothing left behind
# Every wait is a bounded poll (KP_TIMEOUT seconds, default 30) that fails with what it waited for:
# never a sleep as synchronisation.
# shellcheck shell=bash

# kp_before: takes the host snapshot (tests/leakcheck.sh snapshot: mounts, netns, links, cgroups,
# firewall rules, namespaces held by processes, processes of the project) into a temp file
# (KP_SNAPSHOT), for kp_after to compare with. The file is in the test's own temp dir, never in
# /tmp/lab-*, which doctor --clean would remove.
kp_before() {
  KP_SNAPSHOT=$(mktemp "${BATS_TEST_TMPDIR:-/tmp}/kp-before.XXXXXX")
  "$PROJECT_DIR/tests/leakcheck.sh" snapshot >"$KP_SNAPSHOT"
}

# kp_wait_for DESCRIPTION CMD...: runs CMD every 0.1 s until it succeeds, at most KP_TIMEOUT
# seconds (default 30); then fails the test with "gave up waiting for: DESCRIPTION".
kp_wait_for() {
  local what=$1 timeout=${KP_TIMEOUT:-30}
  shift
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      fail "kp_wait_for: gave up after ${timeout} s waiting for: $what"
      return 1
    fi
    sleep 0.1
  done
}

# kp_gone PID: true when PID no longer runs (no /proc/PID, or only a zombie waiting to be reaped).
kp_gone() {
  local state
  [[ -e /proc/$1 ]] || return 0
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 0
  [[ -z $state || $state == Z ]]
}

# kp_kill PID: SIGKILL to PID, then waits (bounded) until it is gone. A child of the test shell
# (started with &) is reaped with wait, so it does not stay a zombie; its exit status (137) is in
# KP_STATUS.
# shellcheck disable=SC2034  # KP_STATUS is for the caller
kp_kill() {
  local pid=$1
  kill -KILL "$pid" 2>/dev/null || true
  KP_STATUS=0
  wait "$pid" 2>/dev/null || KP_STATUS=$?
  kp_wait_for "process $pid to die of SIGKILL" kp_gone "$pid"
}

# kp_processes_gone PID...: waits (bounded) until none of the PIDs runs any more: what the kernel
# must end with the killed process (children with a parent-death signal, PID 1 of its PID
# namespace takes the rest). Fails naming the ones still running, with their command lines.
kp_processes_gone() {
  local pid left=() deadline=$((SECONDS + ${KP_TIMEOUT:-30}))
  while true; do
    left=()
    for pid in "$@"; do kp_gone "$pid" || left+=("$pid"); done
    ((${#left[@]} == 0)) && return 0
    ((SECONDS < deadline)) || break
    sleep 0.1
  done
  local described=()
  for pid in "${left[@]}"; do
    described+=("$pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null))")
  done
  fail "still running after ${KP_TIMEOUT:-30} s: ${described[*]}"
}

# kp_children PID: the PIDs of PID's children, one a line (empty when it has none or is gone).
kp_children() {
  cat "/proc/$1/task/"*/children 2>/dev/null | tr ' ' '\n' | sed '/^$/d'
}

# kp_descendants PID: PID's children, their children and so on, one a line.
kp_descendants() {
  local child
  for child in $(kp_children "$1"); do
    echo "$child"
    kp_descendants "$child"
  done
}

# kp_after: runs doctor/doctor --clean (it must succeed; its output is kept in KP_CLEANED, e.g.
# to check that it removed the lesson's /tmp/lab-* dir), then takes a second snapshot and fails
# with tests/leakcheck.sh compare's list when anything is left that was not there at kp_before.
kp_after() {
  local after diff rc=0
  KP_CLEANED=$("$PROJECT_DIR/doctor/doctor" --clean 2>&1) || rc=$?
  if ((rc != 0)); then
    fail "doctor --clean failed (exit $rc): $KP_CLEANED"
    return 1
  fi
  after=$(mktemp "${BATS_TEST_TMPDIR:-/tmp}/kp-after.XXXXXX")
  "$PROJECT_DIR/tests/leakcheck.sh" snapshot >"$after"
  if ! diff=$("$PROJECT_DIR/tests/leakcheck.sh" compare "$KP_SNAPSHOT" "$after"); then
    fail "after SIGKILL and doctor --clean, $diff"
    return 1
  fi
}
