#!/usr/bin/env bash
# The same engine, driven by someone else's client: `minidocker daemon` serves the Docker Engine
# API on a unix socket, and the real docker client (Debian's, unpacked into build/docker-cli by
# `make deps`) runs a session against it, each command shown as "$ docker ..." with its real
# output: load an image, run with output and an exit code, a web server with a published port
# and a volume, ps, logs, exec, inspect, stop, rm, a build, and the client's own error for a
# missing name. The daemon's log (one line per request) shows the C/S split. The last line is
# the verdict: every claim held, and nothing is left (no container, mount, cgroup, veth,
# container's firewall rule, monitor or daemon).
#   ./daemon-session.sh [ROOTFS]    (as root, or with sudo; ROOTFS defaults to ../build/rootfs)
# The engine root and the network namespace the daemon runs in (the host's side of -p) are
# engine-lib.sh's, as for engine-session.sh; the daemon is stopped before they are removed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rootfs=${1:-$here/../build/rootfs}
docker_bin=$here/../build/docker-cli/docker
if [[ ! -x $docker_bin ]]; then
  echo "daemon-session.sh: the docker client is missing ($docker_bin); run make deps (at the top)" >&2
  exit 1
fi

daemon_pid=
# Run by engine-lib.sh's cleanup first: SIGTERM, and the daemon removes its socket.
before_cleanup() {
  [[ -n $daemon_pid ]] || return 0
  kill -TERM "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=
}

# shellcheck source-path=SCRIPTDIR source=engine-lib.sh
source "$here/engine-lib.sh"

cgroups() { find /sys/fs/cgroup -maxdepth 3 -type d -path '*/minidocker/*' 2>/dev/null | sort || true; }
cgroups_before=$(cgroups)

sock=$work/docker.sock
docker() { DOCKER_HOST="unix://$sock" DOCKER_CONFIG="$work/docker-config" "$docker_bin" "$@"; }

# show LINE CMD...: prints "$ LINE", runs CMD (stdout and stderr as one stream), prints what it
# printed and keeps it in $out, its exit status in $rc. show_ok: a non-zero exit is a claim
# that did not hold.
out=
rc=0
show() {
  local line=$1
  shift
  echo "\$ $line"
  rc=0
  out=$("$@" 2>&1) || rc=$?
  [[ -z $out ]] || printf '%s\n' "$out"
}
show_ok() {
  show "$@"
  ((rc == 0)) || problems+=("\"$1\" exited $rc")
}
# dk ARGS...: show_ok for "docker ARGS", quoted as a shell would need them.
dk() {
  local arg line=docker
  for arg in "$@"; do
    [[ $arg =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]] || arg="'$arg'"
    line+=" $arg"
  done
  show_ok "$line" docker "$@"
}

# The daemon, in the engine's network namespace (its bridge and rules are made there).
# nsenter execs the daemon (so $! is the daemon itself, for before_cleanup's SIGTERM); fd 3 (a
# caller's lock, as the tests' flock) is not handed down to it.
nsenter --net="/run/netns/$ns" -- "$here/minidocker" daemon -H "unix://$sock" --root "$root" \
  2>"$work/daemon.log" 3>&- &
daemon_pid=$!
for _ in $(seq 300); do
  [[ -S $sock ]] && docker version >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if ! docker version >/dev/null 2>&1; then
  echo "did NOT hold: the daemon did not answer on $sock: $(cat "$work/daemon.log")"
  exit 1
fi

site=$work/site
mkdir "$site" "$work/app"
page='<p>hello through minidocker daemon</p>'
printf '%s\n' "$page" >"$site/index.html"
# The image, made by our own CLI on the daemon's root and loaded through the API.
md import "$rootfs" busybox >/dev/null
md save -o "$work/busybox.tar" busybox
md rmi busybox >/dev/null

echo "\$ minidocker daemon -H unix://\$PWD/docker.sock --root \$PWD/engine &"
echo "\$ export DOCKER_HOST=unix://\$PWD/docker.sock"
show_ok "docker version --format '{{.Client.Version}} -> {{.Server.Version}}, API {{.Server.APIVersion}}'" \
  docker version --format '{{.Client.Version}} -> {{.Server.Version}}, API {{.Server.APIVersion}}'
cd "$work"
dk load -i busybox.tar
dk images
dk run --rm busybox echo hello from busybox
expect "run's output" "$out" "hello from busybox"
show "docker run --rm busybox sh -c 'exit 3'" docker run --rm busybox sh -c 'exit 3'
echo "\$ echo \$?"
echo "$rc"
expect "run's exit code" "$rc" "3"

show_ok "docker run -d --name web -p 8080:80 -v \"\$PWD/site:/www:ro\" --memory 64m busybox httpd -f -p 80 -h /www" \
  docker run -d --name web -p 8080:80 -v "$site:/www:ro" --memory 64m busybox httpd -f -p 80 -h /www
id=$out
show_ok "docker ps" docker ps
web_is_listening() {
  local pid
  pid=$(md inspect web 2>/dev/null | jq -r '.[0].State.Pid // 0') || return 1
  ((pid > 0)) && awk '$4 == "0A" && $2 ~ /:0050$/ { f = 1 } END { exit !f }' "/proc/$pid/net/tcp" 2>/dev/null
}
for _ in $(seq 100); do
  if web_is_listening; then break; fi
  sleep 0.1
done
show_ok "wget -q -O - http://127.0.0.1:8080/" \
  in_ns timeout 20 "$rootfs/bin/busybox" wget -q -O - http://127.0.0.1:8080/
expect "the page through -p 8080:80" "$out" "$page"
dk exec web sh -c 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes'
expect "the memory limit inside" "$out" "67108864"
dk inspect --format '{{.State.Status}} {{.HostConfig.Memory}} {{.NetworkSettings.IPAddress}}' web
dk stop -t 1 web
dk ps -a --format '{{.Names}}: {{.Status}}'
dk rm web
show "docker rm web" docker rm web
expect "rm of a missing name" "$out (exit $rc)" "Error: No such container: web (exit 1)"

cd "$work/app"
cat >Dockerfile <<'EOF'
FROM busybox
RUN echo "built by RUN through the daemon" > /built.txt
CMD ["cat", "/built.txt"]
EOF
show_ok "cat Dockerfile" cat Dockerfile
dk build -q -t app .
dk run --rm app
expect "the built image's CMD" "$out" "built by RUN through the daemon"
dk rmi app
cd "$work"

# The C/S split: what `docker run --rm busybox echo ...` asked of the daemon (its log, one line
# per request; the ids shortened, the times left out).
echo "\$ # the daemon's log for that first run --rm: create, attach, wait, start"
awk '/^POST \/v1\.41\/containers\/create/ { on = 1 } on && n < 4 && / \/v1\.41\/containers\// { print; n++ }' \
  "$work/daemon.log" | sed -E -e 's/[0-9a-f]{64}/ID/g' -e 's/ [0-9]+ms$//'

before_cleanup
left=()
[[ -z $(md ps -aq 2>/dev/null) ]] || left+=("a container")
findmnt -rn -o TARGET | grep -qF -- "$root/" && left+=("a mount under the root")
[[ $(cgroups) == "$cgroups_before" ]] || left+=("a cgroup")
[[ -z $(in_ns ip -o link show type veth) ]] || left+=("a veth")
in_ns iptables-save | grep -qE 'minidocker:[0-9a-f]{64}' && left+=("a container's firewall rule")
pgrep -f -- "$root" >/dev/null && left+=("a process of the root")
[[ -e $sock ]] && left+=("the daemon's socket")
((${#left[@]} == 0)) || problems+=("left behind: $(
  IFS=,
  echo "${left[*]}"
)")
[[ $id =~ ^[0-9a-f]{64}$ ]] || problems+=("run -d printed \"$id\", not an id")

if ((${#problems[@]} == 0)); then
  echo "held: the docker client loaded, ran (output, exit code 3), served a page through -p and a volume under a 64 MiB limit, exec'd, stopped, removed and built through minidocker daemon, got Docker's error for a missing name, and nothing was left"
else
  verdict=$(printf '%s; ' "${problems[@]}")
  echo "did NOT hold: ${verdict%; }"
  exit 1
fi
