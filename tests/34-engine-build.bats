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
  run md run --name c1 --network none -w /tmp -e GREETING=hi -- busybox \
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
