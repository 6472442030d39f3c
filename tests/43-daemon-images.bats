#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031  # DAEMON_PID, MINIDOCKER: set and read within each test
# The daemon's image, build, network and volume routes (final/daemon/routes_images.cpp,
# routes_resources.cpp), driven by the real docker client (build/docker-cli/docker, Debian's
# 20.10) against `minidocker daemon` on a socket and an engine root of the test's own: load,
# save, import, tag, rmi, history, commit, build (the classic builder the client uses without
# DOCKER_BUILDKIT=1), pull and push against a local registry (tests/registry.bash), networks (in
# a network namespace the test makes, never the machine's), volumes, prune and system df. What a
# route made is checked with the minidocker CLI on the same root, and images are proven by
# running them.
load helpers
load engine
load daemon
load registry
bats_require_minimum_version 1.5.0

# /run/netns: taken away again if the network test made it (helpers.bash)
setup_file() { netns_mount_remember; }
teardown_file() { netns_mount_restore; }

setup() {
  daemon_setup
  export DOCKER_BUILDKIT=0
  NS=""
}

teardown() {
  daemon_stop
  [[ -z ${REGISTRY_PID:-} ]] || stop_registry
  if [[ -n $NS ]]; then
    # The network test's engine lives in its namespace: its containers, then its networks.
    engine_teardown
    md system prune -f >/dev/null 2>&1 || true
    ip netns del "$NS" 2>/dev/null || true
  fi
  daemon_teardown
}

# The docker client's output on stderr too, in $output.
dock() { docker "$@" 2>&1; }

# A JSON message stream as curl gets it, without the "\r" dockerd (and we) end each line with.
api_stream() { api "$@" | tr -d '\r'; }

image_id() { md image inspect "$1" | jq -r '.[0].Id'; }

@test "daemon images: docker load -i and from stdin; docker images shows what was loaded" {
  md save -o "$BATS_TEST_TMPDIR/busybox.tar" busybox
  id=$(image_id busybox)
  md rmi busybox >/dev/null
  daemon_start
  run dock load -i "$BATS_TEST_TMPDIR/busybox.tar"
  assert_success
  assert_output "Loaded image: busybox:latest"
  [[ $(image_id busybox) == "$id" ]]
  run docker images --format '{{.Repository}}:{{.Tag}} {{.ID}}'
  assert_output "busybox:latest ${id:7:12}"
  # Again, from stdin and gzipped: the same image, nothing new.
  md rmi busybox >/dev/null
  gzip -c "$BATS_TEST_TMPDIR/busybox.tar" >"$BATS_TEST_TMPDIR/busybox.tar.gz"
  run dock load <"$BATS_TEST_TMPDIR/busybox.tar.gz"
  assert_success
  assert_output "Loaded image: busybox:latest"
  [[ $(image_id busybox) == "$id" ]]
  # The answer is Docker's JSON stream.
  run api_stream -X POST -H 'Content-Type: application/x-tar' \
    --data-binary "@$BATS_TEST_TMPDIR/busybox.tar" 'http://localhost/v1.41/images/load?quiet=1'
  assert_success
  assert_output '{"stream":"Loaded image: busybox:latest\n"}'
  # A body with a Content-Length over Beast's default 1 MiB is read (above, 2 MiB); one over the
  # 16 MiB of a non-tar body is a 413, and the daemon stays up.
  head -c $((17 << 20)) /dev/zero >"$BATS_TEST_TMPDIR/big"
  run api -w '\n%{http_code}' -X POST --data-binary "@$BATS_TEST_TMPDIR/big" \
    'http://localhost/v1.41/images/load'
  assert_line --index 1 413
  run api http://localhost/_ping
  assert_output OK
  # Not an archive: one line, exit 1, nothing loaded.
  echo "not a tar" >"$BATS_TEST_TMPDIR/junk"
  run dock load -i "$BATS_TEST_TMPDIR/junk"
  assert_failure 1
  assert_output --partial "Error response from daemon: "
  [[ $(md images -q | wc -l) -eq 1 ]]
  check_store
}

@test "daemon images: tag and rmi (untag, then delete); a missing image; a conflict is 409" {
  id=$(image_id busybox)
  daemon_start
  run dock tag busybox mine/box:v1
  assert_success
  assert_output ""
  [[ $(md images -q --no-trunc mine/box:v1) == "$id" ]]
  run dock tag nosuch mine/box:v2
  assert_failure 1
  assert_output "Error response from daemon: No such image: nosuch:latest"
  run dock rmi mine/box:v1
  assert_success
  assert_output "Untagged: mine/box:v1"
  # A container uses busybox: rmi is refused (409), with Docker's words.
  md create --network none --name user busybox true >/dev/null
  cid=$(md inspect user | jq -r '.[0].Id')
  run dock rmi busybox
  assert_failure 1
  assert_output "Error response from daemon: conflict: unable to remove repository reference \"busybox\" (must force) - container ${cid:0:12} is using its referenced image ${id:7:12}"
  run api -w '\n%{http_code}' -X DELETE http://localhost/v1.41/images/busybox
  assert_line --index 1 409
  md rm user >/dev/null
  layer=$(layer_dirs)
  run dock rmi busybox
  assert_success
  assert_line --index 0 "Untagged: busybox:latest"
  assert_line --index 1 "Deleted: $id"
  assert_line --index 2 "Deleted: sha256:$layer"
  [[ -z $(md images -q) ]]
  run dock rmi nosuch
  assert_failure 1
  assert_output "Error: No such image: nosuch"
}

@test "daemon images: docker history shows what minidocker history shows" {
  md run --name c1 --network none busybox sh -c 'echo x > /x' >/dev/null
  md commit -m "a comment" c1 snap:v1 >/dev/null
  md rm c1 >/dev/null
  daemon_start
  run dock history snap:v1
  assert_success
  assert_line --index 0 --regexp '^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$'
  [[ ${#lines[@]} -eq 3 ]]
  # The same rows as minidocker history, the CREATED column aside (the clock moves between).
  [[ $(docker history snap:v1 | sed -E 's/  +/|/g' | cut -d'|' -f1,3-) == \
    "$(md history snap:v1 | sed -E 's/  +/|/g' | cut -d'|' -f1,3-)" ]] || fail "$(md history snap:v1)"
  run dock history --no-trunc --format '{{.ID}}|{{.CreatedBy}}|{{.Comment}}' snap:v1
  assert_line --index 0 "$(image_id snap:v1)|sh -c echo x > /x|a comment"
  assert_line --index 1 "$(image_id busybox)|minidocker import|Imported from $ROOTFS"
  run api http://localhost/v1.41/images/snap:v1/history
  [[ $(jq -r '.[0].Tags[0]' <<<"$output") == snap:v1 ]]
  [[ $(jq -r '.[1].Tags[0]' <<<"$output") == busybox:latest ]]
  run dock history nosuch
  assert_failure 1
  assert_output "Error response from daemon: No such image: nosuch:latest"
}

@test "daemon images: docker save -o and to stdout; the archive loads into another root" {
  id=$(image_id busybox)
  daemon_start
  run dock save -o "$BATS_TEST_TMPDIR/saved.tar" busybox
  assert_success
  assert_output ""
  run tar -tf "$BATS_TEST_TMPDIR/saved.tar"
  assert_line manifest.json
  assert_line index.json
  assert_line oci-layout
  assert_line "blobs/sha256/${id#sha256:}"
  # Into a second engine root: the same image id.
  other="$BATS_TEST_TMPDIR/other"
  run "$MINIDOCKER" --root "$other" load -i "$BATS_TEST_TMPDIR/saved.tar"
  assert_success
  assert_output "Loaded image: busybox:latest"
  [[ $("$MINIDOCKER" --root "$other" image inspect busybox | jq -r '.[0].Id') == "$id" ]]
  # To stdout (GET /images/busybox/get ... the client asks /images/get?names=): the same bytes.
  docker save busybox >"$BATS_TEST_TMPDIR/stdout.tar"
  cmp "$BATS_TEST_TMPDIR/saved.tar" "$BATS_TEST_TMPDIR/stdout.tar"
  api -o "$BATS_TEST_TMPDIR/one.tar" http://localhost/v1.41/images/busybox/get
  cmp "$BATS_TEST_TMPDIR/saved.tar" "$BATS_TEST_TMPDIR/one.tar"
  run dock save -o "$BATS_TEST_TMPDIR/no.tar" busybox nosuch
  assert_failure 1
  assert_output "Error response from daemon: No such image: nosuch:latest"
  [[ ! -e $BATS_TEST_TMPDIR/no.tar ]]
}

@test "daemon images: docker import makes an image that runs; its history has the message" {
  daemon_start
  run dock import -m "from the daemon" "$(rootfs_tar)" imported:v1
  assert_success
  [[ $output =~ ^sha256:[0-9a-f]{64}$ ]] || fail "not an id: $output"
  id=$output
  [[ $(image_id imported:v1) == "$id" ]]
  run md run --rm --network none imported:v1 echo ran-from-import
  assert_success
  assert_output ran-from-import
  run dock history --format '{{.Comment}}' imported:v1
  assert_output "from the daemon"
  # From stdin too; the same layer, so the store keeps one.
  run dock import - imported:v2 <"$(rootfs_tar)"
  assert_success
  [[ $(md image inspect imported:v2 | jq -r '.[0].RootFS.Layers[0]') == \
    "$(md image inspect imported:v1 | jq -r '.[0].RootFS.Layers[0]')" ]]
  # The client sends the tar as text/plain: still an archive's limit, not a JSON body's 16 MiB.
  big="$BATS_TEST_TMPDIR/big-rootfs"
  mkdir -p "$big"
  cp -a "$ROOTFS/." "$big/"
  head -c $((20 << 20)) /dev/urandom >"$big/blob"
  tar -C "$big" -cf "$BATS_TEST_TMPDIR/big.tar" .
  run dock import "$BATS_TEST_TMPDIR/big.tar" big:v1
  assert_success
  run md run --rm --network none big:v1 wc -c /blob
  assert_output "$((20 << 20)) /blob"
  run dock import -c 'CMD ["sh"]' "$(rootfs_tar)"
  assert_failure 1
  assert_output "Error response from daemon: import with --change is not supported by this daemon"
  check_store
}

@test "daemon images: docker commit of a container the CLI made; the image shows the change" {
  md run --name c1 --network none -e GREETING=hi busybox sh -c 'echo made > /made.txt' >/dev/null
  daemon_start
  run dock commit -m "my change" -a "Ann <ann@example.com>" -c 'CMD ["cat", "/made.txt"]' c1 snap:v1
  assert_success
  [[ $output =~ ^sha256:[0-9a-f]{64}$ ]] || fail "not an id: $output"
  [[ $(image_id snap:v1) == "$output" ]]
  run md run --rm --network none snap:v1
  assert_success
  assert_output made
  run md image inspect snap:v1
  [[ $(jq -r '.[0].Author' <<<"$output") == "Ann <ann@example.com>" ]]
  [[ $(jq -r '.[0].Comment' <<<"$output") == "my change" ]]
  [[ $(jq -r '.[0].Config.Env | index("GREETING=hi") != null' <<<"$output") == true ]]
  run api -w '\n%{http_code}' -X POST 'http://localhost/v1.41/commit?container=c1'
  assert_line --index 1 201
  [[ $(jq -r .Id <<<"${lines[0]}") =~ ^sha256: ]]
  run dock commit nosuch
  assert_failure 1
  assert_output "Error response from daemon: No such container: nosuch"
}

@test "daemon images: docker build (classic builder): steps streamed, the image runs; -q; labels" {
  ctx="$BATS_TEST_TMPDIR/ctx"
  mkdir -p "$ctx"
  echo "hello from the context" >"$ctx/hello.txt"
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM busybox
ENV WHO=daemon
COPY hello.txt /app/
ARG EXTRA=none
RUN cat /app/hello.txt > /app/copy.txt && echo "built by $WHO, extra $EXTRA" | tee /app/who.txt
CMD ["sh", "-c", "cat /app/copy.txt /app/who.txt"]
DOCKERFILE
  daemon_start
  run dock build -t app:v1 --build-arg EXTRA=given --label stage=test "$ctx"
  assert_success
  assert_line --partial "Sending build context to Docker daemon"
  assert_line "Step 1/7 : FROM busybox"
  assert_line "Step 3/7 : COPY hello.txt /app/"
  assert_line "Step 7/7 : LABEL \"stage\"=\"test\""
  assert_line "built by daemon, extra given"
  assert_line --regexp '^ ---> Running in [0-9a-f]{12}$'
  id=$(md images -q app:v1)
  assert_line "Successfully built $id"
  assert_line "Successfully tagged app:v1"
  run md run --rm --network none app:v1
  assert_success
  assert_output "$(printf 'hello from the context\nbuilt by daemon, extra given')"
  [[ $(md image inspect app:v1 | jq -r '.[0].Config.Labels.stage') == test ]]
  # Cached the second time; -q prints the id alone.
  run docker build -q --build-arg EXTRA=given --label stage=test "$ctx"
  assert_success
  assert_output "$(image_id app:v1)"
  # The raw stream: Docker's JSON, the aux message with the id.
  tar -C "$ctx" -cf "$BATS_TEST_TMPDIR/ctx.tar" .
  run api_stream -X POST -H 'Content-Type: application/x-tar' --data-binary "@$BATS_TEST_TMPDIR/ctx.tar" \
    'http://localhost/v1.41/build?t=app:v2&buildargs=%7B%22EXTRA%22%3A%22given%22%7D'
  assert_success
  assert_line --index 0 '{"stream":"Step 1/6 : FROM busybox\n"}'
  assert_line "{\"aux\":{\"ID\":\"$(image_id app:v2)\"}}"
  # No container and no context directory are left.
  [[ -z $(md ps -aq) ]]
  [[ -z $(find "$ROOT" -maxdepth 1 -name 'build-context-*') ]]
}

@test "daemon images: a failing RUN ends the build with Docker's message and exit code" {
  ctx="$BATS_TEST_TMPDIR/bad"
  mkdir -p "$ctx"
  printf 'FROM busybox\nRUN echo before; exit 3\nCMD ["true"]\n' >"$ctx/Dockerfile"
  daemon_start
  # The client leaves as soon as it has read the error (before the chunk's last bytes): the
  # daemon takes that in its stride, every time.
  for _ in 1 2 3; do
    run docker build -t bad "$ctx"
    assert_failure 3
    run api http://localhost/_ping
    assert_output OK
  done
  # The client exits with errorDetail's code: the command's own, as with dockerd.
  run --separate-stderr docker build -t bad "$ctx"
  assert_failure 3
  assert_line "Step 2/3 : RUN echo before; exit 3"
  assert_line before
  refute_line --partial "Successfully"
  # shellcheck disable=SC2154  # set by run --separate-stderr
  [[ $stderr == "The command '/bin/sh -c echo before; exit 3' returned a non-zero code: 3" ]] ||
    fail "stderr: $stderr"
  [[ -z $(md images -q bad) ]]
  [[ -z $(md ps -aq) ]]
  [[ -z $(ls -A "$ROOT/containers") ]]
  # The stream's last message is the errorDetail the client printed.
  tar -C "$ctx" -cf "$BATS_TEST_TMPDIR/bad.tar" .
  run api_stream -X POST -H 'Content-Type: application/x-tar' --data-binary "@$BATS_TEST_TMPDIR/bad.tar" \
    'http://localhost/v1.41/build'
  message="The command '/bin/sh -c echo before; exit 3' returned a non-zero code: 3"
  [[ ${lines[-1]} == "$(jq -cn --arg m "$message" '{errorDetail: {code: 3, message: $m}, error: $m}')" ]] ||
    fail "last message: ${lines[-1]}"
  # A Dockerfile that is not in the context.
  run dock build -f "$ctx/nosuch" "$ctx"
  assert_failure 1
}

@test "daemon images: docker push and pull against a local registry; progress as Docker's JSON" {
  requires cmd:docker-registry
  start_registry
  id=$(image_id busybox)
  md tag busybox "$REGISTRY/lab/busybox:v1"
  daemon_start
  run dock push "$REGISTRY/lab/busybox:v1"
  assert_success
  assert_line --index 0 "The push refers to repository [$REGISTRY/lab/busybox]"
  assert_line --regexp '^[0-9a-f]{12}: Pushed$'
  assert_line --regexp '^v1: digest: sha256:[0-9a-f]{64} size: [0-9]+$'
  digest=$(grep -o 'sha256:[0-9a-f]*' <<<"${lines[-1]}")
  md rmi "$REGISTRY/lab/busybox:v1" busybox >/dev/null
  [[ -z $(md images -q) ]]
  run dock pull "$REGISTRY/lab/busybox:v1"
  assert_success
  assert_line --index 0 "v1: Pulling from lab/busybox"
  assert_line --regexp '^[0-9a-f]{12}: Pull complete$'
  assert_line "Digest: $digest"
  assert_line "Status: Downloaded newer image for $REGISTRY/lab/busybox:v1"
  assert_line --index -1 "$REGISTRY/lab/busybox:v1"
  [[ $(image_id "$REGISTRY/lab/busybox:v1") == "$id" ]]
  run md run --rm --network none "$REGISTRY/lab/busybox:v1" echo pulled-and-ran
  assert_output pulled-and-ran
  # Again: up to date. The raw stream is Docker's progress JSON.
  run api_stream -X POST "http://localhost/v1.41/images/create?fromImage=$REGISTRY/lab/busybox&tag=v1"
  assert_success
  assert_line --index 0 '{"status":"Pulling from lab/busybox","progressDetail":{},"id":"v1"}'
  assert_line --regexp '^\{"status":"Already exists","progressDetail":\{\},"id":"[0-9a-f]{12}"\}'
  assert_line "{\"status\":\"Digest: $digest\"}"
  assert_line "{\"status\":\"Status: Image is up to date for $REGISTRY/lab/busybox:v1\"}"
  # A tag the registry does not have: the error inside the stream, printed, exit 1.
  run dock pull "$REGISTRY/lab/busybox:nosuch"
  assert_failure 1
  assert_output --partial "manifest for $REGISTRY/lab/busybox:nosuch not found"
  run dock push "$REGISTRY/lab/nothere:v1"
  assert_failure 1
  assert_output --partial "An image does not exist locally with the tag: $REGISTRY/lab/nothere"
  check_store
}

@test "daemon images: a client that goes away in the middle of a pull ends it; nothing is left" {
  requires cmd:docker-registry
  start_registry
  big="$BATS_TEST_TMPDIR/big-rootfs"
  mkdir -p "$big"
  cp -a "$ROOTFS/." "$big/"
  head -c $((64 << 20)) /dev/urandom >"$big/blob"
  md import "$big" "$REGISTRY/lab/big:v1" >/dev/null
  md push "$REGISTRY/lab/big:v1" >/dev/null
  md rmi "$REGISTRY/lab/big:v1" >/dev/null
  daemon_start
  # grep leaves at the first "Downloading": curl dies writing the next line, the daemon's next
  # write fails, and the pull unwinds (its staging files removed, no image recorded).
  api_stream -N -X POST "http://localhost/v1.41/images/create?fromImage=$REGISTRY/lab/big&tag=v1" |
    grep -m1 -q '"status":"Downloading"'
  # The pull notices at its next write that the client is gone, and unwinds: its staging goes.
  # (It downloads under the store's shared lock, so nothing else waits for that: poll.)
  for _ in $(seq 100); do
    [[ -n $(ls -A "$ROOT/tmp") ]] || break
    sleep 0.1
  done
  grep -q "POST /v1.41/images/create?fromImage=.* 200" "$DAEMON_LOG"
  run md images -q "$REGISTRY/lab/big"
  assert_output ""
  [[ -z $(ls -A "$ROOT/tmp") ]] || fail "left in tmp/: $(ls -A "$ROOT/tmp")"
  # The daemon is up, and the same pull, to the end, works.
  run dock pull "$REGISTRY/lab/big:v1"
  assert_success
  assert_line "Status: Downloaded newer image for $REGISTRY/lab/big:v1"
  run md run --rm --network none "$REGISTRY/lab/big:v1" wc -c /blob
  assert_output "$((64 << 20)) /blob"
  check_store
}

@test "daemon images: image prune, container prune and system df" {
  md tag busybox other:v1
  md run --name done1 --network none busybox sh -c 'echo data > /f' >/dev/null
  md create --network none --name made busybox true >/dev/null
  md run -d --name live --network none busybox sleep 1000 >/dev/null
  live=$(md inspect live | jq -r '.[0].Id')
  daemon_start
  run dock system df
  assert_success
  assert_line --index 0 --regexp '^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE$'
  size=$(md system df | awk '$1 == "Images" { print $4 }')
  assert_line --regexp "^Images +1 +1 +$size +0B \(0%\)$"
  assert_line --regexp '^Containers +3 +1 +[0-9.]+[kM]?B +[0-9.]+[kM]?B'
  assert_line --regexp '^Local Volumes +0 +0 +0B +0B$'
  run api http://localhost/v1.41/system/df
  [[ $(jq '[.Containers[] | select(.SizeRw > 0)] | length' <<<"$output") -ge 1 ]]
  done1=$(md inspect done1 | jq -r '.[0].Id')
  made=$(md inspect made | jq -r '.[0].Id')
  run dock container prune -f
  assert_success
  assert_line --index 0 "Deleted Containers:"
  assert_line "$done1"
  assert_line "$made"
  assert_line --regexp '^Total reclaimed space: [0-9.]+[kM]?B$'
  [[ $(md ps -aq --no-trunc) == "$live" ]]
  run dock image prune -f
  assert_success
  assert_output "Total reclaimed space: 0B"
  md rm -f live >/dev/null
  run dock image prune -af
  assert_success
  assert_line "Deleted Images:"
  assert_line "untagged: busybox:latest"
  assert_line "untagged: other:v1"
  [[ -z $(md images -q) ]]
}

@test "daemon images: volumes: create, ls, inspect, rm (in use: 409), prune of every unused one" {
  daemon_start
  run dock volume create vol1
  assert_success
  assert_output vol1
  run dock volume create
  assert_success
  [[ $output =~ ^[0-9a-f]{64}$ ]] || fail "not a random name: $output"
  anon=$output
  run dock volume ls
  assert_line --index 0 "DRIVER    VOLUME NAME"
  assert_line "local     vol1"
  assert_line "local     $anon"
  run dock volume inspect vol1
  assert_success
  [[ $(jq -r '.[0].Mountpoint' <<<"$output") == "$ROOT/volumes/vol1/_data" ]]
  [[ $(jq -r '.[0].Driver' <<<"$output") == local ]]
  run dock volume inspect nosuch
  assert_failure 1
  assert_output --partial "No such volume: nosuch"
  # In use by a container: refused, 409.
  md run --name user --network none -v vol1:/data busybox sh -c 'echo kept > /data/f' >/dev/null
  [[ $(cat "$ROOT/volumes/vol1/_data/f") == kept ]]
  uid=$(md inspect user | jq -r '.[0].Id')
  run dock volume rm vol1
  assert_failure 1
  assert_output "Error response from daemon: remove vol1: volume is in use - [$uid]"
  run api -w '\n%{http_code}' -X DELETE http://localhost/v1.41/volumes/vol1
  assert_line --index 1 409
  run dock volume rm nosuch
  assert_failure 1
  assert_output "Error: No such volume: nosuch"
  run dock volume rm -f nosuch
  assert_success
  run dock system df
  assert_line --regexp '^Local Volumes +2 +1 +5B +0B \(0%\)$'
  # API 1.41's prune: every unused volume, named ones too; vol1 is in use and stays.
  run dock volume create vol2
  # all=false (API 1.42's default) keeps named volumes: none here is anonymous-labelled.
  run api -X POST -G --data-urlencode 'filters={"all":["false"]}' \
    http://localhost/v1.41/volumes/prune
  assert_output '{"SpaceReclaimed":0,"VolumesDeleted":[]}'
  run dock volume prune -f
  assert_success
  assert_line "Deleted Volumes:"
  assert_line vol2
  assert_line "$anon"
  refute_line vol1
  md rm user >/dev/null
  run dock volume rm vol1
  assert_success
  assert_output vol1
  [[ -z $(md volume ls -q) ]]
}

@test "daemon images: networks: create (a bridge in the daemon's namespace), ls, inspect, connect, rm, prune" {
  requires cmd:nsenter cmd:iptables
  NS="lab-dimg-$$-$BATS_TEST_NUMBER"
  ip netns add "$NS"
  nsenter --net="/run/netns/$NS" ip link set lo up
  # The daemon and the CLI both run in that namespace (a wrapper in MINIDOCKER's place): the
  # bridge, veths and rules are made there, never in the machine's.
  printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s %s "$@"\n' "$NS" "$MINIDOCKER" \
    >"$BATS_TEST_TMPDIR/in-ns"
  chmod +x "$BATS_TEST_TMPDIR/in-ns"
  MINIDOCKER="$BATS_TEST_TMPDIR/in-ns"
  daemon_start
  run dock network create --subnet 172.29.0.0/16 lab-net
  assert_success
  [[ $output =~ ^[0-9a-f]{64}$ ]] || fail "not an id: $output"
  id=$output
  nsenter --net="/run/netns/$NS" ip link show "br-${id:0:12}" >/dev/null
  ! ip link show "br-${id:0:12}" >/dev/null 2>&1 || fail "a bridge in the machine's namespace"
  run dock network ls
  assert_line --index 0 --regexp '^NETWORK ID +NAME +DRIVER +SCOPE$'
  assert_line --regexp "^${id:0:12} +lab-net +bridge +local$"
  assert_line --regexp '^[0-9a-f]{12} +none +null +local$'
  run dock network inspect -f '{{.Name}} {{(index .IPAM.Config 0).Subnet}}' lab-net
  assert_output "lab-net 172.29.0.0/16"
  run dock network create lab-net
  assert_failure 1
  assert_output "Error response from daemon: network with name lab-net already exists"
  run dock network inspect nosuch
  assert_failure 1
  assert_line "Error: No such network: nosuch"
  run dock network rm none
  assert_failure 1
  assert_output "Error response from daemon: none is a pre-defined network and cannot be removed"
  # A container on lab-net joins a second network, then leaves it.
  md run -d --name web --network lab-net busybox sleep 1000 >/dev/null
  run dock network create lab-two
  assert_success
  run dock network connect lab-two web
  assert_success
  run dock network inspect -f '{{range .Containers}}{{.Name}}{{end}}' lab-two
  assert_output web
  run dock network rm lab-two
  assert_failure 1
  assert_output --partial "has active endpoints"
  run dock network disconnect lab-two web
  assert_success
  run dock network rm lab-two
  assert_success
  assert_output lab-two
  # prune: lab-net is in use and stays; an unused one goes.
  dock network create lab-three >/dev/null
  run dock network prune -f
  assert_success
  assert_output "$(printf 'Deleted Networks:\nlab-three')"
  md rm -f web >/dev/null
  run dock network rm lab-net
  assert_success
  ! nsenter --net="/run/netns/$NS" ip link show "br-${id:0:12}" >/dev/null 2>&1 ||
    fail "the bridge is still there"
}
