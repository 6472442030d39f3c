#!/usr/bin/env bash
# Lesson 05 the shell way, as the notes did it, with overlayfs in place of aufs (not in this
# kernel): the notes' `mount -t aufs -o dirs=./A:./B none ./C` becomes
# `mount -t overlay overlay -o lowerdir=./A:./B,upperdir=./upper,workdir=./work ./C`.
# Checked like ./overlay: C holds a, b, x with A's x; a write copies b up, a deletion leaves a
# whiteout (character device 0/0) in upper, a new file lands in upper; A and B never change.
# Everything runs in a private mount namespace (unshare -m), so the mount cannot outlive it.
#   ./demo.sh     (as root)
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: mount and unshare -m: this needs root; run it as root (or with sudo)" >&2
  exit 1
fi

# The outer run: a work dir that is always removed, and this script again in a new mount namespace.
# If this script is killed (SIGKILL skips the trap), the inner run dies with it: setpriv gives
# unshare a parent-death signal and --kill-child passes it on to the script inside; the work dir,
# which the kernel cannot remove, is a /tmp/lab-* dir that doctor/doctor --clean removes.
if [[ ${1:-} != --inside ]]; then
  work=$(mktemp -d /tmp/lab-overlay-demo-XXXXXX)
  trap 'rm -rf "$work"' EXIT
  setpriv --pdeathsig KILL unshare -m --propagation private --kill-child "$0" --inside "$work"
  exit
fi

# The names in a directory on one line, as `ls DIR | xargs` would print them.
names() {
  local entry out=()
  for entry in "$1"/*; do out+=("${entry##*/}"); done
  echo "${out[*]}"
}

shopt -s nullglob
cd "$2"
echo "[1/5] mkdir A B C upper work; echo ... > A/a A/x B/b B/x"
mkdir A B C upper work
echo 'a from A' >A/a
echo 'x from A' >A/x
echo 'b from B' >B/b
echo 'x from B' >B/x
echo "      A: $(names A)   B: $(names B)"

echo "[2/5] mount -t overlay overlay -o lowerdir=./A:./B,upperdir=./upper,workdir=./work ./C"
mount -t overlay overlay -o lowerdir=./A:./B,upperdir=./upper,workdir=./work ./C

echo "[3/5] ls C; cat C/x"
listing=$(names C)
x=$(cat C/x)
echo "      C: $listing   C/x: $x"

echo "[4/5] echo 'b changed' > C/b; rm C/a; echo new > C/new"
echo 'b changed' >C/b
rm C/a
echo new >C/new

echo "[5/5] ls upper; cat upper/b B/b; stat -c '%F %t:%T' upper/a; ls A"
upper=$(names upper)
upper_b=$(cat upper/b)
lower_b=$(cat B/b)
whiteout=$(stat -c '%F %t:%T' upper/a)
lower_a=$(names A)
echo "      upper: $upper   upper/b: $upper_b   B/b: $lower_b"
echo "      upper/a: $whiteout   A: $lower_a   C: $(names C)"

if [[ $listing == "a b x" && $x == "x from A" && $upper == "a b new" && $upper_b == "b changed" &&
  $lower_b == "b from B" && $whiteout == "character special file 0:0" && $lower_a == "a x" ]]; then
  echo "verdict: HELD - C showed a, b and A's x; the write, the deletion (a 0:0 whiteout) and the new file all landed in upper, A and B are unchanged"
else
  echo "verdict: NOT HELD - C: $listing, C/x: $x, upper: $upper, upper/a: $whiteout, B/b: $lower_b, A: $lower_a"
  exit 1
fi
