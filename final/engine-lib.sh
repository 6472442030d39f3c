# shellcheck shell=bash disable=SC2154  # here and rootfs come from the script that sources this
# What engine-demo.sh and engine-session.sh share, sourced after they set `here` (their folder)
# and `rootfs`: the checks (root, the binaries, the busybox rootfs, the tools), then a fresh
# engine root (/var/tmp/lab-engine-*) and a network namespace of the demo's own
# (lab-engine-PID) that the engine runs in, so its bridge, veths and firewall rules are made
# there, never on the machine's own interfaces. Both are removed on every path, Ctrl-C included:
# the containers first (rm -f, then system prune for whatever a killed step left), then the root
# and the namespace.
#   md ARGS...      minidocker --root ROOT ARGS..., inside the namespace
#   in_ns CMD...    CMD inside the namespace (the host's side of the published ports)
#   expect WHAT ACTUAL WANTED, problems=(...)   the claims that did not hold, for the verdict

demo=$(basename "$0")
if [[ $(id -u) -ne 0 ]]; then
  echo "$demo: containers need root; run it as root (or with sudo)" >&2
  exit 1
fi
if [[ ! -x $here/minidocker || ! -x $here/minidocker-monitor ]]; then
  echo "$demo: $here/minidocker is missing; build it: make (here or at the top)" >&2
  exit 1
fi
if [[ ! -x $rootfs/bin/busybox ]]; then
  echo "$demo: $rootfs/bin/busybox is missing; build the rootfs: make rootfs" >&2
  exit 1
fi
rootfs=$(cd "$rootfs" && pwd)
for tool in ip iptables nsenter jq; do
  if ! command -v "$tool" >/dev/null; then
    echo "$demo: $tool is missing; install it: make deps (at the top)" >&2
    exit 1
  fi
done

work=
ns="lab-engine-$$"
made_run_netns=false
mountpoint -q /run/netns || made_run_netns=true
cleanup() {
  local status=$? ids
  trap - EXIT INT TERM
  # A script's own first step (daemon-session.sh stops its daemon), when it defines one.
  if declare -F before_cleanup >/dev/null; then before_cleanup || true; fi
  cd /
  if [[ -n $work ]]; then
    ids=$(md ps -aq 2>/dev/null || true)
    # shellcheck disable=SC2086
    [[ -z $ids ]] || md rm -f $ids >/dev/null 2>&1 || true
    md system prune -f >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
  ip netns del "$ns" 2>/dev/null || true
  if $made_run_netns && mountpoint -q /run/netns && [[ -z $(ls -A /run/netns) ]]; then
    umount /run/netns && rmdir /run/netns
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

work=$(mktemp -d /var/tmp/lab-engine-XXXXXX)
root=$work/engine
ip netns add "$ns"
ip -n "$ns" link set lo up
in_ns() { nsenter --net="/run/netns/$ns" -- "$@"; }
md() { in_ns "$here/minidocker" --root "$root" "$@"; }
indent() { sed -e 's/^/      /'; }
problems=()
expect() {  # expect WHAT ACTUAL WANTED
  [[ $2 == "$3" ]] || problems+=("$1 was \"$2\", not \"$3\"")
}
