#!/usr/bin/env bash
# The notes' picture of a running container, end to end (seed 003): an image's read-only layer, an
# init layer and a read-write layer union-mounted; namespaces and a cgroup; a docker0-like bridge
# with a veth pair per container, NAT and a published port. Each step shows the kernel's view
# and checks it; the last line is the verdict.
#   ./engine-demo.sh [ROOTFS]     (as root, or with sudo; ROOTFS defaults to ../build/rootfs)
# The engine runs inside a network namespace of the demo's own (ip netns add lab-engine-PID): its
# bridge, veths and firewall rules are made there, never on the machine's own interfaces, and go
# with it. The engine root is a temporary directory (/var/tmp/lab-engine-*). Both are removed on
# every path, Ctrl-C included (engine-lib.sh, shared with engine-session.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rootfs=${1:-$here/../build/rootfs}

# shellcheck source-path=SCRIPTDIR source=engine-lib.sh
source "$here/engine-lib.sh"

echo "[1/6] minidocker import ROOTFS busybox      (ROOT = a fresh engine root; the engine runs in a network namespace of its own)"
md import "$rootfs" busybox | cut -c1-19 | sed 's/$/…/' | indent

echo "[2/6] minidocker run -d --name web -p 8080:80 --memory 64m busybox sh -c 'echo hello from web >/www/index.html; exec httpd -f -p 80 -h /www'"
id=$(md run -d --name web -p 8080:80 --memory 64m busybox \
  sh -c 'mkdir -p /www && echo hello from web >/www/index.html && exec httpd -f -p 80 -h /www')
echo "${id:0:12}" | indent
dir=$root/containers/$id
pid=$(md inspect web | jq -r '.[0].State.Pid')

echo "[3/6] the union mount: the image's layer, the init layer, the rw layer (lesson 05)"
options=$(findmnt -n -o OPTIONS "$dir/merged")
lower=$(grep -o 'lowerdir=[^,]*' <<<"$options" | cut -d= -f2)
echo "lowerdir = $lower   (l/INIT:l/IMAGE, short links as overlay2 has them)" | indent
lowers=$(tr ':' '\n' <<<"$lower" | wc -l)
expect "the number of read-only layers (init + image)" "$lowers" 2
echo "the init layer: $(cd "$dir/init" && find etc -maxdepth 1 -type f | sort | paste -sd' ')" | indent
# the file the container wrote is in its rw layer, not in the image's
for _ in $(seq 100); do [[ -e $dir/diff/www/index.html ]] && break; sleep 0.1; done
echo "the rw layer (upperdir): $(cd "$dir/diff" && find . -type f | sort | paste -sd' ')" | indent
expect "the rw layer's www/index.html" "$(cat "$dir/diff/www/index.html" 2>/dev/null)" "hello from web"
expect "the image layer's www" "$(find "$root/layers" -path '*/diff/www' | wc -l)" 0

echo "[4/6] namespaces and the cgroup (lessons 01-04): PID 1 inside is httpd, host pid $pid"
for n in pid mnt uts net; do
  if [[ $(readlink "/proc/$pid/ns/$n") != "$(readlink "/proc/self/ns/$n")" ]]; then
    echo "$n: $(readlink "/proc/$pid/ns/$n")   (ours: $(readlink "/proc/self/ns/$n"))" | indent
  else
    problems+=("the container shares our $n namespace")
  fi
done
expect "PID 1 inside" "$(awk '/^NSpid:/ { print $NF }' "/proc/$pid/status")" 1
if [[ -e /sys/fs/cgroup/memory/minidocker/$id/memory.limit_in_bytes ]]; then
  limit_file=/sys/fs/cgroup/memory/minidocker/$id/memory.limit_in_bytes
else
  limit_file=/sys/fs/cgroup/minidocker/$id/memory.max
fi
echo "${limit_file/$id/ID} = $(cat "$limit_file")" | indent
expect "the memory limit" "$(cat "$limit_file")" 67108864

echo "[5/6] the bridge (lesson 06): minidocker0, a veth pair, the address, NAT for the published port"
address=$(md inspect web | jq -r '.[0].NetworkSettings.IPAddress')
in_ns ip -o -4 addr show minidocker0 | awk '{ print $2, $4 }' | indent
echo "web's veth on the bridge: $(in_ns ip -o link show master minidocker0 | awk -F': ' '{ print $2 }' | cut -d@ -f1)" | indent
echo "web's eth0: $(nsenter --net="/proc/$pid/ns/net" ip -o -4 addr show eth0 | awk '{ print $4 }')" | indent
expect "web's eth0" "$(nsenter --net="/proc/$pid/ns/net" ip -o -4 addr show eth0 | awk '{ print $4 }')" "$address/16"
in_ns iptables -t nat -S MINIDOCKER | grep -- '-j DNAT' | sed 's/ -m comment --comment [^ ]*//' | indent

echo "[6/6] wget http://127.0.0.1:8080/ from the host; wget http://$address/ from a second container"
answer=
for _ in $(seq 100); do
  answer=$(in_ns timeout 3 "$rootfs/bin/busybox" wget -q -O - http://127.0.0.1:8080/ 2>/dev/null) && break
  sleep 0.1
done
echo "host:   $answer" | indent
expect "the published port's answer" "$answer" "hello from web"
second=$(md run --rm busybox wget -q -O - "http://$address/")
echo "second: $second" | indent
expect "the bridge's answer" "$second" "hello from web"

md rm -f web >/dev/null
left=$( (in_ns ip -o link show type veth; in_ns iptables-save | grep -- "$id"; findmnt -rn | grep -- "$root"; ls -A "$root/netns") 2>/dev/null | wc -l)
expect "what rm -f left (veths, rules, mounts, namespaces)" "$left" 0

if ((${#problems[@]} == 0)); then
  echo "held: web ran on 2 read-only layers + its rw layer, in its own namespaces and a 64 MiB cgroup, answered through the bridge and the published port, and rm -f left nothing"
else
  printf 'did not hold: %s\n' "${problems[@]}"
  exit 1
fi
