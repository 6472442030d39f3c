#!/usr/bin/env bats
# load and save against the tools of Debian, not only against our own files: what `minidocker
# save` writes (Docker 25's combined archive) is read by skopeo as docker-archive and as
# oci-archive, by podman load and by umoci; archives written by skopeo copy and podman save, in
# both formats, load, and each unpacked layer under <root>/layers holds exactly what the layer
# tar held (whiteouts as overlay whiteouts). A save/load round trip keeps the image id; hostile
# archives are refused with one line and leave the store as it was.
#
# The test image is an OCI layout built by hand from GNU tar's layers: a base layer, a layer that deletes a file
# (.wh.gone) and one that makes a directory opaque (.wh..wh..opq). No registry, no network.
# podman's storage, run root and temp dir live in this file's temporary directory; its blob
# cache (/var/lib/containers/cache whatever the flags say) goes to a tmpfs in a mount namespace
# of its own.
# shellcheck disable=SC2030,SC2031,SC2016  # a test points R at a second store of its own; `..` is text
load helpers

MD="$PROJECT_DIR/final/minidocker"

setup_file() {
  T="$BATS_FILE_TMPDIR"
  export T
  [[ $(id -u) -eq 0 && -x $ROOTFS/bin/busybox ]] || return 0
  # The image: base, then a whiteout, then an opaque directory; each layer a tar by GNU tar.
  mkdir -p "$T/src/base/etc" "$T/src/base/d/sub" "$T/src/wh/etc" "$T/src/opq/d"
  echo keep >"$T/src/base/etc/keep"
  echo gone >"$T/src/base/etc/gone"
  echo old >"$T/src/base/d/old"
  echo deep >"$T/src/base/d/sub/deep"
  chmod 0750 "$T/src/base/d/sub"
  ln -s ../etc/keep "$T/src/base/d/link"
  printf '#!/bin/sh\necho hi\n' >"$T/src/base/run.sh"
  chmod 0755 "$T/src/base/run.sh"
  : >"$T/src/wh/etc/.wh.gone"
  : >"$T/src/opq/d/.wh..wh..opq"
  echo new >"$T/src/opq/d/new"
  make_layout "$T/lay" wh "$T/src/base" "$T/src/wh" "$T/src/opq"
}

# make_layout DIR TAG LAYERDIR...: an OCI image layout by hand, each layer a gzip tar of a
# directory: blobs named by their sha256, the config's diff ids the uncompressed tars'.
make_layout() {
  local dir=$1 tag=$2 layers="" diffs="" src sum diff config
  shift 2
  mkdir -p "$dir/blobs/sha256"
  for src in "$@"; do
    # shellcheck disable=SC2046  # the names of the directory's entries, none with spaces
    tar -C "$src" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$dir/l.tar" \
      $(ls -A "$src")
    diff=$(sha256sum <"$dir/l.tar" | cut -c1-64)
    gzip -n "$dir/l.tar"
    sum=$(sha256sum <"$dir/l.tar.gz" | cut -c1-64)
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$sum\",\"size\":$(stat -c %s "$dir/l.tar.gz")}"
    diffs+="${diffs:+,}\"sha256:$diff\""
    mv "$dir/l.tar.gz" "$dir/blobs/sha256/$sum"
  done
  printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/run.sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$diffs" >"$dir/c"
  sum=$(sha256sum <"$dir/c" | cut -c1-64)
  config="{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$sum\",\"size\":$(stat -c %s "$dir/c")}"
  mv "$dir/c" "$dir/blobs/sha256/$sum"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":%s,"layers":[%s]}' \
    "$config" "$layers" >"$dir/m"
  sum=$(sha256sum <"$dir/m" | cut -c1-64)
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
    "$sum" "$(stat -c %s "$dir/m")" "$tag" >"$dir/index.json"
  mv "$dir/m" "$dir/blobs/sha256/$sum"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
}

setup() {
  requires root rootfs cmd:skopeo cmd:umoci cmd:jq cmd:getfattr
  [[ -x $MD ]] || fail "build final/minidocker first (make -C final)"
  R="$BATS_TEST_TMPDIR/root"
}

md() {
  "$MD" --root "$R" "$@"
}

# podman with everything of its own under $T/podman.
POD_FLAGS=(--root "$BATS_FILE_TMPDIR/podman/storage" --runroot "$BATS_FILE_TMPDIR/podman/run"
  --tmpdir "$BATS_FILE_TMPDIR/podman/tmp" --storage-driver vfs --events-backend=file
  --cgroup-manager=cgroupfs)
pod() {
  mkdir -p "$T/podman/tmp"
  printf '[engine]\nevents_logfile_path = "%s/podman/events.log"\nimage_copy_tmp_dir = "%s/podman/tmp"\n' \
    "$T" "$T" >"$T/podman/containers.conf"
  touch "$T/podman/registries.conf"
  unshare -m --propagation private sh -c 'mount -t tmpfs lab-podman-cache /var/lib && exec "$@"' \
    sh env CONTAINERS_CONF="$T/podman/containers.conf" \
    CONTAINERS_REGISTRIES_CONF="$T/podman/registries.conf" podman "${POD_FLAGS[@]}" "$@"
}

teardown_file() {
  [[ -d $T/podman/storage ]] || return 0
  pod rmi --all --force >/dev/null 2>&1 || true
  findmnt -rn -o TARGET | grep "^$T/" | sort -r | xargs -r umount -l || true
}

# One line per path under DIR, sorted: files with mode and sha256, links with their target,
# directories with mode (and "opaque"), overlay whiteouts (0:0 character devices) by name.
layer_listing() {
  (
    cd "$1" || exit 1
    find . -mindepth 1 -printf '%P\0' | sort -z | while IFS= read -r -d '' p; do
      if [[ -L $p ]]; then
        echo "$p link $(readlink "$p")"
      elif [[ -c $p && $(stat -c %t:%T "$p") == 0:0 ]]; then
        echo "$p whiteout"
      elif [[ -d $p ]]; then
        opaque=$(getfattr --only-values -n trusted.overlay.opaque "$p" 2>/dev/null || true)
        echo "$p dir $(stat -c %a "$p")${opaque:+ opaque}"
      elif [[ -f $p ]]; then
        echo "$p file $(stat -c %a "$p") $(sha256sum <"$p" | cut -c1-64)"
      else
        echo "$p $(stat -c %F "$p")"
      fi
    done
  )
}

# The same listing for a layer tar (plain or compressed), extracted by GNU tar, its OCI whiteouts
# turned into overlay's spelling by hand: the independent reading to compare ours with.
tar_listing() {
  local dir
  dir=$(mktemp -d "$BATS_TEST_TMPDIR/tar.XXXXXX")
  tar -C "$dir" -xf "$1"
  find "$dir" -name '.wh.*' -print0 | while IFS= read -r -d '' wh; do
    local parent name
    parent=$(dirname "$wh") name=$(basename "$wh")
    rm "$wh"
    if [[ $name == .wh..wh..opq ]]; then
      setfattr -n trusted.overlay.opaque -v y "$parent"
    else
      mknod "$parent/${name#.wh.}" c 0 0
    fi
  done
  layer_listing "$dir"
  rm -rf "$dir"
}

# Every layer of the OCI layout $1 (image $2) against the layer our store unpacked for it.
assert_layers_match_layout() {
  local layout=$1 ref=$2 manifest config i n
  manifest=$(jq -r --arg ref "$ref" \
    '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $ref) | .digest' \
    "$layout/index.json")
  manifest="$layout/blobs/sha256/${manifest#sha256:}"
  config="$layout/blobs/sha256/$(jq -r '.config.digest' "$manifest" | cut -d: -f2)"
  n=$(jq '.layers | length' "$manifest")
  [[ $n -gt 0 ]] || fail "no layers in $manifest"
  for ((i = 0; i < n; i++)); do
    local blob diff
    blob=$(jq -r ".layers[$i].digest" "$manifest" | cut -d: -f2)
    diff=$(jq -r ".rootfs.diff_ids[$i]" "$config" | cut -d: -f2)
    [[ -d $R/layers/$diff/diff ]] || fail "layer $diff was not unpacked"
    assert_equal "$(layer_listing "$R/layers/$diff/diff")" "$(tar_listing "$layout/blobs/sha256/$blob")"
  done
}

# The store holds nothing: no blob, no layer, no image record, no tag.
assert_store_empty() {
  # blobs/sha256/ and the graph driver's layers/l/ are the store's own directories; empty.
  assert_equal "$(find "$R/blobs" "$R/layers" "$R/images" -mindepth 1 -not -path "$R/blobs/sha256" \
    -not -path "$R/layers/l" | wc -l)" 0
  if [[ -f $R/repositories.json ]]; then
    assert_equal "$(jq length "$R/repositories.json")" 0
  fi
  run md images -q
  assert_output ""
}

import_busybox() {
  tar -C "$ROOTFS" -c . | md import - busybox:latest >/dev/null
}

image_id() {
  md image inspect --format '{{.Id}}' "$1" 2>/dev/null || jq -r --arg r "$1" '.[$r]' "$R/repositories.json"
}

@test "save writes Docker 25's combined archive: skopeo reads it as docker-archive and oci-archive" {
  import_busybox
  run md save -o "$BATS_TEST_TMPDIR/b.tar" busybox
  assert_success
  assert_output ""
  run tar -tf "$BATS_TEST_TMPDIR/b.tar"
  assert_line index.json
  assert_line manifest.json
  assert_line oci-layout
  assert_line repositories
  local id
  id=$(jq -r '."busybox:latest"' "$R/repositories.json")
  # The config skopeo reads back is the one whose digest is the image id.
  for transport in docker-archive oci-archive; do
    run skopeo inspect --config --raw "$transport:$BATS_TEST_TMPDIR/b.tar"
    assert_success
    assert_equal "sha256:$(printf '%s' "$output" | sha256sum | cut -c1-64)" "$id"
  done
  run skopeo inspect docker-archive:"$BATS_TEST_TMPDIR/b.tar"
  assert_success
  assert_equal "$(jq -r '.Layers | length' <<<"$output")" 1
  run skopeo inspect oci-archive:"$BATS_TEST_TMPDIR/b.tar:latest"
  assert_success
  # repositories names the top layer by its diff id, as Docker 25 writes it.
  assert_equal "$(jq -r '.busybox.latest' < <(tar -xOf "$BATS_TEST_TMPDIR/b.tar" repositories))" \
    "$(jq -r '.rootfs.diff_ids[-1] | ltrimstr("sha256:")' "$R/blobs/sha256/${id#sha256:}")"
}

@test "umoci reads the OCI layout save writes, and unpacks the rootfs we imported" {
  import_busybox
  md save -o "$BATS_TEST_TMPDIR/b.tar" busybox:latest
  mkdir "$BATS_TEST_TMPDIR/layout"
  tar -C "$BATS_TEST_TMPDIR/layout" -xf "$BATS_TEST_TMPDIR/b.tar"
  run umoci ls --layout "$BATS_TEST_TMPDIR/layout"
  assert_success
  assert_output latest
  run umoci unpack --image "$BATS_TEST_TMPDIR/layout:latest" "$BATS_TEST_TMPDIR/bundle"
  assert_success
  assert_equal "$(layer_listing "$BATS_TEST_TMPDIR/bundle/rootfs")" "$(layer_listing "$ROOTFS")"
}

@test "podman load takes what save writes, under the same image id" {
  requires cmd:podman
  import_busybox
  md save -o "$BATS_TEST_TMPDIR/b.tar" busybox
  run pod load -q -i "$BATS_TEST_TMPDIR/b.tar"
  assert_success
  assert_output --partial "busybox:latest"
  run pod image inspect --format '{{.Id}}' docker.io/library/busybox:latest
  assert_success
  assert_equal "sha256:$output" "$(jq -r '."busybox:latest"' "$R/repositories.json")"
  pod rmi -f docker.io/library/busybox:latest >/dev/null
}

@test "skopeo's docker-archive and oci-archive load, each layer as the source layer tar" {
  skopeo copy -q "oci:$T/lay:wh" "docker-archive:$BATS_TEST_TMPDIR/d.tar:lab/wh:v1"
  skopeo copy -q "oci:$T/lay:wh" "oci-archive:$BATS_TEST_TMPDIR/o.tar:lab/wh:v1"
  run md load -i "$BATS_TEST_TMPDIR/d.tar"
  assert_success
  assert_output "Loaded image: lab/wh:v1"
  assert_layers_match_layout "$T/lay" wh
  local id
  id=$(jq -r '."lab/wh:v1"' "$R/repositories.json")
  # The oci-archive, into a second store: the same image id (the same config bytes).
  R="$BATS_TEST_TMPDIR/root2"
  run md load -q -i "$BATS_TEST_TMPDIR/o.tar"
  assert_success
  assert_output "Loaded image: lab/wh:v1"
  assert_equal "$(jq -r '."lab/wh:v1"' "$R/repositories.json")" "$id"
  assert_layers_match_layout "$T/lay" wh
}

@test "podman save in both formats loads, layers as podman's own archive holds them" {
  requires cmd:podman
  skopeo copy -q "oci:$T/lay:wh" "oci-archive:$BATS_TEST_TMPDIR/o.tar:localhost/lab/wh:v1"
  pod load -q -i "$BATS_TEST_TMPDIR/o.tar" >/dev/null
  pod save -q --format docker-archive -o "$BATS_TEST_TMPDIR/pd.tar" localhost/lab/wh:v1
  pod save -q --format oci-archive -o "$BATS_TEST_TMPDIR/po.tar" localhost/lab/wh:v1
  pod rmi -f localhost/lab/wh:v1 >/dev/null
  run md load -i "$BATS_TEST_TMPDIR/pd.tar"
  assert_success
  assert_output "Loaded image: localhost/lab/wh:v1"
  R="$BATS_TEST_TMPDIR/root2"
  run md load -i "$BATS_TEST_TMPDIR/po.tar"
  assert_success
  mkdir "$BATS_TEST_TMPDIR/po"
  tar -C "$BATS_TEST_TMPDIR/po" -xf "$BATS_TEST_TMPDIR/po.tar"
  local ref
  ref=$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' \
    "$BATS_TEST_TMPDIR/po/index.json")
  assert_layers_match_layout "$BATS_TEST_TMPDIR/po" "$ref"
  # The same layers as the source image's, whatever podman did to their compression.
  assert_layers_match_layout "$T/lay" wh
}

@test "save then load keeps the image id, the whiteout and the opaque directory" {
  skopeo copy -q "oci:$T/lay:wh" "oci-archive:$BATS_TEST_TMPDIR/o.tar:lab/wh:v1"
  md load -i "$BATS_TEST_TMPDIR/o.tar" >/dev/null
  local id
  id=$(jq -r '."lab/wh:v1"' "$R/repositories.json")
  md save -o "$BATS_TEST_TMPDIR/again.tar" lab/wh:v1
  R="$BATS_TEST_TMPDIR/root2"
  run md load -i "$BATS_TEST_TMPDIR/again.tar"
  assert_success
  assert_output "Loaded image: lab/wh:v1"
  assert_equal "$(jq -r '."lab/wh:v1"' "$R/repositories.json")" "$id"
  assert_layers_match_layout "$T/lay" wh
  # Said plainly: the second layer deletes etc/gone, the third makes d opaque.
  local config="$R/blobs/sha256/${id#sha256:}"
  local l2 l3
  l2=$(jq -r '.rootfs.diff_ids[1] | ltrimstr("sha256:")' "$config")
  l3=$(jq -r '.rootfs.diff_ids[2] | ltrimstr("sha256:")' "$config")
  [[ -c $R/layers/$l2/diff/etc/gone ]] || fail "no whiteout for etc/gone"
  assert_equal "$(getfattr --only-values -n trusted.overlay.opaque "$R/layers/$l3/diff/d")" y
}

@test "load reads stdin and a gzip-compressed archive; save streams to a pipe" {
  import_busybox
  local id
  id=$(jq -r '."busybox:latest"' "$R/repositories.json")
  md save busybox | gzip >"$BATS_TEST_TMPDIR/b.tar.gz"
  R="$BATS_TEST_TMPDIR/root2"
  run md load <"$BATS_TEST_TMPDIR/b.tar.gz"
  assert_success
  assert_output "Loaded image: busybox:latest"
  assert_equal "$(jq -r '."busybox:latest"' "$R/repositories.json")" "$id"
}

@test "an image saved by id loads untagged, as docker prints it" {
  import_busybox
  local id
  id=$(jq -r '."busybox:latest"' "$R/repositories.json")
  md save -o "$BATS_TEST_TMPDIR/b.tar" "${id#sha256:}"
  R="$BATS_TEST_TMPDIR/root2"
  run md load -i "$BATS_TEST_TMPDIR/b.tar"
  assert_success
  assert_output "Loaded image ID: $id"
}

@test "save refuses a terminal, an unknown image and a missing directory, in one line each" {
  import_busybox
  run script -qec "$MD --root $R save busybox" /dev/null
  assert_failure
  assert_output --partial "cowardly refusing to save to a terminal. Use the -o flag or redirect"
  run md save -o "$BATS_TEST_TMPDIR/x.tar" nosuch:tag
  assert_failure
  assert_output "Error: No such image: nosuch:tag"
  [[ ! -e $BATS_TEST_TMPDIR/x.tar ]]
  run md save -o "$BATS_TEST_TMPDIR/none/x.tar" busybox
  assert_failure
  assert_equal "${#lines[@]}" 1
  run md load -i "$BATS_TEST_TMPDIR/none.tar"
  assert_failure
  assert_equal "${#lines[@]}" 1
}

# A docker-save archive from the layer tar $1 with the manifest.json $2 (CONFIG and LAYER are
# replaced by the member names of the config and the layer).
hostile_archive() {
  local dir="$BATS_TEST_TMPDIR/hostile" diff
  mkdir -p "$dir"
  cp "$1" "$dir/layer.tar"
  diff=$(sha256sum <"$dir/layer.tar" | cut -c1-64)
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$diff" >"$dir/config.json"
  printf '%s' "$2" >"$dir/manifest.json"
}

@test "hostile archives: ../ in manifest.json, a link out, a wrong digest; refused, store unchanged" {
  mkdir -p "$BATS_TEST_TMPDIR/l"
  echo data >"$BATS_TEST_TMPDIR/l/file"
  tar -C "$BATS_TEST_TMPDIR/l" -cf "$BATS_TEST_TMPDIR/layer.tar" .
  md images -q >/dev/null  # the store exists, empty

  hostile_archive "$BATS_TEST_TMPDIR/layer.tar" \
    '[{"Config":"config.json","RepoTags":["x:1"],"Layers":["../x/layer.tar"]}]'
  tar -C "$BATS_TEST_TMPDIR/hostile" -cf "$BATS_TEST_TMPDIR/h1.tar" .
  run md load -i "$BATS_TEST_TMPDIR/h1.tar"
  assert_failure 1
  assert_output 'Error: archive member "../x/layer.tar": `..` leaves the archive; refused'
  assert_store_empty

  # A symlink member that points out of the archive.
  ln -s ../../etc/passwd "$BATS_TEST_TMPDIR/hostile/evil.tar"
  tar -C "$BATS_TEST_TMPDIR/hostile" -cf "$BATS_TEST_TMPDIR/h2.tar" .
  run md load -i "$BATS_TEST_TMPDIR/h2.tar"
  assert_failure 1
  assert_output "Error: archive link evil.tar -> ../../etc/passwd: points outside the archive"
  assert_store_empty
  rm "$BATS_TEST_TMPDIR/hostile/evil.tar"

  # The layer is not the one the config names: its diff id does not match.
  echo other >"$BATS_TEST_TMPDIR/l/file"
  tar -C "$BATS_TEST_TMPDIR/l" -cf "$BATS_TEST_TMPDIR/hostile/layer.tar" .
  printf '%s' '[{"Config":"config.json","RepoTags":["x:1"],"Layers":["layer.tar"]}]' \
    >"$BATS_TEST_TMPDIR/hostile/manifest.json"
  tar -C "$BATS_TEST_TMPDIR/hostile" -cf "$BATS_TEST_TMPDIR/h3.tar" .
  run md load -i "$BATS_TEST_TMPDIR/h3.tar"
  assert_failure 1
  assert_equal "${#lines[@]}" 1
  assert_output --regexp '^Error: layer sha256:[0-9a-f]{64}: its tar hashes to sha256:[0-9a-f]{64}, but the image config says sha256:[0-9a-f]{64}; refused$'
  assert_store_empty

  # An OCI blob whose content is not what its name says.
  skopeo copy -q "oci:$T/lay:wh" "oci:$BATS_TEST_TMPDIR/bad:wh"
  local manifest blob
  manifest=$(jq -r '.manifests[0].digest | ltrimstr("sha256:")' "$BATS_TEST_TMPDIR/bad/index.json")
  blob=$(jq -r '.layers[0].digest | ltrimstr("sha256:")' "$BATS_TEST_TMPDIR/bad/blobs/sha256/$manifest")
  blob="$BATS_TEST_TMPDIR/bad/blobs/sha256/$blob"
  chmod u+w "$blob"
  printf 'x' >>"$blob"
  tar -C "$BATS_TEST_TMPDIR/bad" -cf "$BATS_TEST_TMPDIR/h4.tar" .
  run md load -i "$BATS_TEST_TMPDIR/h4.tar"
  assert_failure 1
  assert_output --regexp "^Error: archive member blobs/sha256/${blob##*/}: its content hashes to sha256:[0-9a-f]{64}, not to its name; refused$"
  assert_store_empty

  # A manifest.json that is not a docker-save manifest.
  printf '{"Config":"config.json"}' >"$BATS_TEST_TMPDIR/hostile/manifest.json"
  tar -C "$BATS_TEST_TMPDIR/hostile" -cf "$BATS_TEST_TMPDIR/h5.tar" .
  run md load -i "$BATS_TEST_TMPDIR/h5.tar"
  assert_failure 1
  assert_output "Error: manifest.json: must be a JSON array of images (docker save)"
  assert_store_empty

  run md load -i "$BATS_TEST_TMPDIR/layer.tar"
  assert_failure 1
  assert_output "Error: not an image archive: it holds neither manifest.json (docker save) nor index.json (an OCI image layout)"
  assert_store_empty
}

@test "load killed half-way leaves no image; the next load works" {
  skopeo copy -q "oci:$T/lay:wh" "docker-archive:$BATS_TEST_TMPDIR/d.tar:lab/wh:v1"
  mkfifo "$BATS_TEST_TMPDIR/fifo"
  md load -i "$BATS_TEST_TMPDIR/fifo" >/dev/null 2>&1 &
  local pid=$! size
  size=$(stat -c %s "$BATS_TEST_TMPDIR/d.tar")
  # Half of the archive, then the writer stays open: load waits for the rest in read(2).
  exec 7>"$BATS_TEST_TMPDIR/fifo"
  head -c $((size / 2)) "$BATS_TEST_TMPDIR/d.tar" >&7
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -n $(find "$R/tmp" -mindepth 2 -type f 2>/dev/null) ]] && break
    sleep 0.1
  done
  [[ -n $(find "$R/tmp" -mindepth 2 -type f) ]] || fail "load staged nothing"
  kill -9 "$pid"
  wait "$pid" || true
  exec 7>&-
  run md images -q
  assert_output ""
  [[ -z $(find "$R/images" -type f) ]]
  run md load -i "$BATS_TEST_TMPDIR/d.tar"
  assert_success
  assert_output "Loaded image: lab/wh:v1"
  # The killed load's staging was cleared by the next writer.
  assert_equal "$(find "$R/tmp" -mindepth 1 | wc -l)" 0
}
