#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031  # DAEMON_PID: set and read within a test
# shellcheck disable=SC2016  # eval'd conditions: expanded when they run
# shellcheck disable=SC2034  # DAEMON_PID, SOCK, DAEMON_LOG: read by daemon.bash
# --restart no|always|unless-stopped|on-failure[:N] (final/engine/restart.hpp): the container's
# monitor becomes `minidocker container _restart ID` after an exit, which decides as Docker's
# restart manager does, waits out the back-off (100 ms, doubled each time) and starts the
# container again. stop, kill and rm end a policy; a start by the user begins a new count.
# Every container runs with --network none.
load helpers
load engine
load daemon
bats_require_minimum_version 1.5.0

setup() {
  requires root rootfs overlay
  engine_setup
  DAEMON_PID=
}

teardown() {
  daemon_stop
  engine_teardown
}

# until SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds (then 0) or SECONDS pass.
until_true() {
  local tries=$(($1 * 10)) _
  shift
  for _ in $(seq "$tries"); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

state() { md inspect "$1" | jq -r ".[0].$2"; }
restarts_at_least() { (($(state "$1" RestartCount) >= $2)); }
# Exited, and no restart waiting: the policy has said its last word.
settled() { [[ $(state "$1" State.Status) == exited ]]; }
restarter_of() { pgrep -f "container _restart $(state "$1" Id)" || true; }

@test "restart: on-failure:2 runs a failing command three times, then the container stays exited" {
  md run -d --name f --network none --restart on-failure:2 busybox sh -c 'echo ran; exit 3' \
    >/dev/null
  until_true 20 restarts_at_least f 2
  until_true 20 settled f
  [[ $(state f RestartCount) == 2 ]]
  [[ $(state f State.ExitCode) == 3 ]]
  run md logs f
  assert_output $'ran\nran\nran'
  run state f HostConfig.RestartPolicy
  assert_output --partial '"Name": "on-failure"'
  assert_output --partial '"MaximumRetryCount": 2'
  # exit 0 is not a failure: never restarted
  md run -d --name ok --network none --restart on-failure busybox true >/dev/null
  until_true 10 settled ok
  [[ -z $(restarter_of ok) ]] || until_true 10 eval '[[ -z $(restarter_of ok) ]]'
  [[ $(state ok RestartCount) == 0 ]]
}

@test "restart: always comes back after exit 0; ps shows Restarting; stop ends it; start counts anew" {
  md run -d --name a --network none --restart always busybox sh -c 'echo up; sleep 0.3' >/dev/null
  until_true 30 restarts_at_least a 3
  run md ps
  assert_success
  assert_output --regexp ' (Up .*|Restarting \(0\) .*) +a$'
  md stop a >/dev/null
  [[ $(state a State.Status) == exited ]]
  [[ $(state a State.Restarting) == false ]]
  [[ -z $(restarter_of a) ]]
  count=$(state a RestartCount)
  [[ -z $(md ps -q) ]]
  # stopped stays stopped: the monitor's exit and the policy's process are both done
  until_true 10 eval '[[ -z $(pgrep -f "minidocker-monitor .*$(state a Id)") ]]'
  [[ $(state a State.Status) == exited && $(state a RestartCount) == "$count" ]]
  md start a >/dev/null
  run state a RestartCount
  assert_output 0
  until_true 30 restarts_at_least a 1
  md rm -f a >/dev/null
}

@test "restart: kill (SIGKILL) is a stop by the user: unless-stopped does not come back" {
  md run -d --name k --network none --restart unless-stopped busybox sleep 1000 >/dev/null
  pid=$(state k State.Pid)
  md kill k >/dev/null
  until_true 10 settled k
  # the monitor (which becomes the policy's process) ends without starting it again
  until_true 10 eval '[[ -z $(pgrep -f "minidocker-monitor .*$(state k Id)") ]]'
  [[ -z $(restarter_of k) ]]
  [[ $(state k State.Status) == exited ]]
  [[ $(state k State.ExitCode) == 137 ]]
  [[ $(state k RestartCount) == 0 ]]
  run kill -0 "$pid"
  assert_failure
}

@test "restart: a container waiting out its back-off is restarting; rm refuses it, rm -f ends it" {
  md run -d --name r --network none --restart always busybox sh -c 'exit 1' >/dev/null
  # after 5 restarts the back-off is 1.6 s and more: long enough to look at
  until_true 30 restarts_at_least r 5
  until_true 10 eval '[[ $(state r State.Restarting) == true ]]'
  run md ps
  assert_output --regexp ' Restarting \(1\) .* ago +r$'
  [[ $(state r State.Status) == restarting ]]
  [[ $(state r State.Running) == true ]]
  id=$(state r Id)
  run md rm r
  assert_failure
  assert_output --partial 'cannot remove container "/r": container is restarting: stop the container before removing or force remove'
  run md kill r
  assert_failure
  assert_output --partial "is restarting, wait until the container is running"
  md rm -f r >/dev/null
  [[ -z $(pgrep -f "$id") ]]
  [[ ! -e $ROOT/containers/$id ]]
}

@test "restart: a foreground run returns the exit code at once, and the policy restarts it after" {
  run md run --name fg --network none --restart on-failure:1 busybox sh -c 'exit 5'
  assert_failure 5
  until_true 20 restarts_at_least fg 1
  until_true 20 settled fg
  [[ $(state fg RestartCount) == 1 ]]
}

@test "restart: bad policies are refused with Docker's words, exit 125, nothing made" {
  run md run --network none --restart foo busybox true
  assert_failure 125
  assert_output "Error: invalid restart policy 'foo'"
  run md run --network none --restart always:3 busybox true
  assert_failure 125
  assert_output "Error: maximum retry count cannot be used with restart policy 'always'"
  run md create --restart on-failure:x busybox true
  assert_failure 125
  assert_output "Error: invalid restart policy format: maximum retry count must be an integer"
  run md create --restart on-failure:-1 busybox true
  assert_failure 125
  assert_output "Error: maximum retry count cannot be negative"
  run md run --rm --restart always busybox true
  assert_failure 125
  assert_output "Error: Conflicting options: --restart and --rm"
  [[ -z $(md ps -aq) ]]
}

@test "restart: the docker client's --restart through our daemon" {
  [[ -x $DOCKER ]] || fail "no $DOCKER: run make deps"
  SOCK="$BATS_TEST_TMPDIR/minidocker.sock"
  DAEMON_LOG="$BATS_TEST_TMPDIR/daemon.log"
  daemon_start
  docker run -d --name d --network none --restart on-failure:1 busybox sh -c 'exit 2' >/dev/null
  until_true 20 restarts_at_least d 1
  until_true 20 settled d
  run docker inspect -f '{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.RestartCount}} {{.State.ExitCode}}' d
  assert_output "on-failure:1 1 2"
  run docker run --rm --restart always busybox true
  assert_failure 125
  assert_output --partial "Conflicting options: --restart and --rm"
  docker rm d >/dev/null
}
