#!/usr/bin/env bash
# make bench: speed and accuracy, measured (never asserted in tests). Each lesson that has figures
# to report ships a bench.sh that prints markdown table rows "| what | figure |"; this collects them,
# and final/bench.sh's (the runtime's start latency against the floor, runc and crun).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

echo "| measurement | result |"
echo "| --- | --- |"
status=0
for bench in lessons/*/bench.sh final/bench.sh; do
  [[ -x $bench ]] || continue
  if ! (cd "$(dirname "$bench")" && ./bench.sh); then
    echo "| $(dirname "$bench") | bench failed |"
    status=1
  fi
done
exit $status
