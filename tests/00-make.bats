#!/usr/bin/env bats
# The top-level Makefile as a user runs it.
load helpers

# make as a user types it at a shell: the suite itself runs under `make test`, whose MAKELEVEL,
# MAKEFLAGS and MFLAGS would otherwise make this make a sub-make.
user_make() { env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS make "$@"; }

@test "make: a make that runs make (make demo, make test) does not warn about the jobserver" {
  # -n runs only the recursive $(MAKE) lines, so nothing is built or run here
  for target in demo test; do
    run user_make -C "$PROJECT_DIR" -n "$target"
    assert_success
    refute_output --partial "resetting jobserver mode"
    refute_output --partial "forced in makefile"
  done
}

@test "make: the top level still builds in parallel, and passes the jobserver down" {
  # the lessons' makes (make[1]) print their MAKEFLAGS: -jN and the jobserver they share
  run bash -c "env -u MAKELEVEL -u MAKEFLAGS -u MFLAGS make -C '$PROJECT_DIR' -n -p all 2>&1 |
    grep -E '^MAKEFLAGS = .*--jobserver-auth' | sort -u"
  assert_success
  assert_line --regexp "^MAKEFLAGS = .* -j$(nproc) --jobserver-auth="
}
