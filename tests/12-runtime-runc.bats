#!/usr/bin/env bats
# Differential: the same bundle and the same probe (tests/tools/probe.sh) under runc (Debian's
# runc package) and under our runtime; what each container sees is compared line by line. Where
# runc and ours differ on purpose, a filter below removes the line and says why; everything else
# must be identical.
load helpers
load runtime

setup() {
  requires root rootfs cmd:runc cmd:jq
  rt_setup
  B="$BATS_TEST_TMPDIR/bundle"
  RUNC_ROOT="$BATS_TEST_TMPDIR/runc"
}

# Every container either runtime knows under this test's roots goes (rt_id's IDs are recorded in
# a $(...) subshell, so RT_IDS alone would miss them).
teardown() {
  local id
  for id in $(runc --root "$RUNC_ROOT" list -q 2>/dev/null); do
    runc --root "$RUNC_ROOT" delete --force "$id" >/dev/null 2>&1 || true
  done
  for id in $(rt list -q 2>/dev/null); do
    rt delete --force "$id" >/dev/null 2>&1 || true
  done
  rt_teardown
}

# probe_bundle [JQ_FILTER]: the default bundle (runtime spec), changed by the filter, running
# the probe.
probe_bundle() {
  make_bundle "$B" "${1:-.}"
  cp "$PROJECT_DIR/tests/tools/probe.sh" "$B/rootfs/probe.sh"
  chmod 755 "$B/rootfs/probe.sh"
  set_args "$B" /probe.sh
}

# run_both: the bundle under ours, then under runc (with a cgroupsPath of its own, so that its
# cgroups are named and removed by delete); outputs in $BATS_TEST_TMPDIR/{ours,runc}.out.
run_both() {
  local ours="lab-rt-$BATS_SUITE_TEST_NUMBER-ours" runc_id="lab-rt-runc-$BATS_SUITE_TEST_NUMBER"
  rt run --bundle "$B" "$ours" >"$BATS_TEST_TMPDIR/ours.out" 2>"$BATS_TEST_TMPDIR/ours.err" ||
    fail "ours failed: $(cat "$BATS_TEST_TMPDIR/ours.err")"
  cp "$B/config.json" "$B/config.ours"
  # shellcheck disable=SC2016  # jq's $p
  edit_config "$B" '.linux.cgroupsPath = $p' --arg p "/$runc_id"
  runc --root "$RUNC_ROOT" run --bundle "$B" "$runc_id" \
    >"$BATS_TEST_TMPDIR/runc.out" 2>"$BATS_TEST_TMPDIR/runc.err" ||
    fail "runc failed: $(cat "$BATS_TEST_TMPDIR/runc.err")"
  cp "$B/config.ours" "$B/config.json"
  # Both probes ran to the end.
  [[ $(tail -1 "$BATS_TEST_TMPDIR/ours.out") == "done" ]]
  [[ $(tail -1 "$BATS_TEST_TMPDIR/runc.out") == "done" ]]
}

# The differences we mean, one filter per side, each with its reason.
filter_ours() {
  # On a hybrid host (v1 controllers plus an empty cgroup2 tree at /sys/fs/cgroup/unified) we
  # put the container in the cgroup2 tree too and show it at /sys/fs/cgroup/unified (our cgroups
  # module kills through its cgroup.kill); runc 1.1 mounts only the v1 hierarchies.
  grep -v '^mount: /sys/fs/cgroup/unified ' |
    # The tmpfs holding the hierarchies: the mount asks "ro" and we make it read-only at the end,
    # as we do for every tmpfs asked "ro"; runc 1.1 remounts only /dev read-only and leaves this
    # tmpfs writable. Ours is the stricter reading of the spec.
    sed -E 's|^(mount: /sys/fs/cgroup tmpfs )ro,(.*) ro,mode=755$|\1rw,\2 rw,mode=755|'
}

filter_runc() {
  cat
}

# diff_both: runc's view and ours, after the filters; the diff is the test's output on failure.
diff_both() {
  run diff -u <(filter_runc <"$BATS_TEST_TMPDIR/runc.out") <(filter_ours <"$BATS_TEST_TMPDIR/ours.out")
  if [[ $status -ne 0 ]]; then
    echo "--- runc, +++ ours:"
    echo "$output"
    return 1
  fi
}

@test "runc vs ours: the default bundle (runtime spec) looks the same from inside" {
  probe_bundle
  run_both
  diff_both
  # The probe saw what it should (a sanity check that the probe itself works).
  grep -qx 'pid: 1' "$BATS_TEST_TMPDIR/ours.out"
  grep -qx 'hostname: minidocker' "$BATS_TEST_TMPDIR/ours.out"
  # (/proc/kcore is absent on kernels without CONFIG_PROC_KCORE; /proc/keys is everywhere)
  grep -qx 'masked: /proc/keys file bytes=0' "$BATS_TEST_TMPDIR/ours.out"
  grep -qx 'writable: /proc/sysrq-trigger no' "$BATS_TEST_TMPDIR/ours.out"
  grep -qx 'unshare: Operation not permitted' "$BATS_TEST_TMPDIR/ours.out"
}

@test "runc vs ours: another user, fewer capabilities, rlimits, hostname, env and cwd" {
  probe_bundle '.hostname = "lab-box" | .process.env += ["LAB=hello"] | .process.cwd = "/tmp"
    | .process.user = {"uid": 1000, "gid": 1001, "additionalGids": [5, 7]}
    | .process.capabilities = {"bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_NET_BIND_SERVICE"],
        "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"], "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"], "ambient": ["CAP_KILL"]}
    | .process.rlimits = [{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256},
                          {"type": "RLIMIT_NPROC", "hard": 300, "soft": 200}]
    | .process.noNewPrivileges = false | .process.oomScoreAdj = 100'
  run_both
  diff_both
  grep -qx 'uid: 1000' "$BATS_TEST_TMPDIR/ours.out"
  grep -qx 'nofile: 256 512' "$BATS_TEST_TMPDIR/ours.out"
  grep -qx 'hostname: lab-box' "$BATS_TEST_TMPDIR/ours.out"
}

@test "runc vs ours: memory, pids and cpu limits as the container reads them from its cgroup" {
  probe_bundle '.linux.resources.memory = {"limit": 67108864, "swap": 134217728}
    | .linux.resources.pids = {"limit": 64}
    | .linux.resources.cpu = {"quota": 50000, "period": 100000, "shares": 512}'
  run_both
  diff_both
  grep -qE '^limit: (pids/)?pids.max 64$' "$BATS_TEST_TMPDIR/ours.out"
  grep -qE '^limit: memory/memory.limit_in_bytes 67108864$|^limit: memory.max 67108864$' \
    "$BATS_TEST_TMPDIR/ours.out"
}

@test "runc vs ours: a read-only root and no cgroup namespace" {
  probe_bundle '.root.readonly = true | .linux.namespaces -= [{"type": "cgroup"}]'
  run_both
  # Without a cgroup namespace /proc/self/cgroup names the container's cgroup by its host path,
  # and the two runtimes were given different cgroupsPaths: those paths are made equal here.
  sed -i -E "s|/minidocker/lab-rt-$BATS_SUITE_TEST_NUMBER-ours|/CONTAINER|" "$BATS_TEST_TMPDIR/ours.out"
  sed -i -E "s|/lab-rt-runc-$BATS_SUITE_TEST_NUMBER|/CONTAINER|" "$BATS_TEST_TMPDIR/runc.out"
  # runc also moves the container into the named v1 hierarchy name=systemd; we join only the
  # hierarchies with controllers (the cgroups module's choice, see runtime_cgroups_test), so ours
  # stays in the caller's systemd cgroup. With a cgroup namespace both print "/".
  sed -i -E 's|^(cgroup: name=systemd:).*|\1SYSTEMD|' "$BATS_TEST_TMPDIR/ours.out" "$BATS_TEST_TMPDIR/runc.out"
  diff_both
  grep -qx 'writable: / no' "$BATS_TEST_TMPDIR/ours.out"
}
