# Shared by the image .bats files: an engine root of the test's own, and minidocker called on it.
# shellcheck shell=bash

MINIDOCKER="$PROJECT_DIR/final/minidocker"

images_setup() {
  ROOT="$BATS_TEST_TMPDIR/engine"
  export ROOT
}

# minidocker with this test's engine root, doing the job itself: a DOCKER_HOST a test exported for
# the docker client must not make it a client of the daemon (tests/46 asks one with -H).
md() {
  DOCKER_HOST='' "$MINIDOCKER" --root "$ROOT" "$@"
}

# The busybox rootfs as a tar (the same bytes every call: same blob, same diff id).
rootfs_tar() {
  local tar="$BATS_TEST_TMPDIR/rootfs.tar"
  [[ -f $tar ]] || tar --sort=name --mtime=@0 --owner=0 --group=0 -C "$ROOTFS" -cf "$tar" .
  echo "$tar"
}

# The unpacked layers on disk (layers/<hex>, not the driver's l/ links).
layer_dirs() {
  find "$ROOT/layers" -mindepth 1 -maxdepth 1 -type d ! -name l -printf '%f\n' | sort
}

# Checks the store's invariants: every blob's name is the sha256 of its bytes, and every image
# record names a manifest, config and layer blobs that exist, and unpacked layers for its diff ids.
check_store() {
  local blob record manifest config digest
  for blob in "$ROOT"/blobs/sha256/*; do
    [[ -e $blob ]] || continue
    [[ $(sha256sum "$blob" | cut -d' ' -f1) == "$(basename "$blob")" ]] ||
      fail "blob $blob does not hash to its name"
  done
  for record in "$ROOT"/images/*.json; do
    [[ -e $record ]] || continue
    manifest=$(jq -r .manifest "$record")
    [[ -f $ROOT/blobs/sha256/${manifest#sha256:} ]] || fail "$record: manifest $manifest missing"
    config=$(jq -r .config.digest "$ROOT/blobs/sha256/${manifest#sha256:}")
    [[ sha256:$(basename "$record" .json) == "$config" ]] || fail "$record: config $config"
    [[ -f $ROOT/blobs/sha256/${config#sha256:} ]] || fail "$record: config $config missing"
    for digest in $(jq -r '.layers[].digest' "$ROOT/blobs/sha256/${manifest#sha256:}"); do
      [[ -f $ROOT/blobs/sha256/${digest#sha256:} ]] || fail "$record: layer blob $digest missing"
    done
    for digest in $(jq -r '.rootfs.diff_ids[]' "$ROOT/blobs/sha256/${config#sha256:}"); do
      [[ -d $ROOT/layers/${digest#sha256:}/diff ]] || fail "$record: layer $digest not unpacked"
    done
  done
}
