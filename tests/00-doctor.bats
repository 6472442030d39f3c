#!/usr/bin/env bats
# make doctor: every check OK / WARN / FAIL, and for each problem the exact fix.
load helpers

setup() {
  DOCTOR="$PROJECT_DIR/doctor/doctor"
}

@test "doctor: this machine passes every check that a lesson needs" {
  requires root rootfs
  run "$DOCTOR"
  assert_success
  assert_line --regexp '^OK +root '
  assert_line --regexp '^OK +cgroups .*cpu controller'
  assert_line --regexp '^OK +overlayfs '
  assert_line --regexp '^OK +busybox rootfs '
  assert_line --regexp '^OK +bridge subnet +172\.29\.0\.0/24 is free'
  assert_line --index -1 "doctor: this machine can run every lesson"
  refute_line --regexp '^FAIL'
}

@test "doctor: the cgroup line names the mode this host really has" {
  requires root
  run "$DOCTOR" --json
  assert_success
  detail=$(jq -r '.[] | select(.check == "cgroups") | .detail' <<<"$output")
  if grep -q ' cgroup2 ' /proc/self/mounts && grep -q ' cgroup ' /proc/self/mounts; then
    [[ $detail == hybrid:* ]]
  elif grep -q ' cgroup2 ' /proc/self/mounts; then
    [[ $detail == "cgroup v2"* ]]
  else
    [[ $detail == "cgroup v1"* ]]
  fi
}

@test "doctor: a missing rootfs is a FAIL with the fix 'make rootfs'" {
  run "$DOCTOR" --rootfs /nonexistent/rootfs
  assert_failure 1
  assert_line --regexp '^FAIL +busybox rootfs +/nonexistent/rootfs/bin/busybox is missing$'
  assert_line --regexp 'fix: build it: make rootfs$'
  assert_line --index -1 --regexp '^doctor: [0-9]+ problem\(s\) to fix first$'
}

@test "doctor: a route that overlaps the bridge lesson's subnet is a WARN with the fix" {
  requires root cmd:unshare cmd:ip
  # in a throwaway network namespace, so the host's routes are never touched
  run unshare -n sh -c "ip link set lo up && ip route add 172.29.0.0/16 dev lo && '$DOCTOR'"
  assert_line --regexp '^WARN +bridge subnet +172\.29\.0\.0/24 overlaps the route to 172\.29\.0\.0/16 on this host$'
  assert_line --partial 'fix: give the bridge lesson another subnet: ./bridge --subnet'
}

@test "doctor: without root it says to use sudo" {
  run_as_nobody "$DOCTOR"
  assert_failure 1
  assert_line --regexp '^FAIL +root +running as uid 65534'
  assert_line --partial 'fix: run it with sudo'
}

@test "doctor: --json is one array of checks with status and fix" {
  run "$DOCTOR" --json
  [[ $(jq 'length' <<<"$output") -ge 8 ]]
  [[ $(jq -r '[.[].status] | unique | map(select(. != "OK" and . != "WARN" and . != "FAIL")) | length' <<<"$output") == 0 ]]
}

@test "doctor: make doctor runs it" {
  requires root rootfs
  run make -C "$PROJECT_DIR" doctor
  assert_success
  assert_output --partial "doctor: this machine can run every lesson"
}
