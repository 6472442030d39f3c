// common/capabilities: names and numbers, the OCI sets' validation, /proc/PID/status masks, and
// (as root, in a forked child) the bounding drop and the capset after a user switch.
#include "capabilities.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "in_child.hpp"
#include "process_limits.hpp"

namespace {

using lab::caps::capability_name;
using lab::caps::capability_number;

struct NameNumber {
  const char* name;
  int number;
};

TEST(Capabilities, NamesAndNumbersGoBothWays) {
  const NameNumber table[] = {
      {"CAP_CHOWN", CAP_CHOWN},
      {"CAP_DAC_OVERRIDE", CAP_DAC_OVERRIDE},
      {"CAP_KILL", CAP_KILL},
      {"CAP_SETPCAP", CAP_SETPCAP},
      {"CAP_NET_BIND_SERVICE", CAP_NET_BIND_SERVICE},
      {"CAP_NET_RAW", CAP_NET_RAW},
      {"CAP_SYS_CHROOT", CAP_SYS_CHROOT},
      {"CAP_SYS_ADMIN", 21},
      {"CAP_SYS_RESOURCE", 24},
      {"CAP_MKNOD", CAP_MKNOD},
      {"CAP_AUDIT_WRITE", CAP_AUDIT_WRITE},
      {"CAP_SETFCAP", CAP_SETFCAP},
      {"CAP_SYSLOG", CAP_SYSLOG},
      {"CAP_BPF", 39},
      {"CAP_CHECKPOINT_RESTORE", 40},
  };
  for (const auto& row : table) {
    EXPECT_EQ(capability_number(row.name), row.number) << row.name;
    EXPECT_EQ(capability_name(row.number), row.name) << row.number;
  }
}

TEST(Capabilities, OnlyTheOciSpellingIsAName) {
  for (const char* bad : {"cap_sys_admin", "SYS_ADMIN", "21", "CAP_", "CAP_FOO", "",
                          "CAP_SYS_ADMIN ", "Cap_Sys_Admin", "CAP_41"}) {
    EXPECT_EQ(capability_number(bad), std::nullopt) << '"' << bad << '"';
  }
}

TEST(Capabilities, ANumberWithoutANameIsSpelledWithIt) { EXPECT_EQ(capability_name(63), "CAP_63"); }

TEST(Capabilities, ValidateNamesTheSetOfTheFirstUnknownName) {
  struct Row {
    lab::caps::Sets sets;
    std::string message;
  };
  const Row table[] = {
      {{}, ""},
      {{.bounding = lab::caps::docker_default(),
        .effective = {"CAP_KILL"},
        .permitted = {"CAP_KILL"},
        .inheritable = {},
        .ambient = {}},
       ""},
      {{.bounding = {"CAP_FOO"}},
       "unknown capability \"CAP_FOO\" in process.capabilities.bounding"},
      {{.effective = {"CAP_KILL", "kill"}},
       "unknown capability \"kill\" in process.capabilities.effective"},
      {{.permitted = {"CAP_SYS_ADMINN"}},
       "unknown capability \"CAP_SYS_ADMINN\" in process.capabilities.permitted"},
      {{.inheritable = {"SYS_ADMIN"}},
       "unknown capability \"SYS_ADMIN\" in process.capabilities.inheritable"},
      {{.ambient = {"CAP_NET_RAW", "CAP_"}},
       "unknown capability \"CAP_\" in process.capabilities.ambient"},
  };
  for (const auto& row : table) EXPECT_EQ(lab::caps::validate(row.sets), row.message);
}

TEST(Capabilities, EveryNameUpToTheKernelsLastIsKnownToTheKernel) {
  lab::caps::Sets sets;
  for (int cap = 0; cap <= lab::caps::last_cap(); ++cap)
    sets.bounding.push_back(capability_name(cap));
  EXPECT_EQ(lab::caps::validate(sets), "");
  EXPECT_TRUE(lab::caps::unknown_to_kernel(sets).empty());
  EXPECT_GE(lab::caps::last_cap(), 37);  // every kernel since 5.8 knows CAP_BPF
}

TEST(Capabilities, DockersDefaultIsFourteenCapabilities) {
  auto caps = lab::caps::docker_default();
  EXPECT_EQ(caps.size(), 14u);
  EXPECT_EQ(lab::caps::validate({.bounding = caps}), "");
  // What `grep CapBnd /proc/self/status` prints in a default `docker run`.
  EXPECT_EQ(lab::caps::mask(caps), 0xa80425fbULL);
  auto back = lab::caps::names_in_mask(0xa80425fbULL);
  std::sort(caps.begin(), caps.end());
  std::sort(back.begin(), back.end());
  EXPECT_EQ(back, caps);
}

TEST(Capabilities, StatusMasksParse) {
  struct Row {
    const char* text;
    uint64_t value;
  };
  const Row table[] = {
      {"000001fffeffffff", 0x1fffeffffffULL},
      {"\t00000000a80425fb\n", 0xa80425fbULL},
      {"0000000000000000", 0},
      {"ffffffffffffffff", ~0ULL},
  };
  for (const auto& row : table) EXPECT_EQ(lab::caps::parse_status_mask(row.text), row.value);
  for (const char* bad : {"", "xyz", "00000000a80425fbz", "0x10", "-1", "10000000000000000"})
    EXPECT_THROW(lab::caps::parse_status_mask(bad), std::invalid_argument) << bad;
}

TEST(Capabilities, OurOwnStatusHasABoundingSet) {
  uint64_t bounding = lab::caps::read_status_mask(0, "CapBnd");
  // The kernel's bounding set never holds a capability it does not know.
  EXPECT_EQ(bounding >> (lab::caps::last_cap() + 1), 0u);
}

TEST(CapabilitiesInChild, DropBoundingLeavesExactlyTheBoundingList) {
  if (!lab_test::has_effective_cap(CAP_SETPCAP)) GTEST_SKIP() << "needs CAP_SETPCAP (root)";
  std::string problem = lab_test::in_child([] {
    lab::caps::drop_bounding_in_child({.bounding = lab::caps::docker_default()});
    uint64_t bnd = lab::caps::read_status_mask(0, "CapBnd");
    return bnd == 0xa80425fbULL ? std::string() : fmt::format("CapBnd is {:016x}", bnd);
  });
  EXPECT_EQ(problem, "");
}

TEST(CapabilitiesInChild, ADroppedBoundingCapCannotComeBack) {
  if (!lab_test::has_effective_cap(CAP_SETPCAP)) GTEST_SKIP() << "needs CAP_SETPCAP (root)";
  std::string problem = lab_test::in_child([] {
    lab::caps::Sets sets{.bounding = {"CAP_KILL"}, .permitted = {"CAP_KILL", "CAP_CHOWN"}};
    lab::caps::drop_bounding_in_child(sets);
    // Permitted may still hold CAP_CHOWN (the bounding set only limits what execve grants),
    // but inheritable may not rise above the bounding set.
    try {
      lab::caps::apply_in_child({.inheritable = {"CAP_CHOWN"}});
      return std::string("raising CAP_CHOWN into inheritable worked after it left bounding");
    } catch (const lab::SyscallError& e) {
      if (e.code().value() != EPERM) return std::string(e.what());
    }
    return std::string();
  });
  EXPECT_EQ(problem, "");
}

// runc's order: drop bounding as root, keep capabilities across the user switch, capset.
TEST(CapabilitiesInChild, SetsAreAppliedAfterTheUserSwitch) {
  if (::geteuid() != 0 || !lab_test::has_effective_cap(CAP_SETPCAP) ||
      !lab_test::has_effective_cap(CAP_SETUID))
    GTEST_SKIP() << "needs root";
  std::string problem = lab_test::in_child([] {
    lab::caps::Sets sets{.bounding = lab::caps::docker_default(),
                         .effective = {"CAP_NET_BIND_SERVICE", "CAP_KILL"},
                         .permitted = {"CAP_NET_BIND_SERVICE", "CAP_KILL"},
                         .inheritable = {"CAP_NET_BIND_SERVICE"},
                         .ambient = {"CAP_NET_BIND_SERVICE"}};
    lab::caps::drop_bounding_in_child(sets);
    lab::limits::switch_user_in_child({.uid = 65534, .gid = 65534});
    lab::caps::apply_in_child(sets);
    std::string out;
    auto expect = [&](const char* field, uint64_t want) {
      uint64_t got = lab::caps::read_status_mask(0, field);
      if (got != want) out += fmt::format("{} is {:016x}, not {:016x}; ", field, got, want);
    };
    expect("CapBnd", 0xa80425fbULL);
    expect("CapEff", lab::caps::mask({"CAP_NET_BIND_SERVICE", "CAP_KILL"}));
    expect("CapPrm", lab::caps::mask({"CAP_NET_BIND_SERVICE", "CAP_KILL"}));
    expect("CapInh", lab::caps::mask({"CAP_NET_BIND_SERVICE"}));
    expect("CapAmb", lab::caps::mask({"CAP_NET_BIND_SERVICE"}));
    if (::getuid() != 65534 || ::geteuid() != 65534) out += "uid was not switched; ";
    return out;
  });
  EXPECT_EQ(problem, "");
}

TEST(CapabilitiesInChild, AmbientNeedsPermittedAndInheritable) {
  if (!lab_test::has_effective_cap(CAP_SETPCAP)) GTEST_SKIP() << "needs CAP_SETPCAP (root)";
  std::string problem = lab_test::in_child([] {
    try {
      lab::caps::apply_in_child(
          {.effective = {"CAP_KILL"}, .permitted = {"CAP_KILL"}, .ambient = {"CAP_KILL"}});
    } catch (const lab::SyscallError& e) {
      std::string what = e.what();
      if (what.find("PR_CAP_AMBIENT_RAISE, CAP_KILL") != std::string::npos &&
          what.find("permitted and inheritable") != std::string::npos)
        return std::string();
      return what;
    }
    return std::string("CAP_KILL became ambient without being inheritable");
  });
  EXPECT_EQ(problem, "");
}

}  // namespace
