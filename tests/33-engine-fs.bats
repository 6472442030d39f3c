#!/usr/bin/env bats
# shellcheck disable=SC2016  # the shell inside the container expands these
# The container's files (final/engine/volumes.cpp, files.cpp): -v binds, named and anonymous
# volumes, --tmpfs and --mount as mounts of the bundle (invisible on the host), the volume verbs,
# cp both ways and as tar streams, and diff of the rw layer. What a container saw is proven from
# inside it.
load helpers
load engine
bats_require_minimum_version 1.5.0

setup() {
  requires root rootfs overlay
  engine_setup
}

teardown() {
  engine_teardown
}

# Waits (up to 30 s) for the file $1 to exist.
wait_file() {
  local _
  for _ in $(seq 300); do
    [[ -e $1 ]] && return 0
    sleep 0.1
  done
  fail "$1 never appeared"
}

@test "fs: -v HOST:CTR is written through from inside, and the host's mount table never shows it" {
  host="$BATS_TEST_TMPDIR/host data" # a space, and missing: Docker makes it
  md run -d --name vol --network none -v "$host:/data" busybox \
    sh -c 'grep " /data " /proc/mounts > /data/mounts; echo inside > /data/f
           while [ ! -e /data/stop ]; do sleep 0.1; done' >/dev/null
  wait_file "$host/f"
  [[ $(cat "$host/f") == inside ]]
  # Inside, /data is a mount; on the host, no mount has the volume's directory as its root or
  # sits under the container's rootfs while it runs.
  [[ $(wc -l <"$host/mounts") -eq 1 ]]
  [[ $(md inspect vol | jq -r '.[0].State.Status') == running ]]
  id=$(md inspect vol | jq -r '.[0].Id')
  run grep -cE "host\\\\040data|$id/merged/data" /proc/self/mountinfo
  assert_output 0
  run findmnt -rn -o TARGET
  refute_output --partial "$id/merged/data"
  touch "$host/stop"
  run md wait vol
  assert_output 0
  # inspect: Docker's Mounts and HostConfig.Binds.
  md inspect vol | jq -e --arg h "$host" '.[0].Mounts == [{"Type": "bind", "Source": $h,
    "Destination": "/data", "Mode": "", "RW": true, "Propagation": "rprivate"}]'
  md inspect vol | jq -e --arg h "$host" '.[0].HostConfig.Binds == [$h + ":/data"]'
}

@test "fs: -v ...:ro makes writes fail inside; a relative host path is refused as Docker does" {
  mkdir "$BATS_TEST_TMPDIR/ro"
  run md run --rm --network none -v "$BATS_TEST_TMPDIR/ro:/data:ro" busybox \
    sh -c 'echo x > /data/f || echo refused; cat /proc/mounts | grep " /data "'
  assert_success
  assert_line refused
  assert_line --regexp ' /data [a-z0-9]+ ro,'
  [[ ! -e $BATS_TEST_TMPDIR/ro/f ]]
  run md run --rm --network none -v ./rel:/data busybox true
  assert_failure 125
  assert_output 'Error: create ./rel: "./rel" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'
  run md run --rm --network none -v /a:/b:xyz busybox true
  assert_failure 125
  assert_output 'Error: invalid mode: xyz'
  run md run --rm --network none -v /a:/ busybox true
  assert_failure 125
  assert_output --partial "destination can't be '/'"
  run md run --rm --network none --tmpfs /t:bogus busybox true
  assert_failure 125
  assert_output 'Error: Invalid tmpfs option ["bogus"]'
  # Nothing left behind by a refusal.
  [[ -z $(ls -A "$ROOT/containers") ]]
  [[ -z $(ls -A "$ROOT/volumes" 2>/dev/null) ]]
}

@test "fs: a named volume is filled from the image, persists across containers, and is listed" {
  run md run --name first --network none -v etcvol:/etc busybox sh -c 'cat /etc/hostname >/dev/null; echo kept > /etc/new'
  assert_success
  # Docker's copy-up: the empty volume took the image's /etc first.
  [[ -f $ROOT/volumes/etcvol/_data/passwd ]]
  run md run --rm --network none -v etcvol:/x:ro busybox sh -c 'cat /x/new; grep -c root /x/passwd; touch /x/y 2>/dev/null || echo ro'
  assert_output "kept
1
ro"
  run md volume ls
  assert_output "DRIVER    VOLUME NAME
local     etcvol"
  md volume inspect etcvol | jq -e --arg r "$ROOT" '.[0] | .Name == "etcvol" and .Driver == "local"
    and .Scope == "local" and .Mountpoint == $r + "/volumes/etcvol/_data"'
  md inspect first | jq -e '.[0].Mounts[0] | .Type == "volume" and .Name == "etcvol" and
    .Destination == "/etc" and .Driver == "local" and .RW == true'
  # In use: refused with Docker's words; rm -v of the container keeps a named volume.
  id=$(md inspect first | jq -r '.[0].Id')
  run md volume rm etcvol
  assert_failure 1
  assert_output "Error: remove etcvol: volume is in use - [$id]"
  md rm -v first
  run md volume ls -q
  assert_output etcvol
  run md volume rm etcvol
  assert_output etcvol
  run md volume rm etcvol
  assert_failure 1
  assert_output "Error: get etcvol: no such volume"
  run md volume rm -f etcvol
  assert_success
  [[ ! -e $ROOT/volumes/etcvol ]]
}

@test "fs: anonymous volumes: rm -v removes them, --rm too, prune takes unused anonymous ones" {
  md create --name anon --network none -v /scratch busybox true >/dev/null
  name=$(md inspect anon | jq -r '.[0].Mounts[0].Name')
  [[ $name =~ ^[0-9a-f]{64}$ ]]
  md volume inspect "$name" | jq -e '.[0].Labels == {"com.docker.volume.anonymous": ""}'
  md rm -v anon
  run md volume ls -q
  assert_output ""
  run md run --rm --network none -v /scratch busybox sh -c 'echo x > /scratch/x && cat /scratch/x'
  assert_output x
  run md volume ls -q
  assert_output ""
  # prune: anonymous and unused only (Docker 23+); -a: named ones too; a volume in use stays.
  md create --name keep --network none -v /used busybox true >/dev/null
  used=$(md inspect keep | jq -r '.[0].Mounts[0].Name')
  md create --name dropped --network none -v /unused busybox true >/dev/null
  unused=$(md inspect dropped | jq -r '.[0].Mounts[0].Name')
  md rm dropped
  md volume create named >/dev/null
  run md volume prune -f
  assert_output "Deleted Volumes:
$unused

Total reclaimed space: 0B"
  run md volume ls -q
  assert_output "$used
named"
  run md volume prune -af
  assert_line named
  run md volume ls -q
  assert_output "$used"
}

@test "fs: --tmpfs and --mount type=tmpfs are tmpfs inside; --mount type=bind,readonly" {
  mkdir "$BATS_TEST_TMPDIR/m"
  echo hosted >"$BATS_TEST_TMPDIR/m/f"
  run md run --name t --network none --tmpfs /run:size=1m --mount type=tmpfs,target=/t2 \
    --mount "type=bind,source=$BATS_TEST_TMPDIR/m,target=/m,readonly" busybox \
    sh -c 'grep -E " /(run|t2|m) " /proc/mounts; cat /m/f; touch /m/g || echo ro'
  assert_success
  assert_line --regexp '^tmpfs /run tmpfs rw,nosuid,nodev,noexec,.*size=1024k'
  assert_line --regexp '^tmpfs /t2 tmpfs rw,nosuid,nodev,noexec'
  assert_line --regexp ' /m [a-z0-9]+ ro,'
  assert_line hosted
  assert_line ro
  md inspect t | jq -e '.[0].HostConfig.Tmpfs == {"/run": "size=1m"}'
  md inspect t | jq -e '[.[0].Mounts[].Type] == ["tmpfs", "bind"]'
  run md run --rm --network none --mount type=bind,source=/nonexistent-fs-test,target=/m busybox true
  assert_failure 125
  assert_output 'Error: invalid mount config for type "bind": bind source path does not exist: /nonexistent-fs-test'
}
