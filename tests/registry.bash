# A private Docker registry for the tests: Debian's docker-registry package (upstream's binary is
# called `registry`; Debian's is /usr/bin/docker-registry, and its systemd unit is of no use here:
# the test machine has no systemd). Load with `load registry` and call from setup_file:
#   start_registry    a registry on 127.0.0.1, on a port the kernel picked, storing in a temp
#                     dir; exports REGISTRY=127.0.0.1:PORT and REGISTRY_PID
#   stop_registry     kills exactly that process and removes the temp dir
# shellcheck shell=bash

REGISTRY_BINARY=${REGISTRY_BINARY:-/usr/bin/docker-registry}

start_registry() {
  local dir line fd
  [[ -x $REGISTRY_BINARY ]] || {
    echo "start_registry: $REGISTRY_BINARY missing (apt-get install docker-registry)" >&2
    return 1
  }
  dir=$(mktemp -d /tmp/lab-registry-XXXXXX)
  # Port 0: the kernel picks a free port when the registry binds, so two test runs never race
  # for one; the registry logs the address it got ("listening on 127.0.0.1:PORT"). No auth, no
  # health checks, no redis, no notifications: nothing that needs the network.
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:0
  secret: lab-registry-test
EOF
  # The registry's log comes to us through a pipe: we read it until the "listening on" line,
  # then a cat drains the rest into $dir/log (a full pipe would block the registry). fd 3 is
  # bats' own output; the background processes must not hold it, or bats waits for them.
  exec {fd}< <(exec "$REGISTRY_BINARY" serve "$dir/config.yml" 2>&1 3>&-)
  REGISTRY_PID=$!
  REGISTRY_DIR=$dir
  REGISTRY=
  # Bounded: read -t gives up if the registry says nothing for 30 s.
  while IFS= read -r -t 30 -u "$fd" line; do
    echo "$line" >>"$dir/log"
    if [[ $line =~ listening\ on\ (127\.0\.0\.1:[0-9]+) ]]; then
      REGISTRY=${BASH_REMATCH[1]}
      break
    fi
  done
  cat <&"$fd" >>"$dir/log" 3>&- &
  exec {fd}<&-
  export REGISTRY REGISTRY_PID REGISTRY_DIR
  if [[ -z $REGISTRY ]]; then
    echo "start_registry: the registry did not start; its log:" >&2
    cat "$dir/log" >&2
    stop_registry
    return 1
  fi
  # The socket is bound before that line is logged, so this answers at once; --retry only
  # covers a slow first request, and is bounded.
  curl -fsS --retry 5 --retry-connrefused --max-time 10 "http://$REGISTRY/v2/" >/dev/null
}

stop_registry() {
  if [[ -n ${REGISTRY_PID:-} ]]; then
    kill "$REGISTRY_PID" 2>/dev/null || true
    # Reaped here if it is this shell's child; otherwise (stop_registry called from another
    # bats process) tail --pid waits, bounded, until it is gone.
    wait "$REGISTRY_PID" 2>/dev/null || true
    timeout 10 tail --pid="$REGISTRY_PID" -f /dev/null || true
  fi
  [[ -n ${REGISTRY_DIR:-} && $REGISTRY_DIR == /tmp/lab-registry-* ]] && rm -rf "$REGISTRY_DIR"
  unset REGISTRY REGISTRY_PID REGISTRY_DIR
}
