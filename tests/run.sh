#!/usr/bin/env bash
# The whole suite, as `make test` runs it (after building): GoogleTest unit tests, the Bats tests
# of every binary and demo.sh, then the leak check over everything they did. Ends with one line:
#   N passed, N failed, N skipped
# CI=true turns would-be skips of privileged tests into failures (see helpers.bash).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
mkdir -p build
passed=0 failed=0 skipped=0

tests/leakcheck.sh snapshot >build/leak-before

# --- unit tests ----------------------------------------------------------------------------------
echo "== unit tests (GoogleTest)"
if [[ -x build/unit-tests ]]; then
  build/unit-tests >build/unit.log 2>&1
  unit_status=$?
  if [[ $unit_status -eq 0 ]]; then
    grep -E '^\[ *(PASSED|SKIPPED|FAILED) *\]|tests? from .* ran' build/unit.log
  else
    cat build/unit.log
  fi
  u_pass=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' build/unit.log)
  u_fail=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' build/unit.log)
  u_skip=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' build/unit.log)
  passed=$((passed + ${u_pass:-0}))
  failed=$((failed + ${u_fail:-0}))
  skipped=$((skipped + ${u_skip:-0}))
  if [[ $unit_status -ne 0 && -z ${u_fail:-} ]]; then
    echo "unit tests crashed (exit $unit_status)"
    failed=$((failed + 1))
  fi
else
  echo "build/unit-tests is missing: run make unit"
  failed=$((failed + 1))
fi

# --- bats ----------------------------------------------------------------------------------------
echo "== binaries and demos (Bats)"
bats --tap tests/*.bats >build/bats.tap 2>&1
cat build/bats.tap
b_skip=$(grep -cE '^ok [0-9]+ .*# skip' build/bats.tap)
b_pass=$(grep -cE '^ok [0-9]+' build/bats.tap)
b_fail=$(grep -cE '^not ok [0-9]+' build/bats.tap)
passed=$((passed + b_pass - b_skip))
failed=$((failed + b_fail))
skipped=$((skipped + b_skip))
planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' build/bats.tap | head -1)
if [[ -n $planned ]] && ((planned != b_pass + b_fail)); then
  echo "bats planned $planned tests but reported $((b_pass + b_fail))"
  failed=$((failed + planned - b_pass - b_fail))
fi

# --- leak check ----------------------------------------------------------------------------------
echo "== leak check: mounts, namespaces, processes, cgroups, links, firewall rules"
tests/leakcheck.sh snapshot >build/leak-after
if tests/leakcheck.sh compare build/leak-before build/leak-after; then
  echo "ok: nothing left behind"
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
