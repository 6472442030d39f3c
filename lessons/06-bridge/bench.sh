#!/usr/bin/env bash
# The cost of each step of lesson 06, as markdown table rows (median of N runs):
#   | bridge: create bridge | 4.8 ms |
# Each run happens in a throwaway network namespace (unshare -n), so the host is never touched.
#   ./bench.sh [N]        as root (default 5; tests/bench.sh calls every lesson's bench.sh)
set -euo pipefail

runs=${1-5}
here=$(cd "$(dirname "$0")" && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "bench.sh: the lesson needs root; run it as root: ./bench.sh" >&2
  exit 1
fi
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
  echo "bench.sh: N must be a positive number of runs, got \"$runs\"" >&2
  exit 2
fi

all=()
for ((i = 0; i < runs; i++)); do
  all+=("$(unshare -n -- "$here/bridge" --mode bridge --json | jq -c .timings_ms)")
done
printf '%s\n' "${all[@]}" | jq -rs '
  ["create bridge", "create veth pair", "move veth into namespace", "addresses and route", "first ping"] as $steps
  | . as $runs
  | $steps[]
  | . as $k
  | [$runs[][$k]] | sort | .[(length / 2 | floor)]
  | "| bridge: \($k) | \(. * 10 | round / 10) ms |"'
