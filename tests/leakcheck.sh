#!/usr/bin/env bash
# What a lesson could leave behind on the host, listed one item a line so that two snapshots can
# be compared: mounts, network namespaces, network links, cgroups, firewall rules, namespaces still
# held by some process, and processes running the project's binaries or its rootfs.
#   leakcheck.sh snapshot > before
#   leakcheck.sh compare before after     # prints what is new in after; exit 1 if anything is
set -uo pipefail

project_dir=$(cd "$(dirname "$0")/.." && pwd)

snapshot() {
  # /run/netns itself is left out: the first `ip netns add` after boot makes it a mount (bound
  # onto itself) and iproute2 keeps it for good; the namespaces mounted under it are listed.
  awk '$5 != "/run/netns" { for (i = 7; $i != "-"; i++); print "mount " $5 " " $(i + 1) }' \
    /proc/self/mountinfo
  ip netns list 2>/dev/null | awk '{print "netns " $1}'
  find /run/netns -mindepth 1 -maxdepth 1 -printf 'netns-file %f\n' 2>/dev/null
  ip -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print "link " $2 }'
  find /sys/fs/cgroup -mindepth 1 -maxdepth 5 -type d 2>/dev/null | sed 's/^/cgroup /'
  if command -v iptables >/dev/null; then
    for table in filter nat mangle; do
      iptables -t "$table" -S 2>/dev/null | sed "s/^/iptables-$table /"
    done
  fi
  local pid exe ns
  for pid in /proc/[0-9]*; do
    [[ ${pid#/proc/} == "$$" || ${pid#/proc/} == "$BASHPID" ]] && continue
    exe=$(readlink "$pid/exe" 2>/dev/null) || continue
    case $exe in
      "$project_dir"/*) echo "process $exe (pid ${pid#/proc/})" ;;
    esac
    for ns in "$pid"/ns/{mnt,uts,pid,net,ipc,cgroup}; do
      readlink "$ns" 2>/dev/null | sed 's/^/namespace /'
    done
  done
}

case ${1:-} in
  snapshot) snapshot | sort -u ;;
  compare)
    new=$(comm -13 <(sort -u "$2") <(sort -u "$3"))
    if [[ -n $new ]]; then
      echo "left behind:"
      printf '%s\n' "$new" | sed 's/^/  /'
      exit 1
    fi
    ;;
  *) echo "usage: leakcheck.sh snapshot | compare BEFORE AFTER" >&2; exit 2 ;;
esac
