#!/usr/bin/env bash
# Lesson 01 the shell way, as the notes did it: `unshare -u`, then `hostname NAME` inside.
# Checked the same way as ./uts: the name inside is NAME, the name outside is unchanged.
#   ./demo.sh [NAME]      (as root, or with sudo)
set -euo pipefail

name=${1-lab}
if [[ -z $name || ${#name} -gt 64 ]]; then
  echo "demo.sh: the hostname must be 1-64 bytes, got ${#name}" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: unshare -u needs root; run it as root (or with sudo ./demo.sh)" >&2
  exit 1
fi

before=$(hostname)
echo "[1/3] hostname                                      -> $before"
echo "[2/3] unshare -u sh -c 'hostname $name; hostname; readlink /proc/self/ns/uts'"
# shellcheck disable=SC2016  # $1 is expanded by the inner sh
# The new UTS namespace lives only as long as this one sh; nothing to clean up afterwards. The
# sh gets SIGKILL if this script dies (setpriv --pdeathsig KILL; exec, so that its parent is
# this script and not a subshell), so even a SIGKILL of the script leaves no namespace behind.
mapfile -t inside < <(exec setpriv --pdeathsig KILL unshare -u \
  sh -c 'hostname "$1" && hostname && readlink /proc/self/ns/uts' sh "$name")
echo "      inside:  ${inside[0]}   ${inside[1]}"
after=$(hostname)
echo "[3/3] hostname; readlink /proc/self/ns/uts           -> $after"
echo "      outside: $after   $(readlink /proc/self/ns/uts)"

if [[ ${inside[0]} == "$name" && $after == "$before" && ${inside[1]} != "$(readlink /proc/self/ns/uts)" ]]; then
  echo "verdict: HELD - unshare -u gave a namespace where the hostname is \"$name\"; outside it is still \"$after\""
else
  echo "verdict: NOT HELD - inside \"${inside[0]}\", outside \"$after\" (was \"$before\")"
  exit 1
fi
