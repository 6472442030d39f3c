#!/usr/bin/env bats
# Lesson 04 as a user runs it: a busy loop held to its CFS quota, two loops splitting one CPU by
# weight, on whichever cgroup version the host has; bad values refused; nothing left behind.
load helpers

setup() {
  CG="$LESSONS/04-cgroup-cpu/cgroup-cpu"
}

# v1 or v2: where this host's cpu controller is, found the way the lesson and demo.sh find it.
cpu_version() {
  local v2
  v2=$(awk '$(NF-2) == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
  if [[ -n $v2 ]] && grep -qw cpu "$v2/cgroup.controllers"; then echo v2; else echo v1; fi
}

# Every cgroup of this lesson still on the host (there must be none after a run).
lab_cgroups() {
  find /sys/fs/cgroup -maxdepth 3 -type d -name 'lab-cpu-*' 2>/dev/null
}

assert_nothing_left() {
  assert_equal "$(lab_cgroups)" ""
  run pgrep -x lab-busy
  assert_failure
}

@test "cgroup-cpu: the loop is held near its 20% quota and cpu.stat shows throttling" {
  requires root
  run "$CG" --seconds 2 --json
  assert_success
  assert_equal "$(jq -r .held <<<"$output")" "true"
  assert_equal "$(jq -r .cgroup_version <<<"$output")" "$(cpu_version)"
  assert_equal "$(jq -r .expected_percent <<<"$output")" "20"
  # within 25% of 20%, as the lesson claims
  jq -e '.limited_percent >= 15 and .limited_percent <= 25' <<<"$output"
  jq -e '.nr_throttled > 0 and .nr_periods >= .nr_throttled' <<<"$output"
  jq -e '.samples_limited | length == 2' <<<"$output"
  assert_nothing_left
}

@test "cgroup-cpu: the loop really ran inside lab-cpu-PID, which starts unlimited and is removed" {
  requires root
  run "$CG" --seconds 1 --json
  assert_success
  path=$(jq -r .cgroup <<<"$output")
  [[ $(basename "$path") =~ ^lab-cpu-[0-9]+$ ]]
  # /proc/LOOP/cgroup, read while the loop lived, named the lesson's cgroup
  assert_equal "$(jq -r .loop_cgroup <<<"$output")" "/$(basename "$path")"
  assert_equal "$(jq -r .initial_quota_us <<<"$output")" "-1"
  assert_equal "$(jq -r .initial_period_us <<<"$output")" "100000"
  assert_equal "$(jq -r .cgroup_removed <<<"$output")" "true"
  [[ ! -e $path ]]
  loop=$(jq -r .loop_pid <<<"$output")
  run kill -0 "$loop"
  assert_failure
}

@test "cgroup-cpu: another quota and period (50000 of 200000 us) gives 25%" {
  requires root
  run "$CG" --quota-us 50000 --period-us 200000 --seconds 2 --json
  assert_success
  assert_equal "$(jq -r .expected_percent <<<"$output")" "25"
  assert_equal "$(jq -r .period_us <<<"$output")" "200000"
  jq -e '.limited_percent >= 18.75 and .limited_percent <= 31.25 and .nr_throttled > 0' <<<"$output"
  assert_nothing_left
}

@test "cgroup-cpu --mode shares: two loops on one CPU weighted 2:1 split it about 2:1" {
  requires root
  run "$CG" --mode shares --seconds 2 --json
  assert_success
  assert_equal "$(jq -r .held <<<"$output")" "true"
  jq -e '.ratio >= 1.5 and .ratio <= 2.7' <<<"$output"
  jq -e '.heavy_weight == 2 * .light_weight' <<<"$output"
  if [[ $(cpu_version) == v1 ]]; then want=cpu.shares; else want=cpu.weight; fi
  assert_equal "$(jq -r .weight_file <<<"$output")" "$want"
  name=$(basename "$(jq -r .cgroup <<<"$output")")
  assert_equal "$(jq -r .heavy_cgroup <<<"$output")" "/$name/heavy"
  assert_equal "$(jq -r .light_cgroup <<<"$output")" "/$name/light"
  assert_equal "$(jq -r .cgroup_removed <<<"$output")" "true"
  # v2's "no internal processes" rule is part of the verdict there; v1 has no such rule
  if [[ $(cpu_version) == v2 ]]; then
    assert_equal "$(jq -r .internal_process_refused <<<"$output")" "true"
  fi
  assert_nothing_left
}

@test "cgroup-cpu --mode shares: step 1 names the weight file, step 6 the /proc file it reads" {
  requires root
  run "$CG" --mode shares --seconds 1
  assert_success
  if [[ $(cpu_version) == v1 ]]; then want=cpu.shares; else want=cpu.weight; fi
  assert_line --index 1 --regexp ": using $want\$"
  assert_line --regexp '^\[[0-9]/[78]\] read\("/proc/\{[0-9]+,[0-9]+\}/(schedstat|stat)"\) every second'
  if [[ $(cpu_version) == v2 ]]; then
    assert_line --partial 'cgroup.procs -> EBUSY'
  fi
  assert_line --index -1 --regexp '^verdict: HELD - two loops on CPU [0-9]+ with weights '
  assert_nothing_left
}

@test "cgroup-cpu: narration numbers its steps, prints a line a second, ends with a verdict" {
  requires root
  run "$CG" --seconds 1
  assert_success
  assert_line --index 0 --regexp '^\[1/[78]\] read\("/proc/self/mountinfo"\) +~ grep cgroup /proc/self/mountinfo$'
  assert_line --regexp '^\[[0-9]/[78]\] mkdir\(".*/lab-cpu-[0-9]+", 0755\)'
  assert_line --regexp '^      second 1: PID [0-9]+ lab-busy %CPU +[0-9.]+$'
  assert_line --regexp '^      nr_periods [0-9]+   nr_throttled [0-9]+   throttled '
  assert_line --regexp '^      busy loop PID [0-9]+; its CPU time from /proc/[0-9]+/(schedstat|stat) every second:$'
  if [[ $(cpu_version) == v1 ]]; then
    assert_line --index 1 --regexp ': using cpu.cfs_quota_us$'
    assert_line --regexp 'cpu.cfs_quota_us = -1 \(no limit\)   cpu.cfs_period_us = 100000$'
    assert_line --regexp '~ echo 20000 > .*/lab-cpu-[0-9]+/cpu.cfs_quota_us$'
    assert_line --regexp '~ echo [0-9]+ > .*/lab-cpu-[0-9]+/tasks$'
  else
    assert_line --index 1 --regexp ': using cpu.max$'
    assert_line --regexp 'cpu.max = "max 100000"$'
    assert_line --regexp '~ echo "20000 100000" > .*/lab-cpu-[0-9]+/cpu.max$'
    assert_line --partial 'no internal processes'
  fi
  assert_line --index -1 --regexp '^verdict: HELD - '
}

@test "cgroup-cpu: a period other than the default is narrated as the writes really made" {
  requires root
  run "$CG" --quota-us 10000 --period-us 50000 --seconds 1
  assert_success
  if [[ $(cpu_version) == v1 ]]; then
    # set_cpu_limit writes the period first, then the quota: both columns say so
    assert_line --regexp '^\[[0-9]/7\] write\(".*/lab-cpu-[0-9]+/cpu.cfs_period_us", "50000"\), write\(".*/lab-cpu-[0-9]+/cpu.cfs_quota_us", "10000"\) +~ echo 50000 > .*/cpu.cfs_period_us; echo 10000 > .*/cpu.cfs_quota_us$'
  else
    assert_line --regexp '^\[[0-9]/8\] write\(".*/lab-cpu-[0-9]+/cpu.max", "10000 50000"\) +~ echo "10000 50000" > .*/lab-cpu-[0-9]+/cpu.max$'
  fi
  assert_line --index -1 --regexp '^verdict: HELD - .* under a quota of 10000 of 50000 us \(20.0%\)'
  assert_nothing_left
}

@test "cgroup-cpu: --quiet prints only the verdict; no colour without a terminal" {
  requires root
  run "$CG" --quiet --seconds 1
  assert_success
  assert_equal "${#lines[@]}" 1
  assert_output --regexp '^verdict: HELD - '
  refute_output --partial $'\033['
}

@test "cgroup-cpu: Ctrl-C kills the loop and removes the cgroup" {
  requires root
  "$CG" --seconds 5 >/dev/null 2>"$BATS_TEST_TMPDIR/err" &
  pid=$!
  for _ in $(seq 50); do [[ -n $(lab_cgroups) ]] && break; sleep 0.1; done
  [[ -n $(lab_cgroups) ]]
  sleep 0.5
  kill -INT "$pid"
  status=0
  wait "$pid" || status=$?
  assert_equal "$status" 130
  grep -q 'interrupted; everything created so far was removed' "$BATS_TEST_TMPDIR/err"
  assert_nothing_left
}

@test "cgroup-cpu: bad values are refused in one line with exit 2, before anything is made" {
  local -a cases=(
    "--quota-us 0|the quota is 0 us; the kernel needs at least 1000 us"
    "--quota-us -5|the quota is -5 us"
    "--quota-us 500|the quota is 500 us; the kernel needs at least 1000 us"
    "--quota-us abc|not a number of microseconds: abc"
    "--period-us 0|the period is 0 us; the kernel accepts 1000 to 1000000 us"
    "--period-us 2000000|the period is 2000000 us"
    "--seconds 0|measure for 1 to 60 seconds"
    "--seconds soon|not a number of seconds"
    "--mode fast|--mode: fast not in {quota,shares}"
    "--quota-us 100000|one busy loop never uses more than 100%"
    "--quota-us 30000 --period-us 20000|give a quota below the period"
    "--quotas 5|see cgroup-cpu --help"
  )
  for c in "${cases[@]}"; do
    # shellcheck disable=SC2086  # the options are meant to split
    run "$CG" ${c%%|*}
    assert_failure 2
    assert_equal "${#lines[@]}" 1
    assert_output --partial "${c#*|}"
  done
  assert_equal "$(lab_cgroups)" ""
}

@test "cgroup-cpu: without root it says so in one line and exits non-zero" {
  run_as_nobody "$CG"
  assert_failure 1
  assert_equal "${#lines[@]}" 1
  assert_output --partial "needs root"
  assert_output --partial "sudo ./cgroup-cpu"
  assert_equal "$(lab_cgroups)" ""
}

@test "cgroup-cpu: --help explains every option" {
  run "$CG" --help
  assert_success
  for opt in --quota-us --period-us --seconds --mode --json --quiet; do
    assert_output --partial -- "$opt"
  done
  assert_output --partial "at least 1000, and less than --period-us"
}

@test "cgroup-cpu demo.sh: the shell version holds the loop near 20% on this host's cgroups" {
  requires root
  run "$LESSONS/04-cgroup-cpu/demo.sh" 20000 2
  assert_success
  assert_line --regexp "^\[1/6\] .*cpu controller: $(cpu_version) at "
  assert_line --regexp '^      limited: [0-9.]+% of one CPU \(asked for 20.0%\)$'
  assert_line --index -1 --partial 'verdict: HELD'
  assert_nothing_left
}

@test "cgroup-cpu demo.sh: refuses a bad quota and makes nothing" {
  run "$LESSONS/04-cgroup-cpu/demo.sh" 500
  assert_failure 2
  assert_output --partial "1000 to 99999 us"
  run "$LESSONS/04-cgroup-cpu/demo.sh" 20000 0
  assert_failure 2
  assert_equal "$(lab_cgroups)" ""
}

@test "cgroup-cpu: README transcripts match the real output (English and Chinese)" {
  requires root
  check_transcript "$LESSONS/04-cgroup-cpu/README.md" "$LESSONS/04-cgroup-cpu/README.zh.md"
}
