// final/runtime/cgroups: the checks on resources and cgroupsPath, the v1 devices writes, the
// trees a container joins on each layout, and (as root, holding /work/test.lock's machine lock
// like every privileged test) a real cgroup made, filled, limited, killed and removed.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "cgroup_dir.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "host.hpp"
#include "mount.hpp"
#include "process.hpp"
#include "runtime/cgroups.hpp"

namespace {

namespace rc = runtime::cgroups;
using cgroup::Version;

TEST(RuntimeCgroups, PathsAreCheckedAndDefaulted) {
  EXPECT_EQ(rc::default_path("web"), "/minidocker/web");
  struct Case {
    const char* path;
    const char* reason_has;  // "" when accepted
  } cases[] = {
      {"/minidocker/web", ""},
      {"/lab-rt-unit-1", ""},
      {"/a/b/c", ""},
      {"minidocker/web", "must be absolute"},
      {"", "must be absolute"},
      {"/", "root cgroup"},
      {"/minidocker//web", "empty component"},
      {"/minidocker/web/", "empty component"},
      {"/minidocker/../etc", "\"..\""},
      {"/./x", "\".\""},
  };
  for (const auto& c : cases) {
    std::string why = rc::validate_path(c.path);
    if (std::string(c.reason_has).empty())
      EXPECT_EQ(why, "") << c.path;
    else
      EXPECT_NE(why.find(c.reason_has), std::string::npos) << c.path << ": " << why;
  }
}

TEST(RuntimeCgroups, ResourcesAreChecked) {
  struct Case {
    const char* name;
    rc::Resources r;
    const char* reason_has;
  } cases[] = {
      {"nothing", {}, ""},
      {"cpu", {.cpu_quota = 20000, .cpu_period = 100000, .cpu_shares = 512}, ""},
      {"unlimited quota", {.cpu_quota = -1}, ""},
      {"quota below -1", {.cpu_quota = -2}, "cpu.quota -2"},
      {"shares too big", {.cpu_shares = 300000}, "2 to 262144"},
      {"shares 1", {.cpu_shares = 1}, "2 to 262144"},
      {"memory", {.memory_limit = 64 << 20, .memory_swap = 128 << 20}, ""},
      {"swap below memory", {.memory_limit = 64 << 20, .memory_swap = 1 << 20}, "below"},
      {"swap alone", {.memory_swap = 1 << 30}, "needs a memory.limit"},
      {"memory 0", {.memory_limit = 0}, "positive"},
      {"pids", {.pids_limit = 10}, ""},
      {"devices", {.devices = {{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 3, "rwm"}}}, ""},
      {"device type", {.devices = {{true, 'x', 1, 3, "rwm"}}}, "type 'x'"},
      {"device access", {.devices = {{true, 'c', 1, 3, "rwx"}}}, "access \"rwx\""},
      {"device access empty", {.devices = {{true, 'c', 1, 3, ""}}}, "access \"\""},
  };
  for (const auto& c : cases) {
    std::string why = rc::validate(c.r);
    if (std::string(c.reason_has).empty())
      EXPECT_EQ(why, "") << c.name;
    else
      EXPECT_NE(why.find(c.reason_has), std::string::npos) << c.name << ": " << why;
  }
}

TEST(RuntimeCgroups, V1DeviceWritesDenyAllThenTheRulesInOrder) {
  EXPECT_EQ(rc::device_rule_text({true, 'c', 1, 3, "rwm"}), "c 1:3 rwm");
  EXPECT_EQ(rc::device_rule_text({true, 'c', 136, -1, "rw"}), "c 136:* rw");
  EXPECT_EQ(rc::device_rule_text({false, 'a', -1, -1, "rwm"}), "a *:* rwm");
  EXPECT_EQ(rc::device_rule_text({false, 'b', 8, 0, "m"}), "b 8:0 m");
  auto writes = rc::v1_device_writes(
      "/d", {{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 3, "rwm"}, {false, 'c', 1, 5, "w"}});
  ASSERT_EQ(writes.size(), 4u);
  EXPECT_EQ(writes[0].file, "/d/devices.deny");
  EXPECT_EQ(writes[0].value, "a");
  EXPECT_EQ(writes[1].file, "/d/devices.deny");
  EXPECT_EQ(writes[1].value, "a *:* rwm");
  EXPECT_EQ(writes[2].file, "/d/devices.allow");
  EXPECT_EQ(writes[2].value, "c 1:3 rwm");
  EXPECT_EQ(writes[3].file, "/d/devices.deny");
  EXPECT_EQ(writes[3].shell(), "echo \"c 1:5 w\" > /d/devices.deny");
}

TEST(RuntimeCgroups, CpuMaxAndWeightValues) {
  EXPECT_EQ(rc::cpu_max_value(20000, 100000), "20000 100000");
  EXPECT_EQ(rc::cpu_max_value(20000, std::nullopt), "20000 100000");
  EXPECT_EQ(rc::cpu_max_value(std::nullopt, 50000), "max 50000");
  EXPECT_EQ(rc::cpu_max_value(-1, std::nullopt), "max 100000");
  EXPECT_EQ(cgroup::shares_to_weight(1024), 39);  // OCI's default shares -> runc's weight
}

lab::host::CgroupLayout layout_of(const char* mountinfo, const std::string& v2_controllers) {
  return lab::host::detect_cgroups(lab::parse_mountinfo(mountinfo),
                                   [&](const std::string&) { return v2_controllers; });
}

TEST(RuntimeCgroups, JoinsEveryTreeOfTheLayout) {
  auto v2 = rc::hierarchies_for(layout_of("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
                                          "cpuset cpu io memory pids\n"));
  ASSERT_EQ(v2.size(), 1u);
  EXPECT_EQ(v2[0].name, "unified");
  EXPECT_EQ(v2[0].root, "/sys/fs/cgroup");
  EXPECT_EQ(v2[0].version, Version::v2);

  auto hybrid = rc::hierarchies_for(
      layout_of("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
                "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
                "33 31 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                "34 31 0:31 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
                "35 31 0:32 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
                "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
                "hugetlb\n"));
  ASSERT_EQ(hybrid.size(), 4u);  // cpu and cpuacct share one tree; name=systemd is not joined
  EXPECT_EQ(hybrid[0].name, "cpu,cpuacct");
  EXPECT_EQ(hybrid[0].root, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(hybrid[0].version, Version::v1);
  EXPECT_EQ(hybrid[1].name, "memory");
  EXPECT_EQ(hybrid[2].name, "pids");
  EXPECT_EQ(hybrid[3].name, "unified");
  EXPECT_EQ(hybrid[3].root, "/sys/fs/cgroup/unified");

  auto v1 = rc::hierarchies_for(
      layout_of("33 31 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n", ""));
  ASSERT_EQ(v1.size(), 1u);
  EXPECT_EQ(v1[0].name, "memory");
}

// --- on this host, as root -------------------------------------------------------------------

bool all_gone(const std::vector<std::string>& dirs) {
  for (const auto& d : dirs)
    if (std::filesystem::exists(d)) return false;
  return true;
}

// A child that waits until it is killed; killed and reaped here if a failed assertion left it.
struct WaitingChild {
  pid_t pid = ::fork();
  WaitingChild() {
    if (pid == 0) {
      for (;;) ::pause();
    }
  }
  ~WaitingChild() {
    if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
  }
  // Reaped by the test: the destructor has nothing left to do.
  int wait() {
    int status = 0;
    if (::waitpid(pid, &status, 0) == pid) pid = -1;
    return status;
  }
};

TEST(RuntimeCgroupsOnHost, CreatesLimitsKillsAndRemoves) {
  if (!lab::host::is_root()) GTEST_SKIP() << "needs root (cgroups)";
  const std::string path = fmt::format("/lab-rt-unit-{}", ::getpid());
  rc::Resources r;
  r.cpu_quota = 20000;
  r.cpu_period = 100000;
  r.cpu_shares = 512;
  r.memory_limit = 64 << 20;
  r.pids_limit = 10;
  const bool v1_devices = lab::host::detect_cgroups().where("devices") == "v1";
  r.devices = {{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 3, "rwm"}};
  auto cg = rc::Cgroup::create(path, r);
  const auto dirs = cg.paths();
  ASSERT_FALSE(dirs.empty());
  for (const auto& d : dirs) EXPECT_TRUE(std::filesystem::is_directory(d)) << d;

  const Version cpu_v = cg.version_of("cpu");
  if (cpu_v == Version::v1) {
    EXPECT_EQ(lab::trim(lab::read_file(cg.path_in("cpu") + "/cpu.cfs_quota_us")), "20000");
    EXPECT_EQ(lab::trim(lab::read_file(cg.path_in("cpu") + "/cpu.shares")), "512");
  } else {
    EXPECT_EQ(lab::trim(lab::read_file(cg.path_in("cpu") + "/cpu.max")), "20000 100000");
    EXPECT_EQ(lab::trim(lab::read_file(cg.path_in("cpu") + "/cpu.weight")),
              std::to_string(cgroup::shares_to_weight(512)));
  }
  const std::string memory_file =
      cg.version_of("memory") == Version::v1 ? "/memory.limit_in_bytes" : "/memory.max";
  EXPECT_EQ(lab::trim(lab::read_file(cg.path_in("memory") + memory_file)),
            std::to_string(64 << 20));
  EXPECT_EQ(lab::trim(lab::read_file(cg.path_in("pids") + "/pids.max")), "10");
  if (v1_devices) {  // nothing but /dev/null
    EXPECT_EQ(lab::trim(lab::read_file(cg.path_in("devices") + "/devices.list")), "c 1:3 rwm");
  }
  bool narrated_pids = false, narrated_devices = false;
  for (const auto& [call, shell] : cg.steps()) {
    if (shell == "echo 10 > " + cg.path_in("pids") + "/pids.max") narrated_pids = true;
    if (call.find(v1_devices ? "devices.allow" : "BPF_PROG_ATTACH") != std::string::npos)
      narrated_devices = true;
  }
  EXPECT_TRUE(narrated_pids);
  EXPECT_TRUE(narrated_devices);
  // The same path again is refused, and the refusal removes nothing of the first.
  EXPECT_THROW(rc::Cgroup::create(path, {}), lab::UserError);
  for (const auto& d : dirs) EXPECT_TRUE(std::filesystem::is_directory(d)) << d;

  WaitingChild waiting;
  const pid_t child = waiting.pid;
  ASSERT_GT(child, 0);
  cg.add_process(child);
  EXPECT_EQ(cg.processes(), std::vector<pid_t>{child});
  for (const auto& d : dirs)
    EXPECT_EQ(lab::parse_pid_list(lab::read_file(d + "/cgroup.procs")), std::vector<pid_t>{child})
        << d;

  cg.kill_all(SIGKILL);
  const int status = waiting.wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  cg.remove();
  EXPECT_TRUE(all_gone(dirs));
  EXPECT_TRUE(cg.paths().empty());
}

// What the runtime's init does: born in the v2 cgroup by clone3 (where the host has a v2 tree),
// it joins every v1 tree itself (echo 0 > tasks). Then it is in the cgroup in every tree, and
// no cgroup.procs was written for it.
TEST(RuntimeCgroupsOnHost, ANewProcessIsBornInV2AndJoinsV1Itself) {
  if (!lab::host::is_root()) GTEST_SKIP() << "needs root (cgroups)";
  const std::string path = fmt::format("/lab-rt-unit-self-{}", ::getpid());
  auto cg = rc::Cgroup::create(path, {.pids_limit = 5});
  const std::vector<std::string> dirs = cg.paths();
  const std::vector<std::string> tasks = cg.self_join_files();
  size_t v1 = 0;
  for (const auto& d : dirs) v1 += std::filesystem::exists(d + "/tasks") ? 1 : 0;
  EXPECT_EQ(tasks.size(), v1);  // one per v1 tree, none for v2
  for (const auto& t : tasks) EXPECT_TRUE(t.ends_with("/tasks")) << t;

  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  auto body = [&]() -> int {
    ::close(ready[0]);
    try {
      rc::join_self(tasks);
    } catch (const std::exception&) {
      return 1;
    }
    (void)!::write(ready[1], "j", 1);
    for (;;) ::pause();
  };
  lab::UniqueFd v2 = cg.open_for_clone();
  bool into_cgroup = false;
  lab::Child child = v2 ? lab::clone_child_into_cgroup(SIGCHLD, v2.get(), into_cgroup, body)
                        : lab::clone_child(SIGCHLD, body);
  ::close(ready[1]);
  if (v2 && !into_cgroup) cg.add_process_to_v2(child.pid());
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1) << "the child could not join its v1 trees";
  ::close(ready[0]);
  for (const auto& d : dirs)
    EXPECT_EQ(lab::parse_pid_list(lab::read_file(d + "/cgroup.procs")),
              std::vector<pid_t>{child.pid()})
        << d;
  // A file that is not there: the error names it.
  try {
    rc::join_self({"/sys/fs/cgroup/lab-no-such-tree/tasks"});
    ADD_FAILURE() << "join_self of a missing file did not throw";
  } catch (const lab::SyscallError& e) {
    EXPECT_NE(std::string(e.what()).find("lab-no-such-tree/tasks"), std::string::npos) << e.what();
  }
  cg.kill_all(SIGKILL);
  const pid_t pid = child.release();
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  cg.remove();
  EXPECT_TRUE(all_gone(dirs));
}

TEST(RuntimeCgroupsOnHost, OpenFindsWhatCreateLeftAndRemovesIt) {
  if (!lab::host::is_root()) GTEST_SKIP() << "needs root (cgroups)";
  const std::string path = fmt::format("/lab-rt-unit-{}/ctr", ::getpid());
  std::vector<std::string> dirs;
  {
    auto cg = rc::Cgroup::create(path, {.pids_limit = 5});
    dirs = cg.paths();
    cg.release();  // the container outlives `runtime create`
  }
  for (const auto& d : dirs) EXPECT_TRUE(std::filesystem::is_directory(d)) << d;
  WaitingChild waiting;
  const pid_t child = waiting.pid;
  ASSERT_GT(child, 0);
  auto again = rc::Cgroup::open(path);
  EXPECT_EQ(again.paths(), dirs);
  again.add_process(child);
  again.kill_all(SIGTERM);  // not SIGKILL: the freeze, signal, thaw path
  const int status = waiting.wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  again.remove();
  EXPECT_TRUE(all_gone(dirs));
  // open() does not know it made the parent (only /minidocker is taken as minidocker's)
  for (const auto& d : dirs) {
    std::string parent = d.substr(0, d.rfind('/'));
    EXPECT_EQ(::rmdir(parent.c_str()), 0) << parent;
  }
}

TEST(RuntimeCgroupsOnHost, AKernelRefusalLeavesNothingBehind) {
  if (!lab::host::is_root()) GTEST_SKIP() << "needs root (cgroups)";
  const std::string path = fmt::format("/lab-rt-unit-{}/parent/ctr", ::getpid());
  std::vector<std::string> roots;
  for (const auto& h : rc::hierarchies_for(lab::host::detect_cgroups()))
    roots.push_back(h.root + fmt::format("/lab-rt-unit-{}", ::getpid()));
  try {
    rc::Cgroup::create(path, {.cpu_quota = 500});  // below 1 ms: EINVAL
    ADD_FAILURE() << "a 500 us quota was accepted";
  } catch (const lab::SyscallError& e) {
    EXPECT_EQ(e.code().value(), EINVAL);
    EXPECT_NE(std::string(e.what()).find("500"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("at least 1000 us"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(all_gone(roots));
  EXPECT_THROW(rc::Cgroup::create("relative", {}), lab::UserError);
}

}  // namespace

namespace {

TEST(RuntimeCgroups, DeviceFilterProgramChecksTheLastRuleFirst) {
  auto prog = rc::device_filter_program({{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 3, "rwm"}});
  // 6 loads of the context, the allow rule (type, major, minor, r0 = 1, exit), the deny-all
  // rule (r0 = 0, exit), which decides everything else: no final refusal after it.
  ASSERT_EQ(prog.size(), 13u);
  EXPECT_EQ(prog[6].code, BPF_JMP | BPF_JNE | BPF_K);
  EXPECT_EQ(prog[6].imm, BPF_DEVCG_DEV_CHAR);
  EXPECT_EQ(prog[6].off, 4);  // to the deny-all rule at 11
  EXPECT_EQ(prog[7].imm, 1);  // major
  EXPECT_EQ(prog[7].off, 3);
  EXPECT_EQ(prog[8].imm, 3);  // minor
  EXPECT_EQ(prog[9].code, BPF_ALU | BPF_MOV | BPF_K);
  EXPECT_EQ(prog[9].imm, 1);
  EXPECT_EQ(prog[10].code, BPF_JMP | BPF_EXIT);
  EXPECT_EQ(prog[11].imm, 0);
  EXPECT_EQ(prog[12].code, BPF_JMP | BPF_EXIT);

  // A partial access: allow needs every access asked for, deny any of them.
  auto partial = rc::device_filter_program({{true, 'c', 5, -1, "rw"}, {false, 'b', -1, -1, "w"}});
  // deny block first (last rule): type, mov r1=r3, and r1, jeq r1 0, mov r0, exit
  EXPECT_EQ(partial[6].imm, BPF_DEVCG_DEV_BLOCK);
  EXPECT_EQ(partial[8].imm, BPF_DEVCG_ACC_WRITE);
  EXPECT_EQ(partial[9].code, BPF_JMP | BPF_JEQ | BPF_K);
  EXPECT_EQ(partial[12].imm, BPF_DEVCG_DEV_CHAR);
  EXPECT_EQ(partial[14].imm, BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE);
  EXPECT_EQ(partial[15].code, BPF_JMP | BPF_JNE | BPF_X);
  EXPECT_EQ(partial[16].imm, 5);  // major; minor is any
  EXPECT_EQ(partial[17].imm, 1);
  ASSERT_EQ(partial.size(), 21u);  // no rule matches everything: the final refusal
  EXPECT_EQ(partial[19].imm, 0);
}

// The BPF device program works on any cgroup v2 tree, so it is tried on this host's even when
// v1 devices is what create() uses here: /dev/null allowed, /dev/zero refused.
TEST(RuntimeCgroupsOnHost, DeviceFilterRefusesWhatNoRuleAllows) {
  if (!lab::host::is_root()) GTEST_SKIP() << "needs root (cgroups, bpf)";
  auto layout = lab::host::detect_cgroups();
  if (layout.v2_mount.empty()) GTEST_SKIP() << "no cgroup v2 tree on this host";
  auto dir =
      lab::CgroupDir::create(fmt::format("{}/lab-rt-unit-bpf-{}", layout.v2_mount, ::getpid()));
  rc::attach_device_filter(dir.path(), {{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 3, "rw"}});
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  pid_t child = ::fork();
  if (child == 0) {
    char byte;
    if (::read(go[0], &byte, 1) != 1) ::_exit(100);
    const bool null_opens = ::open("/dev/null", O_RDWR) >= 0;
    const bool zero_refused = ::open("/dev/zero", O_RDONLY) == -1 && errno == EPERM;
    ::_exit((null_opens ? 1 : 0) | (zero_refused ? 2 : 0));
  }
  ::close(go[0]);
  lab::write_file(dir.file("cgroup.procs"), std::to_string(child));
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  ::close(go[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3) << "1: /dev/null opened, 2: /dev/zero refused with EPERM";
  dir.remove();
}

}  // namespace
