#!/usr/bin/env bash
# final/'s images as a student first meets them: the busybox rootfs imported as an image, the
# store on disk (one layer, named by its digest), history, save and load in Docker's archive
# format, and a push and pull through a private registry on 127.0.0.1. Each step is checked; the
# last line is the verdict.
#   ./images-demo.sh [ROOTFS]     (as root, or with sudo; ROOTFS defaults to ../build/rootfs)
# Everything lives in a temporary engine root (/var/tmp/lab-images-*) and a temporary registry
# (Debian's docker-registry, on a port the kernel picks); both are removed on every path.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rootfs=${1:-$here/../build/rootfs}

if [[ $(id -u) -ne 0 ]]; then
  echo "images-demo.sh: the image store needs root; run it as root (or with sudo)" >&2
  exit 1
fi
if [[ ! -x $here/minidocker ]]; then
  echo "images-demo.sh: $here/minidocker is missing; build it: make (here or at the top)" >&2
  exit 1
fi
if [[ ! -x $rootfs/bin/busybox ]]; then
  echo "images-demo.sh: $rootfs/bin/busybox is missing; build the rootfs: make rootfs" >&2
  exit 1
fi
if ! command -v docker-registry >/dev/null; then
  echo "images-demo.sh: docker-registry is missing; install it: make deps (at the top)" >&2
  exit 1
fi

work=
registry_pid=
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $registry_pid ]]; then
    kill "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
  fi
  [[ -z $work ]] || rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

work=$(mktemp -d /var/tmp/lab-images-XXXXXX)
root=$work/engine
md() { "$here/minidocker" --root "$root" "$@"; }
indent() { sed -e 's/^/      /'; }
problems=()
expect() {  # expect WHAT ACTUAL WANTED
  [[ $2 == "$3" ]] || problems+=("$1 was \"$2\", not \"$3\"")
}

echo "[1/6] minidocker import ROOTFS busybox:latest      (ROOT = a fresh engine root)"
id=$(md import "$rootfs" busybox:latest)
echo "$id" | indent
config=$(md image inspect busybox | jq -r '.[0].Id')
expect "the image id" "$id" "$config"
blob=$(sha256sum "$root/blobs/sha256/${id#sha256:}" | cut -d' ' -f1)
expect "sha256 of the config blob" "sha256:$blob" "$id"
echo "      the id is the sha256 of the image's config: sha256sum ROOT/blobs/sha256/${id:7:12}… agrees"

echo "[2/6] minidocker images; minidocker history busybox"
md images | indent
md history busybox | indent
expect "the images listed" "$(md images -q)" "${id:7:12}"

echo "[3/6] minidocker import ROOTFS copy:v1    (the same files again: the layer is stored once)"
md import "$rootfs" copy:v1 >/dev/null
layers=$(find "$root/layers" -mindepth 1 -maxdepth 1 -name '[0-9a-f]*' | wc -l)
echo "      ls ROOT/layers: $layers layer for 2 images ($(md images -q | sort -u | wc -l) image ids: the configs differ by their time)"
expect "the layers on disk" "$layers" 1

echo "[4/6] minidocker save -o busybox.tar busybox; minidocker rmi busybox copy:v1; minidocker load -i busybox.tar"
md save -o "$work/busybox.tar" busybox
tar -tf "$work/busybox.tar" | grep -v '^blobs/sha256/.' | sort | tr '\n' ' ' | sed 's/ $//' | indent
echo
md rmi busybox copy:v1 | sed -E 's/sha256:([0-9a-f]{12})[0-9a-f]+/sha256:\1…/' | indent
expect "the layers left after rmi" "$(find "$root/layers" -mindepth 1 -maxdepth 1 -name '[0-9a-f]*' | wc -l)" 0
md load -i "$work/busybox.tar" | indent
expect "the id after save and load" "$(md image inspect busybox | jq -r '.[0].Id')" "$id"

echo "[5/6] docker-registry serve config.yml; minidocker tag busybox REGISTRY/lab/busybox; minidocker push REGISTRY/lab/busybox"
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
if [[ -z $registry ]]; then
  echo "images-demo.sh: the registry did not start" >&2
  exit 1
fi
echo "      REGISTRY = $registry"
md tag busybox "$registry/lab/busybox"
push=$(md push "$registry/lab/busybox")
indent <<<"${push//"$registry"/REGISTRY}"
pushed=$(grep -o 'digest: sha256:[0-9a-f]*' <<<"$push" | cut -d' ' -f2)

echo "[6/6] minidocker rmi REGISTRY/lab/busybox busybox; minidocker pull REGISTRY/lab/busybox"
md rmi "$registry/lab/busybox" busybox >/dev/null
pull=$(md pull "$registry/lab/busybox")
indent <<<"${pull//"$registry"/REGISTRY}"
expect "the digest pulled" "$(grep -o 'Digest: sha256:[0-9a-f]*' <<<"$pull" | cut -d' ' -f2)" "$pushed"
expect "the id after push and pull" "$(md image inspect "$registry/lab/busybox" | jq -r '.[0].Id')" "$id"
if cmp -s "$rootfs/bin/busybox" "$(find "$root/layers" -path '*/diff/bin/busybox')"; then
  same=yes
else
  same=no
fi
expect "the pulled layer's bin/busybox equal to the rootfs's" "$same" yes

if ((${#problems[@]} == 0)); then
  echo "held: one layer stored once for two images, and the image id unchanged through save, load, push and pull (digest ${pushed:7:12}…)"
else
  printf 'did not hold: %s\n' "${problems[@]}"
  exit 1
fi
