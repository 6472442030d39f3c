// final/runtime/mounts: config.json's mount options, the plan's validation, the default devices;
// and, as root, the whole rootfs built in a child's own mount namespace on a copy of the busybox
// rootfs.
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "error.hpp"
#include "fd.hpp"
#include "mount.hpp"
#include "process.hpp"
#include "runtime/mounts.hpp"

namespace {

namespace fs = std::filesystem;
using runtime::mounts::Device;
using runtime::mounts::MountEntry;
using runtime::mounts::ParsedOptions;
using runtime::mounts::Plan;

struct OptionsCase {
  std::vector<std::string> words;
  unsigned long flags;
  unsigned long propagation;
  std::string data;
  bool bind, recursive;
};

class ParseOptions : public ::testing::TestWithParam<OptionsCase> {};

TEST_P(ParseOptions, AsRuncSplitsThem) {
  const OptionsCase& c = GetParam();
  const ParsedOptions o = runtime::mounts::parse_options(c.words);
  EXPECT_EQ(lab::mount_flags_to_string(o.flags), lab::mount_flags_to_string(c.flags));
  EXPECT_EQ(o.propagation, c.propagation);
  EXPECT_EQ(o.data, c.data);
  EXPECT_EQ(o.bind, c.bind);
  EXPECT_EQ(o.recursive, c.recursive);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseOptions,
    ::testing::Values(
        OptionsCase{{}, 0, 0, "", false, false},
        // runtime-spec's default config: /proc, /dev, /dev/pts, /dev/shm, /sys
        OptionsCase{{"nosuid", "strictatime", "mode=755", "size=65536k"},
                    MS_NOSUID | MS_STRICTATIME,
                    0,
                    "mode=755,size=65536k",
                    false,
                    false},
        OptionsCase{{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"},
                    MS_NOSUID | MS_NOEXEC,
                    0,
                    "newinstance,ptmxmode=0666,mode=0620,gid=5",
                    false,
                    false},
        OptionsCase{{"nosuid", "noexec", "nodev", "ro"},
                    MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY,
                    0,
                    "",
                    false,
                    false},
        OptionsCase{{"rbind", "rprivate", "ro"},
                    MS_BIND | MS_REC | MS_RDONLY,
                    MS_REC | MS_PRIVATE,
                    "",
                    true,
                    true},
        OptionsCase{{"bind", "nosuid", "nodev", "noexec", "relatime", "ro"},
                    MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME | MS_RDONLY,
                    0,
                    "",
                    true,
                    false},
        // A later negation clears an earlier flag, as mount(8) reads them left to right.
        OptionsCase{{"ro", "rw", "nosuid", "suid", "noexec", "exec", "nodev", "dev"},
                    0,
                    0,
                    "",
                    false,
                    false},
        OptionsCase{{"noatime", "atime", "defaults"}, 0, 0, "", false, false},
        OptionsCase{{"rslave", "shared"}, 0, MS_REC | MS_SLAVE | MS_SHARED, "", false, false},
        OptionsCase{{"runbindable"}, 0, MS_REC | MS_UNBINDABLE, "", false, false},
        OptionsCase{{"lowerdir=/a:/b", "upperdir=/u", "workdir=/w"},
                    0,
                    0,
                    "lowerdir=/a:/b,upperdir=/u,workdir=/w",
                    false,
                    false},
        OptionsCase{{"nosuid", "nodev", "noexec", "relatime", "dirsync", "sync"},
                    MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME | MS_DIRSYNC | MS_SYNCHRONOUS,
                    0,
                    "",
                    false,
                    false}));

// runc's tmpcopyup is an instruction to the runtime, never passed on to mount(2).
TEST(ParseOptionsTmpcopyup, IsOursNotTheKernels) {
  const ParsedOptions o = runtime::mounts::parse_options({"tmpcopyup", "nosuid", "mode=1777"});
  EXPECT_TRUE(o.tmpcopyup);
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_NOSUID));
  EXPECT_EQ(o.data, "mode=1777");
  EXPECT_FALSE(runtime::mounts::parse_options({"nosuid"}).tmpcopyup);
}

TEST(PropagationFlags, EveryWordAndNothingElse) {
  EXPECT_EQ(runtime::mounts::propagation_flags("private"), MS_PRIVATE);
  EXPECT_EQ(runtime::mounts::propagation_flags("rprivate"), MS_REC | MS_PRIVATE);
  EXPECT_EQ(runtime::mounts::propagation_flags("slave"), MS_SLAVE);
  EXPECT_EQ(runtime::mounts::propagation_flags("rslave"), MS_REC | MS_SLAVE);
  EXPECT_EQ(runtime::mounts::propagation_flags("shared"), MS_SHARED);
  EXPECT_EQ(runtime::mounts::propagation_flags("rshared"), MS_REC | MS_SHARED);
  EXPECT_EQ(runtime::mounts::propagation_flags("unbindable"), MS_UNBINDABLE);
  EXPECT_EQ(runtime::mounts::propagation_flags("runbindable"), MS_REC | MS_UNBINDABLE);
  EXPECT_EQ(runtime::mounts::propagation_flags("ro"), 0u);
  EXPECT_EQ(runtime::mounts::propagation_flags(""), 0u);
}

Plan good_plan() {
  Plan p;
  p.rootfs = "/run/bundle/rootfs";
  p.mounts = {{"/proc", "proc", "proc", {}},
              {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755"}},
              {"/data", "bind", "/srv/data", {"rbind", "ro"}},
              {"/etc/hosts", "", "/run/hosts", {"bind"}},
              {"/sys/fs/cgroup", "cgroup", "cgroup", {"ro"}}};
  p.devices = {{"/dev/fuse", 'c', 10, 229, 0666, 0, 0}};
  p.masked_paths = {"/proc/kcore"};
  p.readonly_paths = {"/proc/sys"};
  p.rootfs_propagation = "rslave";
  p.sysctl = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmax", "1000"}};
  return p;
}

struct ValidateCase {
  const char* name;
  void (*spoil)(Plan&);
  const char* message;  // "" = valid
};

class Validate : public ::testing::TestWithParam<ValidateCase> {};

TEST_P(Validate, SaysWhatIsWrongInOneLine) {
  Plan p = good_plan();
  GetParam().spoil(p);
  EXPECT_EQ(runtime::mounts::validate(p), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Plans, Validate,
    ::testing::Values(
        ValidateCase{"good", [](Plan&) {}, ""},
        ValidateCase{"relative_rootfs", [](Plan& p) { p.rootfs = "rootfs"; },
                     "root.path must be an absolute host path here, got \"rootfs\""},
        ValidateCase{"relative_destination", [](Plan& p) { p.mounts[0].destination = "proc"; },
                     "mounts[0].destination \"proc\" is not an absolute path"},
        ValidateCase{"unknown_type", [](Plan& p) { p.mounts[0].type = "zfs"; },
                     "mounts[0] (/proc): unknown type \"zfs\""},
        ValidateCase{"none_without_bind", [](Plan& p) { p.mounts[0].type = "none"; },
                     "mounts[0] (/proc): type \"none\" is only for bind mounts (options bind or "
                     "rbind)"},
        ValidateCase{"none_with_bind", [](Plan& p) { p.mounts[2].type = "none"; }, ""},
        ValidateCase{"tmpcopyup_on_tmpfs",
                     [](Plan& p) { p.mounts[1].options.push_back("tmpcopyup"); }, ""},
        ValidateCase{"tmpcopyup_on_a_bind",
                     [](Plan& p) { p.mounts[2].options.push_back("tmpcopyup"); },
                     "mounts[2] (/data): tmpcopyup is only for tmpfs"},
        ValidateCase{"bind_without_source", [](Plan& p) { p.mounts[2].source = ""; },
                     "mounts[2] (/data): a bind mount needs a source"},
        ValidateCase{"relative_bind_source", [](Plan& p) { p.mounts[3].source = "hosts"; },
                     "mounts[3] (/etc/hosts): bind source \"hosts\" is not an absolute path"},
        ValidateCase{"propagation", [](Plan& p) { p.rootfs_propagation = "slaved"; },
                     "linux.rootfsPropagation \"slaved\" is not one of private, rprivate, slave, "
                     "rslave, shared, rshared, unbindable, runbindable"},
        ValidateCase{"empty_propagation_is_the_default", [](Plan& p) { p.rootfs_propagation = ""; },
                     ""},
        ValidateCase{"device_type", [](Plan& p) { p.devices[0].type = 'x'; },
                     "linux.devices /dev/fuse: type 'x' is not one of c, b, u, p"},
        ValidateCase{"device_path", [](Plan& p) { p.devices[0].path = "dev/fuse"; },
                     "linux.devices: path \"dev/fuse\" is not absolute"},
        ValidateCase{"masked_relative", [](Plan& p) { p.masked_paths.push_back("proc/kcore"); },
                     "linux.maskedPaths: \"proc/kcore\" is not an absolute path"},
        ValidateCase{"readonly_relative", [](Plan& p) { p.readonly_paths.push_back("sys"); },
                     "linux.readonlyPaths: \"sys\" is not an absolute path"},
        ValidateCase{"sysctl_name", [](Plan& p) { p.sysctl["net..x"] = "1"; },
                     "linux.sysctl: \"net..x\" is not a sysctl name"},
        ValidateCase{"sysctl_host_wide", [](Plan& p) { p.sysctl["vm.swappiness"] = "0"; },
                     "linux.sysctl: vm.swappiness is not in any namespace a container has; "
                     "setting it would change the host"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(DefaultDevices, TheRuntimeSpecSix) {
  std::vector<std::string> seen;
  for (const Device& d : runtime::mounts::default_devices()) {
    seen.push_back(fmt::format("{} {} {}:{} {:o} {}:{}", d.path, d.type, d.major, d.minor,
                               d.file_mode, d.uid, d.gid));
  }
  EXPECT_EQ(seen,
            (std::vector<std::string>{"/dev/null c 1:3 666 0:0", "/dev/zero c 1:5 666 0:0",
                                      "/dev/full c 1:7 666 0:0", "/dev/random c 1:8 666 0:0",
                                      "/dev/urandom c 1:9 666 0:0", "/dev/tty c 5:0 666 0:0"}));
}

// --- as root: the whole thing, in a child --------------------------------------------------------

std::string busybox_rootfs() {
  if (const char* env = std::getenv("LAB_ROOTFS"); env && *env) return env;
  return std::string(LAB_PROJECT_DIR) + "/build/rootfs";
}

std::set<std::string> mount_lines() {
  std::set<std::string> out;
  for (const auto& m : lab::read_mountinfo())
    out.insert(fmt::format("{} {} {}", m.mount_id, m.mount_point, m.fstype));
  return out;
}

// What the child finds once prepare_rootfs_in_child returned, one "key=value" each.
std::vector<std::string> look_around_inside(const std::string& host_dir) {
  std::vector<std::string> out;
  auto exists = [](const char* p) { return ::access(p, F_OK) == 0; };
  auto write_errno = [](const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::close(fd);
      return std::string("written");
    }
    return std::string(errno == EROFS ? "EROFS" : std::strerror(errno));
  };
  std::vector<std::string> dev;
  for (const auto& e : fs::directory_iterator("/dev")) dev.push_back(e.path().filename());
  std::sort(dev.begin(), dev.end());
  out.push_back(fmt::format("dev={}", fmt::join(dev, " ")));
  struct stat st {};
  ::stat("/dev/null", &st);
  out.push_back(fmt::format("null={}:{}:{:o}:{}", major(st.st_rdev), minor(st.st_rdev),
                            st.st_mode & 07777, S_ISCHR(st.st_mode) ? "chr" : "other"));
  char link[256] = {};
  ::readlink("/dev/ptmx", link, sizeof link - 1);
  out.push_back(fmt::format("ptmx->{}", link));
  out.push_back(fmt::format("pts/ptmx={}", exists("/dev/pts/ptmx")));
  out.push_back(fmt::format("proc={}", exists("/proc/self/status")));
  out.push_back(fmt::format("vol_marker={}", lab::read_file_or_empty("/vol/marker")));
  out.push_back(fmt::format("vol_write={}", write_errno("/vol/new")));
  out.push_back(fmt::format("file_bind={}", lab::read_file_or_empty("/etc/lab/hostname")));
  struct statfs sfs {};
  ::statfs("/scratch", &sfs);
  out.push_back(fmt::format("scratch_tmpfs={}", sfs.f_type == TMPFS_MAGIC));
  out.push_back(fmt::format("tmp_write={}", write_errno("/tmp/new")));
  out.push_back(fmt::format("root_write={}", write_errno("/new")));
  out.push_back(fmt::format("masked_file=[{}]", lab::read_file_or_empty("/etc/secret")));
  std::vector<std::string> masked_dir;
  for (const auto& e : fs::directory_iterator("/etc/secrets")) masked_dir.push_back(e.path());
  out.push_back(fmt::format("masked_dir=[{}]", fmt::join(masked_dir, " ")));
  out.push_back(fmt::format("ro_dir_write={}", write_errno("/etc/ro/new")));
  out.push_back(fmt::format("shmmni={}", lab::trim(lab::read_file("/proc/sys/kernel/shmmni"))));
  out.push_back(fmt::format("proc_sys_write={}", write_errno("/proc/sys/kernel/shmmni")));
  out.push_back(fmt::format("host_dir_gone={}", !exists(host_dir.c_str())));
  std::vector<std::string> cgroup;
  for (const auto& e : fs::directory_iterator("/sys/fs/cgroup"))
    cgroup.push_back(e.path().filename());
  std::sort(cgroup.begin(), cgroup.end());
  out.push_back(fmt::format("cgroup_ls={}", fmt::join(cgroup, " ")));
  out.push_back(
      fmt::format("cgroup_mkdir={}", ::mkdir("/sys/fs/cgroup/lab-x", 0755) == 0
                                         ? "made"
                                         : (errno == EROFS ? "EROFS" : std::strerror(errno))));
  // The container sees its own cgroup: its pid is in the cgroup.procs it finds.
  const std::string procs = exists("/sys/fs/cgroup/pids/cgroup.procs")
                                ? "/sys/fs/cgroup/pids/cgroup.procs"
                                : "/sys/fs/cgroup/cgroup.procs";
  const std::string pids = "\n" + lab::read_file_or_empty(procs);
  out.push_back(fmt::format("own_cgroup={}",
                            pids.find(fmt::format("\n{}\n", ::getpid())) != std::string::npos));
  return out;
}

// What /sys/fs/cgroup holds inside: on a cgroup v2 host the hierarchy's own files; on a v1 or
// hybrid host one directory per hierarchy mounted under the host's /sys/fs/cgroup, and a link per
// controller of a co-mounted one (cpu -> cpu,cpuacct).
std::string expected_cgroup_listing() {
  struct statfs sfs {};
  std::vector<std::string> names;
  if (::statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC) {
    for (const auto& e : fs::directory_iterator("/sys/fs/cgroup"))
      names.push_back(e.path().filename());
  } else {
    std::set<std::string> unique;
    for (const auto& m : lab::read_mountinfo()) {
      if ((m.fstype != "cgroup" && m.fstype != "cgroup2") ||
          !m.mount_point.starts_with("/sys/fs/cgroup/"))
        continue;
      const std::string name = fs::path(m.mount_point).filename();
      unique.insert(name);
      if (name.find(',') == std::string::npos) continue;
      std::istringstream words(name);
      for (std::string w; std::getline(words, w, ',');) unique.insert(w);
    }
    names.assign(unique.begin(), unique.end());
  }
  std::sort(names.begin(), names.end());
  return fmt::format("{}", fmt::join(names, " "));
}

TEST(PrepareRootfs, BuildsTheWholeRootInAChildAndLeavesTheHostAlone) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  const std::string source = busybox_rootfs();
  if (!fs::exists(source + "/bin/busybox")) {
    if (std::getenv("CI") != nullptr && std::string(std::getenv("CI")) == "true")
      FAIL() << "no busybox rootfs at " << source << " (make rootfs)";
    GTEST_SKIP() << "no busybox rootfs at " << source << " (make rootfs)";
  }
  lab::TempDir work("/tmp/lab-rootfs-test-");
  const std::string rootfs = work.path() + "/rootfs";
  // canonical: were `source` itself a symlink (a worktree's build/rootfs), copy_symlinks would
  // copy the link, and the test would write into the shared rootfs through it.
  fs::copy(fs::canonical(source), rootfs,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::create_symlink("../../..", rootfs + "/up");  // "/" from inside, the host's / from outside
  fs::create_symlink("/", rootfs + "/rootlink");
  fs::create_directories(rootfs + "/etc/secrets");
  lab::create_file(rootfs + "/etc/secrets/key", "k");
  lab::create_file(rootfs + "/etc/secret", "s3cret");
  fs::create_directories(rootfs + "/etc/ro");
  const std::string volume = work.path() + "/volume";
  fs::create_directories(volume);
  lab::create_file(volume + "/marker", "from the host");

  Plan plan;
  plan.rootfs = rootfs;
  plan.readonly = true;
  plan.mounts = {
      {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts",
       "devpts",
       "devpts",
       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/tmp", "tmpfs", "tmpfs", {"nosuid", "nodev"}},
      {"/up/vol", "bind", volume, {"rbind", "ro"}},
      {"/rootlink/scratch", "tmpfs", "tmpfs", {}},
      {"/etc/lab/hostname", "bind", volume + "/marker", {"bind", "ro"}},  // a file, made
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
      {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
  };
  plan.masked_paths = {"/etc/secret", "/etc/secrets", "/no/such/path"};
  plan.readonly_paths = {"/etc/ro", "/proc/sys", "/no/such/dir"};
  plan.sysctl = {{"kernel.shmmni", "1234"}};

  const std::set<std::string> before = mount_lines();
  std::vector<std::string> steps;
  auto [parent_end, child_end] = lab::Channel::make_pair();
  // A new IPC namespace too, so that kernel.shmmni is the child's own.
  lab::Child child = lab::clone_child(CLONE_NEWNS | CLONE_NEWIPC | SIGCHLD, [&]() noexcept {
    try {
      runtime::mounts::prepare_rootfs_in_child(
          plan, [&](std::string_view lesson, std::string_view call, std::string_view) {
            child_end.send(fmt::format("[{}] {}", lesson, call));
          });
      for (const auto& line : look_around_inside(work.path())) child_end.send(line);
      child_end.send_ok();
      return 0;
    } catch (const std::exception& e) {
      child_end.report_error(e.what());
      return 1;
    }
  });
  child_end.close();
  std::vector<std::string> seen;
  for (;;) {
    lab::Channel::Message m = parent_end.receive_message();
    if (m.kind == lab::Channel::Kind::ok) break;
    ASSERT_EQ(m.kind, lab::Channel::Kind::value) << m.text;
    if (m.text.starts_with("[")) {
      steps.push_back(m.text);
    } else {
      seen.push_back(m.text);
    }
  }
  EXPECT_EQ(child.wait().shell_code(), 0);

  const bool kcore = ::access("/proc/kcore", F_OK) == 0;
  const std::vector<std::string> expected = {
      std::string("dev=") + (kcore ? "core " : "") +
          "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero",
      "null=1:3:666:chr",
      "ptmx->pts/ptmx",
      "pts/ptmx=true",
      "proc=true",
      "vol_marker=from the host",
      "vol_write=EROFS",
      "file_bind=from the host",
      "scratch_tmpfs=true",
      "tmp_write=written",
      "root_write=EROFS",
      "masked_file=[]",
      "masked_dir=[]",
      "ro_dir_write=EROFS",
      "shmmni=1234",
      "proc_sys_write=EROFS",
      "host_dir_gone=true",
      "cgroup_ls=" + expected_cgroup_listing(),
      "cgroup_mkdir=EROFS",
      "own_cgroup=true",
  };
  EXPECT_EQ(seen, expected);
  // The steps are told in runc's order: propagation, the bind onto itself, mounts, pivot_root.
  ASSERT_GE(steps.size(), 4u);
  EXPECT_EQ(steps[0], "[03] mount(NULL, \"/\", NULL, MS_REC|MS_SLAVE, NULL)");
  EXPECT_EQ(steps[1],
            fmt::format("[03] mount(\"{0}\", \"{0}\", NULL, MS_BIND|MS_REC, NULL)", rootfs));
  const auto pivot = std::find(steps.begin(), steps.end(),
                               "[03] pivot_root(\".\", \".\"); umount2(\".\", MNT_DETACH)");
  EXPECT_NE(pivot, steps.end()) << fmt::format("{}", fmt::join(steps, "\n"));
  // The bind through "up -> ../../.." landed inside the rootfs.
  EXPECT_NE(std::find(steps.begin(), steps.end(),
                      fmt::format("[03] mount(\"{}\", \"{}/vol\", NULL, MS_BIND|MS_REC, NULL)",
                                  volume, rootfs)),
            steps.end())
      << fmt::format("{}", fmt::join(steps, "\n"));
  // Nothing reached the host: its mount table, the volume, the rootfs copy's own files.
  EXPECT_EQ(mount_lines(), before);
  EXPECT_FALSE(fs::exists(volume + "/new"));
  EXPECT_EQ(lab::read_file(volume + "/marker"), "from the host");
  EXPECT_FALSE(fs::exists("/vol"));
  EXPECT_FALSE(fs::exists("/scratch"));
  EXPECT_EQ(lab::read_file(rootfs + "/etc/secret"), "s3cret");
}

TEST(PrepareRootfs, ProcThroughASymlinkIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  lab::TempDir work("/tmp/lab-rootfs-test-");
  const std::string rootfs = work.path() + "/rootfs";
  fs::create_directories(rootfs + "/etc");
  fs::create_symlink("/etc", rootfs + "/proc");
  Plan plan;
  plan.rootfs = rootfs;
  plan.mounts = {{"/proc", "proc", "proc", {}}};
  const std::set<std::string> before = mount_lines();
  auto [parent_end, child_end] = lab::Channel::make_pair();
  lab::Child child = lab::clone_child(CLONE_NEWNS | SIGCHLD, [&]() noexcept {
    try {
      runtime::mounts::prepare_rootfs_in_child(plan, {});
      child_end.send_ok();
      return 0;
    } catch (const std::exception& e) {
      child_end.report_error(e.what());
      return 1;
    }
  });
  child_end.close();
  const lab::Channel::Message m = parent_end.receive_message();
  EXPECT_EQ(m.kind, lab::Channel::Kind::error);
  EXPECT_EQ(m.text, fmt::format("mounts[0] (proc on /proc): proc would be mounted on {}/etc (its "
                                "destination /proc goes through a symlink in the rootfs); refused",
                                fs::canonical(rootfs).string()));
  EXPECT_EQ(child.wait().shell_code(), 1);
  EXPECT_EQ(mount_lines(), before);
}

}  // namespace
