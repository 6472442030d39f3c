#!/usr/bin/env bats
# The image store (final/graph/store.cpp) through minidocker's Docker verbs: import, images, tag,
# rmi, history, image inspect, image prune, system df. Each test has an engine root of its own.
load helpers
load images

setup() {
  requires root rootfs
  images_setup
}

@test "images: import of the busybox rootfs prints its id; images shows Docker's columns" {
  run md import "$ROOTFS" busybox:latest
  assert_success
  assert_output --regexp '^sha256:[0-9a-f]{64}$'
  id=$output
  run md images
  assert_success
  assert_line --index 0 --regexp '^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$'
  assert_line --index 1 --regexp "^busybox +latest +${id:7:12} +(Less than a second|1 second|[0-9]+ seconds) ago +[0-9.]+MB$"
  run md images -q
  assert_output "${id:7:12}"
  run md images --no-trunc -q
  assert_output "$id"
  run md image ls -a busybox
  assert_line --index 1 --partial busybox
  # The layer really holds the rootfs, unpacked once.
  [[ $(layer_dirs | wc -l) -eq 1 ]]
  [[ -x $ROOT/layers/$(layer_dirs)/diff/bin/busybox ]]
  [[ -z $(ls -A "$ROOT/tmp") ]]
  check_store
}

@test "images: import from stdin and from the same tar give one layer" {
  tar=$(rootfs_tar)
  run md import - stdin:1 <"$tar"
  assert_success
  md import "$tar" file:1
  [[ $(md image inspect stdin:1 | jq -r '.[0].RootFS.Layers[0]') == \
    "$(md image inspect file:1 | jq -r '.[0].RootFS.Layers[0]')" ]]
  [[ $(layer_dirs | wc -l) -eq 1 ]]
  [[ $(md history stdin:1) == *"Imported from -"* ]]
}

@test "images: tag adds a name; rmi of one name only untags, of the last deletes" {
  id=$(md import "$(rootfs_tar)" busybox)
  run md tag busybox mine/box:v1
  assert_success
  assert_output ""
  run md images
  assert_line --regexp "^mine/box +v1 +${id:7:12} "
  run md rmi mine/box:v1
  assert_success
  assert_output "Untagged: mine/box:v1"
  layer=$(layer_dirs)
  run md rmi busybox
  assert_success
  assert_line --index 0 "Untagged: busybox:latest"
  assert_line --index 1 "Deleted: $id"
  assert_line --index 2 "Deleted: sha256:$layer"
  [[ -z $(layer_dirs) ]]
  [[ -z $(ls -A "$ROOT/blobs/sha256") ]]
  [[ -z $(ls -A "$ROOT/images") ]]
}

@test "images: a missing image is one line and exit 1; a bad flag exit 125" {
  run md rmi nosuch
  assert_failure 1
  assert_output "Error: No such image: nosuch"
  run md history nosuch:v2
  assert_failure 1
  assert_output "Error: No such image: nosuch:v2"
  run md images --bogus
  assert_failure 125
  assert_output "unknown flag: --bogus
See 'minidocker images --help'."
  run md tag nosuch Upper:case
  assert_failure 1
  assert_output --partial "must be lowercase"
}

@test "images: an id prefix names an image; an ambiguous one is refused" {
  a=$(md import "$(rootfs_tar)" a:1)
  b=$(md import "$(rootfs_tar)" b:1)
  [[ $a != "$b" ]]
  run md history -q "${a:7:1}"
  if [[ ${a:7:1} == "${b:7:1}" ]]; then
    assert_failure 1
    assert_output --partial "multiple IDs found with provided prefix"
  else
    assert_success
    assert_output "${a:7:12}"
  fi
  run md history -q "${a:7:12}"
  assert_output "${a:7:12}"
  run md image inspect "$b"
  assert_success
  [[ $(jq -r '.[0].RepoTags[0]' <<<"$output") == b:1 ]]
}

@test "images: two images sharing a layer store it once; rmi of one keeps the other whole" {
  a=$(md import "$(rootfs_tar)" a:1)
  b=$(md import "$(rootfs_tar)" b:1)
  [[ $(layer_dirs | wc -l) -eq 1 ]]
  layer=$(layer_dirs)
  # Two configs, two manifests, one layer blob.
  [[ $(find "$ROOT/blobs/sha256" -type f | wc -l) -eq 5 ]]
  run md rmi a:1
  assert_success
  assert_line "Deleted: $a"
  refute_line "Deleted: sha256:$layer"
  [[ $(layer_dirs) == "$layer" ]]
  [[ -x $ROOT/layers/$layer/diff/bin/busybox ]]
  run md image inspect b:1
  assert_success
  [[ $(jq -r '.[0].Id' <<<"$output") == "$b" ]]
  check_store
}

@test "images: history and image inspect have Docker's shape" {
  id=$(md import -m "the busybox rootfs" "$(rootfs_tar)" busybox)
  run md history busybox
  assert_success
  assert_line --index 0 --regexp '^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$'
  assert_line --index 1 --regexp "^${id:7:12} +.* ago +minidocker import +[0-9.]+MB +the busybox rootfs$"
  run md history --no-trunc -q busybox
  assert_output "$id"
  run md image inspect busybox
  assert_success
  json=$output
  [[ $(jq -r 'length' <<<"$json") -eq 1 ]]
  [[ $(jq -r '.[0].Id' <<<"$json") == "$id" ]]
  [[ $(jq -c '.[0].RepoTags' <<<"$json") == '["busybox:latest"]' ]]
  [[ $(jq -r '.[0].Os + "/" + .[0].Architecture' <<<"$json") == linux/amd64 ]]
  [[ $(jq -r '.[0].RootFS.Type' <<<"$json") == layers ]]
  [[ $(jq -r '.[0].RootFS.Layers[0]') == "sha256:$(layer_dirs)" ]] <<<"$json"
  [[ $(jq -r '.[0].Size' <<<"$json") -eq $(cat "$ROOT/layers/$(layer_dirs)/size") ]]
  [[ $(jq -r '.[0].GraphDriver.Name' <<<"$json") =~ ^(overlay|vfs)$ ]]
  [[ $(jq -r '.[0].Created' <<<"$json") =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z$ ]]
  # The config blob is what the id names.
  [[ sha256:$(sha256sum "$ROOT/blobs/sha256/${id#sha256:}" | cut -d' ' -f1) == "$id" ]]
  run md image inspect busybox nosuch
  assert_failure 1
  assert_line "Error: No such image: nosuch"
}

@test "images: rmi refuses an image a container uses unless -f, which only untags it" {
  id=$(md import "$(rootfs_tar)" busybox)
  mkdir -p "$ROOT/containers/lab-c1"
  echo "$id" >"$ROOT/containers/lab-c1/image"
  run md rmi busybox
  assert_failure 1
  assert_output --partial "container lab-c1 is using its referenced image ${id:7:12}"
  run md rmi "${id:7:12}"
  assert_failure 1
  assert_output --partial "must be forced"
  run md rmi -f busybox
  assert_success
  assert_output "Untagged: busybox:latest"
  # The container still has its image and layers.
  [[ -n $(layer_dirs) ]]
  run md images
  assert_line --index 1 --regexp "^<none> +<none> +${id:7:12} "
  run md image prune -a -f
  assert_output "Total reclaimed space: 0B"
  check_store
}

@test "images: image prune removes dangling images, -a every unused one" {
  kept=$(md import "$(rootfs_tar)" kept:1)
  dangling=$(md import "$(rootfs_tar)")
  run md image prune -f
  assert_success
  assert_line --index 0 "Deleted Images:"
  assert_line "deleted: $dangling"
  refute_line "deleted: $kept"
  assert_line --regexp '^Total reclaimed space: [0-9.]+k?B$'
  run md image prune -f
  assert_output "Total reclaimed space: 0B"
  run md image prune -a -f
  assert_line "untagged: kept:1"
  assert_line "deleted: $kept"
  assert_line --regexp '^Total reclaimed space: [0-9.]+MB$'
  [[ -z $(layer_dirs) ]]
  # Without -f it asks; anything but y keeps everything.
  md import "$(rootfs_tar)" >/dev/null
  run md image prune <<<"n"
  assert_output --partial "Are you sure you want to continue? [y/N]"
  [[ -n $(layer_dirs) ]]
}

@test "images: system df counts each layer once, as the files on disk add up" {
  md import "$(rootfs_tar)" a:1 >/dev/null
  md import "$(rootfs_tar)" b:1 >/dev/null
  # Docker's layer size: every entry but directories, a hard-linked inode once.
  bytes=$(find "$ROOT/layers/$(layer_dirs)/diff" ! -type d -printf '%i %s\n' | sort -u -k1,1 |
    awk '{ s += $2 } END { print s }')
  [[ $(cat "$ROOT/layers/$(layer_dirs)/size") -eq $bytes ]]
  human=$(awk -v b="$bytes" 'BEGIN { split("B kB MB GB", u); i = 1; while (b >= 1000) { b /= 1000; i++ }
    printf "%.4g%s", b, u[i] }')
  run md system df
  assert_success
  assert_line --index 0 --regexp '^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE$'
  assert_line --index 1 --regexp "^Images +2 +0 +$human +$human \\(100%\\)$"
  assert_line --index 2 --regexp '^Containers +0 +0 +0B +0B$'
}

@test "images: a concurrent import and rmi do not corrupt the store" {
  tar=$(rootfs_tar)
  md import "$tar" base:1 >/dev/null
  (for i in 1 2 3 4 5 6; do md import "$tar" "loop:$i" >/dev/null; done) &
  importer=$!
  (for i in 1 2 3 4 5 6; do md rmi "loop:$i" >/dev/null 2>&1 || true; done) &
  remover=$!
  wait "$importer"
  wait "$remover"
  check_store
  [[ $(layer_dirs | wc -l) -eq 1 ]]
  run md image inspect base:1
  assert_success
  [[ -z $(ls -A "$ROOT/tmp") ]]
}

@test "images: an import SIGKILLed half-way leaves no image; the next command works and clears tmp/" {
  tar=$(rootfs_tar)
  head -c 1000000 "$tar" >"$BATS_TEST_TMPDIR/part"
  mkfifo "$BATS_TEST_TMPDIR/fifo"
  # Held open for writing, so the import blocks for the rest of the tar that never comes.
  exec {feed}<>"$BATS_TEST_TMPDIR/fifo"  # (not fd 3: bats reports on it)
  # (the binary itself in the background, not the md function's subshell, so kill -9 hits it)
  "$MINIDOCKER" --root "$ROOT" import "$BATS_TEST_TMPDIR/fifo" half:1 >/dev/null 2>&1 &
  pid=$!
  # Returns once the import has read all but a pipe's buffer of it.
  cat "$BATS_TEST_TMPDIR/part" >&"$feed"
  kill -9 "$pid"
  wait "$pid" || true
  exec {feed}>&-
  [[ -n $(ls -A "$ROOT/tmp") ]]  # its staging file stays, as a SIGKILL allows no cleanup
  run md images -q
  assert_success
  assert_output ""
  [[ -z $(ls -A "$ROOT/images") ]]
  run md import "$tar" whole:1
  assert_success
  id=$output
  [[ -z $(ls -A "$ROOT/tmp") ]]
  run md images -q
  assert_output "${id:7:12}"
  check_store
}
