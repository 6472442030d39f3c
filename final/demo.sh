#!/usr/bin/env bash
# final/'s runtime as a student first meets it: a bundle made from build/rootfs, the config.json
# that `minidocker runtime spec` writes, `runtime run` with a probe script on stdin, then the
# create/start split, exec and delete. Each step is checked; the last line is the verdict.
#   ./demo.sh [--pause] [ROOTFS]     (as root, or with sudo; ROOTFS defaults to ../build/rootfs)
# --pause waits for Enter while the container runs (after start), so that you can look at it
# from another terminal: README.md, "See for yourself".
# Everything it makes is removed on every path (success, a failed step, Ctrl-C, SIGTERM): the
# bundle in /tmp/lab-bundle-*, and the container lab-demo-PID with its state and cgroups.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
md=$here/minidocker
pause=0
if [[ ${1-} == --pause ]]; then
  pause=1
  shift
fi
rootfs=${1:-$here/../build/rootfs}
id=lab-demo-$$
state_dir=/run/minidocker/runtime/$id

if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: containers need root; run it as root (or with sudo ./demo.sh)" >&2
  exit 1
fi
if [[ ! -x $md ]]; then
  echo "demo.sh: $md is missing; build it: make (here or at the top)" >&2
  exit 1
fi
if [[ ! -x $rootfs/bin/busybox ]]; then
  echo "demo.sh: $rootfs/bin/busybox is missing; build the rootfs: make rootfs (at the top)" >&2
  exit 1
fi

bundle=
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # delete --force kills what is left of the container and removes its cgroups and state.
  if [[ -d $state_dir ]]; then
    "$md" runtime delete --force "$id" >/dev/null 2>&1 || status=1
  fi
  [[ -z $bundle ]] || rm -rf "$bundle"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

indent() { sed -e 's/\t/ /g' -e 's/^/      /'; }
status_of() { "$md" runtime state "$id" | jq -r .status; }
cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline" | sed 's/ $//'; }
# A process that has exited but is not yet reaped (its parent is PID 1 now) is a zombie: gone.
running() { [[ -e /proc/$1 && $(ps -o stat= -p "$1") != Z* ]]; }
pid_of() { "$md" runtime state "$id" | jq -r .pid; }
problems=()
expect() {  # expect WHAT ACTUAL WANTED
  [[ $2 == "$3" ]] || problems+=("$1 was \"$2\", not \"$3\"")
}

bundle=$(mktemp -d /tmp/lab-bundle-XXXXXX)
echo "[1/6] cp -a ROOTFS BUNDLE/rootfs; minidocker runtime spec --bundle BUNDLE"
echo "      BUNDLE = $bundle"
cp -a "$rootfs" "$bundle/rootfs"
"$md" runtime spec --bundle "$bundle"
jq -r '"      config.json: args \(.process.args | tojson), terminal \(.process.terminal), user \(.process.user.uid):\(.process.user.gid), hostname \(.hostname)",
  "      \(.process.capabilities.bounding | length) capabilities (Docker'"'"'s set), noNewPrivileges \(.process.noNewPrivileges), seccomp: EPERM for all but \([.linux.seccomp.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]] | unique | length) system calls",
  "      namespaces: \([.linux.namespaces[].type] | join(" ")); \(.linux.maskedPaths | length) masked and \(.linux.readonlyPaths | length) read-only paths"' \
  "$bundle/config.json"

echo "[2/6] minidocker runtime run --bundle BUNDLE $id  <<< 'ps; hostname; id; grep ... /proc/self/status; exit 3'"
probe=$(cat <<'EOF'
ps
hostname
id
grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status
exit 3
EOF
)
run_status=0
seen=$("$md" runtime run --bundle "$bundle" "$id" <<<"$probe" 2>&1) || run_status=$?
indent <<<"$seen"
echo "      run exited $run_status, the probe's own exit code; outside, the hostname is still $(hostname)"
expect "the exit code of run" "$run_status" 3
expect "the hostname inside" "$(grep -cx minidocker <<<"$seen")" 1
expect "PID 1 inside" "$(awk '$1 == 1 {print $3}' <<<"$seen")" sh
expect "CapEff inside" "$(awk '$1 == "CapEff:" {print $2}' <<<"$seen")" 00000000a80425fb
expect "the state directory after run" "$(ls -d "$state_dir" 2>/dev/null || true)" ""

echo "[3/6] minidocker runtime create --bundle BUNDLE $id  (process.args now [\"sleep\",\"1000\"])"
jq '.process.args = ["sleep", "1000"]' "$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"
"$md" runtime create --bundle "$bundle" "$id"
pid=$(pid_of)
status=$(status_of)
echo "      state: $status, pid $pid (on the host); $state_dir holds: $(find "$state_dir" -mindepth 1 -printf '%f\n' | sort | xargs)"
echo "      /proc/$pid/comm: $(cat "/proc/$pid/comm"): the init is still the runtime's code, blocked opening exec.fifo"
echo "      its PID namespace: $(readlink "/proc/$pid/ns/pid"); the host's: $(readlink /proc/self/ns/pid)"
expect "the status after create" "$status" created
expect "the init's comm before start" "$(cat "/proc/$pid/comm")" minidocker
[[ -p $state_dir/exec.fifo ]] || problems+=("exec.fifo was missing after create")
grep -q "/minidocker/$id\$" "/proc/$pid/cgroup" || problems+=("the init was not in /minidocker/$id")

echo "[4/6] minidocker runtime start $id"
"$md" runtime start "$id"
status=$(status_of)
echo "      state: $status; /proc/$pid/cmdline: $(cmdline_of "$pid"); exec.fifo: $(ls "$state_dir"/exec.fifo 2>/dev/null || echo gone)"
expect "the status after start" "$status" running
expect "the program after start" "$(cmdline_of "$pid")" "sleep 1000"
if ((pause)); then
  echo "      paused: container $id runs as pid $pid: look at it from another terminal, then press Enter"
  read -r _ || true
fi

echo "[5/6] minidocker runtime exec $id ps"
seen=$("$md" runtime exec "$id" ps 2>&1)
indent <<<"$seen"
expect "PID 1 seen by exec" "$(awk '$1 == 1 {print $3, $4}' <<<"$seen")" "sleep 1000"

echo "[6/6] minidocker runtime delete --force $id"
"$md" runtime delete --force "$id"
left=$(find /sys/fs/cgroup -maxdepth 4 -type d -path "*/minidocker/$id" 2>/dev/null || true)
echo "      $("$md" runtime state "$id" 2>&1 || true)"
echo "      pid $pid: $(running "$pid" && echo "still running" || echo gone); cgroups named minidocker/$id: ${left:-none}"
! running "$pid" || problems+=("the init (pid $pid) outlived delete --force")
expect "the cgroups left after delete" "$left" ""
expect "the state directory after delete" "$(ls -d "$state_dir" 2>/dev/null || true)" ""

if ((${#problems[@]} == 0)); then
  echo "verdict: HELD - spec, run, create, start, exec and delete worked as runc's do: the probe ran as PID 1 in its own namespaces with Docker's capabilities, and delete left nothing"
else
  echo "verdict: NOT HELD - $(printf '%s; ' "${problems[@]}")"
  exit 1
fi
