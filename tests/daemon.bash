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
# With a network namespace's name, the daemon runs in a new namespace of that name (lo up), so
# the engine's bridge, veths and NAT rules are made there (the caller's teardown deletes it);
# nsenter execs the daemon, so $DAEMON_PID is the daemon itself. Arguments after the name ("" for
# none) go to the daemon too: `daemon_start NS -H tcp://127.0.0.1:2375 --insecure-tcp`.
daemon_start() {
  local netns=${1:-}
  shift || true
  if [[ -n $netns ]]; then
    ip netns add "$netns"
    ip -n "$netns" link set lo up
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

