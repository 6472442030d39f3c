#!/bin/sh
# Runs inside the pure cgroup v2 VM (tests/37-engine-vm.bats boots it once):
#   run-in-vm.sh --module overlay --add-program MINIDOCKER --add MINIDOCKER-monitor --add ROOTFS \
#     tests/vm/engine-check.sh MINIDOCKER ROOTFS
# The engine (final/minidocker's Docker verbs, with minidocker-monitor beside the binary) on an
# engine root on the VM's own root, a tmpfs: import of the busybox rootfs, then --memory,
# --pids-limit, --cpus, the container's cgroup files, pause/unpause and rm, all with --network
# none. Each check prints lines "NAME: WHAT" for the .bats file to assert on; nothing here
# decides pass or fail, so that one boot answers every test. Only busybox is used.
set -u
md_bin=$1
rootfs=$2
root=/var/lib/lab-engine
md() { "$md_bin" --root "$root" "$@"; }
# A field of `inspect`'s JSON (the first "KEY": VALUE line), without jq.
field() { md inspect "$1" 2>/dev/null | sed -n "s/^ *\"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -n 1; }
# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds; 1 when it never did.
wait_for() {
  tries=$(($1 * 10))
  shift
  while ! "$@"; do
    tries=$((tries - 1))
    [ $tries -gt 0 ] || return 1
    sleep 0.1
  done
}
cgroup_absent() { [ ! -e "/sys/fs/cgroup/minidocker/$1" ]; }

echo "host: $(grep -c cgroup2 /proc/mounts) cgroup2 mount(s), controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
mkdir -p "$root"
echo "engine-root: $root on $(stat -f -c %T "$root"), overlay in /proc/filesystems: $(grep -cw overlay /proc/filesystems)"

md import "$rootfs" busybox >/tmp/import.out 2>&1
echo "import: exit=$?"
sed 's/^/import-out: /' /tmp/import.out

# --memory 16m: Docker's default swap is as much again; the VM has none. dd's 64 MiB buffer is
# OOM-killed, first with --rm (the CLI's exit code), then detached (wait, inspect, ps).
md run --rm --network none --memory 16m busybox dd if=/dev/zero of=/dev/null bs=64M count=1 \
  >/tmp/oom.out 2>&1
echo "oom-rm: exit=$?"
sed 's/^/oom-rm-out: /' /tmp/oom.out
id=$(md run -d --network none --name lab-oom --memory 16m busybox \
  dd if=/dev/zero of=/dev/null bs=64M count=1 2>/tmp/oom.err)
echo "oom-d: run exit=$?"
sed 's/^/oom-d-err: /' /tmp/oom.err
echo "oom-d: wait=$(md wait lab-oom 2>&1)"
echo "oom-d: OOMKilled=$(field lab-oom OOMKilled) ExitCode=$(field lab-oom ExitCode)"
echo "oom-d: ps=$(md ps -a | sed -n 's/.*\(Exited ([0-9]*)\).*lab-oom$/\1/p')"
md rm lab-oom >/dev/null 2>&1
echo "oom-d: rm exit=$? cgroup=$(cgroup_absent "$id" && echo absent || echo present)"

# --pids-limit 5: the shell and four sleeps; the fifth fork fails and the shell gives up. The
# sleeps die with the shell (it is the PID namespace's init); 20 s bounds them in any case.
# shellcheck disable=SC2016 # expanded by the container's sh
md run --rm --network none --pids-limit 5 busybox \
  sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 20 & echo "started $i"; done; echo "all started"' \
  >/tmp/pids.out 2>&1
echo "pids: exit=$?"
sed 's/^/pids-out: /' /tmp/pids.out

# --cpus 0.5: the loop measures itself from inside, its CPU time (utime + stime of
# /proc/PID/stat, ticks of 1/100 s on x86) over the wall time /proc/uptime counts (hundredths),
# over two seconds; the .bats file turns that into a percentage.
# shellcheck disable=SC2016 # expanded by the container's sh
md run --rm --network none --cpus 0.5 busybox sh -c 'while :; do :; done & loop=$!
  read -r t0 _ < /proc/uptime; sleep 2; read -r t1 _ < /proc/uptime; set -- $(cat /proc/$loop/stat)
  echo "ticks=$((${14} + ${15})) uptime0=${t0%.*}${t0#*.} uptime1=${t1%.*}${t1#*.}"; kill $loop' \
  >/tmp/cpu.out 2>&1
echo "cpu: exit=$?"
sed 's/^/cpu-out: /' /tmp/cpu.out

# --memory alone: Docker's default swap is as much again (memory + swap = 32 MiB, inspect's
# MemorySwap), so memory.swap.max holds the swap alone, 16 MiB.
id=$(md run -d --network none --name lab-swap --memory 16m busybox sleep 1000 2>/tmp/swap.err)
echo "swap: run exit=$? memory.swap.max=$(cat "/sys/fs/cgroup/minidocker/$id/memory.swap.max" 2>&1) MemorySwap=$(field lab-swap MemorySwap)"
sed 's/^/swap-err: /' /tmp/swap.err
md rm -f lab-swap >/dev/null 2>&1

# All three limits on one detached container (--memory-swap 32m: memory + swap, as Docker counts
# it, so memory.swap.max holds the swap alone, 16 MiB), a counter that writes its count into /tmp/n of
# its own root (read here through the container's merged directory).
# shellcheck disable=SC2016 # expanded by the container's sh
id=$(md run -d --network none --name lab-limits --memory 16m --memory-swap 32m --pids-limit 5 --cpus 0.5 busybox \
  sh -c 'i=0; while :; do i=$((i + 1)); echo $i >/tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.1; done' \
  2>/tmp/limits.err)
echo "limits: run exit=$?"
sed 's/^/limits-err: /' /tmp/limits.err
cg=/sys/fs/cgroup/minidocker/$id
echo "limits: cgroup: $([ -d "$cg" ] && echo "$cg" || echo missing)"
for f in memory.max memory.swap.max pids.max cpu.max; do echo "limits: $f: $(cat "$cg/$f" 2>&1)"; done
merged=$root/containers/$id/merged
# Which storage driver the engine chose: overlay mounts merged; vfs makes it a symlink to diff.
if grep -q " $merged overlay " /proc/mounts; then
  echo "driver: overlay (merged is an overlay mount)"
elif [ -L "$merged" ]; then
  echo "driver: vfs (merged -> $(readlink "$merged"))"
else
  echo "driver: unknown"
fi
count() { cat "$merged/tmp/n" 2>/dev/null; }
counted() { [ "$(count)" -ge 3 ] 2>/dev/null; }
wait_for 30 counted || echo "pause: the counter never reached 3"

# pause: cgroup.freeze 1, and the counter stands still until unpause.
md pause lab-limits >/tmp/pause.out 2>&1
echo "pause: exit=$? out=$(cat /tmp/pause.out) status=$(field lab-limits Status)"
frozen() { grep -qx 'frozen 1' "$cg/cgroup.events"; }
wait_for 30 frozen || echo "pause: cgroup.events never said frozen 1"
echo "pause: cgroup.freeze=$(cat "$cg/cgroup.freeze") $(grep frozen "$cg/cgroup.events")"
n1=$(count)
sleep 1 # a window in which a running counter would have moved about ten times
n2=$(count)
echo "pause: counter $([ "$n1" = "$n2" ] && echo stood || echo moved) over 1 s"
md unpause lab-limits >/tmp/unpause.out 2>&1
echo "unpause: exit=$? out=$(cat /tmp/unpause.out) status=$(field lab-limits Status)"
echo "unpause: cgroup.freeze=$(cat "$cg/cgroup.freeze")"
moved() { [ "$(count)" != "$n2" ]; }
wait_for 30 moved && echo "unpause: counter moved on" || echo "unpause: counter still at $n2"

# rm -f: the container, its cgroup and its mount go.
md rm -f lab-limits >/dev/null 2>&1
echo "rm: exit=$? cgroup=$(cgroup_absent "$id" && echo absent || echo present)"
echo "rm: mounts under the engine root: $(grep -c " $root/" /proc/mounts)"
echo "rm: containers left: [$(find "$root/containers" -mindepth 1 -maxdepth 1 2>/dev/null | tr '\n' ' ')]"
if [ -e /sys/fs/cgroup/minidocker ]; then
  echo "rm: /sys/fs/cgroup/minidocker holds: [$(find /sys/fs/cgroup/minidocker -mindepth 1 -type d | tr '\n' ' ')]"
else
  echo "rm: /sys/fs/cgroup/minidocker: absent"
fi
echo "done"
