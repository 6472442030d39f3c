#!/usr/bin/env bats
# pull and push against a real registry: Debian's docker-registry on 127.0.0.1 (tests/registry.bash),
# its storage in this file's temp dir. Each test uses its own engine root, so "rmi, then pull back"
# is a pull into an empty store. Images come from `minidocker import` of the busybox rootfs and
# of small trees the tests build; no other address than 127.0.0.1 is ever contacted.
load helpers
load registry

setup_file() {
  [[ $(id -u) -eq 0 && -x $ROOTFS/bin/busybox && -x ${REGISTRY_BINARY:-/usr/bin/docker-registry} ]] ||
    return 0
  start_registry
}

teardown_file() {
  [[ -n ${REGISTRY_PID:-} ]] && stop_registry
  return 0
}

setup() {
  requires root rootfs cmd:docker-registry cmd:jq
  [[ -n ${REGISTRY:-} ]] || fail "the registry did not start in setup_file"
  ENGINE="$BATS_TEST_TMPDIR/engine"
}

md() { "$PROJECT_DIR/final/minidocker" --root "$ENGINE" "$@"; }

# The blobs the registry holds, as "<hex> <mtime>" lines: a re-upload would rewrite a data file.
registry_blobs() {
  find "$REGISTRY_DIR/storage/docker/registry/v2/blobs" -name data -printf '%h %T@\n' | sort
}

@test "registry: push, rmi, pull back: the same manifest digest, image id and layer tree" {
  md import "$ROOTFS" "$REGISTRY/lab/busybox:v1" >/dev/null
  id=$(md image inspect "$REGISTRY/lab/busybox:v1" | jq -r '.[0].Id')
  run md push "$REGISTRY/lab/busybox:v1"
  assert_success
  assert_line --index 0 "The push refers to repository [$REGISTRY/lab/busybox]"
  assert_line --partial ": Pushed"
  assert_line --regexp '^v1: digest: sha256:[0-9a-f]{64} size: [0-9]+$'
  pushed=$(grep -o 'sha256:[0-9a-f]*' <<<"${lines[-1]}")
  # The push is recorded as Docker records it: RepoDigests, the repository without its tag.
  [[ $(md image inspect "$REGISTRY/lab/busybox:v1" | jq -c '.[0].RepoDigests') == "[\"$REGISTRY/lab/busybox@$pushed\"]" ]]
  # images --digests: Docker's DIGEST column, the digest on the row of its repository's tag.
  run md images --digests "$REGISTRY/lab/busybox"
  assert_success
  assert_line --index 0 --regexp '^REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE$'
  assert_line --index 1 --regexp "^$REGISTRY/lab/busybox +v1 +$pushed +${id:7:12} "
  run md images --digests -q "$REGISTRY/lab/busybox"
  assert_output "${id:7:12}"
  # What the registry now serves under the tag is that manifest, byte for byte.
  served=$(curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REGISTRY/v2/lab/busybox/manifests/v1" | sha256sum | cut -d' ' -f1)
  [[ sha256:$served == "$pushed" ]]
  find "$ENGINE/layers" -mindepth 2 -maxdepth 2 -name diff -exec sh -c 'cd "$1" && find . | sort' _ {} \; >"$BATS_TEST_TMPDIR/before"

  run md rmi "$REGISTRY/lab/busybox:v1"
  assert_success
  run md images -q
  assert_output ""

  run md pull "$REGISTRY/lab/busybox:v1"
  assert_success
  assert_line --index 0 "v1: Pulling from lab/busybox"
  assert_line --partial ": Pull complete"
  assert_line "Digest: $pushed"
  assert_line "Status: Downloaded newer image for $REGISTRY/lab/busybox:v1"
  assert_line --index -1 "$REGISTRY/lab/busybox:v1"
  [[ $(md image inspect "$REGISTRY/lab/busybox:v1" | jq -r '.[0].Id') == "$id" ]]
  [[ $(md image inspect "$REGISTRY/lab/busybox:v1" | jq -c '.[0].RepoDigests') == "[\"$REGISTRY/lab/busybox@$pushed\"]" ]]
  find "$ENGINE/layers" -mindepth 2 -maxdepth 2 -name diff -exec sh -c 'cd "$1" && find . | sort' _ {} \; >"$BATS_TEST_TMPDIR/after"
  diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
  # The pulled layer is the busybox tree itself.
  layer=$(find "$ENGINE/layers" -mindepth 2 -maxdepth 2 -name diff)
  cmp "$ROOTFS/bin/busybox" "$layer/bin/busybox"

  run md pull "$REGISTRY/lab/busybox:v1"
  assert_success
  assert_line --partial ": Already exists"
  assert_line "Status: Image is up to date for $REGISTRY/lab/busybox:v1"
}

@test "registry: a second push uploads no blob twice; a shared base layer is not sent again" {
  md import "$ROOTFS" "$REGISTRY/lab/twice:a" >/dev/null
  md push "$REGISTRY/lab/twice:a" >/dev/null
  before=$(registry_blobs)
  run md push "$REGISTRY/lab/twice:a"
  assert_success
  assert_line --partial ": Layer already exists"
  refute_line --partial ": Pushed"
  [[ $(registry_blobs) == "$before" ]]
  # Another tag of the same image: nothing new to upload either.
  md tag "$REGISTRY/lab/twice:a" "$REGISTRY/lab/twice:b"
  run md push "$REGISTRY/lab/twice:b"
  assert_success
  refute_line --partial ": Pushed"
  [[ $(registry_blobs) == "$before" ]]
}

@test "registry: pull -q prints only the name; pull by digest needs no tag" {
  md import "$ROOTFS" "$REGISTRY/lab/quiet:v1" >/dev/null
  digest=$(md push "$REGISTRY/lab/quiet:v1" | grep -o 'sha256:[0-9a-f]\{64\}')
  rm -rf "$ENGINE"
  run md pull -q "$REGISTRY/lab/quiet:v1"
  assert_success
  assert_output "$REGISTRY/lab/quiet:v1"
  rm -rf "$ENGINE"
  run md pull "$REGISTRY/lab/quiet@$digest"
  assert_success
  assert_line "Digest: $digest"
  run md image inspect "$REGISTRY/lab/quiet:v1"
  assert_failure  # pulled by digest: no tag made
}

@test "registry: a missing tag, a registry that is down, a bad name: one clear line, exit 1" {
  run md pull "$REGISTRY/lab/nothing:here"
  assert_failure 1
  assert_output "Error: manifest for $REGISTRY/lab/nothing:here not found: manifest unknown"
  [[ ! -e $ENGINE/images || -z $(ls "$ENGINE/images") ]]

  # Port 1 (tcpmux): privileged and unused on any machine these tests run on.
  port=1
  run md pull "127.0.0.1:$port/lab/busybox"
  assert_failure 1
  assert_line --index 0 --regexp "^Error: cannot reach registry 127\.0\.0\.1:$port: .*"
  [[ ${#lines[@]} -eq 1 ]]

  run md push "$REGISTRY/lab/not-here:v1"
  assert_failure 1
  assert_output "Error: An image does not exist locally with the tag: $REGISTRY/lab/not-here"

  run md pull "$REGISTRY/Lab/Upper"
  assert_failure
  assert_output --partial "invalid reference format"
}

# push_raw REPO:TAG LAYER DIFF_ID: an image the registry takes as it is, whatever its layer holds
# (our push would refuse to make it): the layer blob, a config naming DIFF_ID, an OCI manifest.
push_raw() {
  local repo=${1%:*} tag=${1##*:} layer=$2 diff_id=$3 config="$BATS_TEST_TMPDIR/raw-config.json"
  printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$diff_id" >"$config"
  local f location sep descriptors=()
  for f in "$config" "$layer"; do
    location=$(curl -fsS -X POST -D - -o /dev/null "http://$REGISTRY/v2/$repo/blobs/uploads/" |
      tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
    [[ $location == http* ]] || location="http://$REGISTRY$location"
    sep='?' && [[ $location == *\?* ]] && sep='&'
    curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$f" \
      "$location${sep}digest=sha256:$(sha256sum "$f" | cut -d' ' -f1)" >/dev/null
    descriptors+=("\"digest\":\"sha256:$(sha256sum "$f" | cut -d' ' -f1)\",\"size\":$(stat -c %s "$f")")
  done
  curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",${descriptors[0]}},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",${descriptors[1]}}]}" \
    "http://$REGISTRY/v2/$repo/manifests/$tag" >/dev/null
}

# The store after a refused pull: no image, no layer, no blob (the pull removes what it stored
# as it fails, the config included), and nothing in tmp/.
assert_nothing_pulled() {
  run md images -q
  assert_output ""
  [[ -z $(ls -A "$ENGINE/layers" | grep -vx l) ]]
  [[ -z $(ls -A "$ENGINE/blobs/sha256") ]]
  [[ -z $(ls -A "$ENGINE/tmp") ]]
}

@test "registry: a corrupted blob, a hostile layer, a wrong diff id: one line each; nothing stays" {
  # 1. The registry's copy of a layer damaged at its first byte: the tar header is broken too,
  #    but the line names the real cause, the digest.
  md import "$ROOTFS" "$REGISTRY/lab/corrupt:v1" >/dev/null
  md push "$REGISTRY/lab/corrupt:v1" >/dev/null
  rm -rf "$ENGINE"
  blob=$(curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REGISTRY/v2/lab/corrupt/manifests/v1" | jq -r '.layers[0].digest')
  data="$REGISTRY_DIR/storage/docker/registry/v2/blobs/sha256/${blob:7:2}/${blob:7}/data"
  printf 'X' | dd of="$data" bs=1 count=1 conv=notrunc status=none
  run md pull "$REGISTRY/lab/corrupt:v1"
  assert_failure 1
  assert_line --index -1 --regexp "^Error: blob $blob from $REGISTRY/lab/corrupt hashes to sha256:[0-9a-f]{64}: refused \(corrupted in the registry or on the way\)\$"
  assert_nothing_pulled

  # 2. A layer with an entry that climbs out: the unpacking's own line, nothing written outside.
  /usr/bin/python3 - "$BATS_TEST_TMPDIR/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for name in ("ok", "../escape"):
        info = tarfile.TarInfo(name)
        info.size = 2
        t.addfile(info, io.BytesIO(b"x\n"))
PY
  evil=sha256:$(sha256sum "$BATS_TEST_TMPDIR/evil.tar" | cut -d' ' -f1)
  push_raw lab/evil:v1 "$BATS_TEST_TMPDIR/evil.tar" "$evil"
  run md pull "$REGISTRY/lab/evil:v1"
  assert_failure 1
  assert_line --index -1 --regexp '^Error: layer entry .*escape climbs out of the layer; refused$'
  [[ -z $(find "$ENGINE" "$BATS_TEST_TMPDIR" -name escape) ]]
  assert_nothing_pulled

  # 3. A sound layer whose config names another diff id.
  tar -C "$ROOTFS" -cf "$BATS_TEST_TMPDIR/good.tar" .
  good=sha256:$(sha256sum "$BATS_TEST_TMPDIR/good.tar" | cut -d' ' -f1)
  wrong=sha256:$(printf '0%.0s' {1..64})
  push_raw lab/mislabelled:v1 "$BATS_TEST_TMPDIR/good.tar" "$wrong"
  run md pull "$REGISTRY/lab/mislabelled:v1"
  assert_failure 1
  assert_line --index -1 "Error: layer $good unpacks to diff id $good, but the image config says $wrong; refused"
  assert_nothing_pulled

  # The same layer under its true diff id is pulled, unpacked once, its tree the rootfs.
  push_raw lab/mislabelled:v2 "$BATS_TEST_TMPDIR/good.tar" "$good"
  run md pull -q "$REGISTRY/lab/mislabelled:v2"
  assert_success
  [[ $(ls "$ENGINE/layers" | grep -vx l) == "${good#sha256:}" ]]
  cmp "$ROOTFS/bin/busybox" "$ENGINE/layers/${good#sha256:}/diff/bin/busybox"
  [[ -z $(ls -A "$ENGINE/tmp") ]]
}

@test "registry: a pull SIGKILLed mid-download leaves no image, and the next pull works" {
  requires cmd:tc
  # A 6 MiB layer of random bytes, pushed at full speed.
  mkdir -p "$BATS_TEST_TMPDIR/big"
  cp -a "$ROOTFS/." "$BATS_TEST_TMPDIR/big/"
  head -c 6M /dev/urandom >"$BATS_TEST_TMPDIR/big/noise"
  md import "$BATS_TEST_TMPDIR/big" "$REGISTRY/lab/big:v1" >/dev/null
  md push "$REGISTRY/lab/big:v1" >/dev/null
  rm -rf "$ENGINE"
  # The pull runs in a network namespace of its own whose loopback is held to 1 Mbit/s by a
  # token bucket (tc tbf), talking to a second registry on that same loopback over the same
  # storage: the download takes ~50 s, so the kill lands mid-blob whatever the machine's speed.
  cat >"$BATS_TEST_TMPDIR/slow.sh" <<EOF
set -e
# A 1500-byte MTU and a 16 KB bucket: tbf drops any packet larger than its burst, and loopback's
# own 64 KiB packets would all be dropped.
ip link set lo up mtu 1500
tc qdisc add dev lo root tbf rate 1mbit burst 16kb latency 1s
sed 's/^  addr: .*/  addr: 127.0.0.1:5999/' "$REGISTRY_DIR/config.yml" >"$BATS_TEST_TMPDIR/slow.yml"
${REGISTRY_BINARY:-/usr/bin/docker-registry} serve "$BATS_TEST_TMPDIR/slow.yml" >"$BATS_TEST_TMPDIR/slow.log" 2>&1 &
registry=\$!
trap 'kill \$registry; wait \$registry || true' EXIT
for _ in \$(seq 100); do curl -fs http://127.0.0.1:5999/v2/ >/dev/null && break; sleep 0.1; done
"$PROJECT_DIR/final/minidocker" --root "$ENGINE" pull 127.0.0.1:5999/lab/big:v1 >"$BATS_TEST_TMPDIR/pull.out" 2>&1 &
echo \$! >"$BATS_TEST_TMPDIR/pull.pid"
wait \$! || true
EOF
  unshare -n bash "$BATS_TEST_TMPDIR/slow.sh" 3>&- &
  outer=$!
  # Wait (bounded) until the blob is half-way: a staging file with some bytes in it.
  for _ in $(seq 600); do
    staged=$(find "$ENGINE/tmp" -type f -name blob -size +64k 2>/dev/null | head -1)
    [[ -n $staged ]] && break
    sleep 0.1
  done
  [[ -n $staged ]] || fail "the pull never started its download: $(cat "$BATS_TEST_TMPDIR/pull.out")"
  kill -9 "$(cat "$BATS_TEST_TMPDIR/pull.pid")"
  wait "$outer"
  # No image, no tag; only staging garbage, which the next writer clears.
  run md images -q
  assert_success
  assert_output ""
  [[ -z $(ls "$ENGINE/images") ]]
  run md pull "$REGISTRY/lab/big:v1"
  assert_success
  [[ -z $(ls -A "$ENGINE/tmp") ]]
  cmp "$BATS_TEST_TMPDIR/big/noise" "$(find "$ENGINE/layers" -path '*/diff/noise')"
}

@test "images-demo.sh holds, and leaves no engine root, registry or temp dir behind" {
  requires cmd:docker-registry
  before=$(ls -d /var/tmp/lab-images-* 2>/dev/null || true)
  run "$PROJECT_DIR/final/images-demo.sh"
  assert_success
  assert_line --index -1 --regexp '^held: one layer stored once for two images, and the image id unchanged through save, load, push and pull \(digest [0-9a-f]{12}…\)$'
  [[ $(ls -d /var/tmp/lab-images-* 2>/dev/null || true) == "$before" ]]
  # Only the registry this file started is running.
  [[ $(pgrep -c -x docker-registry) -eq 1 ]]
}
