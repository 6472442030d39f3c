#!/usr/bin/env bash
# Lesson 06 the shell way: a bridge, two "containers" (network namespaces held by a sleeping
# process), a veth pair each, pings, then MASQUERADE and a port mapping against an "outside"
# namespace, with ip(8), iptables(8), nsenter(1) and busybox. Checked like ./bridge; everything
# is removed on exit, also on Ctrl-C. Run it where you would run ./bridge, or in a throwaway
# network namespace:   sudo unshare -n ./demo.sh [BRIDGE [SUBNET_PREFIX]]
#   e.g. sudo ./demo.sh lab0 172.29.0
set -euo pipefail

br=${1-lab0}
net=${2-172.29.0}
here=$(cd "$(dirname "$0")" && pwd)
busybox=${LAB_ROOTFS:-$here/../../build/rootfs}/bin/busybox
if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: network namespaces, links and iptables need root; run: sudo ./demo.sh" >&2
  exit 1
fi
if [[ -z $br || ${#br} -gt 15 || $br == */* || $br == *[[:space:]]* ]]; then
  echo "demo.sh: the bridge name must be 1-15 bytes without '/' or spaces, got \"$br\"" >&2
  exit 2
fi
if ! [[ $net =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]]; then
  echo "demo.sh: SUBNET_PREFIX is the first three numbers of a /24, like 172.29.0; got \"$net\"" >&2
  exit 2
fi
if ip link show "$br" >/dev/null 2>&1; then
  echo "demo.sh: a link called $br exists already; remove it (ip link del $br) or pass another name" >&2
  exit 1
fi
[[ -x $busybox ]] || { echo "demo.sh: $busybox is missing; run: make rootfs" >&2; exit 1; }

pids=()
rules=()
www=""
old_forward=$(cat /proc/sys/net/ipv4/ip_forward)
cleanup() {
  local r
  for r in "${rules[@]}"; do
    # shellcheck disable=SC2086  # a rule is a list of words
    iptables -w $r 2>/dev/null || true
  done
  echo "$old_forward" >/proc/sys/net/ipv4/ip_forward
  if ((${#pids[@]})); then
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true  # reap them: nothing of ours outlives the script
  fi
  ip link del "$br" 2>/dev/null || true
  ip link del lab-out 2>/dev/null || true
  ip link del lab-veth1 2>/dev/null || true
  ip link del lab-veth2 2>/dev/null || true
  [[ -z $www ]] || rm -rf "$www"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { local pid=$1; shift; nsenter -t "$pid" -n "$@"; }

echo "[1/6] ip link add $br type bridge; ip addr add $net.1/24 dev $br; ip link set $br up"
ip link add "$br" type bridge
ip addr add "$net.1/24" dev "$br"
ip link set "$br" up

echo "[2/6] unshare -n sleep infinity &  (x2); ip link add lab-vethN type veth peer name eth0 netns PID"
for i in 1 2; do
  unshare -n sleep infinity &
  pids+=($!)
  pid=$!
  sleep 0.1  # let unshare make the namespace before we look at it
  ip link add "lab-veth$i" type veth peer name eth0 netns "$pid"
  ip link set "lab-veth$i" master "$br" up
  in_ns "$pid" ip link set lo up
  in_ns "$pid" ip addr add "$net.$((i + 1))/24" dev eth0
  in_ns "$pid" ip link set eth0 up
  in_ns "$pid" ip route add default via "$net.1"
done
c1=${pids[0]} c2=${pids[1]}

echo "[3/6] bridge link"
bridge link | sed -E 's/^[0-9]+: ([^@:]+).* master ([^ ]+) state ([^ ]+).*/      \1: master \2 state \3/'

echo "[4/6] nsenter -t PID -n ping -c1 ..."
pings=0
for pair in "$c1 $net.3" "$c1 $net.1" "$c2 $net.2" "$c2 $net.1"; do
  read -r pid to <<<"$pair"
  if in_ns "$pid" "$busybox" ping -c 1 -W 2 "$to" >/dev/null; then
    echo "      pid $pid -> $to reply"
    pings=$((pings + 1))
  else
    echo "      pid $pid -> $to no reply"
  fi
done

echo "[5/6] outside namespace, ip_forward=1, iptables MASQUERADE + DNAT 8080 -> $net.2:80"
unshare -n sleep infinity &
pids+=($!)
out=$!
sleep 0.1
ip link add lab-out type veth peer name eth0 netns "$out"
ip addr add 198.51.100.1/24 dev lab-out
ip link set lab-out up
in_ns "$out" ip addr add 198.51.100.2/24 dev eth0
in_ns "$out" ip link set eth0 up
echo 1 >/proc/sys/net/ipv4/ip_forward
for r in "-I FORWARD -s $net.0/24 -j ACCEPT" "-I FORWARD -d $net.0/24 -j ACCEPT" \
         "-t nat -A POSTROUTING -s $net.0/24 ! -o $br -j MASQUERADE" \
         "-t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination $net.2:80"; do
  # shellcheck disable=SC2086
  iptables -w $r
  rules+=("${r/-[IA] /-D }")
  echo "      iptables $r"
done

echo "[6/6] nsenter -t C1 -n wget http://198.51.100.2:9000/cgi-bin/ip; nsenter -t OUT -n wget http://198.51.100.1:8080/"
www=$(mktemp -d /tmp/lab-bridge-demo-XXXXXX)
echo "hello from container one" >"$www/index.html"
nsenter -t "$c1" -n "$busybox" httpd -f -p 80 -h "$www" &
pids+=($!)
# The "internet" runs a CGI that answers with the address the connection came from.
mkdir -p "$www/out/cgi-bin"
# shellcheck disable=SC2016  # $REMOTE_ADDR is for the CGI script
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%%s\\n" "$REMOTE_ADDR"\n' >"$www/out/cgi-bin/ip"
chmod +x "$www/out/cgi-bin/ip"
nsenter -t "$out" -n "$busybox" httpd -f -p 9000 -h "$www/out" &
pids+=($!)
seen=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
  seen=$(timeout 5 nsenter -t "$c1" -n "$busybox" wget -q -O - http://198.51.100.2:9000/cgi-bin/ip 2>/dev/null) && break
  sleep 0.2
done
seen=${seen#"[::ffff:"}
seen=${seen%"]"}
echo "      the outside server saw the connection from ${seen:-nobody}"
page=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
  page=$(timeout 5 nsenter -t "$out" -n "$busybox" wget -q -O - http://198.51.100.1:8080/ 2>/dev/null) && break
  sleep 0.2
done
echo "      http://198.51.100.1:8080/ -> \"$page\""

if [[ $pings -eq 4 && $seen == 198.51.100.1 && $page == "hello from container one" ]]; then
  echo "verdict: HELD - two namespaces on $br ping each other and $net.1; MASQUERADE showed them as 198.51.100.1; 8080 reached $net.2:80"
else
  echo "verdict: NOT HELD - $pings/4 pings, outside saw \"$seen\", page \"$page\""
  exit 1
fi
