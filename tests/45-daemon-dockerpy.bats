#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031  # DAEMON_PID: set and read within each test
# docker-py (Debian's python3-docker, the Docker SDK for Python) drives our daemon through the
# issue's scenario: a second client, written against dockerd by other people, that calls the
# API its own way (run = create, start, wait, then logs; no attach). Each test runs one Python
# script against a daemon of its own; the script prints "CHECK: WHAT" lines to assert on.
load helpers
load engine
load daemon
load registry
bats_require_minimum_version 1.5.0

PYTHON=/usr/bin/python3 # Debian's, where python3-docker is installed

setup() {
  daemon_setup
  "$PYTHON" -c 'import docker' 2>/dev/null || fail "no docker-py: run make deps (python3-docker)"
}

teardown() {
  [[ -z ${REGISTRY_PID:-} ]] || stop_registry
  daemon_teardown
}

# Runs the Python program on stdin with `client`, docker-py's client for our daemon, defined.
dockerpy() {
  {
    echo 'import docker, io, json, os, sys, tarfile, time'
    echo "client = docker.DockerClient(base_url='unix://$SOCK', version='1.41', timeout=60)"
    cat
  } >"$BATS_TEST_TMPDIR/scenario.py"
  "$PYTHON" "$BATS_TEST_TMPDIR/scenario.py"
}

@test "docker-py: version, load, images, run with output and exit codes, -e, -v, --memory, --cpus" {
  md save -o "$BATS_TEST_TMPDIR/busybox.tar" busybox
  md rmi busybox >/dev/null
  mkdir -p "$BATS_TEST_TMPDIR/data"
  echo "from the host" >"$BATS_TEST_TMPDIR/data/note"
  daemon_start
  run dockerpy <<EOF
v = client.version()
print('version:', v['ApiVersion'], v['Components'][0]['Name'])
with open('$BATS_TEST_TMPDIR/busybox.tar', 'rb') as f:
    loaded = client.images.load(f.read())
print('load:', ' '.join(t for i in loaded for t in i.tags))
print('images:', sorted(t for i in client.images.list() for t in i.tags))
out = client.containers.run('busybox', ['echo', 'hello from busybox'], remove=True,
                            network_mode='none')
print('run:', out.decode().strip())
try:
    client.containers.run('busybox', ['sh', '-c', 'echo oops >&2; exit 3'], remove=True,
                          network_mode='none')
    print('exit: none')
except docker.errors.ContainerError as e:
    print('exit:', e.exit_status, e.stderr.decode().strip())
out = client.containers.run('busybox', ['sh', '-c', 'echo \$GREETING'], remove=True,
                            environment={'GREETING': 'hi there'}, network_mode='none')
print('env:', out.decode().strip())
out = client.containers.run('busybox', ['cat', '/data/note'], remove=True, network_mode='none',
                            volumes={'$BATS_TEST_TMPDIR/data': {'bind': '/data', 'mode': 'ro'}})
print('volume:', out.decode().strip())
# The limits, read from inside: the container's own cgroup (v1 here, v2 on most hosts).
limits = ('cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes;'
          'cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us')
out = client.containers.run('busybox', ['sh', '-c', limits], remove=True, network_mode='none',
                            mem_limit='32m', nano_cpus=500000000)
print('limits:', ' '.join(out.decode().split()))
print('left:', client.containers.list(all=True))
EOF
  assert_success
  assert_line "version: 1.41 Engine"
  assert_line "load: busybox:latest"
  assert_line "images: ['busybox:latest']"
  assert_line "run: hello from busybox"
  assert_line "exit: 3 oops"
  assert_line "env: hi there"
  assert_line "volume: from the host"
  # 32 MiB and half a CPU: 50000 of each 100000 us.
  assert_line --regexp '^limits: 33554432 (50000 100000|50000)$'
  assert_line "left: []"
}

@test "docker-py: run detached with a name, list, logs, exec, inspect, stop, remove, NotFound" {
  daemon_start
  run dockerpy <<'EOF'
c = client.containers.run('busybox', ['sh', '-c', 'echo ready; exec sleep 1000'], detach=True,
                          name='web', network_mode='none')
for _ in range(50):
    if b'ready' in c.logs():
        break
    time.sleep(0.1)
print('list:', [x.name for x in client.containers.list()])
print('logs:', c.logs().decode().strip())
code, out = c.exec_run(['sh', '-c', 'echo in $(hostname); exit 4'])
print('exec:', code, out.decode().strip())
c.reload()
print('inspect:', c.status, c.attrs['Name'], c.attrs['Config']['Cmd'][0], c.attrs['State']['Pid'] > 0)
c.stop(timeout=1)
c.reload()
print('stopped:', c.status, c.attrs['State']['ExitCode'])
c.remove()
try:
    client.containers.get('web')
    print('get: found')
except docker.errors.NotFound as e:
    print('get:', e.explanation)
EOF
  assert_success
  assert_line "list: ['web']"
  assert_line "logs: ready"
  assert_line --regexp '^exec: 4 in [0-9a-f]{12}$'
  assert_line "inspect: running /web sh True"
  assert_line "stopped: exited 137"
  assert_line "get: No such container: web"
  [[ -z $(md ps -aq) ]]
}

@test "docker-py: build an image, push it to a local registry, pull it back" {
  start_registry
  daemon_start
  run dockerpy <<EOF
dockerfile = b'''FROM busybox
RUN echo built > /built
ENV STAGE=two
CMD ["cat", "/built"]
'''
image, logs = client.images.build(fileobj=io.BytesIO(dockerfile), tag='$REGISTRY/lab/app:1',
                                  rm=True)
print('build:', image.tags)
print('steps:', sum(1 for l in logs if l.get('stream', '').startswith('Step ')))
print('run:', client.containers.run('$REGISTRY/lab/app:1', remove=True,
                                    network_mode='none').decode().strip())
for line in client.images.push('$REGISTRY/lab/app', tag='1', stream=True, decode=True):
    if 'error' in line:
        print('push error:', line['error'])
client.images.remove('$REGISTRY/lab/app:1')
print('after rmi:', [t for i in client.images.list() for t in i.tags])
pulled = client.images.pull('$REGISTRY/lab/app', tag='1')
print('pull:', pulled.tags, pulled.id == image.id)
print('env:', [e for e in pulled.attrs['Config']['Env'] if e.startswith('STAGE=')])
EOF
  assert_success
  assert_line "build: ['$REGISTRY/lab/app:1']"
  assert_line "steps: 4"
  assert_line "run: built"
  refute_line --partial "push error"
  assert_line "after rmi: ['busybox:latest']"
  assert_line "pull: ['$REGISTRY/lab/app:1'] True"
  assert_line "env: ['STAGE=two']"
}
