#!/usr/bin/env bash
# Throughput of the image store, against `tar -x` of the same bytes on the same filesystem:
#   (a) the floor: tar -x of a 100 MiB layer tar (busybox plus 100 files of 1 MiB of random bytes)
#   (b) minidocker import LAYER.tar            (store the blob, unpack it, write the records)
#   (c) minidocker load -i ARCHIVE             (the docker-save archive `minidocker save` wrote)
#   (d) minidocker pull from a local registry  (Debian's docker-registry on 127.0.0.1)
#   (e) curl of the same layer blob from that registry into tar -x: what the registry's own
#       speed allows a pull (one stream, unpacked as it arrives, nothing hashed or kept)
# Each into an empty engine root, interleaved (a b c d a b c d ...), the median of N runs, in MiB/s
# of layer bytes and as a ratio of time to (a). Our target: within 1.2x of tar. Every copy also
# hashes: sha256 of what it reads (tar does not), which is the price of content addressing.
# Prints Markdown table rows for tests/bench.sh. Needs root, build/rootfs and docker-registry.
set -euo pipefail
cd "$(dirname "$0")"
project=$(cd .. && pwd)
N=${N:-5}

if [[ $(id -u) -ne 0 ]]; then
  echo "bench-images.sh: the store needs root; run make bench as root (or with sudo)" >&2
  exit 1
fi
if [[ ! -x $project/build/rootfs/bin/busybox ]]; then
  echo "bench-images.sh: needs the busybox rootfs: make rootfs" >&2
  exit 1
fi
[[ -x ./minidocker ]] || make --quiet minidocker >&2

# Not /tmp: a tmpfs there would make the floor a memory copy. The engine's own default root is
# on /var/lib, so the bench works beside it.
work=$(mktemp -d /var/tmp/lab-bench-images-XXXXXX)
registry_pid=
cleanup() {
  if [[ -n $registry_pid ]]; then
    kill "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

md() { "$project/final/minidocker" --root "$1" "${@:2}"; }

mkdir -p "$work/tree"
cp -a "$project/build/rootfs/." "$work/tree/"
for i in $(seq 100); do head -c 1M /dev/urandom >"$work/tree/noise-$i"; done
tar -C "$work/tree" -cf "$work/layer.tar" .
mib=$(($(stat -c %s "$work/layer.tar") / 1048576))

md "$work/seed" import "$work/layer.tar" lab/bench:v1 >/dev/null
md "$work/seed" save -o "$work/image.tar" lab/bench:v1

# A registry for the pulls, holding the image once.
mkdir -p "$work/registry"
cat >"$work/registry/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry/storage
http:
  addr: 127.0.0.1:0
EOF
exec {log}< <(exec docker-registry serve "$work/registry/config.yml" 2>&1)
registry_pid=$!
registry=
while IFS= read -r -t 30 -u "$log" line; do
  if [[ $line =~ listening\ on\ (127\.0\.0\.1:[0-9]+) ]]; then
    registry=${BASH_REMATCH[1]}
    break
  fi
done
cat <&"$log" >/dev/null &
exec {log}<&-
[[ -n $registry ]] || {
  echo "bench-images.sh: the registry did not start" >&2
  exit 1
}
md "$work/seed" tag lab/bench:v1 "$registry/lab/bench:v1"
md "$work/seed" push "$registry/lab/bench:v1" >/dev/null
# The image's one layer: the last digest in its manifest (the config's comes first).
layer_blob=$(curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$registry/v2/lab/bench/manifests/v1" | grep -o 'sha256:[0-9a-f]\{64\}' | tail -1)

# ms of one run of "$@", after dropping what the previous run left.
time_ms() {
  local start end
  sync
  start=$(date +%s%N)
  "$@" >/dev/null
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A runs
for ((i = 0; i < N; i++)); do
  rm -rf "$work/x" "$work/r"
  mkdir "$work/x"
  runs[tar]+="$(time_ms tar -C "$work/x" -xf "$work/layer.tar") "
  rm -rf "$work/x"
  runs[import]+="$(time_ms md "$work/r" import "$work/layer.tar" lab/bench:v1) "
  rm -rf "$work/r"
  runs[load]+="$(time_ms md "$work/r" load -q -i "$work/image.tar") "
  rm -rf "$work/r"
  runs[pull]+="$(time_ms md "$work/r" pull -q "$registry/lab/bench:v1") "
  rm -rf "$work/r"
  mkdir "$work/x"
  runs[curl]+="$(time_ms sh -c 'curl -fsS "$1" | tar -C "$2" -xf -' sh \
    "http://$registry/v2/lab/bench/blobs/$layer_blob" "$work/x") "
  rm -rf "$work/x"
done

floor=$(tr ' ' '\n' <<<"${runs[tar]}" | grep . | median)
row() {
  local name=$1 ms
  ms=$(tr ' ' '\n' <<<"${runs[$2]}" | grep . | median)
  awk -v name="$name" -v ms="$ms" -v floor="$floor" -v mib="$mib" 'BEGIN {
    if (ms < 1) ms = 1
    printf "| %s (%d MiB layer) | %.0f MiB/s, %d ms (%.2fx tar) |\n", name, mib, mib * 1000 / ms, ms, ms / floor
  }'
}
row "image store: tar -x (the floor)" tar
row "image store: minidocker import" import
row "image store: minidocker load (docker-save archive)" load
row "image store: minidocker pull (local registry)" pull
row "image store: curl of the blob into tar -x (the registry's floor for pull)" curl
