// Pure logic of lesson 04 (cgroup-cpu) and of common/cgroup_dir: which hierarchy holds cpu on
// v1, v2 and hybrid hosts (fake mount tables), the cpu.max / cpu.stat / /proc files, option
// checks, and the file writes on fake cgroup trees (plain directories), so the v2 path is
// exercised even on a host that has none.
#include "cgroup.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>

#include "cgroup_dir.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "host.hpp"
#include "mount.hpp"

namespace {

using cgroup::Version;

constexpr const char* kPureV2 =
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";
constexpr const char* kPureV1 =
    "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "33 31 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n";
constexpr const char* kHybrid =  // this project's build machines
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
constexpr const char* kNone = "22 1 0:21 / /proc rw - proc proc rw\n";

lab::host::CgroupLayout layout_of(const char* mountinfo, const std::string& v2_controllers) {
  return lab::host::detect_cgroups(lab::parse_mountinfo(mountinfo),
                                   [&](const std::string&) { return v2_controllers; });
}

TEST(CgroupCpu, FindsTheCpuControllerOnEveryLayout) {
  struct Case {
    const char* name;
    const char* mountinfo;
    std::string v2_controllers;
    Version version;
    std::string root;
    std::string explanation_has;
  } cases[] = {
      {"pure v2", kPureV2, "cpuset cpu io memory pids\n", Version::v2, "/sys/fs/cgroup",
       "cgroup v2"},
      {"pure v1", kPureV1, "", Version::v1, "/sys/fs/cgroup/cpu,cpuacct", "cgroup v1"},
      {"hybrid, v2 without cpu", kHybrid, "hugetlb\n", Version::v1, "/sys/fs/cgroup/cpu",
       "v2 tree at /sys/fs/cgroup/unified holds hugetlb but not cpu"},
      {"hybrid, v2 empty", kHybrid, "", Version::v1, "/sys/fs/cgroup/cpu", "holds no controllers"},
      {"hybrid, cpu in v2", kHybrid, "cpu\n", Version::v2, "/sys/fs/cgroup/unified", "hybrid"},
  };
  for (const auto& c : cases) {
    auto cpu = cgroup::find_cpu_controller(layout_of(c.mountinfo, c.v2_controllers));
    EXPECT_EQ(cpu.version, c.version) << c.name;
    EXPECT_EQ(cpu.root, c.root) << c.name;
    EXPECT_NE(cpu.explanation.find(c.explanation_has), std::string::npos)
        << c.name << ": " << cpu.explanation;
  }
}

TEST(CgroupCpu, NoCpuControllerIsAUserError) {
  EXPECT_THROW(cgroup::find_cpu_controller(layout_of(kNone, "")), lab::UserError);
  EXPECT_THROW(cgroup::find_cpu_controller(layout_of(kPureV2, "memory pids\n")), lab::UserError);
}

TEST(CgroupCpu, FileNamesByVersion) {
  auto v1 = cgroup::files_for(Version::v1);
  EXPECT_EQ(v1.quota, "cpu.cfs_quota_us");
  EXPECT_EQ(v1.period, "cpu.cfs_period_us");
  EXPECT_EQ(v1.weight, "cpu.shares");
  EXPECT_EQ(v1.procs, "cgroup.procs");  // the whole process, not `tasks` (one thread)
  auto v2 = cgroup::files_for(Version::v2);
  EXPECT_EQ(v2.quota, "cpu.max");
  EXPECT_EQ(v2.weight, "cpu.weight");
  EXPECT_EQ(v2.procs, "cgroup.procs");
  EXPECT_EQ(cgroup::default_weight(Version::v1), 1024);
  EXPECT_EQ(cgroup::default_weight(Version::v2), 100);
}

TEST(CgroupCpu, ParsesAndFormatsCpuMax) {
  struct Case {
    const char* text;
    long long quota, period;
    const char* formatted;
  } cases[] = {
      {"max 100000\n", -1, 100000, "max 100000"},
      {"20000 100000\n", 20000, 100000, "20000 100000"},
      {"1000 1000", 1000, 1000, "1000 1000"},
      {"max 50000", -1, 50000, "max 50000"},
  };
  for (const auto& c : cases) {
    auto limit = cgroup::parse_cpu_max(c.text);
    EXPECT_EQ(limit.quota_us, c.quota) << c.text;
    EXPECT_EQ(limit.period_us, c.period) << c.text;
    EXPECT_EQ(cgroup::format_cpu_max(limit), c.formatted);
  }
  for (const char* bad : {"", "max", "20000", "abc 100000", "20000 100000 7", "20000 x"})
    EXPECT_THROW(cgroup::parse_cpu_max(bad), std::invalid_argument) << bad;
  EXPECT_DOUBLE_EQ((cgroup::CpuLimit{20000, 100000}.percent()), 20.0);
  EXPECT_DOUBLE_EQ((cgroup::CpuLimit{-1, 100000}.percent()), 100.0);
}

TEST(CgroupCpu, ParsesNumbers) {
  EXPECT_EQ(cgroup::parse_number("-1\n"), -1);
  EXPECT_EQ(cgroup::parse_number("100000\n"), 100000);
  for (const char* bad : {"", "\n", "12ab", "max", "1.5"})
    EXPECT_THROW(cgroup::parse_number(bad), std::invalid_argument) << bad;
}

TEST(CgroupCpu, ValidatesOptions) {
  struct Case {
    long long value;
    bool ok;
  };
  for (auto c :
       {Case{0, false}, Case{-5, false}, Case{999, false}, Case{1000, true}, Case{20000, true}})
    EXPECT_EQ(cgroup::validate_quota(c.value).empty(), c.ok) << c.value;
  for (auto c : {Case{0, false}, Case{999, false}, Case{1000, true}, Case{100000, true},
                 Case{1000000, true}, Case{1000001, false}})
    EXPECT_EQ(cgroup::validate_period(c.value).empty(), c.ok) << c.value;
  for (auto c : {Case{0, false}, Case{1, true}, Case{60, true}, Case{61, false}, Case{-1, false}})
    EXPECT_EQ(cgroup::validate_seconds(c.value).empty(), c.ok) << c.value;
  EXPECT_TRUE(cgroup::validate_quota_below_period(20000, 100000).empty());
  EXPECT_FALSE(cgroup::validate_quota_below_period(100000, 100000).empty());
  EXPECT_EQ(cgroup::validate_quota(500),
            "the quota is 500 us; the kernel needs at least 1000 us (1 ms)");
}

TEST(CgroupCpu, ParsesCpuStatOfBothVersions) {
  const char* v1 =
      "nr_periods 30\nnr_throttled 29\nthrottled_time 2345678901\nnr_bursts 0\nburst_time 0\n";
  auto s1 = cgroup::parse_cpu_stat(v1, Version::v1);
  EXPECT_EQ(s1.nr_periods, 30);
  EXPECT_EQ(s1.nr_throttled, 29);
  EXPECT_EQ(s1.throttled_usec, 2345678);  // nanoseconds in v1
  const char* v2 =
      "usage_usec 612345\nuser_usec 612000\nsystem_usec 345\ncore_sched.force_idle_usec 0\n"
      "nr_periods 31\nnr_throttled 30\nthrottled_usec 2400000\nnr_bursts 0\nburst_usec 0\n";
  auto s2 = cgroup::parse_cpu_stat(v2, Version::v2);
  EXPECT_EQ(s2.nr_periods, 31);
  EXPECT_EQ(s2.nr_throttled, 30);
  EXPECT_EQ(s2.throttled_usec, 2400000);
  auto empty = cgroup::parse_cpu_stat("", Version::v2);
  EXPECT_EQ(empty.nr_periods, 0);
}

TEST(CgroupCpu, FindsTheCgroupInProcPidCgroup) {
  const char* hybrid = "9:name=systemd:/\n4:memory:/x\n2:cpuacct:/\n1:cpu:/lab-cpu-42\n0::/\n";
  const char* comounted = "3:cpu,cpuacct:/lab-cpu-7/heavy\n1:name=systemd:/user.slice\n";
  const char* v2 = "0::/lab-cpu-42/light\n";
  EXPECT_EQ(cgroup::cgroup_of(hybrid, Version::v1), "/lab-cpu-42");
  EXPECT_EQ(cgroup::cgroup_of(hybrid, Version::v2), "/");
  EXPECT_EQ(cgroup::cgroup_of(comounted, Version::v1), "/lab-cpu-7/heavy");
  EXPECT_EQ(cgroup::cgroup_of(v2, Version::v2), "/lab-cpu-42/light");
  EXPECT_EQ(cgroup::cgroup_of(v2, Version::v1), "");
  EXPECT_EQ(cgroup::cgroup_of("5:cpuset:/a\n", Version::v1), "");  // cpuset is not cpu
}

TEST(CgroupCpu, ReadsCpuTimeFromProc) {
  // utime (field 14) = 150, stime (field 15) = 7; the name holds ") (" to trip naive parsers.
  const char* stat =
      "4242 (lab ) (busy) R 1 4242 4242 0 -1 4194560 100 0 0 0 150 7 0 0 20 0 1 0 12345 "
      "2000000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
  EXPECT_EQ(cgroup::parse_proc_stat_ticks(stat), 157);
  EXPECT_THROW(cgroup::parse_proc_stat_ticks("4242 no-parens"), std::invalid_argument);
  EXPECT_THROW(cgroup::parse_proc_stat_ticks("4242 (x) R 1 2"), std::invalid_argument);
  EXPECT_EQ(cgroup::parse_schedstat_ns("1234567890 5678 12\n"), 1234567890);
  EXPECT_THROW(cgroup::parse_schedstat_ns("12"), std::invalid_argument);
  // The file the narration names is the one cpu_seconds_of_process reads.
  const bool has_schedstat = ::access("/proc/self/schedstat", R_OK) == 0;
  EXPECT_EQ(cgroup::cpu_time_file(::getpid()), has_schedstat ? "schedstat" : "stat");
  // Spend a little CPU first, so that even a clock counted in 10 ms ticks has moved.
  const auto cpu_ns = [] {
    timespec t{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1'000'000'000L + t.tv_nsec;
  };
  for (const long start = cpu_ns(); cpu_ns() - start < 30'000'000L;) {
  }
  EXPECT_GT(cgroup::cpu_seconds_of_process(::getpid()), 0.0);
}

TEST(CgroupCpu, VerdictTolerances) {
  EXPECT_DOUBLE_EQ(cgroup::share_percent(0.2, 1.0), 20.0);
  EXPECT_DOUBLE_EQ(cgroup::share_percent(1.0, 0.0), 0.0);
  struct Case {
    double measured;
    bool near;
  };
  for (auto c : {Case{20.0, true}, Case{15.0, true}, Case{25.0, true}, Case{14.9, false},
                 Case{25.1, false}, Case{100.0, false}})
    EXPECT_EQ(cgroup::share_near(c.measured, 20.0), c.near) << c.measured;
  for (auto c : {Case{2.0, true}, Case{1.5, true}, Case{2.7, true}, Case{1.4, false},
                 Case{2.8, false}, Case{1.0, false}})
    EXPECT_EQ(cgroup::ratio_near(c.measured, 2.0), c.near) << c.measured;
}

// --- fake cgroup trees: plain directories with the control files a real one would have ---------

void put(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::trunc) << content;
}

TEST(CgroupCpuFakeTree, V2WritesCpuMaxWeightAndProcs) {
  lab::TempDir dir("/tmp/lab-cgroup-test-");
  const std::string d = dir.path();
  put(d + "/cpu.max", "max 100000\n");
  put(d + "/cpu.weight", "100\n");
  put(d + "/cgroup.procs", "");
  auto before = cgroup::read_cpu_limit(d, Version::v2);
  EXPECT_TRUE(before.unlimited());
  EXPECT_EQ(before.period_us, 100000);
  cgroup::set_cpu_limit(d, Version::v2, {20000, 100000});
  EXPECT_EQ(lab::read_file(d + "/cpu.max"), "20000 100000");
  EXPECT_EQ(cgroup::read_cpu_limit(d, Version::v2).quota_us, 20000);
  cgroup::set_cpu_weight(d, Version::v2, 200);
  EXPECT_EQ(cgroup::read_cpu_weight(d, Version::v2), 200);
  cgroup::move_process_from_parent(d, Version::v2, 4242);
  EXPECT_EQ(lab::read_file(d + "/cgroup.procs"), "4242");
  put(d + "/cpu.stat", "usage_usec 5\nnr_periods 3\nnr_throttled 2\nthrottled_usec 99\n");
  EXPECT_EQ(cgroup::read_cpu_stat(d, Version::v2).nr_throttled, 2);
  EXPECT_EQ(cgroup::set_cpu_limit_shell("/sys/fs/cgroup/lab-cpu-1", Version::v2, {20000, 100000}),
            "echo \"20000 100000\" > /sys/fs/cgroup/lab-cpu-1/cpu.max");
  EXPECT_EQ(cgroup::set_cpu_limit_call("/sys/fs/cgroup/lab-cpu-1", Version::v2, {20000, 100000}),
            "write(\"/sys/fs/cgroup/lab-cpu-1/cpu.max\", \"20000 100000\")");
  EXPECT_EQ(cgroup::set_cpu_limit_call("/c", Version::v2, {5000, 50000}),
            "write(\"/c/cpu.max\", \"5000 50000\")");
}

TEST(CgroupCpuFakeTree, V1WritesQuotaSharesAndCgroupProcs) {
  lab::TempDir dir("/tmp/lab-cgroup-test-");
  const std::string d = dir.path();
  put(d + "/cpu.cfs_quota_us", "-1\n");
  put(d + "/cpu.cfs_period_us", "100000\n");
  put(d + "/cpu.shares", "1024\n");
  put(d + "/tasks", "");
  put(d + "/cgroup.procs", "");
  auto before = cgroup::read_cpu_limit(d, Version::v1);
  EXPECT_EQ(before.quota_us, -1);
  EXPECT_EQ(before.period_us, 100000);
  cgroup::set_cpu_limit(d, Version::v1, {20000, 100000});
  EXPECT_EQ(lab::read_file(d + "/cpu.cfs_quota_us"), "20000");
  EXPECT_EQ(lab::read_file(d + "/cpu.cfs_period_us"), "100000\n");  // unchanged, not rewritten
  cgroup::set_cpu_weight(d, Version::v1, 2048);
  EXPECT_EQ(cgroup::read_cpu_weight(d, Version::v1), 2048);
  cgroup::move_process_from_parent(d, Version::v1, 4242);
  EXPECT_EQ(lab::read_file(d + "/cgroup.procs"), "4242");
  EXPECT_EQ(lab::read_file(d + "/tasks"), "");
  EXPECT_EQ(cgroup::set_cpu_limit_shell("/c", Version::v1, {20000, 100000}),
            "echo 20000 > /c/cpu.cfs_quota_us");
  EXPECT_EQ(cgroup::set_cpu_limit_shell("/c", Version::v1, {5000, 50000}),
            "echo 50000 > /c/cpu.cfs_period_us; echo 5000 > /c/cpu.cfs_quota_us");
  // The call column names the same writes as set_cpu_limit makes, the period's first.
  EXPECT_EQ(cgroup::set_cpu_limit_call("/c", Version::v1, {20000, 100000}),
            "write(\"/c/cpu.cfs_quota_us\", \"20000\")");
  EXPECT_EQ(cgroup::set_cpu_limit_call("/c", Version::v1, {5000, 50000}),
            "write(\"/c/cpu.cfs_period_us\", \"50000\"), write(\"/c/cpu.cfs_quota_us\", \"5000\")");
  // A write(2) to a plain file does not truncate it as a cgroup file would: keep the lengths.
  EXPECT_EQ(
      cgroup::set_cpu_limit_call("/c", Version::v1, {50000, 200000}),
      "write(\"/c/cpu.cfs_period_us\", \"200000\"), write(\"/c/cpu.cfs_quota_us\", \"50000\")");
  cgroup::set_cpu_limit(d, Version::v1, {50000, 200000});
  EXPECT_EQ(lab::read_file(d + "/cpu.cfs_period_us"), "200000\n");
  EXPECT_EQ(lab::read_file(d + "/cpu.cfs_quota_us"), "50000");
}

TEST(LabCgroupDir, ListsAndPids) {
  EXPECT_TRUE(lab::controller_listed("cpuset cpu io memory pids\n", "cpu"));
  EXPECT_FALSE(lab::controller_listed("cpuset io memory\n", "cpu"));
  EXPECT_FALSE(lab::controller_listed("", "cpu"));
  EXPECT_TRUE(lab::controller_listed("cpu", "cpu"));
  EXPECT_EQ(lab::parse_pid_list("12\n345\n\n7\n"), (std::vector<pid_t>{12, 345, 7}));
  EXPECT_TRUE(lab::parse_pid_list("").empty());
}

TEST(LabCgroupDir, SubtreeControlEnablesOnlyWhatIsMissingAndTakesItBack) {
  lab::TempDir dir("/tmp/lab-cgroup-test-");
  const std::string file = dir.path() + "/cgroup.subtree_control";
  put(file, "");
  {
    auto grant = lab::SubtreeControl::enable(dir.path(), "cpu");
    EXPECT_FALSE(grant.was_enabled_already());
    EXPECT_EQ(lab::read_file(file), "+cpu");
    put(file, "");  // a real file would now list "cpu"; the fake needs room for the undo
  }
  EXPECT_EQ(lab::read_file(file), "-cpu");
  put(file, "cpu memory\n");
  {
    auto grant = lab::SubtreeControl::enable(dir.path(), "cpu");
    EXPECT_TRUE(grant.was_enabled_already());
  }
  EXPECT_EQ(lab::read_file(file), "cpu memory\n");  // not ours to take back
}

TEST(LabCgroupDir, MakesAndRemovesTheDirectory) {
  lab::TempDir dir("/tmp/lab-cgroup-test-");
  const std::string path = dir.path() + "/lab-cpu-1";
  {
    auto group = lab::CgroupDir::create(path);
    EXPECT_TRUE(std::filesystem::is_directory(path));
    EXPECT_EQ(group.file("cpu.max"), path + "/cpu.max");
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  auto again = lab::CgroupDir::create(path);
  EXPECT_THROW(lab::CgroupDir::create(path), lab::SyscallError);  // EEXIST
  again.remove();
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace

// EBUSY from cgroup.subtree_control: the "no internal processes" rule binds domain controllers
// (memory, io); cpu is threaded and is accepted in a cgroup with processes while its children
// hold none. The hint must not say that every controller is refused.
TEST(CgroupHints, EbusyExplainsDomainAndThreadedControllers) {
  const std::string subtree = lab::errno_hint(
      EBUSY, "write(\"/sys/fs/cgroup/lab-cpu-1/cgroup.subtree_control\", \"+memory\")");
  EXPECT_NE(subtree.find("no internal processes"), std::string::npos);
  EXPECT_NE(subtree.find("domain controller such as memory"), std::string::npos);
  EXPECT_NE(subtree.find("threaded one such as cpu only while its children hold no processes"),
            std::string::npos);
  const std::string procs =
      lab::errno_hint(EBUSY, "write(\"/sys/fs/cgroup/lab-cpu-1/cgroup.procs\", \"42\")");
  EXPECT_NE(procs.find("its subtree_control is not empty"), std::string::npos);
  EXPECT_NE(procs.find("only threaded ones such as cpu"), std::string::npos);
}

namespace {

TEST(LabCgroupDir, SubtreeControlStaysWhileASiblingCgroupRemains) {
  lab::TempDir dir("/tmp/lab-cgroup-test-");
  const std::string file = dir.path() + "/cgroup.subtree_control";
  put(file, "");
  ASSERT_EQ(::mkdir((dir.path() + "/lab-sibling").c_str(), 0755), 0);
  {
    auto grant = lab::SubtreeControl::enable(dir.path(), "cpu");
    put(file, "cpu\n");
  }
  EXPECT_EQ(lab::read_file(file), "cpu\n");  // the sibling still uses cpu: no "-cpu"
  ::rmdir((dir.path() + "/lab-sibling").c_str());
}

TEST(CgroupControllers, SharesToWeightIsRuncsMap) {
  struct Case {
    long long shares, weight;
  } cases[] = {{0, 0}, {2, 1}, {1024, 39}, {262144, 10000}, {512, 20}, {2048, 79}};
  for (const auto& c : cases) EXPECT_EQ(cgroup::shares_to_weight(c.shares), c.weight) << c.shares;
}

TEST(CgroupControllers, ValidatesMemoryAndSwap) {
  const long long MiB = 1 << 20;
  struct Case {
    long long limit;
    std::optional<long long> swap;
    const char* reason_has;  // "" when accepted
  } cases[] = {
      {64 * MiB, std::nullopt, ""},
      {64 * MiB, 64 * MiB, ""},
      {64 * MiB, 128 * MiB, ""},
      {64 * MiB, -1, ""},
      {-1, std::nullopt, ""},
      {-1, -1, ""},
      {0, std::nullopt, "positive number of bytes"},
      {-5, std::nullopt, "positive number of bytes"},
      {64 * MiB, 32 * MiB, "cannot be below memory.limit"},
      {-1, 128 * MiB, "needs a memory.limit"},
      {64 * MiB, -7, "memory plus swap"},
  };
  for (const auto& c : cases) {
    std::string why = cgroup::validate_memory(c.limit, c.swap);
    if (std::string(c.reason_has).empty())
      EXPECT_EQ(why, "") << c.limit;
    else
      EXPECT_NE(why.find(c.reason_has), std::string::npos) << why;
  }
  EXPECT_EQ(cgroup::v2_swap_max(64 * MiB, 128 * MiB), std::to_string(64 * MiB));
  EXPECT_EQ(cgroup::v2_swap_max(64 * MiB, 64 * MiB), "0");
  EXPECT_EQ(cgroup::v2_swap_max(64 * MiB, -1), "max");
  EXPECT_THROW(cgroup::v2_swap_max(64 * MiB, MiB), std::invalid_argument);
  EXPECT_EQ(cgroup::format_pids_max(10), "10");
  EXPECT_EQ(cgroup::format_pids_max(0), "max");
  EXPECT_EQ(cgroup::format_pids_max(-1), "max");
}

TEST(CgroupControllersFakeTree, V2MemoryMaxAndSwapMax) {
  lab::TempDir dir("/tmp/lab-cgroup-test-");
  const std::string d = dir.path();
  put(d + "/memory.max", "max\n");
  put(d + "/memory.swap.max", "max\n");
  auto done = cgroup::set_memory_limit(d, Version::v2, 67108864, 134217728);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(lab::read_file(d + "/memory.max"), "67108864");
  EXPECT_EQ(lab::read_file(d + "/memory.swap.max"), "67108864");  // swap alone: total - memory
  EXPECT_EQ(done[0].call(), "write(\"" + d + "/memory.max\", \"67108864\")");
  EXPECT_EQ(done[1].shell(), "echo 67108864 > " + d + "/memory.swap.max");
  // Without swap accounting: "max" is quietly fine, a real swap limit is refused.
  ::unlink((d + "/memory.swap.max").c_str());
  EXPECT_EQ(cgroup::set_memory_limit(d, Version::v2, 67108864, -1).size(), 1u);
  EXPECT_THROW(cgroup::set_memory_limit(d, Version::v2, 67108864, 134217728), lab::UserError);
  EXPECT_THROW(cgroup::set_memory_limit(d, Version::v2, 67108864, 1), lab::UserError);
}

TEST(CgroupControllersFakeTree, V1MemoryOrdersTheTwoWritesAndPidsMax) {
  lab::TempDir dir("/tmp/lab-cgroup-test-");
  const std::string d = dir.path();
  put(d + "/memory.limit_in_bytes", "9223372036854771712\n");
  put(d + "/memory.memsw.limit_in_bytes", "9223372036854771712\n");
  // Lowering from unlimited: the limit first, then memsw (never below the limit).
  auto down = cgroup::set_memory_limit(d, Version::v1, 67108864, 100000000);
  ASSERT_EQ(down.size(), 2u);
  EXPECT_EQ(down[0].file, d + "/memory.limit_in_bytes");
  EXPECT_EQ(down[1].file, d + "/memory.memsw.limit_in_bytes");
  // A write(2) to a plain file does not truncate it as a cgroup file would: the fake is reset.
  put(d + "/memory.limit_in_bytes", "67108864\n");
  put(d + "/memory.memsw.limit_in_bytes", "100000000\n");
  // Raising above the current limit: memsw first.
  auto up = cgroup::set_memory_limit(d, Version::v1, 134217728, 200000000);
  ASSERT_EQ(up.size(), 2u);
  EXPECT_EQ(up[0].file, d + "/memory.memsw.limit_in_bytes");
  EXPECT_EQ(up[0].value, "200000000");
  EXPECT_EQ(up[1].value, "134217728");
  // Without memsw (swap accounting off): -1 is fine, a real value is refused.
  ::unlink((d + "/memory.memsw.limit_in_bytes").c_str());
  EXPECT_EQ(cgroup::set_memory_limit(d, Version::v1, 67108864, -1).size(), 1u);
  EXPECT_THROW(cgroup::set_memory_limit(d, Version::v1, 67108864, 100000000), lab::UserError);
  EXPECT_EQ(cgroup::set_memory_limit(d, Version::v1, 67108864, std::nullopt).size(), 1u);

  put(d + "/pids.max", "");
  auto pids = cgroup::set_pids_limit(d, 10);
  EXPECT_EQ(lab::read_file(d + "/pids.max"), "10");
  EXPECT_EQ(pids.at(0).shell(), "echo 10 > " + d + "/pids.max");
  put(d + "/pids.max", "");
  cgroup::set_pids_limit(d, 0);
  EXPECT_EQ(lab::read_file(d + "/pids.max"), "max");
}

}  // namespace
