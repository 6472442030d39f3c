#include "host.hpp"

#include <fmt/format.h>
#include <net/if.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "error.hpp"
#include "fd.hpp"
#include "ipv4.hpp"

#ifndef LAB_PROJECT_DIR
#define LAB_PROJECT_DIR "."
#endif

namespace lab::host {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_words(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::string word;
  for (char c : text) {
    if (c == sep || c == '\n' || c == ' ') {
      if (!word.empty()) out.push_back(std::move(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) out.push_back(word);
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace

std::string_view to_string(Status s) {
  switch (s) {
    case Status::ok:
      return "OK";
    case Status::warn:
      return "WARN";
    case Status::fail:
      return "FAIL";
  }
  return "?";
}

std::string_view to_string(CgroupMode m) {
  switch (m) {
    case CgroupMode::none:
      return "none";
    case CgroupMode::v1:
      return "v1";
    case CgroupMode::v2:
      return "v2";
    case CgroupMode::hybrid:
      return "hybrid";
  }
  return "?";
}

std::string CgroupLayout::where(const std::string& controller) const {
  if (std::find(v2_controllers.begin(), v2_controllers.end(), controller) != v2_controllers.end())
    return "v2";
  if (v1_controllers.count(controller)) return "v1";
  return "";
}

CgroupLayout detect_cgroups(const std::vector<MountInfo>& mounts,
                            const std::function<std::string(const std::string&)>& read_text) {
  // A v1 hierarchy lists its controllers among the superblock options: "rw,cpu,cpuacct".
  static const std::vector<std::string> kV1Controllers = {
      "cpu",     "cpuacct", "cpuset",   "memory",     "pids",    "blkio", "devices",
      "freezer", "net_cls", "net_prio", "perf_event", "hugetlb", "rdma",  "misc"};
  CgroupLayout layout;
  for (const auto& m : mounts) {
    if (m.fstype == "cgroup2" && layout.v2_mount.empty()) {
      layout.v2_mount = m.mount_point;
    } else if (m.fstype == "cgroup") {
      for (const auto& opt : split_words(m.super_options, ','))
        if (std::find(kV1Controllers.begin(), kV1Controllers.end(), opt) != kV1Controllers.end() &&
            !layout.v1_controllers.count(opt))
          layout.v1_controllers[opt] = m.mount_point;
    }
  }
  if (!layout.v2_mount.empty())
    layout.v2_controllers = split_words(read_text(layout.v2_mount + "/cgroup.controllers"), ' ');
  bool v1 = !layout.v1_controllers.empty();
  bool v2 = !layout.v2_mount.empty();
  layout.mode = v1 && v2 ? CgroupMode::hybrid
                : v1     ? CgroupMode::v1
                : v2     ? CgroupMode::v2
                         : CgroupMode::none;
  return layout;
}

CgroupLayout detect_cgroups() { return detect_cgroups(read_mountinfo(), read_file_or_empty); }

bool is_root() { return ::geteuid() == 0; }

Check check_root() {
  if (is_root()) return {"root", Status::ok, "running as root (uid 0)", ""};
  return {"root", Status::fail,
          fmt::format("running as uid {}; namespaces, mounts and cgroups need root", ::geteuid()),
          "run it with sudo, e.g. sudo make demo"};
}

Check check_cgroups() {
  CgroupLayout l = detect_cgroups();
  std::string cpu = l.where("cpu");
  std::string detail;
  switch (l.mode) {
    case CgroupMode::none:
      return {"cgroups", Status::fail, "no cgroup filesystem is mounted",
              "mount cgroup2 at /sys/fs/cgroup: mount -t cgroup2 none /sys/fs/cgroup"};
    case CgroupMode::v2:
      detail = fmt::format("cgroup v2 at {}, controllers: {}", l.v2_mount,
                           fmt::join(l.v2_controllers, " "));
      break;
    case CgroupMode::v1:
      detail = fmt::format("cgroup v1, {} controllers", l.v1_controllers.size());
      break;
    case CgroupMode::hybrid:
      detail = fmt::format(
          "hybrid: v1 controllers plus cgroup2 at {} (holding: {})", l.v2_mount,
          l.v2_controllers.empty() ? "none" : fmt::format("{}", fmt::join(l.v2_controllers, " ")));
      break;
  }
  if (cpu.empty())
    return {"cgroups", Status::warn, detail + "; the cpu controller is not available",
            "enable it: echo +cpu > /sys/fs/cgroup/cgroup.subtree_control (v2)"};
  detail += cpu == "v1" ? fmt::format("; cpu controller: v1 at {}", l.v1_controllers.at("cpu"))
                        : "; cpu controller: v2";
  return {"cgroups", Status::ok, detail, ""};
}

bool filesystem_supported(std::string_view proc_filesystems, std::string_view fs_name) {
  std::istringstream in{std::string(proc_filesystems)};
  std::string line;
  while (std::getline(in, line)) {
    auto words = split_words(line, '\t');
    if (!words.empty() && words.back() == fs_name) return true;
  }
  return false;
}

bool kernel_has_filesystem(std::string_view fs_name) {
  return filesystem_supported(read_file_or_empty("/proc/filesystems"), fs_name);
}

Check check_overlay() {
  bool overlay = kernel_has_filesystem("overlay");
  bool aufs = kernel_has_filesystem("aufs");
  if (!overlay && fs::exists("/lib/modules")) {
    // overlay is usually a module that loads on first mount; modinfo would know, but the module
    // directory is enough of a hint.
    struct utsname u {};
    ::uname(&u);
    if (fs::exists(fmt::format("/lib/modules/{}/kernel/fs/overlayfs", u.release)))
      return {"overlayfs", Status::ok, "overlay module available (loads on first mount)", ""};
  }
  if (!overlay)
    return {"overlayfs", Status::fail, "overlay is not in /proc/filesystems",
            "load it: modprobe overlay"};
  return {"overlayfs", Status::ok,
          aufs ? "overlay and aufs both available"
               : "overlay available (aufs is not: mainline has no aufs)",
          ""};
}

Check check_root_propagation() {
  const auto mounts = read_mountinfo();
  const MountInfo* root = find_mount(mounts, "/");
  if (!root) return {"propagation of /", Status::warn, "/ not found in mountinfo", ""};
  std::string p = root->propagation();
  if (p == "private")
    return {"propagation of /", Status::ok, "private (mounts in a new namespace stay there)", ""};
  return {"propagation of /", Status::ok,
          fmt::format("{} (systemd's default; the lessons make it private inside their own mount "
                      "namespace first, so nothing leaks)",
                      p),
          ""};
}

Check check_user_namespaces() {
  std::string max = trim(read_file_or_empty("/proc/sys/user/max_user_namespaces"));
  std::string debian = trim(read_file_or_empty("/proc/sys/kernel/unprivileged_userns_clone"));
  std::string ubuntu =
      trim(read_file_or_empty("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"));
  if (max == "0")
    return {"user namespaces", Status::warn, "user.max_user_namespaces = 0",
            "sysctl -w user.max_user_namespaces=15000"};
  if (debian == "0")
    return {"user namespaces", Status::warn, "unprivileged user namespaces are off",
            "sysctl -w kernel.unprivileged_userns_clone=1 (only needed without root)"};
  if (ubuntu == "1")
    return {"user namespaces", Status::warn, "AppArmor restricts unprivileged user namespaces",
            "run the lessons as root (sudo)"};
  return {"user namespaces", Status::ok,
          fmt::format("allowed (max {})", max.empty() ? "unknown" : max), ""};
}

Check check_rootfs(const std::string& rootfs) {
  // "" + "/bin/busybox" would be the host's own busybox: an empty path is no rootfs.
  if (rootfs.empty())
    return {"busybox rootfs", Status::fail, "the rootfs path is empty",
            "give the rootfs directory, e.g. build/rootfs (make rootfs builds it)"};
  // busybox runs everything inside; /proc is where a new PID namespace mounts its own proc.
  for (const char* needed : {"/bin/busybox", "/proc"}) {
    std::string path = rootfs + needed;
    if (::access(path.c_str(), F_OK) != 0)
      return {"busybox rootfs", Status::fail, fmt::format("{} is missing", path),
              "build it: make rootfs"};
  }
  std::string busybox = rootfs + "/bin/busybox";
  if (::access(busybox.c_str(), X_OK) != 0)
    return {"busybox rootfs", Status::fail, fmt::format("{} is not executable", busybox),
            "build it: make rootfs"};
  return {"busybox rootfs", Status::ok, rootfs, ""};
}

std::string detect_environment(std::string_view osrelease, bool dockerenv, bool containerenv,
                               std::string_view pid1_environ) {
  if (contains(osrelease, "microsoft") || contains(osrelease, "Microsoft") ||
      contains(osrelease, "WSL"))
    return "wsl";
  if (dockerenv) return "docker";
  if (containerenv) return "podman";
  // PID 1's environment holds container=lxc / container=podman / container=docker in most
  // container managers (systemd reads the same variable).
  for (const auto& var : split_words(pid1_environ, '\0'))
    if (var.starts_with("container=")) return "container";
  return "";
}

Check check_environment() {
  std::string env = detect_environment(read_file_or_empty("/proc/sys/kernel/osrelease"),
                                       fs::exists("/.dockerenv"), fs::exists("/run/.containerenv"),
                                       read_file_or_empty("/proc/1/environ"));
  if (env.empty()) return {"environment", Status::ok, "not inside a container or WSL", ""};
  if (env == "wsl")
    return {"environment", Status::warn, "WSL: namespaces work, cgroup and bridge lessons may not",
            "use WSL 2 with systemd enabled, or a Linux VM"};
  return {
      "environment", Status::warn,
      fmt::format("inside a container ({}): nested namespaces need a privileged container", env),
      "run the lab on the host or in a VM, or start the container with --privileged"};
}

Check check_command(const std::string& command, const std::string& package) {
  for (const char* dir :
       {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
    std::string path = fmt::format("{}/{}", dir, command);
    if (::access(path.c_str(), X_OK) == 0) return {command, Status::ok, path, ""};
  }
  return {command, Status::fail, "not installed", fmt::format("apt-get install {}", package)};
}

Check check_bridge_subnet() {
  const std::string name = "bridge subnet";
  auto subnet = ipv4::parse_cidr(ipv4::kLabSubnet);
  auto routes = ipv4::parse_proc_net_route(read_file_or_empty("/proc/net/route"));
  if (auto clash = ipv4::find_clash(*subnet, routes)) {
    // A bridge lesson killed before it could clean up leaves its lab0 (and lab0's route) behind:
    // that is not a reason to pick another subnet, but something to remove.
    if (::if_nametoindex("lab0") != 0)
      return {name, Status::warn,
              fmt::format("{} overlaps the route to {}: a stale lab0 bridge left by an earlier run "
                          "of the bridge lesson",
                          ipv4::kLabSubnet, ipv4::to_string(*clash)),
              "remove it (and the other lab leftovers): doctor/doctor --clean"};
    return {name, Status::warn,
            fmt::format("{} overlaps the route to {} on this host", ipv4::kLabSubnet,
                        ipv4::to_string(*clash)),
            "give the bridge lesson another subnet: ./bridge --subnet 10.213.0.0/24"};
  }
  return {name, Status::ok,
          fmt::format("{} is free (no route overlaps it; {} routes checked)", ipv4::kLabSubnet,
                      routes.size()),
          ""};
}

Check check_temp_dir_exec() {
  // The lessons copy programs into /tmp/lab-* and run them there (other tools follow TMPDIR): a
  // noexec mount makes every such exec fail with EACCES, which looks like a missing library.
  std::vector<std::string> dirs = {"/tmp"};
  if (const char* t = std::getenv("TMPDIR"); t && *t && std::string(t) != "/tmp") dirs.push_back(t);
  for (const auto& dir : dirs) {
    struct statvfs v {};
    if (::statvfs(dir.c_str(), &v) != 0)
      return {"temp dir exec", Status::fail, fmt::format("{}: {}", dir, std::strerror(errno)),
              fmt::format("create it: mkdir -p {}", dir)};
    if (v.f_flag & ST_NOEXEC)
      return {"temp dir exec", Status::fail,
              fmt::format("{} is mounted noexec: programs copied there cannot run", dir),
              fmt::format("allow exec there: mount -o remount,exec {}", dir)};
  }
  return {"temp dir exec", Status::ok, fmt::format("{} allows exec", fmt::join(dirs, " and ")), ""};
}

void require(const Check& check) {
  if (check.status != Status::fail) return;
  throw UserError(check.fix.empty() ? check.detail
                                    : fmt::format("{}; {}", check.detail, check.fix));
}

void require_root(std::string_view program) {
  if (is_root()) return;
  throw UserError(
      fmt::format("this lesson needs root (namespaces, mounts and cgroups need root); "
                  "run: sudo {}",
                  program));
}

void require_rootfs(const std::string& rootfs) { require(check_rootfs(rootfs)); }

std::string default_rootfs() {
  if (const char* env = std::getenv("LAB_ROOTFS"); env && *env) return env;
  return std::string(LAB_PROJECT_DIR) + "/build/rootfs";
}

}  // namespace lab::host
