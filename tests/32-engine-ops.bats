#!/usr/bin/env bats
# shellcheck disable=SC2016  # the shell inside the container expands these
# The engine's verbs on a running container (final/engine/ops.cpp): exec, top, stats, pause and
# unpause, rename; each with our runtime and with runc. What a verb did is proven from inside the
# container where that is the claim.
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

# Runs the exec checks against a container started with runtime $1 ("" is ours).
exec_checks() {
  local runtime=()
  [[ -z $1 ]] || runtime=(--runtime "$1")
  md run -d -e FROM_RUN=1 --name c "${runtime[@]}" --network none --hostname boxy busybox \
    sh -c 'echo mark > /tmp/mark; exec sleep 1000' >/dev/null
  # PID 1 of the container is its sleep: exec runs inside its PID namespace.
  run md exec c cat /proc/1/cmdline
  assert_success
  [[ $output == sleep* ]] || fail "PID 1 seen by exec: $output"
  run md exec c sh -c 'echo "$(hostname) $(cat /tmp/mark) $FROM_RUN $A $(pwd) $(id -u):$(id -g)"'
  assert_success
  assert_output "boxy mark 1  / 0:0"
  run md exec -w /tmp -e A=2 -e B=3 -u nobody c sh -c 'echo "$A$B $(pwd) $(id -un)"'
  assert_success
  assert_output "23 /tmp nobody"
  run md exec -u 1000:1000 -e X=1 c id -u
  assert_output 1000
  # -e alone: the runtime's --env takes one value (it once went on to take the id and command)
  run md exec -e ONLY=1 c sh -c 'echo "only $ONLY"'
  assert_success
  assert_output "only 1"
  run md exec c sh -c 'echo out; echo err >&2; exit 7'
  assert_failure 7
  assert_line out
  assert_line err
  run bash -c "echo through stdin | '$MINIDOCKER' --root '$ROOT' exec -i c cat"
  assert_success
  assert_output "through stdin"
  run md exec c cat
  assert_success
  assert_output ""
  run -127 md exec c nosuchcommand
  assert_failure 127
  assert_output --partial '"nosuchcommand": executable file not found in $PATH'
  run -126 md exec c /etc/passwd
  assert_failure 126
  run md exec -d c sh -c 'echo detached > /tmp/d'
  assert_success
  assert_output ""
  local _
  for _ in $(seq 300); do
    [[ $(md exec c cat /tmp/d 2>/dev/null) == detached ]] && break
    sleep 0.1
  done
  [[ $(md exec c cat /tmp/d) == detached ]] || fail "exec -d never ran"
  run md exec -t c sh -c '[ -t 1 ] && echo has-a-tty'
  assert_success
  assert_output --partial 'has-a-tty'
  local id
  id=$(md inspect c | jq -r '.[0].Id')
  md stop -t 1 c >/dev/null
  run md exec c true
  assert_failure 1
  assert_output "Error response from daemon: container $id is not running"
  md rm c >/dev/null
}

@test "exec: runs inside the container (PID 1, hostname, files), -e -w -u -i -d, exit codes" {
  exec_checks ""
  run md exec nosuch true
  assert_failure 1
  assert_output "Error response from daemon: No such container: nosuch"
  # Docker's `container` group has the verbs too; --explain names the runtime's exec.
  md run -d --name g --network none busybox sleep 1000 >/dev/null
  run md container exec g echo grouped
  assert_success
  assert_output grouped
  run md --explain exec g true
  assert_success
  assert_output --partial "final/minirunc --root $ROOT/run/minidocker exec"
}

@test "exec: the same with --runtime runc" {
  requires cmd:runc
  exec_checks runc
}

@test "exec: every word after the container is the command's, even one of exec's own options" {
  args_image argsbox
  md run -d --name c --network none argsbox sleep 1000 >/dev/null
  # Docker's CLI reads options up to the container and none after it: -e, -d, -it, --help there
  # are the command (programs of those names, args_image), with the options that follow it.
  local word
  for word in -e -d -i -it --help --; do
    run md exec c "$word" -e A=1 -w /
    assert_success
    assert_output "[$word][-e][A=1][-w][/]"
  done
  # Options before the container are still exec's; the shell gets its -c and what follows.
  run md exec -e A=1 -w /tmp c sh -c 'echo "$A $(pwd) $0 $1"' -e -d
  assert_success
  assert_output "1 /tmp -e -d"
  # An option that is not exec's, before the container, is refused (125), never run.
  run md exec --nosuch c args
  assert_failure 125
  refute_output --partial '[args]'
}

@test "top: the container's processes, as host ps -ef rows (or other ps options)" {
  md run -d --name t --network none busybox sh -c 'sleep 1001 & exec sleep 1002' >/dev/null
  local _
  for _ in $(seq 300); do
    [[ $(md top t | grep -c 'sleep 100[12]') == 2 ]] && break
    sleep 0.1
  done
  run md top t
  assert_success
  assert_line --regexp '^UID +PID +PPID +C +STIME +TTY +TIME +CMD$'
  assert_line --regexp '^root +[0-9]+ +[0-9]+ .* sleep 1001$'
  assert_line --regexp '^root +[0-9]+ +[0-9]+ .* sleep 1002$'
  [[ ${#lines[@]} -eq 3 ]] || fail "only the container's two processes: $output"
  # The PIDs are the host's: the container's PID 1 is its init's pid on the host.
  local pid
  pid=$(md inspect t | jq -r '.[0].State.Pid')
  assert_line --regexp "^root +$pid .* sleep 1002$"
  run md top t -o pid,comm
  assert_success
  assert_line --regexp '^PID +COMMAND$'
  assert_line --regexp "^$pid +sleep$"
  md stop -t 1 t >/dev/null
  run md top t
  assert_failure 1
  assert_output --regexp '^Error response from daemon: container [0-9a-f]{64} is not running$'
}

@test "stats --no-stream: Docker's columns from the container's cgroup" {
  md run -d --name s --network none -m 64m busybox sh -c 'head -c 20000000 /dev/zero | tr "\0" a > /dev/null & exec sleep 1000' >/dev/null
  run md stats --no-stream
  assert_success
  assert_line --index 0 --regexp '^CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS$'
  assert_line --index 1 --regexp '^[0-9a-f]{12} +s +[0-9]+\.[0-9]{2}% +[0-9.]+(B|KiB|MiB) / 64MiB +[0-9]+\.[0-9]{2}% +0B / 0B +[0-9.]+k?B / [0-9.]+[kM]?B +[0-9]+$'
  local pids
  pids=$(md stats --no-stream --no-trunc s | awk 'NR==2 {print $NF}')
  [[ $pids -ge 1 ]] || fail "PIDS: $pids"
  run md stats --no-stream --no-trunc s
  assert_line --index 1 --regexp '^[0-9a-f]{64} +s '
  # CPU %: a container that spins shows a share of the host's CPU time.
  md run -d --name spin --network none busybox sh -c 'while :; do :; done' >/dev/null
  run md stats --no-stream spin
  assert_success
  local cpu
  cpu=$(awk 'NR==2 {print $3}' <<<"$output")
  [[ ${cpu%\%} != 0.00 ]] || fail "a spinning container shows no CPU: $output"
}

# A counter in the container stops while it is paused and goes on after unpause; $1 the runtime.
pause_checks() {
  local runtime=()
  [[ -z $1 ]] || runtime=(--runtime "$1")
  md run -d --name p "${runtime[@]}" --network none busybox \
    sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.05; done' >/dev/null
  local _ a b
  for _ in $(seq 300); do
    [[ $(md exec p cat /tmp/n 2>/dev/null || echo 0) -gt 2 ]] && break
    sleep 0.1
  done
  run md pause p
  assert_success
  assert_output p
  local state
  state=$(md inspect p)
  [[ $(jq -r '.[0].State.Status' <<<"$state") == paused ]]
  [[ $(jq -r '.[0].State.Paused' <<<"$state") == true ]]
  [[ $(jq -r '.[0].State.Running' <<<"$state") == true ]]
  # The runtime says so too (OCI state "paused"), ours as runc.
  local id
  id=$(jq -r '.[0].Id' <<<"$state")
  if [[ -z $1 ]]; then
    [[ $("$MINIDOCKER" runtime --root "$ROOT/run/minidocker" state "$id" | jq -r .status) == paused ]]
  else
    [[ $(runc --root "$ROOT/run/runc" state "$id" | jq -r .status) == paused ]]
  fi
  run md ps
  assert_line --regexp ' Up .* \(Paused\) +p$'
  # Frozen: the counter, read from the host through the rootfs, does not move (it is renamed
  # into place, so a reader never sees it half-written).
  local counter
  counter="$(container_dir p)/merged/tmp/n"
  a=$(cat "$counter")
  sleep 0.5
  b=$(cat "$counter")
  [[ $a == "$b" ]] || fail "the counter went on while paused: $a -> $b"
  run md exec p true
  assert_failure 1
  assert_output --partial 'is paused, unpause the container before exec'
  run md pause p
  assert_failure 1
  assert_output --partial 'is already paused'
  run md unpause p
  assert_success
  assert_output p
  for _ in $(seq 300); do
    [[ $(cat "$counter") -gt $b ]] && break
    sleep 0.1
  done
  [[ $(cat "$counter") -gt $b ]] || fail "the counter did not go on after unpause"
  [[ $(md inspect p | jq -r '.[0].State.Status') == running ]]
  run md unpause p
  assert_failure 1
  assert_output --partial 'is not paused'
  # stop of a paused container: the signal is delivered once it is thawed (Docker's order).
  md pause p >/dev/null
  run md stop -t 1 p
  assert_success
  [[ $(md inspect p | jq -r '.[0].State.Status') == exited ]]
  run md pause p
  assert_failure 1
  assert_output --partial 'is not running'
  md run -d --name p2 "${runtime[@]}" --network none busybox sleep 1000 >/dev/null
  md pause p2 >/dev/null
  md kill p2 >/dev/null
  # kill returns once the signal is sent (Docker's too); wait for the monitor's record of the exit
  run md wait p2
  assert_output 137
  md run -d --name p3 "${runtime[@]}" --network none busybox sleep 1000 >/dev/null
  md pause p3 >/dev/null
  md rm -f p3 >/dev/null
  md rm p p2 >/dev/null
  [[ -z $(ls -A "$ROOT/containers") ]]
}

@test "pause/unpause: the container's processes stop and go on (cgroup freezer)" {
  pause_checks ""
}

@test "pause/unpause: the same with --runtime runc" {
  requires cmd:runc
  pause_checks runc
}

@test "rename: the new name works everywhere; Docker's checks and messages" {
  md run -d --name old --network none busybox sleep 1000 >/dev/null
  md create --name other --network none busybox true >/dev/null
  run md rename old new
  assert_success
  assert_output ""
  run md ps
  assert_line --regexp ' new$'
  [[ $(md inspect new | jq -r '.[0].Name') == /new ]]
  run md inspect old
  assert_failure
  run md exec new true
  assert_success
  run md rename new other
  assert_failure 1
  assert_line --index 0 --regexp '^Error response from daemon: Conflict. The container name "/other" is already in use by container "[0-9a-f]{64}". You have to remove \(or rename\) that container to be able to reuse that name.$'
  assert_line --index 1 'Error: failed to rename container named new'
  run md rename new new
  assert_failure 1
  assert_line --index 0 'Error response from daemon: Renaming a container with the same name as its current name'
  run md rename new 'bad name'
  assert_failure 1
  assert_line --index 0 'Error response from daemon: Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed'
  run md rename nosuch x
  assert_failure 1
  assert_line --index 0 'Error response from daemon: No such container: nosuch'
  # The old name is free again.
  md create --name old --network none busybox true >/dev/null
}
