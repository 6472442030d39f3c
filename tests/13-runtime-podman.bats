#!/usr/bin/env bats
# podman (Debian's 4.3, with conmon) on top of final/minirunc: a real engine drives our runtime
# with runc's command line - create with --console-socket for -t, start, state, kill, delete
# --force, exec --process FILE - and config.json as podman writes it (umask, rlimits, seccomp,
# devices, maskedPaths, its own mounts). Each test proves the container's side: its output, its
# exit code, its tty.
#
# No registry: the image is the busybox rootfs imported as a tarball. Nothing of podman's stays
# on the host: its storage, run root, temp dir, locks, events and the runtime's own state live in
# this file's temporary directory (flags where podman has them, containers.conf for the rest),
# the network is "none" (no netavark, CNI or firewall rules), and the cgroups are /lab-podman-N.
# shellcheck disable=SC2016  # $(...) in single quotes: the container's shell expands them
load helpers

IMAGE=localhost/lab-busybox

setup_file() {
  PT="$BATS_FILE_TMPDIR"
  export PT
  [[ $(id -u) -eq 0 && -x $ROOTFS/bin/busybox ]] && command -v podman >/dev/null || return 0
  mkdir -p "$PT/bin" "$PT/runtime" "$PT/tmp"
  # podman 4.3 gives --runtime-flag to create and start but not to delete, so the runtime's
  # --root (its state; /run/minidocker/runtime by default) comes from a wrapper. It keeps the
  # name minirunc: podman looks runtimes up by name in runtime_supports_json.
  cat >"$PT/bin/minirunc" <<EOF
#!/bin/sh
exec "$PROJECT_DIR/final/minirunc" --root "$PT/runtime" "\$@"
EOF
  chmod +x "$PT/bin/minirunc"
  # What podman has no command-line flag for. default_ulimits: podman asks for nofile and nproc
  # of 1048576 otherwise, and raising a hard limit needs CAP_SYS_RESOURCE, which root in a
  # sandbox may lack; lowering is always allowed.
  cat >"$PT/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=1024:1024", "nproc=32768:32768"]
[engine]
events_logfile_path = "$PT/events.log"
image_copy_tmp_dir = "$PT/tmp"
lock_type = "file"
static_dir = "$PT/storage/libpod"
tmp_dir = "$PT/tmp"
volume_path = "$PT/storage/volumes"
runtime_supports_json = ["minirunc"]
[network]
network_config_dir = "$PT/net"
EOF
  printf '[storage]\ndriver = "vfs"\nrunroot = "%s/run"\ngraphroot = "%s/storage"\n' "$PT" "$PT" \
    >"$PT/storage.conf"
  touch "$PT/registries.conf"
  # The copy into storage writes a blob cache to /var/lib/containers/cache whatever the flags
  # say (containers/image's default for root): a tmpfs over /var/lib, in a mount namespace of
  # the import's own, takes it.
  tar -C "$ROOTFS" -c . |
    unshare -m --propagation private sh -c 'mount -t tmpfs lab-podman-cache /var/lib && "$@"' \
      sh env "${POD_ENV[@]}" podman "${POD_FLAGS[@]}" import -q - "$IMAGE" >/dev/null
}

POD_ENV=(CONTAINERS_CONF="$BATS_FILE_TMPDIR/containers.conf"
  CONTAINERS_STORAGE_CONF="$BATS_FILE_TMPDIR/storage.conf"
  CONTAINERS_REGISTRIES_CONF="$BATS_FILE_TMPDIR/registries.conf")
POD_FLAGS=(--root "$BATS_FILE_TMPDIR/storage" --runroot "$BATS_FILE_TMPDIR/run"
  --tmpdir "$BATS_FILE_TMPDIR/tmp" --storage-driver vfs --cgroup-manager=cgroupfs
  --events-backend=file --runtime "$BATS_FILE_TMPDIR/bin/minirunc")

pod() {
  env "${POD_ENV[@]}" podman "${POD_FLAGS[@]}" "$@"
}

# minirunc on podman's containers, to see what the runtime itself knows.
minirunc() {
  "$PROJECT_DIR/final/minirunc" --root "$PT/runtime" "$@"
}

setup() {
  requires root rootfs cmd:podman
  # The container's cgroup is <parent>/libpod-<id> (made and removed by minirunc); podman puts
  # conmon in <parent>/conmon.
  CG_PARENT="/lab-podman-$BATS_SUITE_TEST_NUMBER"
}

# Podman leaves the parent cgroup and conmon's; they go here (deepest first).
remove_cgroups() {
  find /sys/fs/cgroup -maxdepth 3 -depth \( -path "*$CG_PARENT" -o -path "*$CG_PARENT/*" \) -type d \
    -print0 2>/dev/null | xargs -0 -r rmdir 2>/dev/null || true
}

teardown() {
  pod rm --all --force --time 0 >/dev/null 2>&1 || true
  remove_cgroups
}

teardown_file() {
  [[ -d $PT/storage ]] || return 0
  pod rmi --all --force >/dev/null 2>&1 || true
  # A container's /dev/shm is a tmpfs podman mounts under the storage; rm removes it, but a test
  # killed halfway could leave one.
  findmnt -rn -o TARGET | grep "^$PT/" | sort -r | xargs -r umount -l || true
}

@test "podman: run --rm prints the container's output, and minirunc ran it" {
  run pod info --format '{{.Host.OCIRuntime.Path}}'
  assert_output "$PT/bin/minirunc"
  run pod run --rm --cgroup-parent "$CG_PARENT" "$IMAGE" echo hi
  assert_success
  assert_output hi
  # delete --force ran: nothing of the container is left in the runtime's state.
  run minirunc list -q
  assert_output ""
}

@test "podman: the exit code of the container's program passes through" {
  run pod run --rm --cgroup-parent "$CG_PARENT" "$IMAGE" sh -c 'exit 3'
  assert_equal "$status" 3
}

@test "podman: run's options reach the process (user, env, cwd, hostname, read-only root)" {
  run pod run --rm --cgroup-parent "$CG_PARENT" --user 1000:1000 -e LAB=x -w /tmp \
    --hostname labhost --read-only "$IMAGE" \
    sh -c 'echo $(id -u):$(id -g) $LAB $(pwd) $(hostname); touch /bin/x 2>/dev/null || echo ro'
  assert_success
  assert_output "1000:1000 x /tmp labhost
ro"
}

@test "podman: --tmpfs starts with a copy of what the directory held (tmpcopyup)" {
  run pod run --rm --cgroup-parent "$CG_PARENT" --read-only --tmpfs /etc "$IMAGE" \
    sh -c 'cat /etc/group; awk "\$2 == \"/etc\" {print \$3}" /proc/mounts; touch /etc/x && echo rw'
  assert_success
  assert_output "$(cat "$ROOTFS/etc/group")
tmpfs
rw"
}

@test "podman: run -d, exec (output, exit code, -t), stop by SIGTERM, rm; nothing left" {
  host_state >"$BATS_TEST_TMPDIR/before"
  id=$(pod run -d --name lab-web --cgroup-parent "$CG_PARENT" "$IMAGE" \
    sh -c 'trap "exit 0" TERM; touch /tmp/ready; sleep 1000 & wait')
  # minirunc holds the container, and its init is the one podman knows.
  run minirunc state "$id"
  assert_success
  [[ $(jq -r .status <<<"$output") == running ]]
  [[ $(jq -r .pid <<<"$output") == "$(pod inspect --format '{{.State.Pid}}' lab-web)" ]]

  run pod exec lab-web sh -c 'echo in $(cat /proc/1/comm); exit 5'
  assert_equal "$status" 5
  assert_output "in sh"
  run pod exec -t lab-web tty </dev/null
  assert_success
  assert_output --regexp '^/dev/pts/[0-9]+'$'\r''?$'

  # SIGTERM only stops a PID 1 that handles it: wait (bounded) until the trap is set.
  run pod exec lab-web timeout 10 sh -c 'until [ -e /tmp/ready ]; do sleep 0.01; done'
  assert_success
  run pod stop --time 30 lab-web
  assert_success
  # 0, not 137: the trap ran, so SIGTERM (minirunc kill) reached the container's init.
  run pod inspect --format '{{.State.Status}} {{.State.ExitCode}}' lab-web
  assert_output "exited 0"

  run pod rm lab-web
  assert_success
  [[ ! -e $PT/runtime/$id ]]
  [[ -z $(find /sys/fs/cgroup -maxdepth 3 -name "libpod-$id") ]]
  remove_cgroups
  host_state >"$BATS_TEST_TMPDIR/after"
  run "$PROJECT_DIR/tests/leakcheck.sh" compare "$BATS_TEST_TMPDIR/before" \
    "$BATS_TEST_TMPDIR/after"
  assert_success
}

@test "podman: run -t gives the program a pty (conmon gets the master over the console socket)" {
  run pod run -t --rm --cgroup-parent "$CG_PARENT" "$IMAGE" tty </dev/null
  assert_success
  assert_output --regexp '^/dev/pts/0'$'\r''?$'
  run pod run --rm --cgroup-parent "$CG_PARENT" "$IMAGE" tty </dev/null
  assert_failure 1
  assert_output "not a tty"
}

@test "podman: ps -a shows a finished container as Exited with its code" {
  run pod run --name lab-done --cgroup-parent "$CG_PARENT" "$IMAGE" sh -c 'exit 4'
  assert_equal "$status" 4
  run pod ps -a --format '{{.Names}} {{.Status}}'
  assert_output --regexp '^lab-done Exited \(4\) '
  run pod inspect --format '{{.State.Status}} {{.State.ExitCode}}' lab-done
  assert_output "exited 4"
  run pod rm lab-done
  assert_success
  run minirunc list -q
  assert_output ""
}
