#!/usr/bin/env bash
# The throttle's accuracy: ./cgroup-cpu with a 20% quota (20000 of 100000 us), its limited share
# measured over 5 s, three runs. Prints Markdown table rows for tests/bench.sh to collect:
#   | throttle accuracy, 20% quota, run 1 | 19.97 % |
# Needs root: make bench as root (or with sudo).
set -euo pipefail
cd "$(dirname "$0")"

if [[ $(id -u) -ne 0 ]]; then
  echo "bench.sh: the benchmark makes cgroups and needs root; run make bench as root (or with sudo)" >&2
  exit 1
fi
[[ -x ./cgroup-cpu ]] || make --quiet cgroup-cpu >&2

status=0
for run in 1 2 3; do
  if json=$(./cgroup-cpu --quota-us 20000 --period-us 100000 --seconds 5 --json); then :; else status=1; fi
  share=$(jq -r '.limited_percent' <<<"$json")
  printf '| throttle accuracy, 20%% quota, run %d | %.2f %% |\n' "$run" "$share"
done
exit $status
