#!/usr/bin/env bats
# Lesson 03 as a user runs it: a home-made rootfs, a volume the host never sees mounted, chroot
# versus pivot_root, and nothing left behind on any path.
# Each test runs in its own subshell: PID, set by one test and cleared once it is reaped, is meant
# to be local to it.
# shellcheck disable=SC2030,SC2031
load helpers
load kill-points

setup() {
  BIN="$LESSONS/03-mount-chroot/mount-chroot"
  DEMO="$LESSONS/03-mount-chroot/demo.sh"
}

# The lesson's own temporary directories that exist right now.
lab_dirs() {
  find /tmp -maxdepth 1 \( -name 'lab-rootfs-*' -o -name 'lab-volume-*' -o -name 'lab-demo-*' \) -print | sort
}

# A fresh directory /tmp/lab-test-* for a tmpfs that only a private mount namespace of the test
# sees (removed by teardown; `doctor --clean` would find it by its name).
make_lab_test_dir() {
  LAB_TEST_DIR=$(mktemp -d /tmp/lab-test-XXXXXX)
}

teardown() {
  # a test that failed before its own kill: end what it started in the background
  if [[ -n ${PID:-} ]]; then
    kill -KILL "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  if [[ -n ${LAB_TEST_DIR:-} ]]; then
    rm -rf "$LAB_TEST_DIR"
  fi
}

# Runs `sh -c SCRIPT sh ARGS...` in a new private mount namespace (util-linux makes its mounts
# private), after mounting a tmpfs with OPTIONS on $LAB_TEST_DIR there: $1 inside SCRIPT is that
# tmpfs. Nothing of it is visible outside, and it all goes when the sh ends.
#   in_private_tmpfs OPTIONS SCRIPT ARGS...
in_private_tmpfs() {
  local options=$1 script=$2
  shift 2
  # shellcheck disable=SC2016  # expanded by the sh in the namespace
  run timeout 120 unshare -m sh -c \
    'mount -t tmpfs -o "$1" lab-test "$2" || exit 99; dir=$2 script=$3; shift 3; set -- "$dir" "$@"; eval "$script"' \
    sh "$options" "$LAB_TEST_DIR" "$script" "$@"
}

# Fails if a mount under $1 is in the host's mount table.
refute_mounted_under() {
  run grep -F " $1" /proc/self/mountinfo
  assert_failure
}

@test "mount-chroot: ls / inside shows only the rootfs; the volume is mounted in the child only" {
  requires root
  vol="$BATS_TEST_TMPDIR/vol"
  mkdir "$vol"
  run "$BIN" --volume "$vol" --json
  assert_success
  json=$output
  assert_equal "$(jq -r .held <<<"$json")" true
  assert_equal "$(jq -r .root_switch <<<"$json")" pivot_root
  assert_equal "$(jq -c .inside_ls <<<"$json")" '["bin","data","lib","lib64"]'
  assert_equal "$(jq -c .inside_ls <<<"$json")" "$(jq -c .rootfs_entries <<<"$json")"
  # while the child ran: it had /data, the host had nothing under the rootfs
  assert_equal "$(jq -r .child_sees_volume <<<"$json")" true
  # step 3's claim, read back from /proc/CHILD/mountinfo: every mount the child has is private
  assert_equal "$(jq -r .child_mounts_private <<<"$json")" true
  assert_equal "$(jq -c .child_mounts <<<"$json")" '["/","/data"]'
  assert_equal "$(jq -c .host_mounts_under_rootfs <<<"$json")" '[]'
  assert_equal "$(jq -c .host_data_dir_entries <<<"$json")" '[]'
  [[ $(jq -r .ns_inside <<<"$json") != "$(jq -r .ns_outside <<<"$json")" ]]
  # the file written inside /data is in the host directory, for real
  assert_equal "$(cat "$vol/lab-from-inside.txt")" "written inside the container"
  rootfs=$(jq -r .rootfs <<<"$json")
  [[ $rootfs == /tmp/lab-rootfs-* ]]
  [[ ! -e $rootfs ]]
  refute_mounted_under "$rootfs"
  refute_mounted_under "$vol"
}

@test "mount-chroot: --root-switch chroot holds too, and the default volume is removed" {
  requires root
  run "$BIN" --root-switch chroot --json
  assert_success
  assert_equal "$(jq -r .root_switch <<<"$output")" chroot
  assert_equal "$(jq -r .held <<<"$output")" true
  assert_equal "$(jq -c .inside_ls <<<"$output")" '["bin","data","lib","lib64"]'
  assert_equal "$(jq -c .child_mounts <<<"$output")" '["/data"]'
  assert_equal "$(jq -r .child_mounts_private <<<"$output")" true
  volume=$(jq -r .volume <<<"$output")
  rootfs=$(jq -r .rootfs <<<"$output")
  [[ $volume == /tmp/lab-volume-* && ! -e $volume && ! -e $rootfs ]]
  refute_mounted_under "$rootfs"
}

@test "mount-chroot: the libraries found from the ELF headers are exactly what ldd prints" {
  requires root cmd:ldd
  run "$BIN" --json
  assert_success
  mine=$(jq -r '.libraries[]' <<<"$output" | sort -u)
  theirs=$(ldd /bin/bash /bin/ls | grep -v ':$' | grep -Eo '/[^ ]+' | sort -u)
  assert_equal "$mine" "$theirs"
}

@test "mount-chroot: --rootfs-dir keeps a rootfs that chroot can use on its own" {
  requires root cmd:chroot
  dir="$BATS_TEST_TMPDIR/rootfs"
  mkdir "$dir"
  run "$BIN" --rootfs-dir "$dir" --quiet
  assert_success
  [[ -x $dir/bin/bash && -x $dir/bin/ls && -e $dir/lib64/ld-linux-x86-64.so.2 ]]
  # the notes' own command on the kept rootfs: only the copied bash and ls, and they run
  # shellcheck disable=SC2016  # expanded by the bash inside
  run chroot "$dir" /bin/bash -c 'ls /; echo "inside-$BASH_VERSINFO"'
  assert_success
  assert_line --index 0 bin
  assert_line --regexp '^inside-[0-9]+$'
  refute_mounted_under "$dir"
}

@test "mount-chroot --escape: chroot is escaped, pivot_root is not" {
  requires root
  before=$(lab_dirs)
  run "$BIN" --escape --json
  assert_success
  assert_equal "$(jq -r .chroot_escaped <<<"$output")" true
  assert_equal "$(jq -r .pivot_root_escaped <<<"$output")" false
  assert_equal "$(jq -r .held <<<"$output")" true
  assert_equal "$(jq -r .host_marker <<<"$output")" "$BIN"
  # after the escape the child's / was the host's: it has the project's /work-like top dirs
  jq -e --arg top "$(cut -d/ -f2 <<<"$BIN")" 'any(.chroot_root_after[]; . == $top)' <<<"$output"
  assert_equal "$(jq -c .pivot_root_root_after <<<"$output")" '["bin","data","lab-escape","lib","lib64"]'
  # "stayed inside" is not only the marker's absence: after pivot_root, / was the rootfs itself
  assert_equal "$(jq -r .pivot_root_root_is_rootfs <<<"$output")" true
  assert_equal "$(lab_dirs)" "$before"
}

@test "mount-chroot --escape: the verdict states both outcomes" {
  requires root
  run "$BIN" --escape
  assert_success
  assert_line --regexp '^\[3/5\] mkdir\("lab-escape"\), chroot\("lab-escape"\)'
  assert_line --partial 'found - the child is out, on the host'
  assert_line --partial 'not found - the child is still in the rootfs'
  assert_line --index -1 --regexp '^verdict: HELD - chroot was escaped: .*after pivot_root with the old root detached the same trick stayed inside the rootfs$'
}

@test "mount-chroot: narration numbers eight steps and ends with a verdict that held" {
  requires root
  run "$BIN"
  assert_success
  assert_line --index 0 --regexp '^\[1/8\] build_minimal_rootfs\("/tmp/lab-rootfs-'
  assert_line --regexp '^\[2/8\] clone\(CLONE_NEWNS\|SIGCHLD\) +~ unshare -m$'
  assert_line --regexp '^\[3/8\] mount\(NULL, "/", NULL, MS_REC\|MS_PRIVATE, NULL\)'
  # the shell equivalent of step 7 reads the child's mountinfo without entering its rootfs
  assert_line --regexp '^\[7/8\] .* ~ findmnt; findmnt -N [0-9]+$'
  assert_line '      child: mounts at / /data (/data is the volume), every one private'
  assert_line --regexp '^\[5/8\] pivot_root\("\.", "\."\)'
  assert_line '      ls / inside: bin data lib lib64'
  assert_line --index -1 --regexp '^verdict: HELD - '
}

@test "mount-chroot: --quiet prints only the verdict; no colour without a terminal" {
  requires root
  run "$BIN" --quiet
  assert_success
  assert_equal "${#lines[@]}" 1
  assert_output --regexp '^verdict: HELD - '
  refute_output --partial $'\033['
}

@test "mount-chroot --shell: the copied bash runs inside and writes into the volume" {
  requires root
  vol="$BATS_TEST_TMPDIR/vol"
  mkdir "$vol"
  run bash -c "printf 'ls /\necho marker-\$((6*7)) > /data/from-shell\n' | '$BIN' --shell --quiet --volume '$vol'"
  assert_success
  # only the shell inside the rootfs could have put this into the volume
  assert_equal "$(cat "$vol/from-shell")" "marker-42"
  assert_line bin
  assert_line lib64
  refute_line etc
}

# Starts ./mount-chroot --shell in the background with its stdin on a fifo held open on fd 5 (bats
# owns fd 3), and waits until the bash inside runs. Sets PID (the lesson), OUT, ROOTFS and VOLUME.
start_shell() {
  mkfifo "$BATS_TEST_TMPDIR/stdin"
  OUT="$BATS_TEST_TMPDIR/out"
  exec 5<>"$BATS_TEST_TMPDIR/stdin"
  "$BIN" --shell <"$BATS_TEST_TMPDIR/stdin" >"$OUT" 2>&1 3>&- &
  PID=$!
  # shellcheck disable=SC2016  # computed by the shell inside
  echo 'echo ready-$((6*7))' >&5
  kp_wait_for "the bash inside ./mount-chroot --shell" grep -q '^ready-42' "$OUT"
  ROOTFS=$(grep -o '/tmp/lab-rootfs-[A-Za-z0-9]*' "$OUT" | head -1)
  VOLUME=$(grep -o '/tmp/lab-volume-[A-Za-z0-9]*' "$OUT" | head -1)
  [[ -d $ROOTFS && -d $VOLUME ]]
}

@test "mount-chroot: Ctrl-C during --shell goes to the shell; leaving it removes everything" {
  requires root
  start_shell
  # Ctrl-C: the terminal sends SIGINT to the lesson and the shell; both carry on
  read -ra shell_pids <"/proc/$PID/task/$PID/children" || true  # no final newline there
  kill -INT "$PID" "${shell_pids[@]}"
  sleep 0.5  # let the shell handle it before it reads more (bash drops a half-read line on SIGINT)
  # shellcheck disable=SC2016  # computed by the shell inside
  echo 'echo still-here-$((6*7))' >&5
  echo 'exit' >&5
  status=0
  wait "$PID" || status=$?
  PID=""
  exec 5>&-
  assert_equal "$status" 0
  run cat "$OUT"
  assert_line "still-here-42"
  assert_line --index -1 --regexp '^verdict: HELD - '
  [[ ! -e $ROOTFS && ! -e $VOLUME ]]
  refute_mounted_under "$ROOTFS"
}

@test "mount-chroot: SIGTERM while the shell inside waits ends it and removes everything" {
  requires root
  start_shell
  read -r shell_pid <"/proc/$PID/task/$PID/children" || true
  kill -TERM "$PID"
  status=0
  wait "$PID" || status=$?
  PID=""
  exec 5>&-
  assert_equal "$status" 130
  run tail -1 "$OUT"
  assert_output "mount-chroot: interrupted; everything created so far was removed"
  [[ ! -e $ROOTFS && ! -e $VOLUME ]]
  refute_mounted_under "$ROOTFS"
  [[ ! -e /proc/$shell_pid ]]
}

@test "mount-chroot: a bad --root-switch is refused in one line, before anything is made" {
  before=$(lab_dirs)
  run "$BIN" --root-switch pivot
  assert_failure 2
  assert_equal "${#lines[@]}" 1
  assert_output --partial "--root-switch: pivot not in {pivot_root,chroot}"
  assert_equal "$(lab_dirs)" "$before"
}

@test "mount-chroot: a --volume or --rootfs-dir that does not exist is refused in one line" {
  before=$(lab_dirs)
  run "$BIN" --volume /nonexistent/lab-vol
  assert_failure 2
  assert_equal "${#lines[@]}" 1
  assert_output --partial "--volume: Directory does not exist: /nonexistent/lab-vol"
  run "$BIN" --rootfs-dir /nonexistent/lab-rootfs
  assert_failure 2
  assert_equal "${#lines[@]}" 1
  assert_output --partial "--rootfs-dir: /nonexistent/lab-rootfs is not an existing directory"
  assert_equal "$(lab_dirs)" "$before"
}

@test "mount-chroot: a --rootfs-dir with files in it is refused; nothing is copied over them" {
  dir="$BATS_TEST_TMPDIR/full"
  mkdir -p "$dir/bin"
  echo mine >"$dir/bin/bash"
  run "$BIN" --rootfs-dir "$dir"
  assert_failure 2
  assert_equal "${#lines[@]}" 1
  assert_output --partial "is not empty"
  assert_equal "$(cat "$dir/bin/bash")" mine
}

@test "mount-chroot: --escape and --shell together are refused" {
  run "$BIN" --escape --shell
  assert_failure 2
  assert_equal "${#lines[@]}" 1
  assert_output --partial "see mount-chroot --help"
}

@test "mount-chroot: without root it says so in one line and exits non-zero" {
  before=$(lab_dirs)
  run_as_nobody "$BIN"
  assert_failure 1
  assert_equal "${#lines[@]}" 1
  assert_output --partial "needs root"
  # how to run it as root (common/host.cpp words the advice for every lesson)
  assert_output --partial "./mount-chroot"
  assert_equal "$(lab_dirs)" "$before"
}

@test "mount-chroot: --help explains every option" {
  run "$BIN" --help
  assert_success
  for opt in --root-switch --volume --rootfs-dir --escape --shell --json --quiet; do
    assert_output --partial -- "$opt"
  done
}

@test "mount-chroot demo.sh: the notes' cp + ldd + chroot, and a bind mount inside unshare -m" {
  requires root cmd:unshare cmd:chroot cmd:ldd
  before=$(lab_dirs)
  run "$DEMO"
  assert_success
  assert_line '      ls / inside: bin data lib lib64'
  # shellcheck disable=SC2016  # a literal $T in the demo's output
  assert_line --regexp '^      host mounts at \$T/data: 0   file in the volume: "written inside the container"$'
  assert_line --index -1 --partial 'verdict: HELD'
  assert_equal "$(lab_dirs)" "$before"
  run pgrep -f 'lab-demo-volume'
  assert_failure
}

@test "mount-chroot demo.sh: refuses arguments and runs nothing" {
  run "$DEMO" extra
  assert_failure
  assert_equal "${#lines[@]}" 1
}

@test "mount-chroot: README transcripts match the real output (English and Chinese)" {
  requires root
  check_transcript "$LESSONS/03-mount-chroot/README.md" "$LESSONS/03-mount-chroot/README.zh.md"
}

@test "mount-chroot README: the --escape host listing matches any real root, a clean one too" {
  requires root
  # The transcript checker itself, on a README whose command prints the listing of a clean root:
  # a debootstrap --variant=minbase root (no dotfile before bin), an Alpine-like root without
  # /boot, and a root with a dotfile first (this machine's kind).
  local readme listing
  for readme in README.md README.zh.md; do
    line=$(grep -E '^ +/ now holds: ' "$LESSONS/03-mount-chroot/$readme" | grep -v '(the rootfs)$')
    [[ -n $line ]]
    for listing in "bin boot dev etc home lib lib64 media mnt opt proc root run sbin srv sys tmp usr var" \
      "bin dev etc home lib media mnt opt proc root run sbin srv sys tmp usr var" \
      ".dockerenv bin boot dev etc home lib lib32 lib64 libx32 media mnt opt proc root run sbin srv sys tmp usr var work"; do
      dir="$BATS_TEST_TMPDIR/fake-$RANDOM"
      mkdir "$dir"
      printf '      / now holds: %s\n' "$listing" >"$dir/listing"
      # shellcheck disable=SC2016  # a literal "$ " prompt
      printf '<!-- transcript -->\n```console\n$ cat listing\n%s\n```\n' "$line" >"$dir/README.md"
      run "$PROJECT_DIR/tests/transcript.sh" "$dir/README.md"
      assert_success
    done
    # ...and it still tells a host's / from the rootfs
    dir="$BATS_TEST_TMPDIR/fake-rootfs"
    mkdir -p "$dir"
    printf '      / now holds: bin data lab-escape lib lib64\n' >"$dir/listing"
    # shellcheck disable=SC2016  # a literal "$ " prompt
    printf '<!-- transcript -->\n```console\n$ cat listing\n%s\n```\n' "$line" >"$dir/README.md"
    run "$PROJECT_DIR/tests/transcript.sh" "$dir/README.md"
    assert_failure
    rm -rf "$dir"
  done
}

@test "mount-chroot README: Docker keeps CAP_SYS_CHROOT; pivot_root, not a dropped chroot, is what holds" {
  # Docker's default capability set (moby's oci/caps defaults) keeps CAP_SYS_CHROOT and drops
  # CAP_SYS_ADMIN. The lesson shows why that is safe: the pivot_root child of --escape still has
  # CAP_SYS_CHROOT (its chroot("lab-escape") succeeds: lab-escape is in its /) and stays inside.
  en=$(tr '\n' ' ' <"$LESSONS/03-mount-chroot/README.md")
  zh=$(tr -d '\n' <"$LESSONS/03-mount-chroot/README.zh.md")
  # shellcheck disable=SC2016  # backquotes are Markdown here
  local cap='`CAP_SYS_CHROOT`'
  [[ $en != *"drop $cap as well"* ]]
  [[ $en == *"keeps $cap"* ]]
  [[ $zh != *"去掉 $cap"* ]]
  [[ $zh == *"保留了$cap"* ]]
}

@test "mount-chroot README exercise 1: plain unshare -m does not leak a bind mount; --propagation unchanged does" {
  requires root cmd:unshare cmd:findmnt
  make_lab_test_dir
  for readme in README.md README.zh.md; do
    text=$(tr '\n' ' ' <"$LESSONS/03-mount-chroot/$readme" | sed 's/   */ /g')
    # the two commands of the exercise, run as the README shows them, with /tmp and /mnt moved
    # into a tmpfs made shared inside the test's own throwaway mount namespace (as systemd makes /)
    plain=$(grep -o "unshare -m sh -c 'mount --bind /tmp /mnt'" <<<"$text" | head -1)
    unchanged=$(grep -o "unshare -m --propagation unchanged sh -c 'mount --bind /tmp /mnt'" <<<"$text" | head -1)
    [[ -n $plain && -n $unchanged ]]
    plain=${plain//\/tmp \/mnt/$LAB_TEST_DIR/src $LAB_TEST_DIR/mnt}
    unchanged=${unchanged//\/tmp \/mnt/$LAB_TEST_DIR/src $LAB_TEST_DIR/mnt}
    # shellcheck disable=SC2016  # $1 is the tmpfs, inside the namespace
    in_private_tmpfs size=1m '
      mount --make-shared "$1" && mkdir "$1/src" "$1/mnt" && touch "$1/src/from-src" || exit 98
      echo "shared: $(findmnt -n -o PROPAGATION "$1")"
      eval "$2"
      if findmnt "$1/mnt" >/dev/null; then echo "plain: leaked"; else echo "plain: stayed inside"; fi
      eval "$3"
      if findmnt "$1/mnt" >/dev/null && [ -e "$1/mnt/from-src" ]; then echo "unchanged: leaked"; else echo "unchanged: stayed inside"; fi
    ' "$plain" "$unchanged"
    assert_success
    assert_line "shared: shared"
    assert_line "plain: stayed inside"
    assert_line "unchanged: leaked"
  done
  refute_mounted_under "$LAB_TEST_DIR"
}

@test "mount-chroot README: the readelf command of 'see for yourself' prints the interpreter" {
  requires cmd:readelf
  for readme in README.md README.zh.md; do
    cmd=$(grep -E '^\$ readelf -l /bin/bash ' "$LESSONS/03-mount-chroot/$readme" | sed -e 's/^\$ //' -e 's/ *#.*//')
    [[ -n $cmd ]]
    run bash -c "$cmd"
    assert_success
    assert_line --regexp '\[Requesting program interpreter: /lib64/ld-linux-x86-64\.so\.2\]$'
  done
}

@test "mount-chroot demo.sh: without CAP_SYS_ADMIN the failed unshare child ends the demo at once" {
  requires root cmd:setpriv cmd:capsh
  before=$(lab_dirs)
  # The demo used to wait forever on a fifo that the dead child never opened; timeout only
  # keeps that old failure from hanging the suite.
  run timeout 120 setpriv --bounding-set -sys_admin -- "$DEMO"
  assert_failure 1
  assert_line "unshare: unshare failed: Operation not permitted"
  assert_line "demo.sh: the child in unshare -m ended (exit 1) before it was ready; its error is above"
  assert_line --partial "lacks CAP_SYS_ADMIN"
  refute_line --partial "verdict:"
  run timeout 120 capsh --drop=cap_sys_admin -- -c "$DEMO"
  assert_failure 1
  assert_line --partial "ended (exit 1) before it was ready"
  assert_equal "$(lab_dirs)" "$before"
  run pgrep -f 'lab-demo-volume'
  assert_failure
}

@test "mount-chroot demo.sh: TMPDIR on a noexec mount: the child fails, the demo says noexec and stops" {
  requires root cmd:unshare cmd:chroot
  make_lab_test_dir
  before=$(lab_dirs)
  # shellcheck disable=SC2016  # expanded inside the namespace
  in_private_tmpfs noexec,size=64m 'TMPDIR="$1" "$2"; echo "exit=$?"; echo "left: $(ls -A "$1")"' "$DEMO"
  assert_success
  assert_line "exit=1"
  assert_line "left: "
  assert_line --regexp "^chroot: failed to run command .*/bin/bash.*: Permission denied$"
  assert_line "demo.sh: the child in unshare -m ended (exit 126) before it was ready; its error is above"
  assert_line --regexp "^demo\.sh: $LAB_TEST_DIR/lab-demo-rootfs-[A-Za-z0-9]+ is on a file system mounted noexec, .* TMPDIR=/var/tmp \./demo\.sh$"
  refute_line --partial "verdict:"
  assert_equal "$(lab_dirs)" "$before"
  refute_mounted_under "$LAB_TEST_DIR"
}

@test "mount-chroot: a noexec /tmp or TMPDIR is named, with the fix, before anything is made" {
  requires root cmd:unshare
  make_lab_test_dir
  before=$(lab_dirs)
  # TMPDIR on the noexec tmpfs; a --rootfs-dir on it; then the tmpfs on /tmp itself, no TMPDIR
  # shellcheck disable=SC2016  # expanded inside the namespace
  in_private_tmpfs noexec,size=64m '
    TMPDIR="$1" "$2"; echo "exit=$?"; echo "left: $(ls -A "$1")"
    mkdir "$1/r" && "$2" --rootfs-dir "$1/r"; echo "exit=$?"; echo "left: $(ls -A "$1/r")"; rmdir "$1/r"
    mount --bind "$1" /tmp || exit 97
    env -u TMPDIR "$2"; echo "exit=$?"; echo "left: $(ls -A /tmp)"' "$BIN"
  assert_success
  assert_equal "${#lines[@]}" 9
  assert_line --index 0 "mount-chroot: $LAB_TEST_DIR is on a file system mounted noexec (TMPDIR): the bash and ls copied into a rootfs there could not run (execve fails with EACCES); point TMPDIR at a directory that allows exec, e.g. TMPDIR=/var/tmp ./mount-chroot"
  assert_line --index 3 "mount-chroot: $LAB_TEST_DIR/r is on a file system mounted noexec (--rootfs-dir): the bash and ls copied into a rootfs there could not run (execve fails with EACCES); give a --rootfs-dir on a file system that allows exec"
  assert_line --index 6 "mount-chroot: /tmp is on a file system mounted noexec (TMPDIR): the bash and ls copied into a rootfs there could not run (execve fails with EACCES); point TMPDIR at a directory that allows exec, e.g. TMPDIR=/var/tmp ./mount-chroot"
  for i in 1 4 7; do assert_line --index "$i" "exit=1"; done
  for i in 2 5 8; do assert_line --index "$i" --regexp '^left: ?$'; done
  refute_output --partial "missing library"
  assert_equal "$(lab_dirs)" "$before"
}

@test "mount-chroot: a full /tmp or TMPDIR says no space left, not an I/O error, and leaves nothing" {
  requires root cmd:unshare
  make_lab_test_dir
  before=$(lab_dirs)
  # shellcheck disable=SC2016  # expanded inside the namespace
  in_private_tmpfs size=1m '
    TMPDIR="$1" "$2"; echo "exit=$?"; echo "left: $(ls -A "$1")"
    mount --bind "$1" /tmp || exit 97
    env -u TMPDIR "$2"; echo "exit=$?"; echo "left: $(ls -A /tmp)"' "$BIN"
  assert_success
  assert_equal "${#lines[@]}" 8
  assert_line --index 0 --regexp "^\[1/8\] build_minimal_rootfs\(\"$LAB_TEST_DIR/lab-rootfs-"
  assert_line --index 4 --regexp "^\[1/8\] build_minimal_rootfs\(\"/tmp/lab-rootfs-"
  assert_line --index 1 --regexp "^mount-chroot: no space left on $LAB_TEST_DIR \(TMPDIR\): ENOSPC while writing $LAB_TEST_DIR/lab-rootfs-[A-Za-z0-9]+/[^ ]+ \(the rootfs needs [0-9.]+ MiB in all\); free some space there, or point TMPDIR at a roomier directory, e.g. TMPDIR=/var/tmp \./mount-chroot$"
  assert_line --index 5 --regexp "^mount-chroot: no space left on /tmp \(TMPDIR\): ENOSPC while writing /tmp/lab-rootfs-[A-Za-z0-9]+/[^ ]+ \(the rootfs needs [0-9.]+ MiB in all\); free some space there, or point TMPDIR at a roomier directory, e.g. TMPDIR=/var/tmp \./mount-chroot$"
  refute_output --partial "Input/output error"
  for i in 2 6; do assert_line --index "$i" "exit=1"; done
  for i in 3 7; do assert_line --index "$i" --regexp '^left: ?$'; done
  assert_equal "$(lab_dirs)" "$before"
}

@test "mount-chroot: SIGKILL during --shell: the shell and its namespace die with it, doctor --clean removes the dirs, nothing else is left, the next run holds" {
  requires root
  kp_before
  start_shell  # blocked: the bash inside reads its stdin, a fifo this test holds open on fd 5
  mapfile -t inside < <(kp_descendants "$PID")
  [[ ${#inside[@]} -ge 1 ]]
  # the bash inside is in the lesson's own mount namespace, with the volume at /data
  [[ $(readlink "/proc/${inside[0]}/ns/mnt") != "$(readlink /proc/self/ns/mnt)" ]]
  grep -q ' /data ' "/proc/${inside[0]}/mountinfo"
  kp_kill "$PID"
  PID=""
  exec 5>&-
  # the bash had PR_SET_PDEATHSIG(SIGKILL); with it goes the namespace and the volume's mount
  kp_processes_gone "${inside[@]}"
  # what the kernel cannot remove: the two lab-named dirs, which doctor lists and --clean removes
  [[ -x $ROOTFS/bin/bash && -d $VOLUME ]]
  refute_mounted_under "$ROOTFS"
  run "$PROJECT_DIR/doctor/doctor"
  assert_line "      - dir $ROOTFS: temporary directory of a lesson"
  assert_line "      - dir $VOLUME: temporary directory of a lesson"
  kp_after
  [[ $KP_CLEANED == *"removed dir $ROOTFS (temporary directory of a lesson)"* ]]
  [[ $KP_CLEANED == *"removed dir $VOLUME (temporary directory of a lesson)"* ]]
  [[ ! -e $ROOTFS && ! -e $VOLUME ]]
  run "$BIN" --quiet
  assert_success
  assert_output --regexp '^verdict: HELD - '
}

@test "mount-chroot demo.sh: SIGKILL while it pauses: its unshare child and namespace die with it, doctor --clean removes its dirs, the next run holds" {
  requires root cmd:setpriv cmd:unshare cmd:chroot
  kp_before
  mkfifo "$BATS_TEST_TMPDIR/in"
  exec 8<>"$BATS_TEST_TMPDIR/in"
  "$DEMO" --pause <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- 8>&- &
  PID=$!
  # blocked: demo.sh reads a line from its stdin, a fifo this test holds open on fd 8
  kp_wait_for "demo.sh --pause to wait for Enter" grep -q '^      paused: ' "$BATS_TEST_TMPDIR/out"
  T=$(sed -n 's/.*(T=\(\/tmp\/lab-demo-rootfs-[A-Za-z0-9]*\))$/\1/p' "$BATS_TEST_TMPDIR/out")
  inner=$(sed -n 's/^      paused: the child (PID \([0-9]*\)).*/\1/p' "$BATS_TEST_TMPDIR/out")
  [[ -d $T && -n $inner ]]
  # the child (unshare, then sh, now sleep) holds its own mount namespace with the volume bound
  grep -q " $T/data " "/proc/$inner/mountinfo"
  VOL=$(sed -n 's/^      paused: .* the volume \(\/tmp\/lab-demo-volume-[A-Za-z0-9]*\) at .*/\1/p' "$BATS_TEST_TMPDIR/out")
  [[ -d $VOL ]]
  mapfile -t children < <(kp_descendants "$PID")
  [[ ${#children[@]} -ge 1 ]]
  kp_kill "$PID"
  PID=""
  exec 8>&-
  # setpriv --pdeathsig KILL ends unshare, unshare --kill-child ends the sleep: no process, and
  # so no mount namespace, outlives the demo
  kp_processes_gone "${children[@]}"
  [[ -d $T && -d $VOL ]]
  kp_after
  [[ $KP_CLEANED == *"removed dir $T (temporary directory of a lesson)"* ]]
  [[ $KP_CLEANED == *"removed dir $VOL (temporary directory of a lesson)"* ]]
  [[ ! -e $T && ! -e $VOL ]]
  run "$DEMO"
  assert_success
  assert_line --index -1 --regexp '^verdict: HELD - '
}

@test "mount-chroot demo.sh --pause: Enter ends it with the verdict, and nothing is left" {
  requires root cmd:setpriv
  before=$(lab_dirs)
  run bash -c "echo | '$DEMO' --pause"
  assert_success
  # shellcheck disable=SC2016  # a literal $T in the demo's output
  assert_line --regexp '^      paused: the child \(PID [0-9]+\) still holds the volume /tmp/lab-demo-volume-[A-Za-z0-9]+ at \$T/data, which findmnt -N [0-9]+ shows from another terminal\. Enter ends the demo\.$'
  assert_line --index -1 --regexp '^verdict: HELD - '
  assert_equal "$(lab_dirs)" "$before"
}
