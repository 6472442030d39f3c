#!/usr/bin/env bats
# shellcheck disable=SC2016  # the shell inside the container expands these
# The engine's containers (final/engine, final/exec, final/monitor) through Docker's verbs: run,
# create, start, ps, logs, wait, stop, kill, rm, inspect. Each test has an engine root of its own
# with the busybox image; what a container did is proven from inside it.
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

@test "engine: run --rm prints the container's stdout and stderr and exits with its code" {
  run md run --rm --network none busybox sh -c 'echo out; echo err >&2; exit 3'
  assert_failure 3
  assert_line out
  assert_line err
  # --rm: nothing of the container is left once the CLI has exited.
  [[ -z $(ls -A "$ROOT/containers") ]]
  [[ $(mounts_matching "^$ROOT") -eq 0 ]]
}

@test "engine: run --rm's root is a volatile overlay (no sync at its unmount); a kept one's is not" {
  # What the container's own mount table says of its /: overlay shows fsync=volatile.
  run md run --rm --network none busybox sh -c 'grep " / / " /proc/self/mountinfo'
  assert_success
  assert_output --partial " - overlay overlay "
  assert_output --partial "fsync=volatile"
  run md run --name kept --network none busybox sh -c 'grep " / / " /proc/self/mountinfo'
  assert_success
  assert_output --partial " - overlay overlay "
  refute_output --partial "volatile"
  md rm kept >/dev/null
  [[ -z $(ls -A "$ROOT/containers") ]]
  [[ $(mounts_matching "^$ROOT") -eq 0 ]]
}

@test "engine: exit codes 125 (engine), 126 (cannot invoke), 127 (not found)" {
  run md run --rm --network none nosuchimage true
  assert_failure 125
  assert_output "Error: No such image: nosuchimage"
  run md run --rm --network none busybox /etc/passwd
  assert_failure 126
  run -127 md run --rm --network none busybox nosuchcommand
  assert_failure 127
  assert_output --partial 'nosuchcommand'
  run -127 md run --rm --network none busybox /bin/nosuch
  assert_failure 127
  [[ -z $(ls -A "$ROOT/containers") ]]
}

@test "engine: -e, --env-file, -w, -u, --hostname and --entrypoint are seen inside" {
  printf 'FROMFILE=yes\n# a comment\n\n' >"$BATS_TEST_TMPDIR/env"
  run md run --rm --network none -e A=1 --env-file "$BATS_TEST_TMPDIR/env" -w /tmp -u 1000:1000 \
    --hostname boxy busybox sh -c 'echo "$A $FROMFILE $(pwd) $(id -u):$(id -g) $(hostname) $HOSTNAME"'
  assert_success
  assert_output "1 yes /tmp 1000:1000 boxy boxy"
  run md run --rm --network none -u nobody busybox id -un
  assert_output nobody
  run md run --rm --network none --entrypoint /bin/echo busybox from entrypoint
  assert_output "from entrypoint"
}

@test "engine: every word after the image is the container's, even one of run's own options" {
  # Docker's CLI reads options up to the image and none after it: -c after it is the shell's, not
  # --cpu-shares.
  run md run --rm --network none --entrypoint /bin/sh busybox -c 'echo "$0 $1"' a b
  assert_success
  assert_output "a b"
  # An option of run's right after the image is the command itself: programs named -c, -d, -e,
  # --help, ... (args_image) print the name they ran by and their arguments.
  args_image argsbox
  local word
  for word in -c -d -e -i -it --help --rm --; do
    run md run --rm --network none argsbox "$word" -e A=1 --cpu-shares 512
    assert_success
    assert_output "[$word][-e][A=1][--cpu-shares][512]"
  done
  # create: the same words recorded as the container's Cmd, started later.
  md create --name made --network none --entrypoint /bin/sh busybox -c 'echo "$0 $1"' a b >/dev/null
  [[ $(md inspect made | jq -c '.[0].Config.Cmd') == '["-c","echo \"$0 $1\"","a","b"]' ]] ||
    fail "Cmd: $(md inspect made | jq -c '.[0].Config.Cmd')"
  run md start -a made
  assert_success
  assert_output "a b"
  # Options before the image are still run's, in every spelling; "--" there only ends them.
  run md run --name opts --network none -e A=1 -c 256 --pids-limit=50 -dit busybox sh
  assert_success
  run md inspect opts
  [[ $(jq -c '.[0] | [.HostConfig.CpuShares, .HostConfig.PidsLimit, .Config.Env, .Config.Cmd,
    .Config.Tty, .Config.OpenStdin]' <<<"$output") == '[256,50,["A=1"],["sh"],true,true]' ]] || fail "$output"
  md rm -f opts >/dev/null
  run md run --rm --network none -e A=1 --cpu-shares 512 -- busybox sh -c 'echo "$A $1"' sh -e
  assert_success
  assert_output "1 -e"
  # An option that is not run's, before the image, is refused; after it, it is the command's.
  run md run --rm --network none --nosuch busybox true
  assert_failure 125
  assert_output "unknown flag: --nosuch
See 'minidocker run --help'."
  run -127 md run --rm --network none busybox --nosuch
  assert_failure 127
  assert_output --partial '"--nosuch"'
}

@test "engine: --memory OOM-kills with 137 and State.OOMKilled" {
  run md run --name oom --network none -m 8m --memory-swap 8m busybox \
    sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived'
  assert_failure 137
  refute_output --partial survived
  [[ $(md inspect oom | jq -r '.[0].State.OOMKilled') == true ]]
  [[ $(md inspect oom | jq -r '.[0].State.ExitCode') == 137 ]]
  [[ $(md inspect oom | jq -r '.[0].HostConfig.Memory') == 8388608 ]]
}

@test "engine: --pids-limit stops a fork" {
  run md run --rm --network none --pids-limit 3 busybox \
    sh -c 'sleep 5 & sleep 5 & sleep 5 & echo forked all'
  refute_output --partial "forked all"
  assert_output --partial "can't fork"
}

@test "engine: run -d, then logs after the CLI has exited; --tail, -t, wait" {
  run md run -d --name bg --network none busybox sh -c 'for i in 1 2 3; do echo line $i; done; echo oops >&2; exit 5'
  assert_success
  assert_output --regexp '^[0-9a-f]{64}$'
  run md wait bg
  assert_output 5
  run md logs bg
  assert_output "line 1
line 2
line 3
oops"
  run md logs --tail 2 bg
  assert_output "line 3
oops"
  run md logs -t --tail 1 bg
  assert_output --regexp '^20[0-9-]+T[0-9:.]+Z oops$'
  # -f follows a running container until it exits.
  md run -d --name slow --network none busybox sh -c 'echo first; sleep 1; echo second' >/dev/null
  run md logs -f slow
  assert_output "first
second"
  # The log is Docker's json-file format.
  head -1 "$(container_dir bg)"/*-json.log | jq -e '.stream == "stdout" and .log == "line 1\n"'
}

@test "engine: ps shows Docker's columns and tells the truth after the monitor is SIGKILLed" {
  md run -d --name sleeper --network none busybox sleep 100 >/dev/null
  md create --name fresh --network none busybox true >/dev/null
  run md ps
  assert_line --index 0 --regexp '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$'
  assert_line --index 1 --regexp '^[0-9a-f]{12} +busybox +"sleep 100" +(Less than a second|[0-9]+ seconds?) ago +Up .* +sleeper$'
  [[ ${#lines[@]} -eq 2 ]]
  run md ps -a
  assert_line --regexp ' Created +fresh$'
  monitor=$(jq -r .MonitorPid "$(container_dir sleeper)/state.json")
  init=$(md inspect sleeper | jq -r '.[0].State.Pid')
  [[ $(cat /proc/"$init"/comm) == sleep ]]
  kill -9 "$monitor"
  run md ps -a
  assert_line --regexp ' Exited \(137\) .* sleeper$'
  # The container went with its monitor: nobody would have logged it or recorded its exit.
  # (a zombie at most: PID 1 of this machine reaps it when it gets to it)
  [[ ! -e /proc/$init || $(awk '{print $3}' "/proc/$init/stat") == Z ]]
  [[ $(md inspect sleeper | jq -r '.[0].State.Error') == "the container's monitor died" ]]
}

@test "engine: stop -t 2 of a process that ignores SIGTERM takes about 2 s and ends 137" {
  md run -d --name stubborn --network none busybox sh -c 'trap "" TERM; while true; do sleep 0.1; done' >/dev/null
  start=$(date +%s%N)
  run md stop -t 2 stubborn
  assert_output stubborn
  elapsed_ms=$((($(date +%s%N) - start) / 1000000))
  ((elapsed_ms >= 1900 && elapsed_ms < 4000))
  run md ps -a
  assert_line --regexp ' Exited \(137\) .* stubborn$'
  # A process that honours SIGTERM stops at once with its own code.
  md run -d --name polite --network none busybox sh -c 'trap "exit 7" TERM; while true; do sleep 0.1; done' >/dev/null
  sleep 0.3
  md stop -t 5 polite
  [[ $(md inspect polite | jq -r '.[0].State.ExitCode') == 7 ]]
  run md kill polite
  assert_failure 1
  assert_output --partial "is not running"
}

@test "engine: rm -f removes the mount, the cgroup and the state" {
  id=$(md run -d --name gone --network none -m 64m busybox sleep 100)
  findmnt -rn -o TARGET | grep -q "$id/merged"
  cg=$(find /sys/fs/cgroup -maxdepth 4 -type d -name "$id" | head -1)
  [[ -n $cg ]]
  run md rm gone
  assert_failure 1
  assert_output --partial "container is running"
  run md rm -f gone
  assert_output gone
  [[ $(mounts_matching "$id") -eq 0 ]]
  [[ -z $(find /sys/fs/cgroup -maxdepth 4 -type d -name "$id") ]]
  [[ ! -e $ROOT/containers/$id ]]
  [[ -z $(find "$ROOT/run/minidocker" -mindepth 1 -maxdepth 1 ! -name '@*') ]]
  run md rm gone
  assert_failure 1
  assert_output "Error: No such container: gone"
}

@test "engine: a taken name is refused with Docker's message; rmi refuses an image in use" {
  id=$(md create --name taken --network none busybox true)
  run md create --name taken --network none busybox true
  assert_failure 125
  assert_output "Error: Conflict. The container name \"/taken\" is already in use by container \"$id\". You have to remove (or rename) that container to be able to reuse that name."
  [[ $(find "$ROOT/containers" -mindepth 1 -maxdepth 1 | wc -l) -eq 1 ]]
  run md rmi busybox
  assert_failure 1
  assert_output --partial "container ${id:0:12} is using its referenced image"
  md start -a taken
  run md inspect taken
  [[ $(jq -r '.[0].Name' <<<"$output") == /taken ]]
  [[ $(jq -r '.[0].State.Status' <<<"$output") == exited ]]
}

@test "engine: bad input is one line, 125, and nothing is left" {
  for args in "-m 1k" "--privileged" "--cpus 0" "--cpus 1000" "--network nosuch" "--cpu-shares 1" "-u nosuchuser" "--memory-swap 10m"; do
    # shellcheck disable=SC2086
    run md run --rm --network none $args busybox true
    [[ $args != "--network nosuch" ]] || run md run --rm --network nosuch busybox true
    assert_failure 125
    [[ ${#lines[@]} -eq 1 ]] || fail "$args: $output"
    [[ $output == Error:* ]]
  done
  [[ -z $(ls -A "$ROOT/containers") ]]
  [[ $(mounts_matching "^$ROOT") -eq 0 ]]
}

@test "engine: --network none has only lo; host shares the host's links" {
  run md run --rm --network none busybox ls /sys/class/net
  assert_output lo
  run md run --rm --network host busybox ls /sys/class/net
  [[ ${#lines[@]} -eq $(find /sys/class/net -mindepth 1 -maxdepth 1 | wc -l) ]]
}

@test "engine: --read-only and --cap-drop hold inside" {
  run md run --rm --network none --read-only busybox touch /x
  assert_failure
  assert_output --partial "Read-only file system"
  run md run --rm --network none --cap-drop CHOWN busybox chown 1 /etc/passwd
  assert_failure
  run md run --rm --network none busybox chown 1 /etc/passwd
  assert_success
}

@test "engine: -i forwards stdin" {
  run bash -c "echo through stdin | '$MINIDOCKER' --root '$ROOT' run --rm -i --network none busybox cat"
  assert_success
  assert_output "through stdin"
}

@test "engine: --runtime runc gives the same results" {
  requires cmd:runc
  run md run --rm --runtime runc --network none -e A=1 -w /tmp -u 1000:1000 --hostname boxy busybox \
    sh -c 'echo "$A $(pwd) $(id -u):$(id -g) $(hostname)"; exit 4'
  assert_failure 4
  assert_output "1 /tmp 1000:1000 boxy"
  run -127 md run --rm --runtime runc --network none busybox nosuchcommand
  assert_failure 127
  run md run --name oomr --runtime runc --network none -m 8m --memory-swap 8m busybox \
    sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a)'
  assert_failure 137
  [[ $(md inspect oomr | jq -r '.[0].State.OOMKilled') == true ]]
  md run -d --name r --runtime runc --network none busybox sleep 100 >/dev/null
  run md ps
  assert_line --regexp ' Up .* r$'
  md rm -f r oomr
  [[ -z $(ls -A "$ROOT/containers") ]]
}

@test "engine: --explain narrates the run path with its lessons" {
  run md --explain run --rm --network none busybox true
  assert_success
  assert_line --partial "[lesson 05] mount(\"overlay\""
  assert_line --partial "[lesson 04] the container's cgroup /minidocker/"
  assert_line --partial "[lesson 02] start"
  assert_line --partial "[engine] record the container"
  assert_line --partial "[monitor] start the monitor"
}

@test "engine: a signal to a foreground run goes on to the container (Docker's --sig-proxy)" {
  "$MINIDOCKER" --root "$ROOT" run --rm --network none busybox \
    sh -c 'trap "echo got TERM; exit 9" TERM; echo up; while true; do sleep 0.1; done' \
    >"$BATS_TEST_TMPDIR/out" &
  cli=$!
  for _ in $(seq 50); do
    grep -q up "$BATS_TEST_TMPDIR/out" && break
    sleep 0.1
  done
  kill -TERM "$cli"
  rc=0
  wait "$cli" || rc=$?
  ((rc == 9))
  grep -q "got TERM" "$BATS_TEST_TMPDIR/out"
}

@test "engine: 20 run -d at once get 20 names and cgroups; 20 rm -f at once leave nothing" {
  for _ in $(seq 20); do
    md run -d --network none busybox sleep 100 >/dev/null &
  done
  wait
  run md ps
  [[ ${#lines[@]} -eq 21 ]]
  names=$(md ps | tail -n +2 | awk '{print $NF}' | sort -u | wc -l)
  ((names == 20))
  for id in $(md ps -q); do
    [[ -n $(find /sys/fs/cgroup -maxdepth 4 -type d -name "$id*") ]]
  done
  for id in $(md ps -aq); do
    md rm -f "$id" >/dev/null &
  done
  wait
  [[ -z $(md ps -aq) ]]
  [[ -z $(ls -A "$ROOT/containers") ]]
  [[ $(mounts_matching "^$ROOT") -eq 0 ]]
  [[ -z $(pgrep -f "minidocker-monitor $ROOT") ]]
}
