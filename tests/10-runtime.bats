#!/usr/bin/env bats
# final/'s OCI runtime (minidocker runtime, minirunc) as podman or a user calls it: every
# config.json feature proved from inside the container, the lifecycle, bad input refused with
# nothing left behind.
load helpers
load runtime

# /run/netns: taken away again if these tests made it (helpers.bash)
setup_file() { netns_mount_remember; }
teardown_file() { netns_mount_restore; }

setup() {
  requires root rootfs
  rt_setup
  B="$BATS_TEST_TMPDIR/bundle"
}

teardown() {
  rt_teardown
}

# --- the lifecycle -------------------------------------------------------------------------------

@test "runtime: create leaves the init waiting, start runs it, kill stops it, delete removes everything" {
  id=$(rt_id)
  make_bundle "$B"
  set_args "$B" sh -c 'echo started > /proc/1/root/tmp/marker; exec sleep 1000'
  # The waiting init keeps create's stdout: under `run` (a pipe) bats would wait for it.
  rt create --bundle "$B" --pid-file "$BATS_TEST_TMPDIR/pid" "$id" >"$BATS_TEST_TMPDIR/out" 2>&1
  run cat "$BATS_TEST_TMPDIR/out"
  assert_output ""
  run rt_status "$id"
  assert_output created
  pid=$(cat "$BATS_TEST_TMPDIR/pid")
  [[ $(rt state "$id" | jq -r .pid) == "$pid" ]]
  [[ -d /proc/$pid ]]
  [[ ! -e $B/rootfs/tmp/marker ]]  # created: the program has not run yet
  [[ -n $(container_cgroups "$id") ]]

  run rt start "$id"
  assert_success
  run rt_status "$id"
  assert_output running
  [[ $(cat "/proc/$pid/root/tmp/marker") == started ]]
  [[ $(readlink "/proc/$pid/exe") == */busybox ]]

  run rt kill "$id" KILL
  assert_success
  wait_stopped "$id"
  run rt state "$id"
  assert_success
  [[ $(jq -r .pid <<<"$output") == 0 ]]

  run rt delete "$id"
  assert_success
  [[ ! -d $RT_ROOT/$id ]]
  [[ -z $(container_cgroups "$id") ]]
  ended "$pid"
  run rt state "$id"
  assert_failure
  assert_output --partial "does not exist"
}

@test "runtime: state is JSON with the OCI fields" {
  id=$(rt_id)
  make_bundle "$B" '.annotations = {"org.lab.course": "docker"}'
  set_args "$B" sleep 1000
  rt create --bundle "$B" "$id" >/dev/null
  run rt state "$id"
  assert_success
  [[ $(jq -r .ociVersion <<<"$output") == 1.* ]]
  [[ $(jq -r .id <<<"$output") == "$id" ]]
  [[ $(jq -r .bundle <<<"$output") == "$B" ]]
  [[ $(jq -r '.annotations["org.lab.course"]' <<<"$output") == docker ]]
  [[ $(jq -r .pid <<<"$output") -gt 0 ]]
}

@test "runtime: run waits and exits with the program's exit code; the state is gone after" {
  id=$(rt_id)
  make_bundle "$B"
  set_args "$B" sh -c 'echo inside; exit 7'
  run rt run --bundle "$B" "$id"
  assert_equal "$status" 7
  assert_output inside
  [[ ! -d $RT_ROOT/$id ]]
  [[ -z $(container_cgroups "$id") ]]
}

@test "runtime: delete refuses a running container; delete --force kills and removes it" {
  id=$(rt_id)
  make_bundle "$B"
  set_args "$B" sleep 1000
  rt run -d --bundle "$B" --pid-file "$BATS_TEST_TMPDIR/pid" "$id" >/dev/null
  pid=$(cat "$BATS_TEST_TMPDIR/pid")
  run rt delete "$id"
  assert_failure
  assert_output --partial "not stopped: running"
  [[ $(rt_status "$id") == running ]]
  run rt delete --force "$id"
  assert_success
  ended "$pid"
  [[ ! -d $RT_ROOT/$id ]]
  [[ -z $(container_cgroups "$id") ]]
}

@test "runtime: delete of a created container removes its waiting init" {
  id=$(rt_id)
  make_bundle "$B"
  rt create --bundle "$B" --pid-file "$BATS_TEST_TMPDIR/pid" "$id" >/dev/null
  pid=$(cat "$BATS_TEST_TMPDIR/pid")
  run rt delete "$id"
  assert_success
  ended "$pid"
  [[ -z $(container_cgroups "$id") ]]
}

@test "runtime: the same ID twice is refused, and the first container is untouched" {
  id=$(rt_id)
  make_bundle "$B"
  set_args "$B" sleep 1000
  rt create --bundle "$B" "$id" >/dev/null
  run rt create --bundle "$B" "$id"
  assert_failure
  assert_output --partial "already exists"
  [[ $(rt_status "$id") == created ]]
}

@test "runtime: kill of a stopped container says so; kill takes names and numbers" {
  id=$(rt_id)
  make_bundle "$B"
  set_args "$B" sleep 1000
  rt run -d --bundle "$B" "$id" >/dev/null
  run rt kill "$id" SIGWINCH
  assert_success
  run rt kill "$id" 9
  assert_success
  wait_stopped "$id"
  run rt kill "$id" KILL
  assert_failure
  assert_output --partial "is not running"
  run rt kill "$id" NOSUCHSIG
  assert_failure
  assert_output --partial 'unknown signal "NOSUCHSIG"'
}

@test "runtime: exec joins a running container: same PID namespace, same cgroup, same root" {
  id=$(rt_id)
  make_bundle "$B"
  set_args "$B" sleep 1000
  rt run -d --bundle "$B" --pid-file "$BATS_TEST_TMPDIR/pid" "$id" >/dev/null
  pid=$(cat "$BATS_TEST_TMPDIR/pid")
  run rt exec "$id" sh -c 'cat /proc/1/comm; readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; echo $$'
  assert_success
  assert_line --index 0 sleep
  assert_line --index 1 "$(readlink /proc/$pid/ns/pid)"
  assert_line --index 2 "$(readlink /proc/$pid/ns/mnt)"
  (($(sed -n 4p <<<"$output") > 1))
  run rt exec "$id" sh -c 'exit 3'
  assert_equal "$status" 3
  run rt exec -e LAB=seen --cwd /tmp "$id" sh -c 'echo $LAB $PWD'
  assert_output "seen /tmp"
}

@test "runtime: list shows every container with its status" {
  a=$(rt_id a) b=$(rt_id b)
  make_bundle "$B"
  set_args "$B" sleep 1000
  rt create --bundle "$B" "$a" >/dev/null
  rt run -d --bundle "$B" "$b" >/dev/null
  run rt list
  assert_success
  assert_line --index 0 --regexp '^ID +PID +STATUS +BUNDLE +CREATED +OWNER$'
  assert_line --regexp "^$a +[0-9]+ +created "
  assert_line --regexp "^$b +[0-9]+ +running "
  run rt list -q
  assert_output "$(printf '%s\n%s' "$a" "$b")"
  run rt list --format json
  [[ $(jq -r 'map(.status) | join(",")' <<<"$output") == created,running ]]
}

# --- config.json, proved from inside -------------------------------------------------------------

@test "runtime: hostname, env, cwd, uid, gid and additional gids" {
  id=$(rt_id)
  make_bundle "$B" '.hostname = "lab-box" | .process.env += ["LAB=hello"] | .process.cwd = "/tmp"
                    | .process.user = {"uid": 1000, "gid": 1001, "additionalGids": [5, 7]}'
  set_args "$B" sh -c 'hostname; echo $LAB; pwd; id -u; id -g; id -G'
  run rt run --bundle "$B" "$id"
  assert_success
  assert_line --index 0 lab-box
  assert_line --index 1 hello
  assert_line --index 2 /tmp
  assert_line --index 3 1000
  assert_line --index 4 1001
  assert_line --index 5 "1001 5 7"
  [[ $(hostname) != lab-box ]]
}

@test "runtime: the program is PID 1 and alone in its PID namespace" {
  id=$(rt_id)
  make_bundle "$B"
  # The shell expands the glob itself, with no child that could race it.
  set_args "$B" sh -c 'echo $$; echo /proc/[0-9]*'
  run rt run --bundle "$B" "$id"
  assert_success
  assert_line --index 0 1
  assert_line --index 1 /proc/1
}

@test "runtime: capabilities: Docker's default set in CapBnd and CapEff, and a narrower one" {
  id=$(rt_id)
  make_bundle "$B"
  set_args "$B" sh -c 'grep -E "^Cap(Bnd|Eff|Prm|Inh|Amb)" /proc/self/status'
  run rt run --bundle "$B" "$id"
  assert_success
  # CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW
  # SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
  assert_line --regexp '^CapBnd:\s+00000000a80425fb$'
  assert_line --regexp '^CapEff:\s+00000000a80425fb$'
  assert_line --regexp '^CapInh:\s+0000000000000000$'
  edit_config "$B" '.process.capabilities = {"bounding": ["CAP_KILL", "CAP_CHOWN"],
      "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"],
      "ambient": ["CAP_KILL"]}'
  run rt run --bundle "$B" "$id"
  assert_success
  assert_line --regexp '^CapBnd:\s+0000000000000021$'
  assert_line --regexp '^CapEff:\s+0000000000000020$'
  assert_line --regexp '^CapAmb:\s+0000000000000020$'
}

@test "runtime: masked paths are unreadable, read-only paths unwritable" {
  id=$(rt_id)
  make_bundle "$B"
  set_args "$B" sh -c 'wc -c < /proc/timer_list; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/domainname && echo wrote; echo x > /proc/sysrq-trigger && echo wrote'
  run rt run --bundle "$B" "$id"
  assert_line --index 0 0
  assert_line --index 1 0
  assert_output --partial "Read-only file system"
  refute_output --partial wrote
}

@test "runtime: /dev holds exactly the default nodes, the pts instance and the std links" {
  id=$(rt_id)
  make_bundle "$B"
  set_args "$B" sh -c 'ls /dev | tr "\n" " "; echo; ls -l /dev/ptmx /dev/fd /dev/stdin | sed "s/.* -> //"; stat -c "%t:%T" /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty'
  run rt run --bundle "$B" "$id"
  assert_success
  assert_line --index 0 "fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero "
  assert_line --index 1 /proc/self/fd
  assert_line --index 2 pts/ptmx
  assert_line --index 3 /proc/self/fd/0
  assert_line --index 4 "1:3"
  assert_line --index 5 "1:5"
  assert_line --index 6 "1:7"
  assert_line --index 7 "1:8"
  assert_line --index 8 "1:9"
  assert_line --index 9 "5:0"
}

@test "runtime: a bind mount is inside the container and absent from the host's mount table" {
  id=$(rt_id)
  mkdir "$BATS_TEST_TMPDIR/vol"
  echo from-host >"$BATS_TEST_TMPDIR/vol/marker"
  make_bundle "$B" '.mounts += [{"destination": "/data", "type": "bind", "source": $vol,
                                 "options": ["rbind", "ro"]}]' --arg vol "$BATS_TEST_TMPDIR/vol"
  set_args "$B" sh -c 'cat /data/marker; touch /data/new 2>&1; grep -c " /data " /proc/self/mountinfo'
  rt create --bundle "$B" "$id" >"$BATS_TEST_TMPDIR/out" 2>&1
  # The init is waiting with every mount made: none of them is in the host's table.
  run grep -c "$B/rootfs" /proc/self/mountinfo
  assert_output 0
  rt start "$id"
  wait_stopped "$id"
  run cat "$BATS_TEST_TMPDIR/out"
  assert_line --index 0 from-host
  assert_line --index 1 --partial "Read-only file system"
  assert_line --index 2 1
  [[ ! -e $BATS_TEST_TMPDIR/vol/new ]]
}

@test "runtime: a bind target that is a symlink out of the rootfs stays inside it" {
  id=$(rt_id)
  mkdir "$BATS_TEST_TMPDIR/vol"
  echo vol >"$BATS_TEST_TMPDIR/vol/marker"
  make_bundle "$B" '.mounts += [{"destination": "/escape/etc", "type": "bind", "source": $vol,
                                 "options": ["rbind"]}]' --arg vol "$BATS_TEST_TMPDIR/vol"
  ln -s / "$B/rootfs/escape"
  set_args "$B" cat /etc/marker
  run rt run --bundle "$B" "$id"
  assert_success
  assert_output vol
  [[ ! -e /etc/marker ]]
}

@test "runtime: a network namespace joined by path" {
  id=$(rt_id)
  ns="lab-rt-ns-$$"
  ip netns add "$ns"
  ip -n "$ns" link add lab-veth0 type veth peer name lab-veth1
  make_bundle "$B" '(.linux.namespaces[] | select(.type == "network")) += {"path": $p}' \
    --arg p "/run/netns/$ns"
  set_args "$B" sh -c 'ip -o link show | cut -d: -f2 | cut -d@ -f1 | tr -d " " | sort | tr "\n" " "'
  run rt run --bundle "$B" "$id"
  ip netns del "$ns"
  assert_success
  assert_output "lab-veth0 lab-veth1 lo "
}

@test "runtime: a memory limit OOM-kills the program (exit 137)" {
  id=$(rt_id)
  make_bundle "$B" '.linux.resources.memory = {"limit": 16777216, "swap": 16777216}'
  set_args "$B" dd if=/dev/zero of=/dev/null bs=64M count=1
  run rt run --bundle "$B" "$id"
  assert_equal "$status" 137
}

@test "runtime: a pids limit makes fork fail" {
  id=$(rt_id)
  make_bundle "$B" '.linux.resources.pids = {"limit": 4}'
  set_args "$B" sh -c 'for i in 1 2 3 4 5 6; do sleep 100 & done; wait'
  run rt run --bundle "$B" "$id"
  assert_output --partial "can't fork"
}

@test "runtime: a cpu quota of 20% holds a busy loop near 20%" {
  id=$(rt_id)
  make_bundle "$B" '.linux.resources.cpu = {"quota": 20000, "period": 100000}'
  # The loop measures itself: its own CPU time (utime + stime from /proc/self/stat, in clock
  # ticks) over two seconds of wall time, from inside the container.
  set_args "$B" sh -c 'while :; do :; done & loop=$!; read -r t0 _ < /proc/uptime; sleep 2; read -r t1 _ < /proc/uptime; set -- $(cat /proc/$loop/stat); echo $((${14} + ${15})) ${t0%.*}${t0#*.} ${t1%.*}${t1#*.}; kill $loop'
  run rt run --bundle "$B" "$id"
  assert_success
  read -r ticks u0 u1 <<<"$output"
  hz=$(getconf CLK_TCK)
  # ticks/hz seconds of CPU over (u1-u0)/100 seconds of wall time, in percent
  percent=$((ticks * 100 * 100 / hz / (u1 - u0)))
  echo "measured ${percent}%"
  ((percent >= 10 && percent <= 30))
}

@test "runtime: seccomp: a denied call fails with EPERM, the rest works" {
  id=$(rt_id)
  make_bundle "$B" '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
      "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}'
  set_args "$B" sh -c 'mkdir /tmp/d; touch /tmp/f && echo touched'
  run rt run --bundle "$B" "$id"
  assert_line --partial "Operation not permitted"
  assert_line touched
}

@test "runtime: Docker's default seccomp profile lets a shell work and denies unshare" {
  id=$(rt_id)
  make_bundle "$B" '.process.capabilities.bounding += ["CAP_SYS_ADMIN"] | .process.capabilities.effective += ["CAP_SYS_ADMIN"] | .process.capabilities.permitted += ["CAP_SYS_ADMIN"]'
  set_args "$B" sh -c 'mkdir /tmp/d && ls / >/dev/null && echo shell-ok; unshare -m true 2>&1'
  run rt run --bundle "$B" "$id"
  assert_line --index 0 shell-ok
  assert_line --index 1 --partial "Operation not permitted"
}

@test "runtime: rlimits, no_new_privs and oomScoreAdj are set" {
  id=$(rt_id)
  make_bundle "$B" '.process.rlimits = [{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}] | .process.oomScoreAdj = 500'
  set_args "$B" sh -c 'ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj'
  run rt run --bundle "$B" "$id"
  assert_success
  assert_line --index 0 256
  assert_line --index 1 512
  assert_line --index 2 --regexp 'NoNewPrivs:\s+1'
  assert_line --index 3 500
}

@test "runtime: a read-only root, sysctl in the container's namespaces, cgroup namespace root" {
  id=$(rt_id)
  make_bundle "$B" '.root.readonly = true | .linux.sysctl = {"kernel.domainname": "lab.inside"}'
  set_args "$B" sh -c 'touch /x 2>&1; cat /proc/sys/kernel/domainname; cat /proc/self/cgroup | grep -c ":/$"'
  run rt run --bundle "$B" "$id"
  assert_line --index 0 --partial "Read-only file system"
  assert_line --index 1 lab.inside
  [[ $(cat /proc/sys/kernel/domainname) != lab.inside ]]
  (($(sed -n 3p <<<"$output") >= 1))
}

@test "runtime: hooks run with the state on stdin" {
  id=$(rt_id)
  hook="$BATS_TEST_TMPDIR/hook"
  printf '#!/bin/sh\ncat > "%s/$1.json"\n' "$BATS_TEST_TMPDIR" >"$hook"
  chmod +x "$hook"
  make_bundle "$B" '.hooks = {"prestart": [{"path": $h, "args": ["hook", "prestart"]}],
                             "poststart": [{"path": $h, "args": ["hook", "poststart"]}],
                             "poststop": [{"path": $h, "args": ["hook", "poststop"]}]}' --arg h "$hook"
  set_args "$B" true
  run rt run --bundle "$B" "$id"
  assert_success
  [[ $(jq -r .status "$BATS_TEST_TMPDIR/prestart.json") == creating ]]
  [[ $(jq -r .pid "$BATS_TEST_TMPDIR/prestart.json") -gt 0 ]]
  [[ $(jq -r .id "$BATS_TEST_TMPDIR/poststart.json") == "$id" ]]
  [[ $(jq -r .status "$BATS_TEST_TMPDIR/poststop.json") == stopped ]]
}

@test "runtime: --explain tells each step with the lesson it comes from" {
  id=$(rt_id)
  make_bundle "$B"
  set_args "$B" true
  run rt --explain run --bundle "$B" "$id"
  assert_success
  assert_line --regexp '^\[lesson 02\] clone\(CLONE_NEWNS\|.*CLONE_NEWPID.*\)'
  assert_line --regexp '^\[lesson 01\] sethostname\("minidocker"\)'
  assert_line --regexp '^\[lesson 03\] pivot_root'
  # Nobody writes the init's pid to a cgroup.procs: it is born in its v2 cgroup (clone3) and
  # joins each v1 tree itself, with 0 for "me" (cgroups::join_self).
  refute_line --regexp 'cgroup\.procs'
  if [[ -e /sys/fs/cgroup/pids/tasks ]]; then
    assert_line "[lesson 04] write(\"/sys/fs/cgroup/pids/minidocker/$id/tasks\", \"0\")  ~ echo 0 > /sys/fs/cgroup/pids/minidocker/$id/tasks"
  fi
  if grep -q ' - cgroup2 ' /proc/self/mountinfo; then
    assert_line --regexp "^\[lesson 04\] clone3\(CLONE_INTO_CGROUP, \"/minidocker/$id\"\)"
  fi
  run rt run --bundle "$B" "$id"
  assert_output ""
}

@test "runtime: a terminal: the pty master goes over --console-socket" {
  id=$(rt_id)
  make_bundle "$B" '.process.terminal = true'
  set_args "$B" sh -c 'tty; echo from-pty'
  sock="$BATS_TEST_TMPDIR/console.sock"
  "$PROJECT_DIR/tests/tools/recvtty" "$sock" >"$BATS_TEST_TMPDIR/tty.out" &
  recv=$!
  for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done
  rt create --bundle "$B" --console-socket "$sock" "$id" >"$BATS_TEST_TMPDIR/out" 2>&1
  rt start "$id"
  wait "$recv"
  run cat "$BATS_TEST_TMPDIR/tty.out"
  assert_line --index 0 --partial "/dev/pts/0"
  assert_line --partial from-pty
}

# --- runc's command line ------------------------------------------------------------------------

@test "minirunc: runc's grammar (the static runtime program); refused flags say so" {
  id=$(rt_id)
  make_bundle "$B"
  set_args "$B" sh -c 'echo via-minirunc'
  run "$MINIRUNC" --root "$RT_ROOT" --log "$BATS_TEST_TMPDIR/log" --log-format json run -b "$B" "$id"
  assert_success
  assert_output via-minirunc
  run "$MINIRUNC" --root "$RT_ROOT" --systemd-cgroup list
  assert_failure
  assert_output --partial "--systemd-cgroup is not supported"
  run "$MINIRUNC" --root "$RT_ROOT" --rootless true list
  assert_failure
  assert_output --partial "--rootless true is not supported"
  run "$MINIRUNC" --root "$RT_ROOT" --log "$BATS_TEST_TMPDIR/log" --log-format json state nosuch
  assert_failure
  [[ $(tail -1 "$BATS_TEST_TMPDIR/log" | jq -r .level) == error ]]
  [[ $(tail -1 "$BATS_TEST_TMPDIR/log" | jq -r .msg) == *'"nosuch" does not exist'* ]]
}

@test "runtime spec: Docker's defaults, refused over an existing config.json" {
  mkdir -p "$B"
  run "$MINIDOCKER" runtime spec --bundle "$B"
  assert_success
  run jq -r '.process.noNewPrivileges, (.process.capabilities.bounding | length), .linux.seccomp.defaultAction, (.linux.maskedPaths | index("/proc/kcore") != null)' "$B/config.json"
  assert_output "$(printf 'true\n14\nSCMP_ACT_ERRNO\ntrue')"
  run "$MINIDOCKER" runtime spec --bundle "$B"
  assert_failure
  assert_output --partial "exists already"
}

# --- bad input: one line, non-zero, nothing left ---------------------------------------------------

# refused ID FILTER MESSAGE: the config changed by FILTER is refused with MESSAGE, and no state
# directory, cgroup or process is left.
refused() {
  local id=$1 message=$3
  edit_config "$B" "$2"
  before=$(host_state)
  run rt create --bundle "$B" "$id"
  assert_failure
  assert_output --partial "$message"
  [[ ${#lines[@]} -eq 1 ]]
  [[ ! -e $RT_ROOT/$id ]]
  [[ -z $(container_cgroups "$id") ]]
  diff <(echo "$before") <(host_state)
  cp "$B/config.orig" "$B/config.json"
}

@test "runtime: bad config.json values are refused in one line, with nothing left behind" {
  id=$(rt_id)
  make_bundle "$B"
  cp "$B/config.json" "$B/config.orig"
  refused "$id" '.root.path = "no-such-dir"' 'root.path'
  refused "$id" '.linux.namespaces += [{"type": "time2"}]' 'unknown type "time2"'
  refused "$id" '.linux.intelRdt = {"closID": "x"}' 'linux.intelRdt is not supported'
  refused "$id" '.process.args = []' 'process.args'
  refused "$id" '.process.args = ["no-such-program"]' 'no-such-program'
  refused "$id" '.linux.resources.cpu = {"quota": 10, "period": 100000}' 'quota'
  refused "$id" 'del(.root)' 'root.path is missing'
  echo '{"ociVersion": "1.0.2",' >"$B/config.json"
  run rt create --bundle "$B" "$id"
  assert_failure
  assert_output --partial "not valid JSON"
  run rt create --bundle "$BATS_TEST_TMPDIR/nowhere" "$id"
  assert_failure
  assert_output --partial "nowhere"
  [[ ! -e $RT_ROOT/$id ]]
}

@test "runtime: a console socket that is not a socket is refused" {
  id=$(rt_id)
  make_bundle "$B" '.process.terminal = true'
  touch "$BATS_TEST_TMPDIR/not-a-socket"
  run rt create --bundle "$B" --console-socket "$BATS_TEST_TMPDIR/not-a-socket" "$id"
  assert_failure
  assert_output --partial "is not a unix socket"
  [[ ! -e $RT_ROOT/$id ]]
  run rt create --bundle "$B" "$id"
  assert_failure
  assert_output --partial "--console-socket"
}

@test "runtime: without root it says so" {
  run_as_nobody "$MINIDOCKER" runtime list
  assert_failure
  assert_output --partial "needs root"
}

@test "minirunc is a static program of the runtime alone; minidocker loads libcurl, libarchive and libcrypto only when used" {
  # The engine runs the runtime three times per container: minirunc maps no shared library.
  if [[ ${SANITIZE:-} != 1 ]]; then
    run ldd "$MINIRUNC"
    assert_output --partial "not a dynamic executable"
  fi
  # libcurl and the libraries it pulls in (TLS, Kerberos, LDAP...) are not loaded at start.
  run ldd "$PROJECT_DIR/final/minidocker"
  assert_success
  refute_output --partial libcurl
  refute_output --partial libgssapi
  # Neither libarchive nor libcrypto (nor ICU, libxml2, nettle... that libarchive needs): a `ps`
  # or a `run` never unpacks or hashes (graph/lazy_libs.cpp loads them on their first call).
  refute_output --partial libarchive
  refute_output --partial libcrypto
  refute_output --partial libicu
  # ... and what does use them still works: a sha256 (libcrypto) and a tar written and read
  # back (libarchive).
  local md="$PROJECT_DIR/final/minidocker" root="$BATS_TEST_TMPDIR"
  printf 'x' >"$root/x"
  tar -C "$root" -c x | "$md" --root "$root/engine" import - lab-lazy:1
  run "$md" --root "$root/engine" save -o "$root/out.tar" lab-lazy:1
  assert_success
  tar -tf "$root/out.tar" | grep -qx manifest.json
  run "$md" --root "$root/engine" images -q --no-trunc lab-lazy:1
  assert_output --regexp '^sha256:[0-9a-f]{64}$'
}
