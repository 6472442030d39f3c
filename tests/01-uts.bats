#!/usr/bin/env bats
# Lesson 01 as a user runs it: the hostname changes inside only; bad names are refused.
load helpers
load kill-points

setup() {
  UTS="$LESSONS/01-uts/uts"
}

@test "uts: the name inside is the one asked for, the name outside is unchanged" {
  requires root
  before=$(hostname)
  run "$UTS" --hostname lab-bats --json
  assert_success
  inside=$(jq -r .inside_hostname <<<"$output")
  outside=$(jq -r .outside_hostname_after <<<"$output")
  assert_equal "$inside" "lab-bats"
  assert_equal "$outside" "$before"
  assert_equal "$(hostname)" "$before"
  assert_equal "$(jq -r .held <<<"$output")" "true"
}

@test "uts: the child is in another UTS namespace than the host" {
  requires root
  run "$UTS" --json
  assert_success
  ns_in=$(jq -r .ns_inside <<<"$output")
  ns_out=$(jq -r .ns_outside <<<"$output")
  assert_equal "$ns_out" "$(readlink /proc/self/ns/uts)"
  [[ $ns_in =~ ^uts:\[[0-9]+\]$ ]]
  [[ $ns_in != "$ns_out" ]]
}

@test "uts: the domain name is set inside too" {
  requires root
  run "$UTS" --domainname lab.test --json
  assert_success
  assert_equal "$(jq -r .inside_domainname <<<"$output")" "lab.test"
}

@test "uts: narration numbers four steps and ends with a verdict that held" {
  requires root
  run "$UTS" --hostname lab
  assert_success
  assert_line --index 0 --regexp '^\[1/4\] uname\(\)'
  assert_line --regexp '^\[2/4\] clone\(CLONE_NEWUTS\|SIGCHLD\) +~ unshare -u$'
  assert_line --regexp '^\[3/4\] sethostname\("lab", 3\)'
  assert_line --regexp '^      inside: lab   outside: .* \(unchanged\)$'
  assert_line --index -1 --regexp '^verdict: HELD - '
}

@test "uts: --quiet prints only the verdict; no colour without a terminal" {
  requires root
  run "$UTS" --quiet
  assert_success
  assert_equal "${#lines[@]}" 1
  assert_output --regexp '^verdict: HELD - '
  refute_output --partial $'\033['
}

@test "uts: colour on a terminal, none with NO_COLOR" {
  requires root cmd:script
  run script -qec "$UTS --quiet" /dev/null
  assert_output --partial $'\033[1;32mverdict: HELD'
  run env NO_COLOR=1 script -qec "$UTS --quiet" /dev/null
  refute_output --partial $'\033['
}

@test "uts: --shell gives a shell inside whose hostname is the new name" {
  requires root
  before=$(hostname)
  run bash -c "printf 'echo marker-\$(hostname)\n' | '$UTS' --shell --hostname lab-shell"
  # only a command run by the shell inside can print this line
  assert_output --partial "marker-lab-shell"
  assert_equal "$(hostname)" "$before"
}

@test "uts: --shell without bash falls back to sh, whose prompt shows the new name" {
  requires root cmd:unshare
  # a private mount namespace in which /bin/bash is not executable; it vanishes with the command
  run unshare -m bash -c "mount --bind /dev/null \"\$(readlink -f /bin/bash)\" &&
    printf 'echo marker-\$(hostname)\n' | '$UTS' --shell --hostname lab-sh 2>&1"
  assert_success
  assert_output --partial "marker-lab-sh"
  assert_output --partial "[uts lesson] lab-sh# "
  refute_output --partial "Illegal option"
  assert_line --index -1 --regexp '^verdict: HELD - '
}

# The child reports each name as a message of its own, so any byte but NUL (which a name cannot
# hold) comes back exactly: a newline, a tab, an "error:" prefix, a byte that is not UTF-8.
@test "uts: names with a newline, a tab, an error: prefix and a \\xff byte come back exactly" {
  requires root
  for pair in $'a\nb|d\ne' $'tab\there|dom\tain' $'error:x|error:y' $'h\xffx|d\xff' \
    $'error:\n\xff\t|\n'; do
    name=${pair%%|*} domain=${pair#*|}
    run "$UTS" --json --hostname "$name" --domainname "$domain"
    assert_success
    assert_equal "$(jq -r .held <<<"$output")" "true"
    # the exact bytes, as hex (xxd -p), requested and seen inside
    want_host=$(printf '%s' "$name" | od -An -tx1 | tr -d ' \n')
    want_domain=$(printf '%s' "$domain" | od -An -tx1 | tr -d ' \n')
    assert_equal "$(jq -r .requested_hostname_hex <<<"$output")" "$want_host"
    assert_equal "$(jq -r .inside_hostname_hex <<<"$output")" "$want_host"
    assert_equal "$(jq -r .inside_domainname_hex <<<"$output")" "$want_domain"
    # and as JSON text where the bytes are UTF-8 (jq -j: no newline added)
    if [[ $pair != *$'\xff'* ]]; then
      assert_equal "$(jq -j .inside_hostname <<<"$output"; echo .)" "$name."
      assert_equal "$(jq -j .inside_domainname <<<"$output"; echo .)" "$domain."
    fi
  done
}

@test "uts: the narration spells an odd name with escapes, as C and bash would read it back" {
  requires root
  run "$UTS" --hostname $'a\nb\xff' --domainname $'error:\tx'
  assert_success
  assert_line --regexp '^\[3/4\] sethostname\("a\\nb\\377", 4\)  \[in the child\] +~ hostname \$'"'"'a\\nb\\377'"'"'$'
  assert_line --partial 'domainname "error:\tx"'
  assert_line --index -1 'verdict: HELD - the hostname is "a\nb\377" inside the new UTS namespace and still "'"$(hostname)"'" outside'
}

@test "uts: an empty hostname is refused in one line, before anything is made" {
  run "$UTS" --hostname ''
  assert_failure 2
  assert_equal "${#lines[@]}" 1
  assert_output --partial "the name is empty"
}

@test "uts: a 65-byte hostname is refused, 64 bytes are accepted" {
  run "$UTS" --hostname "$(printf 'a%.0s' {1..65})"
  assert_failure 2
  assert_output --partial "65 bytes; the kernel allows at most 64"
  requires root
  run "$UTS" --quiet --hostname "$(printf 'a%.0s' {1..64})"
  assert_success
}

@test "uts: an unknown option is refused in one line" {
  run "$UTS" --hostnme lab
  assert_failure 2
  assert_equal "${#lines[@]}" 1
  assert_output --partial "see uts --help"
}

@test "uts: without root it says so in one line and exits non-zero" {
  run_as_nobody "$UTS"
  assert_failure 1
  assert_equal "${#lines[@]}" 1
  assert_output --partial "needs root"
  assert_output --partial "sudo ./uts"
}

@test "uts: --help explains every option" {
  run "$UTS" --help
  assert_success
  for opt in --hostname --domainname --shell --json --quiet; do
    assert_output --partial -- "$opt"
  done
}

@test "uts demo.sh: unshare -u changes the name inside only" {
  requires root cmd:unshare
  before=$(hostname)
  run "$LESSONS/01-uts/demo.sh" lab-demo
  assert_success
  assert_line --regexp '^      inside:  lab-demo '
  assert_line --index -1 --partial 'verdict: HELD'
  assert_equal "$(hostname)" "$before"
}

@test "uts demo.sh: refuses an over-long name and runs nothing" {
  run "$LESSONS/01-uts/demo.sh" "$(printf 'a%.0s' {1..65})"
  assert_failure 2
  assert_output --partial "1-64 bytes"
}

@test "uts demo.sh: checks the name before root: over-long exits 2, no root exits 1" {
  requires root
  run_as_nobody "$LESSONS/01-uts/demo.sh" "$(printf 'a%.0s' {1..65})"
  assert_failure 2
  assert_output --partial "1-64 bytes"
  run_as_nobody "$LESSONS/01-uts/demo.sh" lab
  assert_failure 1
  assert_output --partial "needs root"
}

# Exercise 2: the README's two commands, run as the user nobody. Without a uid map nobody is the
# overflow UID 65534 in the new user namespace and execve leaves sh no capability; -r maps it to
# root there, and sh keeps CAP_SYS_ADMIN for the UTS namespace that user namespace owns.
@test "uts exercise 2: as nobody, unshare -U -u cannot set the hostname; unshare -U -r -u can (README en, zh)" {
  requires root cmd:unshare cmd:setpriv
  before=$(hostname)
  for readme in README.md README.zh.md; do
    mapfile -t cmds < <(sed -n 's/^\$ \(setpriv --reuid=nobody .* unshare -U .*\)$/\1/p' \
      "$LESSONS/01-uts/$readme")
    assert_equal "${#cmds[@]}" 2
    [[ ${cmds[0]} == *"unshare -U -u sh"* ]]
    [[ ${cmds[1]} == *"unshare -U -r -u sh"* ]]
    run bash -c "cd /tmp && ${cmds[0]}"
    assert_line --index 0 65534
    assert_line --partial "you must be root to change the host name"
    refute_line lab
    run bash -c "cd /tmp && ${cmds[1]}"
    assert_success
    assert_line --index 0 0
    assert_line --index 1 --regexp '^ +0 +65534 +1$'
    assert_line --index 2 lab
    assert_line --index 3 "$before"
  done
  assert_equal "$(hostname)" "$before"
  # the reason the README gives: no capability after execve without the map, all of them with it
  as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  run "${as_nobody[@]}" unshare -U -u sh -c 'grep CapEff /proc/self/status'
  assert_output --regexp '^CapEff:[[:space:]]+0+$'
  run "${as_nobody[@]}" unshare -U -r -u sh -c 'grep CapEff /proc/self/status'
  refute_output --regexp '^CapEff:[[:space:]]+0+$'
}

@test "uts: README transcripts match the real output (English and Chinese)" {
  requires root
  check_transcript "$LESSONS/01-uts/README.md" "$LESSONS/01-uts/README.zh.md"
}

@test "uts: SIGTERM while the --shell child runs removes the child and its namespace" {
  requires root
  fifo="$BATS_TEST_TMPDIR/stdin"
  mkfifo "$fifo"
  "$UTS" --shell --hostname lab-term <"$fifo" >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
  lesson=$!
  exec {writer}>"$fifo"  # keeps the shell waiting for input (bats owns fd 3)
  # shellcheck disable=SC2016  # expanded by the shell inside
  echo 'echo shell-ready-$(hostname)' >&"$writer"
  # blocked: the shell inside has run a command and reads its stdin again
  kp_wait_for "the shell inside ./uts --shell" grep -q '^shell-ready-lab-term$' "$BATS_TEST_TMPDIR/out"
  child=$(pgrep -P "$lesson")
  [[ -n $child ]]
  ns=$(readlink "/proc/$child/ns/uts")
  kill -TERM "$lesson"
  code=0
  wait "$lesson" || code=$?
  exec {writer}>&-
  assert_equal "$code" 130
  grep -q "interrupted; everything created so far was removed" "$BATS_TEST_TMPDIR/out"
  run kill -0 "$child"
  assert_failure
  # no process is left in that UTS namespace
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/ns/uts" 2>/dev/null) != "$ns" ]]
  done
}

@test "uts: SIGKILL during --shell: the shell dies with it, nothing is left, the next run holds" {
  requires root
  kp_before
  before=$(hostname)
  mkfifo "$BATS_TEST_TMPDIR/in"
  exec 8<>"$BATS_TEST_TMPDIR/in"
  "$UTS" --shell --hostname lab-kill <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
  PID=$!
  # shellcheck disable=SC2016  # expanded by the shell inside
  echo 'echo shell-ready-$(hostname)' >&8
  # blocked: the shell inside reads its stdin, a fifo this test holds open
  kp_wait_for "the shell inside ./uts --shell" grep -q '^shell-ready-lab-kill$' "$BATS_TEST_TMPDIR/out"
  mapfile -t inside < <(kp_descendants "$PID")
  [[ ${#inside[@]} -ge 1 ]]
  ns=$(readlink "/proc/${inside[0]}/ns/uts")
  kp_kill "$PID"
  PID=""
  exec 8>&-
  # the shell had PR_SET_PDEATHSIG(SIGKILL): it dies, and the UTS namespace with its last process
  kp_processes_gone "${inside[@]}"
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/ns/uts" 2>/dev/null) != "$ns" ]]
  done
  assert_equal "$(hostname)" "$before"
  kp_after
  run "$UTS" --quiet
  assert_success
  assert_output --regexp '^verdict: HELD - '
}

@test "uts demo.sh: SIGKILL while the sh inside unshare -u runs: it dies with the script, the next run holds" {
  requires root cmd:setpriv cmd:unshare
  kp_before
  before=$(hostname)
  # The blocked point: a hostname on PATH that, asked to set a name (only the sh inside the new
  # UTS namespace does that), says so and waits on a fifo this test holds open. It is the test's
  # instrument: the test ends it itself once the rest is checked.
  mkdir "$BATS_TEST_TMPDIR/bin"
  mkfifo "$BATS_TEST_TMPDIR/gate"
  exec 8<>"$BATS_TEST_TMPDIR/gate"
  cat >"$BATS_TEST_TMPDIR/bin/hostname" <<FAKE
#!/bin/sh
if [ \$# -gt 0 ]; then
  echo "\$\$" >"$BATS_TEST_TMPDIR/blocked"
  read -r _ <"$BATS_TEST_TMPDIR/gate"
fi
exec $(command -v hostname) "\$@"
FAKE
  chmod +x "$BATS_TEST_TMPDIR/bin/hostname"
  PATH="$BATS_TEST_TMPDIR/bin:$PATH" "$LESSONS/01-uts/demo.sh" lab-kill >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- 8>&- &
  PID=$!
  kp_wait_for "demo.sh's sh to set the name inside" test -s "$BATS_TEST_TMPDIR/blocked"
  read -r hostname_pid <"$BATS_TEST_TMPDIR/blocked"
  ns=$(readlink "/proc/$hostname_pid/ns/uts")
  [[ $ns != "$(readlink /proc/self/ns/uts)" ]]
  # the sh that unshare -u became, not the test's own hostname
  mapfile -t inner < <(kp_descendants "$PID" | grep -vx "$hostname_pid")
  [[ ${#inner[@]} -ge 1 ]]
  kp_kill "$PID"
  PID=""
  kp_processes_gone "${inner[@]}"
  kp_kill "$hostname_pid"
  exec 8>&-
  # no process is left in that UTS namespace, so it is gone
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/ns/uts" 2>/dev/null) != "$ns" ]]
  done
  assert_equal "$(hostname)" "$before"
  kp_after
  run "$LESSONS/01-uts/demo.sh" lab-demo
  assert_success
  assert_line --index -1 --partial 'verdict: HELD'
}
