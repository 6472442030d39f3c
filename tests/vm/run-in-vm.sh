#!/usr/bin/env bash
# Runs one program in a throwaway virtual machine (KVM where it can, else qemu's tcg) whose only
# cgroup hierarchy is cgroup v2, as students have on current Debian, Ubuntu and Fedora.
#
#   sudo tests/vm/run-in-vm.sh [OPTIONS] BINARY [ARGS...]
#     --timeout SECONDS   power the VM off and fail (exit 124) after this long (default 120)
#     --module NAME       load kernel module NAME (and what it depends on) before BINARY (repeatable)
#     --add PATH          copy host file or directory PATH into the VM at the same path (repeatable)
#     --add-program PATH  copy host program PATH and every library ldd names for it (repeatable)
#     --add-library NAME  copy the host's shared library NAME (a soname such as libarchive.so.13,
#                         found by ldconfig) and every library ldd names for it: for a library a
#                         program dlopens, which ldd does not name (repeatable)
#     --accel auto|kvm|tcg  how qemu runs the VM (default auto: kvm where it can boot a stock
#                         kernel, else tcg, qemu's slower CPU emulator; see README.md)
#     --verbose           also show the kernel's boot messages and the init script's, on stderr
#
# It prints what BINARY writes to stdout on stdout and what it writes to stderr on stderr, and
# exits with BINARY's exit code. How: a Debian kernel (fetched into build/vm/ by prepare.sh) boots
# under qemu with an initramfs holding busybox, BINARY at the same absolute path, and every
# shared library `ldd BINARY` names. The VM's init (init.sh beside this script) mounts proc,
# sysfs, devtmpfs and cgroup2 alone at /sys/fs/cgroup (cgroup_no_v1=all), runs BINARY, prints
# a marker line with its exit code on the serial console and powers off. Nothing else is shared
# with the host: no disk, no network, no host paths except what --add copies in.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(cd "$HERE/../.." && pwd)
VM_DIR=$PROJECT_DIR/build/vm
me=run-in-vm.sh

die() {
  echo "$me: $*" >&2
  exit 1
}
usage() {
  sed -n '5,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

timeout=120
verbose=0
accel=${LAB_VM_ACCEL:-auto}
modules=()
adds=()
programs=()
while (($# > 0)); do
  case $1 in
    --timeout)
      [[ ${2-} =~ ^[1-9][0-9]*$ ]] || { echo "$me: --timeout needs a whole number of seconds > 0, got '${2-}'" >&2; exit 2; }
      timeout=$2
      shift 2
      ;;
    --module)
      [[ ${2-} =~ ^[A-Za-z0-9_-]+$ ]] || { echo "$me: --module needs a module name like overlay, got '${2-}'" >&2; exit 2; }
      modules+=("$2")
      shift 2
      ;;
    --add)
      [[ -n ${2-} && -e ${2-} ]] || { echo "$me: --add needs an existing host path, got '${2-}'" >&2; exit 2; }
      adds+=("$(realpath -s "$2")")
      shift 2
      ;;
    --add-program)
      [[ -n ${2-} && -f ${2-} && -x ${2-} ]] || { echo "$me: --add-program needs an executable host file, got '${2-}'" >&2; exit 2; }
      programs+=("$(realpath -s "$2")")
      shift 2
      ;;
    --add-library)
      lib=$(ldconfig -p | awk -v n="${2-}" '$1 == n && /x86-64/ { print $NF; exit }')
      [[ -n ${2-} && -n $lib && -f $lib ]] || { echo "$me: --add-library needs a library ldconfig -p knows, got '${2-}'" >&2; exit 2; }
      programs+=("$lib")
      shift 2
      ;;
    --accel)
      [[ ${2-} =~ ^(auto|kvm|tcg)$ ]] || { echo "$me: --accel must be auto, kvm or tcg, got '${2-}'" >&2; exit 2; }
      accel=$2
      shift 2
      ;;
    --verbose) verbose=1 && shift ;;
    -h | --help) usage && exit 0 ;;
    --) shift && break ;;
    -*) echo "$me: unknown option '$1'; see $me --help" >&2 && exit 2 ;;
    *) break ;;
  esac
done
(($# > 0)) || { echo "$me: no BINARY given; usage: $me [--timeout SECONDS] BINARY [ARGS...]" >&2; exit 2; }

# The program: a path, or a name looked up on PATH like a shell would.
if [[ $1 == */* ]]; then
  binary=$(realpath -s "$1")
else
  binary=$(command -v -- "$1" || true)
  [[ $binary == /* ]] || die "BINARY '$1' not found on PATH"
fi
[[ -f $binary ]] || die "BINARY '$1' does not exist"
[[ -x $binary ]] || die "BINARY '$1' is not executable"
shift

# What the VM needs from the host, each missing piece named with the way to get it.
# KVM from the kvm_pvm module (cloud VMs without nested virtualisation) runs only guest kernels
# built for PVM; the stock Debian kernel hangs there before its first message, so auto falls
# back to tcg on such hosts.
kvm_problem=""
if [[ ! -e /dev/kvm ]]; then
  kvm_problem="/dev/kvm is missing: this machine offers no KVM (enable virtualisation in the BIOS or hypervisor, or load kvm_intel/kvm_amd)"
elif [[ ! -r /dev/kvm || ! -w /dev/kvm ]]; then
  kvm_problem="/dev/kvm is not usable by $(id -un); run as root or join the kvm group"
elif [[ -d /sys/module/kvm_pvm ]]; then
  kvm_problem="/dev/kvm here is PVM (kvm_pvm), which boots only PVM-enabled guest kernels, not Debian's; use --accel tcg"
fi
case $accel in
  kvm) [[ -z $kvm_problem ]] || die "$kvm_problem" ;;
  auto) [[ -z $kvm_problem ]] && accel=kvm || accel=tcg ;;
esac
"$HERE/prepare.sh" || die "prepare.sh failed; the VM needs qemu-system-x86, cpio and a kernel in build/vm"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing; run: sudo apt-get install --no-install-recommends qemu-system-x86"
command -v cpio >/dev/null || die "cpio is missing; run: sudo apt-get install cpio"
busybox=$(command -v busybox || true)
if [[ -z $busybox ]] || ldd "$busybox" >/dev/null 2>&1; then
  die "a static busybox is missing; run: sudo apt-get install busybox-static"
fi
kernel_tree=$VM_DIR/kernel
vmlinux=$(echo "$kernel_tree"/boot/vmlinux-*)
[[ -f $vmlinux ]] || die "no kernel in $kernel_tree/boot; run: sudo tests/vm/prepare.sh"

# Everything temporary lives in one directory, and one trap removes it and stops our own qemu
# (by its PID, never by name), whether we finish, fail, time out or get Ctrl-C.
tmp=$(mktemp -d /tmp/lab-vm.XXXXXX)
qemu_pid=""
timer_pid=""
errcat_pid=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  local pid
  for pid in "$qemu_pid" "$timer_pid" "$errcat_pid"; do
    if [[ -n $pid ]]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "$me: interrupted; VM stopped" >&2; exit 130' INT
trap 'exit 143' TERM HUP

# --- The initramfs -------------------------------------------------------------------------
root=$tmp/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,lab}
cp "$busybox" "$root/bin/busybox"
# (init.sh runs `busybox --install -s` in the VM, which links every applet that no file from
# here already occupies: BINARY wins over an applet of the same name.)
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

# copy_in PATH: the host file at the same path in the VM, following symlinks.
copy_in() {
  mkdir -p "$root$(dirname "$1")"
  cp -L --remove-destination "$1" "$root$1"
}
# copy_with_libraries FILE: FILE and every library ldd resolves for it, at their host paths,
# plus the dynamic loader (the line without "=>"). A static binary or a script has none.
copy_with_libraries() {
  local line lib
  copy_in "$1"
  # Its debug information is of no use in the VM and would cost its memory, as the initramfs is
  # unpacked into RAM: final/minidocker (-O2 -g) is about 150 MB with it. (A script: no ELF.)
  strip --strip-debug "$root$1" 2>/dev/null || true
  while read -r line; do
    case $line in
      *"=> not found"*) die "ldd $1: ${line%% =>*} not found on the host" ;;
      *"=> /"*) lib=${line#*=> } ;;
      /*) lib=$line ;;
      *) continue ;; # linux-vdso.so.1 lives in the kernel
    esac
    copy_in "${lib%% (0x*}"
  done < <(ldd "$1" 2>/dev/null || true)
}
copy_with_libraries "$binary"
for path in "${programs[@]}"; do copy_with_libraries "$path"; done
for path in "${adds[@]}"; do
  mkdir -p "$root$(dirname "$path")"
  cp -a "$path" "$root$(dirname "$path")/"
done

# Modules for --module, with what modules.dep says each needs, dependencies first.
kernel_release=$(basename "$(dirname "$(echo "$kernel_tree"/lib/modules/*/modules.dep)")")
moddir=$kernel_tree/lib/modules/$kernel_release
: >"$root/lab/modules"
add_module() { # add_module RELATIVE_PATH (as modules.dep writes it)
  local rel=$1 dep deps
  grep -qxF "/lib/modules/$kernel_release/$rel" "$root/lab/modules" && return 0
  deps=$(sed -n "s|^${rel//./\\.}: *||p" "$moddir/modules.dep")
  for dep in $deps; do add_module "$dep"; done
  mkdir -p "$root/lib/modules/$kernel_release/$(dirname "$rel")"
  cp "$moddir/$rel" "$root/lib/modules/$kernel_release/$rel"
  echo "/lib/modules/$kernel_release/$rel" >>"$root/lab/modules"
}
for name in "${modules[@]}"; do
  rel=$(grep -E "(^|/)(${name}|${name//_/-})\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -n 1 | cut -d: -f1 || true)
  [[ -n $rel ]] || die "--module $name: no such module in $moddir (built into the kernel, or misspelled?)"
  add_module "$rel"
done

# The command, as a shell line init.sh sources: each argument single-quoted.
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
  printf 'set --'
  for arg in "$binary" "$@"; do printf ' %s' "$(quote "$arg")"; done
  printf '\n'
} >"$root/lab/command"
cp "$HERE/init.sh" "$root/init"
chmod 755 "$root/init"
(cd "$root" && find . -print0 | cpio --null --create --format=newc --quiet | gzip -1) >"$tmp/initramfs.gz"

# --- The VM ----------------------------------------------------------------------------------
# ttyS0 (qemu's stdout) carries the console and BINARY's stdout; ttyS1 carries its stderr,
# through a FIFO so it reaches our stderr as it is written.
loglevel="quiet loglevel=1"
((verbose)) && loglevel=""
cmdline="console=ttyS0 panic=-1 mitigations=off cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 $loglevel lab.verbose=$verbose"
if [[ $accel == kvm ]]; then
  accel_args=(-enable-kvm -cpu host)
else
  accel_args=(-accel "tcg,thread=multi" -cpu max)
fi

# Show the console while it grows: lines between the markers are BINARY's stdout; the exit
# marker may follow a last line that had no newline. Everything else is boot noise.
filter_console() {
  tail -n +1 -s 0.05 -f --pid="$qemu_pid" "$tmp/console" | awk -v verbose="$verbose" -v rcfile="$tmp/rc" '
    { sub(/\r$/, "") }
    state == 0 && /@@lab-vm-begin@@$/ { state = 1; next }
    state == 1 && match($0, /@@lab-vm-exit=[0-9]+@@$/) {
      printf "%s", substr($0, 1, RSTART - 1); fflush()
      print substr($0, RSTART + 14, RLENGTH - 16) > rcfile; close(rcfile)
      state = 2; next
    }
    state == 1 { print; fflush(); next }
    verbose == 1 { print > "/dev/stderr"; fflush("/dev/stderr") }'
}

# boot: one run of the VM, within the time left. Returns 0 when BINARY's exit code came back
# (in $tmp/rc), 124 on timeout, 1 when the VM stopped without one.
boot() {
  rm -f "$tmp/stderr" "$tmp/rc"
  mkfifo "$tmp/stderr"
  cat "$tmp/stderr" >&2 &
  errcat_pid=$!
  ((verbose)) && echo "$me: booting $(basename "$vmlinux") with $accel" >&2
  qemu-system-x86_64 "${accel_args[@]}" -smp 2 -m 512M \
    -nographic -monitor none -no-reboot -nic none \
    -kernel "$vmlinux" -initrd "$tmp/initramfs.gz" -append "$cmdline" \
    -serial stdio -serial "file:$tmp/stderr" \
    </dev/null >"$tmp/console" 2>"$tmp/qemu.err" &
  qemu_pid=$!
  sleep "$((timeout - (SECONDS - started)))" &
  timer_pid=$!
  filter_console &
  local filter_pid=$! timed_out=0
  qemu_status=0
  wait -n "$qemu_pid" "$timer_pid" || true
  if ! kill -0 "$qemu_pid" 2>/dev/null; then
    wait "$qemu_pid" && qemu_status=0 || qemu_status=$?
  else
    kill "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
    timed_out=1
  fi
  qemu_pid=""
  wait "$filter_pid" || true
  kill "$timer_pid" 2>/dev/null || true
  wait "$timer_pid" 2>/dev/null || true
  timer_pid=""
  # If qemu never opened the stderr FIFO, cat still waits in open(): a moment's writer ends it.
  exec 3<>"$tmp/stderr" && exec 3>&-
  wait "$errcat_pid" || true
  errcat_pid=""
  ((timed_out)) && return 124
  [[ -s $tmp/rc ]] || return 1
}

started=$SECONDS
status=0
boot || status=$?
# A kernel that stopped before it ran /init (a boot that failed under emulation) gets one more
# boot; once BINARY has started, its result stands, whatever it is.
if ((status == 1)) && ! grep -q '@@lab-vm-begin@@' "$tmp/console" && ((SECONDS - started < timeout)); then
  echo "$me: the VM stopped before its /init ran (qemu status $qemu_status); booting it again. Its last console lines:" >&2
  tail -n 15 "$tmp/console" "$tmp/qemu.err" >&2
  status=0
  boot || status=$?
fi
if ((status == 124)); then
  echo "$me: timed out after ${timeout}s; VM stopped (use --timeout to allow longer)" >&2
  exit 124
fi
if ((status != 0)); then
  echo "$me: the VM stopped without reporting an exit code (qemu status $qemu_status); last console lines:" >&2
  tail -n 15 "$tmp/console" "$tmp/qemu.err" >&2
  exit 1
fi
((verbose)) && echo "$me: VM ran for $((SECONDS - started))s" >&2
exit "$(cat "$tmp/rc")"
