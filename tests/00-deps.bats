#!/usr/bin/env bats
# A fresh minimal Debian 12 root (debootstrap --variant=minbase) plus scripts/install-deps.sh must
# be enough: every command that the scripts, demos and tests call comes from a package of
# tests/deps/minbase-packages.txt or from one that install-deps.sh installs.
load helpers

# The commands are found two ways:
# - extracted: the first word of each command in scripts/*.sh, lessons/*/demo.sh, final/*.sh,
#   lessons/*/bench.sh, tests/*.bats, tests/*.bash, tests/*.sh and tests/vm/*.sh (comments
#   dropped, lines split at ; | & ( ) { } and backquotes, leading keywords and VAR=value skipped),
#   kept when it names a program on this machine's PATH. Simple and over-eager: a word of prose
#   that happens to be a program is checked too (NOT_COMMANDS lists those).
# - listed: EXTRA_COMMANDS, the ones the extraction cannot see (called through unshare, nsenter,
#   setpriv or sh -c, or from a README's exercises). A listed command must be installed here.
# tests/vm/init.sh is left out: it runs inside the VM, where busybox provides every command.
# tests/minimal-root.sh too: it runs on the host that bootstraps the minimal root (and installs
# debootstrap there itself), never inside the suite.
EXTRA_COMMANDS=(
  ip iptables ping sysctl nsenter unshare setpriv pkill xargs flock  # called through wrappers
  setfattr getfattr                                                  # lesson 05's exercises
  modprobe                                                           # tests/helpers.bash
  xz cpio                                                            # tests/vm/prepare.sh
  readelf                                                            # lesson 03's README
)
NOT_COMMANDS=(
  as       # jq's `as` (lessons/06-bridge/bench.sh), prose
  docker   # "(docker save)" in final/'s error messages that tests/21 expects
  init     # the word in test names and messages ("the PID namespace's init", --init)
  install  # "install ok installed", dpkg's status text
  join     # jq's join()
  kvm      # the word in tests/helpers.bash and run-in-vm.sh
  last     # prose in tests/vm/run-in-vm.sh ("last console lines")
  wget     # busybox's, run as "$BB wget" or inside containers (tests/36, engine-demo.sh echo lines)
)

script_files() {
  local f
  for f in "$PROJECT_DIR"/scripts/*.sh "$PROJECT_DIR"/lessons/*/demo.sh "$PROJECT_DIR"/final/*.sh \
    "$PROJECT_DIR"/lessons/*/bench.sh "$PROJECT_DIR"/tests/*.bats "$PROJECT_DIR"/tests/*.bash \
    "$PROJECT_DIR"/tests/*.sh "$PROJECT_DIR"/tests/vm/*.sh; do
    [[ $f == */tests/vm/init.sh || $f == */tests/minimal-root.sh ]] || echo "$f"
  done
}

# The first word of each command, one a line (see above).
extracted_words() {
  local f
  while read -r f; do
    sed -e 's/^[[:space:]]*#.*//' -e 's/[[:space:]]#[^"'\'']*$//' "$f"
  done < <(script_files) | tr ';|&(){}`' '\n' | awk '{
    for (i = 1; i <= NF; i++) {
      w = $i
      if (w ~ /^(!|then|do|else|elif|if|while|until|time|exec|run|command|env|builtin)$/) continue
      if (w ~ /^[A-Za-z_][A-Za-z0-9_]*=/) continue
      print w
      break
    }
  }' | grep -E '^[a-z][a-z0-9._+-]*$' | sort -u
}

# The commands to check, one a line.
commands_to_check() {
  local w
  {
    while read -r w; do
      [[ " ${NOT_COMMANDS[*]} " == *" $w "* ]] && continue
      [[ $(type -t "$w") == file ]] && echo "$w"
    done < <(extracted_words)
    printf '%s\n' "${EXTRA_COMMANDS[@]}"
  } | sort -u
}

# The package that installed a program: dpkg -S on its path, its target (alternatives) and the
# same under /bin or /usr/bin (usrmerge: dpkg may know either).
package_of() {
  local path=$1 real candidates p pkg
  real=$(readlink -f "$path")
  candidates=("$path" "$real")
  for p in "$path" "$real"; do
    case $p in
      /usr/bin/* | /usr/sbin/*) candidates+=("${p#/usr}") ;;
      /bin/* | /sbin/*) candidates+=("/usr$p") ;;
    esac
  done
  for p in "${candidates[@]}"; do
    pkg=$(dpkg -S "$p" 2>/dev/null | grep -v '^diversion' | head -1 | cut -d: -f1 | cut -d, -f1)
    [[ -n $pkg ]] && echo "$pkg" && return 0
  done
  return 1
}

@test "deps: the minbase list is there and holds the essentials" {
  list="$PROJECT_DIR/tests/deps/minbase-packages.txt"
  [[ -f $list ]]
  for p in apt bash coreutils dpkg util-linux mount; do
    grep -qx "$p" "$list" || fail "$p is missing from $list"
  done
  # not in minbase (Priority standard or optional): what issue 6 found missing
  for p in xz-utils attr procps iproute2; do
    if grep -qx "$p" "$list"; then fail "$p should not be in $list"; fi
  done
}

@test "deps: install-deps.sh installs xz-utils (tests/vm/prepare.sh) and attr (lesson 05)" {
  run "$PROJECT_DIR/scripts/install-deps.sh" --list
  assert_success
  assert_line xz-utils
  assert_line attr
}

@test "deps: install-deps.sh installs tini (run --init binds its tini-static as docker-init)" {
  run "$PROJECT_DIR/scripts/install-deps.sh" --list
  assert_success
  assert_line tini
}

@test "deps: every command the scripts, demos and tests call comes from minbase or install-deps.sh" {
  local minbase wanted cmd path pkg problems=()
  minbase=$(grep -v '^#' "$PROJECT_DIR/tests/deps/minbase-packages.txt")
  wanted=$("$PROJECT_DIR/scripts/install-deps.sh" --list)
  local checked=0
  while read -r cmd; do
    path=$(type -P "$cmd") || {
      problems+=("$cmd: not installed here (add its package to scripts/install-deps.sh)")
      continue
    }
    pkg=$(package_of "$path") || {
      problems+=("$cmd: $path belongs to no Debian package")
      continue
    }
    checked=$((checked + 1))
    grep -qx "$pkg" <<<"$minbase" && continue
    grep -qx "$pkg" <<<"$wanted" && continue
    problems+=("$cmd: from package $pkg, which is neither in minbase nor in scripts/install-deps.sh")
  done < <(commands_to_check)
  ((${#problems[@]} == 0)) || fail "$(printf '%s\n' "${problems[@]}")"
  # the extraction found something to check (a broken one would pass vacuously)
  ((checked >= 40)) || fail "only $checked commands checked"
}

@test "deps: the extraction sees a command that only a script calls" {
  # A command in command position after a pipe, in $( ), after && and after a keyword.
  probe="$BATS_TEST_TMPDIR/probe.sh"
  # shellcheck disable=SC2016  # a script's text
  printf '%s\n' 'x=$(getconf CLK_TCK) && tac f | rev' 'if mkfifo p; then :; fi' >"$probe"
  script_files() { echo "$probe"; }
  run extracted_words
  assert_line getconf
  assert_line tac
  assert_line rev
  assert_line mkfifo
  refute_line x
}
