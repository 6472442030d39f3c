#!/usr/bin/env bash
# A whole session as a Docker user types it, each command shown as "$ ..." with its real output:
# a Dockerfile built into an image, the image run as a web server with a published port, its page
# fetched through the port, its log read, a command exec'd into it, a file it wrote committed into
# a second image and seen by a new container, then stop, rm and rmi. The last line is the
# verdict: the page was served, the file was committed, and nothing is left (no container, no
# mount under the engine root, no cgroup, no veth, no firewall rule of a container, no monitor).
#   ./engine-session.sh [ROOTFS]    (as root, or with sudo; ROOTFS defaults to ../build/rootfs,
#                                    imported first as the image busybox, the offline "pull")
# The engine root, the network namespace the engine runs in (the host's side of -p: the page is
# fetched from 127.0.0.1 there) and their cleanup on every path are engine-lib.sh's, shared with
# engine-demo.sh. The session's files (index.html, Dockerfile) are in the root's folder.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rootfs=${1:-$here/../build/rootfs}

# shellcheck source-path=SCRIPTDIR source=engine-lib.sh
source "$here/engine-lib.sh"

# The cgroups of every engine (/minidocker/<id>, v1 or v2), before and after: a new one left over
# is this session's.
cgroups() { find /sys/fs/cgroup -maxdepth 3 -type d -path '*/minidocker/*' 2>/dev/null | sort || true; }
cgroups_before=$(cgroups)

# show LINE CMD...: prints "$ LINE", runs CMD with stdout and stderr as one stream and prints what
# it printed; the output is kept in $out. A non-zero exit is a claim that did not hold.
out=
show() {
  local line=$1 status=0
  shift
  echo "\$ $line"
  out=$("$@" 2>&1) || status=$?
  [[ -z $out ]] || printf '%s\n' "$out"
  ((status == 0)) || problems+=("\"$line\" exited $status")
}
# step ARGS...: show for "minidocker ARGS", quoted as a shell would need them.
step() {
  local arg line=minidocker
  for arg in "$@"; do
    [[ $arg =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]] || arg="'$arg'"
    line+=" $arg"
  done
  show "$line" md "$@"
}
# poll WHAT CMD...: runs CMD every 0.1 s until it succeeds (0) or gives up (2), for at most 30 s.
poll() {
  local what=$1 status _
  shift
  for _ in $(seq 300); do
    status=0
    "$@" || status=$?
    ((status != 0)) || return 0
    ((status != 2)) || break
    sleep 0.1
  done
  problems+=("$what never happened")
  return 1
}
pid_of_web() {  # 0 when there is no web, or it is not running
  local pid
  pid=$(md inspect web 2>/dev/null | jq -r '.[0].State.Pid // 0' 2>/dev/null) || pid=0
  echo "${pid:-0}"
}
web_is_listening() {  # httpd's socket on port 80 (0x0050), LISTEN (0A), in the container's namespace
  local pid
  pid=$(pid_of_web)
  ((pid > 0)) || return 2  # web is not running: no use waiting
  awk '$4 == "0A" && $2 ~ /:0050$/ { found = 1 } END { exit !found }' \
    "/proc/$pid/net/tcp" "/proc/$pid/net/tcp6" 2>/dev/null
}
request_is_logged() { md logs web 2>&1 | grep -q "response:200"; }
request_child_is_reaped() {  # httpd serves each request in a child, and reaps it after
  local pid
  pid=$(pid_of_web)
  ((pid > 0)) || return 2
  [[ -z $(pgrep -P "$pid") ]]
}

page='<p>hello from a minidocker session</p>'
note='written by exec'
app=$work/app
mkdir "$app"
cd "$app"
printf '%s\n' "$page" >index.html
cat >Dockerfile <<'EOF'
FROM busybox
COPY index.html /www/
RUN echo "built by RUN" > /www/built.txt && ls /www
CMD ["httpd", "-f", "-v", "-p", "80", "-h", "/www"]
EOF

show "minidocker import ROOTFS busybox" md import "$rootfs" busybox
show "cat index.html" cat index.html
show "cat Dockerfile" cat Dockerfile
step build -t web:v1 .
step images web
[[ -n $(md images -q web:v1 2>/dev/null) ]] || problems+=("build made no web:v1")

step run -d --name web -p 8080:80 web:v1
step ps
# httpd listens a moment after run returns: wait for its socket (from the host's side, without a
# connection, so that the log below holds exactly one request).
poll "httpd listening in web" web_is_listening || true
show "wget -q -O - http://127.0.0.1:8080/" \
  in_ns timeout 20 "$rootfs/bin/busybox" wget -q -O - http://127.0.0.1:8080/
expect "the page through -p 8080:80" "$out" "$page"
# The monitor writes the request's log line as httpd prints it, and httpd reaps the child that
# served the request: wait for both, so that logs and ps below show what the request left.
if [[ $out == "$page" ]]; then
  poll "the request in web's log" request_is_logged || true
  poll "httpd's reaping of the request's child" request_child_is_reaped || true
fi
step logs web
[[ $out == *"response:200"* ]] || problems+=("web's log has no request")
step exec web ps
grep -qE '^ +1 root +httpd' <<<"$out" || problems+=("exec ps shows no httpd as PID 1")
step exec web sh -c "echo $note >/www/note.txt"
step diff web
step commit web web:v2
step run --rm web:v2 cat /www/note.txt
expect "what web:v2 holds in /www/note.txt" "$out" "$note"

step stop -t 2 web
step ps -a
step rm web
step rmi web:v2 web:v1

left=()
[[ -z $(md ps -aq 2>/dev/null) ]] || left+=("a container")
[[ -z $(md images -q web 2>/dev/null) ]] || left+=("an image of web")
findmnt -rn -o TARGET | grep -qF -- "$root" && left+=("a mount under the root")
[[ $(cgroups) == "$cgroups_before" ]] || left+=("a cgroup")
[[ -z $(in_ns ip -o link show type veth) ]] || left+=("a veth")
in_ns iptables-save | grep -qE 'minidocker:[0-9a-f]{64}' && left+=("a container's firewall rule")
pgrep -f -- "$root" >/dev/null && left+=("a process of the root")
((${#left[@]} == 0)) || problems+=("left behind: $(
  IFS=,
  echo "${left[*]}"
)")

if ((${#problems[@]} == 0)); then
  echo "held: web:v1 was built and served its page through -p 8080:80, its log showed the request and exec a PID 1 httpd, the file exec wrote was committed into web:v2, and stop, rm and rmi left no container, mount, cgroup, veth or rule"
else
  verdict=$(printf '%s; ' "${problems[@]}")
  echo "did NOT hold: ${verdict%; }"
  exit 1
fi
