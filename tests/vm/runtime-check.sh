#!/bin/sh
# Runs inside the pure cgroup v2 VM (tests/11-runtime-vm.bats boots it once):
#   run-in-vm.sh --add-program MINIDOCKER --add BUNDLES tests/vm/runtime-check.sh MINIDOCKER BUNDLES
# BUNDLES holds rootfs/ (the busybox rootfs) and one directory per check with its config.json,
# prepared on the host (the VM has no jq): memory, pids, cpu, default, lifecycle. Each check
# prints lines "NAME: WHAT" for the .bats file to assert on; nothing here decides pass or fail,
# so that one boot answers every test. Only busybox is used.
set -u
md=$1
bundles=$2
rt() { "$md" runtime --root /run/lab-rt "$@"; }
# The container's status, from `runtime state`'s JSON without jq.
status_of() { rt state "$1" 2>/dev/null | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'; }

echo "host: $(grep -c cgroup2 /proc/mounts) cgroup2 mount(s), controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
# What the root hands down before any container: create adds +cpu +memory +pids, and the delete
# of the last container takes them back.
echo "root subtree_control before: [$(cat /sys/fs/cgroup/cgroup.subtree_control)]"

# memory.max 16 MiB and memory.swap.max 0 (swap = limit): dd's 64 MiB buffer is OOM-killed.
rt run --bundle "$bundles/memory" lab-mem >/tmp/mem.out 2>&1
echo "memory: exit=$?"
sed 's/^/memory-out: /' /tmp/mem.out

# pids.max 4: the shell and three sleeps; the fourth fork fails.
rt run --bundle "$bundles/pids" lab-pids >/tmp/pids.out 2>&1
echo "pids: exit=$?"
sed 's/^/pids-out: /' /tmp/pids.out

# cpu.max "20000 100000": the container measures its busy loop itself (utime + stime ticks over
# /proc/uptime's hundredths); the .bats file turns that into a percentage.
rt run --bundle "$bundles/cpu" lab-cpu >/tmp/cpu.out 2>&1
echo "cpu: exit=$?"
sed 's/^/cpu-out: /' /tmp/cpu.out

# The default spec (device rules deny-all + the always-allowed ones, through a BPF program on v2;
# a cgroup namespace; /sys/fs/cgroup mounted inside) with a 64 MiB memory limit.
rt run --bundle "$bundles/default" lab-default >/tmp/default.out 2>&1
echo "default: exit=$?"
sed 's/^/default-out: /' /tmp/default.out

# The lifecycle: create (init waits), start, kill, delete; nothing is left in the cgroup tree.
rt --explain create --bundle "$bundles/lifecycle" lab-life >/tmp/life.out 2>&1 </dev/null
echo "lifecycle: create exit=$? status=$(status_of lab-life)"
# A pure v2 host: the init is born in its cgroup (clone3's CLONE_INTO_CGROUP), no cgroup.procs write.
echo "lifecycle: clone3 into the cgroup: $(grep -c 'clone3(CLONE_INTO_CGROUP, "/minidocker/lab-life")' /tmp/life.out)"
echo "lifecycle: cgroup.procs writes: $(grep -c 'cgroup.procs' /tmp/life.out)"
[ -d /sys/fs/cgroup/minidocker/lab-life ] && echo "lifecycle: cgroup after create: yes"
echo "lifecycle: cgroup.procs after create: $(wc -l </sys/fs/cgroup/minidocker/lab-life/cgroup.procs)"
rt start lab-life
echo "lifecycle: start exit=$? status=$(status_of lab-life)"
# exec joins the container's namespaces, the cgroup namespace too, and its cgroup.
# shellcheck disable=SC2016 # expanded by the container's sh
rt --explain exec lab-life sh -c 'echo "exec-cgroup: $(cat /proc/self/cgroup)"' >/tmp/exec.out 2>&1
echo "lifecycle: exec exit=$?"
echo "lifecycle: exec cloned into the cgroup: $(grep -c 'clone3(CLONE_INTO_CGROUP, "/minidocker/lab-life")' /tmp/exec.out)"
sed -i '/^\[lesson/d' /tmp/exec.out
sed 's/^/lifecycle-out: /' /tmp/exec.out
echo "lifecycle: cgroup.procs after exec: $(wc -l </sys/fs/cgroup/minidocker/lab-life/cgroup.procs)"
rt kill lab-life KILL
echo "lifecycle: kill exit=$?"
i=0
while [ "$(status_of lab-life)" != stopped ] && [ $i -lt 200 ]; do
  sleep 0.05
  i=$((i + 1))
done
echo "lifecycle: after kill status=$(status_of lab-life)"
rt delete lab-life
echo "lifecycle: delete exit=$?"
rt state lab-life >/dev/null 2>&1 || echo "lifecycle: state after delete: gone"
if [ -e /sys/fs/cgroup/minidocker ]; then
  echo "lifecycle: /sys/fs/cgroup/minidocker holds: $(find /sys/fs/cgroup/minidocker -mindepth 1 -maxdepth 1 -type d | tr '\n' ' ')"
else
  echo "lifecycle: /sys/fs/cgroup/minidocker: absent"
fi
sed 's/^/lifecycle-out: /' /tmp/life.out

# delete --force of a running container: its processes are killed (cgroup.kill) and its cgroup goes.
rt run --detach --bundle "$bundles/lifecycle" lab-force >/dev/null 2>&1 </dev/null
echo "force: status=$(status_of lab-force)"
rt delete --force lab-force
echo "force: delete exit=$? cgroup=$([ -e /sys/fs/cgroup/minidocker/lab-force ] && echo present || echo absent)"
echo "root subtree_control after: [$(cat /sys/fs/cgroup/cgroup.subtree_control)]"
echo "left: $(find /sys/fs/cgroup -type d -name 'lab-*' | tr '\n' ' ')"
# The control for the device check: outside any container, opening 10:229 (/dev/fuse, whose
# module is not loaded) fails, but not with EPERM.
mknod /tmp/lab-fuse c 10 229
echo "control: open 10:229 outside: $(head -c 1 /tmp/lab-fuse 2>&1 >/dev/null)"
echo "done"
