#!/usr/bin/env bats
# The READMEs, as a reader meets them: one name for each recurring section of a Chinese lesson
# README, and commands shown as root types them (a fresh Debian root has no sudo; each README
# says once "as root (or with sudo)" in words, not in a command).
load helpers

HEADINGS=("## 笔记里的实验" "## C++ 的做法" "## 运行记录" "## 自己看看" "## 常见错误" "## 练习")
# final/ is not a lesson: in place of the notes' experiment it has the notes' architecture (the
# map of their execdriver and libcontainer to runc and to our files) and what a bundle is; the
# other sections are the lessons' own, under the same names. Part 2 (images) repeats them with
# its own prefix, so each anchor still leads to one place.
FINAL_HEADINGS=("## 笔记里的架构" "## OCI bundle" "## C++ 的做法" "## 运行记录" "## 自己看看" "## 常见错误" "## 练习" "## 笔记里怎么说" "## 磁盘上的存储"
  "## 镜像:C++ 的做法" "## 镜像:运行记录" "## 镜像:自己看看" "## 镜像:常见错误" "## 镜像:练习" "## 容器:对照表" "## 容器:一次运行的过程"
  "## 容器:常见错误" "## 网络:网络驱动" "## 容器:网络与端口" "## 容器:笔记里的全景图" "## 容器:exec、top、stats、pause"
  "## 容器:卷、cp、diff" "## 容器:commit 与 build" "## 容器:终端、attach、restart"
  "## 容器:一次完整的会话" "## 守护进程:client、server、router" "## 守护进程:镜像、构建、网络和卷"
  "## 守护进程:用 docker 客户端走一遍完整的会话" "## 我们自己的客户端")
FINAL_HEADINGS_EN=("## The notes' architecture" "## A bundle"
  "## The C++ way" "## A run" "## See for yourself" "## Common errors" "## Exercises"
  "## What the notes say" "## The store on disk" "## Images: the C++ way" "## Images: a run"
  "## Images: see for yourself" "## Images: common errors" "## Images: exercises"
  "## Containers: the map" "## Containers: how a run goes" "## Containers: common errors"
  "## Networks: the network driver" "## Containers: networks and ports"
  "## Containers: the notes' picture, end to end" "## Containers: exec, top, stats, pause"
  "## Containers: volumes, cp, diff" "## Containers: commit and build"
  "## Containers: terminals, attach, restart" "## Containers: a whole session"
  "## The daemon: client, server, router" "## The daemon: images, builds, networks and volumes"
  "## The daemon: a whole session through the docker client" "## Our own client")

readmes() {
  ls "$PROJECT_DIR"/README*.md "$PROJECT_DIR"/lessons/*/README*.md "$PROJECT_DIR"/tests/vm/README*.md \
    "$PROJECT_DIR"/final/README*.md 2>/dev/null
}

# The lines of a Markdown file that show a command with sudo, as FILE:LINE: TEXT: inside a fenced
# block (```), or in an inline code span (`sudo ...`).
sudo_command_lines() {
  awk -v f="${1#"$PROJECT_DIR"/}" '
    /^[[:space:]]*```/ { fenced = !fenced; next }
    fenced && /(^|[^[:alnum:]_-])sudo / { print f ":" FNR ": " $0; next }
    !fenced && /`(sudo |[^`]*[^[:alnum:]_`-]sudo )[^`]*`/ { print f ":" FNR ": " $0 }
  ' "$1"
}

@test "docs: every lesson's README.zh.md has each recurring heading exactly once" {
  local readme heading count problems=()
  for readme in "$PROJECT_DIR"/lessons/*/README.zh.md; do
    for heading in "${HEADINGS[@]}"; do
      count=$(grep -cxF "$heading" "$readme" || true)
      ((count == 1)) ||
        problems+=("${readme#"$PROJECT_DIR"/}: '$heading' $count times")
    done
  done
  ((${#problems[@]} == 0)) || fail "$(printf '%s\n' "${problems[@]}")"
}

@test "docs: final/'s READMEs have each of their headings exactly once" {
  local heading count problems=()
  for heading in "${FINAL_HEADINGS[@]}"; do
    count=$(grep -cxF "$heading" "$PROJECT_DIR/final/README.zh.md" || true)
    ((count == 1)) || problems+=("final/README.zh.md: '$heading' $count times")
  done
  for heading in "${FINAL_HEADINGS_EN[@]}"; do
    count=$(grep -cxF "$heading" "$PROJECT_DIR/final/README.md" || true)
    ((count == 1)) || problems+=("final/README.md: '$heading' $count times")
  done
  ((${#problems[@]} == 0)) || fail "$(printf '%s\n' "${problems[@]}")"
}

@test "docs: final/'s README transcripts match the real output (English and Chinese)" {
  requires root rootfs
  check_transcript "$PROJECT_DIR/final/README.md" "$PROJECT_DIR/final/README.zh.md"
}

@test "docs: no README shows sudo in a command" {
  local readme found=()
  while read -r readme; do
    mapfile -t -O "${#found[@]}" found < <(sudo_command_lines "$readme")
  done < <(readmes)
  ((${#found[@]} == 0)) || fail "$(printf '%s\n' "${found[@]}")"
}

@test "docs: the top-level READMEs say once that the commands run as root (or with sudo)" {
  [[ $(grep -c 'as root (or with sudo)' "$PROJECT_DIR/README.md") -eq 1 ]]
  [[ $(grep -c '以 root 身份(或用 sudo)' "$PROJECT_DIR/README.zh.md") -eq 1 ]]
}

@test "docs: the sudo finder sees commands in code blocks and code spans, not words" {
  local md="$BATS_TEST_TMPDIR/t.md"
  # shellcheck disable=SC2016  # Markdown, not shell
  printf '%s\n' 'Run it as root (or with sudo).' 'Run `sudo ./x`.' '```console' '$ sudo ./y' \
    '$ ./z   # pseudo tool' '```' 'plain sudo words here' >"$md"
  run sudo_command_lines "$md"
  # shellcheck disable=SC2016  # Markdown, not shell
  assert_line --partial ':2: Run `sudo ./x`.'
  assert_line --partial ':4: $ sudo ./y'
  assert_equal "${#lines[@]}" 2
}
