#!/usr/bin/env bats
# Lesson 02 as a user runs it: sh is PID 1 of its own PID namespace, ps inside sees two
# processes, and the kernel's rules for PID 1 (orphans, zombies, SIGTERM, exit) hold.
load helpers
load kill-points

setup() {
  PID_BIN="$LESSONS/02-pid/pid"
}

# No process of the lesson's namespaces and no proc mount on the rootfs may outlive a run.
assert_nothing_left() {
  run grep -c "$ROOTFS/proc" /proc/self/mountinfo
  assert_output 0
  run grep -c "$ROOTFS/dev" /proc/self/mountinfo
  assert_output 0
  run pgrep -f '^sleep 1000$'
  assert_failure
}

@test "pid: ps inside lists exactly PID 1 (/bin/sh) and ps; NSpid maps the host PID to 1" {
  requires root rootfs
  run "$PID_BIN" --json
  assert_success
  json=$output
  assert_equal "$(jq -r .held <<<"$json")" "true"
  assert_equal "$(jq -r '.ps | length' <<<"$json")" "2"
  assert_equal "$(jq -r '.ps[0].pid' <<<"$json")" "1"
  assert_equal "$(jq -r '.ps[0].command' <<<"$json")" "/bin/sh"
  [[ $(jq -r '.ps[1].command' <<<"$json") =~ ps ]]
  host_pid=$(jq -r .host_pid <<<"$json")
  ((host_pid > 1))
  assert_equal "$(jq -c .nspid <<<"$json")" "[$host_pid,1]"
  # the child had its own PID namespace; ours is the host's
  assert_equal "$(jq -r .ns_outside <<<"$json")" "$(readlink /proc/self/ns/pid)"
  [[ $(jq -r .ns_inside <<<"$json") != "$(jq -r .ns_outside <<<"$json")" ]]
  assert_equal "$(jq -r .nspid_held <<<"$json")" "true"
  # the fresh proc on ROOTFS/proc stayed in the child's mount namespace
  assert_equal "$(jq -r .proc_on_host <<<"$json")" "false"
  assert_nothing_left
}

@test "pid: a proc mount on ROOTFS/proc in the host's table fails the verdict and is named" {
  requires root rootfs cmd:unshare
  # a private mount namespace stands in for "the host" whose table already has that mount
  run unshare --mount --propagation private sh -c \
    'mount -t proc proc "$1/proc" && exec "$2" --json' sh "$ROOTFS" "$PID_BIN"
  assert_failure 1
  assert_equal "$(jq -r .proc_on_host <<<"$output")" "true"
  assert_equal "$(jq -r .held <<<"$output")" "false"
  assert_equal "$(jq -r .ps_held <<<"$output")" "true"
  [[ $(jq -r .verdict <<<"$output") == *"proc mount on"*"/proc showed up on the host"* ]]
  [[ $(jq -r .verdict <<<"$output") != *"ps inside"* ]]
  assert_nothing_left
}

@test "pid: the ps output really came from inside (a host ps would list far more)" {
  requires root rootfs
  run "$PID_BIN" --json
  assert_success
  ps_output=$(jq -r .ps_output <<<"$output")
  [[ $(wc -l <<<"$ps_output") -eq 3 ]]
  [[ $(ps -e --no-headers | wc -l) -gt 2 ]]
}

@test "pid: without an init, PID 1 adopts orphans, keeps their zombies, ignores SIGTERM, and its exit kills the rest" {
  requires root rootfs
  run "$PID_BIN" --json
  assert_success
  json=$output
  pid1=$(jq -r .pid1_host <<<"$json")
  assert_equal "$(jq -r .init <<<"$json")" "false"
  assert_equal "$(jq -r .orphan_ppid_inside <<<"$json")" "1"
  assert_equal "$(jq -r .orphan_ppid_host <<<"$json")" "$pid1"
  assert_equal "$(jq -r .zombie_stays <<<"$json")" "true"
  assert_equal "$(jq -r .zombie_reaped <<<"$json")" "false"
  assert_equal "$(jq -r .sigterm_ignored <<<"$json")" "true"
  assert_equal "$(jq -r .pid1_exit <<<"$json")" "0"
  assert_equal "$(jq -c .left_in_namespace <<<"$json")" "[]"
  # the orphans' host PIDs are gone now that PID 1 has exited
  [[ ! -e /proc/$(jq -r .survivor_pid_host <<<"$json") ]]
  [[ ! -e /proc/$pid1 ]]
  assert_nothing_left
}

@test "pid --init: the init reaps the zombie and SIGTERM stops the container (exit 143)" {
  requires root rootfs
  run "$PID_BIN" --init --json
  assert_success
  json=$output
  assert_equal "$(jq -r .held <<<"$json")" "true"
  assert_equal "$(jq -r .init <<<"$json")" "true"
  assert_equal "$(jq -r .orphan_ppid_inside <<<"$json")" "1"
  assert_equal "$(jq -r .orphan_ppid_host <<<"$json")" "$(jq -r .pid1_host <<<"$json")"
  assert_equal "$(jq -r .zombie_reaped <<<"$json")" "true"
  assert_equal "$(jq -r .zombie_stays <<<"$json")" "false"
  assert_equal "$(jq -r .sigterm_ignored <<<"$json")" "false"
  assert_equal "$(jq -r .pid1_exit <<<"$json")" "143"
  assert_equal "$(jq -c .left_in_namespace <<<"$json")" "[]"
  assert_nothing_left
}

@test "pid: narration numbers ten steps and ends with a verdict that held" {
  requires root rootfs
  run "$PID_BIN"
  assert_success
  assert_line --regexp '^\[1/10\] clone\(CLONE_NEWNS\|CLONE_NEWPID\|SIGCHLD\) +~ unshare --pid --mount --fork$'
  assert_line --regexp '^\[2/10\] mount\(NULL, "/", NULL, MS_REC\|MS_PRIVATE, NULL\)'
  assert_line --regexp '^      /proc/[0-9]+/status on the host: NSpid: [0-9]+ 1$'
  assert_line --regexp '^ +1 root +/bin/sh$'
  assert_line --regexp '^\[10/10\] '
  assert_line --index -1 --regexp '^verdict: HELD - '
}

@test "pid: --quiet prints only the verdict; no colour without a terminal" {
  requires root rootfs
  run "$PID_BIN" --quiet
  assert_success
  assert_equal "${#lines[@]}" 1
  assert_output --regexp '^verdict: HELD - '
  refute_output --partial $'\033['
}

@test "pid --shell: the shell you get is PID 1 and ps there sees two processes" {
  requires root rootfs
  run bash -c "printf 'echo marker-\$\$\nps\nkill -TERM 1\necho alive-after-term\nkill -KILL 1\necho alive-after-kill\n' | '$PID_BIN' --shell"
  assert_success
  # only the shell inside can print these: \$\$ is 1 there, and it survived SIGTERM and even
  # SIGKILL sent from inside its own namespace, as the --shell hint promises
  assert_line "marker-1"
  assert_line "alive-after-term"
  assert_line "alive-after-kill"
  assert_line --regexp '^ +1 root +/bin/sh$'
  assert_line --index -1 --regexp '^verdict: HELD - '
  assert_nothing_left
}

@test "pid --shell: a job in the background works; /dev holds the basic devices, /dev/null is char 1,3" {
  requires root rootfs
  # `sleep 1 &` in a non-interactive sh opens /dev/null for the job's stdin: it failed with
  # "can't open '/dev/null'" while the rootfs's /dev was empty
  run bash -c "printf '%s\n' 'sleep 1 &' 'echo job-started-\$?' 'wait \$!' 'echo job-ended-\$?' \
    'stat -c \"%n %F %t,%T %a\" /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty' \
    'echo written >/dev/null && echo wrote-dev-null' | '$PID_BIN' --shell 2>&1"
  assert_success
  refute_output --partial "can't open"
  assert_line "job-started-0"
  assert_line "job-ended-0"
  assert_line "/dev/null character special file 1,3 666"
  assert_line "/dev/zero character special file 1,5 666"
  assert_line "/dev/full character special file 1,7 666"
  assert_line "/dev/random character special file 1,8 666"
  assert_line "/dev/urandom character special file 1,9 666"
  assert_line "/dev/tty character special file 5,0 666"
  assert_line "wrote-dev-null"
  assert_line --index -1 --regexp '^verdict: HELD - '
  # the rootfs's own /dev is untouched: the tmpfs was in the child's mount namespace only
  [[ -z $(ls -A "$ROOTFS/dev") ]]
  assert_nothing_left
}

@test "pid --init --shell: the init is PID 1 and the shell you get is PID 2" {
  requires root rootfs
  run bash -c "printf 'echo marker-\$\$\nps\n' | '$PID_BIN' --init --shell"
  assert_success
  assert_line "marker-2"
  assert_line --regexp '^ +1 root +.*pid --init --shell$'
  assert_line --regexp '^ +2 root +/bin/sh$'
  assert_line --index -1 'verdict: HELD - the shell you left ran as PID 2, under an init at PID 1 of its own PID namespace'
  assert_nothing_left
}

@test "pid: an empty --rootfs is refused in one line, before anything is made" {
  run "$PID_BIN" --rootfs ''
  assert_failure 2
  assert_equal "${#lines[@]}" 1
  assert_output --partial "--rootfs: the path is empty"
  refute_output --partial "chroot"
}

@test "pid: a missing rootfs is refused in one line that says make rootfs, before anything is made" {
  run "$PID_BIN" --rootfs /nonexistent/lab-rootfs
  assert_failure 2
  assert_equal "${#lines[@]}" 1
  assert_output --partial "/nonexistent/lab-rootfs/bin/busybox is missing"
  assert_output --partial "make rootfs"
  [[ ! -e /nonexistent/lab-rootfs ]]
}

@test "pid: an unknown option is refused in one line" {
  run "$PID_BIN" --innit
  assert_failure 2
  assert_equal "${#lines[@]}" 1
  assert_output --partial "see pid --help"
}

@test "pid: without root it says so in one line and exits non-zero" {
  run_as_nobody "$PID_BIN"
  assert_failure 1
  assert_equal "${#lines[@]}" 1
  assert_output --partial "needs root"
  assert_output --partial "sudo ./pid"
}

@test "pid: --help explains every option" {
  run "$PID_BIN" --help
  assert_success
  for opt in --rootfs --init --shell --json --quiet; do
    assert_output --partial -- "$opt"
  done
}

@test "pid demo.sh: unshare --pid shows sh as PID 1, its host PID, and SIGTERM ignored" {
  requires root rootfs cmd:unshare
  run "$LESSONS/02-pid/demo.sh"
  assert_success
  assert_line --regexp '^ +1 root +/bin/sh$'
  assert_line --regexp '^      host PID [0-9]+   NSpid: [0-9]+ 1$'
  assert_line '      PID 1 survived'
  assert_line --index -1 --partial 'verdict: HELD'
  assert_nothing_left
}

@test "pid demo.sh: without root it refuses in one line" {
  run_as_nobody "$LESSONS/02-pid/demo.sh"
  assert_failure 1
  assert_output --partial "needs root"
}

@test "pid: README transcripts match the real output (English and Chinese)" {
  requires root rootfs
  check_transcript "$LESSONS/02-pid/README.md" "$LESSONS/02-pid/README.zh.md"
}

# Starts PROGRAM ARGS... in the background with its stdin on a fifo held open on fd 8 (bats owns
# fd 3), and waits until the shell inside has run a command. Sets PID (the lesson).
start_shell() {
  mkfifo "$BATS_TEST_TMPDIR/in"
  exec 8<>"$BATS_TEST_TMPDIR/in"
  "$@" <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
  PID=$!
  # shellcheck disable=SC2016  # expanded by the shell inside
  echo 'sleep 1000 & echo shell-ready-$$' >&8
  kp_wait_for "the shell inside $*" grep -q '^shell-ready-' "$BATS_TEST_TMPDIR/out"
}

# After SIGKILL of a lesson blocked in --shell: its namespace's processes die with it (PID 1 had
# PR_SET_PDEATHSIG), doctor --clean finds nothing of it, and the next run holds.
kill_shell_and_check() {
  local inside
  mapfile -t inside < <(kp_descendants "$PID")
  # PID 1 of the namespace (the shell, or --init's init), and the sleep started inside
  [[ ${#inside[@]} -ge 2 ]]
  kp_kill "$PID"
  PID=""
  exec 8>&-
  kp_processes_gone "${inside[@]}"
  kp_after
  assert_nothing_left
  run "$PID_BIN" --quiet
  assert_success
  assert_output --regexp '^verdict: HELD - '
}

@test "pid: SIGKILL during --shell: PID 1 and its namespace die with it, nothing is left, the next run holds" {
  requires root rootfs
  kp_before
  start_shell "$PID_BIN" --shell  # blocked: sh reads its stdin, a fifo this test holds open
  grep -q '^shell-ready-1$' "$BATS_TEST_TMPDIR/out"
  kill_shell_and_check
}

@test "pid: SIGKILL during --init --shell: the init, the shell and the rest die with it, the next run holds" {
  requires root rootfs
  kp_before
  start_shell "$PID_BIN" --init --shell
  grep -q '^shell-ready-2$' "$BATS_TEST_TMPDIR/out"
  kill_shell_and_check
}

@test "pid demo.sh: SIGKILL while step 2's namespace runs: its unshare and sleep die with it, the next run holds" {
  requires root rootfs cmd:setpriv
  kp_before
  # The blocked point: an awk on PATH that, called for step 2's NSpid (while unshare and its
  # sleep 1000 run), says so and waits on a fifo this test holds open. It is the test's
  # instrument: the test ends it itself once the rest is checked.
  mkdir "$BATS_TEST_TMPDIR/bin"
  mkfifo "$BATS_TEST_TMPDIR/gate"
  exec 8<>"$BATS_TEST_TMPDIR/gate"
  cat >"$BATS_TEST_TMPDIR/bin/awk" <<FAKE
#!/bin/sh
case "\$*" in
  *NSpid*)
    echo "\$\$" >"$BATS_TEST_TMPDIR/blocked"
    read -r _ <"$BATS_TEST_TMPDIR/gate" ;;
esac
exec $(command -v awk) "\$@"
FAKE
  chmod +x "$BATS_TEST_TMPDIR/bin/awk"
  PATH="$BATS_TEST_TMPDIR/bin:$PATH" "$LESSONS/02-pid/demo.sh" >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- 8>&- &
  PID=$!
  kp_wait_for "demo.sh to read step 2's NSpid" test -s "$BATS_TEST_TMPDIR/blocked"
  read -r awk_pid <"$BATS_TEST_TMPDIR/blocked"
  # step 2's unshare and its sleep 1000 (PID 1 of the new namespace), not the test's own awk
  mapfile -t inner < <(kp_descendants "$PID" | grep -vx "$awk_pid")
  run pgrep -f '^sleep 1000$'
  assert_success
  kp_kill "$PID"
  PID=""
  kp_processes_gone "${inner[@]}"
  kp_kill "$awk_pid"
  exec 8>&-
  kp_after
  assert_nothing_left
  run "$LESSONS/02-pid/demo.sh"
  assert_success
  assert_line --index -1 --partial 'verdict: HELD'
}

@test "pid demo.sh: SIGKILL while step 1's PID 1 runs: unshare and the namespace die with it, the next run holds" {
  requires root rootfs cmd:setpriv
  kp_before
  # The blocked point: a copy of the rootfs whose /bin/sh, PID 1 of step 1's namespace, says it
  # runs and then opens a fifo inside the copy that nobody ever writes to.
  copy="$BATS_TEST_TMPDIR/rootfs"
  cp -a "$ROOTFS" "$copy"
  mkfifo "$copy/gate"
  rm "$copy/bin/sh"
  printf '%s\n' '#!/bin/busybox sh' 'echo "$$" >/blocked' 'read -r _ </gate' >"$copy/bin/sh"
  chmod +x "$copy/bin/sh"
  LAB_ROOTFS="$copy" "$LESSONS/02-pid/demo.sh" >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
  PID=$!
  kp_wait_for "step 1's PID 1 to run" test -s "$copy/blocked"
  [[ $(<"$copy/blocked") == 1 ]]
  # unshare and its child, PID 1 of the new namespace
  mapfile -t inner < <(kp_descendants "$PID")
  [[ ${#inner[@]} -ge 2 ]]
  kp_kill "$PID"
  PID=""
  kp_processes_gone "${inner[@]}"
  kp_after
  assert_nothing_left
  run grep -c "$copy/proc" /proc/self/mountinfo
  assert_output 0
  run "$LESSONS/02-pid/demo.sh"
  assert_success
  assert_line --index -1 --partial 'verdict: HELD'
}
