// common/process_limits: rlimit names, the OCI values' validation, and (in forked children)
// setrlimit's errors, no_new_privs, oom_score_adj and the user switch.
#include "process_limits.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "capabilities.hpp"
#include "error.hpp"
#include "in_child.hpp"

namespace {

using lab::limits::Rlimit;

TEST(Rlimits, EveryResourceHasItsName) {
  const std::pair<const char*, int> table[] = {
      {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
      {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
      {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
      {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
  };
  EXPECT_EQ(std::size(table), static_cast<size_t>(RLIMIT_NLIMITS));
  for (const auto& [name, resource] : table) {
    EXPECT_EQ(lab::limits::rlimit_resource(name), resource) << name;
    EXPECT_EQ(lab::limits::rlimit_name(resource), name);
  }
  for (const char* bad : {"NOFILE", "rlimit_nofile", "RLIMIT_FOO", ""})
    EXPECT_EQ(lab::limits::rlimit_resource(bad), std::nullopt) << bad;
}

TEST(Rlimits, ValidateSaysWhatIsWrong) {
  struct Row {
    std::vector<Rlimit> rlimits;
    const char* reason;
  };
  const Row table[] = {
      {{}, ""},
      {{{"RLIMIT_NOFILE", 1024, 1024}, {"RLIMIT_CORE", RLIM_INFINITY, 0}}, ""},
      {{{"RLIMIT_NOFLIE", 1024, 1024}}, "unknown rlimit type \"RLIMIT_NOFLIE\" in process.rlimits"},
      {{{"RLIMIT_NOFILE", 1024, 4096}},
       "process.rlimits RLIMIT_NOFILE: soft limit 4096 is above hard limit 1024"},
      {{{"RLIMIT_CORE", 10, RLIM_INFINITY}},
       "process.rlimits RLIMIT_CORE: soft limit unlimited is above hard limit 10"},
      {{{"RLIMIT_NPROC", 10, 10}, {"RLIMIT_NPROC", 20, 20}},
       "process.rlimits: RLIMIT_NPROC is given twice"},
  };
  for (const auto& row : table) EXPECT_EQ(lab::limits::validate_rlimits(row.rlimits), row.reason);
}

TEST(OomScoreAdj, RangeIsMinus1000To1000) {
  for (long long ok : {-1000LL, -1LL, 0LL, 500LL, 1000LL})
    EXPECT_EQ(lab::limits::validate_oom_score_adj(ok), "") << ok;
  EXPECT_EQ(lab::limits::validate_oom_score_adj(1001),
            "process.oomScoreAdj 1001 is outside -1000..1000");
  EXPECT_EQ(lab::limits::validate_oom_score_adj(-5000),
            "process.oomScoreAdj -5000 is outside -1000..1000");
}

TEST(RlimitsInChild, LimitsAreSetAsAsked) {
  std::string problem = lab_test::in_child([] {
    lab::limits::set_rlimits_in_child({{"RLIMIT_NOFILE", 200, 100}, {"RLIMIT_CORE", 0, 0}});
    rlimit r{};
    ::getrlimit(RLIMIT_NOFILE, &r);
    if (r.rlim_cur != 100 || r.rlim_max != 200)
      return fmt::format("RLIMIT_NOFILE is {}/{}", r.rlim_cur, r.rlim_max);
    ::getrlimit(RLIMIT_CORE, &r);
    if (r.rlim_cur != 0 || r.rlim_max != 0) return std::string("RLIMIT_CORE was not set");
    return std::string();
  });
  EXPECT_EQ(problem, "");
}

TEST(RlimitsInChild, RaisingAHardLimitWithoutCapSysResourceSaysSo) {
  std::string problem = lab_test::in_child([] {
    lab::limits::set_rlimits_in_child({{"RLIMIT_NOFILE", 200, 100}});
    // Root may hold CAP_SYS_RESOURCE elsewhere; without it in effective, raising must fail.
    rlimit before{};
    ::getrlimit(RLIMIT_NOFILE, &before);
    lab::caps::apply_in_child({});  // no capabilities left
    try {
      lab::limits::set_rlimits_in_child({{"RLIMIT_NOFILE", 300, 100}});
    } catch (const lab::SyscallError& e) {
      std::string want =
          "setrlimit(RLIMIT_NOFILE, {soft=100, hard=300}): Operation not permitted (EPERM) - "
          "raising a hard limit (200 now) needs CAP_SYS_RESOURCE";
      std::string what = e.what();
      return what.starts_with(want) ? std::string() : what;
    }
    return std::string("raising the hard limit worked without CAP_SYS_RESOURCE");
  });
  EXPECT_EQ(problem, "");
}

TEST(RlimitsInChild, SoftAboveHardIsEinvalWithAHint) {
  std::string problem = lab_test::in_child([] {
    try {
      lab::limits::set_rlimits_in_child({{"RLIMIT_NOFILE", 100, 200}});
    } catch (const lab::SyscallError& e) {
      std::string what = e.what();
      return e.code().value() == EINVAL && what.find("must not exceed") != std::string::npos
                 ? std::string()
                 : what;
    }
    return std::string("soft above hard was accepted");
  });
  EXPECT_EQ(problem, "");
}

std::string status_line(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field)) return line;
  }
  return "";
}

TEST(NoNewPrivsInChild, TheFlagIsSet) {
  std::string problem = lab_test::in_child([] {
    if (status_line("NoNewPrivs:") != "NoNewPrivs:\t0") return std::string("already set?");
    lab::limits::set_no_new_privileges_in_child();
    std::string line = status_line("NoNewPrivs:");
    return line == "NoNewPrivs:\t1" ? std::string() : line;
  });
  EXPECT_EQ(problem, "");
}

TEST(OomScoreAdjInChild, TheValueIsWritten) {
  std::string problem = lab_test::in_child([] {
    lab::limits::set_oom_score_adj(0, 500);  // raising needs no privilege
    std::ifstream in("/proc/self/oom_score_adj");
    std::string value;
    in >> value;
    return value == "500" ? std::string() : "oom_score_adj is " + value;
  });
  EXPECT_EQ(problem, "");
  EXPECT_THROW(lab::limits::set_oom_score_adj(0, 1001), lab::UserError);
}

TEST(UserInChild, GroupsThenGidThenUidAndCapabilitiesKept) {
  if (::geteuid() != 0 || !lab_test::has_effective_cap(CAP_SETUID)) GTEST_SKIP() << "needs root";
  std::string problem = lab_test::in_child([] {
    lab::limits::switch_user_in_child({.uid = 1000, .gid = 1001, .additional_gids = {1002, 1003}});
    std::string out;
    uid_t r, e, s;
    ::getresuid(&r, &e, &s);
    if (r != 1000 || e != 1000 || s != 1000) out += fmt::format("uids {} {} {}; ", r, e, s);
    gid_t gr, ge, gs;
    ::getresgid(&gr, &ge, &gs);
    if (gr != 1001 || ge != 1001 || gs != 1001) out += fmt::format("gids {} {} {}; ", gr, ge, gs);
    gid_t groups[8];
    int n = ::getgroups(8, groups);
    if (n != 2 || groups[0] != 1002 || groups[1] != 1003) out += fmt::format("{} groups; ", n);
    // KEEPCAPS kept permitted across setuid; effective was cleared by the kernel.
    if (lab::caps::read_status_mask(0, "CapPrm") == 0) out += "permitted was emptied; ";
    if (lab::caps::read_status_mask(0, "CapEff") != 0) out += "effective was kept; ";
    return out;
  });
  EXPECT_EQ(problem, "");
}

TEST(UserInChild, EmptyAdditionalGidsClearRootsGroups) {
  if (::geteuid() != 0 || !lab_test::has_effective_cap(CAP_SETGID)) GTEST_SKIP() << "needs root";
  std::string problem = lab_test::in_child([] {
    gid_t extra[] = {4, 24};
    ::setgroups(2, extra);
    lab::limits::switch_user_in_child({.uid = 0, .gid = 0});
    int n = ::getgroups(0, nullptr);
    return n == 0 ? std::string() : fmt::format("{} supplementary groups left", n);
  });
  EXPECT_EQ(problem, "");
}

}  // namespace
