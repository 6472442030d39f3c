#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031  # DAEMON_PID: set and read within each test
# The daemon (final/daemon): `minidocker daemon` serves the engine over the Docker Engine API
# (v1.41) on a unix socket, and the real docker client (build/docker-cli/docker, unpacked from
# Debian's docker.io by `make deps`) and curl talk to it. Each test has an engine root and a
# socket of its own; the daemon is always stopped in teardown, its socket gone.
load helpers
load engine
load daemon
bats_require_minimum_version 1.5.0

setup() {
  daemon_setup
}

teardown() {
  daemon_teardown
}

@test "daemon: GET and HEAD /_ping answer OK with Docker's headers; one log line per request" {
  daemon_start
  run api -i http://localhost/_ping
  assert_success
  assert_line --regexp $'^HTTP/1.1 200 OK\r$'
  assert_line --regexp $'^Api-Version: 1.41\r$'
  assert_line --regexp $'^Docker-Experimental: false\r$'
  assert_line --regexp $'^Ostype: linux\r$'
  assert_line --regexp '^Server: minidocker/'
  [[ ${lines[-1]} == OK ]]
  run api -I http://localhost/v1.41/_ping
  assert_success
  assert_line --regexp $'^Api-Version: 1.41\r$'
  assert_line --regexp $'^Content-Length: 0\r$'
  # The socket: 0660, root's (group minidocker when that group exists).
  [[ $(stat -c %a "$SOCK") == 660 ]]
  [[ $(stat -c %u "$SOCK") == 0 ]]
  run grep -E '^(GET|HEAD) /' "$DAEMON_LOG"
  assert_line --regexp '^GET /_ping 200 [0-9]+ms$'
  assert_line --regexp '^HEAD /v1.41/_ping 200 [0-9]+ms$'
}

@test "daemon: version, by curl and by the docker client" {
  daemon_start
  run api http://localhost/v1.41/version
  assert_success
  [[ $(jq -r .ApiVersion <<<"$output") == 1.41 ]]
  [[ $(jq -r .Os <<<"$output") == linux ]]
  [[ $(jq -r .KernelVersion <<<"$output") == "$(uname -r)" ]]
  run docker version --format '{{.Server.APIVersion}} {{.Server.Os}} {{.Server.KernelVersion}}'
  assert_success
  assert_output "1.41 linux $(uname -r)"
  run docker version
  assert_success
  assert_line --regexp '^Server: minidocker$'
}

@test "daemon: an unknown route is 404 page not found, a known path with another method 405" {
  daemon_start
  run api -w '\n%{http_code}' http://localhost/v1.41/no/such/route
  assert_success
  assert_equal "${lines[0]}" '{"message":"page not found"}'
  assert_equal "${lines[1]}" 404
  run api -w '\n%{http_code}' -X DELETE http://localhost/_ping
  assert_equal "${lines[0]}" '{"message":"method not allowed"}'
  assert_equal "${lines[1]}" 405
  run api -w '\n%{http_code}' http://localhost/v1.99/version
  assert_equal "${lines[0]}" \
    '{"message":"client version 1.99 is too new. Maximum supported API version is 1.41"}'
  assert_equal "${lines[1]}" 400
  # The daemon is still up.
  run api http://localhost/_ping
  assert_output OK
}

@test "daemon: a missing container or image is 404 with Docker's message" {
  daemon_start
  run api -w '\n%{http_code}' http://localhost/v1.41/containers/nosuch/json
  assert_equal "${lines[0]}" '{"message":"No such container: nosuch"}'
  assert_equal "${lines[1]}" 404
  run api -w '\n%{http_code}' http://localhost/v1.41/images/nosuch/json
  assert_equal "${lines[0]}" '{"message":"No such image: nosuch"}'
  assert_equal "${lines[1]}" 404
  run api -w '\n%{http_code}' 'http://localhost/containers/json?all=maybe'
  assert_equal "${lines[0]}" '{"message":"invalid boolean value for all: maybe"}'
  assert_equal "${lines[1]}" 400
  # The docker client asks for a container, then an image, and says neither exists.
  run docker inspect nosuch
  assert_failure 1
  assert_output --partial 'Error: No such object: nosuch'
}

@test "daemon: a container the CLI created is in GET /containers/json?all=1 and docker ps -a" {
  md create --network none --name web busybox sleep 1000 >/dev/null
  id=$(md inspect web | jq -r '.[0].Id')
  daemon_start
  # Not running: only with all=1.
  run api http://localhost/v1.41/containers/json
  assert_output '[]'
  run api 'http://localhost/v1.41/containers/json?all=1'
  assert_success
  [[ $(jq -r '.[0].Id' <<<"$output") == "$id" ]]
  [[ $(jq -r '.[0].Names[0]' <<<"$output") == /web ]]
  [[ $(jq -r '.[0].Image' <<<"$output") == busybox ]]
  [[ $(jq -r '.[0].State' <<<"$output") == created ]]
  [[ $(jq -r '.[0].Command' <<<"$output") == "sleep 1000" ]]
  run docker ps -a
  assert_success
  assert_line --regexp '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$'
  assert_line --regexp "^${id:0:12} +busybox +\"sleep 1000\" +.* ago +Created +web$"
  run docker ps
  assert_success
  assert_output --regexp '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$'
  run docker ps -aq --no-trunc
  assert_output "$id"
  # Started through the CLI, it is running for the daemon too.
  md start web >/dev/null
  run docker ps --format '{{.Names}} {{.State}} {{.Status}}'
  assert_success
  assert_output --regexp '^web running Up '
}

@test "daemon: docker images and docker inspect show what minidocker images and inspect show" {
  md create --network none --name web busybox true >/dev/null
  daemon_start
  image_id=$(md images -q --no-trunc busybox)
  run docker images
  assert_success
  assert_line --regexp '^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$'
  assert_line --regexp "^busybox +latest +${image_id:7:12} +"
  run docker images -q --no-trunc
  assert_output "$image_id"
  # docker inspect NAME: a container first (GET /containers/web/json), as minidocker's.
  run docker inspect web
  assert_success
  [[ $(jq -c '.[0]' <<<"$output") == "$(md inspect web | jq -c '.[0]')" ]]
  # An image: the container route says 404, the client then asks GET /images/busybox/json.
  run docker inspect busybox
  assert_success
  [[ $(jq -c '.[0]' <<<"$output") == "$(md image inspect busybox | jq -c '.[0]')" ]]
  run docker image inspect --format '{{.Id}}' busybox
  assert_output "$image_id"
}

@test "daemon: docker info runs and shows our storage driver and root" {
  md create --network none --name web busybox true >/dev/null
  daemon_start
  run api http://localhost/v1.41/info
  assert_success
  driver=$(jq -r .Driver <<<"$output")
  [[ $driver == overlay || $driver == vfs ]]
  [[ $(jq -r .Containers <<<"$output") == 1 ]]
  [[ $(jq -r .ContainersStopped <<<"$output") == 1 ]]
  [[ $(jq -r .Images <<<"$output") == 1 ]]
  [[ $(jq -r .NCPU <<<"$output") == "$(nproc)" ]]
  [[ $(jq -r .DockerRootDir <<<"$output") == "$ROOT" ]]
  run docker info
  assert_success
  assert_line " Storage Driver: $driver"
  assert_line " Docker Root Dir: $ROOT"
  assert_line " Cgroup Driver: cgroupfs"
  assert_line " Containers: 1"
  assert_line " Images: 1"
}

@test "daemon: a second daemon on the same socket is refused; a stale socket is replaced" {
  daemon_start
  run "$MINIDOCKER" daemon -H "unix://$SOCK" --root "$ROOT"
  assert_failure 1
  assert_output "Error: a daemon is already serving unix://$SOCK"
  run api http://localhost/_ping
  assert_output OK
  # SIGKILL leaves the socket file behind; the next daemon removes it and serves.
  kill -KILL "$DAEMON_PID"
  wait "$DAEMON_PID" || true
  DAEMON_PID=
  [[ -S $SOCK ]]
  daemon_start
  run api http://localhost/_ping
  assert_output OK
}

@test "daemon: SIGTERM and SIGINT end it cleanly: exit 0, the socket removed" {
  daemon_start
  daemon_stop
  [[ $DAEMON_STATUS == 0 ]]
  [[ ! -e $SOCK ]]
  grep -q 'socket removed' "$DAEMON_LOG"
  daemon_start
  kill -INT "$DAEMON_PID"
  wait "$DAEMON_PID"
  DAEMON_PID=
  [[ ! -e $SOCK ]]
}

@test "daemon: tcp:// without --insecure-tcp and a path that is not a socket are refused with one line" {
  # (in a network namespace of its own: had the refusal failed, the host would not be listening;
  # tests/50-daemon-resources.bats serves TCP)
  run unshare -n "$MINIDOCKER" daemon -H tcp://127.0.0.1:2375 --root "$ROOT"
  assert_failure 1
  assert_output "Error: refusing to listen on tcp://127.0.0.1:2375 without --insecure-tcp: there is no TLS here, and whoever can reach the port is root on this host"
  touch "$BATS_TEST_TMPDIR/file"
  run "$MINIDOCKER" daemon -H "unix://$BATS_TEST_TMPDIR/file" --root "$ROOT"
  assert_failure 1
  assert_output "Error: $BATS_TEST_TMPDIR/file exists and is not a socket"
  [[ -f $BATS_TEST_TMPDIR/file ]]
}
