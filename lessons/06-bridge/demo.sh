#!/usr/bin/env bash
# Lesson 06 the shell way: a bridge, two "containers" (network namespaces held by a sleeping
# process), a veth pair each, pings, then Docker's iptables rules (chains LAB-DOCKER and
# LAB-DOCKER-USER), MASQUERADE and a published port against an "outside" namespace, with ip(8),
# iptables(8), nsenter(1) and busybox. Checked like ./bridge; everything is removed on exit, also on
# Ctrl-C. Run it as root (or with sudo) where you would run ./bridge, or in a throwaway network
# namespace:   unshare -n ./demo.sh [--wait] [BRIDGE [SUBNET_PREFIX]]
#   e.g. unshare -n ./demo.sh lab0 172.29.0
#   --wait  before removing anything, wait for Enter (to explore with iptables -S, bridge link)
#
# If the script itself is killed (SIGKILL gives it no chance to clean up), what it started dies
# with it: every background process is started with `setpriv --pdeathsig KILL`, so the kernel
# kills it when the script goes. What the kernel cannot remove carries a lab name for
# `doctor/doctor --clean`: the links lab0 and lab-*, the rules (-m comment --comment lab-bridge),
# the chains LAB-*, and ip_forward's old value, saved in /run/lab/sysctl/<netns inode>/ first.
set -euo pipefail

wait_at_end=0
if [[ ${1-} == --wait ]]; then
  wait_at_end=1
  shift
fi
br=${1-lab0}
net=${2-172.29.0}
here=$(cd "$(dirname "$0")" && pwd)
busybox=${LAB_ROOTFS:-$here/../../build/rootfs}/bin/busybox
if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: network namespaces, links and iptables need root; run it as root (or with sudo)" >&2
  exit 1
fi
if [[ -z $br || ${#br} -gt 15 || $br == */* || $br == *:* || $br == *[[:space:]]* ]]; then
  echo "demo.sh: the bridge name must be 1-15 bytes without '/', ':' or spaces, got \"$br\"" >&2
  exit 2
fi
if [[ $br != lab0 && $br != lab-* ]]; then
  echo "demo.sh: \"$br\" is not a lab name; the demo makes only links called lab0 or lab-..., and never touches the host's own" >&2
  exit 2
fi
if ! [[ $net =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] ||
  ((BASH_REMATCH[1] > 255 || BASH_REMATCH[2] > 255 || BASH_REMATCH[3] > 255)); then
  echo "demo.sh: SUBNET_PREFIX is the first three numbers of a /24, like 172.29.0; got \"$net\"" >&2
  exit 2
fi
a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]}
if ((a == 0 || a == 127 || a >= 224)) || [[ $a.$b == 169.254 ]]; then
  echo "demo.sh: $net.0/24 is in a special-purpose range (0/8, loopback, link-local, multicast or reserved); choose a private one such as 10.88.0" >&2
  exit 2
fi
if [[ $net == 198.51.100 ]]; then
  echo "demo.sh: $net.0/24 is the demo's own \"internet\"; choose another, such as 10.88.0" >&2
  exit 2
fi
[[ -x $busybox ]] || { echo "demo.sh: $busybox is missing; run: make rootfs" >&2; exit 1; }

saved=/run/lab/sysctl/$(stat -L -c %i /proc/self/ns/net)/net.ipv4.ip_forward
# What an earlier run that could not clean up (killed) left here; this run would fail half-way.
left=()
for l in "$br" lab-veth1 lab-veth2 lab-out; do
  if ip link show "$l" >/dev/null 2>&1; then left+=("the link $l"); fi
done
n=$( (iptables -w -S; iptables -w -t nat -S) | grep -c -e '--comment lab-bridge' -e '^-N LAB-' || true)
((n == 0)) || left+=("$n lab-bridge iptables rule(s) or LAB- chain(s)")
[[ ! -e $saved ]] || left+=("the saved ip_forward $saved")
if ((${#left[@]})); then
  list=$(printf '%s, ' "${left[@]}")
  echo "demo.sh: an earlier run left ${list%, } here; remove what the lessons left with: doctor/doctor --clean" >&2
  exit 1
fi

pids=()
undo=()  # iptables commands that undo what was added, run newest first
www=""
forward_changed=0
cleanup() {
  local i
  for ((i = ${#undo[@]} - 1; i >= 0; i--)); do
    # shellcheck disable=SC2086  # a command is a list of words
    iptables -w ${undo[i]} 2>/dev/null || true
  done
  if ((forward_changed)); then
    cat "$saved" >/proc/sys/net/ipv4/ip_forward
    rm -f "$saved"
    rmdir "$(dirname "$saved")" 2>/dev/null || true
  fi
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
# Starts "$@" in the background so that it dies with this script, even on SIGKILL.
background() { setpriv --pdeathsig KILL -- "$@" & pids+=($!); }
# A "container": a sleeping process in a new network namespace. unshare makes the namespace,
# then execs sleep; wait (at most 5 s) until the process is no longer in ours.
ours=$(readlink /proc/self/ns/net)
container() {
  background unshare -n sleep infinity
  local pid=${pids[-1]} i ns
  for ((i = 0; i < 50; i++)); do
    ns=$(readlink "/proc/$pid/ns/net" 2>/dev/null) || break
    [[ $ns == "$ours" ]] || return 0
    sleep 0.1
  done
  echo "demo.sh: unshare -n (pid $pid) made no network namespace" >&2
  exit 1
}
# Adds a rule (marked lab-bridge) and remembers how to delete it:
#   rule [-t TABLE] -A|-I CHAIN [N] SPEC... -j TARGET...
rule() {
  local table=filter words
  if [[ $1 == -t ]]; then table=$2; shift 2; fi
  words="$*"
  # shellcheck disable=SC2086
  iptables -w -t "$table" ${words/ -j / -m comment --comment lab-bridge -j }
  echo "      iptables $([[ $table == nat ]] && echo "-t nat ")$words"
  words=$(sed -E 's/^-[AI] ([^ ]+)( [0-9]+)?/-D \1/' <<<"$words")
  undo+=("-t $table ${words/ -j / -m comment --comment lab-bridge -j }")
}
chain() {
  iptables -w -t "$1" -N "$2"
  echo "      iptables $([[ $1 == nat ]] && echo "-t nat ")-N $2"
  undo+=("-t $1 -X $2")
}
fetch() { timeout 5 nsenter -t "$1" -n "$busybox" wget -q -O - "$2" 2>/dev/null; }
# The same, tried up to 10 times 0.2 s apart: a server just started may not listen yet. Prints
# the last try's answer (empty when none came).
fetch_soon() {
  local answer=""
  for _ in $(seq 10); do
    answer=$(fetch "$1" "$2") && break
    sleep 0.2
  done
  echo "$answer"
}

echo "[1/7] ip link add $br type bridge; ip addr add $net.1/24 dev $br; ip link set $br up"
ip link add "$br" type bridge
ip addr add "$net.1/24" dev "$br"
ip link set "$br" up

echo "[2/7] unshare -n sleep infinity &  (x2); ip link add lab-vethN type veth peer name eth0 netns PID"
for i in 1 2; do
  container
  pid=${pids[-1]}
  ip link add "lab-veth$i" type veth peer name eth0 netns "$pid"
  ip link set "lab-veth$i" master "$br" up
  in_ns "$pid" ip link set lo up
  in_ns "$pid" ip addr add "$net.$((i + 1))/24" dev eth0
  in_ns "$pid" ip link set eth0 up
  in_ns "$pid" ip route add default via "$net.1"
done
c1=${pids[0]} c2=${pids[1]}

echo "[3/7] bridge link"
# A port forwards once the kernel has seen its carrier come up; wait for that (at most 5 s).
for _ in $(seq 50); do
  [[ $(bridge link show | grep -c " master $br state forwarding") -eq 2 ]] && break
  sleep 0.1
done
bridge link show | grep " master $br " | sed -E 's/^[0-9]+: ([^@:]+).* master ([^ ]+) state ([^ ]+).*/      \1: master \2 state \3/'

echo "[4/7] nsenter -t PID -n ping -c1 ..."
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

echo "[5/7] outside namespace; ip_forward=1 (the old value saved in /run/lab/sysctl first); Docker's rules, each with -m comment --comment lab-bridge:"
container
out=${pids[-1]}
ip link add lab-out type veth peer name eth0 netns "$out"
ip addr add 198.51.100.1/24 dev lab-out
ip link set lab-out up
in_ns "$out" ip addr add 198.51.100.2/24 dev eth0
in_ns "$out" ip link set eth0 up
mkdir -p "$(dirname "$saved")"
cat /proc/sys/net/ipv4/ip_forward >"$saved"  # the old value first, for doctor --clean
forward_changed=1
echo 1 >/proc/sys/net/ipv4/ip_forward
chain filter LAB-DOCKER
chain filter LAB-DOCKER-USER
chain nat LAB-DOCKER
rule -A LAB-DOCKER-USER -j RETURN
rule -I FORWARD 1 -j LAB-DOCKER-USER
rule -I FORWARD 2 -o "$br" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
rule -I FORWARD 3 -o "$br" -j LAB-DOCKER
rule -I FORWARD 4 -i "$br" ! -o "$br" -j ACCEPT
rule -I FORWARD 5 -i "$br" -o "$br" -j ACCEPT
rule -A LAB-DOCKER ! -i "$br" -o "$br" -j DROP
rule -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j LAB-DOCKER
rule -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j LAB-DOCKER
rule -t nat -A POSTROUTING -s "$net.0/24" ! -o "$br" -j MASQUERADE
rule -t nat -A LAB-DOCKER ! -i "$br" -p tcp --dport 8080 -j DNAT --to-destination "$net.2:80"
rule -I LAB-DOCKER 1 -d "$net.2/32" ! -i "$br" -o "$br" -p tcp --dport 80 -j ACCEPT

echo "[6/7] wget http://198.51.100.2:9000/cgi-bin/ip from C1, then http://198.51.100.1:8080/ from outside and from the host"
www=$(mktemp -d /tmp/lab-bridge-demo-XXXXXX)
mkdir "$www/c1" "$www/c2" "$www/out" "$www/out/cgi-bin"
echo "hello from container one" >"$www/c1/index.html"
echo "hello from container two" >"$www/c2/index.html"
# The "internet" runs a CGI that answers with the address the connection came from.
# shellcheck disable=SC2016  # $REMOTE_ADDR is for the CGI script
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%%s\\n" "$REMOTE_ADDR"\n' >"$www/out/cgi-bin/ip"
chmod +x "$www/out/cgi-bin/ip"
background nsenter -t "$c1" -n "$busybox" httpd -f -p 80 -h "$www/c1"
background nsenter -t "$c2" -n "$busybox" httpd -f -p 80 -h "$www/c2"
background nsenter -t "$out" -n "$busybox" httpd -f -p 9000 -h "$www/out"
background nsenter -t "$out" -n "$busybox" httpd -f -p 8080 -h "$www/out"
unmask() { local a=${1#"[::ffff:"}; echo "${a%"]"}"; }
seen=$(fetch_soon "$c1" http://198.51.100.2:9000/cgi-bin/ip)
seen=$(unmask "$seen")
echo "      the outside server saw the connection from ${seen:-nobody}"
page=$(fetch_soon "$out" http://198.51.100.1:8080/)
echo "      http://198.51.100.1:8080/ from outside -> \"$page\""
own=$(timeout 5 "$busybox" wget -q -O - http://198.51.100.1:8080/ 2>/dev/null) || true
echo "      http://198.51.100.1:8080/ from the host -> \"$own\"  (nat OUTPUT)"

echo "[7/7] wget http://198.51.100.2:8080/cgi-bin/ip from C2, then http://$net.3/ from C1 and from outside (via a route through the host)"
other=$(fetch_soon "$c2" http://198.51.100.2:8080/cgi-bin/ip)
other=$(unmask "$other")
echo "      the outside server on 8080 saw C2's connection from ${other:-nobody} (no DNAT: not a local address)"
inside=$(fetch_soon "$c1" "http://$net.3/")
echo "      http://$net.3/ from C1 -> \"$inside\"  (container to container, over the bridge)"
in_ns "$out" ip route add "$net.0/24" via 198.51.100.1
drops() { iptables -w -S LAB-DOCKER -v | sed -n 's/.* -c \([0-9]*\) [0-9]* -j DROP$/\1/p'; }
before=$(drops)
outside=$(timeout 2 nsenter -t "$out" -n "$busybox" wget -q -O - "http://$net.3/" 2>/dev/null) || true
dropped=$(($(drops) - before))
in_ns "$out" ip route del "$net.0/24" via 198.51.100.1
echo "      http://$net.3/ from outside -> \"$outside\"  ($( ((dropped > 0)) && echo "dropped by" || echo "not dropped by") ! -i $br -o $br -j DROP: port 80 of C2 is not published)"

if ((wait_at_end)); then
  echo "everything is in place: look around with iptables -S or bridge link, then press Enter to remove it"
  read -r _ || true
fi
if [[ $pings -eq 4 && $seen == 198.51.100.1 && $page == "hello from container one" &&
  $own == "hello from container one" && $other == 198.51.100.1 &&
  $inside == "hello from container two" && -z $outside && $dropped -gt 0 ]]; then
  echo "verdict: HELD - two namespaces on $br ping each other and $net.1; MASQUERADE showed them as 198.51.100.1; 8080 reached $net.2:80 from outside and from the host; C2 reached another server's 8080; C2's unpublished port 80 was dropped from outside"
else
  echo "verdict: NOT HELD - $pings/4 pings, outside saw \"$seen\", page from outside \"$page\", from the host \"$own\", C2's 8080 seen from \"$other\", C2's port 80 from C1 \"$inside\", from outside \"$outside\" ($dropped dropped)"
  exit 1
fi
