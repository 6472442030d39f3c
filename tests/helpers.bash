# Shared by every .bats file: load with `load helpers`.
# shellcheck shell=bash

load '/usr/lib/bats/bats-support/load.bash'
load '/usr/lib/bats/bats-assert/load.bash'

PROJECT_DIR="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
LESSONS="$PROJECT_DIR/lessons"
ROOTFS="$PROJECT_DIR/build/rootfs"
export PROJECT_DIR LESSONS ROOTFS

# requires WHAT...: skip the test, saying why, when this machine lacks something. In CI
# (CI=true) a privileged test must really run, so a would-be skip fails instead.
#   root        running as uid 0
#   rootfs      build/rootfs built by `make rootfs`
#   overlay     overlayfs in the kernel
#   cgroup_v1   a v1 cpu controller      cgroup_v2  a cgroup2 hierarchy holding cpu
#   kvm         /dev/kvm usable          cmd:NAME   a command on PATH
requires() {
  local need reason=""
  for need in "$@"; do
    case $need in
      root) [[ $(id -u) -eq 0 ]] || reason="needs root" ;;
      rootfs) [[ -x $ROOTFS/bin/busybox ]] || reason="needs the busybox rootfs (make rootfs)" ;;
      overlay) grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || reason="needs overlayfs" ;;
      cgroup_v1) [[ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]] || reason="needs the cgroup v1 cpu controller" ;;
      cgroup_v2) grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null || reason="needs cgroup v2 with cpu" ;;
      kvm) [[ -r /dev/kvm && -w /dev/kvm ]] || reason="needs /dev/kvm" ;;
      cmd:*) command -v "${need#cmd:}" >/dev/null || reason="needs ${need#cmd:}" ;;
      *) fail "requires: unknown requirement '$need'" ;;
    esac
    [[ -z $reason ]] || break
  done
  [[ -z $reason ]] && return 0
  if [[ ${CI:-} == true ]]; then
    fail "CI=true: this privileged test would skip ($reason), and a skip in CI is a failure"
  fi
  skip "$reason"
}

# Runs a program as the unprivileged user nobody, to see how a lesson refuses without root. The
# checkout may sit where nobody cannot read (/root/...), so the program runs from a copy in a
# world-readable temporary folder.
run_as_nobody() {
  local program=$1 dir
  shift
  dir=$(mktemp -d /tmp/lab-nobody-XXXXXX)
  chmod 755 "$dir"
  cp "$program" "$dir/"
  run setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all -- \
    "$dir/$(basename "$program")" "$@"
  rm -rf "$dir"
}

# Checks the transcripts in a README against what the commands print now.
check_transcript() {
  run "$PROJECT_DIR/tests/transcript.sh" "$@"
  assert_success
}

# Lists what a lesson could leave behind, for before/after comparisons inside one test.
host_state() {
  "$PROJECT_DIR/tests/leakcheck.sh" snapshot
}

# The first `ip netns add` on a machine makes /run/netns a mount of itself (iproute2 does, so that
# the pins can be shared). A .bats file that adds namespaces calls these from setup_file and
# teardown_file, so that a mount its tests made is taken away again when they are done.
netns_mount_remember() {
  if mountpoint -q /run/netns; then NETNS_MOUNT_WAS_THERE=1; else NETNS_MOUNT_WAS_THERE=0; fi
  export NETNS_MOUNT_WAS_THERE
}

netns_mount_restore() {
  if ((${NETNS_MOUNT_WAS_THERE:-1} == 0)) && mountpoint -q /run/netns &&
    [[ -z $(ls -A /run/netns) ]]; then
    umount /run/netns && rmdir /run/netns
  fi
}

# Runs final/SCRIPT ROOTFS (engine-session.sh, daemon-session.sh: engine-lib.sh's engine root in
# /var/tmp and network namespace lab-engine-PID) with `run`, and checks that the host is as it was
# before: no engine root, no namespace, no mount, cgroup, link, rule or process (leakcheck.sh).
session_leaves_nothing() {
  local script=$1 before="$BATS_TEST_TMPDIR/before" after="$BATS_TEST_TMPDIR/after" roots
  roots=$(ls -d /var/tmp/lab-engine-* 2>/dev/null || true)
  "$PROJECT_DIR/tests/leakcheck.sh" snapshot >"$before"
  run "$PROJECT_DIR/final/$script" "$2"
  "$PROJECT_DIR/tests/leakcheck.sh" snapshot >"$after"
  "$PROJECT_DIR/tests/leakcheck.sh" compare "$before" "$after" || fail "$script left the above behind"
  [[ $(ls -d /var/tmp/lab-engine-* 2>/dev/null || true) == "$roots" ]] ||
    fail "$script left an engine root in /var/tmp"
  ! ip netns list | grep -q lab-engine- || fail "$script left its network namespace"
}
