#!/usr/bin/env bats
# final/engine-session.sh: a whole user session (build, images, run -d -p, ps, the page through the
# port, logs, exec, diff, commit, run --rm of the commit, stop, rm, rmi) with its verdict. It
# holds and leaves nothing on the host; with an image that cannot serve (no httpd in it) the
# verdict says what did not hold, the script fails, and it still leaves nothing.
load helpers
bats_require_minimum_version 1.5.0

# /run/netns: taken away again if these tests made it (helpers.bash)
setup_file() { netns_mount_remember; }
teardown_file() { netns_mount_restore; }

setup() {
  requires root rootfs overlay cmd:iptables cmd:jq cmd:nsenter
}

# The line after "$ COMMAND" in the session's output.
output_of() {
  local i
  for ((i = 0; i + 1 < ${#lines[@]}; i++)); do
    [[ ${lines[i]} != "\$ $1" ]] || { echo "${lines[i + 1]}"; return 0; }
  done
  return 1
}

@test "engine-session.sh holds: the page through -p, the committed file, and nothing left behind" {
  session_leaves_nothing engine-session.sh "$ROOTFS"
  assert_success
  assert_line --index -1 "held: web:v1 was built and served its page through -p 8080:80, its log showed the request and exec a PID 1 httpd, the file exec wrote was committed into web:v2, and stop, rm and rmi left no container, mount, cgroup, veth or rule"
  # the claims, as the transcript shows them
  [[ $(output_of "wget -q -O - http://127.0.0.1:8080/") == "<p>hello from a minidocker session</p>" ]]
  [[ $(output_of "minidocker run --rm web:v2 cat /www/note.txt") == "written by exec" ]]
  [[ $(output_of "minidocker logs web") == *": response:200" ]]
  assert_line --regexp '^ +1 root +httpd -f -v -p 80 -h /www$'
}

@test "engine-session.sh with an image that has no httpd: did NOT hold, exit 1, nothing left behind" {
  local broken="$BATS_TEST_TMPDIR/rootfs"
  cp -a "$ROOTFS" "$broken"
  rm "$broken/usr/sbin/httpd"
  session_leaves_nothing engine-session.sh "$broken"
  assert_failure 1
  assert_line --index -1 --regexp '^did NOT hold: .*the page through -p 8080:80 was "[^"]*", not "<p>hello from a minidocker session</p>"'
  refute_line --partial "held: web:v1"
  refute_output --partial "engine-session.sh: line"  # no error of the script's own
  # the session went on to the end, and removed what it made
  assert_line "\$ minidocker rmi web:v2 web:v1"
}
