#!/bin/sh
# What a container sees, one normalised fact per line, for tests/12-runtime-runc.bats to compare
# between runtimes (ours and runc) on the same bundle. Runs as the container's program under
# busybox sh; prints "section: fact" lines. Volatile parts (mount ids, sizes, inode numbers,
# PIDs of helpers) are normalised away so that two runs of the same runtime print the same text.
#
# Reading facts, not asserting them: whatever differs between runtimes shows up in a diff.

# --- the process ---------------------------------------------------------------------------------
echo "hostname: $(hostname)"
echo "uid: $(id -u)"
echo "gid: $(id -g)"
echo "groups: $(id -G)"
echo "cwd: $(pwd)"
echo "pid: $$"
# Every process in the PID namespace, counted by the shell itself (a pipeline would count its
# own members, as many as had started when ls read /proc): the probe alone, so 1.
n=0
for _ in /proc/[0-9]*; do n=$((n + 1)); done
echo "processes: $n"
# The environment as the runtime's execve gave it: PID 1's, the probe's own, not what sh exports
# to its children (PWD, SHLVL...). Sorted. HOSTNAME is in neither runtime's env: neither sets it.
tr '\0' '\n' </proc/1/environ | sort | sed 's/^/env: /'
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status | tr -s ' \t' ' ' |
  sed 's/^/status: /'
# shellcheck disable=SC3045  # busybox ash has ulimit -S and -H
echo "nofile: $(ulimit -Sn) $(ulimit -Hn)"
# shellcheck disable=SC3045
echo "nproc: $(ulimit -Su) $(ulimit -Hu)"
echo "umask: $(umask)"
echo "oom_score_adj: $(cat /proc/self/oom_score_adj)"

# --- devices -------------------------------------------------------------------------------------
# Each entry of /dev: its type and mode, major:minor for nodes, the target for links.
for f in /dev/* /dev/pts/*; do
  if [ -L "$f" ]; then
    echo "dev: $f -> $(readlink "$f")"
  elif [ -c "$f" ] || [ -b "$f" ]; then
    echo "dev: $f $(stat -c '%A %t:%T %U:%G' "$f")"
  else
    echo "dev: $f $(stat -c '%A' "$f")"
  fi
done
# Whether each node can really be opened (the devices cgroup's verdict, not the mode's).
for f in /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/ptmx; do
  if (: <"$f") 2>/dev/null; then echo "open: $f yes"; else echo "open: $f no"; fi
done

# --- mounts --------------------------------------------------------------------------------------
# From /proc/self/mountinfo: mount point, fstype, per-mount options, the superblock's options;
# ids, devices and the root field left out. size=/nr_inodes= of tmpfs depend on the host's memory
# only when not given, so they stay; mode= stays. Sorted by mount point.
while read -r _id _parent _dev _root point opts rest; do
  # the optional fields end at " - "
  # shellcheck disable=SC2086  # split into words on purpose
  set -- $rest
  while [ "$1" != "-" ]; do shift; done
  fstype=$2 super=$4
  echo "mount: $point $fstype $opts $super"
done </proc/self/mountinfo | sort

# --- masked and read-only paths ------------------------------------------------------------------
for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats \
  /proc/timer_stats /sys/firmware /proc/acpi /proc/scsi /proc/asound /sys/devices/virtual/powercap; do
  if [ ! -e "$f" ]; then
    echo "masked: $f absent"
  elif [ -d "$f" ]; then
    # shellcheck disable=SC2012  # counting entries, names do not matter
    echo "masked: $f dir entries=$(ls -A "$f" 2>/dev/null | wc -l)"
  else
    echo "masked: $f file bytes=$(head -c 64 "$f" 2>/dev/null | wc -c)"
  fi
done
for f in /proc/sys/kernel/domainname /proc/sysrq-trigger /proc/irq /proc/bus /proc/fs \
  /sys/kernel /; do
  if [ -d "$f" ]; then
    if touch "$f/.lab-probe" 2>/dev/null; then
      echo "writable: $f yes"
      rm -f "$f/.lab-probe"
    else echo "writable: $f no"; fi
  else
    # An empty write: nothing changes, the open(O_WRONLY) alone is judged.
    if (: >>"$f") 2>/dev/null; then echo "writable: $f yes"; else echo "writable: $f no"; fi
  fi
done

# --- cgroups -------------------------------------------------------------------------------------
# With a cgroup namespace every path is "/" from inside; the hierarchy ids are the host's.
sed 's/^[0-9]*:/cgroup: /' /proc/self/cgroup | sort
# The container's own limits as it sees them (v1 trees on a hybrid host; v2 on a unified one).
for f in memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes pids/pids.max \
  cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpu/cpu.shares memory.max memory.swap.max pids.max \
  cpu.max; do
  if [ -r "/sys/fs/cgroup/$f" ]; then
    echo "limit: $f $(cat "/sys/fs/cgroup/$f")"
  fi
done
if [ -r /sys/fs/cgroup/devices/devices.list ]; then
  # in the order the rules were written, which is the runtime's business: sorted
  sort /sys/fs/cgroup/devices/devices.list | sed 's/^/devices.list: /'
fi

# --- seccomp -------------------------------------------------------------------------------------
# Docker's profile denies unshare and mount to a process without CAP_SYS_ADMIN; the message says
# whether seccomp (EPERM) or the capability check (also EPERM) refused: both runtimes must agree.
echo "unshare: $(unshare -m true 2>&1 | sed 's/.*: //' || true)"
echo "mount: $(mount -t tmpfs none /tmp 2>&1 | sed 's/.*: //' || true)"
echo "done"
