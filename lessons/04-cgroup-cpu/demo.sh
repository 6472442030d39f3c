#!/usr/bin/env bash
# Lesson 04 the shell way, as the notes did it: mkdir a cgroup, start `while : ; do : ; done &`,
# echo 20000 into the quota, echo the loop's PID into cgroup.procs, and watch its share drop to
# 20%. (The notes echo it into v1's `tasks`, which moves one thread; cgroup.procs moves the whole
# process, and v2 has only cgroup.procs.) Works on cgroup v1, v2 and hybrid hosts; checked like
# ./cgroup-cpu. The cgroup is named lab-cpu-demo-PID, so `doctor --clean` finds it if this script
# is killed before it removes it; the loop dies with the script (setpriv --pdeathsig KILL).
#   ./demo.sh [QUOTA_US] [SECONDS]        as root; defaults: 20000 of a 100000 us period, 2 s
set -euo pipefail

quota=${1-20000}
seconds=${2-2}
period=100000
if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: making cgroups needs root; run it as root (or with sudo)" >&2
  exit 1
fi
if ! [[ $quota =~ ^[0-9]+$ ]] || ((quota < 1000 || quota >= period)); then
  echo "demo.sh: the quota must be 1000 to 99999 us (of a $period us period), got '$quota'" >&2
  exit 2
fi
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1 || seconds > 60)); then
  echo "demo.sh: measure for 1 to 60 seconds, got '$seconds'" >&2
  exit 2
fi

# Where is the cpu controller? v2 if the cgroup2 tree offers it, else a v1 hierarchy (hybrid
# hosts: v1 controllers plus a cgroup2 tree without cpu).
v2_root=$(awk '$(NF-2) == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
v1_root=$(awk '$(NF-2) == "cgroup" && $NF ~ /(^|,)cpu(,|$)/ { print $5; exit }' /proc/self/mountinfo)
if [[ -n $v2_root ]] && grep -qw cpu "$v2_root/cgroup.controllers"; then
  version=v2 root=$v2_root procs=cgroup.procs
elif [[ -n $v1_root ]]; then
  version=v1 root=$v1_root procs=cgroup.procs
else
  echo "demo.sh: no cgroup hierarchy offers the cpu controller" >&2
  exit 1
fi
cg=$root/lab-cpu-demo-$$
loop=""
enabled_cpu=""

cleanup() {
  if [[ -n $loop ]]; then kill "$loop" 2>/dev/null || true; wait "$loop" 2>/dev/null || true; fi
  [[ -d $cg ]] && rmdir "$cg"
  if [[ -n $enabled_cpu ]]; then echo -cpu >"$root/cgroup.subtree_control" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# CPU seconds of a process, from utime + stime in /proc/PID/stat (what top and ps read).
ticks=$(getconf CLK_TCK)
cpu_ticks() { local f; read -ra f <"/proc/$1/stat"; echo $((f[13] + f[14])); }
# Percent of one CPU that PID used over SECONDS seconds.
measure() {
  local before after start end
  before=$(cpu_ticks "$1") start=$(date +%s%N)
  sleep "$2"
  after=$(cpu_ticks "$1") end=$(date +%s%N)
  awk -v t=$((after - before)) -v hz="$ticks" -v ns=$((end - start)) \
    'BEGIN { printf "%.1f", 100 * t / hz / (ns / 1e9) }'
}

echo "[1/6] grep cgroup /proc/self/mountinfo             -> cpu controller: $version at $root"
if [[ $version == v2 ]] && ! grep -qw cpu "$root/cgroup.subtree_control"; then
  echo +cpu >"$root/cgroup.subtree_control"
  enabled_cpu=yes
  echo "      echo +cpu > $root/cgroup.subtree_control"
fi
mkdir "$cg"
if [[ $version == v1 ]]; then
  start_limit="cpu.cfs_quota_us=$(cat "$cg/cpu.cfs_quota_us") cpu.cfs_period_us=$(cat "$cg/cpu.cfs_period_us")"
else
  start_limit="cpu.max=\"$(cat "$cg/cpu.max")\""
fi
echo "[2/6] mkdir $cg"
echo "      $start_limit"
# The notes' loop, but in a bash of its own whose parent-death signal is SIGKILL: a plain
# `while : ; do : ; done &` is a subshell that would spin on at 100% if this script were killed
# (SIGKILL runs no trap), while this one dies with the script.
setpriv --pdeathsig KILL -- bash -c 'while : ; do : ; done' &
loop=$!
echo "[3/6] setpriv --pdeathsig KILL -- bash -c 'while : ; do : ; done' &  -> PID $loop"
free=$(measure "$loop" "$seconds")
echo "      no limit: $free% of one CPU"
if [[ $version == v1 ]]; then
  echo "$quota" >"$cg/cpu.cfs_quota_us"
  echo "[4/6] echo $quota > $cg/cpu.cfs_quota_us"
else
  echo "$quota $period" >"$cg/cpu.max"
  echo "[4/6] echo \"$quota $period\" > $cg/cpu.max"
fi
echo "$loop" >"$cg/$procs"
echo "[5/6] echo $loop > $cg/$procs"
limited=$(measure "$loop" "$seconds")
expected=$(awk -v q="$quota" -v p="$period" 'BEGIN { printf "%.1f", 100 * q / p }')
echo "      limited: $limited% of one CPU (asked for $expected%)"
throttled=$(awk '$1 == "nr_throttled" { print $2 }' "$cg/cpu.stat")
periods=$(awk '$1 == "nr_periods" { print $2 }' "$cg/cpu.stat")
echo "[6/6] cat $cg/cpu.stat  -> nr_periods $periods, nr_throttled $throttled"

kill "$loop"
wait "$loop" 2>/dev/null || true
loop=""
rmdir "$cg"

if awk -v m="$limited" -v e="$expected" 'BEGIN { exit !(m >= e * 0.75 && m <= e * 1.25) }' &&
   ((throttled > 0)); then
  echo "verdict: HELD - the loop took $free% of a CPU, then $limited% under cfs quota $quota of $period us, throttled in $throttled of $periods periods"
else
  echo "verdict: NOT HELD - expected about $expected% with throttling, measured $limited% ($throttled throttled periods)"
  exit 1
fi
