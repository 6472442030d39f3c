#!/usr/bin/env bash
# Gets what tests/vm/run-in-vm.sh needs, once: qemu and cpio from Debian, and a Debian kernel
# unpacked into build/vm/ (the host's /boot is never touched). A quick no-op when all is cached.
#   sudo tests/vm/prepare.sh [--update]   silent when everything is present; --update fetches
#                                         the newest kernel even if one is cached
# Layout it leaves:
#   build/vm/linux-image-VERSION/     the kernel package unpacked with dpkg-deb -x (vmlinuz,
#                                     config, modules for --module), plus boot/vmlinux-RELEASE,
#                                     the uncompressed kernel that qemu boots
#   build/vm/kernel                   a symlink to the one run-in-vm.sh boots
set -euo pipefail

PROJECT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VM_DIR=$PROJECT_DIR/build/vm
packages=(qemu-system-x86 cpio busybox-static)

die() {
  echo "prepare.sh: $*" >&2
  exit 1
}

# 1. Debian packages: qemu-system-x86 (the VM), cpio (the initramfs), busybox-static (its tools).
missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  [[ $(id -u) -eq 0 ]] || die "missing packages: ${missing[*]}; run: sudo apt-get install --no-install-recommends ${missing[*]}"
  echo "prepare.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
fi

# 2. The kernel: the package linux-image-amd64 currently points at, downloaded (not installed).
#    Once one is cached it is used as it is; `prepare.sh --update` fetches a newer one.
if [[ ${1-} != --update ]] && compgen -G "$VM_DIR/kernel/boot/vmlinux-*" >/dev/null &&
  compgen -G "$VM_DIR/kernel/lib/modules/*/modules.dep" >/dev/null; then
  exit 0
fi
package=$(apt-cache depends linux-image-amd64 2>/dev/null |
  sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1)
if [[ -z $package ]]; then
  [[ -e $VM_DIR/kernel/boot ]] && exit 0 # apt knows no kernel now, but one is cached
  die "apt-cache knows no linux-image-amd64 kernel; run: sudo apt-get update"
fi
tree=$VM_DIR/$package
if [[ ! -d $tree/boot ]]; then
  mkdir -p "$VM_DIR"
  echo "prepare.sh: downloading $package into $VM_DIR" >&2
  rm -f "$VM_DIR/$package"_*.deb
  # Three tries. After a failure, stale package lists may name a kernel the mirror no longer
  # has: refresh them and look again; a mirror that failed for a moment gets a pause.
  for try in 1 2 3; do
    (cd "$VM_DIR" && apt-get download -q "$package" >&2) && break
    ((try < 3)) || die "apt-get download $package failed 3 times (no network to the Debian mirror?)"
    echo "prepare.sh: download $try of $package failed; refreshing the package lists and trying again" >&2
    sleep $((try * 3))
    apt-get update -q >&2 || true
    package=$(apt-cache depends linux-image-amd64 2>/dev/null |
      sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1)
    [[ -n $package ]] || die "apt-cache knows no linux-image-amd64 kernel after apt-get update"
    tree=$VM_DIR/$package
  done
  rm -rf "$tree.tmp"
  dpkg-deb -x "$VM_DIR/$package"_*.deb "$tree.tmp"
  mv "$tree.tmp" "$tree"
  rm -f "$VM_DIR/$package"_*.deb
fi
ln -sfn "$package" "$VM_DIR/kernel"

# The vmlinuz is xz-compressed, and decompressing it takes qemu's CPU emulator (tcg) some
# 15 seconds; the plain ELF vmlinux inside boots at once through its PVH entry point.
vmlinuz=$(echo "$tree"/boot/vmlinuz-*)
vmlinux=${vmlinuz/vmlinuz-/vmlinux-}
if [[ ! -s $vmlinux ]]; then
  offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n 1 | cut -d: -f1)
  [[ -n $offset ]] || die "$vmlinuz holds no xz stream; cannot extract vmlinux"
  # xz stops with an error at the bytes that follow the stream; the output is complete.
  tail -c +"$((offset + 1))" "$vmlinuz" | xz -dcq >"$vmlinux.tmp" 2>/dev/null || true
  [[ $(head -c 4 "$vmlinux.tmp") == $'\x7fELF' ]] || die "extracting vmlinux from $vmlinuz failed"
  mv "$vmlinux.tmp" "$vmlinux"
fi

# modules.dep, which --module reads to load dependencies first, is written by depmod when a
# kernel is installed; the downloaded package does not carry it.
release=$(basename "$(echo "$tree"/lib/modules/*)")
if [[ ! -s $tree/lib/modules/$release/modules.dep ]]; then
  busybox depmod -b "$tree" "$release" # busybox's, so kmod need not be installed
fi

# 3. The kernel must have what a pure cgroup v2 run needs built in, since the initramfs holds
#    no modules unless --module asks for one.
config=$(echo "$tree"/boot/config-*)
for option in CONFIG_CGROUPS CONFIG_CGROUP_SCHED CONFIG_FAIR_GROUP_SCHED CONFIG_CFS_BANDWIDTH \
  CONFIG_DEVTMPFS CONFIG_BLK_DEV_INITRD CONFIG_SERIAL_8250_CONSOLE CONFIG_PVH; do
  grep -qx "$option=y" "$config" || die "$config lacks $option=y; this kernel cannot run the VM tests"
done
