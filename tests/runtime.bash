# Shared by the runtime's .bats files: bundles made from the busybox rootfs, and the runtime
# called with a state directory of the test's own.
# shellcheck shell=bash

MINIDOCKER="$PROJECT_DIR/final/minidocker"
MINIRUNC="$PROJECT_DIR/final/minirunc"

rt_setup() {
  RT_ROOT="$BATS_TEST_TMPDIR/state"
}

# minidocker runtime with this test's --root.
rt() {
  "$MINIDOCKER" runtime --root "$RT_ROOT" "$@"
}

# A container ID with this test's number, so that a failed test's leftovers are easy to name.
# (Called as $(rt_id): a subshell, so teardown finds the containers with list, not a variable.)
rt_id() {
  echo "lab-rt-$BATS_SUITE_TEST_NUMBER-${1:-c}"
}

# make_bundle DIR [JQ_FILTER [JQ ARGS...]]: the busybox rootfs and `runtime spec`'s config.json,
# changed by a jq filter.
make_bundle() {
  local dir=$1 filter=${2:-.}
  shift 2 || shift $#
  mkdir -p "$dir"
  cp -a "$ROOTFS" "$dir/rootfs"
  "$MINIDOCKER" runtime spec --bundle "$dir"
  jq "$@" "$filter" "$dir/config.json" >"$dir/config.new"
  mv "$dir/config.new" "$dir/config.json"
}

# set_args DIR ARG...: the container's process.args.
set_args() {
  local dir=$1
  shift
  # (not jq's --args: jq would take an argument such as -c as its own option)
  local args
  args=$(printf '%s\n' "$@" | jq -R . | jq -s .)
  jq --argjson args "$args" '.process.args = $args' "$dir/config.json" >"$dir/config.new"
  mv "$dir/config.new" "$dir/config.json"
}

# edit_config DIR JQ_FILTER [JQ ARGS...]
edit_config() {
  local dir=$1 filter=$2
  shift 2
  jq "$@" "$filter" "$dir/config.json" >"$dir/config.new"
  mv "$dir/config.new" "$dir/config.json"
}

rt_status() {
  rt state "$1" | jq -r .status
}

# Waits (bounded: 10 s) until the container's init has exited.
wait_stopped() {
  local id=$1 i
  for ((i = 0; i < 200; i++)); do
    [[ $(rt_status "$id") == stopped ]] && return 0
    sleep 0.05
  done
  echo "container $id did not stop" >&2
  return 1
}

# Whether a process has ended: gone, or a zombie nobody has reaped yet (the init of a container
# whose create has exited is reparented; the reaper may be slow, or, in some sandboxes, absent).
ended() {
  [[ ! -e /proc/$1 ]] || grep -q '^State:.Z' "/proc/$1/status" 2>/dev/null
}

# The container's cgroup directories that exist now (there must be none after delete).
container_cgroups() {
  find /sys/fs/cgroup -maxdepth 4 -type d -path "*/minidocker/$1" 2>/dev/null
}

# Everything a test made goes, even when it failed halfway.
rt_teardown() {
  local id
  for id in $(rt list -q 2>/dev/null); do
    rt delete --force "$id" >/dev/null 2>&1 || true
  done
}
