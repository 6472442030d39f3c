#!/usr/bin/env bash
# make bench: speed and accuracy, measured (never asserted in tests). Each lesson that has figures
# to report ships a bench.sh that prints markdown table rows "| what | figure |"; this collects them,
# final/bench.sh's (the runtime's start latency against the floor, runc and crun) and
# final/bench-images.sh's (import, load and pull against tar -x) and final/bench-engine.sh's (run
# against the floor, runc and podman; with the bridge against the floor + a veth; idle memory) and
# final/bench-daemon.sh's (docker run through minidocker daemon against Debian's dockerd, and
# GET /containers/json per second with 100 containers, both driven by the real docker client).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

echo "| measurement | result |"
echo "| --- | --- |"
status=0
for bench in lessons/*/bench.sh final/bench.sh final/bench-images.sh final/bench-engine.sh \
  final/bench-daemon.sh; do
  [[ -x $bench ]] || continue
  if ! (cd "$(dirname "$bench")" && "./$(basename "$bench")"); then
    echo "| $(dirname "$bench") | bench failed |"
    status=1
  fi
done
exit $status
