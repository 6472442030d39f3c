#!/usr/bin/env bash
# Start latency of /bin/true in a fresh busybox container, measured in one run so that the ratios
# hold (the machine's speed cancels out):
#   (a) the floor: unshare --uts --pid --mount --ipc --fork chroot ROOTFS /bin/true
#   (a2) the floor with the kernel steps that no runtime can skip here: (a) plus the config's two
#       other namespaces (net, cgroup) and a cgroup made, joined and removed in every hierarchy,
#       in bash, joined the cheapest way a shell can: the subshell that then execs unshare writes
#       `echo 0 > tasks` in each v1 tree (itself, one thread: the kernel skips the lock on every
#       thread group that cgroup.procs takes, whose first writer waits for an RCU grace period,
#       4-20 ms here) and `echo $BASHPID > cgroup.procs` in a v2 tree (a shell has no clone3,
#       so on this hybrid host (a2) still pays that wait once, for the unified tree, where a
#       runtime's clone3(CLONE_INTO_CGROUP) does not). One mkdir and one rmdir for all
#       hierarchies are its only extra processes.
#       (a) is the issue's yardstick; (a2) says how much of a runtime's time is its own.
#   (b) minirunc run: our runtime as the engine runs it (static, runc's grammar)
#   (b2) minidocker runtime run: the same code in the engine's binary, whose 49 shared
#       libraries the dynamic loader resolves at every start
#   (c) runc run (Debian's runc)
#   (d) crun run, where it can run: crun refuses a hybrid cgroup host, so on one it runs in a
#       private mount namespace where cgroup2's unified tree is unmounted (the figure then
#       includes that unshare, sh and umount, about a floor's worth)
# (b), (b2), (c) and (d) get the same config.json (runtime spec's default, args ["/bin/true"], terminal
# false), each with a cgroupsPath of its own. Runs are interleaved (a b c d a b c d ...) so that
# a slow moment of the machine hits every runtime alike; the median of N runs is reported, in ms
# and as ratios to (a) and (a2). Our target: within 1.3x of the floor. Our runtime keeps the BPF of
# each seccomp profile under its --root (runtime/seccomp_cache.hpp), so every run but the first
# skips libseccomp's compile: our first timed run compiles (and stores) the profile, the other
# N-1 read it back, and the median shows the steady state, as a container engine sees it.
# Prints Markdown table rows for tests/bench.sh to collect:
#   | start latency of /bin/true: minidocker runtime run | 9.1 ms (1.25x floor) |
# Needs root and build/rootfs (make rootfs). N=30 by default: N=100 ./bench.sh for more.
set -euo pipefail
cd "$(dirname "$0")"
project=$(cd .. && pwd)
N=${N:-30}

if [[ $(id -u) -ne 0 ]]; then
  echo "bench.sh: containers need root; run make bench as root (or with sudo)" >&2
  exit 1
fi
if [[ ! -x $project/build/rootfs/bin/busybox ]]; then
  echo "bench.sh: needs the busybox rootfs: make rootfs" >&2
  exit 1
fi
[[ -x ./minidocker && -x ./minirunc ]] || make --quiet minidocker minirunc >&2

work=$(mktemp -d /tmp/lab-bench-XXXXXX)
# One cgroup directory per hierarchy mounted under /sys/fs/cgroup, for (a2).
cg_roots=()
if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then
  cg_roots=(/sys/fs/cgroup)
else
  for d in /sys/fs/cgroup/*/; do [[ -e ${d}cgroup.procs ]] && cg_roots+=("${d%/}"); done
fi
cleanup() {
  for d in "${cg_roots[@]}"; do rmdir "$d/lab-bench-floor" 2>/dev/null || true; done
  "$project/final/minidocker" runtime --root "$work/state-ours" delete --force lab-bench-ours \
    >/dev/null 2>&1 || true
  if command -v runc >/dev/null; then
    runc --root "$work/state-runc" delete --force lab-bench-runc >/dev/null 2>&1 || true
  fi
  if command -v crun >/dev/null; then
    crun --root "$work/state-crun" delete --force lab-bench-crun >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

rootfs="$work/rootfs"
cp -a "$project/build/rootfs" "$rootfs"
# One bundle per runtime: the same config but for the cgroupsPath; all share the rootfs.
"$project/final/minidocker" runtime spec --bundle "$work"
for rt in ours runc crun; do
  mkdir -p "$work/$rt"
  jq --arg root "$rootfs" --arg cg "/lab-bench-$rt" \
    '.root.path = $root | .process.args = ["/bin/true"] | .process.terminal = false
     | .linux.cgroupsPath = $cg' "$work/config.json" >"$work/$rt/config.json"
done

hybrid=false
if [[ $(stat -fc %T /sys/fs/cgroup) != cgroup2fs ]] && grep -q ' /sys/fs/cgroup/unified ' /proc/self/mountinfo; then
  hybrid=true
fi

run_floor() { unshare --uts --pid --mount --ipc --fork chroot "$rootfs" /bin/true; }
run_floor2() {
  local d cpus mems dirs=("${cg_roots[@]/%//lab-bench-floor}")
  mkdir "${dirs[@]}"
  for d in "${cg_roots[@]}"; do
    # cgroup v1's cpuset starts with no CPU and no memory node: a join would fail (ENOSPC).
    if [[ -e $d/lab-bench-floor/cpuset.cpus ]]; then
      read -r cpus <"$d/cpuset.cpus" && echo "$cpus" >"$d/lab-bench-floor/cpuset.cpus"
      read -r mems <"$d/cpuset.mems" && echo "$mems" >"$d/lab-bench-floor/cpuset.mems"
    fi
  done
  (
    for d in "${dirs[@]}"; do
      if [[ -e $d/tasks ]]; then echo 0 >"$d/tasks"; else echo "$BASHPID" >"$d/cgroup.procs"; fi
    done
    exec unshare --uts --pid --mount --ipc --net --cgroup --fork chroot "$rootfs" /bin/true
  )
  rmdir "${dirs[@]}"
}
run_ours() { "$project/final/minirunc" --root "$work/state-ours" run --bundle "$work/ours" lab-bench-ours; }
run_ours2() { "$project/final/minidocker" runtime --root "$work/state-ours" run --bundle "$work/ours" lab-bench-ours; }
run_runc() { runc --root "$work/state-runc" run --bundle "$work/runc" lab-bench-runc; }
run_crun() {
  if $hybrid; then
    unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec "$@"' crun \
      crun --root "$work/state-crun" run --bundle "$work/crun" lab-bench-crun
  else
    crun --root "$work/state-crun" run --bundle "$work/crun" lab-bench-crun
  fi
}

whats=(floor floor2 ours ours2)
command -v runc >/dev/null && whats+=(runc)
# crun: only if one run works here (a refusal is reported, not timed).
if command -v crun >/dev/null; then
  if run_crun >/dev/null 2>"$work/crun.err"; then whats+=(crun); else crun_error=$(head -1 "$work/crun.err"); fi
fi

declare -A times
for ((i = 0; i < N; i++)); do
  for what in "${whats[@]}"; do
    t0=$EPOCHREALTIME
    "run_$what" >/dev/null
    t1=$EPOCHREALTIME
    times[$what]+="$((${t1/./} - ${t0/./})) "
  done
done

# The median of a list of microseconds, in microseconds.
median() {
  tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}

declare -A label=(
  [floor]="(a) floor: unshare --uts --pid --mount --ipc --fork chroot"
  [floor2]="(a2) floor + cgroups: (a) with --net --cgroup, a cgroup made, joined (v1: echo 0 > tasks), removed in each of ${#cg_roots[@]} hierarchies"
  [ours]="(b) minirunc run (our runtime, static, as the engine runs it)"
  [ours2]="(b2) minidocker runtime run (the same code, dynamically linked)"
  [runc]="(c) runc run ($(runc --version 2>/dev/null | head -1 | awk '{ print $3 }'))"
  [crun]="(d) crun run ($(crun --version 2>/dev/null | head -1 | awk '{ print $3 }')$($hybrid && echo ", unified tree unmounted in unshare -m"))"
)
floor=$(median "${times[floor]}")
floor2=$(median "${times[floor2]}")
for what in "${whats[@]}"; do
  us=$(median "${times[$what]}")
  if [[ $what == floor ]]; then
    printf '| start latency of /bin/true, median of %d: %s | %.2f ms |\n' "$N" "${label[$what]}" \
      "$(bc -l <<<"$us / 1000")"
  elif [[ $what == floor2 ]]; then
    printf '| start latency of /bin/true, median of %d: %s | %.2f ms (%.2fx floor) |\n' "$N" \
      "${label[$what]}" "$(bc -l <<<"$us / 1000")" "$(bc -l <<<"$us / $floor")"
  else
    printf '| start latency of /bin/true, median of %d: %s | %.2f ms (%.2fx floor, %.2fx floor + cgroups) |\n' \
      "$N" "${label[$what]}" "$(bc -l <<<"$us / 1000")" "$(bc -l <<<"$us / $floor")" \
      "$(bc -l <<<"$us / $floor2")"
  fi
done
if [[ -n ${crun_error:-} ]]; then
  echo "| start latency of /bin/true: (d) crun run | refused here: ${crun_error//|/\\|} |"
fi
