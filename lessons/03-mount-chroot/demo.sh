#!/usr/bin/env bash
# Lesson 03 the shell way, as the notes did it: copy bash, ls and the libraries `ldd` lists into a
# directory, then `chroot` into it; plus a volume bind-mounted inside `unshare -m` before the
# chroot. Checked like ./mount-chroot: `ls /` inside shows only the rootfs, the host's mount table
# never shows the volume mount, and the file written to /data lands in the volume.
#   ./demo.sh            as root (or with sudo)
#   ./demo.sh --pause    the same, stopping before the end so you can look at the child's mounts
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: chroot and mount need root; run it as root (or with sudo): ./demo.sh" >&2
  exit 1
fi
pause=0
if [[ $# -eq 1 && $1 == --pause ]]; then
  pause=1
elif [[ $# -gt 0 ]]; then
  echo "demo.sh: takes no arguments but --pause (it builds its rootfs in a new \$TMPDIR/lab-demo-rootfs-*)" >&2
  exit 2
fi

# mktemp --tmpdir honours TMPDIR, as ./mount-chroot does; /tmp otherwise.
T=$(mktemp -d --tmpdir lab-demo-rootfs-XXXXXX)
VOL=$(mktemp -d --tmpdir lab-demo-volume-XXXXXX)
inner=""
cleanup() {
  # The child holds the bind mount in its own namespace; end it first, then remove the dirs.
  # SIGKILL: unshare --fork blocks SIGTERM and SIGINT while it waits for its child.
  if [[ -n $inner ]]; then
    kill -KILL "$inner" 2>/dev/null || true
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
ready="$VOL/.lab-ready"
# The child dies with us: setpriv gives unshare a parent-death signal, and --kill-child gives one
# to the sh that unshare forks (the mount namespace goes with the last process in it). It stays
# (sleeping) so that step 4 looks at the host while the child's mount still exists.
# shellcheck disable=SC2016  # $1 and $2 are expanded by the inner sh
setpriv --pdeathsig KILL -- unshare -m --fork --kill-child sh -c '
  mount --make-rprivate / && mount --bind "$1" "$2/data" &&
  chroot "$2" /bin/bash -c "ls /; echo written inside the container > /data/lab-from-inside.txt" >"$1/.lab-ls" &&
  echo ready >"$1/.lab-ready" && exec sleep 600' sh "$VOL" "$T" &
inner=$!
# Wait for the child to be ready, never without a bound: at most 20 s, and not a moment longer
# once it has died (a failed mount or chroot never writes the file).
child_alive() {
  local state
  state=$(cut -d' ' -f3 "/proc/$inner/stat" 2>/dev/null) && [[ $state != Z ]]
}
for ((tries = 0; tries < 200; tries++)); do
  [[ -s $ready ]] && break
  child_alive || break
  sleep 0.1
done
if [[ ! -s $ready ]]; then
  if child_alive; then
    echo "demo.sh: the child in unshare -m was not ready after 20 s; giving up" >&2
  else
    status=0
    wait "$inner" || status=$?
    inner=""
    echo "demo.sh: the child in unshare -m ended (exit $status) before it was ready; its error is above" >&2
    capeff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
    if ((((0x$capeff >> 21) & 1) == 0)); then  # bit 21: CAP_SYS_ADMIN
      echo "demo.sh: this shell lacks CAP_SYS_ADMIN, which unshare -m and mount need (capsh --print shows what it has)" >&2
    fi
    if findmnt -n -o OPTIONS -T "$T" | grep -qw noexec; then
      echo "demo.sh: $T is on a file system mounted noexec, so nothing in the rootfs can run; point TMPDIR at a directory that allows exec, e.g. TMPDIR=/var/tmp ./demo.sh" >&2
    fi
  fi
  exit 1
fi
mapfile -t inside <"$VOL/.lab-ls"
echo "      ls / inside: ${inside[*]}"

echo "[4/4] grep \" \$T/data \" /proc/self/mountinfo; cat \$VOL/lab-from-inside.txt   (on the host, child still running)"
leaked=$(grep -c " $T/data " /proc/self/mountinfo || true)
content=$(cat "$VOL/lab-from-inside.txt")
echo "      host mounts at \$T/data: $leaked   file in the volume: \"$content\""

expected=$(cd "$T" && printf '%s ' *)
if ((pause)); then
  echo "      paused: the child (PID $inner) still holds the volume $VOL at \$T/data, which findmnt -N $inner shows from another terminal. Enter ends the demo."
  read -r _ || true
fi
if [[ "${inside[*]} " == "$expected" && $leaked -eq 0 && $content == "written inside the container" ]]; then
  echo "verdict: HELD - chroot \$T showed only the rootfs (${inside[*]}); the volume mount stayed in unshare -m's namespace and the file written to /data is in \$VOL"
else
  echo "verdict: NOT HELD - ls / inside: ${inside[*]} (rootfs: $expected); host mounts at \$T/data: $leaked; file: \"$content\""
  exit 1
fi
