#include "pid.hpp"

#include <gtest/gtest.h>

namespace {

constexpr const char* kStatus =
    "Name:\tsleep\nState:\tZ (zombie)\nTgid:\t4331\nPid:\t4331\nPPid:\t4325\n"
    "NSpid:\t4331\t3\nSigPnd:\t0000000000000000\n";

TEST(PidStatus, Fields) {
  struct Case {
    std::string key, want;
  } cases[] = {
      {"Name", "sleep"},    {"State", "Z (zombie)"}, {"PPid", "4325"}, {"Pid", "4331"},
      {"NSpid", "4331\t3"}, {"Missing", ""},         {"Pi", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(pid::status_field(kStatus, c.key), c.want) << c.key;
}

TEST(PidStatus, NspidAndState) {
  struct Case {
    std::string status;
    std::vector<pid_t> nspid;
    char state;
  } cases[] = {
      {kStatus, {4331, 3}, 'Z'},
      {"State:\tS (sleeping)\nNSpid:\t12\n", {12}, 'S'},
      {"NSpid:\t900\t40\t1\n", {900, 40, 1}, '?'},
      {"", {}, '?'},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(pid::parse_nspid(c.status), c.nspid) << c.status;
    EXPECT_EQ(pid::process_state(c.status), c.state) << c.status;
  }
}

TEST(PidPs, ParseBusyboxPs) {
  auto entries = pid::parse_ps(
      "PID   USER     COMMAND\n    1 root     /bin/sh\n    2 root     {ps} /bin/sh\n");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].pid, 1);
  EXPECT_EQ(entries[0].user, "root");
  EXPECT_EQ(entries[0].command, "/bin/sh");
  EXPECT_EQ(entries[1].pid, 2);
  EXPECT_EQ(entries[1].command, "{ps} /bin/sh");
  EXPECT_TRUE(pid::parse_ps("PID   USER     COMMAND\n").empty());
  EXPECT_TRUE(pid::parse_ps("").empty());
}

TEST(PidPs, ShellAndPsOnly) {
  using E = pid::PsEntry;
  struct Case {
    std::vector<E> entries;
    bool ok;
  } cases[] = {
      {{{1, "root", "/bin/sh"}, {2, "root", "{ps} /bin/sh"}}, true},
      {{{1, "root", "/bin/sh"}, {10, "root", "ps"}}, true},  // the notes' docker run
      {{{1, "root", "/bin/sh"}, {4, "root", "ps -ef"}}, true},
      {{{1, "root", "/sbin/init"}, {2, "root", "ps"}}, false},  // the host's ps
      {{{7, "root", "/bin/sh"}, {8, "root", "ps"}}, false},
      {{{1, "root", "/bin/sh"}, {2, "root", "sleep 1000"}}, false},
      {{{1, "root", "/bin/sh"}, {2, "root", "sleep 1000"}, {3, "root", "ps"}}, false},
      {{{1, "root", "/bin/sh"}}, false},
      {{}, false},
  };
  for (const auto& c : cases)
    EXPECT_EQ(pid::check_ps_shows_shell_and_ps(c.entries).empty(), c.ok)
        << c.entries.size() << " entries";
  EXPECT_EQ(pid::check_ps_shows_shell_and_ps({}),
            "ps listed 0 processes, expected 2 (the shell and ps)");
}

}  // namespace
