#!/usr/bin/env bats
# shellcheck disable=SC2016  # the shell inside the container expands these
# run/create flags whose meaning is Docker's default or Docker's helper (final/engine/flags.cpp):
# --memory's default swap (memory + swap = 2 x memory) and --memory-swap, read back from the
# container's cgroup files; --init (Debian's tini bound at /sbin/docker-init as PID 1), proven
# from inside. Each with our runtime and with runc where the runtime is what does it.
load helpers
load engine
bats_require_minimum_version 1.5.0

setup() {
  requires root rootfs overlay
  engine_setup
}

teardown() {
  engine_teardown
}

MiB=1048576

# The file of the container's memory cgroup where the kernel keeps memory + swap (v1's memsw) or
# swap alone (v2's memory.swap.max); "" when the kernel counts no swap.
swap_file() {
  local id=$1
  if [[ -e /sys/fs/cgroup/memory/minidocker/$id/memory.memsw.limit_in_bytes ]]; then
    echo "/sys/fs/cgroup/memory/minidocker/$id/memory.memsw.limit_in_bytes"
  elif [[ -e /sys/fs/cgroup/minidocker/$id/memory.swap.max ]]; then
    echo "/sys/fs/cgroup/minidocker/$id/memory.swap.max"
  fi
}

# swap_checks RUNTIME: --memory 16m alone allows 16 MiB of swap (memsw 32 MiB, or swap.max 16
# MiB), -1 lifts the swap limit; both read from the running container's cgroup.
swap_checks() {
  local runtime=() id file
  [[ -z $1 ]] || runtime=(--runtime "$1")
  id=$(md run -d --name s "${runtime[@]}" --network none --memory 16m busybox sleep 1000)
  [[ $(md inspect s | jq -c '.[0].HostConfig | [.Memory, .MemorySwap]') == "[$((16 * MiB)),$((32 * MiB))]" ]] ||
    fail "inspect: $(md inspect s | jq -c '.[0].HostConfig | [.Memory, .MemorySwap]')"
  file=$(swap_file "$id")
  [[ -n $file ]] || fail "this kernel counts no swap: no memsw / memory.swap.max for $id"
  case $file in
    *memsw*) [[ $(cat "$file") == $((32 * MiB)) ]] || fail "$file: $(cat "$file")" ;;
    *) [[ $(cat "$file") == $((16 * MiB)) ]] || fail "$file: $(cat "$file")" ;;
  esac
  md rm -f s >/dev/null
  id=$(md run -d --name u "${runtime[@]}" --network none --memory 16m --memory-swap -1 busybox sleep 1000)
  [[ $(md inspect u | jq -r '.[0].HostConfig.MemorySwap') == -1 ]]
  file=$(swap_file "$id")
  case $file in
    # v1 shows "no limit" as the largest page-aligned counter, far above any memory here.
    *memsw*) (($(cat "$file") > 1 << 50)) || fail "$file: $(cat "$file")" ;;
    *) [[ $(cat "$file") == max ]] || fail "$file: $(cat "$file")" ;;
  esac
  md rm -f u >/dev/null
}

@test "flags: --memory alone allows as much swap again (Docker's default), read from the cgroup" {
  swap_checks ""
}

@test "flags: the same with --runtime runc" {
  requires cmd:runc
  swap_checks runc
}

@test "flags: --memory-swap 8m below --memory 16m is refused with Docker's words, nothing made" {
  run md run --name low --network none --memory 16m --memory-swap 8m busybox true
  assert_failure 125
  assert_output "Error: Minimum memoryswap limit should be larger than memory limit, see usage"
  [[ -z $(md ps -aq) ]]
  run md create --memory-swap 64m busybox true
  assert_failure 125
  assert_output "Error: You should always set the Memory limit when using Memoryswap limit, see usage"
  [[ -z $(md ps -aq) ]]
}

# init_checks RUNTIME: PID 1 is docker-init, read-only; the command is its child.
init_checks() {
  local runtime=()
  [[ -z $1 ]] || runtime=(--runtime "$1")
  run md run --rm --init "${runtime[@]}" --network none busybox sh -c \
    'echo "pid1: $(tr "\0" " " </proc/1/cmdline)"; echo "sh: $$ parent $PPID"
     echo x 2>/dev/null >/sbin/docker-init && echo "init: writable" || echo "init: read-only"'
  assert_success
  assert_line --regexp '^pid1: /sbin/docker-init -- sh -c echo '
  assert_line --regexp '^sh: [0-9]+ parent 1$'
  refute_line "sh: 1 parent 0"
  assert_line "init: read-only"
}

@test "flags: --init: PID 1 is /sbin/docker-init (read-only), the command its child" {
  init_checks ""
}

@test "flags: --init with --runtime runc" {
  requires cmd:runc
  init_checks runc
}

@test "flags: --init reaps an orphan that exits" {
  # The inner sh leaves a sleep behind: re-parented to PID 1, killed, and then gone from /proc
  # only once PID 1 waits for it (a zombie keeps its /proc entry).
  run md run --rm --init --network none busybox sh -c \
    'sh -c "sleep 1000 & echo \$! >/tmp/orphan"; p=$(cat /tmp/orphan)
     echo "orphan parent: $(sed -n "s/^PPid:[[:space:]]*//p" /proc/$p/status)"
     kill $p; i=0
     while [ -e /proc/$p ] && [ $i -lt 300 ]; do i=$((i + 1)); sleep 0.1; done
     if [ -e /proc/$p ]; then echo "not reaped: $(grep State /proc/$p/status)"; else echo reaped; fi'
  assert_success
  assert_line "orphan parent: 1"
  assert_line reaped
}

@test "flags: --init passes SIGTERM on (stop ends with 143, not 137) and the exit code through" {
  # A bare sleep as PID 1 ignores SIGTERM (the kernel drops signals PID 1 has no handler for),
  # so stop would wait its 60 s and SIGKILL: 137. Under docker-init the sleep gets the SIGTERM.
  md run -d --init --name t --network none busybox sleep 1000 >/dev/null
  [[ $(md inspect t | jq -r '.[0].HostConfig.Init') == true ]]
  run md exec t cat /proc/1/cmdline
  [[ $output == /sbin/docker-init* ]] || fail "PID 1: $output"
  md stop -t 60 t
  [[ $(md inspect t | jq -r '.[0].State.ExitCode') == 143 ]] ||
    fail "exit: $(md inspect t | jq -r '.[0].State.ExitCode')"
  run md run --rm --init --network none busybox sh -c 'exit 7'
  assert_failure 7
  md run -d --name plain --network none busybox true >/dev/null
  [[ $(md inspect plain | jq -r '.[0].HostConfig.Init') == null ]]
}

@test "flags: --init without tini: one line naming the package, 125, nothing made" {
  local empty="$BATS_TEST_TMPDIR/empty"
  : >"$empty"
  # tini-static hidden (an empty, non-executable file bound over it) in a mount namespace of
  # the test's own.
  run unshare -m --propagation private bash -c 'mount --bind "$1" /usr/bin/tini-static && shift && exec "$@"' \
    _ "$empty" "$MINIDOCKER" --root "$ROOT" run --rm --init --name noinit --network none busybox true
  assert_failure 125
  assert_output "Error: --init needs Docker's docker-init, tini: /usr/bin/tini-static is missing; install Debian's tini package (apt-get install tini, or make deps)"
  [[ -z $(md ps -aq) ]]
  [[ -z $(find "$ROOT/containers" -mindepth 1 -maxdepth 1 2>/dev/null) ]]
}

@test "flags: --privileged stays refused with one line" {
  run md run --rm --privileged --network none busybox true
  assert_failure 125
  assert_output --partial "--privileged is not supported"
  [[ ${#lines[@]} -eq 1 ]]
  [[ -z $(md ps -aq) ]]
}

# commit_pause_checks RUNTIME: commit (--pause is its default) pauses a running container through
# its runtime, as `pause` does: a commit killed right after that step (a kill point) leaves the
# container paused in the engine's record and in the runtime's own state; a whole commit leaves
# it running again, and one of a paused container leaves it paused.
commit_pause_checks() {
  local runtime=() rt=minidocker id
  [[ -z $1 ]] || runtime=(--runtime "$1") rt=$1
  id=$(md run -d --name cp "${runtime[@]}" --network none busybox sh -c 'echo hi >/f; exec sleep 1000')
  run env MINIDOCKER_ENGINE_KILL_AT=commit-paused "$MINIDOCKER" --root "$ROOT" commit cp paused:1
  assert_failure 137
  [[ $(md inspect cp | jq -r '.[0].State.Paused') == true ]] || fail "not paused: $(md inspect cp | jq -c '.[0].State')"
  local state
  if [[ $rt == runc ]]; then
    state=$(runc --root "$ROOT/run/runc" state "$id" | jq -r .status)
  else
    state=$("$MINIDOCKER" runtime --root "$ROOT/run/minidocker" state "$id" | jq -r .status)
  fi
  [[ $state == paused ]] || fail "the runtime says $state"
  md unpause cp >/dev/null
  run md commit cp flags/commit:1
  assert_success
  [[ $(md inspect cp | jq -r '.[0].State | "\(.Status) \(.Paused)"') == "running false" ]] ||
    fail "after commit: $(md inspect cp | jq -c '.[0].State')"
  md pause cp >/dev/null
  run md commit cp flags/commit:2
  assert_success
  [[ $(md inspect cp | jq -r '.[0].State.Paused') == true ]]
  md unpause cp >/dev/null
  run md run --rm --network none flags/commit:2 cat /f
  assert_output hi
  md rm -f cp >/dev/null
  md rmi flags/commit:1 flags/commit:2 >/dev/null
}

@test "flags: commit pauses a running container through its runtime, then resumes it" {
  commit_pause_checks ""
}

@test "flags: commit's pause with --runtime runc" {
  requires cmd:runc
  commit_pause_checks runc
}
