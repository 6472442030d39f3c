#!/usr/bin/env bats
# shellcheck disable=SC2016  # the shell inside the container expands these
# commit and build (final/engine/commit.cpp, build.cpp, dockerfile.cpp): a container's rw layer
# becomes an image; a Dockerfile becomes an image step by step, with the legacy builder's output
# and cache. What an image holds is proven by running it.
load helpers
load engine
bats_require_minimum_version 1.5.0

setup() {
  requires root rootfs overlay
  engine_setup
}

teardown() {
  engine_teardown
}

@test "commit: a new image with the container's files, deletions and config; history shows it" {
  run md run --name c1 --network none -e GREETING=hi -w /tmp busybox \
    sh -c 'echo made > /made.txt; rm /bin/vi; mkdir -p /d; touch /d/x'
  assert_success
  run md commit -m "my change" -a "Ann <ann@example.com>" -c 'CMD ["cat", "/made.txt"]' \
    -c 'LABEL stage=test' -c 'EXPOSE 8080' c1 snap:v1
  assert_success
  [[ $output =~ ^sha256:[0-9a-f]{64}$ ]] || fail "not an image id: $output"
  id=$output
  [[ $(md images -q --no-trunc snap:v1) == "$id" ]]
  # The file is there, the deleted one stays deleted (a whiteout), the CMD is the -c one.
  run md run --rm --network none snap:v1
  assert_success
  assert_output made
  run md run --rm --network none snap:v1 sh -c 'test -e /bin/vi && echo present || echo gone; ls /d; echo "$GREETING $(pwd)"'
  assert_output "$(printf 'gone\nx\nhi /tmp')"
  run md image inspect snap:v1
  [[ $(jq -r '.[0].Config.Labels.stage' <<<"$output") == test ]]
  [[ $(jq -r '.[0].Config.ExposedPorts | keys[0]' <<<"$output") == 8080/tcp ]]
  [[ $(jq -r '.[0].RootFS.Layers | length' <<<"$output") -eq 2 ]]
  # history: the new row on top, with the command and the message.
  run md history --no-trunc snap:v1
  assert_success
  [[ ${lines[1]} == "$id"* ]] || fail "top row is not the new image: ${lines[1]}"
  [[ ${lines[1]} == *"sh -c echo made > /made.txt"*"my change" ]] || fail "row: ${lines[1]}"
  [[ ${#lines[@]} -eq 3 ]]
  # The container is untouched by the commit.
  [[ $(md inspect c1 | jq -r '.[0].State.Status') == exited ]]
}

@test "commit: a running container is frozen and thawed; untagged commit; errors" {
  run md run -d --name live --network none busybox sh -c 'echo live > /live; exec sleep 1000'
  assert_success
  for _ in $(seq 300); do
    [[ -f $(container_dir live)/diff/live ]] && break
    sleep 0.1
  done
  [[ -f $(container_dir live)/diff/live ]] || fail "the container never wrote /live"
  run md commit live
  assert_success
  id=$output
  # Thawed again: it still answers a signal and stops at once.
  cid=$(md inspect live | jq -r '.[0].Id')
  if [[ -f /sys/fs/cgroup/freezer/minidocker/$cid/freezer.state ]]; then
    run cat "/sys/fs/cgroup/freezer/minidocker/$cid/freezer.state"
    assert_output THAWED
  else
    run cat "/sys/fs/cgroup/minidocker/$cid/cgroup.freeze"
    assert_output 0
  fi
  run md run --rm --network none "$id" cat /live
  assert_output live
  run md commit nosuch
  assert_failure 1
  assert_output "Error: No such container: nosuch"
  run md commit -c 'RUN true' live
  assert_failure 1
  assert_output "Error: RUN is not a valid change command"
  run md commit live 'Bad:Name'
  assert_failure
}

# A context with a 4-step Dockerfile: FROM, COPY, RUN, CMD.
make_context() {
  CTX="$BATS_TEST_TMPDIR/ctx"
  mkdir -p "$CTX"
  echo "hello from the context" >"$CTX/hello.txt"
  cat >"$CTX/Dockerfile" <<'DOCKERFILE'
# a comment
FROM busybox
COPY hello.txt /app/
RUN cat /app/hello.txt > /app/copy.txt && \
    echo ran-in-build
CMD ["cat", "/app/copy.txt"]
DOCKERFILE
}

@test "build: four steps, the legacy builder's output; run shows the file and the CMD" {
  make_context
  run md build -t app:v1 "$CTX"
  assert_success
  assert_line "Step 1/4 : FROM busybox"
  assert_line "Step 2/4 : COPY hello.txt /app/"
  assert_line "Step 3/4 : RUN cat /app/hello.txt > /app/copy.txt &&     echo ran-in-build"
  assert_line 'Step 4/4 : CMD ["cat", "/app/copy.txt"]'
  assert_line ran-in-build
  assert_line --regexp '^ ---> Running in [0-9a-f]{12}$'
  assert_line --regexp '^Removing intermediate container [0-9a-f]{12}$'
  assert_line --regexp '^Successfully built [0-9a-f]{12}$'
  assert_line "Successfully tagged app:v1"
  id=$(md images -q app:v1)
  assert_line "Successfully built $id"
  run md run --rm --network none app:v1
  assert_success
  assert_output "hello from the context"
  # history: one row per instruction, newest first (FROM's row is busybox's import).
  run md history --no-trunc app:v1
  assert_success
  [[ ${#lines[@]} -eq 5 ]] || fail "rows: $output"
  [[ ${lines[1]} == *'/bin/sh -c #(nop)  CMD ["cat" "/app/copy.txt"]'*0B* ]] || fail "${lines[1]}"
  [[ ${lines[2]} == *"/bin/sh -c cat /app/hello.txt > /app/copy.txt"* ]] || fail "${lines[2]}"
  [[ ${lines[3]} == *"/bin/sh -c #(nop) COPY file:"*" in /app/"* ]] || fail "${lines[3]}"
  # No container and no mount are left by the build.
  [[ -z $(md ps -aq) ]]
  [[ $(mounts_matching "^$ROOT") -eq 0 ]]
}

@test "build: again fully cached with the same id; a changed file invalidates from its step on" {
  make_context
  md build -t app:v1 "$CTX" >/dev/null
  first=$(md images -q app:v1)
  run md build -t app:v1 "$CTX"
  assert_success
  [[ $(grep -c -- '^ ---> Using cache$' <<<"$output") -eq 3 ]] || fail "$output"
  refute_line --partial "Running in"
  assert_line "Successfully built $first"
  run md build -q "$CTX"
  assert_success
  [[ $output == sha256:$first* ]] || fail "-q: $output"
  echo "changed" >"$CTX/hello.txt"
  run md build -t app:v2 "$CTX"
  assert_success
  [[ $(grep -c -- '^ ---> Using cache$' <<<"$output") -eq 0 ]] || fail "$output"
  assert_line --regexp '^ ---> Running in '
  refute_line "Successfully built $first"
  run md run --rm --network none app:v2
  assert_output changed
  # --no-cache runs every step again.
  run md build --no-cache "$CTX"
  assert_success
  refute_line " ---> Using cache"
}

@test "build: a failing RUN exits with its code and Docker's message; no container or mount left" {
  mkdir -p "$BATS_TEST_TMPDIR/bad"
  printf 'FROM busybox\nVOLUME /data\nRUN echo before; exit 3\nCMD ["true"]\n' \
    >"$BATS_TEST_TMPDIR/bad/Dockerfile"
  run md build -t bad "$BATS_TEST_TMPDIR/bad"
  assert_failure 3
  assert_line "The command '/bin/sh -c echo before; exit 3' returned a non-zero code: 3"
  assert_line before
  refute_line --partial "Successfully"
  [[ -z $(md ps -aq) ]] || fail "a container is left"
  [[ -z $(ls -A "$ROOT/containers") ]] || fail "left: $(ls -A "$ROOT/containers")"
  [[ $(mounts_matching "^$ROOT") -eq 0 ]]
  [[ -z $(md volume ls -q) ]] || fail "a volume is left: $(md volume ls -q)"
  run md images -q bad
  assert_output ""
}

@test "build: ARG and --build-arg, ENV, WORKDIR, USER, LABEL, EXPOSE, ENTRYPOINT, ADD of a tar" {
  ctx="$BATS_TEST_TMPDIR/args"
  mkdir -p "$ctx/src/sub"
  echo inner >"$ctx/src/sub/f"
  tar -C "$ctx/src" -czf "$ctx/bundle.tar.gz" sub
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM busybox
ARG WHO=default
ENV GREETING="hello ${WHO}" \
    PLAIN=yes
WORKDIR /work
RUN echo "$WHO" > who.txt
ADD bundle.tar.gz /unpacked/
COPY --chown=1000:1000 src /owned
LABEL built.by=minidocker
EXPOSE 8080/udp
USER nobody
ENTRYPOINT ["sh", "-c"]
CMD ["echo $GREETING $PLAIN $(cat who.txt) $(pwd) $(id -un) $(cat /unpacked/sub/f) $(stat -c %u /owned/sub/f)"]
DOCKERFILE
  run md build -t args:1 --build-arg WHO=world --build-arg UNUSED=1 "$ctx"
  assert_success
  assert_line "[Warning] One or more build-args [UNUSED] were not consumed"
  run md run --rm --network none args:1
  assert_success
  assert_output "hello world yes world /work nobody inner 1000"
  run md image inspect args:1
  [[ $(jq -r '.[0].Config.Labels["built.by"]' <<<"$output") == minidocker ]]
  [[ $(jq -r '.[0].Config.ExposedPorts | keys[0]' <<<"$output") == 8080/udp ]]
  run md history --no-trunc args:1
  assert_line --partial '|1 WHO=world /bin/sh -c echo "$WHO" > who.txt'
  # Another value of the build arg misses the cache from the RUN on.
  run md build -t args:2 --build-arg WHO=moon "$ctx"
  assert_success
  run md run --rm --network none args:2
  assert_output "hello moon yes moon /work nobody inner 1000"
  # ADD of a URL and COPY from outside the context are refused with one line.
  printf 'FROM busybox\nADD http://example.com/x /x\n' >"$ctx/Dockerfile"
  run md build "$ctx"
  assert_failure 1
  assert_line "Error: ADD from a URL is not supported by this build: http://example.com/x"
  printf 'FROM busybox\nCOPY ../../etc/passwd /x\n' >"$ctx/Dockerfile"
  run md build "$ctx"
  assert_failure 1
  assert_line --partial "outside the build context"
}
