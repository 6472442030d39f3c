#!/usr/bin/env bats
# tests/leakcheck.sh, the suite's last check, on a machine as it is after boot.
load helpers

# /run/netns: taken away again if these tests made it (helpers.bash)
setup_file() { netns_mount_remember; }
teardown_file() { netns_mount_restore; }

@test "leakcheck: the /run/netns mount that the first 'ip netns add' after boot makes is no leak" {
  # On a fresh machine /run/netns does not exist until iproute2 first needs it; then ip makes it
  # a mount (bound onto itself, shared) and keeps it for good. Seen as "mount /run/netns tmpfs
  # left behind" on a freshly bootstrapped root. Here: a fresh /run in a mount namespace.
  requires root cmd:ip
  # shellcheck disable=SC2016  # expanded by the bash in the namespace
  run unshare -m --propagation private bash -c '
    set -e
    mount -t tmpfs tmpfs /run
    "$1" snapshot >"$2/before"
    ip netns add lab-leakcheck-probe
    ip netns del lab-leakcheck-probe
    mountpoint /run/netns
    "$1" snapshot >"$2/after"
    "$1" compare "$2/before" "$2/after"' bash "$PROJECT_DIR/tests/leakcheck.sh" "$BATS_TEST_TMPDIR"
  assert_success
  assert_output "/run/netns is a mountpoint"  # it is there, and compare did not list it
}

@test "leakcheck: a named netns that stays is still a leak" {
  requires root cmd:ip
  # shellcheck disable=SC2016  # expanded by the bash in the namespace
  run unshare -m --propagation private bash -c '
    set -e
    mount -t tmpfs tmpfs /run
    "$1" snapshot >"$2/before"
    ip netns add lab-leakcheck-probe
    "$1" snapshot >"$2/after"
    ip netns del lab-leakcheck-probe
    "$1" compare "$2/before" "$2/after"' bash "$PROJECT_DIR/tests/leakcheck.sh" "$BATS_TEST_TMPDIR"
  assert_failure
  assert_line "  netns lab-leakcheck-probe"
  assert_line "  netns-file lab-leakcheck-probe"
  refute_line --partial "mount /run/netns "
}
