#!/usr/bin/env bash
# The daemon against Debian's dockerd, both driven by the same real docker client
# (build/docker-cli/docker) over a unix socket of the bench's own, measured in one run:
#   (a) docker run --rm --network none busybox true through `minidocker daemon`
#   (b) the same through dockerd (Debian's docker.io, with the containerd it starts itself and
#       Debian's runc: unpacked into build/dockerd by `make deps`, never installed)
#   (c) GET /containers/json?all=1 with C containers created (not started), on one keep-alive
#       connection, for each daemon: requests per second
# Runs are interleaved (a b a b ...), medians of N. Target (issue 10): (a) 10x faster than (b).
# dockerd runs only here, shut in: its own network namespace (loopback only; --bridge=none and
# no iptables, forwarding, masquerading or proxy) and its own mount namespace, where tmpfs
# covers /run (containerd's shim sockets go to /run/containerd whatever its --state says),
# /etc/docker (dockerd writes its key.json there) and /opt (containerd makes /opt/containerd);
# its data, exec root, pidfile and socket are in the bench's temp dir, its containers' cgroups
# (cgroupfs: the machine is a v1/v2 hybrid) under a parent of the bench's own. On every way out
# the trap stops both daemons, kills what dockerd left by PID (its mount namespace, its cgroups)
# and removes the cgroups and the temp dir: the mounts went with the namespace.
# A figure that cannot be measured is a row "| ... | not measured: REASON |".
# Prints Markdown table rows for tests/bench.sh. N=20 and C=100 by default.
set -euo pipefail
cd "$(dirname "$0")"
project=$(cd .. && pwd)
N=${N:-20}
C=${C:-100}

if [[ $(id -u) -ne 0 ]]; then
  echo "bench-daemon.sh: containers need root; run make bench as root (or with sudo)" >&2
  exit 1
fi
if [[ ! -x $project/build/rootfs/bin/busybox ]]; then
  echo "bench-daemon.sh: needs the busybox rootfs: make rootfs" >&2
  exit 1
fi
[[ -x ./minidocker && -x ./minidocker-monitor ]] || make --quiet >&2

docker_cli=$project/build/docker-cli/docker
dockerd_dir=$project/build/dockerd
run_what="docker run --rm --network none busybox true"
list_what="GET /containers/json?all=1, $C containers created, one keep-alive connection"

work=$(mktemp -d /var/tmp/lab-bench-daemon-XXXXXX)
cgroup_parent="lab-bench-dockerd-$$"
ours_pid='' dockerd_pid='' dockerd_mntns=''
# What dockerd would write outside its tmpfs when the directory to cover is missing here.
etc_docker_made=false opt_made=false
[[ -d /etc/docker ]] || etc_docker_made=true
[[ -d /opt ]] || opt_made=true

md() { "$project/final/minidocker" --root "$work/ours" "$@"; }
in_ours() { nsenter --net="/proc/$ours_pid/ns/net" -- "$@"; }
docker_ours() { DOCKER_HOST="unix://$work/ours.sock" DOCKER_CONFIG="$work/docker-config" "$docker_cli" "$@"; }
docker_theirs() { DOCKER_HOST="unix://$work/dockerd.sock" DOCKER_CONFIG="$work/docker-config" "$docker_cli" "$@"; }

# The PIDs of what dockerd started: the processes in its mount namespace (containerd, the shims)
# and in its containers' cgroups. Never the host's namespace, whatever happened before.
dockerd_leftovers() {
  local p ns
  if [[ -n $dockerd_mntns && $dockerd_mntns != "$(readlink /proc/self/ns/mnt)" ]]; then
    for p in /proc/[0-9]*; do
      ns=$(readlink "$p/ns/mnt" 2>/dev/null) || continue
      [[ $ns == "$dockerd_mntns" ]] && echo "${p#/proc/}"
    done
  fi
  find /sys/fs/cgroup -path "*/$cgroup_parent/*" -name cgroup.procs -exec cat {} + 2>/dev/null || true
  # a containerd whose dockerd died early: its command line names its config in the exec root
  pgrep -f -- "$work/dockerd-" || true
}

cleanup() {
  local ids id dir pids _
  if [[ -n $ours_pid ]]; then
    ids=$(md ps -aq 2>/dev/null || true)
    # shellcheck disable=SC2086
    [[ -z $ids ]] || in_ours "$project/final/minidocker" --root "$work/ours" rm -f $ids >/dev/null 2>&1 ||
      md rm -f $ids >/dev/null 2>&1 || true
    kill -TERM "$ours_pid" 2>/dev/null || true
    wait "$ours_pid" 2>/dev/null || true
    # A container rm could not remove keeps its monitor (and its init, in the container's
    # cgroup) alive: they go by PID, found by the engine root they were started on.
    pids=$(
      pgrep -f -- "$work/ours/" || true
      for dir in "$work"/ours/containers/*/; do
        id=$(basename "$dir")
        cat /sys/fs/cgroup/*/minidocker/"$id"/cgroup.procs 2>/dev/null || true
      done
    )
    if [[ -n $pids ]]; then
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
      sleep 0.5
      for dir in "$work"/ours/containers/*/; do
        id=$(basename "$dir")
        rmdir /sys/fs/cgroup/*/minidocker/"$id" 2>/dev/null || true
      done
    fi
  fi
  if [[ -n $dockerd_pid ]]; then
    [[ -n $dockerd_mntns ]] || dockerd_mntns=$(readlink "/proc/$dockerd_pid/ns/mnt" 2>/dev/null || true)
    # dockerd stops the containerd it started; its containers are created or gone, none runs.
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 150); do
      kill -0 "$dockerd_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 50); do
      pids=$(dockerd_leftovers | sort -u)
      [[ -n $pids ]] || break
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
      sleep 0.1
    done
  fi
  # A relative --cgroup-parent is under dockerd's own cgroup in each hierarchy: at the top of
  # most here, deeper in one the machine put the bench in (memory).
  find /sys/fs/cgroup -depth -type d \( -path "*/$cgroup_parent" -o -path "*/$cgroup_parent/*" \) \
    -exec rmdir {} + 2>/dev/null || true
  if $etc_docker_made; then
    rm -f /etc/docker/key.json
    rmdir /etc/docker 2>/dev/null || true
  fi
  if $opt_made; then
    rmdir /opt/containerd/bin /opt/containerd/lib /opt/containerd /opt 2>/dev/null || true
  fi
  # nothing may stay mounted under the work dir before it goes (the namespace's mounts went
  # with it; this is for a bench stopped half way)
  findmnt -rn -o TARGET | grep "^$work" | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

median() {
  tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}

# Waits (at most 30 s) until a daemon answers on the socket $1; $2 its PID, $3 its log.
wait_socket() {
  local _
  for _ in $(seq 300); do
    curl -sf --unix-socket "$1" http://localhost/_ping >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench-daemon.sh: no answer on $1: $(tail -3 "$3" | tr '\n' ' ')" >&2
  return 1
}

# Requests per second of GET /containers/json?all=1, each daemon (NAME=SOCKET arguments) on one
# connection kept alive: 4 rounds of 0.5 s per daemon, interleaved, after a few untimed requests.
# Prints "NAME REQ/S MS" (MS the median request) or "NAME error: WHY" when the answer is not the C
# containers or the daemon closes the connection (a reconnect would measure connects).
# Debian's python3 (make deps), not whatever python3 comes first on the PATH.
list_rates() {
  if [[ ! -x /usr/bin/python3 ]]; then
    local arg
    for arg in "$@"; do echo "${arg%%=*} error: no /usr/bin/python3 (make deps installs it)"; done
    return
  fi
  /usr/bin/python3 - "$C" "$@" <<'PY'
import http.client, json, socket, statistics, sys, time

class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.unix_path = path
        self.connects = 0

    def connect(self):
        if self.connects:
            raise RuntimeError("the daemon closed the keep-alive connection")
        self.connects += 1
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)

def get(conn):
    conn.request("GET", "/v1.41/containers/json?all=1")
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {body[:200].decode(errors='replace')}")
    return body

expected, daemons = int(sys.argv[1]), {}
for arg in sys.argv[2:]:
    name, path = arg.split("=", 1)
    try:
        conn = UnixConnection(path)
        listed = len(json.loads(get(conn)))
        if listed != expected:
            raise RuntimeError(f"listed {listed} containers, not {expected}")
        for _ in range(5):
            get(conn)
        daemons[name] = (conn, [], [0.0])
    except Exception as e:
        print(f"{name} error: {e}")
for _ in range(4):
    for name, (conn, times, elapsed) in list(daemons.items()):
        try:
            start = time.perf_counter()
            while (now := time.perf_counter()) - start < 0.5:
                get(conn)
                times.append(time.perf_counter() - now)
            elapsed[0] += time.perf_counter() - start
        except Exception as e:
            print(f"{name} error: {e}")
            del daemons[name]
for name, (conn, times, elapsed) in daemons.items():
    print(f"{name} {len(times) / elapsed[0]:.0f} {statistics.median(times) * 1000:.2f}")
PY
}

# ---- our daemon: in a network namespace of its own, on an engine root of the bench's ----------
md import "$project/build/rootfs" busybox >/dev/null
md save -o "$work/busybox.tar" busybox
unshare --net -- bash -c 'ip link set lo up && exec "$@"' ours-ns \
  "$project/final/minidocker" daemon -H "unix://$work/ours.sock" --root "$work/ours" \
  >"$work/ours.log" 2>&1 &
ours_pid=$!
wait_socket "$work/ours.sock" "$ours_pid" "$work/ours.log"

# ---- dockerd --------------------------------------------------------------------------------
dockerd_error=
if [[ ! -x $docker_cli ]]; then
  dockerd_error="no docker client in build/docker-cli (make deps unpacks it)"
elif [[ ! -x $dockerd_dir/dockerd || ! -x $dockerd_dir/containerd ]]; then
  dockerd_error="no dockerd in build/dockerd (make deps unpacks it from Debian's docker.io)"
else
  # shellcheck disable=SC2016  # expanded by the inner bash
  unshare --net --mount --propagation private -- bash -c '
    set -e
    ip link set lo up
    # -n: no /run/mount/utab written on the way (the first mount would write the host'\''s)
    mount -n -t tmpfs lab-bench-dockerd /run
    if [[ -d /etc/docker ]]; then mount -n -t tmpfs lab-bench-dockerd /etc/docker; fi
    if [[ -d /opt ]]; then mount -n -t tmpfs lab-bench-dockerd /opt; fi
    exec "$@"' dockerd-ns \
    env PATH="$dockerd_dir:$PATH" dockerd \
    -H "unix://$work/dockerd.sock" --data-root "$work/dockerd-data" --exec-root "$work/dockerd-exec" \
    --pidfile "$work/dockerd.pid" --bridge=none --iptables=false --ip6tables=false \
    --ip-forward=false --ip-masq=false --userland-proxy=false \
    --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "$cgroup_parent" \
    >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  if wait_socket "$work/dockerd.sock" "$dockerd_pid" "$work/dockerd.log"; then
    dockerd_mntns=$(readlink "/proc/$dockerd_pid/ns/mnt")
    if ! docker_theirs load -q -i "$work/busybox.tar" >/dev/null 2>"$work/dockerd-load.err"; then
      dockerd_error="docker load: $(tail -1 "$work/dockerd-load.err")"
    fi
  else
    dockerd_error="dockerd did not start: $(grep -v '^$' "$work/dockerd.log" | tail -1)"
  fi
fi
dockerd_label="dockerd"
if [[ -z $dockerd_error ]]; then
  dockerd_label="dockerd $(docker_theirs version --format '{{.Server.Version}}') ($(docker_theirs info \
    --format 'containerd {{.ContainerdCommit.ID}}, runc {{.RuncCommit.ID}}, {{.Driver}}, {{.CgroupDriver}}'))"
fi

# ---- (a) and (b): docker run ------------------------------------------------------------------
# One untimed run of each; a daemon that cannot run it is left out with the client's error.
# The client's error: its "Error ..." line, else its last words.
client_error() { grep -m1 Error "$1" || grep -v '^$' "$1" | tail -1; }
run_ours() { docker_ours run --rm --network none busybox true; }
run_dockerd() { docker_theirs run --rm --network none busybox true; }
ours_error=
whats=()
if [[ ! -x $docker_cli ]]; then
  ours_error="no docker client in build/docker-cli (make deps unpacks it)"
elif run_ours >/dev/null 2>"$work/ours-run.err"; then
  whats+=(ours)
else
  ours_error=$(client_error "$work/ours-run.err")
fi
run_error=$dockerd_error
if [[ -z $dockerd_error ]]; then
  if run_dockerd >/dev/null 2>"$work/dockerd-run.err"; then
    whats+=(dockerd)
  else
    run_error=$(client_error "$work/dockerd-run.err")
  fi
fi

declare -A times
for ((i = 0; i < N; i++)); do
  for what in "${whats[@]}"; do
    t0=$EPOCHREALTIME
    "run_$what" >/dev/null
    t1=$EPOCHREALTIME
    times[$what]+="$((${t1/./} - ${t0/./})) "
  done
done

ms() { bc -l <<<"$1 / 1000"; }
if [[ -n ${times[dockerd]:-} ]]; then
  theirs_us=$(median "${times[dockerd]}")
  printf '| daemon start, median of %d: %s through %s | %.2f ms |\n' "$N" "$run_what" \
    "$dockerd_label" "$(ms "$theirs_us")"
else
  echo "| daemon start: $run_what through dockerd | not measured: ${run_error//|/\\|} |"
fi
if [[ -n ${times[ours]:-} ]]; then
  ours_us=$(median "${times[ours]}")
  if [[ -n ${theirs_us:-} ]]; then
    printf '| daemon start, median of %d: %s through minidocker daemon | %.2f ms (%.1fx faster than dockerd) |\n' \
      "$N" "$run_what" "$(ms "$ours_us")" "$(bc -l <<<"$theirs_us / $ours_us")"
  else
    printf '| daemon start, median of %d: %s through minidocker daemon | %.2f ms |\n' "$N" "$run_what" \
      "$(ms "$ours_us")"
  fi
else
  echo "| daemon start: $run_what through minidocker daemon | not measured: ${ours_error//|/\\|} |"
fi

# ---- (c): GET /containers/json with C containers ----------------------------------------------
for ((i = 0; i < C; i++)); do in_ours "$project/final/minidocker" --root "$work/ours" create --network none busybox true >/dev/null; done
sockets=("ours=$work/ours.sock")
if [[ -z $dockerd_error ]]; then
  for ((i = 0; i < C; i++)); do docker_theirs create --network none busybox true >/dev/null; done
  sockets+=("dockerd=$work/dockerd.sock")
fi
declare -A rps=() rate_ms=() rate_error=([dockerd]=$dockerd_error)
while read -r name a b; do
  if [[ $a == error: ]]; then rate_error[$name]=$b; else rps[$name]=$a rate_ms[$name]=$b; fi
done < <(list_rates "${sockets[@]}")
for name in dockerd ours; do
  label=$([[ $name == ours ]] && echo "minidocker daemon" || echo dockerd)
  if [[ -z ${rps[$name]:-} ]]; then
    error=${rate_error[$name]:-no figure}
    echo "| daemon: $list_what: $label | not measured: ${error//|/\\|} |"
  elif [[ $name == ours && -n ${rps[dockerd]:-} ]]; then
    printf '| daemon: %s: %s | %s req/s (median %s ms; %.1fx dockerd) |\n' "$list_what" "$label" \
      "${rps[$name]}" "${rate_ms[$name]}" "$(bc -l <<<"${rps[ours]} / ${rps[dockerd]}")"
  else
    echo "| daemon: $list_what: $label | ${rps[$name]} req/s (median ${rate_ms[$name]} ms) |"
  fi
done
