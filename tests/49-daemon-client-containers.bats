#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031  # DAEMON_PID: set and read within each test
# shellcheck disable=SC2154  # $stderr: set by `run --separate-stderr`
# shellcheck disable=SC2016  # the container's shell expands what is quoted for it
# Our own CLI as the daemon's client for the rest of the container verbs (after tests/46):
# run -t / -it (the client's terminal raw, the window size sent as POST /containers/{id}/resize,
# the raw stream, Ctrl-P Ctrl-Q), exec -t / -it, start -a / -a -i, attach, restart, wait, pause,
# unpause, top, stats --no-stream, rename, port, cp (both ways, through the archive routes), diff,
# container prune, and the run flags the client sends (--env-file read by the client, --mount as
# HostConfig.Mounts, -w, -u, --entrypoint, ...). Each is compared with the CLI doing the job
# itself on the same engine root (`md`), through the daemon (`mdh`): same stdout, stderr, exit
# code; and what the container sees is checked from inside it. A terminal comes from
# tests/tools/pty-drive.py (the client on a pty of its own, typed into). Every container runs
# with --network none; teardown stops the daemon and removes every container.
load helpers
load engine
load daemon
bats_require_minimum_version 1.5.0

setup() {
  requires cmd:/usr/bin/python3
  daemon_setup
  DRIVE="$PROJECT_DIR/tests/tools/pty-drive.py"
}

teardown() {
  daemon_teardown
}

# drive ROWS COLS STEP... -- client|in_process ARGS: `minidocker ARGS` on a pty (pty-drive.py),
# through the daemon (-H) or doing the job itself (--root).
drive() {
  local args=()
  while [[ $1 != -- ]]; do
    args+=("$1")
    shift
  done
  local how=$2
  shift 2
  if [[ $how == client ]]; then
    set -- -H "unix://$SOCK" "$@"
  else
    set -- --root "$ROOT" "$@"
  fi
  DOCKER_HOST='' /usr/bin/python3 "$DRIVE" "${args[@]}" -- "$MINIDOCKER" "$@"
}

@test "client: run -t has a pty of the client's window size inside; the same output as in-process" {
  daemon_start
  for how in in_process client; do
    run drive 30 100 'expect:end' wait -- "$how" run --rm -t --network none busybox \
      sh -c 'tty; [ -t 0 ] && [ -t 1 ] && echo stdin-stdout-tty; stty size; echo end; exit 3'
    assert_success
    assert_line --partial "/dev/pts/0"
    assert_line --partial "stdin-stdout-tty"
    # The size is set before the start (POST /containers/{id}/resize on the created container),
    # so the first `stty size` inside already has it.
    assert_line --partial "30 100"
    assert_line "exit: 3"
    eval "out_$how=\$output"
  done
  [[ $out_client == "$out_in_process" ]] || fail "client: $out_client; in-process: $out_in_process"
  grep -q '^POST /v1.41/containers/[0-9a-f]*/resize?h=30&w=100 200' "$DAEMON_LOG"
  # -t without a terminal of ours: the container still has its pty; no resize is sent.
  run --separate-stderr mdh run --rm -t --network none busybox sh -c '[ -t 1 ] && echo pty'
  assert_success
  [[ $output == $'pty\r' ]]
}

@test "client: run -it: typed input, the window size follows ours, Ctrl-C is the container's, exit code" {
  daemon_start
  # The new size reaches the pty through the daemon a moment after our SIGWINCH, as a real
  # terminal's does: the shell waits for it (the typed line never holds the awaited text).
  run drive 30 100 'expect:/ # ' 'send:stty size\r' 'expect:30 100' 'resize:40,120' \
    'send:while [ "$(stty size)" != "40 1""20" ]; do sleep 0.1; done; echo si""ze-$(stty size | tr " " x)\r' \
    'expect:size-40x120' \
    'send:sleep 1234; echo not-inter""rupted\r' 'poll:pgrep -x -f "sleep 1234"' 'send:\x03' \
    'send:echo still""alive\r' 'expect:stillalive' 'send:exit 5\r' wait -- \
    client run --rm -it --network none busybox sh
  assert_success
  assert_line --partial "stillalive"
  refute_line --partial "not-interrupted"
  assert_line "exit: 5"
  grep -q '^POST /v1.41/containers/[0-9a-f]*/resize?h=40&w=120 200' "$DAEMON_LOG"
  # -it with a stdin that is not a terminal: refused before anything is made, as in-process.
  same_through_daemon run --rm -it --network none busybox true </dev/null
  assert_failure 125
  [[ $stderr == "Error: the input device is not a TTY" ]]
  same_through_daemon run --rm --detach-keys ctrl-1 --network none busybox true
  assert_failure 125
  [[ -z $(ls -A "$ROOT/containers") ]]
}

@test "client: Ctrl-P Ctrl-Q detaches from run -it and attach as in-process; attach comes back" {
  daemon_start
  for how in in_process client; do
    run drive 30 100 'expect:/ # ' 'send:echo o""ne\r' 'expect:one' 'send:\x10\x11' wait -- \
      "$how" run -it --name "t-$how" --network none busybox sh
    assert_success
    assert_line "exit: 0"
    wait_status "t-$how" running
  done
  # attach (through the daemon): the same shell, its variable set; the keys again: Docker's line.
  run drive 30 100 raw 'send:X=kept; echo "var=$X"\r' 'expect:var=kept' 'send:\x10\x11' wait -- \
    client attach t-client
  assert_line --partial "read escape sequence"
  assert_line "exit: 1"
  wait_status t-client running
  run drive 30 100 raw 'send:echo "var=$X"; exit 3\r' wait -- client attach t-client
  assert_line --partial "var=kept"
  assert_line "exit: 3"
  wait_status t-client exited
  # attach to a stopped one, or a missing one: the same errors as in-process.
  same_through_daemon attach t-client
  assert_failure 1
  [[ $stderr == "Error: You cannot attach to a stopped container, start it first" ]]
  same_through_daemon attach nosuch
  assert_failure 1
  [[ $stderr == "Error: No such container: nosuch" ]]
}

@test "client: attach without a pty: the frames split to stdout and stderr, our stdin in, the exit code" {
  daemon_start
  md run -d -i --name cat --network none busybox sh -c 'cat; echo bye >&2; exit 4' >/dev/null
  run --separate-stderr bash -c 'printf "one\ntwo\n" | "$0" -H "unix://$1" attach cat' \
    "$MINIDOCKER" "$SOCK"
  assert_failure 4
  assert_output $'one\ntwo'
  [[ $stderr == bye ]]
  # --no-stdin: the container's stdin is not ours; its output still is.
  md run -d -i --name out --network none busybox sh -c 'sleep 1; echo late' >/dev/null
  run --separate-stderr bash -c 'echo ignored | "$0" -H "unix://$1" attach --no-stdin out' \
    "$MINIDOCKER" "$SOCK"
  assert_success
  assert_output late
}

@test "client: start -a and start -a -i as in-process: output, stdin, exit code, a second run" {
  daemon_start
  for who in local remote; do
    md create --name "c-$who" --network none busybox \
      sh -c 'n=$(cat /count 2>/dev/null || echo 0); n=$((n+1)); echo $n >/count; echo "run $n"; echo e >&2; exit $n' \
      >/dev/null
    md create -i --name "i-$who" --network none busybox sh -c 'read x; echo "got $x"; exit 6' \
      >/dev/null
  done
  for n in 1 2; do
    run --separate-stderr md start -a c-local
    local out=$output err=$stderr rc=$status
    # The second start -a of an exited container: its new monitor is made at the attach.
    run --separate-stderr mdh start -a c-remote
    [[ $status == "$rc" && $status == "$n" ]] || fail "start -a: $status, in-process $rc"
    [[ $output == "$out" && $output == "run $n" ]]
    [[ $stderr == "$err" && $stderr == e ]]
  done
  run bash -c 'echo typed | "$0" -H "unix://$1" start -a -i i-remote' "$MINIDOCKER" "$SOCK"
  assert_failure 6
  assert_output "got typed"
  same_through_daemon start -a nosuch
  assert_failure 125
  [[ $stderr == "Error: No such container: nosuch" ]]
  same_through_daemon start -a c-local c-remote
  assert_failure 1
  # A program that cannot be run: start -a tells why, exit 1, both ways.
  md create --name bad-local --network none busybox nosuch >/dev/null
  md create --name bad-remote --network none busybox nosuch >/dev/null
  run --separate-stderr md start -a bad-local
  local err=$stderr rc=$status
  run --separate-stderr mdh start -a bad-remote
  [[ $status == "$rc" && $status == 1 ]]
  [[ ${stderr//bad-remote/X} == "${err//bad-local/X}" ]] || fail "$stderr vs $err"
  # start -a -t: the pty's bytes, of our window's size.
  md create -t --name tty --network none busybox sh -c 'stty size; exit 2' >/dev/null
  run drive 33 90 wait -- client start -a tty
  assert_line --partial "33 90"
  assert_line "exit: 2"
}

@test "client: exec -t and -it: a pty inside of our size, typed input, exit code; exec --env-file" {
  daemon_start
  md run -d --name web --network none busybox sleep 120 >/dev/null
  for how in in_process client; do
    run drive 32 102 wait -- "$how" exec -t web \
      sh -c '[ -t 0 ] && [ -t 1 ] && echo has-a-tty; sleep 0.5; stty size; exit 6'
    assert_success
    assert_line --partial has-a-tty
    assert_line --partial "32 102"
    assert_line "exit: 6"
  done
  grep -q '^POST /v1.41/exec/[0-9a-f]*/resize?h=32&w=102 200' "$DAEMON_LOG"
  run drive 30 100 'expect:/ # ' 'send:echo typ""ed\r' 'expect:typed' 'send:exit 4\r' wait -- \
    client exec -it web sh
  assert_line --partial typed
  assert_line "exit: 4"
  # A command that cannot be run: its words on our terminal and 127, both ways.
  for how in in_process client; do
    run drive 30 100 wait -- "$how" exec -t web nosuch
    assert_success
    assert_line --partial 'exec: "nosuch": executable file not found in $PATH'
    assert_line "exit: 127"
  done
  same_through_daemon exec -it web true </dev/null
  assert_failure 1
  [[ $stderr == "Error: the input device is not a TTY" ]]
  # --env-file: read by the client, sent as Env, as docker does; -e after it wins.
  printf 'A=from-file\n# a comment\nB=two words\nFROM_CLIENT\n' >"$BATS_TEST_TMPDIR/env.list"
  export FROM_CLIENT=here
  same_through_daemon exec -w / --env-file "$BATS_TEST_TMPDIR/env.list" -e B=flag web \
    sh -c 'echo "$A|$B|$FROM_CLIENT"'
  assert_success
  assert_output "from-file|flag|here"
  # The words after the container are the command's, even one of exec's options (-e, -d, -i).
  same_through_daemon exec -e B=flag web sh -c 'echo "$B $0 $1"' -e -d
  assert_success
  assert_output "flag -e -d"
  # (-e not found: 127 both ways, the daemon's words inside the stream, as tests/46 says)
  run -127 mdh exec web -e A=1
  # shellcheck disable=SC2016  # Docker's words
  assert_output --partial 'exec: "-e": executable file not found in $PATH'
  same_through_daemon exec --env-file "$BATS_TEST_TMPDIR/none.list" web true
  assert_failure 1
  [[ $stderr == *"open $BATS_TEST_TMPDIR/none.list: no such file or directory" ]]
}

@test "client: restart, wait, pause, unpause, top, stats --no-stream, rename as in-process" {
  daemon_start
  for who in local remote; do
    md run -d --name "up-$who" --network none busybox sleep 120 >/dev/null
    md run --name "ended-$who" --network none busybox sh -c 'exit 7' >/dev/null || true
  done
  # wait: the exit code, each name on its line; a missing one among them: exit 1.
  run --separate-stderr mdh wait ended-remote ended-local
  assert_success
  assert_output $'7\n7'
  md run -d --name soon --network none busybox sh -c 'sleep 1; exit 9' >/dev/null
  run mdh wait soon
  assert_output 9
  same_through_daemon wait ended-local nosuch
  assert_failure 1
  assert_output 7
  [[ $stderr == "Error: No such container: nosuch" ]]
  # pause and unpause: the container's processes frozen (the cgroup's freezer), then not.
  run mdh pause up-remote
  assert_success
  assert_output up-remote
  [[ $(md inspect up-remote | jq -r '.[0].State.Paused') == true ]]
  md pause up-local >/dev/null
  same_through_daemon pause up-local
  assert_failure 1
  [[ $stderr == "Error response from daemon: Container "*" is already paused" ]]
  md unpause up-local >/dev/null
  run mdh unpause up-remote
  assert_output up-remote
  [[ $(md inspect up-remote | jq -r '.[0].State.Paused') == false ]]
  for verb in pause unpause top; do
    same_through_daemon $verb nosuch
    assert_failure 1
    [[ $stderr == "Error response from daemon: No such container: nosuch" ]]
  done
  same_through_daemon unpause up-local
  assert_failure 1
  [[ $stderr == "Error response from daemon: Container "*" is not paused" ]]
  same_through_daemon pause ended-local
  assert_failure 1
  # top: the same table (the container's own processes), with ps's arguments too.
  run md top up-remote
  local local_top=$output
  same_through_daemon top up-remote
  assert_success
  assert_line --index 1 --regexp ' sleep 120$'
  [[ $output == "$local_top" ]]
  same_through_daemon top up-remote -o pid,comm
  assert_line --index 0 --regexp '^PID +COMMAND$'
  same_through_daemon top ended-local
  assert_failure 1
  [[ $stderr == "Error response from daemon: container "*" is not running" ]]
  # stats --no-stream: the same rows (the readings aside); a stopped one reads as zeros.
  run --separate-stderr mdh stats --no-stream up-remote ended-remote
  assert_success
  assert_line --index 0 --regexp '^CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS$'
  assert_line --index 1 --regexp '^[0-9a-f]{12} +up-remote +[0-9.]+% +[0-9.]+[KMG]?i?B / [0-9.]+[KMG]iB +[0-9.]+% +0B / 0B +[0-9.]+[kMG]?B / [0-9.]+[kMG]?B +1$'
  assert_line --index 2 --regexp '^[0-9a-f]{12} +ended-remote +0\.00% +0B / 0B +0\.00% +0B / 0B +0B / 0B +0$'
  same_through_daemon stats --no-stream ended-local
  run --separate-stderr mdh stats --no-stream
  [[ ${#lines[@]} == 3 ]]  # the header and the two running ones
  same_through_daemon stats --no-stream nosuch
  assert_failure 1
  [[ $stderr == "Error response from daemon: No such container: nosuch" ]]
  # rename: the new name answers; the errors of a name in use and a missing container.
  run --separate-stderr mdh rename ended-remote renamed
  assert_success
  assert_output ""
  [[ $(md inspect renamed | jq -r '.[0].Name') == /renamed ]]
  same_through_daemon rename ended-local renamed
  assert_failure 1
  same_through_daemon rename nosuch other
  assert_failure 1
  # restart: stopped (SIGTERM, then SIGKILL after -t), started again: a new StartedAt.
  started=$(md inspect up-remote | jq -r '.[0].State.StartedAt')
  run mdh restart -t 1 up-remote
  assert_success
  assert_output up-remote
  [[ $(md inspect up-remote | jq -r '.[0].State.Status') == running ]]
  [[ $(md inspect up-remote | jq -r '.[0].State.StartedAt') != "$started" ]]
  same_through_daemon restart -t 1 nosuch
  assert_failure 1
  [[ $stderr == "Error: No such container: nosuch" ]]
}

@test "client: port, diff and container prune as in-process" {
  daemon_start
  md run -d --name up --network none busybox sh -c 'mkdir /new; echo x > /new/f; rm /bin/ls; sleep 120' \
    >/dev/null
  for _ in $(seq 50); do md exec up test -e /new/f && break; sleep 0.1; done
  same_through_daemon diff up
  assert_success
  assert_line "A /new"
  assert_line "A /new/f"
  assert_line "D /bin/ls"
  same_through_daemon diff nosuch
  assert_failure 1
  # port: nothing published with --network none; a port asked for: Docker's line.
  same_through_daemon port up
  assert_success
  assert_output ""
  same_through_daemon port up 80
  assert_failure 1
  [[ $stderr == "Error: No public port '80/tcp' published for up" ]]
  same_through_daemon port nosuch
  assert_failure 1
  # container prune: the stopped ones go, the running one stays.
  md create --name made --network none busybox true >/dev/null
  md run --name ended --network none busybox sh -c 'echo hello > /f' >/dev/null
  made=$(md inspect made | jq -r '.[0].Id') ended=$(md inspect ended | jq -r '.[0].Id')
  run --separate-stderr mdh container prune -f
  assert_success
  assert_line --index 0 "Deleted Containers:"
  assert_line "$made"
  assert_line "$ended"
  # what their rw layers held: ended's /f, 6 bytes (Docker's SpaceReclaimed)
  assert_line --index -1 "Total reclaimed space: 6B"
  [[ $(md ps -aq) == "$(md ps -q)" ]]
  same_through_daemon container prune -f
  assert_output "Total reclaimed space: 0B"
  grep -q '^POST /v1.41/containers/prune 200' "$DAEMON_LOG"
}

@test "client: run flags through the daemon: --env-file, --mount, -w, -u, --entrypoint, --hostname, limits" {
  daemon_start
  printf 'A=from-file\n# a comment\nB=two words\nFROM_CLIENT\n' >"$BATS_TEST_TMPDIR/env.list"
  export FROM_CLIENT=here
  same_through_daemon run --rm --network none --env-file "$BATS_TEST_TMPDIR/env.list" -e B=flag \
    busybox sh -c 'echo "$A|$B|$FROM_CLIENT"'
  assert_success
  assert_output "from-file|flag|here"
  same_through_daemon run --rm --network none --env-file "$BATS_TEST_TMPDIR/none.list" busybox true
  assert_failure 125
  [[ $stderr == "Error: open $BATS_TEST_TMPDIR/none.list: no such file or directory" ]]
  # --mount: a read-only bind and a tmpfs of a size and a mode, as the container sees them.
  mkdir "$BATS_TEST_TMPDIR/data"
  echo inside >"$BATS_TEST_TMPDIR/data/f"
  same_through_daemon run --rm --network none \
    --mount "type=bind,source=$BATS_TEST_TMPDIR/data,target=/m,readonly" \
    --mount type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777 busybox \
    sh -c 'cat /m/f; touch /m/x 2>/dev/null || echo read-only; stat -c %a /t; df -k /t | tail -1 | awk "{print \$2}"'
  assert_success
  assert_output $'inside\nread-only\n1777\n1024'
  [[ ! -e $BATS_TEST_TMPDIR/data/x ]]
  same_through_daemon run --rm --network none --mount type=bind,target=/x busybox true
  assert_failure 125
  # -w, -u, --hostname, --entrypoint, --read-only, --tmpfs, --cap-drop, --init: what runs inside.
  # The -c after the image is the entrypoint's (/bin/sh's), not --cpu-shares.
  local inside='pwd; id -u; id -g; hostname
touch /x 2>/dev/null || echo ro
touch /scratch/ok && echo tmpfs-rw
grep CapEff /proc/self/status
cat /proc/1/comm'
  same_through_daemon run --rm --network none -w /tmp -u 1000:1000 --hostname box \
    --read-only --tmpfs /scratch:size=1m --cap-drop ALL --init --entrypoint /bin/sh \
    busybox -c "$inside"
  assert_success
  assert_line --index 0 /tmp
  assert_line --index 1 1000
  assert_line --index 2 1000
  assert_line --index 3 box
  assert_line --index 4 ro
  assert_line --index 5 tmpfs-rw
  assert_line --index 6 --regexp $'^CapEff:\t0+$'
  refute_line --index 7 sh
  # The same container either way: its recorded config and host config.
  local flags=(--network none -w /srv -u 1000 --hostname h --entrypoint /bin/sh --read-only
    --tmpfs /run:size=1m --cap-add NET_ADMIN --cap-drop CHOWN --pids-limit 50 --memory 64m
    --memory-swap 128m --cpu-shares 512 --init
    --mount "type=bind,source=$BATS_TEST_TMPDIR/data,target=/m,bind-propagation=rslave")
  md create --name made-local "${flags[@]}" busybox -c "$inside" >/dev/null
  mdh create --name made-remote "${flags[@]}" busybox -c "$inside" >/dev/null
  [[ $(mdh inspect made-remote | jq -r '.[0].Config.Cmd[0]') == -c ]]
  # An option of run's right after the image is the command (a program of that name, from
  # args_image), with the options that follow it.
  args_image argsbox
  same_through_daemon run --rm --network none argsbox -d --help -e A=1 -- -x
  assert_success
  assert_output "[-d][--help][-e][A=1][--][-x]"
  local keys='[.[0].Config | .WorkingDir, .User, .Hostname, .Entrypoint, .Cmd],
    [.[0].HostConfig | .ReadonlyRootfs, .Tmpfs, .CapAdd, .CapDrop, .PidsLimit, .Memory,
     .MemorySwap, .CpuShares, .Init], [.[0].Mounts[] | .Source, .Destination, .Propagation]'
  [[ $(mdh inspect made-remote | jq -c "$keys") == "$(md inspect made-local | jq -c "$keys")" ]] ||
    fail "$(mdh inspect made-remote | jq -c "$keys") vs $(md inspect made-local | jq -c "$keys")"
  [[ $(md inspect made-local | jq -r '.[0].Mounts[0].Propagation') == rslave ]]
}

@test "client: cp out of a container and into one as in-process, through the archive routes" {
  daemon_start
  for who in local remote; do
    md run -d --name "box-$who" --network none busybox sh -c \
      'mkdir -p /d/sub /dest; echo a >/d/f; echo b >/d/sub/g; chmod 0751 /d/sub; ln -s /d/f /link; sleep 120' \
      >/dev/null
  done
  for _ in $(seq 50); do md exec box-remote test -L /link && md exec box-local test -L /link &&
    break; sleep 0.1; done
  # Out of it: each of Docker's forms, into a host directory of each side's own.
  mkdir -p "$BATS_TEST_TMPDIR/out-local/into" "$BATS_TEST_TMPDIR/out-remote/into"
  echo old >"$BATS_TEST_TMPDIR/out-local/file"
  echo old >"$BATS_TEST_TMPDIR/out-remote/file"
  for who in local remote; do
    local cli=md box="box-$who" at="$BATS_TEST_TMPDIR/out-$who"
    [[ $who == remote ]] && cli=mdh
    $cli cp "$box:/d/f" "$at/new-file"
    $cli cp "$box:/d/f" "$at/file"
    $cli cp "$box:/d" "$at/new-dir"
    $cli cp "$box:/d" "$at/into"
    $cli cp "$box:/d/." "$at/contents"
    $cli cp "$box:/link" "$at/link"
    $cli cp -L "$box:/link" "$at/followed"
    $cli cp "$box:/d/sub/" "$at/into/"
  done
  listing() { (cd "$1" && find . -printf '%p %y %m %s %l\n' | sort); }
  [[ $(listing "$BATS_TEST_TMPDIR/out-remote") == "$(listing "$BATS_TEST_TMPDIR/out-local")" ]] ||
    fail "$(diff <(listing "$BATS_TEST_TMPDIR/out-local") <(listing "$BATS_TEST_TMPDIR/out-remote"))"
  diff -r --no-dereference "$BATS_TEST_TMPDIR/out-local" "$BATS_TEST_TMPDIR/out-remote"
  [[ $(cat "$BATS_TEST_TMPDIR/out-remote/file") == a ]]
  [[ $(cat "$BATS_TEST_TMPDIR/out-remote/new-dir/sub/g") == b ]]
  [[ -L $BATS_TEST_TMPDIR/out-remote/link && ! -L $BATS_TEST_TMPDIR/out-remote/followed ]]
  # To stdout: the same tar, byte for byte.
  md cp box-local:/d - >"$BATS_TEST_TMPDIR/local.tar"
  mdh cp box-local:/d - >"$BATS_TEST_TMPDIR/remote.tar"
  cmp "$BATS_TEST_TMPDIR/local.tar" "$BATS_TEST_TMPDIR/remote.tar"
  # Into it: a file to a new name, into a directory, a directory to a new one, its contents, a
  # tar from stdin; each side in its own container, the same tree at the end.
  mkdir -p "$BATS_TEST_TMPDIR/src/dir/sub"
  echo one >"$BATS_TEST_TMPDIR/src/one"
  echo two >"$BATS_TEST_TMPDIR/src/dir/sub/two"
  chmod 0705 "$BATS_TEST_TMPDIR/src/dir"
  for who in local remote; do
    local cli=md box="box-$who"
    [[ $who == remote ]] && cli=mdh
    $cli cp "$BATS_TEST_TMPDIR/src/one" "$box:/dest/renamed"
    $cli cp "$BATS_TEST_TMPDIR/src/one" "$box:/dest"
    $cli cp "$BATS_TEST_TMPDIR/src/dir" "$box:/dest/newdir"
    $cli cp "$BATS_TEST_TMPDIR/src/dir" "$box:/dest"
    $cli cp "$BATS_TEST_TMPDIR/src/dir/." "$box:/d/sub"
    tar -C "$BATS_TEST_TMPDIR/src" -cf - one | $cli cp - "$box:/d"
  done
  inside() { md exec "$1" sh -c 'cd / && find dest d -exec stat -c "%n %F %a %s" {} \; | sort'; }
  [[ $(inside box-remote) == "$(inside box-local)" ]] ||
    fail "$(diff <(inside box-local) <(inside box-remote))"
  run md exec box-remote cat /dest/renamed /dest/newdir/sub/two /d/sub/sub/two /d/one
  assert_output $'one\ntwo\ntwo\none'
  # The errors, in the same words and exit codes.
  same_through_daemon cp box-local:/nosuch "$BATS_TEST_TMPDIR/x"
  assert_failure 1
  [[ $stderr == "Error: Could not find the file /nosuch in container box-local" ]]
  same_through_daemon cp nosuch:/d "$BATS_TEST_TMPDIR/x"
  assert_failure 1
  [[ $stderr == "Error: No such container: nosuch" ]]
  same_through_daemon cp box-local:/d "$BATS_TEST_TMPDIR/out-local/file"
  assert_failure 1
  same_through_daemon cp "$BATS_TEST_TMPDIR/src/dir" box-local:/d/f
  assert_failure 1
  [[ $stderr == "Error: cannot copy a directory to a file: /d/f" ]]
  same_through_daemon cp "$BATS_TEST_TMPDIR/src/one" box-local:/nosuch/dir/x
  assert_failure 1
  same_through_daemon cp "$BATS_TEST_TMPDIR/src/one" box-local:/dest/missing/
  assert_failure 1
  same_through_daemon cp "$BATS_TEST_TMPDIR/nosuch" box-local:/dest
  assert_failure 1
}

@test "client: --sig-proxy: a signal to the client goes on to the container, which answers it" {
  daemon_start
  # The binary itself in the background (a function would put a subshell between it and us).
  DOCKER_HOST='' "$MINIDOCKER" -H "unix://$SOCK" run --name sp --network none busybox \
    sh -c 'trap "echo got-term; exit 9" TERM; echo ready; while :; do sleep 0.1; done' \
    >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
  local client=$!
  for _ in $(seq 100); do grep -q ready "$BATS_TEST_TMPDIR/out" && break; sleep 0.1; done
  kill -TERM "$client"
  local rc=0
  wait "$client" || rc=$?
  [[ $rc == 9 ]] || fail "exit $rc: $(cat "$BATS_TEST_TMPDIR/out")"
  grep -qx got-term "$BATS_TEST_TMPDIR/out"
  grep -q '^POST /v1.41/containers/[0-9a-f]*/kill?signal=15 204' "$DAEMON_LOG"
}
