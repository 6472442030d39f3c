#!/usr/bin/env bats
# shellcheck disable=SC2030,SC2031  # DAEMON_PID: set and read within each test
# shellcheck disable=SC2154  # $stderr: set by `run --separate-stderr`
# shellcheck disable=SC2034  # NEW_IDS: read by same_through_daemon and normalized (daemon.bash)
# Our own CLI as the daemon's client for the image verbs (final/client/images.cpp, load_save.cpp,
# build.cpp, commit.cpp, version.cpp): `minidocker -H unix://SOCK VERB` prints what the CLI prints
# when it does the job itself on the same engine root: the same lines, the same exit codes, the
# same errors. `md` is the CLI doing the job itself (images.bash), `mdh` the client. Containers
# run with --network none; each test has an engine root and a socket of its own, and teardown
# stops the daemon and removes every container.
load helpers
load engine
load daemon
bats_require_minimum_version 1.5.0

setup() {
  daemon_setup
  NEW_IDS=1  # a build or a commit makes new ids each time: compared without them
}
teardown() { daemon_teardown; }

@test "client images: history, image inspect, image prune and system df as in-process" {
  daemon_start
  md tag busybox lab/busybox:v1
  md run -d --name up --network none busybox sleep 60 >/dev/null
  md run --name ended --network none busybox sh -c 'echo x > /new-file' >/dev/null
  md commit -m "a comment" -c 'CMD ["sh"]' ended lab/made:v1 >/dev/null
  NEW_IDS=
  for args in "history busybox" "history --no-trunc lab/made:v1" "history -q lab/made:v1" \
    "image inspect busybox" "image inspect busybox lab/made:v1" "system df"; do
    # shellcheck disable=SC2086  # the words of the verb
    same_through_daemon $args
    assert_success
  done
  # system df: the running container and its image are active, the exited one's rw layer
  # reclaimable.
  run mdh system df
  assert_line --index 1 --regexp '^Images +2 +1 '
  assert_line --index 2 --regexp '^Containers +2 +1 '
  grep -q '^GET /v1.41/images/busybox/history 200' "$DAEMON_LOG"
  grep -q '^GET /v1.41/system/df 200' "$DAEMON_LOG"
  # Missing images: the same error lines and exit codes.
  same_through_daemon history nosuch:v9
  assert_failure 1
  [[ $stderr == "Error: No such image: nosuch:v9" ]]
  same_through_daemon image inspect busybox nosuch
  assert_failure 1
  [[ $stderr == "Error: No such image: nosuch" ]]
  [[ $(jq length <<<"$output") == 1 ]]
  # image prune: a dangling image (its name given to another) pruned each way: the same lines
  # but for the ids.
  NEW_IDS=1
  md rm -f up ended >/dev/null
  mkdir -p "$BATS_TEST_TMPDIR/one" "$BATS_TEST_TMPDIR/two"
  for who in local remote; do
    echo "1 $who" >"$BATS_TEST_TMPDIR/one/f"
    echo "2 $who" >"$BATS_TEST_TMPDIR/two/f"
    md import "$BATS_TEST_TMPDIR/one" "d:$who" >/dev/null
    md import "$BATS_TEST_TMPDIR/two" "d:$who" >/dev/null
  done
  run --separate-stderr md image prune -f
  out=$(normalized <<<"$output")
  assert_line "Deleted Images:"
  [[ $(grep -c '^deleted: sha256:' <<<"$output") == 4 ]]
  for who in local remote; do
    echo "1 $who" >"$BATS_TEST_TMPDIR/one/f"
    md import "$BATS_TEST_TMPDIR/one" "d:$who" >/dev/null
  done
  run --separate-stderr mdh image prune -f
  assert_success
  [[ $(normalized <<<"$output") == "$out" ]] || fail "prune: $output; in-process: $out"
  # -a: every image no container uses, through the daemon; then nothing left either way.
  run --separate-stderr mdh image prune -a -f
  assert_success
  assert_line "untagged: lab/made:v1"
  assert_line --regexp '^Total reclaimed space: [0-9.]+[kM]B$'
  [[ -z $(md images -aq) ]]
  same_through_daemon image prune -a -f
  assert_output "Total reclaimed space: 0B"
  # Without -f: Docker's question, and "no" prunes nothing.
  md import "$BATS_TEST_TMPDIR/one" again:v1 >/dev/null
  same_through_daemon image prune -a
  assert_output "WARNING! This will remove all images without at least one container associated to them."$'\n'"Are you sure you want to continue? [y/N] "
  [[ -n $(md images -q again:v1) ]]
}

@test "client images: import of a tar, a directory and stdin; its errors as in-process" {
  daemon_start
  local tar
  tar=$(rootfs_tar)
  # The same tar makes the same layer, and with the same comment the same history row.
  run --separate-stderr mdh import -m "from the client" "$tar" lab/remote:v1
  assert_success
  assert_output --regexp '^sha256:[0-9a-f]{64}$'
  grep -q '^POST /v1.41/images/create?fromSrc=-&message=from%20the%20client&repo=lab%2Fremote%3Av1 200' \
    "$DAEMON_LOG"
  run md run --rm --network none lab/remote:v1 echo imported
  assert_output imported
  md import -m "from the client" "$tar" lab/local:v1 >/dev/null
  [[ $(md image inspect lab/remote:v1 | jq -r '.[0].RootFS.Layers[0]') == \
    "$(md image inspect lab/local:v1 | jq -r '.[0].RootFS.Layers[0]')" ]]
  run md history lab/remote:v1
  assert_line --index 1 --regexp ' from the client$'
  # A directory: sent as the tar the CLI would have made of it; the same layer as in-process.
  mkdir -p "$BATS_TEST_TMPDIR/dir/sub"
  echo hello >"$BATS_TEST_TMPDIR/dir/sub/f"
  md import "$BATS_TEST_TMPDIR/dir" dir:local >/dev/null
  run mdh import "$BATS_TEST_TMPDIR/dir" dir:remote
  assert_success
  [[ $(md image inspect dir:remote | jq -r '.[0].RootFS.Layers[0]') == \
    "$(md image inspect dir:local | jq -r '.[0].RootFS.Layers[0]')" ]]
  run md history dir:remote
  assert_line --index 1 --partial "Imported from $BATS_TEST_TMPDIR/dir"
  # -: stdin, sent in chunks.
  run bash -c 'gzip -c <"$2" | "$0" -H "unix://$1" import - piped:v1' "$MINIDOCKER" "$SOCK" "$tar"
  assert_success
  run md run --rm --network none piped:v1 echo piped
  assert_output piped
  # The errors, in the same words: a missing file, a bad name, a URL, a file that is no tar.
  same_through_daemon import "$BATS_TEST_TMPDIR/nosuch.tar"
  assert_failure 1
  [[ $stderr == "Error: $BATS_TEST_TMPDIR/nosuch.tar: No such file or directory" ]]
  same_through_daemon import "$tar" 'Bad:Name'
  assert_failure 1
  same_through_daemon import http://example.com/x.tar
  assert_failure 1
  echo "not a tar" >"$BATS_TEST_TMPDIR/junk"
  same_through_daemon import "$BATS_TEST_TMPDIR/junk"
  assert_failure 1
}

@test "client images: save -o and to stdout, several images; load -i, stdin and -q" {
  daemon_start
  md tag busybox lab/one:v1
  mkdir -p "$BATS_TEST_TMPDIR/dir"
  echo two >"$BATS_TEST_TMPDIR/dir/two"
  md import "$BATS_TEST_TMPDIR/dir" lab/two:v1 >/dev/null
  # The same archive both ways: byte for byte.
  run mdh save -o "$BATS_TEST_TMPDIR/remote.tar" lab/one:v1 lab/two:v1
  assert_success
  assert_output ""
  md save -o "$BATS_TEST_TMPDIR/local.tar" lab/one:v1 lab/two:v1
  cmp "$BATS_TEST_TMPDIR/remote.tar" "$BATS_TEST_TMPDIR/local.tar"
  mdh save lab/two:v1 >"$BATS_TEST_TMPDIR/stdout.tar"
  md save lab/two:v1 | cmp - "$BATS_TEST_TMPDIR/stdout.tar"
  grep -q '^GET /v1.41/images/get?names=lab%2Fone%3Av1&names=lab%2Ftwo%3Av1 200' "$DAEMON_LOG"
  # A missing image: the same error, and no file left under the name asked for.
  same_through_daemon save -o "$BATS_TEST_TMPDIR/missing.tar" lab/one:v1 nosuch:v9
  assert_failure 1
  [[ $stderr == "Error: No such image: nosuch:v9" ]]
  [[ -z $(compgen -G "$BATS_TEST_TMPDIR/missing.tar*") ]]
  same_through_daemon save -o "$BATS_TEST_TMPDIR/no/such/dir/x.tar" lab/one:v1
  assert_failure 1
  # load: the archive into an empty store, each way, the same lines.
  md rmi lab/one:v1 lab/two:v1 busybox >/dev/null
  [[ -z $(md images -q) ]]
  run --separate-stderr mdh load -i "$BATS_TEST_TMPDIR/remote.tar"
  assert_success
  assert_output $'Loaded image: lab/one:v1\nLoaded image: lab/two:v1'
  [[ -z $stderr ]]
  run md run --rm --network none lab/one:v1 echo loaded
  assert_output loaded
  NEW_IDS=
  same_through_daemon load -i "$BATS_TEST_TMPDIR/remote.tar"
  assert_success
  same_through_daemon load -q -i "$BATS_TEST_TMPDIR/stdout.tar"
  assert_output "Loaded image: lab/two:v1"
  STDIN_FILE="$BATS_TEST_TMPDIR/stdout.tar" same_through_daemon load
  assert_output "Loaded image: lab/two:v1"
  # From a pipe (a chunked body), compressed.
  run bash -c 'gzip -c <"$2" | "$0" -H "unix://$1" load' "$MINIDOCKER" "$SOCK" \
    "$BATS_TEST_TMPDIR/stdout.tar"
  assert_success
  assert_output "Loaded image: lab/two:v1"
  # The errors: a missing file, a file that is no archive.
  same_through_daemon load -i "$BATS_TEST_TMPDIR/nosuch.tar"
  assert_failure 1
  [[ $stderr == "Error: open $BATS_TEST_TMPDIR/nosuch.tar: no such file or directory" ]]
  echo "not an archive" >"$BATS_TEST_TMPDIR/junk"
  same_through_daemon load -i "$BATS_TEST_TMPDIR/junk"
  assert_failure 1
}

@test "client images: commit through the daemon: the same image as in-process; errors" {
  daemon_start
  for who in local remote; do
    md run --name "c-$who" --network none busybox sh -c 'echo changed > /changed' >/dev/null
  done
  run --separate-stderr md commit -a "Lab <lab@example.com>" -m "the message" \
    -c 'CMD ["cat", "/changed"]' -c 'ENV MADE=yes' c-local made:local
  assert_success
  run --separate-stderr mdh commit -a "Lab <lab@example.com>" -m "the message" \
    -c 'CMD ["cat", "/changed"]' -c 'ENV MADE=yes' c-remote made:remote
  assert_success
  assert_output --regexp '^sha256:[0-9a-f]{64}$'
  [[ $output == "$(md image inspect made:remote | jq -r '.[0].Id')" ]]
  grep -q '^POST /v1.41/commit?container=c-remote&pause=1&repo=made%3Aremote&comment=the%20message' \
    "$DAEMON_LOG"
  # The same config and number of layers. (Not the same layer digests: the two containers'
  # /changed were written at different times, and a tar entry carries its mtime.)
  local filter='.[0] | {Author, Comment, Config, Layers: (.RootFS.Layers | length)}'
  [[ $(md image inspect made:remote | jq -S "$filter") == \
    "$(md image inspect made:local | jq -S "$filter")" ]]
  run md run --rm --network none made:remote
  assert_output changed
  # The errors in the same words.
  same_through_daemon commit nosuch
  assert_failure 1
  [[ $stderr == "Error: No such container: nosuch" ]]
  same_through_daemon commit c-local 'Bad:Name'
  assert_failure 1
  same_through_daemon commit -c 'NOSUCH x' c-local
  assert_failure 1
}

@test "client images: build through the daemon prints the builder's lines; -t, -f, --build-arg, -q, --no-cache" {
  ctx="$BATS_TEST_TMPDIR/ctx"
  mkdir -p "$ctx/sub"
  echo "from the context" >"$ctx/sub/hello.txt"
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM busybox
ARG WHO=nobody
COPY sub/hello.txt /app/
RUN cat /app/hello.txt && echo "built for $WHO" | tee /app/who.txt && echo "to stderr" >&2
CMD ["cat", "/app/who.txt"]
DOCKERFILE
  printf 'FROM busybox\nRUN echo other\n' >"$ctx/sub/Other.dockerfile"
  daemon_start
  # Every step run anew each way: the same lines but for the new ids.
  same_through_daemon build --no-cache -t app:v1 --build-arg WHO=me "$ctx"
  assert_success
  assert_line "Step 4/5 : RUN cat /app/hello.txt && echo \"built for \$WHO\" | tee /app/who.txt && echo \"to stderr\" >&2"
  assert_line "from the context"
  assert_line "built for me"
  assert_line "to stderr"
  assert_line --regexp '^Successfully built [0-9a-f]{12}$'
  assert_line "Successfully tagged app:v1"
  id=$(md images -q app:v1)
  assert_line "Successfully built $id"
  run md run --rm --network none app:v1
  assert_output "built for me"
  grep -q '^POST /v1.41/build?dockerfile=Dockerfile&t=app%3Av1&nocache=1&buildargs=' "$DAEMON_LOG"
  # Cached: byte for byte the same, ids too.
  NEW_IDS='' same_through_daemon build -t app:v1 --build-arg WHO=me "$ctx"
  assert_line " ---> Using cache"
  NEW_IDS='' same_through_daemon build -q -t app:v1 --build-arg WHO=me "$ctx"
  assert_output "$(md image inspect app:v1 | jq -r '.[0].Id')"
  # -f: another Dockerfile in the context, by the path the CLI was given.
  same_through_daemon build --no-cache -f "$ctx/sub/Other.dockerfile" -t other:v1 "$ctx"
  assert_success
  assert_line "other"
  # No container and no context directory are left on the daemon's side.
  [[ -z $(md ps -aq) ]]
  [[ -z $(find "$ROOT" -maxdepth 1 -name 'build-context-*') ]]
}

@test "client images: a failing build through the daemon: the RUN's exit code, Docker's words" {
  ctx="$BATS_TEST_TMPDIR/bad"
  mkdir -p "$ctx"
  printf 'FROM busybox\nRUN echo before; exit 3\nCMD ["true"]\n' >"$ctx/Dockerfile"
  daemon_start
  # As Docker's CLI: the message without "Error: ", the command's exit code.
  same_through_daemon -3 build -t bad "$ctx"
  assert_failure 3
  assert_line "before"
  refute_line --partial "Successfully"
  [[ $stderr == "The command '/bin/sh -c echo before; exit 3' returned a non-zero code: 3" ]]
  [[ -z $(md images -q bad) ]]
  [[ -z $(md ps -aq) ]]
  # A bad Dockerfile, a missing one, a missing base image, a context that is not there.
  printf 'FROM busybox\nNOSUCH x\n' >"$ctx/Dockerfile"
  same_through_daemon build "$ctx"
  assert_failure 1
  [[ $stderr == Error:* ]]
  same_through_daemon build -f "$ctx/nosuch" "$ctx"
  assert_failure 1
  [[ $stderr == "Error: Cannot locate specified Dockerfile: $ctx/nosuch" ]]
  printf 'FROM nosuch-base:v9\n' >"$ctx/Dockerfile"
  same_through_daemon build "$ctx"
  assert_failure 1
  same_through_daemon build "$BATS_TEST_TMPDIR/nosuch-dir"
  assert_failure 1
  same_through_daemon build -t 'Bad:Name' "$ctx"
  assert_failure 1
  # A Dockerfile outside the context: in-process it is read where it is; through a daemon it
  # would have to travel in the context's tar (not done here): refused in one line.
  printf 'FROM busybox\n' >"$BATS_TEST_TMPDIR/Outside"
  run --separate-stderr mdh build -f "$BATS_TEST_TMPDIR/Outside" "$ctx"
  assert_failure 1
  [[ $stderr == "Error: through a daemon the Dockerfile must be inside the build context $ctx: $BATS_TEST_TMPDIR/Outside" ]]
}

@test "client images: version: the client always, the daemon's engine through -H" {
  daemon_start
  run --separate-stderr mdh version
  assert_success
  assert_line --index 0 "Client:"
  assert_line --regexp '^ API version: +1\.41$'
  assert_line "Server: minidocker"
  assert_line " Engine:"
  assert_line --regexp '^  API version: +1\.41 \(minimum version 1\.[0-9]+\)$'
  grep -q '^GET /v1.41/version 200' "$DAEMON_LOG"
  run --separate-stderr md version
  assert_success
  assert_line --index 0 "Client:"
  assert_line "Server: none: the engine runs in this process (no -H, no DOCKER_HOST)"
  # The daemon gone: the client's section, then Docker's line, exit 1.
  daemon_stop
  run --separate-stderr mdh version
  assert_failure 1
  assert_line --index 0 "Client:"
  [[ $stderr == "Cannot connect to the minidocker daemon at unix://$SOCK. Is the daemon running?" ]]
}

@test "client images: info: the daemon's facts through -H, the same facts in-process" {
  daemon_start
  md run -d --name up --network none busybox sleep 60 >/dev/null
  md create --name made --network none busybox true >/dev/null
  run --separate-stderr mdh info
  assert_success
  assert_line --index 0 "Client:"
  assert_line " Context:    unix://$SOCK"
  remote_server=$(sed -n '/^Server:/,$p' <<<"$output")
  grep -q '^GET /v1.41/info 200' "$DAEMON_LOG"
  run --separate-stderr md info
  assert_success
  assert_line " Context:    none: the engine runs in this process"
  [[ $(sed -n '/^Server:/,$p' <<<"$output") == "$remote_server" ]] ||
    fail "through the daemon: $remote_server; in-process: $output"
  assert_line " Containers: 2"
  assert_line "  Running: 1"
  assert_line "  Stopped: 1"
  assert_line " Images: 1"
  assert_line " Docker Root Dir: $ROOT"
}
