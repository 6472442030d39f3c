// Pure logic of common/: flag names, errno hints, mountinfo parsing, cgroup detection on fake
// mount tables, the narrator's three output modes.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>

#include "error.hpp"
#include "fd.hpp"
#include "host.hpp"
#include "ipv4.hpp"
#include "mount.hpp"
#include "narrator.hpp"
#include "process.hpp"

namespace {

struct FlagCase {
  unsigned long flags;
  const char* expected;
};

TEST(CloneFlags, SpelledByName) {
  const FlagCase cases[] = {
      {CLONE_NEWUTS | SIGCHLD, "CLONE_NEWUTS|SIGCHLD"},
      {CLONE_NEWPID | CLONE_NEWNS | SIGCHLD, "CLONE_NEWNS|CLONE_NEWPID|SIGCHLD"},
      {SIGCHLD, "SIGCHLD"},
      {0, "0"},
      {CLONE_NEWNET, "CLONE_NEWNET"},
  };
  for (const auto& c : cases) EXPECT_EQ(lab::clone_flags_to_string(c.flags), c.expected);
}

TEST(MountFlags, SpelledByName) {
  const FlagCase cases[] = {
      {MS_REC | MS_PRIVATE, "MS_REC|MS_PRIVATE"},
      {MS_BIND, "MS_BIND"},
      {MS_BIND | MS_REC, "MS_BIND|MS_REC"},
      {MS_NOSUID | MS_NODEV | MS_NOEXEC, "MS_NOSUID|MS_NODEV|MS_NOEXEC"},
      {0, "0"},
      {1UL << 30, "0x40000000"},
  };
  for (const auto& c : cases) EXPECT_EQ(lab::mount_flags_to_string(c.flags), c.expected);
  EXPECT_EQ(lab::umount_flags_to_string(MNT_DETACH), "MNT_DETACH");
}

TEST(SyscallError, NamesCallErrnoAndHint) {
  lab::SyscallError e(EINVAL, "pivot_root(\".\", \"old\")");
  std::string what = e.what();
  EXPECT_NE(what.find("pivot_root(\".\", \"old\"): Invalid argument (EINVAL)"), std::string::npos);
  EXPECT_NE(what.find("shared propagation"), std::string::npos);
  EXPECT_EQ(e.code().value(), EINVAL);
}

TEST(SyscallError, HintsForMisleadingErrnos) {
  EXPECT_NE(lab::errno_hint(EPERM, "sethostname(\"x\", 1)").find("root"), std::string::npos);
  EXPECT_NE(lab::errno_hint(EBUSY, "write(\"/sys/fs/cgroup/lab/cgroup.subtree_control\")")
                .find("no internal processes"),
            std::string::npos);
  EXPECT_NE(lab::errno_hint(ENOSPC, "mount(...)").find("limit"), std::string::npos);
  EXPECT_EQ(lab::errno_hint(ENOENT, "open(\"x\")"), "");
}

// read_file_or_empty answers without a throw (a static runtime's first exception costs ms).
TEST(ReadFileOrEmpty, AFileItsTextAnythingElseEmpty) {
  char dir[] = "/tmp/lab-unit-read-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string file = std::string(dir) + "/f";
  const std::string big(10000, 'x');  // more than one read's buffer
  std::ofstream(file) << big;
  EXPECT_EQ(lab::read_file_or_empty(file), big);
  EXPECT_EQ(lab::read_file_or_empty(std::string(dir) + "/missing"), "");
  EXPECT_EQ(lab::read_file_or_empty(dir), "");  // a directory: read() fails with EISDIR
  ::unlink(file.c_str());
  ::rmdir(dir);
}

TEST(Check, ThrowsOnlyOnMinusOne) {
  EXPECT_EQ(lab::check(3, "x"), 3);
  errno = ENOENT;
  EXPECT_THROW(lab::check(-1, "open(\"/nope\")"), lab::SyscallError);
  errno = ENOENT;
  try {
    lab::check(-1, [] { return std::string("stat(\"/nope\")"); });
    FAIL();
  } catch (const lab::SyscallError& e) {
    EXPECT_EQ(e.call(), "stat(\"/nope\")");
  }
}

TEST(Mountinfo, ParsesTheProcExample) {
  auto m = lab::parse_mountinfo_line(
      "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue");
  EXPECT_EQ(m.mount_id, 36);
  EXPECT_EQ(m.parent_id, 35);
  EXPECT_EQ(m.root, "/mnt1");
  EXPECT_EQ(m.mount_point, "/mnt2");
  EXPECT_EQ(m.fstype, "ext3");
  EXPECT_EQ(m.source, "/dev/root");
  EXPECT_EQ(m.super_options, "rw,errors=continue");
  EXPECT_EQ(m.propagation(), "slave");
}

TEST(Mountinfo, Propagation) {
  struct Case {
    const char* optional;
    const char* expected;
  } cases[] = {{"", "private"},
               {"shared:1", "shared"},
               {"master:3", "slave"},
               {"shared:2 master:1", "shared,slave"},
               {"unbindable", "unbindable"}};
  for (const auto& c : cases) {
    auto m = lab::parse_mountinfo_line(std::string("1 0 8:1 / / rw ") + c.optional +
                                       (*c.optional ? " " : "") + "- ext4 /dev/sda1 rw");
    EXPECT_EQ(m.propagation(), c.expected) << c.optional;
  }
}

TEST(Mountinfo, DecodesOctalEscapes) {
  auto m = lab::parse_mountinfo_line("40 1 0:5 / /tmp/with\\040space rw - tmpfs tmpfs rw");
  EXPECT_EQ(m.mount_point, "/tmp/with space");
  EXPECT_EQ(lab::decode_mount_escapes("a\\011b\\134c"), "a\tb\\c");
  EXPECT_EQ(lab::decode_mount_escapes("trailing\\04"), "trailing\\04");
}

TEST(Mountinfo, OverlaySuperOptions) {
  auto m = lab::parse_mountinfo_line(
      "50 1 0:50 / /tmp/lab/C rw,relatime - overlay overlay "
      "rw,lowerdir=/tmp/lab/A:/tmp/lab/B,upperdir=/tmp/lab/up,workdir=/tmp/lab/work");
  EXPECT_EQ(m.super_option("lowerdir"), "/tmp/lab/A:/tmp/lab/B");
  EXPECT_EQ(m.super_option("upperdir"), "/tmp/lab/up");
  EXPECT_EQ(m.super_option("missing"), "");
}

TEST(Mountinfo, RejectsMalformedLines) {
  EXPECT_THROW(lab::parse_mountinfo_line("36 35 98:0 /mnt1"), std::invalid_argument);
  EXPECT_THROW(lab::parse_mountinfo_line("36 35 98:0 / / rw shared:1 ext3 /dev/root rw"),
               std::invalid_argument);
}

TEST(Mountinfo, FindsTheTopMount) {
  auto mounts = lab::parse_mountinfo(
      "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "2 1 0:3 / /proc rw - proc proc rw\n"
      "3 2 0:4 / /proc rw - proc proc rw\n");
  ASSERT_EQ(mounts.size(), 3u);
  ASSERT_NE(lab::find_mount(mounts, "/proc"), nullptr);
  EXPECT_EQ(lab::find_mount(mounts, "/proc")->mount_id, 3);
  EXPECT_EQ(lab::find_mount(mounts, "/nope"), nullptr);
}

// Fake mount tables for the three cgroup layouts DESIGN.md names.
std::vector<lab::MountInfo> mounts_of(const std::string& text) {
  return lab::parse_mountinfo(text);
}

TEST(Cgroups, DetectsPureV2) {
  auto layout = lab::host::detect_cgroups(
      mounts_of("30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"),
      [](const std::string& path) {
        EXPECT_EQ(path, "/sys/fs/cgroup/cgroup.controllers");
        return std::string("cpuset cpu io memory pids\n");
      });
  EXPECT_EQ(layout.mode, lab::host::CgroupMode::v2);
  EXPECT_EQ(layout.where("cpu"), "v2");
  EXPECT_EQ(layout.where("net_cls"), "");
}

TEST(Cgroups, DetectsV1) {
  auto layout = lab::host::detect_cgroups(
      mounts_of("31 1 0:28 / /sys/fs/cgroup tmpfs rw - tmpfs tmpfs rw\n"
                "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
                "33 31 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"),
      [](const std::string&) { return std::string(); });
  EXPECT_EQ(layout.mode, lab::host::CgroupMode::v1);
  EXPECT_EQ(layout.where("cpu"), "v1");
  EXPECT_EQ(layout.v1_controllers.at("cpu"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(layout.v1_controllers.at("memory"), "/sys/fs/cgroup/memory");
}

TEST(Cgroups, DetectsHybridLikeTheBuildMachines) {
  auto layout = lab::host::detect_cgroups(
      mounts_of("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
                "40 31 0:35 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"),
      [](const std::string&) { return std::string("hugetlb\n"); });
  EXPECT_EQ(layout.mode, lab::host::CgroupMode::hybrid);
  EXPECT_EQ(layout.v2_mount, "/sys/fs/cgroup/unified");
  EXPECT_EQ(layout.where("cpu"), "v1");
  EXPECT_EQ(layout.where("hugetlb"), "v2");
}

TEST(Host, FilesystemSupported) {
  std::string fs = "nodev\tsysfs\nnodev\tproc\n\text4\nnodev\toverlay\n";
  EXPECT_TRUE(lab::host::filesystem_supported(fs, "overlay"));
  EXPECT_TRUE(lab::host::filesystem_supported(fs, "ext4"));
  EXPECT_FALSE(lab::host::filesystem_supported(fs, "aufs"));
}

TEST(Host, DetectsEnvironment) {
  using lab::host::detect_environment;
  EXPECT_EQ(detect_environment("5.15.90.1-microsoft-standard-WSL2", false, false, ""), "wsl");
  EXPECT_EQ(detect_environment("6.1.0-13-amd64", true, false, ""), "docker");
  EXPECT_EQ(detect_environment("6.1.0-13-amd64", false, true, ""), "podman");
  EXPECT_EQ(
      detect_environment("6.1.0", false, false, std::string("PATH=/bin\0container=lxc\0", 24)),
      "container");
  EXPECT_EQ(detect_environment("6.1.0-13-amd64", false, false, "HOME=/\0"), "");
}

TEST(Host, RequireThrowsTheFix) {
  lab::host::Check failing{"busybox rootfs", lab::host::Status::fail,
                           "build/rootfs/bin/busybox is missing", "build it: make rootfs"};
  try {
    lab::host::require(failing);
    FAIL();
  } catch (const lab::UserError& e) {
    EXPECT_STREQ(e.what(), "build/rootfs/bin/busybox is missing; build it: make rootfs");
  }
  EXPECT_NO_THROW(lab::host::require({"x", lab::host::Status::warn, "meh", "fix"}));
}

TEST(Host, RootfsNeedsBusyboxAndProc) {
  lab::TempDir dir("/tmp/lab-rootfs-test-");
  const std::string root = dir.path();
  auto missing = lab::host::check_rootfs(root);
  EXPECT_EQ(missing.status, lab::host::Status::fail);
  EXPECT_EQ(missing.detail, root + "/bin/busybox is missing");
  ::mkdir((root + "/bin").c_str(), 0755);
  lab::create_file(root + "/bin/busybox", "");
  ::chmod((root + "/bin/busybox").c_str(), 0755);
  auto no_proc = lab::host::check_rootfs(root);
  EXPECT_EQ(no_proc.status, lab::host::Status::fail);
  EXPECT_EQ(no_proc.detail, root + "/proc is missing");
  EXPECT_EQ(no_proc.fix, "build it: make rootfs");
  ::mkdir((root + "/proc").c_str(), 0755);
  EXPECT_EQ(lab::host::check_rootfs(root).status, lab::host::Status::ok);
  // An empty path would otherwise find the host's own /bin/busybox and /proc.
  auto empty = lab::host::check_rootfs("");
  EXPECT_EQ(empty.status, lab::host::Status::fail);
  EXPECT_EQ(empty.detail, "the rootfs path is empty");
}

TEST(Ipv4, ParsesProcNetRoute) {
  // As the kernel prints it: hex of the raw network-order words.
  const std::string text =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
      "eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
  auto routes = lab::ipv4::parse_proc_net_route(text);
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(lab::ipv4::to_string(routes[0]), "0.0.0.0/0");
  EXPECT_EQ(lab::ipv4::to_string(routes[1]), "192.168.0.0/24");
  EXPECT_EQ(lab::ipv4::to_string(routes[2]), "172.17.0.0/16");
}

TEST(Ipv4, TheLabSubnetClashesOnlyWithOverlappingRoutes) {
  auto lab_subnet = *lab::ipv4::parse_cidr(lab::ipv4::kLabSubnet);
  struct Case {
    const char* route;
    bool clash;
  } cases[] = {{"0.0.0.0/0", false},  // the default route overlaps everything, by design
               {"172.17.0.0/16", false},
               {"172.16.0.0/12", true},
               {"172.29.0.128/25", true},
               {"172.29.1.0/24", false}};
  for (const auto& c : cases) {
    auto route = *lab::ipv4::parse_cidr(c.route);
    EXPECT_EQ(lab::ipv4::find_clash(lab_subnet, {route}).has_value(), c.clash) << c.route;
  }
}

TEST(ExitStatus, Decodes) {
  EXPECT_EQ(lab::decode_wait_status(0).describe(), "exited 0");
  EXPECT_EQ(lab::decode_wait_status(3 << 8).shell_code(), 3);
  auto killed = lab::decode_wait_status(SIGKILL);
  EXPECT_EQ(killed.signal, SIGKILL);
  EXPECT_EQ(killed.shell_code(), 137);
  EXPECT_EQ(killed.describe(), "killed by SIGKILL");
}

TEST(Narrator, HumanStepsAndVerdict) {
  std::ostringstream out;
  lab::Narrator n("uts", lab::OutputMode::human, 2, out, false);
  n.step("sethostname(\"lab\", 3)", "hostname lab");
  n.say("inside: lab");
  n.step("a very long call that does not leave room for the shell command at column 52", "x");
  n.fact("inside", "lab");
  EXPECT_TRUE(n.verdict(true, "it held"));
  EXPECT_EQ(
      out.str(),
      "[1/2] sethostname(\"lab\", 3)                         ~ hostname lab\n"
      "      inside: lab\n"
      "[2/2] a very long call that does not leave room for the shell command at column 52  ~ x\n"
      "verdict: HELD - it held\n");
}

TEST(Narrator, QuietPrintsOnlyTheVerdict) {
  std::ostringstream out;
  lab::Narrator n("uts", lab::OutputMode::quiet, 1, out, false);
  n.step("x()", "x");
  n.say("seen");
  EXPECT_FALSE(n.verdict(false, "it did not"));
  EXPECT_EQ(out.str(), "verdict: NOT HELD - it did not\n");
}

TEST(Narrator, JsonPrintsFactsOnce) {
  std::ostringstream out;
  lab::Narrator n("pid", lab::OutputMode::json, 1, out, false);
  n.step("x()", "x");
  n.fact("pid_inside", 1);
  n.fact("ps", {"1 sh", "2 ps"});
  n.verdict(true, "ok");
  auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["lesson"], "pid");
  EXPECT_EQ(j["held"], true);
  EXPECT_EQ(j["pid_inside"], 1);
  EXPECT_EQ(j["ps"].size(), 2u);
}

TEST(Narrator, ColourOnlyWhenAsked) {
  std::ostringstream out;
  lab::Narrator n("uts", lab::OutputMode::quiet, 1, out, true);
  n.verdict(true, "ok");
  EXPECT_NE(out.str().find("\033[1;32m"), std::string::npos);
}

TEST(Narrator, SilentPrintsNothing) {
  std::ostringstream out;
  lab::Narrator n("uts", lab::OutputMode::silent, 1, out, false);
  n.step("x()", "x");
  n.say("y");
  n.verdict(true, "ok");
  EXPECT_EQ(out.str(), "");
}

}  // namespace
