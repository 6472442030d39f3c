#!/bin/sh
# Runs inside the VM (tests/vm/run-in-vm.sh tests/vm/cpu-check.sh): proves the cgroup v2 CPU
# path works there. A busy loop in a cgroup with cpu.max "20000 100000" (20 ms of CPU every
# 100 ms) for 2 seconds must use about 20% of one CPU and be throttled; cpu.stat shows both.
# Prints the cpu.stat figures and a verdict; exit 0 only when the share is 10-30% and throttled.
set -eu
root=/sys/fs/cgroup
cg=$root/lab-cpu-check
seconds=2

grep -qw cpu $root/cgroup.controllers || { echo "cpu-check: no cpu controller in $root"; exit 1; }
# Children of the root get the cpu controller only once the root's subtree_control enables it.
echo +cpu >$root/cgroup.subtree_control
mkdir $cg
trap 'rmdir $cg 2>/dev/null || true' EXIT
echo "20000 100000" >$cg/cpu.max
echo "cpu.max: $(cat $cg/cpu.max)"

# The shell joins the cgroup first, then spins, reading the clock with the read builtin only
# (no fork), until $seconds have passed; every cycle it burns is charged to the cgroup.
start=$(cut -d' ' -f1 /proc/uptime)
# shellcheck disable=SC2016 # the inner sh expands these
sh -c 'echo $$ >"$1/cgroup.procs"
  read -r now _ </proc/uptime
  stop=$(( ${now%.*}${now#*.} + $2 * 100 ))
  while [ "${now%.*}${now#*.}" -lt "$stop" ]; do read -r now _ </proc/uptime; done' sh $cg $seconds
end=$(cut -d' ' -f1 /proc/uptime)

stat() { awk -v key="$1" '$1 == key { print $2 }' $cg/cpu.stat; }
usage=$(stat usage_usec)
periods=$(stat nr_periods)
throttled=$(stat nr_throttled)
throttled_usec=$(stat throttled_usec)
share=$(awk -v u="$usage" -v s="$start" -v e="$end" 'BEGIN { printf "%d", u / ((e - s) * 1e6) * 100 }')
echo "cpu.stat: usage_usec=$usage nr_periods=$periods nr_throttled=$throttled throttled_usec=$throttled_usec"
echo "share: ${share}% of one CPU over $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')s"
if [ "$share" -ge 10 ] && [ "$share" -le 30 ] && [ "$throttled" -gt 0 ]; then
  echo "verdict: HELD - cpu.max 20000/100000 held a busy loop at ${share}% under pure cgroup v2"
else
  echo "verdict: NOT HELD - the busy loop got ${share}% (expected about 20%), throttled $throttled times"
  exit 1
fi
