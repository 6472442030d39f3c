#!/usr/bin/env bats
# shellcheck disable=SC2016  # $PATH is Docker's message, not ours to expand
# Image parents and a run whose program cannot be run, as Docker does them (final/graph/store.cpp,
# client/images.cpp, engine/commit.cpp, engine/containers.cpp): build's step images and commit's
# image record their parent (inspect's Parent); `images` hides untagged parents (intermediates),
# `images -a` shows them; rmi deletes a built image with its untagged parents (--no-prune keeps
# them) and refuses a parent by id; image prune keeps a tagged image's intermediates. A command
# that is not found (127) or cannot be run (126) leaves its container "created" with State.Error,
# its name taken, until rm (or --rm).
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

# A Dockerfile of FROM and three steps (RUN, ENV, RUN); APP_IDS gets the full ids of
# busybox and the three step images, in order; the last is tagged app:v1.
build_app() {
  CTX="$BATS_TEST_TMPDIR/ctx"
  mkdir -p "$CTX"
  cat >"$CTX/Dockerfile" <<'DOCKERFILE'
FROM busybox
RUN echo one > /one
ENV STEP=two
RUN echo three > /three
DOCKERFILE
  run md build -t app:v1 "$CTX"
  assert_success
  local short
  APP_IDS=()
  while read -r short; do
    APP_IDS+=("$(md images -a -q --no-trunc | grep -m1 "^sha256:$short")")
  done < <(sed -n 's/^ ---> \([0-9a-f]\{12\}\)$/\1/p' <<<"$output")
  [[ ${#APP_IDS[@]} -eq 4 ]] || fail "step ids: ${APP_IDS[*]} from $output"
  [[ ${APP_IDS[0]} == "$(md images -q --no-trunc busybox)" ]] || fail "FROM is not busybox"
  [[ ${APP_IDS[3]} == "$(md images -q --no-trunc app:v1)" ]] || fail "the last step is not app:v1"
}

@test "parents: build records each step's parent; images hides intermediates, -a shows them" {
  build_app
  # inspect's Parent: each step's image names the one before it; busybox (imported) has none.
  for i in 1 2 3; do
    [[ $(md image inspect "${APP_IDS[$i]}" | jq -r '.[0].Parent') == "${APP_IDS[$((i - 1))]}" ]] ||
      fail "step $i: parent is not ${APP_IDS[$((i - 1))]}"
  done
  [[ $(md image inspect busybox | jq -r '.[0].Parent') == "" ]]
  # history's IMAGE column walks the parents, as Docker's: no <missing> row here.
  run md history -q app:v1
  assert_output "$(printf '%s\n' "${APP_IDS[3]:7:12}" "${APP_IDS[2]:7:12}" "${APP_IDS[1]:7:12}" "${APP_IDS[0]:7:12}")"
  run md images
  assert_success
  [[ ${#lines[@]} -eq 3 ]] || fail "images: $output"
  refute_line --partial "<none>"
  run md images -a
  [[ ${#lines[@]} -eq 5 ]] || fail "images -a: $output"
  assert_line --regexp "^<none> +<none> +${APP_IDS[1]:7:12} "
  assert_line --regexp "^<none> +<none> +${APP_IDS[2]:7:12} "
  assert_line --regexp "^app +v1 +${APP_IDS[3]:7:12} "
  # The cache still hits every step, with the same image.
  run md build -t app:v1 "$CTX"
  assert_success
  [[ $(grep -c -- '^ ---> Using cache$' <<<"$output") -eq 3 ]] || fail "$output"
  assert_line "Successfully built ${APP_IDS[3]:7:12}"
  # image prune removes dangling images only: the intermediates of app:v1 are not.
  run md image prune -f
  assert_output "Total reclaimed space: 0B"
  [[ $(md images -a -q | wc -l) -eq 4 ]]
  run md system prune -f
  assert_success
  refute_line --partial "deleted: sha256:"
  [[ $(md images -a -q | wc -l) -eq 4 ]]
  # commit records the container's image as the parent.
  md run --name c1 --network none busybox sh -c 'echo x > /x' >/dev/null
  snap=$(md commit c1 snap:v1)
  [[ $(md image inspect snap:v1 | jq -r '.[0].Parent') == "${APP_IDS[0]}" ]]
  [[ $(md images -q --no-trunc snap:v1) == "$snap" ]]
  md rm c1 >/dev/null
}

@test "parents: rmi deletes the built image and its untagged parents, not busybox's layer" {
  build_app
  run md rmi app:v1
  assert_success
  assert_line --index 0 "Untagged: app:v1"
  assert_line --index 1 "Deleted: ${APP_IDS[3]}"
  assert_line "Deleted: ${APP_IDS[2]}"
  assert_line "Deleted: ${APP_IDS[1]}"
  refute_line "Deleted: ${APP_IDS[0]}"
  # Only busybox is left, with its one layer, whole: it still runs.
  run md images -a -q --no-trunc
  assert_output "${APP_IDS[0]}"
  [[ $(layer_dirs | wc -l) -eq 1 ]]
  check_store
  run md run --rm --network none busybox cat /etc/hostname
  assert_success
}

@test "parents: rmi --no-prune keeps the parents; the last becomes dangling; prune takes them" {
  build_app
  run md rmi --no-prune app:v1
  assert_success
  assert_line --index 0 "Untagged: app:v1"
  assert_line --index 1 "Deleted: ${APP_IDS[3]}"
  refute_line "Deleted: ${APP_IDS[2]}"
  # ENV's image has no child now: dangling, listed; the first RUN's is still its parent.
  run md images
  assert_line --regexp "^<none> +<none> +${APP_IDS[2]:7:12} "
  refute_line --partial "${APP_IDS[1]:7:12}"
  run md images -a
  assert_line --regexp "^<none> +<none> +${APP_IDS[1]:7:12} "
  # image prune removes the dangling one and the parent that it leaves dangling.
  run md image prune -f
  assert_success
  assert_line "deleted: ${APP_IDS[2]}"
  assert_line "deleted: ${APP_IDS[1]}"
  run md images -a -q --no-trunc
  assert_output "${APP_IDS[0]}"
  check_store
}

@test "parents: a parent by id is refused even with -f; by its last name it is only untagged" {
  build_app
  for flags in "" "-f"; do
    # shellcheck disable=SC2086
    run md rmi $flags "${APP_IDS[1]:7:12}"
    assert_failure 1
    assert_output "Error: conflict: unable to delete ${APP_IDS[1]:7:12} (cannot be forced) - image has dependent child images"
  done
  run md rmi "${APP_IDS[0]:7:12}"
  assert_failure 1
  assert_output --partial "image has dependent child images"
  # busybox by name: untagged, and kept as app:v1's base (hidden from images, in images -a).
  run md rmi busybox
  assert_success
  assert_output "Untagged: busybox:latest"
  run md images
  refute_line --partial "${APP_IDS[0]:7:12}"
  run md images -a
  assert_line --regexp "^<none> +<none> +${APP_IDS[0]:7:12} "
  run md run --rm --network none app:v1 cat /one /three
  assert_output "$(printf 'one\nthree')"
  # Deleting app:v1 now takes every image with it: nothing is tagged below it.
  run md rmi app:v1
  assert_line "Deleted: ${APP_IDS[0]}"
  [[ -z $(md images -a -q) ]]
  [[ -z $(layer_dirs) ]]
}

# Asserts that container $1 is created, not running, with State.Error matching $2 and nothing of
# the runtime ($3: minidocker or runc) left for it.
assert_kept_created() {
  local state id
  state=$(md inspect "$1" | jq -c '.[0].State')
  [[ $(jq -r .Status <<<"$state") == created ]] || fail "status: $state"
  [[ $(jq -r .Running <<<"$state") == false ]] || fail "running: $state"
  [[ $(jq -r .Pid <<<"$state") == 0 ]] || fail "pid: $state"
  [[ $(jq -r .Error <<<"$state") == *"$2"* ]] || fail "error: $state"
  id=$(md inspect "$1" | jq -r '.[0].Id')
  [[ ! -e $ROOT/run/$3/$id ]] || fail "the runtime still has $id"
  run md ps -a
  assert_line --regexp "^${id:0:12} +busybox +.* Created +$1\$"
  run md ps -q
  assert_output ""
}

@test "start failure: a command not found exits 127 and leaves the container created until rm" {
  run -127 md run --name lost --network none busybox nosuchcommand
  assert_failure 127
  assert_output 'Error: exec: "nosuchcommand": executable file not found in $PATH'
  assert_kept_created lost 'executable file not found in $PATH' minidocker
  # Its name is taken.
  run md create --name lost --network none busybox true
  assert_failure 125
  assert_output --partial 'Conflict. The container name "/lost" is already in use'
  # start fails again, as Docker's: the error, then which containers failed; exit 1.
  run md start lost
  assert_failure 1
  assert_line --index 0 'Error: exec: "nosuchcommand": executable file not found in $PATH'
  assert_line --index 1 "Error: failed to start containers: lost"
  assert_kept_created lost 'executable file not found in $PATH' minidocker
  run md rm lost
  assert_success
  [[ -z $(ls -A "$ROOT/containers") ]]
  [[ $(mounts_matching "^$ROOT") -eq 0 ]]
}

@test "start failure: 126 and a missing path too; create makes it, start fails; --rm leaves nothing" {
  run -126 md run --name noexec --network none busybox /etc/passwd
  assert_failure 126
  assert_kept_created noexec 'permission denied' minidocker
  run -127 md run --name nopath --network none busybox /bin/nosuch
  assert_failure 127
  assert_kept_created nopath 'stat /bin/nosuch: no such file or directory' minidocker
  run md start -a nopath
  assert_failure 1
  assert_output --partial 'stat /bin/nosuch: no such file or directory'
  # create does not run the program: it prints the id; start fails.
  run md create --name later --network none busybox nosuchcommand
  assert_success
  [[ $output =~ ^[0-9a-f]{64}$ ]] || fail "create: $output"
  run md start later
  assert_failure 1
  assert_line "Error: failed to start containers: later"
  md rm noexec nopath later >/dev/null
  # --rm: nothing stays.
  run -127 md run --rm --name gone --network none busybox nosuchcommand
  assert_failure 127
  [[ -z $(ls -A "$ROOT/containers") ]]
  [[ $(mounts_matching "^$ROOT") -eq 0 ]]
}

@test "start failure: the same with --runtime runc" {
  requires cmd:runc
  run -127 md run --name lostr --runtime runc --network none busybox nosuchcommand
  assert_failure 127
  assert_output --partial 'nosuchcommand'
  assert_kept_created lostr 'nosuchcommand' runc
  run md start lostr
  assert_failure 1
  assert_line "Error: failed to start containers: lostr"
  assert_kept_created lostr 'nosuchcommand' runc
  md rm lostr >/dev/null
  run -127 md run --rm --runtime runc --network none busybox nosuchcommand
  assert_failure 127
  [[ -z $(ls -A "$ROOT/containers") ]]
}
