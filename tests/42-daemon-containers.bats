#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031  # DAEMON_PID: set and read within each test
# shellcheck disable=SC2154  # $stderr: set by `run --separate-stderr`
# The daemon's container routes (final/daemon/routes_containers.cpp), driven by the real docker
# client: run (create, attach with the connection hijacked, wait, start), run -d, logs, exec,
# stop, kill, restart, pause, top, stats, rm. What a container did is checked from inside it
# (its output, its cgroup, a file it read). Every container runs with --network none; each test
# has an engine root and a socket of its own, and teardown stops the daemon and removes every
# container.
load helpers
load engine
load daemon
bats_require_minimum_version 1.5.0

# /run/netns: taken away again if these tests made it (helpers.bash)
setup_file() { netns_mount_remember; }
teardown_file() { netns_mount_restore; }

setup() {
  daemon_setup
  HOST_NS=""
}

teardown() {
  if [[ -n $HOST_NS ]]; then
    # The -p test's containers are on a bridge inside its namespace: removed from there, before
    # the namespace (and with it the bridge and the rules) goes.
    remove_containers_in "$HOST_NS"
  fi
  daemon_teardown
  [[ -z $HOST_NS ]] || ip netns del "$HOST_NS" 2>/dev/null || true
}

in_host() { nsenter --net="/run/netns/$HOST_NS" -- "$@"; }

@test "daemon run: --rm echo hi prints hi and exits 0; exit 3 is 3; stdout and stderr apart" {
  daemon_start
  run docker run --rm --network none busybox echo hi
  assert_success
  assert_output hi
  # Without a pty, stdout and stderr share the hijacked connection in Docker's 8-byte frames;
  # the client splits them again.
  run --separate-stderr docker run --rm --network none busybox sh -c 'echo out; echo err >&2; exit 3'
  assert_failure 3
  assert_output out
  [[ $stderr == err ]]
  # --rm: wait?condition=removed answered once the container was gone.
  [[ -z $(md ps -aq) ]]
  # The client's four requests, in this order (final/README.md shows them): create, attach
  # (hijacked), wait (its headers before the start), start.
  run grep -E '^POST /v1.41/containers/' "$DAEMON_LOG"
  assert_line --index 0 --regexp '^POST /v1.41/containers/create 201 [0-9]+ms$'
  id=$(sed -n 's|^POST /v1.41/containers/\([0-9a-f]\{64\}\)/attach.*|\1|p' "$DAEMON_LOG" | head -1)
  assert_line --index 1 --regexp "^POST /v1.41/containers/$id/attach\?stderr=1&stdout=1&stream=1 101 [0-9]+ms$"
  assert_line --index 2 --regexp "^POST /v1.41/containers/$id/wait\?condition=removed 200 [0-9]+ms$"
  assert_line --index 3 --regexp "^POST /v1.41/containers/$id/start 204 [0-9]+ms$"
  # A program that cannot be run: the client's 127 from the daemon's words.
  run -127 docker run --rm --network none busybox nosuch
  # shellcheck disable=SC2016  # Docker's words
  assert_output --partial 'exec: "nosuch": executable file not found in $PATH'
  # Without --rm: wait?condition=next-exit, and the container stays, exited with its code.
  run docker run --name kept --network none busybox sh -c 'echo kept; exit 7'
  assert_failure 7
  assert_output kept
  [[ $(md inspect kept | jq -r '.[0].State | "\(.Status) \(.ExitCode)"') == "exited 7" ]]
  grep -q 'POST /v1.41/containers/[0-9a-f]*/wait?condition=next-exit 200' "$DAEMON_LOG"
}

@test "daemon run -i: the client's stdin reaches the container, its end closes the container's" {
  daemon_start
  # (the client under bash -c: DOCKER_HOST and DOCKER_CONFIG from the environment)
  export DOCKER_HOST="unix://$SOCK" DOCKER_CONFIG="$BATS_TEST_TMPDIR/docker-config"
  run bash -c 'echo hi | "$0" run -i --rm --network none busybox cat' "$DOCKER"
  assert_success
  assert_output hi
  # More than one message of the attach protocol (32 KiB each), and every byte of it.
  run bash -c 'seq 1 20000 | "$0" run -i --rm --network none busybox md5sum' "$DOCKER"
  assert_success
  assert_output "$(seq 1 20000 | md5sum)"
  # The container stops reading while the client goes on writing: the client still reads the
  # whole output and its end (no "connection reset by peer"), and the daemon goes on serving.
  run bash -c 'yes | "$0" run -i --rm --network none busybox head -c 6' "$DOCKER"
  assert_success
  assert_output $'y\ny\ny'
  run api http://localhost/_ping
  assert_output OK
}

@test "daemon run -t: a pty inside, raw bytes on the connection" {
  daemon_start
  export DOCKER_HOST="unix://$SOCK" DOCKER_CONFIG="$BATS_TEST_TMPDIR/docker-config"
  # script(1) gives the client a terminal, as a user's.
  run script -qec "$DOCKER run -t --rm --network none busybox sh -c '[ -t 1 ] && tty'" /dev/null
  assert_success
  [[ $output == /dev/pts/* ]]
  run script -qec "$DOCKER run -t --rm --network none busybox sh -c 'exit 4'" /dev/null
  assert_failure 4
  # The client's window size: POST /containers/{id}/resize after the start, set on the pty by
  # the monitor (the container waits a moment for it).
  run script -qec "stty rows 31 cols 101; $DOCKER run -t --rm --network none busybox \
    sh -c 'sleep 0.5; stty size'" /dev/null
  assert_success
  assert_output --partial "31 101"
  # -it: what is typed goes through the client's raw terminal and the hijacked connection to
  # the container's pty, whose line discipline echoes it.
  run script -qec "$DOCKER run -it --rm --network none busybox sh -c 'read x; echo got:\$x'" \
    /dev/null <<<"typed"
  assert_success
  assert_output --partial "got:typed"
}

@test "daemon run -d: ps, logs, logs -f until the exit, wait, inspect, rm" {
  daemon_start
  run docker run -d --name web --network none busybox \
    sh -c 'for i in 1 2 3; do echo line $i; sleep 0.3; done; echo bye >&2; exit 2'
  assert_success
  [[ $output =~ ^[0-9a-f]{64}$ ]]
  id=$output
  run docker ps --format '{{.ID}} {{.Names}} {{.State}}'
  assert_output "${id:0:12} web running"
  # -f follows the log until the container exits, each line on its own stream.
  run --separate-stderr docker logs -f web
  assert_success
  assert_output $'line 1\nline 2\nline 3'
  [[ $stderr == bye ]]
  run docker wait web
  assert_output 2
  run docker inspect --format '{{.State.Status}} {{.State.ExitCode}}' web
  assert_output "exited 2"
  run --separate-stderr docker logs --tail 2 web
  assert_output "line 3"
  [[ $stderr == bye ]]
  run docker logs --timestamps web
  assert_line --regexp '^20[0-9-]+T[0-9:.]+Z line 1$'
  run docker rm web
  assert_success
  assert_output web
  # attach to a running container: its output from then on, and its exit code.
  docker run -d --name late --network none busybox sh -c 'sleep 1; echo late; exit 4' >/dev/null
  run docker attach late
  assert_failure 4
  assert_output late
  # A -t container's log is one raw stream (no frames), as its pty wrote it.
  docker run -d -t --name tty --network none busybox sh -c 'echo on-a-pty' >/dev/null
  docker wait tty >/dev/null
  run docker logs tty
  assert_output $'on-a-pty\r'
  docker rm late tty >/dev/null
  [[ -z $(md ps -aq) ]]
}

@test "daemon exec: output, stderr apart, exit code, -e, -w, -i, -d, -t, a missing command" {
  md run -d --name web --network none busybox sleep 1000 >/dev/null
  daemon_start
  run --separate-stderr docker exec web sh -c 'echo out; echo err >&2; exit 5'
  assert_failure 5
  assert_output out
  [[ $stderr == err ]]
  run docker exec -e GREETING=hello -w /tmp web sh -c 'echo $GREETING $(pwd)'
  assert_success
  assert_output "hello /tmp"
  export DOCKER_HOST="unix://$SOCK" DOCKER_CONFIG="$BATS_TEST_TMPDIR/docker-config"
  run bash -c 'echo piped | "$0" exec -i web cat' "$DOCKER"
  assert_output piped
  # A process that stops reading while the client goes on writing: an EPIPE for the daemon,
  # which goes on serving.
  run bash -c 'yes | "$0" exec -i web head -c 6' "$DOCKER"
  assert_success
  assert_output $'y\ny\ny'
  run api http://localhost/_ping
  assert_output OK
  run docker exec -d web sh -c 'echo done > /tmp/marker'
  assert_success
  for _ in $(seq 50); do md exec web test -e /tmp/marker && break; sleep 0.1; done
  run md exec web cat /tmp/marker
  assert_output 'done'
  run script -qec "$DOCKER exec -t web sh -c '[ -t 1 ] && echo has-a-tty; exit 6'" /dev/null
  assert_failure 6
  assert_output --partial has-a-tty
  # POST /exec/{id}/resize: the size set on the exec's own pty master.
  run script -qec "stty rows 32 cols 102; $DOCKER exec -t web sh -c 'sleep 0.5; stty size'" \
    /dev/null
  assert_success
  assert_output --partial "32 102"
  run -127 docker exec web nosuch
  # shellcheck disable=SC2016  # Docker's words
  assert_output --partial 'executable file not found in $PATH'
  # The exec instances (GET /exec/{id}/json) answered the client's exit codes.
  grep -q 'GET /v1.41/exec/[0-9a-f]*/json 200' "$DAEMON_LOG"
}

@test "daemon: stop, kill, restart, pause and unpause, rename, top, stats --no-stream" {
  daemon_start
  docker run -d --name web --network none busybox sleep 1000 >/dev/null
  run docker top web
  assert_success
  assert_line --regexp '^UID +PID +PPID +C +STIME +TTY +TIME +CMD$'
  assert_line --regexp ' sleep 1000$'
  run docker stats --no-stream --format '{{.Name}} {{.PIDs}} {{.MemUsage}}' web
  assert_success
  assert_output --regexp '^web 1 [0-9.]+[KMG]?i?B / [0-9.]+[KMG]iB$'
  run docker pause web
  assert_output web
  [[ $(docker inspect --format '{{.State.Status}}' web) == paused ]]
  pid=$(docker inspect --format '{{.State.Pid}}' web)
  run docker rm web
  assert_failure 1
  assert_output --partial "You cannot remove a paused container"
  run docker unpause web
  assert_output web
  [[ $(docker inspect --format '{{.State.Status}}' web) == running ]]
  run docker rename web web2
  assert_success
  run docker kill web2
  assert_output web2
  [[ $(docker inspect --format '{{.State.Status}} {{.State.ExitCode}}' web2) == "exited 137" ]]
  run ! kill -0 "$pid"
  run docker kill web2
  assert_failure 1
  assert_output --partial "is not running"
  docker start web2 >/dev/null
  first=$(docker inspect --format '{{.State.StartedAt}}' web2)
  run docker restart -t 1 web2
  assert_output web2
  [[ $(docker inspect --format '{{.State.Status}}' web2) == running ]]
  [[ $(docker inspect --format '{{.State.StartedAt}}' web2) != "$first" ]]
  # sleep as PID 1 ignores SIGTERM: SIGKILL after the 1 s.
  run docker stop -t 1 web2
  assert_output web2
  [[ $(docker inspect --format '{{.State.Status}}' web2) == exited ]]
  docker rm web2 >/dev/null
}

@test "daemon rm: a running container is refused, rm -f removes it; a missing name; a name in use" {
  daemon_start
  docker run -d --name web --network none busybox sleep 1000 >/dev/null
  id=$(md inspect web | jq -r '.[0].Id')
  run docker rm web
  assert_failure 1
  assert_output "Error response from daemon: You cannot remove a running container $id. Stop the container before attempting removal or force remove"
  run docker create --name web --network none busybox true
  assert_failure 1
  assert_output --partial "Conflict. The container name \"/web\" is already in use by container \"$id\""
  run docker rm -f web
  assert_success
  assert_output web
  [[ -z $(md ps -aq) ]]
  [[ ! -d $ROOT/containers/$id ]]
  run docker rm nosuch
  assert_failure 1
  assert_output --partial "No such container: nosuch"
}

@test "daemon run: -e, -v HOST:CTR, --memory and --cpus, seen from inside the container" {
  mkdir "$BATS_TEST_TMPDIR/data"
  echo from-the-host >"$BATS_TEST_TMPDIR/data/file"
  daemon_start
  run docker run --rm --network none -e GREETING=hello -v "$BATS_TEST_TMPDIR/data:/data:ro" \
    --memory 64m --cpus 0.5 busybox sh -c '
      echo "env: $GREETING"
      echo "file: $(cat /data/file)"
      touch /data/new 2>/dev/null || echo "read-only"
      if [ -e /sys/fs/cgroup/memory.max ]; then
        echo "memory: $(cat /sys/fs/cgroup/memory.max)"
        echo "cpu: $(cat /sys/fs/cgroup/cpu.max)"
      else
        echo "memory: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
        echo "cpu: $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"
      fi'
  assert_success
  assert_line "env: hello"
  assert_line "file: from-the-host"
  assert_line "read-only"
  assert_line "memory: 67108864"
  assert_line "cpu: 50000 100000"
}

@test "daemon attach: Docker's 8-byte frames; a client that goes leaves nothing; wait's body" {
  md run -d --name talk --network none busybox \
    sh -c 'while :; do echo tick; echo tock >&2; sleep 0.2; done' >/dev/null
  daemon_start
  fds_before=$(find "/proc/$DAEMON_PID/fd" -mindepth 1 | wc -l)
  # A raw client: the request, the 101, then a frame of stdout and one of stderr, then it goes.
  run /usr/bin/python3 - "$SOCK" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"POST /v1.41/containers/talk/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\n"
          b"Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(4096)
head, data = data.split(b"\r\n\r\n", 1)
print(head.split(b"\r\n")[0].decode())
seen = set()
while len(seen) < 2:
    while len(data) < 8:
        data += s.recv(4096)
    stream, size = struct.unpack(">BxxxI", data[:8])
    while len(data) < 8 + size:
        data += s.recv(4096)
    seen.add((stream, data[8:8 + size].decode().strip()))
    data = data[8 + size:]
for stream, text in sorted(seen):
    print(stream, text)
s.close()
EOF
  assert_success
  assert_line --index 0 "HTTP/1.1 101 UPGRADED"
  assert_line "1 tick"
  assert_line "2 tock"
  # The daemon's end of the monitor's socket and of the client's closed with the client.
  for _ in $(seq 20); do
    [[ $(find "/proc/$DAEMON_PID/fd" -mindepth 1 | wc -l) -le $fds_before ]] && break
    sleep 0.1
  done
  (($(find "/proc/$DAEMON_PID/fd" -mindepth 1 | wc -l) <= fds_before))
  [[ $(md inspect talk | jq -r '.[0].State.Status') == running ]]
  # The real client killed in the middle of `docker run`: the container goes on, the daemon's
  # ends of the client's connections (attach, wait) close with it.
  DOCKER_HOST="unix://$SOCK" DOCKER_CONFIG="$BATS_TEST_TMPDIR/docker-config" "$DOCKER" run \
    --name long --network none busybox sh -c 'while :; do echo x; sleep 0.1; done' >/dev/null &
  client=$!
  for _ in $(seq 50); do
    [[ $(md inspect long 2>/dev/null | jq -r '.[0].State.Status') == running ]] && break
    sleep 0.1
  done
  sleep 0.5
  kill -KILL "$client"
  wait "$client" || true
  for _ in $(seq 20); do
    [[ $(find "/proc/$DAEMON_PID/fd" -mindepth 1 | wc -l) -le $fds_before ]] && break
    sleep 0.1
  done
  (($(find "/proc/$DAEMON_PID/fd" -mindepth 1 | wc -l) <= fds_before))
  [[ $(md inspect long | jq -r '.[0].State.Status') == running ]]
  # Attach to a missing container: 404 before any hijack.
  run api -w '\n%{http_code}' -X POST 'http://localhost/v1.41/containers/nosuch/attach?stream=1'
  assert_line --index 0 '{"message":"No such container: nosuch"}'
  assert_line --index 1 404
  # wait: the headers at once, the body at the exit.
  api -X POST http://localhost/v1.41/containers/talk/wait >"$BATS_TEST_TMPDIR/wait" &
  waiter=$!
  sleep 0.5
  [[ ! -s $BATS_TEST_TMPDIR/wait ]]
  md kill talk >/dev/null
  wait "$waiter"
  run cat "$BATS_TEST_TMPDIR/wait"
  assert_output '{"Error":null,"StatusCode":137}'
}

@test "daemon create: Docker's body is the CLI's flags; a missing image is 404; --privileged refused" {
  daemon_start
  # shellcheck disable=SC2016  # $A is the container's
  run api -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Image":"busybox","Cmd":["sh","-c","echo $A"],"Env":["A=1"],"Labels":{"k":"v"},
         "HostConfig":{"NetworkMode":"none","Memory":33554432,"NanoCpus":1500000000,
                       "PidsLimit":20,"Tmpfs":{"/scratch":""},"Init":true}}' \
    'http://localhost/v1.41/containers/create?name=made'
  assert_line --index 1 201
  id=$(jq -r .Id <<<"${lines[0]}")
  [[ $(jq -c .Warnings <<<"${lines[0]}") == '[]' ]]
  run md inspect made
  [[ $(jq -r '.[0].Id' <<<"$output") == "$id" ]]
  [[ $(jq -c '.[0].HostConfig | [.Memory, .NanoCpus, .PidsLimit, .NetworkMode, .Init]' <<<"$output") == '[33554432,1500000000,20,"none",true]' ]]
  [[ $(jq -c '.[0].Config.Labels' <<<"$output") == '{"k":"v"}' ]]
  run docker start -a made
  assert_success
  assert_output 1
  run api -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Image":"nosuch"}' http://localhost/v1.41/containers/create
  assert_line --index 0 '{"message":"No such image: nosuch:latest"}'
  assert_line --index 1 404
  run api -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Image":"busybox","HostConfig":{"Privileged":true}}' http://localhost/v1.41/containers/create
  assert_line --index 1 400
  assert_line --index 0 --partial '--privileged is not supported'
  run api -w '\n%{http_code}' -X POST -d '{not json' http://localhost/v1.41/containers/create
  assert_line --index 1 400
  # start of a running container: 304; stop of a stopped one: 304.
  md run -d --name up --network none busybox sleep 1000 >/dev/null
  run api -w '%{http_code}' -X POST http://localhost/v1.41/containers/up/start
  assert_output 304
  run api -w '%{http_code}' -X POST http://localhost/v1.41/containers/made/stop
  assert_output 304
}

@test "daemon cp: out of and into a container (the archive routes), a missing path" {
  md run -d --name web --network none busybox sh -c 'echo inside > /tmp/made; sleep 1000' >/dev/null
  daemon_start
  for _ in $(seq 50); do md exec web test -e /tmp/made && break; sleep 0.1; done
  # Out: GET /containers/web/archive?path=... (a tar and the stat header), unpacked as DEST.
  run docker cp web:/tmp/made "$BATS_TEST_TMPDIR/out"
  assert_success
  [[ $(cat "$BATS_TEST_TMPDIR/out") == inside ]]
  # In: HEAD (is /tmp a directory?), then PUT of a tar of the file.
  echo from-the-host >"$BATS_TEST_TMPDIR/in"
  run docker cp "$BATS_TEST_TMPDIR/in" web:/tmp/
  assert_success
  run md exec web cat /tmp/in
  assert_output from-the-host
  run docker cp web:/nosuch "$BATS_TEST_TMPDIR/x"
  assert_failure 1
  assert_output --partial "No such container:path: web:/nosuch"
  [[ ! -e $BATS_TEST_TMPDIR/x ]]
  grep -q '^HEAD /v1.41/containers/web/archive?path=.* 200' "$DAEMON_LOG"
}

@test "daemon run -p: a published port, the daemon in a network namespace of the test's own" {
  requires cmd:iptables cmd:nsenter
  # The daemon, and so the engine's bridge, veths and NAT rules, in a namespace that dies with
  # the test; the docker client reaches it through the socket's path, as always.
  HOST_NS="lab-d42-$$-$BATS_TEST_NUMBER"
  daemon_start "$HOST_NS"
  run docker run -d --name web -p 8080:80 busybox httpd -f -p 80 -h /etc
  assert_success
  hostname=$(docker inspect --format '{{.Config.Hostname}}' web)
  body=""
  for _ in $(seq 100); do
    body=$(timeout 3 nsenter --net="/run/netns/$HOST_NS" -- "$ROOTFS/bin/busybox" wget -q -O - \
      http://127.0.0.1:8080/hostname 2>/dev/null) && break
    sleep 0.1
  done
  [[ $body == "$hostname" ]]
  run docker port web
  assert_output "80/tcp -> 0.0.0.0:8080"
  run docker ps --format '{{.Names}} {{.Ports}}'
  assert_output "web 0.0.0.0:8080->80/tcp"
  run docker rm -f web
  assert_success
}
