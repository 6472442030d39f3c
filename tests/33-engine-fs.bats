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
    sh -c 'exec 2>&1; echo x > /data/f || echo refused; cat /proc/mounts | grep " /data "'
  # (the shell's error on stdout too: one stream keeps the lines in order, as they are written)
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
  # A create that fails after its anonymous volume was made takes it away again.
  run -127 md run --rm --network none -v /anon busybox /nonexistent
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

@test "fs: cp from a container: files, directories, '/.', a tar on stdout, Docker's errors" {
  md run --name src --network none busybox sh -c \
    'mkdir -p /src/sub; echo a > /src/a; echo b > /src/sub/b; ln -s / /escape' >/dev/null
  T=$BATS_TEST_TMPDIR
  md cp src:/src/a "$T/a.txt"
  [[ $(cat "$T/a.txt") == a ]]
  md cp src:/src "$T/out" # DEST missing: made, with SRC's contents
  [[ $(cat "$T/out/a") == a && $(cat "$T/out/sub/b") == b ]]
  md cp src:/src "$T/out" # DEST a directory: SRC goes into it
  [[ $(cat "$T/out/src/sub/b") == b ]]
  mkdir "$T/dot"
  md cp src:/src/. "$T/dot" # "/.": the contents only
  [[ $(cat "$T/dot/a") == a && ! -e $T/dot/src ]]
  echo old >"$T/dot/a"
  md cp src:/src/a "$T/dot" # a file into a directory keeps its name, over the old one
  [[ $(cat "$T/dot/a") == a ]]
  run bash -c "'$MINIDOCKER' --root '$ROOT' cp src:/src - | tar -t | sort"
  assert_output "src/
src/a
src/sub/
src/sub/b"
  run md cp src:/nope "$T/x"
  assert_failure 1
  assert_output "Error: Could not find the file /nope in container src"
  run md cp src:/src "$T/a.txt"
  assert_failure 1
  assert_output --partial "cannot copy a directory to a file"
  run md cp src:/src/a "$T/missing/x"
  assert_failure 1
  [[ ! -e $T/missing ]]
  run md cp "$T/a.txt" "$T/b.txt"
  assert_failure 1
  assert_output "Error: must specify at least one container source"
  # /escape -> / in the container: followed inside the container's root, never to the host's.
  md cp src:/escape/etc/hostname "$T/hostname"
  [[ $(cat "$T/hostname") == "$(md inspect src | jq -r '.[0].Config.Hostname')" ]]
  [[ $(cat "$T/hostname") != "$(cat /etc/hostname)" ]]
  md cp src:/escape "$T/link" # the link itself, as Docker copies it
  [[ $(readlink "$T/link") == / ]]
}

@test "fs: cp into a container (seen from inside), from a tar on stdin, never through a symlink to the host" {
  marker="/tmp/minidocker-fs-through-$$"
  md create --name dst --network none busybox \
    sh -c "cat /tmp/x; cat /dir/sub/f; cat /m/t; cat $marker; ls /escape$marker; stat -c %u:%g /tmp/x /tmp/owned" >/dev/null
  T=$BATS_TEST_TMPDIR
  echo hello >"$T/f"
  chown 1234:4321 "$T/f"
  md cp "$T/f" dst:/tmp/x     # owned by the container's root, as docker cp does
  md cp -a "$T/f" dst:/tmp/owned # -a: the uid/gid kept
  mkdir -p "$T/d/sub" "$T/t/m"
  echo deep >"$T/d/sub/f"
  md cp "$T/d" dst:/dir
  echo tarred >"$T/t/m/t"
  tar -C "$T/t" -c m | md cp - dst:/
  ln -s / "$T/escape"
  md cp "$T/escape" dst:/escape
  echo through >"$T/through"
  md cp "$T/through" "dst:/escape$marker"
  [[ ! -e $marker ]] # not on the host: /escape/tmp is the container's /tmp
  run md start -a dst
  assert_success
  assert_output "hello
deep
tarred
through
/escape$marker
0:0
1234:4321"
  run md cp "$T/f" dst:/nope/x
  assert_failure 1
  assert_output "Error: Could not find the file /nope in container dst"
  run bash -c "echo | '$MINIDOCKER' --root '$ROOT' cp - dst:/tmp/x"
  assert_failure 1
  assert_output --partial "must be a directory"
}

@test "fs: cp reaches a volume's files through its host directory; a tmpfs is refused" {
  host=$BATS_TEST_TMPDIR/v
  mkdir "$host"
  echo on-volume >"$host/f"
  md run --name withvol --network none -v "$host:/data" --tmpfs /scratch busybox true
  md cp withvol:/data/f "$BATS_TEST_TMPDIR/got"
  [[ $(cat "$BATS_TEST_TMPDIR/got") == on-volume ]]
  md cp "$BATS_TEST_TMPDIR/got" withvol:/data/back
  [[ $(cat "$host/back") == on-volume ]]
  run md cp withvol:/scratch/x "$BATS_TEST_TMPDIR/x"
  assert_failure 1
  assert_output --partial "tmpfs /scratch"
}

@test "fs: diff lists the rw layer as Docker does: A, C (parents too), D" {
  run md run --name changed --network none busybox sh -c \
    'echo more >> /etc/passwd; rm /etc/group; mkdir -p /new/deeper; touch /new/deeper/file'
  assert_success
  run md diff changed
  assert_success
  assert_line 'C /etc'
  assert_line 'C /etc/passwd'
  assert_line 'D /etc/group'
  assert_line 'A /new'
  assert_line 'A /new/deeper'
  assert_line 'A /new/deeper/file'
  # Docker's order: a depth-first walk, names sorted.
  [[ $(printf '%s\n' "${lines[@]}" | grep -E ' /(etc|new)') == "C /etc
D /etc/group
C /etc/passwd
A /new
A /new/deeper
A /new/deeper/file" ]]
  # An opaque directory: what it hid below is deleted.
  run md run --name opaque --network none busybox sh -c 'rm -r /etc; mkdir /etc; echo x > /etc/only'
  run md diff opaque
  assert_line 'C /etc'
  assert_line 'A /etc/only'
  assert_line 'D /etc/passwd'
  run md diff nosuch
  assert_failure 1
  assert_output "Error: No such container: nosuch"
}

@test "fs: the image's VOLUME is an anonymous volume, filled from the image; runc mounts the same" {
  # A docker-save archive of busybox whose config says VOLUME /etc.
  dir=$BATS_TEST_TMPDIR/save
  mkdir -p "$dir/layer"
  cp "$(rootfs_tar)" "$dir/layer/layer.tar"
  diff_id=$(sha256sum "$dir/layer/layer.tar" | cut -d' ' -f1)
  jq -nc --arg d "sha256:$diff_id" '{architecture: "amd64", os: "linux",
    config: {Cmd: ["sh"], Volumes: {"/etc": {}}}, rootfs: {type: "layers", diff_ids: [$d]}}' >"$dir/config.json"
  config=$(sha256sum "$dir/config.json" | cut -d' ' -f1)
  mv "$dir/config.json" "$dir/$config.json"
  jq -nc --arg c "$config.json" '[{Config: $c, RepoTags: ["withvol:latest"], Layers: ["layer/layer.tar"]}]' >"$dir/manifest.json"
  tar -C "$dir" -cf "$BATS_TEST_TMPDIR/save.tar" manifest.json "$config.json" layer
  md load -i "$BATS_TEST_TMPDIR/save.tar" >/dev/null
  run md run --name imgvol --network none withvol sh -c 'grep " /etc " /proc/mounts | wc -l; cat /etc/passwd | head -1'
  assert_output "1
root:x:0:0:root:/root:/bin/sh"
  name=$(md inspect imgvol | jq -r '.[0].Mounts[0].Name')
  [[ $name =~ ^[0-9a-f]{64}$ ]]
  [[ -f $ROOT/volumes/$name/_data/passwd ]]
  md volume inspect "$name" | jq -e '.[0].Labels == {"com.docker.volume.anonymous": ""}'
  md rm -v imgvol
  [[ ! -e $ROOT/volumes/$name ]]
  # The same mounts through runc: the boundary is config.json.
  requires cmd:runc
  mkdir "$BATS_TEST_TMPDIR/h"
  run md run --rm --runtime runc --network none -v "$BATS_TEST_TMPDIR/h:/data:ro" --tmpfs /t \
    busybox sh -c 'grep -E " /(data|t) " /proc/mounts | cut -d" " -f2,3; touch /data/x 2>/dev/null || echo ro'
  assert_success
  assert_line --regexp '^/data [a-z0-9]+$'
  assert_line '/t tmpfs'
  assert_line ro
  [[ ${#lines[@]} -eq 3 ]]
}

# A script in a host directory, looked up as the container sees its files: after its mounts
# (runc's lookup), not in the image's rootfs alone. $1 is the runtime ("" for ours).
volume_program_checks() {
  local rt=() h="$BATS_TEST_TMPDIR/bin"
  [[ -z $1 ]] || rt=(--runtime "$1")
  mkdir "$h"
  printf '#!/bin/sh\necho "ran $0 $*"\n' >"$h/prog"
  chmod 755 "$h/prog"
  printf 'echo never\n' >"$h/plain"
  chmod 644 "$h/plain"
  local v=(--network none -v "$h:/opt/bin")
  # run: by its path in the mount, and by a PATH that names the mount.
  run md run --rm "${rt[@]}" "${v[@]}" busybox /opt/bin/prog a
  assert_success
  assert_output "ran /opt/bin/prog a"
  run md run --rm "${rt[@]}" "${v[@]}" -e PATH=/opt/bin:/bin busybox prog b
  assert_success
  assert_output "ran /opt/bin/prog b"
  # A file bound alone by --mount, over a directory of the image's PATH.
  run md run --rm "${rt[@]}" --network none --mount "type=bind,source=$h/prog,target=/usr/local/bin/prog" busybox prog c
  assert_success
  assert_output "ran /usr/local/bin/prog c"
  # create, then start -a.
  md create --name cs "${rt[@]}" "${v[@]}" -e PATH=/opt/bin:/bin busybox prog d >/dev/null
  run md start -a cs
  assert_success
  assert_output "ran /opt/bin/prog d"
  md rm cs >/dev/null
  # exec into a running container with that volume.
  md run -d --name r "${rt[@]}" "${v[@]}" busybox sleep 1000 >/dev/null
  run md exec r /opt/bin/prog e
  assert_success
  assert_output "ran /opt/bin/prog e"
  run md exec -e PATH=/opt/bin:/bin r prog f
  assert_success
  assert_output "ran /opt/bin/prog f"
  # ... and Docker's words and codes for what the volume does not have or cannot run.
  run -127 md exec -e PATH=/opt/bin r nosuch
  assert_output --partial 'exec: "nosuch": executable file not found in $PATH'
  run -127 md exec r /opt/bin/nosuch
  assert_output --partial 'exec: "/opt/bin/nosuch": stat /opt/bin/nosuch: no such file or directory'
  run -126 md exec r /opt/bin/plain
  assert_output --partial 'exec: "/opt/bin/plain": permission denied'
  md rm -f r >/dev/null
  # run: the same words and codes; --rm leaves nothing.
  run -127 md run --rm "${rt[@]}" "${v[@]}" -e PATH=/opt/bin busybox nosuch
  assert_output 'Error: exec: "nosuch": executable file not found in $PATH'
  run -127 md run --rm "${rt[@]}" "${v[@]}" busybox /opt/bin/nosuch
  assert_output 'Error: exec: "/opt/bin/nosuch": stat /opt/bin/nosuch: no such file or directory'
  run -126 md run --rm "${rt[@]}" "${v[@]}" busybox /opt/bin/plain
  assert_output 'Error: exec: "/opt/bin/plain": permission denied'
  # A tmpfs hides the image's files under it: its /bin/true is not there.
  run -127 md run --rm "${rt[@]}" --network none --tmpfs /bin busybox /bin/true
  assert_output 'Error: exec: "/bin/true": stat /bin/true: no such file or directory'
  [[ -z $(ls -A "$ROOT/containers") ]] || fail "left: $(ls -A "$ROOT/containers")"
  # Without --rm the container stays created; once the volume has the program, start runs it.
  run -127 md run --name kept "${rt[@]}" "${v[@]}" -e PATH=/opt/bin:/bin busybox later g
  assert_output 'Error: exec: "later": executable file not found in $PATH'
  [[ $(md inspect kept | jq -r '.[0].State.Status') == created ]]
  cp "$h/prog" "$h/later"
  run md start -a kept
  assert_success
  assert_output "ran /opt/bin/later g"
  md rm kept >/dev/null
}

@test "fs: a program on a -v volume runs by its path and on PATH (run, create+start, exec); 127/126 as Docker's" {
  volume_program_checks ""
}

@test "fs: a program on a -v volume: the same with --runtime runc" {
  requires cmd:runc
  volume_program_checks runc
}
