#!/usr/bin/env bats
# make doctor: every check OK / WARN / FAIL, and for each problem the exact fix.
load helpers

# /run/netns: taken away again if these tests made it (helpers.bash)
setup_file() { netns_mount_remember; }
teardown_file() { netns_mount_restore; }

setup() {
  DOCTOR="$PROJECT_DIR/doctor/doctor"
  TAG="test-$$-$BATS_TEST_NUMBER"
}

teardown() {
  # What a test made without a lab name is the test's to remove (doctor --clean must not).
  local m
  [[ -n ${KEEP_PID:-} ]] && { kill -KILL "$KEEP_PID" 2>/dev/null; wait "$KEEP_PID" 2>/dev/null; }
  for m in $(findmnt -rno TARGET | grep "^/tmp/keep-$TAG" | sort -r); do umount -l "$m"; done
  rm -rf --one-file-system "/tmp/keep-$TAG"
  for m in $(cgroup_hierarchies); do
    [[ -d $m/keep-$TAG ]] && rmdir "$m/keep-$TAG"
  done
  return 0
}

# The cgroup hierarchies to make test cgroups in: the cgroup2 mount and, where v1 is mounted,
# the v1 pids hierarchy.
cgroup_hierarchies() {
  findmnt -rno TARGET -t cgroup2 | head -1
  findmnt -rno TARGET,OPTIONS -t cgroup | awk '$2 ~ /(^|,)pids(,|$)/ { print $1; exit }'
}

# until DESCRIPTION CMD...: polls CMD (at most 30 s), fails with DESCRIPTION if it never holds.
until_true() {
  local what=$1 i
  shift
  for ((i = 0; i < 300; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  fail "waited 30 s for: $what"
}

# The final line when the checks pass: "can run every lesson", unless leftovers are listed.
# With --partial: that line anywhere in the output (make adds its own lines after it).
assert_passing_verdict() {
  local where=(--index -1)
  [[ ${1:-} == --partial ]] && where=()
  if [[ $output == *"WARN  leftovers"* ]]; then
    assert_line "${where[@]}" --regexp '^doctor: the lessons can run, but [0-9]+ leftover\(s\) .*doctor/doctor --clean removes them$'
  else
    assert_line "${where[@]}" "doctor: this machine can run every lesson"
  fi
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
  assert_line --regexp '^OK +temp dir exec +/tmp.* allows exec$'
  assert_passing_verdict
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
  assert_passing_verdict --partial
}

@test "doctor: a /tmp mounted noexec is a FAIL with the fix" {
  requires root cmd:unshare
  # in a private mount namespace: the host's /tmp is never touched
  run unshare -m sh -c "mount -t tmpfs -o noexec tmpfs /tmp && '$DOCTOR'"
  assert_failure 1
  assert_line --regexp '^FAIL +temp dir exec +/tmp is mounted noexec: programs copied there cannot run$'
  assert_line --partial 'fix: allow exec there: mount -o remount,exec /tmp'
}

@test "doctor: a lab-* cgroup with a process in it is listed; --clean kills it and removes the cgroup; a non-lab cgroup survives" {
  requires root
  local h lab_pid hierarchies
  hierarchies=$(cgroup_hierarchies | tr '\n' ' ')
  for h in $hierarchies; do
    mkdir -p "$h/lab-$TAG/inner" "$h/keep-$TAG"
  done
  # one process in lab-*/inner of every hierarchy, one in keep-* of every hierarchy
  sh -c 'for h in '"$hierarchies"'; do echo $$ > "$h/lab-'"$TAG"'/inner/cgroup.procs"; done; exec sleep 1000' &
  lab_pid=$!
  sh -c 'for h in '"$hierarchies"'; do echo $$ > "$h/keep-'"$TAG"'/cgroup.procs"; done; exec sleep 1000' &
  KEEP_PID=$!
  for h in $hierarchies; do
    until_true "the sleeper in $h/lab-$TAG/inner" grep -qx "$lab_pid" "$h/lab-$TAG/inner/cgroup.procs"
    until_true "the sleeper in $h/keep-$TAG" grep -qx "$KEEP_PID" "$h/keep-$TAG/cgroup.procs"
  done

  run "$DOCTOR"
  assert_line --regexp '^WARN +leftovers +[0-9]+ thing\(s\) left behind by killed lesson runs'
  assert_line --partial 'fix: doctor/doctor --clean removes exactly these'
  for h in $hierarchies; do
    assert_line "      - cgroup $h/lab-$TAG: cgroup made by a lesson, 1 process(es) still in it (killed first)"
    refute_line --partial "keep-$TAG"
  done
  refute_line "doctor: this machine can run every lesson"
  assert_line --index -1 --partial 'doctor/doctor --clean removes them'

  run "$DOCTOR" --clean
  assert_success
  assert_line --index -1 --regexp '^doctor --clean: removed [0-9]+ leftover\(s\); nothing left$'
  for h in $hierarchies; do
    assert_line "removed cgroup $h/lab-$TAG (cgroup made by a lesson, 1 process(es) still in it (killed first))"
    [[ ! -e $h/lab-$TAG ]]
    [[ -d $h/keep-$TAG ]]
    grep -qx "$KEEP_PID" "$h/keep-$TAG/cgroup.procs"
  done
  # the lab process died of SIGKILL; the other one still runs
  local rc=0
  wait "$lab_pid" || rc=$?
  assert_equal "$rc" 137
  kill -0 "$KEEP_PID"
}

@test "doctor: a /tmp/lab-* dir with a tmpfs mounted under it is listed; --clean detaches and removes it; a non-lab dir survives" {
  requires root
  local d
  for d in "/tmp/lab-$TAG" "/tmp/keep-$TAG"; do
    mkdir -p "$d/sub/mnt"
    echo data >"$d/file"
    mount -t tmpfs tmpfs "$d/sub/mnt"
    echo inside >"$d/sub/mnt/in-tmpfs"
  done

  run "$DOCTOR"
  assert_line "      - dir /tmp/lab-$TAG: temporary directory of a lesson, 1 mount(s) under it (detached first)"
  assert_line "        removed by: umount -l /tmp/lab-$TAG/sub/mnt; rm -rf --one-file-system /tmp/lab-$TAG"
  refute_line --partial "keep-$TAG"

  run "$DOCTOR" --clean
  assert_success
  assert_line "removed dir /tmp/lab-$TAG (temporary directory of a lesson, 1 mount(s) under it (detached first))"
  [[ ! -e /tmp/lab-$TAG ]]
  run findmnt -rno TARGET
  refute_line --regexp "^/tmp/lab-$TAG"
  [[ $(cat "/tmp/keep-$TAG/sub/mnt/in-tmpfs") == inside ]]
  [[ $(cat "/tmp/keep-$TAG/file") == data ]]
}

@test "doctor: a named netns lab-* is listed and --clean deletes it; a non-lab one survives" {
  requires root cmd:ip cmd:unshare
  # In a private mount namespace with its own /run: `ip netns add` makes /run/netns a mount of
  # its own the first time, and that mount must not outlive the test on the host.
  run unshare -m --propagation private bash -c '
    mount -t tmpfs lab-run /run || exit 1
    ip netns add "lab-$1" && ip netns add "keep-$1" || exit 1
    echo "== doctor"; "$2"
    echo "== clean"; "$2" --clean; echo "clean status $?"
    echo "== after"; ip netns list; [ -e "/run/netns/lab-$1" ] && echo "lab netns still there"
    ip netns delete "keep-$1"' _ "$TAG" "$DOCTOR"
  assert_line "      - netns /run/netns/lab-$TAG: named network namespace made by a lesson"
  assert_line "        removed by: ip netns delete lab-$TAG"
  refute_line --partial "netns /run/netns/keep-$TAG"
  assert_line "removed netns /run/netns/lab-$TAG (named network namespace made by a lesson)"
  assert_line "clean status 0"
  assert_line --regexp "^keep-$TAG( |$)"
  refute_line --regexp "^lab-$TAG( |$)"
  refute_line "lab netns still there"
}

@test "doctor: lab links, iptables rules and chains and a saved sysctl are listed; --clean removes them and restores the sysctl; the rest survives" {
  requires root cmd:unshare cmd:ip cmd:iptables
  local ns_script
  # All of it inside a throwaway network namespace; doctor runs in that same namespace.
  # shellcheck disable=SC2016  # expanded by the bash inside the namespace
  ns_script='
    set -e
    ip link add lab0 type bridge
    ip addr add 172.29.0.1/24 dev lab0
    ip link set lab0 up
    ip link add lab-ta type veth peer name lab-tb
    ip link add keep0 type bridge
    iptables -w -A FORWARD -i lab0 -m comment --comment "lab-test forward" -j ACCEPT
    iptables -w -t nat -A POSTROUTING -s 172.29.0.0/24 ! -o lab0 -m comment --comment lab-test -j MASQUERADE
    iptables -w -N LAB-TEST
    iptables -w -A LAB-TEST -j RETURN
    iptables -w -I FORWARD -j LAB-TEST
    iptables -w -t nat -N LAB-TEST-NAT
    iptables -w -A FORWARD -m comment --comment keep-test -j ACCEPT
    iptables -w -N KEEP-TEST
    ino=$(stat -Lc %i /proc/self/ns/net)
    mkdir -p /run/lab/sysctl/$ino
    old=$(cat /proc/sys/net/ipv4/ip_forward)
    echo "$old" >/run/lab/sysctl/$ino/net.ipv4.ip_forward
    echo $((1 - old)) >/proc/sys/net/ipv4/ip_forward
    echo "== saved $old inode $ino"
    echo "== doctor"
    "$DOCTOR" || true
    echo "== clean"
    "$DOCTOR" --clean || echo "clean exit $?"
    echo "== after"
    ip -o link show | sed "s/^[0-9]*: //; s/[@:].*//" | sed "s/^/link /"
    iptables -w -S | sed "s/^/filter /"
    iptables -w -t nat -S | sed "s/^/nat /"
    echo "ip_forward $(cat /proc/sys/net/ipv4/ip_forward)"
    [ -e /run/lab/sysctl/$ino ] && echo "saved dir still there" || true
  '
  run env DOCTOR="$DOCTOR" TAG="$TAG" unshare -n bash -c "$ns_script"
  local old ino
  old=$(sed -n 's/^== saved \([01]\) inode .*/\1/p' <<<"$output")
  ino=$(sed -n 's/^== saved [01] inode \([0-9]*\)$/\1/p' <<<"$output")
  [[ -n $old && -n $ino ]] || fail "the namespace script did not get far: $output"
  doctor=$(sed -n '/^== doctor$/,/^== clean$/p' <<<"$output")
  clean=$(sed -n '/^== clean$/,/^== after$/p' <<<"$output")
  after=$(sed -n '/^== after$/,$p' <<<"$output")

  # doctor lists each, and the stale lab0 gets doctor --clean as its fix, not another subnet
  run echo "$doctor"
  assert_line "      - link lab0: network link made by a lesson, in this network namespace"
  assert_line "      - link lab-ta: network link made by a lesson, in this network namespace"
  assert_line "      - link lab-tb: network link made by a lesson, in this network namespace"
  assert_line "        removed by: ip link del lab0"
  assert_line '      - iptables-rule filter: -A FORWARD -i lab0 -m comment --comment "lab-test forward" -j ACCEPT: firewall rule in the filter table, made by a lesson'
  assert_line "        removed by: iptables -w -t filter -D FORWARD -i lab0 -m comment --comment 'lab-test forward' -j ACCEPT"
  assert_line --regexp '^      - iptables-rule nat: -A POSTROUTING -s 172\.29\.0\.0/24 ! -o lab0 .*--comment lab-test -j MASQUERADE: '
  assert_line '      - iptables-rule filter: -A FORWARD -j LAB-TEST: firewall rule in the filter table, made by a lesson'
  assert_line --partial '      - iptables-chain filter: LAB-TEST: firewall chain'
  assert_line --partial '      - iptables-chain nat: LAB-TEST-NAT: firewall chain'
  assert_line "      - sysctl /run/lab/sysctl/$ino/net.ipv4.ip_forward: net.ipv4.ip_forward was $old before a lesson changed it (now $((1 - old))), in this network namespace"
  assert_line "        removed by: sysctl -w net.ipv4.ip_forward=$old && rm /run/lab/sysctl/$ino/net.ipv4.ip_forward"
  assert_line --regexp '^WARN +bridge subnet +172\.29\.0\.0/24 overlaps the route to 172\.29\.0\.0/24: a stale lab0 bridge'
  assert_line --partial 'fix: remove it (and the other lab leftovers): doctor/doctor --clean'
  refute_line --partial 'another subnet'
  refute_line --partial keep
  refute_line --partial KEEP

  run echo "$clean"
  refute_line --partial FAILED
  refute_line --partial 'clean exit'
  assert_line --regexp '^doctor --clean: removed [0-9]+ leftover\(s\); nothing left$'

  # gone: every lab thing; restored: ip_forward; still there: every non-lab thing
  run echo "$after"
  refute_line --regexp '^link lab'
  refute_line --partial 'lab-test'
  refute_line --partial 'LAB-'
  assert_line "ip_forward $old"
  refute_line "saved dir still there"
  assert_line "link keep0"
  assert_line "link lo"
  assert_line 'filter -A FORWARD -m comment --comment keep-test -j ACCEPT'
  assert_line 'filter -N KEEP-TEST'
}

@test "doctor: --clean without root says to run it as root, and removes nothing" {
  run_as_nobody "$DOCTOR" --clean
  assert_failure 1
  assert_output --partial 'needs root'
}

@test "doctor: --json lists each leftover with kind, name, what and the command that removes it" {
  requires root
  mkdir -p "/tmp/lab-$TAG"
  run "$DOCTOR" --json
  entry=$(jq -c --arg n "/tmp/lab-$TAG" '.[] | select(.check == "leftovers") | .leftovers[] | select(.name == $n)' <<<"$output")
  assert_equal "$entry" '{"kind":"dir","name":"/tmp/lab-'"$TAG"'","remove":"rm -rf --one-file-system /tmp/lab-'"$TAG"'","what":"temporary directory of a lesson"}'
  assert_equal "$(jq -r '.[] | select(.check == "leftovers") | .status' <<<"$output")" WARN
  run "$DOCTOR" --clean --json
  assert_success
  assert_equal "$(jq -r --arg n "/tmp/lab-$TAG" '.removed[] | select(.name == $n) | .kind' <<<"$output")" dir
  assert_equal "$(jq '.remaining | length' <<<"$output")" 0
  [[ ! -e /tmp/lab-$TAG ]]
}
