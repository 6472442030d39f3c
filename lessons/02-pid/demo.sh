#!/usr/bin/env bash
# Lesson 02 the shell way: busybox sh as PID 1 of a new PID namespace (what `docker run -it
# busybox /bin/sh` makes), `ps` in it, the same shell's PID on the host, and PID 1 shrugging off
# SIGTERM. Checked the same way as ./pid.
#   ./demo.sh                 as root, or with sudo (LAB_ROOTFS=DIR to use another busybox rootfs)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rootfs=${LAB_ROOTFS:-$here/../../build/rootfs}
if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: unshare --pid needs root; run it as root (or with sudo ./demo.sh)" >&2
  exit 1
fi
if [[ ! -x $rootfs/bin/busybox ]]; then
  echo "demo.sh: $rootfs/bin/busybox is missing; build it: make rootfs" >&2
  exit 1
fi
rootfs=$(cd "$rootfs" && pwd)

# Nothing may outlive this script, even a SIGKILL of it: every unshare gets SIGKILL when this
# shell dies (setpriv --pdeathsig KILL), and takes its child, PID 1 of the new namespace, with it
# (--kill-child); the kernel then kills the rest of that namespace.
# (exec in a command substitution: its subshell would otherwise be unshare's parent, and it does
# not die with this script.)
die_with_me=(setpriv --pdeathsig KILL)

# 1. The notes' experiment. unshare makes the new mount namespace's mounts private, so the proc
#    mounted on ROOTFS/proc vanishes with the namespace; exec keeps /bin/sh the namespace's PID 1.
echo "[1/3] unshare --pid --mount --fork sh -c 'mount -t proc proc ROOTFS/proc; exec chroot ROOTFS /bin/sh' <<< ps"
# shellcheck disable=SC2016  # $1 is expanded by the inner sh
ps_output=$(exec "${die_with_me[@]}" unshare --pid --mount --fork --kill-child sh -c \
  'mount -t proc proc "$1/proc" && exec chroot "$1" /bin/sh' sh "$rootfs" <<<ps)
while IFS= read -r line; do echo "        $line"; done <<<"$ps_output"
mapfile -t procs < <(tail -n +2 <<<"$ps_output")
first=$(awk 'NR == 2 { print $1, $3 }' <<<"$ps_output")
# busybox sh runs ps in a fork of itself, so ps shows up as "{ps} /bin/sh" (or plain "ps").
second=$(awk 'NR == 3 { print $3 }' <<<"$ps_output")

# 2. The host's view of a PID 1: NSpid lists its PID in every namespace, the host's first.
echo "[2/3] unshare --pid --fork --mount-proc --kill-child sleep 1000 &; grep NSpid /proc/CHILD/status"
# (unshare may complain about its signal mask when its child is SIGKILLed; that is noise)
"${die_with_me[@]}" unshare --pid --fork --mount-proc --kill-child sleep 1000 2>/dev/null &
unshare_pid=$!
# unshare blocks SIGTERM while it waits, so stop the namespace by SIGKILLing its PID 1 (a signal
# from the host that even PID 1 cannot ignore); --kill-child covers unshare dying first.
stop_ns() {
  if [[ -n ${child:-} ]]; then kill -KILL "$child" 2>/dev/null || true; fi
  kill -KILL "$unshare_pid" 2>/dev/null || true
  wait "$unshare_pid" 2>/dev/null || true
}
trap stop_ns EXIT
child=""
for _ in $(seq 100); do
  child=$(pgrep -P "$unshare_pid" || true)
  [[ -n $child ]] && grep -q '^NSpid:.*[[:space:]]1$' "/proc/$child/status" 2>/dev/null && break
  sleep 0.02
done
nspid=$(awk '/^NSpid:/ { $1 = ""; print substr($0, 2) }' "/proc/$child/status")
echo "      host PID $child   NSpid: $nspid"
stop_ns
trap - EXIT

# 3. PID 1 has no SIGTERM handler, so a SIGTERM from inside its namespace is dropped.
echo "[3/3] unshare --pid --fork --mount-proc sh -c 'kill -TERM 1; echo PID \$\$ survived'"
# shellcheck disable=SC2016  # $$ is expanded by the inner sh
survived=$(exec "${die_with_me[@]}" unshare --pid --fork --mount-proc --kill-child \
  sh -c 'kill -TERM 1; echo "PID $$ survived"')
echo "      $survived"

if [[ ${#procs[@]} -eq 2 && $first == "1 /bin/sh" && ($second == "{ps}" || $second == "ps") &&
  $nspid == "$child 1" && $survived == "PID 1 survived" ]]; then
  echo "verdict: HELD - ps inside listed only PID 1 (/bin/sh) and ps; step 2's PID 1 (sleep) was PID $child on the host (NSpid: $child 1); SIGTERM from inside did not kill step 3's PID 1"
else
  echo "verdict: NOT HELD - ps listed ${#procs[@]} processes (first: $first, second: $second), NSpid \"$nspid\" for host PID $child, after SIGTERM: \"$survived\""
  exit 1
fi
