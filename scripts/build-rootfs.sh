#!/usr/bin/env bash
# Builds a busybox root filesystem from Debian's busybox-static: one static binary, a link for
# each applet where busybox expects it (bin/sh, bin/ps, usr/bin/...), the directories a container
# mounts things on, and a minimal /etc. What `docker export` of the busybox image would give.
#   scripts/build-rootfs.sh build/rootfs
set -euo pipefail

out=${1:?usage: build-rootfs.sh OUTPUT_DIR}
busybox=/bin/busybox
if [[ ! -x $busybox ]]; then
  echo "build-rootfs: $busybox is missing; run: sudo apt-get install busybox-static" >&2
  exit 1
fi
if ldd "$busybox" >/dev/null 2>&1; then
  echo "build-rootfs: $busybox is dynamically linked; install busybox-static, not busybox" >&2
  exit 1
fi

tmp="$out.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
mkdir -p "$tmp"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,root,data,var/www}
chmod 1777 "$tmp/tmp"
cp "$busybox" "$tmp/bin/busybox"
# --list-full prints each applet with its usual place: bin/sh, usr/bin/top, sbin/ifconfig ...
while read -r applet; do
  [[ $applet == bin/busybox ]] && continue
  rel=$(dirname "$applet" | sed 's|[^/][^/]*|..|g')
  ln -sf "$rel/bin/busybox" "$tmp/$applet"
done < <("$busybox" --list-full)

cat >"$tmp/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$tmp/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
cat >"$tmp/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
HOSTS
echo lab >"$tmp/etc/hostname"
echo "hello from the lab rootfs" >"$tmp/var/www/index.html"

rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "build-rootfs: $out ($(find "$out" -type l | wc -l) applets, busybox $("$out/bin/busybox" | head -1 | awk '{print $2}'))"
