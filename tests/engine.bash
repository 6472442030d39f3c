# Shared by the engine's .bats files: an engine root of the test's own with the busybox image,
# and a teardown that removes every container the test made (the leak check must stay clean).
# shellcheck shell=bash

load images

engine_setup() {
  images_setup
  md import "$ROOTFS" busybox >/dev/null
}

engine_teardown() {
  local ids
  [[ -d ${ROOT:-}/containers ]] || return 0
  ids=$(md ps -aq --no-trunc 2>/dev/null) || true
  # shellcheck disable=SC2086
  [[ -z $ids ]] || md rm -f $ids >/dev/null 2>&1 || true
  md container prune -f >/dev/null 2>&1 || true
}

# The container's record directory.
container_dir() {
  echo "$ROOT/containers/$(md inspect "$1" | jq -r '.[0].Id')"
}

# Waits (up to 5 s) until `md inspect NAME` has State.Status == $2.
wait_status() {
  local _
  for _ in $(seq 50); do
    [[ $(md inspect "$1" | jq -r '.[0].State.Status') == "$2" ]] && return 0
    sleep 0.1
  done
  fail "container $1 never reached status $2"
}

# How many mounts have a mount point matching the regex $1.
mounts_matching() {
  findmnt -rn -o TARGET | grep -c "$1" || true
}
