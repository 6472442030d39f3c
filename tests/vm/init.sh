#!/bin/busybox sh
# shellcheck shell=dash
# /init of the VM that tests/vm/run-in-vm.sh boots. It runs twice:
#   1. from the initramfs: copies itself and everything else into a tmpfs and switch_root's
#      there, because the initramfs root can never be pivot_root'ed away (EINVAL) and lessons
#      that pivot_root need a real mount as /;
#   2. as PID 1 on the tmpfs: mounts the kernel filesystems, cgroup2 alone at /sys/fs/cgroup
#      (the kernel was booted with cgroup_no_v1=all, so no v1 hierarchy can exist), runs the
#      command in /lab/command with stdout on ttyS0 (the console) and stderr on ttyS1, prints
#      "@@lab-vm-exit=CODE@@" and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
busybox=/bin/busybox

if [ "$1" != stage2 ]; then
  $busybox mkdir -p /newroot
  $busybox mount -t tmpfs -o mode=0755 lab-root /newroot
  for entry in /*; do
    [ "$entry" = /newroot ] || $busybox cp -a "$entry" /newroot/
  done
  exec $busybox switch_root /newroot /init stage2
fi

# Every busybox applet (sh, mount, poweroff, insmod ...) as a link, except where run-in-vm.sh
# put a file of that name (BINARY, its libraries, --add paths): existing files are kept.
$busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# From here on every write to a serial port opens the port for itself and closes it after. The
# last close of a serial tty waits until its bytes have left the UART, so what was written is on
# the host before the VM powers off. init therefore keeps no console open itself.
exec </dev/null >/dev/null 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
hostname vm
# The serial ports would turn each \n into \r\n (the tty's onlcr); pass bytes unchanged. The
# setting outlives the close: a serial port keeps its termios from one open to the next.
stty -F /dev/ttyS0 -opost
stty -F /dev/ttyS1 -opost
ip link set lo up 2>/dev/null
verbose=0
grep -q 'lab.verbose=1' /proc/cmdline && verbose=1

while read -r module; do
  [ -n "$module" ] || continue
  [ $verbose = 1 ] && echo "init: insmod $module" >/dev/ttyS0
  insmod "$module" || echo "init: insmod $module failed" >/dev/ttyS1
done </lab/modules

# shellcheck source=/dev/null # written by run-in-vm.sh: set -- BINARY ARGS...
. /lab/command
cd /tmp || exit 1
# stdout and stderr are pipes, as they are when run-in-vm.sh runs under a test, not the
# console's terminal (so lessons print no colour). The console adds no \r then either.
mkfifo /tmp/lab-out /tmp/lab-err
cat /tmp/lab-out >/dev/ttyS0 &
out_pid=$!
cat /tmp/lab-err >/dev/ttyS1 &
err_pid=$!
printf "\n@@lab-vm-begin@@\n" >/dev/ttyS0 # a line of its own, whatever came before
"$@" >/tmp/lab-out 2>/tmp/lab-err </dev/null
rc=$?
wait $out_pid $err_pid
rm -f /tmp/lab-out /tmp/lab-err
echo "@@lab-vm-exit=$rc@@" >/dev/ttyS0 # returns once the line has left the UART
sync
poweroff -f
