#!/usr/bin/env bash
# Lesson 03 the shell way, as the notes did it: copy bash, ls and the libraries `ldd` lists into a
# directory, then `chroot` into it; plus a volume bind-mounted inside `unshare -m` before the
# chroot. Checked like ./mount-chroot: `ls /` inside shows only the rootfs, the host's mount table
# never shows the volume mount, and the file written to /data lands in the volume.
#   sudo ./demo.sh
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: chroot and mount need root; run: sudo ./demo.sh" >&2
  exit 1
fi
if [[ $# -gt 0 ]]; then
  echo "demo.sh: takes no arguments (it builds its rootfs in a new /tmp/lab-demo-rootfs-*)" >&2
  exit 2
fi

T=$(mktemp -d /tmp/lab-demo-rootfs-XXXXXX)
VOL=$(mktemp -d /tmp/lab-demo-volume-XXXXXX)
inner=""
cleanup() {
  # The child holds the bind mount in its own namespace; end it first, then remove the dirs.
  if [[ -n $inner ]]; then
    kill "$inner" 2>/dev/null || true
    wait "$inner" 2>/dev/null || true
  fi
  rm -rf "$T" "$VOL"
}
trap cleanup EXIT

echo "[1/4] mkdir -p \$T/{bin,lib,lib64}; cp -v /bin/{bash,ls} \$T/bin      (T=$T)"
mkdir -p "$T"/{bin,lib,lib64,data}
cp /bin/{bash,ls} "$T/bin"

echo "[2/4] list=\"\$(ldd /bin/bash /bin/ls | grep -Eo '/lib.*\\.[0-9]')\"; for i in \$list; do cp \"\$i\" \"\$T\$i\"; done"
# The notes list only ls's libraries: bash needs libtinfo too. cp needs the target's directory.
mapfile -t list < <(ldd /bin/bash /bin/ls | grep -Eo '/lib.*\.[0-9]' | sort -u)
for i in "${list[@]}"; do
  mkdir -p "$(dirname "$T$i")"
  cp "$i" "$T$i"
done
echo "      copied: ${list[*]}"

echo "[3/4] unshare -m: mount --make-rprivate /; mount --bind \$VOL \$T/data; chroot \$T /bin/bash -c 'ls /; echo ... > /data/lab-from-inside.txt'"
fifo="$VOL/.lab-ready"
mkfifo "$fifo"
# shellcheck disable=SC2016  # $1 and $2 are expanded by the inner sh
unshare -m sh -c '
  mount --make-rprivate / && mount --bind "$1" "$2/data" &&
  chroot "$2" /bin/bash -c "ls /; echo written inside the container > /data/lab-from-inside.txt" >"$1/.lab-ls" &&
  echo ready >"$1/.lab-ready" && exec sleep 60' sh "$VOL" "$T" &
inner=$!
read -r _ <"$fifo"  # the child has mounted, chrooted and written; it is still running
mapfile -t inside <"$VOL/.lab-ls"
echo "      ls / inside: ${inside[*]}"

echo "[4/4] grep \" \$T/data \" /proc/self/mountinfo; cat \$VOL/lab-from-inside.txt   (on the host, child still running)"
leaked=$(grep -c " $T/data " /proc/self/mountinfo || true)
content=$(cat "$VOL/lab-from-inside.txt")
echo "      host mounts at \$T/data: $leaked   file in the volume: \"$content\""

expected=$(cd "$T" && printf '%s ' *)
if [[ "${inside[*]} " == "$expected" && $leaked -eq 0 && $content == "written inside the container" ]]; then
  echo "verdict: HELD - chroot \$T showed only the rootfs (${inside[*]}); the volume mount stayed in unshare -m's namespace and the file written to /data is in \$VOL"
else
  echo "verdict: NOT HELD - ls / inside: ${inside[*]} (rootfs: $expected); host mounts at \$T/data: $leaked; file: \"$content\""
  exit 1
fi
