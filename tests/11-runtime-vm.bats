#!/usr/bin/env bats
# final/'s OCI runtime on pure cgroup v2, the layout most students have: the memory, pids and cpu
# limits, the default spec's device rules (a BPF program on v2), the cgroup namespace and the
# lifecycle's cleanup, all checked inside tests/vm's throwaway VM (this build machine is a
# hybrid host, where tests/10-runtime.bats checks the same things on v1).
#
# A boot costs seconds (tcg here), so setup_file boots the VM once: tests/vm/runtime-check.sh
# runs every container inside and prints "CHECK: WHAT" lines into $VM_OUT, which each test
# below reads. The bundles are made here, on the host, with jq (the VM has only busybox).
load helpers
bats_require_minimum_version 1.5.0

# The container's argument list, as JSON (an argument may hold newlines: one --arg each).
args_json() {
  local arg
  for arg in "$@"; do jq -n --arg a "$arg" '$a'; done | jq -s .
}

# make_vm_bundle NAME JQ_FILTER [ARGS...]: $BUNDLES/NAME/config.json, `runtime spec`'s default
# changed by the filter, with process.args ARGS, and root.path the one shared rootfs.
make_vm_bundle() {
  local filter=$2 dir=$BUNDLES/$1
  shift 2
  mkdir -p "$dir"
  "$PROJECT_DIR/final/minidocker" runtime spec --bundle "$dir"
  jq --arg root "$BUNDLES/rootfs" --argjson args "$(args_json "$@")" \
    "$filter | .root.path = \$root | .process.args = \$args" "$dir/config.json" >"$dir/config.new"
  mv "$dir/config.new" "$dir/config.json"
}

setup_file() {
  VM_OUT="$BATS_FILE_TMPDIR/vm.out"
  export VM_OUT
  [[ $(id -u) -eq 0 && -r /dev/kvm && -w /dev/kvm && -x $ROOTFS/bin/busybox ]] || return 0
  "$PROJECT_DIR/tests/vm/prepare.sh"
  BUNDLES="$BATS_FILE_TMPDIR/lab-bundles"
  mkdir -p "$BUNDLES"
  cp -a "$ROOTFS" "$BUNDLES/rootfs"

  make_vm_bundle memory '.linux.resources.memory = {"limit": 16777216, "swap": 16777216}' \
    dd if=/dev/zero of=/dev/null bs=64M count=1
  make_vm_bundle pids '.linux.resources.pids = {"limit": 4}' \
    sh -c 'for i in 1 2 3 4 5 6; do sleep 100 & done; wait'
  # The loop measures itself: its CPU time (utime + stime of /proc/PID/stat, in ticks of 1/100 s
  # on x86) over the wall time /proc/uptime counts (hundredths), over two seconds.
  # shellcheck disable=SC2016 # expanded by the container's sh
  make_vm_bundle cpu '.linux.resources.cpu = {"quota": 20000, "period": 100000}' \
    sh -c 'while :; do :; done & loop=$!; read -r t0 _ < /proc/uptime; sleep 2; read -r t1 _ < /proc/uptime
      set -- $(cat /proc/$loop/stat); echo "ticks=$((${14} + ${15})) uptime0=${t0%.*}${t0#*.} uptime1=${t1%.*}${t1#*.}"; kill $loop'
  # The default spec's devices (deny all, then the always-allowed ones); 1:1 is /dev/mem, 10:229
  # /dev/fuse (no module loaded in the VM: outside the container its open fails otherwise), 1:7
  # /dev/full (always allowed, also through a node made here).
  # shellcheck disable=SC2016 # expanded by the container's sh
  make_vm_bundle default '.linux.resources.memory = {"limit": 67108864, "swap": 134217728}
      | .linux.resources.pids = {"limit": 64} | .linux.resources.cpu = {"quota": 50000, "period": 100000}' \
    sh -c 'head -c 1 /dev/null && echo "null: readable"
      mknod /dev/lab-mem c 1 1 && mknod /dev/lab-fuse c 10 229 && mknod /dev/lab-full c 1 7 && echo "mknod: ok"
      echo "open 1:1: $(head -c 1 /dev/lab-mem 2>&1 >/dev/null)"
      echo "open 10:229: $(head -c 1 /dev/lab-fuse 2>&1 >/dev/null)"
      echo "open 1:7: $(head -c 1 /dev/lab-full | wc -c) byte"
      echo "proc-self-cgroup: $(cat /proc/self/cgroup)"
      echo "cgroup-mount: $(grep " /sys/fs/cgroup " /proc/mounts)"
      for f in memory.max memory.swap.max pids.max cpu.max; do echo "$f: $(cat /sys/fs/cgroup/$f)"; done'
  make_vm_bundle lifecycle . sleep 1000

  local status=0
  "$PROJECT_DIR/tests/vm/run-in-vm.sh" --timeout 170 \
    --add-program "$PROJECT_DIR/final/minidocker" --add "$BUNDLES" \
    "$PROJECT_DIR/tests/vm/runtime-check.sh" "$PROJECT_DIR/final/minidocker" "$BUNDLES" \
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

@test "runtime on v2 (vm): the VM ran every check on a pure cgroup v2 host" {
  assert_line "vm-exit: 0"
  assert_line --regexp '^host: 1 cgroup2 mount\(s\), controllers: .*\bmemory\b'
  assert_line "done"
  assert_line "left: "
}

@test "runtime on v2 (vm): a memory limit OOM-kills the program (exit 137)" {
  assert_line "memory: exit=137"
}

@test "runtime on v2 (vm): a pids limit makes fork fail" {
  assert_line --regexp "^pids-out: .*can't fork"
}

@test "runtime on v2 (vm): a cpu quota of 20% holds a busy loop near 20%" {
  assert_line "cpu: exit=0"
  local line ticks u0 u1 percent
  line=$(grep '^cpu-out: ticks=' "$VM_OUT")
  [[ $line =~ ticks=([0-9]+)\ uptime0=([0-9]+)\ uptime1=([0-9]+) ]]
  ticks=${BASH_REMATCH[1]} u0=${BASH_REMATCH[2]} u1=${BASH_REMATCH[3]}
  # ticks/100 s of CPU over (u1-u0)/100 s of wall time, in percent
  percent=$((ticks * 100 / (u1 - u0)))
  echo "measured ${percent}%"
  ((percent >= 10 && percent <= 30))
}

@test "runtime on v2 (vm): the default spec's devices: /dev/null readable, other nodes refused by the BPF filter" {
  assert_line "default: exit=0"
  assert_line "default-out: null: readable"
  assert_line "default-out: mknod: ok"
  assert_line --regexp '^default-out: open 1:1: head: .*Operation not permitted$'
  assert_line --regexp '^default-out: open 10:229: head: .*Operation not permitted$'
  assert_line "default-out: open 1:7: 1 byte"
}

@test "runtime on v2 (vm): /sys/fs/cgroup inside is the container's own cgroup2, with its limit" {
  assert_line "default-out: proc-self-cgroup: 0::/"
  assert_line --regexp '^default-out: cgroup-mount: cgroup2? /sys/fs/cgroup cgroup2 '
  assert_line "default-out: memory.max: 67108864"
  assert_line "default-out: memory.swap.max: 67108864" # v2's swap alone: OCI's memory+swap - limit
  assert_line "default-out: pids.max: 64"
  assert_line "default-out: cpu.max: 50000 100000"
}

@test "runtime on v2 (vm): create clones the init into its cgroup; start, kill and delete leave no cgroup under /sys/fs/cgroup/minidocker" {
  assert_line "lifecycle: create exit=0 status=created"
  assert_line "lifecycle: cgroup after create: yes"
  assert_line "lifecycle: cgroup.procs after create: 1"
  assert_line "lifecycle: clone3 into the cgroup: 1"
  assert_line "lifecycle: cgroup.procs writes: 0"
  assert_line "lifecycle: start exit=0 status=running"
  assert_line "lifecycle: exec exit=0"
  assert_line "lifecycle: exec cloned into the cgroup: 1"
  assert_line "lifecycle-out: exec-cgroup: 0::/"
  assert_line "lifecycle: cgroup.procs after exec: 1" # exec's process has gone
  assert_line "lifecycle: kill exit=0"
  assert_line "lifecycle: after kill status=stopped"
  assert_line "lifecycle: delete exit=0"
  assert_line "lifecycle: state after delete: gone"
  assert_line "lifecycle: /sys/fs/cgroup/minidocker: absent"
}

# The VM's root starts with an empty cgroup.subtree_control (no systemd): create writes +cpu
# +memory +pids there, and the delete of the last container (another process: the grants come
# from state.json) takes them back.
@test "runtime on v2 (vm): delete --force kills a running container; the root's subtree_control is as it was" {
  assert_line "force: status=running"
  assert_line "force: delete exit=0 cgroup=absent"
  local before after
  before=$(grep '^root subtree_control before: ' "$VM_OUT")
  after=$(grep '^root subtree_control after: ' "$VM_OUT")
  assert_equal "${after#*: }" "${before#*: }"
}
