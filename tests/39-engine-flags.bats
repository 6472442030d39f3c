#!/usr/bin/env bats
# shellcheck disable=SC2016  # the shell inside the container expands these
# run/create flags whose meaning is Docker's default or Docker's helper (final/engine/flags.cpp):
# --memory's default swap (memory + swap = 2 x memory) and --memory-swap, read back from the
# container's cgroup files; --init (Debian's tini bound at /sbin/docker-init as PID 1), proven
# from inside. Each with our runtime and with runc where the runtime is what does it. And the
# command line as pflag reads it under Docker's CLI: an option given twice takes its last value,
# a letter's value may follow '=' (-c=512), and a flag no verb has, a flag without its value or
# with a value it refuses are refused in pflag's words with Docker's "See" line and exit 125;
# with the flags fine, a wrong count of words is refused as cobra's Args check refuses it under
# Docker's CLI (cli/required.go), with exit 1: the same lines as Docker 20.10's client prints.
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
  # The bind's mount point, made by the runtime in the rw layer.
  run md diff t
  assert_output $'C /sbin\nA /sbin/docker-init'
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

# Polls (up to 30 s) until FILE holds at least N frames of the stats stream (each starts with the
# cursor-home sequence ESC [ H).
wait_frames() {
  local file=$1 n=$2 _
  for _ in $(seq 300); do
    (($(grep -o $'\e\\[H' "$file" | wc -l) >= n)) && return 0
    sleep 0.1
  done
  fail "stats drew fewer than $n frames in 30 s: $(cat -v "$file")"
}

# The last frame of the stream, one line each, without the escape sequences.
last_frame() {
  local text
  text=$(cat "$1")
  text=${text##*$'\e[H'}
  sed -e $'s/\e\\[K$//' -e $'s/\e\\[J//' <<<"$text" | sed '/^$/d'
}

@test "flags: stats without --no-stream redraws Docker's table every second; Ctrl-C ends it with 0" {
  md run -d --name live --network none busybox sleep 1000 >/dev/null
  local out="$BATS_TEST_TMPDIR/stats.out" pid status=0
  "$MINIDOCKER" --root "$ROOT" stats >"$out" 2>&1 3>&- &
  pid=$!
  wait_frames "$out" 2
  kill -INT "$pid"
  wait "$pid" || status=$?
  [[ $status -eq 0 ]] || fail "stats ended with $status after SIGINT"
  # Each frame: cursor home, the table with erase-to-end-of-line after each line, erase below.
  grep -qE $'^\e\\[HCONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS\e\\[K$' "$out" ||
    fail "no frame header: $(cat -v "$out")"
  run last_frame "$out"
  assert_line --index 1 --regexp '^[0-9a-f]{12} +live +[0-9]+\.[0-9]{2}% +'
}

@test "flags: a named container that exits stays in the stream with dashes; unnamed, it leaves" {
  md run -d --name named --network none busybox sleep 1000 >/dev/null
  md run -d --name other --network none busybox sleep 1000 >/dev/null
  local named="$BATS_TEST_TMPDIR/named.out" all="$BATS_TEST_TMPDIR/all.out" p1 p2 n1 n2 _ s1=0 s2=0
  "$MINIDOCKER" --root "$ROOT" stats named >"$named" 2>&1 3>&- &
  p1=$!
  "$MINIDOCKER" --root "$ROOT" stats >"$all" 2>&1 3>&- &
  p2=$!
  wait_frames "$named" 1
  wait_frames "$all" 1
  last_frame "$all" | grep -q ' named ' || fail "named not in the table: $(last_frame "$all")"
  md kill named >/dev/null
  md wait named >/dev/null
  # Frames drawn from now on see it exited.
  n1=$(grep -o $'\e\\[H' "$named" | wc -l)
  n2=$(grep -o $'\e\\[H' "$all" | wc -l)
  wait_frames "$named" $((n1 + 2))
  wait_frames "$all" $((n2 + 2))
  kill -INT "$p1" "$p2"
  wait "$p1" || s1=$?
  wait "$p2" || s2=$?
  [[ $s1 -eq 0 && $s2 -eq 0 ]] || fail "exit codes $s1 $s2"
  run last_frame "$named"
  assert_line --index 1 --regexp '^[0-9a-f]{12} +named +-- +-- / -- +-- +-- +-- +--$'
  run last_frame "$all"
  refute_output --partial ' named '
  assert_line --index 1 --regexp '^[0-9a-f]{12} +other '
}

@test "flags: an option given twice takes its last value (pflag); a list option keeps every value" {
  # The last -c is the container's cgroup weight, read from inside: not the first, not 1024.
  run md run --rm --network none -c 512 --cpu-shares 256 -e A=1 -e B=2 busybox \
    sh -c 'cat /sys/fs/cgroup/cpu/cpu.shares; echo "$A $B"'
  assert_success
  assert_output $'256\n1 2'
  md create --name twice --network none --cpu-shares=256 -c 512 --cpus 1 --cpus 0.5 \
    -e A=1 -e B=2 -w /tmp -w / busybox true >/dev/null
  run md inspect twice
  [[ $(jq -c '.[0] | [.HostConfig.CpuShares, .HostConfig.NanoCpus, .Config.Env, .Config.WorkingDir]' \
    <<<"$output") == '[512,500000000,["A=1","B=2"],"/"]' ]] || fail "$output"
}

@test "flags: a flag no verb has: pflag's words, Docker's See line, exit 125, nothing made" {
  run md ps --nosuch
  assert_failure 125
  assert_output "unknown flag: --nosuch
See 'minidocker ps --help'."
  run md images --nosuch=1
  assert_failure 125
  assert_output "unknown flag: --nosuch
See 'minidocker images --help'."
  run md image ls -aZ
  assert_failure 125
  assert_output "unknown shorthand flag: 'Z' in -Z
See 'minidocker image ls --help'."
  # pflag read -i, then met Z: it names the rest of the cluster from there.
  run md run --rm --network none -iZ busybox true
  assert_failure 125
  assert_output "unknown shorthand flag: 'Z' in -Z
See 'minidocker run --help'."
  run md create --network none --nosuch busybox true
  assert_failure 125
  assert_output "unknown flag: --nosuch
See 'minidocker create --help'."
  # Before the verb, minidocker's own flags were being read; Docker 20.10 then adds the usage of
  # a command that has verbs of its own (cli/cobra.go's FlagErrorFunc), minidocker's here.
  run md --nosuch ps
  assert_failure 125
  assert_output "unknown flag: --nosuch
See 'minidocker --help'.

$(md --help)"
  run md image --nosuch ls
  assert_failure 125
  assert_output "unknown flag: --nosuch
See 'minidocker image --help'.

$(md image --help)"
  [[ -z $(md ps -aq) ]]
}

@test "flags: a letter's value after '=' is the value, as pflag reads it (-c=2048 is 2048)" {
  # Read back from inside: the cgroup weight and the variable, not "=512" and "=A=1".
  run md run --rm --network none -c=512 -e=A=1 -w=/tmp -u=1:2 busybox \
    sh -c 'cat /sys/fs/cgroup/cpu/cpu.shares; echo "$A"; pwd; id -u; id -g'
  assert_success
  assert_output $'512\n1\n/tmp\n1\n2'
  md create --name eq --network none -c=2048 -m=64m -e=A=1 busybox true >/dev/null
  run md inspect eq
  [[ $(jq -c '.[0] | [.HostConfig.CpuShares, .HostConfig.Memory, (.Config.Env | map(select(startswith("A="))))]' \
    <<<"$output") == '[2048,67108864,["A=1"]]' ]] || fail "$output"
  # A bool letter takes a value after '=' too: -d=false runs in the foreground.
  run md run --rm --network none -d=false busybox echo in the foreground
  assert_success
  assert_output "in the foreground"
  # And every verb: exec's -u and -w.
  md run -d --name up --network none busybox sleep 1000 >/dev/null
  run md exec -u=3:4 -w=/etc up sh -c 'id -u; id -g; pwd'
  assert_success
  assert_output $'3\n4\n/etc'
}

@test "flags: no value, or one the flag refuses: pflag's words, Docker's See line, exit 125, nothing made" {
  run md run --network none --cpus
  assert_failure 125
  assert_output "flag needs an argument: --cpus
See 'minidocker run --help'."
  run md run --network none -dc
  assert_failure 125
  assert_output "flag needs an argument: 'c' in -c
See 'minidocker run --help'."
  run md exec -u
  assert_failure 125
  assert_output "flag needs an argument: 'u' in -u
See 'minidocker exec --help'."
  run md stop --time
  assert_failure 125
  assert_output "flag needs an argument: --time
See 'minidocker stop --help'."
  # minidocker's own flag, before any verb: its usage follows, as Docker 20.10's does.
  run md --host
  assert_failure 125
  assert_output "flag needs an argument: --host
See 'minidocker --help'.

$(md --help)"
  run md run --network none --cpus abc busybox true
  assert_failure 125
  assert_output "invalid argument \"abc\" for \"--cpus\" flag: failed to parse abc as a rational number
See 'minidocker run --help'."
  # pflag takes the word after --cpus as its value, the image too.
  run md run --network none --cpus busybox true
  assert_failure 125
  assert_output "invalid argument \"busybox\" for \"--cpus\" flag: failed to parse busybox as a rational number
See 'minidocker run --help'."
  run md create --network none --memory xyz busybox true
  assert_failure 125
  assert_output "invalid argument \"xyz\" for \"-m, --memory\" flag: invalid size: 'xyz'
See 'minidocker create --help'."
  run md run --network none -c notanumber busybox true
  assert_failure 125
  assert_output "invalid argument \"notanumber\" for \"-c, --cpu-shares\" flag: give a whole number
See 'minidocker run --help'."
  run md run --network none -c=x busybox true
  assert_failure 125
  assert_output "invalid argument \"x\" for \"-c, --cpu-shares\" flag: give a whole number
See 'minidocker run --help'."
  run md run --network none --pids-limit x busybox true
  assert_failure 125
  assert_output "invalid argument \"x\" for \"--pids-limit\" flag: give a whole number
See 'minidocker run --help'."
  run md run --network none -d=x busybox true
  assert_failure 125
  assert_output "invalid argument \"x\" for \"-d, --detach\" flag: give true or false
See 'minidocker run --help'."
  run md stop -t x c1
  assert_failure 125
  assert_output "invalid argument \"x\" for \"-t, --time\" flag: give a whole number
See 'minidocker stop --help'."
  # The first flag in the order of the words is the one named, as pflag reads them.
  run md run --network none --memory xyz --cpus abc --nosuch busybox true
  assert_failure 125
  assert_output "invalid argument \"xyz\" for \"-m, --memory\" flag: invalid size: 'xyz'
See 'minidocker run --help'."
  [[ -z $(md ps -aq) ]]
}

@test "args: a wrong count of words: Docker's lines, exit 1, nothing made" {
  local images
  images=$(md images -q)
  run md run
  assert_failure 1
  assert_output "\"minidocker run\" requires at least 1 argument.
See 'minidocker run --help'.

Usage:  minidocker run [OPTIONS] IMAGE [COMMAND] [ARG...]

Run a command in a new container"
  # Flags alone are no image: run's flags were read, its words counted.
  run md run -d --network none --name made
  assert_failure 1
  assert_line --index 0 "\"minidocker run\" requires at least 1 argument."
  run md rm
  assert_failure 1
  assert_output "\"minidocker rm\" requires at least 1 argument.
See 'minidocker rm --help'.

Usage:  minidocker rm [OPTIONS] CONTAINER [CONTAINER...]

Remove one or more containers"
  run md ps x
  assert_failure 1
  assert_output "\"minidocker ps\" accepts no arguments.
See 'minidocker ps --help'.

Usage:  minidocker ps [OPTIONS]

List containers"
  run md tag a
  assert_failure 1
  assert_output "\"minidocker tag\" requires exactly 2 arguments.
See 'minidocker tag --help'.

Usage:  minidocker tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]

Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"
  run md exec c
  assert_failure 1
  assert_output "\"minidocker exec\" requires at least 2 arguments.
See 'minidocker exec --help'.

Usage:  minidocker exec [OPTIONS] CONTAINER COMMAND [ARG...]

Run a command in a running container"
  run md network connect x
  assert_failure 1
  assert_output "\"minidocker network connect\" requires exactly 2 arguments.
See 'minidocker network connect --help'.

Usage:  minidocker network connect [OPTIONS] NETWORK CONTAINER

Connect a container to a network"
  # Docker names the verb by its name, not by the alias typed.
  run md image list a b
  assert_failure 1
  assert_output "\"minidocker image ls\" requires at most 1 argument.
See 'minidocker image ls --help'.

Usage:  minidocker image ls [OPTIONS] [REPOSITORY[:TAG]]

List images"
  run md commit
  assert_failure 1
  assert_output "\"minidocker commit\" requires at least 1 and at most 2 arguments.
See 'minidocker commit --help'.

Usage:  minidocker commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]

Create a new image from a container's changes"
  run md volume create a b
  assert_failure 1
  assert_line --index 0 "\"minidocker volume create\" requires at most 1 argument."
  # Nothing was created: no container, no image or tag, no volume.
  [[ -z $(md ps -aq) ]]
  [[ $(md images -q) == "$images" ]]
  [[ -z $(md volume ls -q) ]]
}

@test "args: flags are read first: a flag error is the error (exit 125), --help the help" {
  run md ps --nosuch x
  assert_failure 125
  assert_output "unknown flag: --nosuch
See 'minidocker ps --help'."
  run md stop --time
  assert_failure 125
  assert_output "flag needs an argument: --time
See 'minidocker stop --help'."
  run md tag --help
  assert_success
  assert_line "Usage:  minidocker tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]"
  # After "--" every word is the verb's, even one that looks like a flag.
  run md ps -a -- -q
  assert_failure 1
  assert_line --index 0 "\"minidocker ps\" accepts no arguments."
  # A word that names no verb: minidocker's own words, or a group's usage, exit 1.
  run md nosuch
  assert_failure 1
  assert_output "minidocker: 'nosuch' is not a minidocker command.
See 'minidocker --help'"
  run md network nosuch
  assert_failure 1
  assert_output "
$(md network --help)"
  # --version (or -v) with no verb: Docker's one line ("Docker version 20.10.24, build 297e128");
  # before a verb it is a flag that verb does not have.
  run md --version
  assert_success
  assert_output --regexp '^minidocker version [0-9]+\.[0-9]+\.[0-9]+, build [a-z0-9]+$'
  local line=$output
  run md -v
  assert_output "$line"
  # the version `minidocker version` shows for the client
  [[ $line == "minidocker version $(md version | awk '/^ Version:/ { print $2; exit }'),"* ]]
  run md --version ps
  assert_failure 125
  assert_line --index 0 "unknown flag: --version"
  [[ -z $(md ps -aq) ]]
}

@test "args: the same lines as Docker 20.10's client prints, for every verb" {
  local docker="$PROJECT_DIR/build/docker-cli/docker" line want want_status compared=0
  [[ -x $docker ]] || fail "no $docker: run make deps (scripts/install-deps.sh unpacks it)"
  # These errors come before the client would talk to any daemon; it is given a socket no one
  # listens on all the same, and a config directory of the test's own.
  export DOCKER_HOST="unix://$BATS_TEST_TMPDIR/nobody.sock" DOCKER_CONFIG="$BATS_TEST_TMPDIR/docker-config"
  while read -r line; do
    want_status=0
    # shellcheck disable=SC2086  # the words of the line
    want=$("$docker" $line 2>&1 </dev/null) || want_status=$?
    [[ $want_status != 0 ]] || fail "docker $line succeeded"
    # shellcheck disable=SC2086
    run md $line </dev/null
    compared=$((compared + 1))
    [[ $status == "$want_status" && $output == "${want//docker/minidocker}" ]] ||
      fail "$line: docker says (exit $want_status)
${want//docker/minidocker}
minidocker says (exit $status)
$output"
  done <<'EOF'
run
create --name x
start
ps x
container ls x
logs a b
wait
stop -t 1
kill
rm
inspect
container inspect
port a 80 x
container prune x
attach
restart
exec -it c
container exec c
top
pause
unpause
rename a
cp a
diff
commit c r x
build
images a b
tag a b c
rmi
image rm
history
image inspect
image prune x
import
load x
save
pull
push
image pull
network create
network ls x
network rm
network inspect
network connect x
network disconnect -f x
network prune x
volume create a b
volume ls x
volume rm
volume inspect
system df x
system prune x
version x
info x
nosuch
EOF
  # Every line was compared: nothing read the list as its stdin.
  [[ $compared == 55 ]] || fail "compared $compared lines"
  [[ -z $(md ps -aq) ]]
}
