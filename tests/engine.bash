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

# Writes into directory $1 a program "args" and links to it named as options (-c, -d, -e, -i,
# -it, --help, --rm, --): each prints the name it was called by, then its arguments, in brackets.
# Where one is on the container's PATH, a command line whose first word after the image (or
# exec's container) is an option proves whose word it was.
args_printers() {
  local dir=$1 name
  mkdir -p "$dir"
  # shellcheck disable=SC2016  # the script's, expanded when it runs
  printf '#!/bin/sh\nprintf "[%%s]" "${0##*/}" "$@"\necho\n' >"$dir/args"
  chmod 755 "$dir/args"
  for name in -c -d -e -i -it --help --rm --; do
    ln -s args "$dir/$name"
  done
}

# The image $1: busybox with args_printers in /usr/local/bin, in its rootfs (the engine looks a
# command up before a bind mount exists, so a -v of them would not do).
args_image() {
  args_printers "$BATS_TEST_TMPDIR/args"
  md run --name args-prep --network none -v "$BATS_TEST_TMPDIR/args:/s:ro" busybox \
    sh -c 'mkdir -p /usr/local/bin && cp -a /s/. /usr/local/bin/' >/dev/null
  md commit args-prep "$1" >/dev/null
  md rm args-prep >/dev/null
}
