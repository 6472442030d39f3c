#!/usr/bin/env bats
# Lesson 05 as a user runs it: A{a,x} and B{b,x} union-mounted on C give a, b and one x; changes
# go to upper (copy-up, whiteout, new file); four layers make one rootfs; nothing is left behind.
load helpers
load kill-points

setup() {
  OVERLAY="$LESSONS/05-aufs-overlay/overlay"
  PID=""
}

# A lesson started in the background by a test that failed half-way is ended here (SIGTERM makes
# it clean up), so that it cannot hold bats open.
teardown() {
  if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID"
    wait "$PID" || true
  fi
  # the demo SIGKILL test's own blocking stat, if that test failed before ending it
  if [[ -s $BATS_TEST_TMPDIR/blocked ]]; then
    read -r stat_pid _ <"$BATS_TEST_TMPDIR/blocked"
    kill -KILL "$stat_pid" 2>/dev/null || true
  fi
}

# The lesson's work dirs in /tmp, one a line (to compare before and after a run).
lab_dirs() {
  find /tmp -maxdepth 1 -name 'lab-overlay-*' | sort
}

# Overlay mounts in this (the host's) mount namespace.
overlay_mounts() {
  awk '{ for (i = 7; $i != "-"; i++); if ($(i + 1) == "overlay") print $5 }' /proc/self/mountinfo
}

@test "overlay: C holds exactly a, b, x, and x is A's" {
  requires root rootfs overlay
  run "$OVERLAY" --json
  assert_success
  assert_equal "$(jq -c .c_listing <<<"$output")" '["a","b","x"]'
  assert_equal "$(jq -r .x_content <<<"$output")" "x from A"
  assert_equal "$(jq -r .options <<<"$output")" "lowerdir=A:B,upperdir=upper,workdir=work"
  assert_equal "$(jq -r .held <<<"$output")" "true"
}

@test "overlay: writing b through C copies it up and leaves B/b unchanged" {
  requires root rootfs overlay
  run "$OVERLAY" --json
  assert_success
  assert_equal "$(jq -r .b_in_upper_before_write <<<"$output")" "false"
  assert_equal "$(jq -r .b_upper_content <<<"$output")" "b changed through C"
  assert_equal "$(jq -r .b_via_c <<<"$output")" "b changed through C"
  assert_equal "$(jq -r .b_lower_content <<<"$output")" "b from B"
}

@test "overlay: deleting a leaves a 0/0 whiteout in upper and a in A; a new file lands in upper" {
  requires root rootfs overlay
  run "$OVERLAY" --json
  assert_success
  assert_equal "$(jq -r .a_whiteout <<<"$output")" "true"
  assert_equal "$(jq -r .a_whiteout_rdev <<<"$output")" "0/0"
  assert_equal "$(jq -r .a_still_in_lower <<<"$output")" "true"
  assert_equal "$(jq -c .c_listing_after_delete <<<"$output")" '["b","x"]'
  assert_equal "$(jq -r .new_in_upper <<<"$output")" "true"
  assert_equal "$(jq -r .new_in_lowers <<<"$output")" "false"
  assert_equal "$(jq -c .upper_listing <<<"$output")" '["a","b","new"]'
}

@test "overlay: the kept layers on disk show the copy-up, the whiteout and untouched lowers" {
  requires root rootfs overlay
  run "$OVERLAY" --keep --json
  assert_success
  work=$(jq -r .work_dir <<<"$output")
  [[ $work == /tmp/lab-overlay-* && -d $work ]]
  # the mounts went with the namespace; the directories stay
  run overlay_mounts
  refute_output --partial "$work"
  assert_equal "$(stat -c '%F %t:%T' "$work/upper/a")" "character special file 0:0"
  assert_equal "$(cat "$work/upper/b")" "b changed through C"
  assert_equal "$(cat "$work/B/b")" "b from B"
  assert_equal "$(cat "$work/A/x")" "x from A"
  assert_equal "$(cat "$work/upper/new")" "new"
  assert_equal "$(ls "$work/A")" $'a\nx'
  assert_equal "$(ls -A "$work/C")" ""
  assert_equal "$(cat "$work/layers/rw/diff/etc/hostname")" "lab-web"
  assert_equal "$(cat "$work/layers/init/etc/hostname")" "lab-container"
  [[ -x $work/layers/app/app/hello.sh ]]
  rm -rf "$work"
}

@test "overlay: the Docker picture: lowerdir chain from mountinfo, changes only in the rw layer" {
  requires root rootfs overlay
  run "$OVERLAY" --json
  assert_success
  assert_equal "$(jq -c .lowerdir_chain <<<"$output")" "[\"layers/init\",\"layers/app\",\"$ROOTFS\"]"
  assert_equal "$(jq -r .upperdir <<<"$output")" "layers/rw/diff"
  assert_equal "$(jq -r .rootfs_hostname <<<"$output")" "lab-container"
  assert_equal "$(jq -r .rootfs_has_busybox <<<"$output")" "true"
  assert_equal "$(jq -r .rootfs_has_app <<<"$output")" "true"
  assert_equal "$(jq -c .rw_layer <<<"$output")" '["app","etc","etc/hostname"]'
  assert_equal "$(jq -r .opaque_xattr <<<"$output")" "y"
  assert_equal "$(jq -c .rootfs_app_listing <<<"$output")" '[]'
  assert_equal "$(jq -c .app_layer_listing <<<"$output")" '["hello.sh"]'
  assert_equal "$(jq -r .init_hostname_after <<<"$output")" "lab-container"
  assert_equal "$(jq -r .rootfs_hostname_after <<<"$output")" "lab-web"
  refute [ "$(jq -r .base_hostname_after <<<"$output")" = lab-web ]
  assert_equal "$(jq -r .base_has_app <<<"$output")" "false"
  # the base image layer (the busybox rootfs itself) was never written to
  refute [ "$(cat "$ROOTFS/etc/hostname")" = lab-web ]
  [[ ! -e $ROOTFS/app ]]
}

@test "overlay: no overlay mount, no work dir and nothing else is left after a run" {
  requires root rootfs overlay
  before_dirs=$(lab_dirs)
  host_state >"$BATS_TEST_TMPDIR/before"
  run "$OVERLAY" --quiet
  assert_success
  host_state >"$BATS_TEST_TMPDIR/after"
  run "$PROJECT_DIR/tests/leakcheck.sh" compare "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
  assert_success
  assert_equal "$(lab_dirs)" "$before_dirs"
  run overlay_mounts
  refute_output --partial "lab-overlay-"
}

@test "overlay: narration numbers ten steps and ends with a verdict that held" {
  requires root rootfs overlay
  run "$OVERLAY"
  assert_success
  assert_line --regexp '^\[1/10\] unshare\(CLONE_NEWNS\)'
  assert_line --regexp '^\[3/10\] mount\("overlay", "C", "overlay", 0, "lowerdir=A:B,upperdir=upper,workdir=work"\) +~ mount -t overlay '
  assert_line --regexp '^      C holds a b x: one x, and it says "x from A"'
  assert_line --regexp '^      upper/a is a whiteout: a character device 0/0; A/a is still there'
  assert_line --regexp '^      lowerdir 1: layers/init '
  assert_line --regexp '^\[10/10\] '
  assert_line --index -1 --regexp '^verdict: HELD - '
}

@test "overlay: --quiet prints only the verdict; no colour without a terminal" {
  requires root rootfs overlay
  run "$OVERLAY" --quiet
  assert_success
  assert_equal "${#lines[@]}" 1
  assert_output --regexp '^verdict: HELD - '
  refute_output --partial $'\033['
}

@test "overlay: --dir works in a new directory and leaves the layers there" {
  requires root rootfs overlay
  dir="$BATS_TEST_TMPDIR/lab-work"
  run "$OVERLAY" --dir "$dir" --json
  assert_success
  assert_equal "$(jq -r .work_dir <<<"$output")" "$dir"
  assert_equal "$(jq -r .kept <<<"$output")" "true"
  assert_equal "$(stat -c '%F %t:%T' "$dir/upper/a")" "character special file 0:0"
  run overlay_mounts
  refute_output --partial "$dir"
  # an empty existing directory is fine too
  mkdir "$BATS_TEST_TMPDIR/empty"
  run "$OVERLAY" --dir "$BATS_TEST_TMPDIR/empty" --quiet
  assert_success
  [[ -d $BATS_TEST_TMPDIR/empty/upper ]]
}

@test "overlay: --dir with a trailing slash, or reached through a symlink, works too" {
  requires root rootfs overlay
  # a new directory given as "new/": its parent is the test dir, not "new" itself
  dir="$BATS_TEST_TMPDIR/new"
  run "$OVERLAY" --dir "$dir/" --json
  assert_success
  assert_equal "$(jq -r .work_dir <<<"$output")" "$(realpath "$dir")"
  assert_equal "$(jq -r .held <<<"$output")" "true"
  assert_equal "$(stat -c '%F %t:%T' "$dir/upper/a")" "character special file 0:0"
  # an empty existing directory given as "empty/"
  mkdir "$BATS_TEST_TMPDIR/empty"
  run "$OVERLAY" --dir "$BATS_TEST_TMPDIR/empty/" --quiet
  assert_success
  [[ -d $BATS_TEST_TMPDIR/empty/upper ]]
  # a path through a symlink: the mounts are found in mountinfo under the real path
  mkdir "$BATS_TEST_TMPDIR/real"
  ln -s "$BATS_TEST_TMPDIR/real" "$BATS_TEST_TMPDIR/link"
  run "$OVERLAY" --dir "$BATS_TEST_TMPDIR/link/work" --json
  assert_success
  assert_equal "$(jq -r .work_dir <<<"$output")" "$(realpath "$BATS_TEST_TMPDIR/real/work")"
  assert_equal "$(jq -r .held <<<"$output")" "true"
  [[ -d $BATS_TEST_TMPDIR/real/work/layers/rw/diff ]]
  run overlay_mounts
  refute_output --partial "$BATS_TEST_TMPDIR"
}

@test "overlay: --shell runs a shell in the work dir with C mounted there only" {
  requires root rootfs overlay
  before_dirs=$(lab_dirs)
  run bash -c "printf 'echo \"marker-\$(cat C/x)-\$(stat -c %%t:%%T upper/a)\"\n' | '$OVERLAY' --shell"
  assert_success
  # only the shell inside, with C and upper mounted, can print this line
  assert_output --partial "marker-x from A-0:0"
  assert_line --index -1 --regexp '^verdict: HELD - '
  assert_equal "$(lab_dirs)" "$before_dirs"
}

# Starts ./overlay --shell in the background with its stdin on a fifo held open on fd 8 (bats owns fd 3), and
# waits until the shell inside runs. Sets PID (the lesson) and WORK (its work dir).
start_shell() {
  mkfifo "$BATS_TEST_TMPDIR/in"
  exec 8<>"$BATS_TEST_TMPDIR/in"
  "$OVERLAY" --shell <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
  PID=$!
  echo 'echo shell-ready' >&8
  kp_wait_for "the shell inside ./overlay --shell" grep -q '^shell-ready' "$BATS_TEST_TMPDIR/out"
  WORK=$(sed -n 's/^      in \(\/tmp\/lab-overlay-[^:]*\): .*/\1/p' "$BATS_TEST_TMPDIR/out")
  [[ -d $WORK/C ]]
}

@test "overlay: Ctrl-C during --shell goes to the shell; leaving it removes everything" {
  requires root rootfs overlay
  before_dirs=$(lab_dirs)
  start_shell
  # while the shell runs, C is mounted in the lesson's namespace only, not on the host
  run overlay_mounts
  refute_output --partial "$WORK"
  # Ctrl-C: the terminal sends SIGINT to the lesson and the shell; both carry on
  read -ra shell_pids <"/proc/$PID/task/$PID/children" || true  # no final newline there
  kill -INT "$PID" "${shell_pids[@]}"
  sleep 0.5  # let the shell handle it before it reads more (bash drops a half-read line on SIGINT)
  # shellcheck disable=SC2016  # expanded by the shell inside
  echo 'echo still-here-$(cat C/x | tr " " -)' >&8
  echo 'exit' >&8
  wait "$PID"
  exec 8>&-
  run cat "$BATS_TEST_TMPDIR/out"
  assert_output --partial "still-here-x-from-A"
  assert_line --index -1 --regexp '^verdict: HELD - '
  [[ ! -e $WORK ]]
  assert_equal "$(lab_dirs)" "$before_dirs"
}

@test "overlay: SIGTERM during --shell ends the shell and removes everything" {
  requires root rootfs overlay
  before_dirs=$(lab_dirs)
  start_shell
  read -r shell_pid <"/proc/$PID/task/$PID/children" || true
  kill -TERM "$PID"
  status=0
  wait "$PID" || status=$?
  exec 8>&-
  assert_equal "$status" 130
  [[ ! -e /proc/$shell_pid ]]
  [[ ! -e $WORK ]]
  assert_equal "$(lab_dirs)" "$before_dirs"
  run cat "$BATS_TEST_TMPDIR/out"
  assert_output --partial "overlay: interrupted; everything created so far was removed"
}

@test "overlay: SIGKILL during --shell: the shell dies with it, doctor --clean removes its work dir, nothing else is left, the next run holds" {
  requires root rootfs overlay
  kp_before
  start_shell  # blocked: the shell inside reads its stdin, a fifo this test holds open
  mapfile -t inside < <(kp_descendants "$PID")
  [[ ${#inside[@]} -ge 1 ]]
  kp_kill "$PID"
  PID=""
  exec 8>&-
  # the shell had PR_SET_PDEATHSIG(SIGKILL); with it goes the lesson's mount namespace and C
  kp_processes_gone "${inside[@]}"
  # what the kernel cannot remove is a /tmp/lab-* dir, which doctor lists and --clean removes
  [[ -d $WORK/C ]]
  run "$PROJECT_DIR/doctor/doctor"
  assert_line "      - dir $WORK: temporary directory of a lesson"
  kp_after
  [[ $KP_CLEANED == *"removed dir $WORK (temporary directory of a lesson)"* ]]
  [[ ! -e $WORK ]]
  run "$OVERLAY" --quiet
  assert_success
  assert_output --regexp '^verdict: HELD - '
}

@test "overlay demo.sh: SIGKILL while its inner run is blocked: the inner run dies with it, doctor --clean removes the work dir, the next run holds" {
  requires root rootfs overlay cmd:setpriv
  kp_before
  # The blocked point: a stat on PATH that says where it is and waits on a fifo this test holds
  # open. demo.sh calls stat once, in step 5, inside its private mount namespace with C mounted.
  # That stat is the test's instrument: the test ends it itself once the rest is checked.
  mkdir "$BATS_TEST_TMPDIR/bin"
  mkfifo "$BATS_TEST_TMPDIR/gate"
  exec 8<>"$BATS_TEST_TMPDIR/gate"
  cat >"$BATS_TEST_TMPDIR/bin/stat" <<EOF
#!/bin/sh
echo "\$\$ \$PWD" >"$BATS_TEST_TMPDIR/blocked"
read -r _ <"$BATS_TEST_TMPDIR/gate"
exec $(command -v stat) "\$@"
EOF
  chmod +x "$BATS_TEST_TMPDIR/bin/stat"
  (cd "$LESSONS/05-aufs-overlay" && PATH="$BATS_TEST_TMPDIR/bin:$PATH" exec ./demo.sh) \
    >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- 8>&- &
  PID=$!
  kp_wait_for "demo.sh to reach its stat in step 5" test -s "$BATS_TEST_TMPDIR/blocked"
  read -r stat_pid work <"$BATS_TEST_TMPDIR/blocked"  # demo.sh works in its work dir
  [[ $work == /tmp/lab-overlay-demo-* ]]
  # the inner run: unshare and the script inside it (not the test's own stat, ended below)
  mapfile -t inner < <(kp_descendants "$PID" | grep -vx "$stat_pid")
  [[ ${#inner[@]} -ge 1 ]]
  kp_kill "$PID"
  PID=""
  kp_processes_gone "${inner[@]}"
  kp_kill "$stat_pid"
  exec 8>&-
  [[ -d $work/C ]]
  kp_after
  [[ $KP_CLEANED == *"removed dir $work (temporary directory of a lesson)"* ]]
  [[ ! -e $work ]]
  run "$LESSONS/05-aufs-overlay/demo.sh"
  assert_success
  assert_line --index -1 --regexp '^verdict: HELD - '
}

@test "overlay: a --dir that is not empty is refused in one line, before anything is made" {
  mkdir -p "$BATS_TEST_TMPDIR/full"
  touch "$BATS_TEST_TMPDIR/full/file"
  run "$OVERLAY" --dir "$BATS_TEST_TMPDIR/full"
  assert_failure 2
  assert_equal "${#lines[@]}" 1
  assert_output --partial "is not empty; give an empty or a new directory"
  assert_equal "$(ls "$BATS_TEST_TMPDIR/full")" "file"
}

@test "overlay: a --dir that is a file, or whose parent is missing, is refused in one line" {
  touch "$BATS_TEST_TMPDIR/file"
  run "$OVERLAY" --dir "$BATS_TEST_TMPDIR/file"
  assert_failure 2
  assert_equal "${#lines[@]}" 1
  assert_output --partial "exists and is not a directory"
  run "$OVERLAY" --dir "$BATS_TEST_TMPDIR/missing/work"
  assert_failure 2
  assert_equal "${#lines[@]}" 1
  assert_output --partial "cannot be made"
  [[ ! -e $BATS_TEST_TMPDIR/missing ]]
}

@test "overlay: an unknown option is refused in one line" {
  run "$OVERLAY" --kepp
  assert_failure 2
  assert_equal "${#lines[@]}" 1
  assert_output --partial "see overlay --help"
}

@test "overlay: without root it says so in one line and creates nothing" {
  before_dirs=$(lab_dirs)
  run_as_nobody "$OVERLAY"
  assert_failure 1
  assert_equal "${#lines[@]}" 1
  assert_output --partial "needs root"
  assert_output --partial "sudo ./overlay"
  assert_equal "$(lab_dirs)" "$before_dirs"
}

@test "overlay: --help explains every option" {
  run "$OVERLAY" --help
  assert_success
  for opt in --dir --keep --shell --json --quiet; do
    assert_output --partial -- "$opt"
  done
}

@test "overlay demo.sh: the notes' experiment with mount -t overlay holds and leaves nothing" {
  requires root overlay cmd:unshare
  before_dirs=$(lab_dirs)
  run "$LESSONS/05-aufs-overlay/demo.sh"
  assert_success
  assert_line --regexp '^      C: a b x   C/x: x from A$'
  assert_line --partial 'upper/a: character special file 0:0'
  assert_line --index -1 --partial 'verdict: HELD'
  assert_equal "$(lab_dirs)" "$before_dirs"
  run overlay_mounts
  refute_output --partial "lab-overlay-demo"
}

@test "overlay demo.sh: without root it says so and does nothing" {
  run_as_nobody "$LESSONS/05-aufs-overlay/demo.sh"
  assert_failure 1
  assert_output --partial "needs root"
}

@test "overlay: README transcripts match the real output (English and Chinese)" {
  requires root rootfs overlay
  check_transcript "$LESSONS/05-aufs-overlay/README.md" "$LESSONS/05-aufs-overlay/README.zh.md"
}
