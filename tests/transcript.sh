#!/usr/bin/env bash
# Checks the transcripts in lesson READMEs against what the commands print today.
#
# A transcript is a fenced block right after a marker line:
#   <!-- transcript -->
#   ```console
#   $ sudo ./uts --hostname lab
#   [1/4] uname()  ...
#   ```
# The command (after "$ ", with "sudo " dropped) runs in the README's folder, in a fresh UTS
# namespace named "vm" (the transcripts were recorded on a host called vm). Its stdout and stderr
# must match the block line by line, except that numbers of two or more digits (PIDs, inode
# numbers) match any number, a run of spaces matches any run of spaces (columns padded around a
# PID shift when the PID has fewer digits), and "…" matches any text.
#   transcript.sh README.md [README.zh.md ...]
set -uo pipefail

to_regex() {
  # shellcheck disable=SC2016  # these are sed expressions, not shell ones
  # Escape ERE specials, then widen the volatile parts.
  sed -e 's/[][\.*^$(){}+?|/]/\\&/g' \
      -e 's/[0-9][0-9][0-9]*/[0-9]+/g' \
      -e 's/…/.*/g' \
      -e 's/  */ +/g' \
      -e 's/^/^/' -e 's/$/$/'
}

status=0
for readme in "$@"; do
  if [[ ! -f $readme ]]; then
    echo "$readme: missing"
    status=1
    continue
  fi
  dir=$(cd "$(dirname "$readme")" && pwd)
  mapfile -t lines <"$readme"
  found=0
  i=-1
  while ((++i < ${#lines[@]})); do
    [[ ${lines[i]} == "<!-- transcript -->" ]] || continue
    found=$((found + 1))
    ((i += 2))  # skip the marker and the ``` line
    cmd=${lines[i]#\$ }
    cmd=${cmd#sudo }
    expected=()
    while ((++i < ${#lines[@]})) && [[ ${lines[i]} != '```' ]]; do
      expected+=("${lines[i]}")
    done
    actual=$(cd "$dir" && NO_COLOR=1 unshare --uts sh -c "hostname vm && $cmd" 2>&1)
    mapfile -t got <<<"$actual"
    ok=1
    if ((${#got[@]} != ${#expected[@]})); then
      ok=0
    else
      for ((k = 0; k < ${#got[@]}; k++)); do
        re=$(printf '%s\n' "${expected[k]}" | to_regex)
        if ! [[ ${got[k]} =~ $re ]]; then
          ok=0
          echo "$readme: '$cmd' line $((k + 1)) differs:"
          echo "  README: ${expected[k]}"
          echo "  actual: ${got[k]}"
          break
        fi
      done
    fi
    if ((ok == 0)); then
      status=1
      echo "$readme: transcript of '$cmd' does not match (${#expected[@]} lines expected, ${#got[@]} printed). Actual output:"
      printf '%s\n' "$actual" | sed 's/^/  | /'
    fi
  done
  if ((found == 0)); then
    echo "$readme: no <!-- transcript --> block"
    status=1
  fi
done
exit $status
