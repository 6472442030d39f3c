#!/usr/bin/env bash
# Writes tests/deps/minbase-packages.txt: the packages that `debootstrap --variant=minbase
# bookworm` installs, worked out from this machine's apt metadata (apt-get update first, with
# bookworm's main in sources.list) the way debootstrap picks them: every package of Priority
# required, plus apt, plus what they Depend or Pre-Depend on (the first of alternatives).
#   tests/deps/make-minbase-list.sh > tests/deps/minbase-packages.txt
set -euo pipefail

echo "# The packages of a debootstrap --variant=minbase Debian 12 (bookworm) root."
echo "# Made by tests/deps/make-minbase-list.sh from apt-cache dumpavail: Priority required, apt,"
echo "# and their Depends/Pre-Depends closure. tests/00-deps.bats reads it."
apt-cache dumpavail | awk '
  function add(p) { if (!(p in chosen)) { chosen[p] = 1; changed = 1 } }
  /^Package: / { pkg = $2; known[pkg] = 1; next }
  /^Priority: required/ { required[pkg] = 1; next }
  /^(Pre-)?Depends: / {
    line = $0
    sub(/^[^:]*: /, "", line)
    n = split(line, parts, /, */)
    for (i = 1; i <= n; i++) {
      first = parts[i]
      sub(/ *\|.*/, "", first)      # the first alternative
      sub(/ *\(.*/, "", first)      # no version
      sub(/:any$/, "", first)
      deps[pkg] = deps[pkg] " " first
    }
  }
  END {
    for (p in required) add(p)
    add("apt")
    while (changed) {
      changed = 0
      for (p in chosen) {
        n = split(deps[p], d, " ")
        for (i = 1; i <= n; i++) if (d[i] in known) add(d[i])
      }
    }
    for (p in chosen) print p
  }' | sort
