#!/usr/bin/env bats
# final/daemon-session.sh: the real docker client's session against `minidocker daemon` (load,
# run with output and an exit code, a web server with -p, -v and --memory, ps, exec, inspect,
# stop, rm, the client's error for a missing name, build), with its verdict. It holds, and it
# leaves nothing on the host: no daemon, socket, engine root, namespace, mount, cgroup, link,
# rule or process.
load helpers
bats_require_minimum_version 1.5.0

# /run/netns: taken away again if these tests made it (helpers.bash)
setup_file() { netns_mount_remember; }
teardown_file() { netns_mount_restore; }

setup() {
  requires root rootfs overlay cmd:iptables cmd:jq cmd:nsenter
  [[ -x $PROJECT_DIR/build/docker-cli/docker ]] || fail "no docker client: run make deps"
}

@test "daemon-session.sh holds through the real docker client, and leaves nothing behind" {
  session_leaves_nothing daemon-session.sh "$ROOTFS"
  assert_success
  assert_line --index -1 --regexp '^held: the docker client loaded, ran'
  # the claims, as the transcript shows them
  assert_line "hello from busybox"
  assert_line "<p>hello through minidocker daemon</p>"
  assert_line "Error: No such container: web"
  assert_line "built by RUN through the daemon"
}
