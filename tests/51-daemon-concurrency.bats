#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031  # DAEMON_PID: set and read within each test
# The daemon runs requests at once (final/daemon/server.cpp: no lock of its own around the jobs;
# the engine's flocks order them as they order many CLI processes). A stop in its grace period
# holds up no other request: not a ps, an images, an inspect, a logs, a kill of another
# container, nor a whole run --rm. Checked by order, not by time: each of those has returned
# while the stop has not (its container is still running, its client still waiting). Then many
# requests of every kind at once, and many creates and removes at once: all answered as one at
# a time would be, and nothing left behind. Everything runs with --network none.
load helpers
load engine
load daemon
load registry
bats_require_minimum_version 1.5.0

# /run/netns: taken away again if these tests made it (helpers.bash)
setup_file() { netns_mount_remember; }
teardown_file() { netns_mount_restore; }

setup() {
  daemon_setup
  PROXY_PID=
  HOST_NS=
}

in_host() { nsenter --net="/run/netns/$HOST_NS" -- "$@"; }

teardown() {
  if [[ -n $HOST_NS ]]; then
    # The bridge test's containers are on a bridge inside its namespace: removed from there,
    # before the namespace (and with it the bridge and the rules) goes.
    remove_containers_in "$HOST_NS"
  fi
  if [[ -n ${PROXY_PID:-} ]]; then
    kill "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
  fi
  [[ -z ${REGISTRY_PID:-} ]] || stop_registry
  daemon_teardown
  [[ -z $HOST_NS ]] || ip netns del "$HOST_NS" 2>/dev/null || true
}

# A proxy in front of the registry ($REGISTRY) that holds every blob's download half-way until
# the file $1 exists (it makes $1.waiting when one is held): a pull stuck in its download for as
# long as the test wants. Its address in PROXY.
start_gated_proxy() {
  local gate=$1 port_file=$BATS_TEST_TMPDIR/proxy.port _
  cat >"$BATS_TEST_TMPDIR/proxy.py" <<'PY'
import http.client, http.server, os, sys, time
upstream, gate, port_file = sys.argv[1], sys.argv[2], sys.argv[3]

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self, method):
        upstream_connection = http.client.HTTPConnection(upstream)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        upstream_connection.request(method, self.path, headers=headers)
        answer = upstream_connection.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for k, v in answer.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method == "HEAD":
            return
        if method == "GET" and "/blobs/" in self.path and answer.status == 200:
            half = len(data) // 2
            self.wfile.write(data[:half])
            self.wfile.flush()
            open(gate + ".waiting", "w").close()
            while not os.path.exists(gate):
                time.sleep(0.05)
            self.wfile.write(data[half:])
        else:
            self.wfile.write(data)

    def do_GET(self):
        self.forward("GET")

    def do_HEAD(self):
        self.forward("HEAD")

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
PY
  /usr/bin/python3 "$BATS_TEST_TMPDIR/proxy.py" "$REGISTRY" "$gate" "$port_file" 3>&- &
  PROXY_PID=$!
  for _ in $(seq 100); do
    [[ -s $port_file ]] && break
    sleep 0.1
  done
  [[ -s $port_file ]] || fail "the proxy never started"
  PROXY="127.0.0.1:$(cat "$port_file")"
}

# Starts `docker VERB -t 10 CONTAINER` in the background (BG_PID its pid; BG_DONE a file that
# gets its exit code once it returns, BG_OUT its output) and waits until CONTAINER has had the
# SIGTERM, asking through the daemon (the logs route must answer meanwhile too).
sigterm_in_background() {
  BG_DONE=$BATS_TEST_TMPDIR/$1.done BG_OUT=$BATS_TEST_TMPDIR/$1.out
  (
    docker "$1" -t 10 "$2" >"$BG_OUT" 2>&1
    echo "$?" >"$BG_DONE"
  ) 3>&- &
  BG_PID=$!
  for _ in $(seq 100); do
    docker logs "$2" 2>/dev/null | grep -q 'got TERM' && break
    sleep 0.1
  done
  docker logs "$2" | grep -q 'got TERM' || fail "the container never got the SIGTERM"
}

# Fails unless the stop started in the background (its pid $1, its marker file $2) is still
# waiting, its container ($3) still running: whatever returned before this call did not wait
# for it.
stop_still_waiting() {
  [[ ! -e $2 ]] || fail "the stop (or restart) had already returned: the request before waited for it"
  kill -0 "$1" 2>/dev/null || fail "the stop's (or restart's) client has exited"
  [[ $(md inspect "$3" | jq -r '.[0].State.Status') == running ]] ||
    fail "$3 is no longer running"
}

@test "concurrency: while a stop waits out its grace period, ps, images, inspect, logs, a kill of another container and a run --rm all answer" {
  # PID 1 of the container takes SIGTERM and carries on (prints that it got it): only the
  # SIGKILL at the end of the grace period ends it.
  md run -d --network none --name stubborn busybox \
    sh -c 'trap "echo got TERM" TERM; echo ready; while :; do sleep 0.1; done' >/dev/null
  md run -d --network none --name other busybox sleep 1000 >/dev/null
  daemon_start
  # The stop is in its grace period once the container has had the SIGTERM.
  sigterm_in_background stop stubborn
  local stop_pid=$BG_PID done_mark=$BG_DONE
  stop_still_waiting "$stop_pid" "$done_mark" stubborn

  run api http://localhost/v1.41/containers/json
  assert_success
  [[ $(jq -r '[.[].Names[0]] | sort | join(" ")' <<<"$output") == "/other /stubborn" ]] ||
    fail "containers/json: $output"
  stop_still_waiting "$stop_pid" "$done_mark" stubborn

  run api http://localhost/v1.41/images/json
  assert_success
  [[ $(jq -r '.[0].RepoTags[0]' <<<"$output") == busybox:latest ]] || fail "images/json: $output"
  run docker ps --format '{{.Names}}'
  assert_success
  assert_line stubborn
  run docker images --format '{{.Repository}}'
  assert_output busybox
  run docker inspect -f '{{.State.Status}}' stubborn
  assert_output running
  run docker version --format '{{.Server.APIVersion}}'
  assert_output 1.41
  run docker info --format '{{.Containers}}'
  assert_output 2
  stop_still_waiting "$stop_pid" "$done_mark" stubborn

  # Another container's kill, and a whole run --rm (create, attach, wait, start, remove).
  run docker kill other
  assert_success
  assert_output other
  run docker inspect -f '{{.State.Status}}' other
  assert_output exited
  run docker run --rm --network none busybox echo "while stubborn stops"
  assert_success
  assert_output "while stubborn stops"
  stop_still_waiting "$stop_pid" "$done_mark" stubborn

  # Then the stop ends as it would alone: SIGKILL after the grace period, 137.
  wait "$stop_pid"
  [[ $(cat "$done_mark") == 0 ]] || fail "the stop failed: $(cat "$BATS_TEST_TMPDIR/stop.out")"
  [[ $(cat "$BATS_TEST_TMPDIR/stop.out") == stubborn ]]
  run docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' stubborn
  assert_output "exited 137"
  still_up
}

@test "concurrency: a restart of one container holds up neither the ps nor the stop of another" {
  md run -d --network none --name slow busybox \
    sh -c 'trap "echo got TERM" TERM; while :; do sleep 0.1; done' >/dev/null
  md run -d --network none --name quick busybox sleep 1000 >/dev/null
  daemon_start
  sigterm_in_background restart slow
  local restart_pid=$BG_PID done_mark=$BG_DONE
  run docker stop -t 1 quick
  assert_success
  assert_output quick
  run docker ps --format '{{.Names}}'
  assert_output slow
  stop_still_waiting "$restart_pid" "$done_mark" slow
  wait "$restart_pid"
  [[ $(cat "$done_mark") == 0 ]] || fail "the restart failed: $(cat "$BATS_TEST_TMPDIR/restart.out")"
  # Restarted: running again.
  run docker inspect -f '{{.State.Status}}' slow
  assert_output running
  still_up
}

@test "concurrency: a pull stuck in its download holds up no images, ps, inspect or run --rm (daemon and CLI)" {
  start_registry
  # An image with a layer of its own (the busybox layer under it is in the store already), in
  # the registry only: its pull has a blob to download.
  md run --network none --name maker busybox sh -c 'head -c 300000 /dev/urandom >/big' >/dev/null
  md commit maker "$REGISTRY/lab/slow:v1" >/dev/null
  md rm maker >/dev/null
  md push "$REGISTRY/lab/slow:v1" >/dev/null
  md rmi "$REGISTRY/lab/slow:v1" >/dev/null
  local gate=$BATS_TEST_TMPDIR/gate _
  start_gated_proxy "$gate"
  daemon_start
  (
    docker pull "$PROXY/lab/slow:v1" >"$BATS_TEST_TMPDIR/pull.out" 2>&1
    echo "$?" >"$BATS_TEST_TMPDIR/pull.done"
  ) 3>&- &
  local pull_pid=$!
  for _ in $(seq 100); do
    [[ -e $gate.waiting ]] && break
    sleep 0.1
  done
  [[ -e $gate.waiting ]] || fail "the pull never reached a blob: $(cat "$BATS_TEST_TMPDIR/pull.out")"
  # The pull is in the middle of its download: everything that reads the store answers (one
  # that waited for the pull would wait for ever: 20 s and it has failed).
  run api --max-time 20 http://localhost/v1.41/images/json
  assert_success
  [[ $(jq -r '[.[].RepoTags[0]] | join(" ")' <<<"$output") == busybox:latest ]] ||
    fail "images/json: $output"
  run docker images --format '{{.Repository}}'
  assert_output busybox
  run docker image inspect -f '{{.Id}}' busybox
  assert_success
  run docker ps -a --format '{{.Names}}'
  assert_success
  run docker run --rm --network none busybox echo "while the pull downloads"
  assert_success
  assert_output "while the pull downloads"
  # Our own CLI, another process, reads the same store under the same lock.
  run md images
  assert_success
  assert_line --regexp '^busybox +latest '
  refute_line --partial lab/slow
  [[ ! -e $BATS_TEST_TMPDIR/pull.done ]] || fail "the pull had already returned"
  kill -0 "$pull_pid"
  # Let it finish: the image is there, its new layer downloaded, the busybox one not.
  touch "$gate"
  wait "$pull_pid"
  [[ $(cat "$BATS_TEST_TMPDIR/pull.done") == 0 ]] || fail "pull: $(cat "$BATS_TEST_TMPDIR/pull.out")"
  grep -q ': Already exists' "$BATS_TEST_TMPDIR/pull.out"
  grep -q ': Pull complete' "$BATS_TEST_TMPDIR/pull.out"
  run docker images --format '{{.Repository}}:{{.Tag}}'
  assert_line "$PROXY/lab/slow:v1"
  run docker run --rm --network none "$PROXY/lab/slow:v1" sh -c 'wc -c </big'
  assert_output 300000
  still_up
}

@test "concurrency: 60 requests of every kind at once are all answered correctly; no descriptor, thread, mount or cgroup is left" {
  md create --network none --name web busybox true >/dev/null
  md run -d --network none --name talker busybox sh -c 'echo hello from talker; sleep 1000' \
    >/dev/null
  daemon_start
  docker ps >/dev/null # warm up: what the daemon keeps for good (the io_context's descriptors)
  local out=$BATS_TEST_TMPDIR/out pids=() i mounts cgroups fds threads
  mounts=$(mounts_matching "$ROOT")
  cgroups=$(find /sys/fs/cgroup -maxdepth 3 -type d -path '*/minidocker/*' | sort)
  fds=$(entries "/proc/$DAEMON_PID/fd")
  threads=$(entries "/proc/$DAEMON_PID/task")
  mkdir -p "$out"
  for i in $(seq 10); do
    docker ps -a --format '{{.Names}}' >"$out/ps.$i" 2>&1 &
    pids+=($!)
    api http://localhost/v1.41/containers/web/json >"$out/inspect.$i" 2>&1 &
    pids+=($!)
    api http://localhost/v1.41/images/json >"$out/images.$i" 2>&1 &
    pids+=($!)
    docker logs talker >"$out/logs.$i" 2>&1 &
    pids+=($!)
  done
  for i in $(seq 10); do
    docker run --rm --network none busybox echo "run $i" >"$out/run.$i" 2>&1 &
    pids+=($!)
    # A container of its own, made, started, stopped and removed: all four at once with the rest.
    (docker create --network none --name "life$i" busybox sleep 1000 >/dev/null &&
      docker start "life$i" >/dev/null && docker stop -t 1 "life$i" >/dev/null &&
      docker rm "life$i") >"$out/life.$i" 2>&1 &
    pids+=($!)
  done
  local failed=0
  for i in "${pids[@]}"; do wait "$i" || failed=$((failed + 1)); done
  ((failed == 0)) || fail "$failed of 60 requests failed: $(head -n 3 "$out"/* | head -n 80)"
  for i in $(seq 10); do
    # talker and web among the names (the run --rm and life containers of the moment come and go)
    grep -qx talker "$out/ps.$i" && grep -qx web "$out/ps.$i" || fail "ps $i: $(cat "$out/ps.$i")"
    [[ $(jq -r .Name "$out/inspect.$i") == /web ]] || fail "inspect $i: $(cat "$out/inspect.$i")"
    [[ $(jq -r '.[0].RepoTags[0]' "$out/images.$i") == busybox:latest ]] ||
      fail "images $i: $(cat "$out/images.$i")"
    [[ $(cat "$out/logs.$i") == "hello from talker" ]] || fail "logs $i: $(cat "$out/logs.$i")"
    [[ $(cat "$out/run.$i") == "run $i" ]] || fail "run $i: $(cat "$out/run.$i")"
    [[ $(cat "$out/life.$i") == "life$i" ]] || fail "life $i: $(cat "$out/life.$i")"
  done
  # The --rm and life containers are gone, with their cgroups and mounts; web and talker stay.
  run docker ps -a --format '{{.Names}}'
  assert_output "$(printf '%s\n' talker web)"
  [[ $(mounts_matching "$ROOT") == "$mounts" ]] || fail "mounts: $mounts before, $(mounts_matching "$ROOT") after"
  [[ $(find /sys/fs/cgroup -maxdepth 3 -type d -path '*/minidocker/*' | sort) == "$cgroups" ]] ||
    fail "cgroups left: $(find /sys/fs/cgroup -maxdepth 3 -type d -path '*/minidocker/*')"
  [[ $(find "$ROOT/containers" -mindepth 1 -maxdepth 1 | wc -l) == 2 ]] ||
    fail "container directories: $(ls "$ROOT/containers")"
  # Every connection's thread and descriptors gone once its client is (at most 5 s to notice).
  local _
  for _ in $(seq 50); do
    [[ $(entries "/proc/$DAEMON_PID/fd") -le $fds &&
      $(entries "/proc/$DAEMON_PID/task") -le $threads ]] && break
    sleep 0.1
  done
  [[ $(entries "/proc/$DAEMON_PID/fd") -le $fds ]] ||
    fail "descriptors: $fds before, $(entries "/proc/$DAEMON_PID/fd") after: $(ls -l "/proc/$DAEMON_PID/fd")"
  [[ $(entries "/proc/$DAEMON_PID/task") -le $threads ]] ||
    fail "threads: $threads before, $(entries "/proc/$DAEMON_PID/task") after"
  still_up
}

@test "concurrency: 20 creates at once with distinct names, then 20 removes at once; 10 creates of one name: one wins, nine get Docker's conflict" {
  daemon_start
  local out=$BATS_TEST_TMPDIR/out pids=() i failed=0 mounts
  mounts=$(mounts_matching "$ROOT")
  mkdir -p "$out"
  for i in $(seq 20); do
    docker create --network none --name "c$i" busybox true >"$out/create.$i" 2>&1 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || failed=$((failed + 1)); done
  ((failed == 0)) || fail "$failed creates failed: $(cat "$out"/create.*)"
  # 20 containers, 20 ids, each name once.
  run docker ps -a --format '{{.Names}}'
  [[ $(sort <<<"$output" | tr '\n' ' ') == "$(seq -f 'c%g' 20 | sort | tr '\n' ' ')" ]] ||
    fail "names: $output"
  [[ $(cat "$out"/create.* | sort -u | wc -l) == 20 ]] || fail "ids: $(cat "$out"/create.*)"
  pids=()
  for i in $(seq 20); do
    docker rm "c$i" >"$out/rm.$i" 2>&1 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || failed=$((failed + 1)); done
  ((failed == 0)) || fail "$failed removes failed: $(cat "$out"/rm.*)"
  run docker ps -aq
  assert_output ""
  [[ -z $(ls -A "$ROOT/containers") ]] || fail "left in containers/: $(ls "$ROOT/containers")"
  [[ $(mounts_matching "$ROOT") == "$mounts" ]]

  # One name asked for ten times at once: the engine's containers.lock (a flock on a file each
  # request opens for itself) lets exactly one have it, in one process as across many.
  pids=()
  for i in $(seq 10); do
    docker create --network none --name same busybox true >"$out/same.$i" 2>&1 &
    pids+=($!)
  done
  local won=0 lost=0
  for i in $(seq 10); do
    if wait "${pids[$((i - 1))]}"; then
      won=$((won + 1))
    else
      lost=$((lost + 1))
      grep -q 'Conflict. The container name "/same" is already in use' "$out/same.$i" ||
        fail "create $i: $(cat "$out/same.$i")"
    fi
  done
  ((won == 1 && lost == 9)) || fail "$won created, $lost refused"
  run docker ps -a --format '{{.Names}}'
  assert_output same
  still_up
}

@test "concurrency: 8 containers started at once on the default bridge (the daemon in a namespace of the test's own) each get an address of their own; removed at once, nothing is left" {
  # Each run connects its container in the daemon's process: a child cloned into a new network
  # namespace, another that configures it. With other threads running, those children come from
  # glibc's fork (common/process.cpp): a raw clone could copy a lock another thread held.
  HOST_NS="lab-d51-$$-$BATS_TEST_NUMBER"
  daemon_start "$HOST_NS"
  local out=$BATS_TEST_TMPDIR/out pids=() i failed=0
  mkdir -p "$out"
  for i in $(seq 8); do
    docker run -d --name "n$i" busybox sleep 1000 >"$out/run.$i" 2>&1 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || failed=$((failed + 1)); done
  ((failed == 0)) || fail "$failed of 8 runs failed: $(cat "$out"/run.*)"
  # All eight running at once, each with its own address (the networks' flock orders IPAM).
  local addresses
  addresses=$(for i in $(seq 8); do
    docker exec "n$i" ip -4 -o addr show eth0 | grep -o 'inet [0-9.]*'
  done | sort -u)
  [[ $(wc -l <<<"$addresses") == 8 ]] || fail "addresses: $addresses"
  pids=()
  for i in $(seq 8); do
    docker rm -f "n$i" >"$out/rm.$i" 2>&1 &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || failed=$((failed + 1)); done
  ((failed == 0)) || fail "$failed of 8 removes failed: $(cat "$out"/rm.*)"
  # Gone: the containers, their veths, their namespaces' files.
  run docker ps -aq
  assert_output ""
  [[ -z $(in_host ip -o link show type veth) ]] || fail "veths left: $(in_host ip -o link show type veth)"
  [[ -z $(ls -A "$ROOT/netns" 2>/dev/null) ]] || fail "netns files left: $(ls "$ROOT/netns")"
  still_up
}
