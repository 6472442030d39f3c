#!/usr/bin/env bats
# The engine (Docker's verbs) on pure cgroup v2, the layout most students have: --memory,
# --pids-limit and --cpus, the container's cgroup files, pause/unpause (cgroup.freeze) and rm,
# all checked inside tests/vm's throwaway VM (this build machine is a hybrid host, where
# tests/30-engine.bats and 32-engine-ops.bats check the same verbs on v1).
#
# A boot costs seconds (tcg here), so setup_file boots the VM once: tests/vm/engine-check.sh
# imports the busybox rootfs into an engine root on the VM's tmpfs root, runs every container
# there and prints "CHECK: WHAT" lines into $VM_OUT, which each test below reads.
load helpers
bats_require_minimum_version 1.5.0

setup_file() {
  VM_OUT="$BATS_FILE_TMPDIR/vm.out"
  export VM_OUT
  [[ $(id -u) -eq 0 && -r /dev/kvm && -w /dev/kvm && -x $ROOTFS/bin/busybox ]] || return 0
  "$PROJECT_DIR/tests/vm/prepare.sh"
  local status=0
  # minidocker is dynamic (its libraries come along, and the two it loads on first use:
  # graph/lazy_libs.cpp); minidocker-monitor and minirunc (the runtime the engine runs) are
  # static and must sit beside it, where the engine looks for them.
  "$PROJECT_DIR/tests/vm/run-in-vm.sh" --timeout 420 --module overlay \
    --add-program "$PROJECT_DIR/final/minidocker" \
    --add-library libarchive.so.13 --add-library libcrypto.so.3 \
    --add "$PROJECT_DIR/final/minidocker-monitor" \
    --add "$PROJECT_DIR/final/minirunc" --add "$ROOTFS" \
    "$PROJECT_DIR/tests/vm/engine-check.sh" "$PROJECT_DIR/final/minidocker" "$ROOTFS" \
    >"$VM_OUT.stdout" 2>"$VM_OUT.stderr" || status=$?
  {
    echo "vm-exit: $status"
    cat "$VM_OUT.stdout"
    sed 's/^/vm-stderr: /' "$VM_OUT.stderr"
  } >"$VM_OUT"
}

setup() {
  requires root kvm rootfs
  [[ -s $VM_OUT ]] || fail "setup_file did not run the VM"
  run cat "$VM_OUT"
}

# Bats shows this only for a failed test: everything the VM printed.
teardown() {
  echo "--- the VM's output ---"
  cat "$VM_OUT" 2>/dev/null || true
}

@test "engine on v2 (vm): the VM ran every check on a pure cgroup v2 host, the image imported" {
  assert_line "vm-exit: 0"
  assert_line --regexp '^host: 1 cgroup2 mount\(s\), controllers: .*\bmemory\b.*\bpids\b'
  assert_line --regexp '^engine-root: /var/lib/lab-engine on tmpfs'
  assert_line "import: exit=0"
  assert_line --regexp '^import-out: sha256:[0-9a-f]{64}$'
  assert_line "done"
}

# The VM's root is a tmpfs, which can hold an overlay upperdir: the engine picks overlay. Were
# overlay missing, the engine would fall back to vfs and this line would name it.
@test "engine on v2 (vm): the storage driver chosen on the VM's tmpfs is overlay" {
  assert_line "driver: overlay (merged is an overlay mount)"
}

@test "engine on v2 (vm): --memory 16m OOM-kills a 64 MiB program: 137, State.OOMKilled, ps" {
  assert_line "oom-rm: exit=137"
  assert_line "oom-d: run exit=0"
  assert_line "oom-d: wait=137"
  assert_line "oom-d: OOMKilled=true ExitCode=137"
  assert_line "oom-d: ps=Exited (137)"
  assert_line "oom-d: rm exit=0 cgroup=absent"
}

@test "engine on v2 (vm): --pids-limit 5 stops a loop of ten sleeps at the fifth fork" {
  assert_line "pids-out: started 4"
  refute_line "pids-out: started 5"
  refute_line "pids-out: all started"
  assert_line --regexp "^pids-out: .*can't fork"
}

@test "engine on v2 (vm): --cpus 0.5 holds a busy loop near 50%" {
  assert_line "cpu: exit=0"
  local line ticks u0 u1 percent
  line=$(grep '^cpu-out: ticks=' "$VM_OUT")
  [[ $line =~ ticks=([0-9]+)\ uptime0=([0-9]+)\ uptime1=([0-9]+) ]]
  ticks=${BASH_REMATCH[1]} u0=${BASH_REMATCH[2]} u1=${BASH_REMATCH[3]}
  # ticks/100 s of CPU over (u1-u0)/100 s of wall time, in percent
  percent=$((ticks * 100 / (u1 - u0)))
  echo "measured ${percent}%"
  ((percent >= 30 && percent <= 65))
}

@test "engine on v2 (vm): --memory 16m alone allows 16 MiB of swap (Docker's default): memory.swap.max" {
  assert_line "swap: run exit=0 memory.swap.max=16777216 MemorySwap=33554432"
}

@test "engine on v2 (vm): the container's cgroup is /sys/fs/cgroup/minidocker/ID with Docker's values" {
  assert_line "limits: run exit=0"
  assert_line --regexp '^limits: cgroup: /sys/fs/cgroup/minidocker/[0-9a-f]{64}$'
  assert_line "limits: memory.max: 16777216"
  assert_line "limits: memory.swap.max: 16777216" # --memory-swap 32m is memory + swap
  assert_line "limits: pids.max: 5"
  assert_line "limits: cpu.max: 50000 100000"
}

@test "engine on v2 (vm): pause freezes the cgroup (the counter stands), unpause thaws it" {
  refute_line --partial "the counter never reached 3"
  assert_line "pause: exit=0 out=lab-limits status=paused"
  assert_line "pause: cgroup.freeze=1 frozen 1"
  assert_line "pause: counter stood over 1 s"
  assert_line "unpause: exit=0 out=lab-limits status=running"
  assert_line "unpause: cgroup.freeze=0"
  assert_line "unpause: counter moved on"
}

@test "engine on v2 (vm): rm -f leaves no cgroup, no mount and no container" {
  assert_line "rm: exit=0 cgroup=absent"
  assert_line "rm: mounts under the engine root: 0"
  assert_line "rm: containers left: []"
  assert_line "rm: /sys/fs/cgroup/minidocker: absent"
}
