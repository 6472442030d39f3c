#!/usr/bin/env bash
# The engine's costs, measured in one run so that the ratios hold (the machine's speed cancels):
#   (a) the floor: unshare --uts --pid --mount --ipc --net --fork chroot ROOTFS /bin/true
#   (b) minidocker run --rm --network none busybox true (our runtime)
#   (c) the same with --runtime runc
#   (d) podman run --rm --network none (Debian's podman, its own storage in a temp dir; the image
#       is our busybox, saved by minidocker and loaded by podman), where it runs here
#   (e) minidocker run --rm busybox true on the default bridge
#   (f) the floor + the kernel's cost of a veth move: (a) plus `ip netns add`, a veth pair, its
#       peer moved into the namespace, an address, the pair and the namespace removed
#   (f2) the same with the peer born in the namespace (`ip link add ... peer name P netns NS`),
#       which is how the engine makes it: no move, so none of the move's wait for the network's
#       RCU readers (synchronize_net). (f) is the issue's yardstick, (f2) the cheaper one.
# (e) and (f) run inside a network namespace of the bench's own (ip netns add lab-bench-...), so
# the bridge, the veths and the iptables rules never touch the machine's. Runs are interleaved
# (a b c d e f a b ...) so a slow moment of the machine hits all alike; medians of N runs.
# Then the memory of M idle detached containers: each one's monitor (minidocker-monitor), its
# VmRSS and its Pss (smaps_rollup; shared pages of the static binary are split among them).
# Targets (issue 9): (b) within 2x of (a); (e) within 1.2x of (f); under 1 MiB per idle container.
# Prints Markdown table rows for tests/bench.sh: | what | figure |. N=20 and M=10 by default.
set -euo pipefail
cd "$(dirname "$0")"
project=$(cd .. && pwd)
N=${N:-20}
M=${M:-10}

if [[ $(id -u) -ne 0 ]]; then
  echo "bench-engine.sh: containers need root; run make bench as root (or with sudo)" >&2
  exit 1
fi
if [[ ! -x $project/build/rootfs/bin/busybox ]]; then
  echo "bench-engine.sh: needs the busybox rootfs: make rootfs" >&2
  exit 1
fi
[[ -x ./minidocker && -x ./minidocker-monitor ]] || make --quiet >&2

work=$(mktemp -d /tmp/lab-bench-engine-XXXXXX)
ns="lab-bench-$$"
netns_made_run_netns=false
mountpoint -q /run/netns || netns_made_run_netns=true
# podman with cgroupfs makes libpod_parent/conmon in every hierarchy and leaves it: it goes with
# the bench if the bench made it.
libpod_made=false
[[ -n $(find /sys/fs/cgroup -maxdepth 2 -name libpod_parent -print -quit) ]] || libpod_made=true
md() { "$project/final/minidocker" --root "$work/engine" "$@"; }
in_ns() { nsenter --net="/run/netns/$ns" -- "$@"; }
cleanup() {
  local ids
  ids=$(in_ns "$project/final/minidocker" --root "$work/engine" ps -aq 2>/dev/null || true)
  # shellcheck disable=SC2086
  [[ -z $ids ]] || in_ns "$project/final/minidocker" --root "$work/engine" rm -f $ids >/dev/null 2>&1 || true
  in_ns "$project/final/minidocker" --root "$work/engine" system prune -f >/dev/null 2>&1 || true
  ip netns del "$ns" 2>/dev/null || true
  ip netns del "$ns-veth" 2>/dev/null || true
  if $netns_made_run_netns && mountpoint -q /run/netns && [[ -z $(ls -A /run/netns) ]]; then
    umount /run/netns && rmdir /run/netns
  fi
  if [[ -d $work/podman/storage ]]; then podman_ system reset -f >/dev/null 2>&1 || true; fi
  if $libpod_made; then
    find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -depth -path '*/libpod_parent*' -type d \
      -exec rmdir {} + 2>/dev/null || true
  fi
  # nothing may stay mounted under the work dir before it goes
  findmnt -rn -o TARGET | grep "^$work" | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

rootfs="$project/build/rootfs"
ip netns add "$ns"
in_ns ip link set lo up
md import "$rootfs" busybox >/dev/null

run_floor() { unshare --uts --pid --mount --ipc --net --fork chroot "$rootfs" /bin/true; }
run_ours() { in_ns "$project/final/minidocker" --root "$work/engine" run --rm --network none busybox true; }
run_runc() { in_ns "$project/final/minidocker" --root "$work/engine" run --rm --network none --runtime runc busybox true; }
# podman with everything of its own under the work dir (as tests/13-runtime-podman.bats sets it
# up): default_ulimits, because podman asks for nofile 1048576 otherwise and raising a hard limit
# needs CAP_SYS_RESOURCE, which root here lacks.
podman_() {
  env CONTAINERS_CONF="$work/podman/containers.conf" CONTAINERS_STORAGE_CONF="$work/podman/storage.conf" \
    CONTAINERS_REGISTRIES_CONF="$work/podman/registries.conf" \
    podman --cgroup-manager cgroupfs --events-backend none "$@"
}
run_podman() { in_ns bash -c "$(declare -f podman_); work=$work; podman_ run --rm --network none --runtime runc busybox true"; }
run_bridge() { in_ns "$project/final/minidocker" --root "$work/engine" run --rm busybox true; }
run_floorveth2() {
  in_ns ip netns add "$ns-veth"
  in_ns ip link add lab-bv0 type veth peer name lab-bv1 netns "$ns-veth"
  ip -n "$ns-veth" addr add 172.30.0.2/16 dev lab-bv1
  ip -n "$ns-veth" link set lab-bv1 up
  nsenter --net="/run/netns/$ns-veth" -- unshare --uts --pid --mount --ipc --fork chroot "$rootfs" /bin/true
  in_ns ip link del lab-bv0
  ip netns del "$ns-veth"
}
run_floorveth() {
  in_ns ip netns add "$ns-veth"
  in_ns ip link add lab-bv0 type veth peer name lab-bv1
  in_ns ip link set lab-bv1 netns "$ns-veth"
  ip -n "$ns-veth" addr add 172.30.0.2/16 dev lab-bv1
  ip -n "$ns-veth" link set lab-bv1 up
  nsenter --net="/run/netns/$ns-veth" -- unshare --uts --pid --mount --ipc --fork chroot "$rootfs" /bin/true
  in_ns ip link del lab-bv0
  ip netns del "$ns-veth"
}

whats=(floor ours)
command -v runc >/dev/null && whats+=(runc)
if command -v podman >/dev/null; then
  mkdir -p "$work/podman/tmp"
  cat >"$work/podman/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=32768:32768"]
[engine]
events_logfile_path = "$work/podman/events.log"
image_copy_tmp_dir = "$work/podman/tmp"
lock_type = "file"
static_dir = "$work/podman/storage/libpod"
tmp_dir = "$work/podman/tmp"
volume_path = "$work/podman/storage/volumes"
[network]
network_config_dir = "$work/podman/net"
CONF
  printf '[storage]\ndriver = "overlay"\nrunroot = "%s/run"\ngraphroot = "%s/storage"\n' \
    "$work/podman" "$work/podman" >"$work/podman/storage.conf"
  touch "$work/podman/registries.conf"
  md save -o "$work/busybox.tar" busybox
  # The copy into storage writes a blob cache under /var/lib/containers whatever the flags say: a
  # tmpfs over /var/lib, in a mount namespace of the load's own, takes it.
  if unshare -m --propagation private bash -c \
    "mount -t tmpfs lab-podman-cache /var/lib && $(declare -f podman_) && work=$work && podman_ load -i $work/busybox.tar" \
    >/dev/null 2>"$work/podman.err" &&
    run_podman >/dev/null 2>>"$work/podman.err"; then
    whats+=(podman)
  else
    podman_error=$(grep -v '^$' "$work/podman.err" | tail -1)
  fi
fi
whats+=(bridge floorveth floorveth2)
# one untimed run of each: the first bridge run makes minidocker0 and its rules
for what in "${whats[@]}"; do "run_$what" >/dev/null; done

declare -A times
for ((i = 0; i < N; i++)); do
  for what in "${whats[@]}"; do
    t0=$EPOCHREALTIME
    "run_$what" >/dev/null
    t1=$EPOCHREALTIME
    times[$what]+="$((${t1/./} - ${t0/./})) "
  done
done

median() {
  tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}
ms() { bc -l <<<"$1 / 1000"; }

declare -A label=(
  [floor]="(a) floor: unshare --uts --pid --mount --ipc --net --fork chroot"
  [ours]="(b) minidocker run --rm --network none busybox true"
  [runc]="(c) minidocker run --rm --network none --runtime runc"
  [podman]="(d) podman run --rm --network none --runtime runc ($(podman --version 2>/dev/null | awk '{ print $3 }'), cgroupfs, overlay)"
  [bridge]="(e) minidocker run --rm busybox true, default bridge"
  [floorveth]="(f) floor + veth: (a) with ip netns add, a veth pair, its peer moved in and addressed"
  [floorveth2]="(f2) floor + veth born inside: (f) with the peer made in the namespace, not moved"
)
floor=$(median "${times[floor]}")
floorveth=$(median "${times[floorveth]}")
floorveth2=$(median "${times[floorveth2]}")
for what in "${whats[@]}"; do
  us=$(median "${times[$what]}")
  case $what in
    floor | floorveth | floorveth2)
      printf '| engine start, median of %d: %s | %.2f ms |\n' "$N" "${label[$what]}" "$(ms "$us")" ;;
    bridge)
      printf '| engine start, median of %d: %s | %.2f ms (%.2fx floor + veth, %.2fx floor + veth born inside, %.2fx floor) |\n' \
        "$N" "${label[$what]}" "$(ms "$us")" "$(bc -l <<<"$us / $floorveth")" \
        "$(bc -l <<<"$us / $floorveth2")" "$(bc -l <<<"$us / $floor")" ;;
    *)
      printf '| engine start, median of %d: %s | %.2f ms (%.2fx floor) |\n' "$N" "${label[$what]}" \
        "$(ms "$us")" "$(bc -l <<<"$us / $floor")" ;;
  esac
done
if [[ -n ${podman_error:-} ]]; then
  echo "| engine start: (d) podman run | refused here: ${podman_error//|/\\|} |"
fi

# M idle detached containers: their monitors' memory.
for ((i = 0; i < M; i++)); do
  in_ns "$project/final/minidocker" --root "$work/engine" run -d --network none busybox sleep 1000 >/dev/null
done
rss=0 pss=0
for state in "$work"/engine/containers/*/state.json; do
  pid=$(jq -r .MonitorPid "$state")
  rss=$((rss + $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")))
  pss=$((pss + $(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup")))
done
printf '| engine: memory of %d idle detached containers (their monitors) | %d kB RSS, %d kB Pss each |\n' \
  "$M" "$((rss / M))" "$((pss / M))"
