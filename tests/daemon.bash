# shellcheck shell=bash
# shellcheck disable=SC2030,SC2031  # DAEMON_PID: set and read within each test
# The daemon's tests (tests/4*-daemon*.bats): `minidocker daemon` on a socket of the test's own,
# over an engine root of its own (engine.bash), and the real docker client
# (build/docker-cli/docker, unpacked from Debian's docker.io by `make deps`) to drive it.
# A test file loads helpers, engine and this, and calls daemon_setup / daemon_teardown.

DOCKER="$PROJECT_DIR/build/docker-cli/docker"

daemon_setup() {
  requires root rootfs overlay
  [[ -x $DOCKER ]] || fail "no $DOCKER: run make deps (scripts/install-deps.sh unpacks it)"
  engine_setup
  SOCK="$BATS_TEST_TMPDIR/minidocker.sock"
  DAEMON_LOG="$BATS_TEST_TMPDIR/daemon.log"
  DAEMON_PID=
}

daemon_teardown() {
  daemon_stop
  [[ ! -e ${SOCK:-/nonexistent} ]] || fail "the socket $SOCK is still there"
  engine_teardown
}

# Starts the daemon in the background and waits (at most 30 s) until it answers on $SOCK.
# With a network namespace's name, the daemon runs in a namespace of that name (made, lo up, unless
# it exists), so
# the engine's bridge, veths and NAT rules are made there (the caller's teardown deletes it);
# nsenter execs the daemon, so $DAEMON_PID is the daemon itself. Arguments after the name ("" for
# none) go to the daemon too: `daemon_start NS -H tcp://127.0.0.1:2375 --insecure-tcp`.
daemon_start() {
  local netns=${1:-}
  shift || true
  if [[ -n $netns ]]; then
    if [[ ! -e /run/netns/$netns ]]; then  # (a second daemon in the same one: as it is)
      ip netns add "$netns"
      ip -n "$netns" link set lo up
    fi
    nsenter --net="/run/netns/$netns" -- "$MINIDOCKER" daemon -H "unix://$SOCK" --root "$ROOT" \
      "$@" >>"$DAEMON_LOG" 2>&1 3>&- &
  else
    "$MINIDOCKER" daemon -H "unix://$SOCK" --root "$ROOT" "$@" >>"$DAEMON_LOG" 2>&1 3>&- &
  fi
  DAEMON_PID=$!
  local _
  for _ in $(seq 300); do
    curl -sf --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1 && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon exited: $(cat "$DAEMON_LOG")"
    sleep 0.1
  done
  fail "the daemon never answered on $SOCK: $(cat "$DAEMON_LOG")"
}

# SIGTERM, then the daemon's exit status in DAEMON_STATUS.
daemon_stop() {
  [[ -n ${DAEMON_PID:-} ]] || return 0
  kill -TERM "$DAEMON_PID" 2>/dev/null || true
  DAEMON_STATUS=0
  wait "$DAEMON_PID" || DAEMON_STATUS=$?
  DAEMON_PID=
}

api() {
  curl -sS --unix-socket "$SOCK" "$@"
}

docker() {
  DOCKER_HOST="unix://$SOCK" DOCKER_CONFIG="$BATS_TEST_TMPDIR/docker-config" "$DOCKER" "$@"
}

# Our own CLI as the daemon's client (tests/46-50): `minidocker -H unix://$SOCK ARGS`.
mdh() {
  DOCKER_HOST='' "$MINIDOCKER" -H "unix://$SOCK" "$@"
}

# What may differ between two runs a moment apart ("3 seconds ago", "Up 2 seconds"); with
# NEW_IDS set, the ids a build or a commit makes anew each time too.
normalized() {
  local ids=''
  [[ -z ${NEW_IDS:-} ]] || ids='s/sha256:[0-9a-f]{64}/sha256:ID/g; s/[0-9a-f]{12}/ID/g'
  sed -E "s/(Less than a second|About a minute|[0-9]+ (seconds?|minutes?))/TIME/g; s/ +/ /g; $ids"
}

# same_through_daemon [-CODE] ARGS: runs `$IN_PROCESS ARGS` (md, the CLI doing the job itself,
# unless the test names another) and `mdh ARGS`, both with stdin from $STDIN_FILE (else
# /dev/null), and fails unless their stdout, stderr and exit codes are the same (normalized);
# leaves the client's in $output, $stderr and $status. (-CODE: the exit code expected, for bats'
# run, which warns of a bare 127.)
# shellcheck disable=SC2154  # $output, $stderr and $status: set by bats' run
same_through_daemon() {
  local out err rc expect=() input=${STDIN_FILE:-/dev/null}
  [[ $1 != -[0-9]* ]] || { expect=("$1") && shift; }
  run "${expect[@]}" --separate-stderr "${IN_PROCESS:-md}" "$@" <"$input"
  out=$(normalized <<<"$output") err=$(normalized <<<"$stderr") rc=$status
  run "${expect[@]}" --separate-stderr mdh "$@" <"$input"
  [[ $status == "$rc" ]] || fail "$*: exit $status through the daemon, $rc in-process ($stderr)"
  [[ $(normalized <<<"$output") == "$out" ]] ||
    fail "$*: through the daemon:"$'\n'"$output"$'\n'"in-process:"$'\n'"$out"
  [[ $(normalized <<<"$stderr") == "$err" ]] ||
    fail "$*: stderr through the daemon: '$stderr', in-process: '$err'"
}

# Removes every container of $ROOT (and prunes), as the CLI itself, from inside network namespace
# $1, where their bridge and rules are: a teardown calls it before the namespace goes.
remove_containers_in() {
  local md=(nsenter --net="/run/netns/$1" -- env DOCKER_HOST='' "$MINIDOCKER" --root "$ROOT") ids
  ids=$("${md[@]}" ps -aq --no-trunc 2>/dev/null) || true
  # shellcheck disable=SC2086
  [[ -z $ids ]] || "${md[@]}" rm -f $ids >/dev/null 2>&1 || true
  "${md[@]}" system prune -f >/dev/null 2>&1 || true
}

# How many entries a /proc directory has (the daemon's descriptors, its threads).
entries() {
  local e=("$1"/*)
  echo "${#e[@]}"
}

# The daemon answers _ping: it is still up.
still_up() {
  [[ $(api http://localhost/_ping) == OK ]] || fail "the daemon stopped answering"
  kill -0 "$DAEMON_PID" || fail "the daemon is gone"
}
