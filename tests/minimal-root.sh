#!/usr/bin/env bash
# Runs the README's `make test` on a freshly bootstrapped minimal Debian 12 root, the way a new
# machine would: `debootstrap --variant=minbase bookworm`, then only git and make installed, the
# repository cloned, and `CI=true make test` as root. For a teacher or a CI maintainer to run by
# hand before a release; not part of `make test` (about 9 minutes on 2 cores: 8 min 22 s here).
#   tests/minimal-root.sh [REPO]   REPO: a git checkout; default: the one this script is in.
#                                  Its HEAD is tested (uncommitted changes are not).
# Prints everything the run prints, then the suite's last line ("N passed, N failed, N skipped")
# and how long it took; exits with the suite's status. Needs root, network access to the Debian
# mirror of the host's apt sources, and MINROOT_NEED_MIB of free space in /var/tmp.
#
# The root lives in /var/tmp/lab-minroot-XXXXXX/root and runs in its own mount and PID
# namespaces (unshare), so that it looks like a machine of its own to the suite: the root bound
# onto itself, fresh proc and sysfs, the host's cgroup mounts (rbind /sys/fs/cgroup), the host's
# /dev (rbind, with /dev/pts), tmpfs on /run and /tmp, then pivot_root into it (not chroot:
# lesson 03's chroot escape must land on the minimal root, not on the host). The network
# namespace is the host's (apt needs it; the network tests make their own namespaces). Cgroups
# and anything else machine-wide are the host's too: do not run it while other tests run.
# Whatever happens (failure, Ctrl-C, SIGTERM) everything it made is removed: the namespaces are
# killed with all they run, which drops their mounts, and the directory is deleted.
set -euo pipefail

NEED_MIB=${MINROOT_NEED_MIB:-4096} # measured: 2 GiB at the end of a full run (/tmp is a tmpfs)
SUITE=bookworm

say() { echo "minimal-root.sh: $*"; }
die() {
  echo "minimal-root.sh: $*" >&2
  exit 1
}

[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap, mounts, pivot_root): run it as root (or with sudo)"
repo=${1:-$(dirname "$(readlink -f "$0")")/..}
repo=$(git -C "$repo" rev-parse --show-toplevel 2>/dev/null) || die "$repo is not a git checkout"
free_mib=$(df -Pm /var/tmp | awk 'NR == 2 { print $4 }')
((free_mib >= NEED_MIB)) ||
  die "needs $NEED_MIB MiB free in /var/tmp for the root and its build, has $free_mib MiB"
for cmd in unshare pivot_root git; do
  command -v "$cmd" >/dev/null || die "needs $cmd on this machine (util-linux, git)"
done

# The Debian mirror of the host's apt sources (one-line or deb822 format), for debootstrap.
host_mirror() {
  local files=() f
  [[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && files+=("$f")
  done
  ((${#files[@]})) || return 0
  awk '
    /^[[:space:]]*deb[[:space:]]/ {
      for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) break
      if ($i ~ /debian\/?$/ && $(i + 1) ~ /^(bookworm|stable)$/) { print $i; exit }
    }
    /^URIs:/ { uri = $2 }
    /^Suites:/ && uri ~ /debian\/?$/ && / (bookworm|stable)( |$)/ { print uri; exit }
    /^[[:space:]]*$/ { uri = "" }' "${files[@]}"
}
mirror=${MINROOT_MIRROR:-$(host_mirror)}
mirror=${mirror:-http://deb.debian.org/debian}

start=$SECONDS
elapsed() { printf '%d min %02d s' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)); }

work=$(mktemp -d /var/tmp/lab-minroot-XXXXXX)
root=$work/root
ns_pid=""  # the unshare that runs now, if any
ns_init="" # its child, PID 1 of the namespace

# Kills the namespace and all it runs (unshare --kill-child: its child dies with it, and with
# the PID namespace's init every process in it), waits until it is gone, then deletes the
# directory. Mounts were only ever made inside the namespace, so they die with it.
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  local status=$? i
  trap - EXIT INT TERM
  if [[ -n $ns_pid ]]; then
    kill -KILL "$ns_pid" 2>/dev/null || true
    wait "$ns_pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
      [[ -n $ns_init && -e /proc/$ns_init ]] || break
      kill -KILL "$ns_init" 2>/dev/null || true
      sleep 0.1
    done
  fi
  if grep -qF " $work" /proc/self/mountinfo; then
    say "mounts under $work remain in this namespace; leaving it in place: $(grep -F " $work" /proc/self/mountinfo | awk '{print $5}' | tr '\n' ' ')" >&2
  else
    rm -rf --one-file-system "$work"
    ((status == 0)) || say "stopped (status $status); removed $work and all it ran" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs "$@" in new mount and PID namespaces, in the background so that a signal reaches the trap
# at once; returns its status.
in_namespace() {
  local status=0 i
  unshare --mount --pid --fork --kill-child --propagation private "$@" &
  ns_pid=$!
  for ((i = 0; i < 100; i++)); do
    ns_init=$(awk '{print $1}' "/proc/$ns_pid/task/$ns_pid/children" 2>/dev/null) || true
    [[ -n $ns_init ]] && break
    kill -0 "$ns_pid" 2>/dev/null || break
    sleep 0.05
  done
  wait "$ns_pid" || status=$?
  ns_pid="" ns_init=""
  return "$status"
}

# The commit tested: HEAD now, as a bundle that git inside the root clones (a branch that moves
# during the run does not change what is tested).
branch=$(git -C "$repo" symbolic-ref --short -q HEAD || echo main)
git -C "$repo" bundle create -q "$work/repo.bundle" HEAD
rev=$(git bundle list-heads "$work/repo.bundle" | awk '$2 == "HEAD" { print $1 }')
say "testing ${rev:0:7} of $repo ($(git -C "$repo" log -1 --format=%s "$rev"))"
say "root: $root; mirror: $mirror"

# 1. debootstrap (in its own namespaces too: the proc and sys it mounts die with them).
if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap ||
    {
      apt-get update -q
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap
    }
fi
say "debootstrap --variant=minbase $SUITE"
in_namespace debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  {
    tail -n 20 "$work/debootstrap.log"
    die "debootstrap failed (above: the end of its log)"
  }
say "root bootstrapped after $(elapsed)"

# 2. The host's apt sources (with the keyrings they name), its DNS, and the repository's bundle.
rm -f "$root/etc/apt/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [[ -f $f ]] || continue
  cp "$f" "$root$f"
  sed -n 's/.*[Ss]igned-[Bb]y[:=][[:space:]]*\([^] ]*\).*/\1/p' "$f" | while read -r key; do
    if [[ -f $key && ! -e $root$key ]]; then
      mkdir -p "$root$(dirname "$key")"
      cp "$key" "$root$key"
    fi
  done
done
cp -L --remove-destination /etc/resolv.conf "$root/etc/resolv.conf"
mv "$work/repo.bundle" "$root/root/repo.bundle"
mkdir "$root/.oldroot"

# 3. Inside: the machine-like mounts, pivot_root, then as a new machine's root would.
# shellcheck disable=SC2016 # expanded by the bash in the namespace
setup='
set -euo pipefail
root=$1
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --rbind /sys/fs/cgroup "$root/sys/fs/cgroup"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$root/run"
mkdir -m 1777 "$root/run/lock"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
cd "$root"
pivot_root . .oldroot
exec /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  /bin/bash -c "$2" inside "$3"
'
# shellcheck disable=SC2016 # expanded by the bash in the root
inside='
set -euo pipefail
umount -l /.oldroot
rmdir /.oldroot
t=$SECONDS
echo "== minimal root: apt-get update; apt-get install --no-install-recommends git make"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends git make
echo "== minimal root: git clone; took $((SECONDS - t)) s so far"
cd /root
git -c advice.detachedHead=false clone -q repo.bundle docker-lab
rm repo.bundle
cd docker-lab
git switch -q -c "$1"
echo "== minimal root: CI=true make test (in /root/docker-lab, $(git log -1 --format="%h %s"))"
set +e
CI=true make test
status=$?
echo "== minimal root: make test exited $status after $((SECONDS - t)) s; disk used by the root: $(du -sxm / | cut -f1) MiB"
exit $status
'
# Everything it prints goes to the terminal and to run.log (tee in a process substitution, so
# that in_namespace runs in this shell and the trap knows what to kill).
status=0
exec 3>&1 4>&2 > >(tee "$work/run.log") 2>&1
tee_pid=$!
in_namespace bash -c "$setup" setup "$root" "$inside" "$branch" || status=$?
exec 1>&3 2>&4 3>&- 4>&-
wait "$tee_pid" 2>/dev/null || true
last=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$work/run.log" | tail -n 1) ||
  last="(no summary line; the last line was: $(tail -n 1 "$work/run.log"))"
echo
say "the suite's last line: $last"
say "exit status $status after $(elapsed) in all"
exit "$status"
