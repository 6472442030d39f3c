#include "runtime/mounts.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>

#include "error.hpp"
#include "fd.hpp"
#include "mount.hpp"
#include "mount_chroot.hpp"
#include "path_in_root.hpp"

namespace runtime::mounts {

namespace {

struct FlagWord {
  std::string_view word;
  bool clear;  // "rw" clears MS_RDONLY, "suid" clears MS_NOSUID ...
  unsigned long flag;
};

// mount(8)'s flag words, as runc's specconv maps them.
constexpr FlagWord kFlagWords[] = {
    {"async", true, MS_SYNCHRONOUS},
    {"atime", true, MS_NOATIME},
    {"bind", false, MS_BIND},
    {"defaults", false, 0},
    {"dev", true, MS_NODEV},
    {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},
    {"exec", true, MS_NOEXEC},
    {"iversion", false, MS_I_VERSION},
    {"lazytime", false, MS_LAZYTIME},
    {"loud", true, MS_SILENT},
    {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"nodev", false, MS_NODEV},
    {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},
    {"noiversion", true, MS_I_VERSION},
    {"nolazytime", true, MS_LAZYTIME},
    {"nomand", true, MS_MANDLOCK},
    {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},
    {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"silent", false, MS_SILENT},
    {"strictatime", false, MS_STRICTATIME},
    {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS},
};

struct PropagationWord {
  std::string_view word;
  unsigned long flags;
};
constexpr PropagationWord kPropagationWords[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_REC | MS_PRIVATE},
    {"shared", MS_SHARED},         {"rshared", MS_REC | MS_SHARED},
    {"slave", MS_SLAVE},           {"rslave", MS_REC | MS_SLAVE},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_REC | MS_UNBINDABLE},
};

const std::set<std::string_view> kKnownTypes = {
    "proc", "sysfs",   "tmpfs", "devpts",     "mqueue",      "cgroup",  "cgroup2", "bind",
    "none", "overlay", "ramfs", "securityfs", "binfmt_misc", "debugfs", "tracefs", "hugetlbfs"};

// Sysctls that belong to a namespace the container has (runc's validator keeps the same list):
// any other one is one global value, and writing it from a container would change the host.
bool sysctl_is_namespaced(std::string_view name) {
  static const std::set<std::string_view> ipc = {
      "kernel.msgmax",   "kernel.msgmnb",    "kernel.msgmni", "kernel.sem",
      "kernel.shmall",   "kernel.shmmax",    "kernel.shmmni", "kernel.shm_rmid_forced",
      "kernel.hostname", "kernel.domainname"};
  return ipc.contains(name) || name.starts_with("fs.mqueue.") || name.starts_with("net.");
}

bool valid_sysctl_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.back() == '.' || name.front() == '/')
    return false;
  if (name.find("..") != std::string_view::npos) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
          c == '/'))
      return false;
  return true;
}

std::string dirname_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

std::string basename_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// The contents of directory `from` copied into directory `to` (cp -a): files, directories,
// symlinks and device nodes with their modes, owners and times. Every step is relative to a
// directory descriptor, and never follows a symlink, so nothing outside either tree is touched.
void copy_tree(int from, int to, const std::string& shown) {
  DIR* dir = ::fdopendir(lab::check(::fcntl(from, F_DUPFD_CLOEXEC, 0), "fcntl(F_DUPFD_CLOEXEC)"));
  if (!dir) lab::check(-1, [&] { return fmt::format("fdopendir({})", shown); });
  std::unique_ptr<DIR, int (*)(DIR*)> closer(dir, ::closedir);
  while (const dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = shown + "/" + name;
    struct stat st {};
    lab::check(::fstatat(from, name.c_str(), &st, AT_SYMLINK_NOFOLLOW),
               [&] { return fmt::format("fstatat({})", path); });
    const mode_t perm = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
      lab::check(::mkdirat(to, name.c_str(), 0700),
                 [&] { return fmt::format("mkdirat({})", path); });
      lab::UniqueFd sub_from(
          lab::check(::openat(from, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
                     [&] { return fmt::format("openat({})", path); }));
      lab::UniqueFd sub_to(
          lab::check(::openat(to, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
                     [&] { return fmt::format("openat({}) in the tmpfs", path); }));
      copy_tree(sub_from.get(), sub_to.get(), path);
    } else if (S_ISREG(st.st_mode)) {
      lab::UniqueFd in(lab::check(::openat(from, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC),
                                  [&] { return fmt::format("openat({})", path); }));
      lab::UniqueFd out(lab::check(
          ::openat(to, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600),
          [&] { return fmt::format("openat({}, O_CREAT) in the tmpfs", path); }));
      char buf[65536];
      for (;;) {
        ssize_t n = lab::check(::read(in.get(), buf, sizeof buf),
                               [&] { return fmt::format("read({})", path); });
        if (n == 0) break;
        for (ssize_t done = 0; done < n;)
          done += lab::check(::write(out.get(), buf + done, static_cast<size_t>(n - done)),
                             [&] { return fmt::format("write({}) in the tmpfs", path); });
      }
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = lab::check(::readlinkat(from, name.c_str(), target.data(), target.size()),
                             [&] { return fmt::format("readlinkat({})", path); });
      target.resize(static_cast<size_t>(n));
      lab::check(::symlinkat(target.c_str(), to, name.c_str()),
                 [&] { return fmt::format("symlinkat({}, {})", target, path); });
    } else {
      lab::check(::mknodat(to, name.c_str(), st.st_mode, st.st_rdev),
                 [&] { return fmt::format("mknodat({})", path); });
    }
    lab::check(::fchownat(to, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW),
               [&] { return fmt::format("fchownat({}, {}, {})", path, st.st_uid, st.st_gid); });
    // After chown, which clears the setuid and setgid bits; a symlink has no mode of its own.
    if (!S_ISLNK(st.st_mode))
      lab::check(::fchmodat(to, name.c_str(), perm, 0),
                 [&] { return fmt::format("fchmodat({}, {:#o})", path, perm); });
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    lab::check(::utimensat(to, name.c_str(), times, AT_SYMLINK_NOFOLLOW),
               [&] { return fmt::format("utimensat({})", path); });
  }
}

// A mount target inside the rootfs: the descriptor that pins it, and its host path for messages.
struct Target {
  lab::UniqueFd fd;
  std::string host_path;
  std::string proc() const { return lab::proc_fd_name(fd.get()); }
};

Target target_from_fd(lab::UniqueFd fd) {
  std::string shown = lab::fd_path(fd.get());
  return Target{std::move(fd), std::move(shown)};
}

// mount(2) onto the magic link /proc/self/fd/N of a target opened with openat2: the kernel
// mounts on exactly the directory we resolved inside the rootfs, so a symlink swapped into the
// path after our check cannot redirect it to the host (runc does the same since 1.1). The
// message names the host path the descriptor stands for.
void mount_on(const char* source, const Target& t, const char* fstype, unsigned long flags,
              const char* data) {
  const std::string proc = t.proc();
  lab::check(::mount(source, proc.c_str(), fstype, flags, data), [&] {
    return fmt::format("mount({}, {} (= {}), {}, {}, {})", lab::quote(source), lab::quote(proc),
                       t.host_path, lab::quote(fstype), lab::mount_flags_to_string(flags),
                       lab::quote(data));
  });
}

// The flags statvfs(2) reports for the mount at `path`, as mount flags.
unsigned long current_mount_flags(const std::string& path) {
  struct statvfs sv {};
  lab::check(::statvfs(path.c_str(), &sv), [&] { return fmt::format("statvfs({})", path); });
  unsigned long flags = 0;
  const std::pair<unsigned long, unsigned long> map[] = {
      {ST_RDONLY, MS_RDONLY},     {ST_NOSUID, MS_NOSUID},           {ST_NODEV, MS_NODEV},
      {ST_NOEXEC, MS_NOEXEC},     {ST_NOATIME, MS_NOATIME},         {ST_NODIRATIME, MS_NODIRATIME},
      {ST_RELATIME, MS_RELATIME}, {ST_SYNCHRONOUS, MS_SYNCHRONOUS}, {ST_MANDLOCK, MS_MANDLOCK}};
  for (const auto& [st, ms] : map)
    if ((sv.f_flag & st) != 0) flags |= ms;
  return flags;
}

// Per-mount flags of a bind mount change only with a second call: mount(2) ignores everything
// but MS_REC on MS_BIND. In a user namespace the kernel refuses (EPERM) a remount that would
// clear a flag the owner of the source "locked" (nosuid, nodev, noexec, ro, atime flags), so on
// EPERM we try again with the flags the mount has now added: what runc does.
// `shown` names the mount in the message when `path` is a /proc/self/fd link.
void remount_bind(const std::string& path, unsigned long flags, bool keep_existing,
                  const std::string& shown = "") {
  const unsigned long base = MS_BIND | MS_REMOUNT;
  unsigned long want = flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  if (keep_existing) want |= current_mount_flags(path);
  const auto call = [&](unsigned long f) {
    return ::mount(nullptr, path.c_str(), nullptr, base | f, nullptr);
  };
  int rc = call(want);
  if (rc == -1 && errno == EPERM && !keep_existing) {
    want |= current_mount_flags(path);
    rc = call(want);
  }
  lab::check(rc, [&] {
    return fmt::format("mount(NULL, {}{}, NULL, {}, NULL)", lab::quote(path),
                       shown.empty() ? "" : fmt::format(" (= {})", shown),
                       lab::mount_flags_to_string(base | want));
  });
}

// Each propagation type needs a mount call of its own.
void apply_propagation(const std::string& path, unsigned long propagation) {
  for (unsigned long type : {MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE}) {
    if ((propagation & type) == 0) continue;
    lab::mount_fs(nullptr, path, nullptr, type | (propagation & MS_REC));
  }
}

std::string option_words(const std::vector<std::string>& options) {
  return options.empty() ? "" : fmt::format(" -o {}", fmt::join(options, ","));
}

// ",ro,nosuid": the options a bind remount applies (not bind, rbind nor propagation words).
std::string remount_words(const std::vector<std::string>& options) {
  std::string out;
  for (const auto& w : options)
    if (w != "bind" && w != "rbind" && propagation_flags(w) == 0) out += "," + w;
  return out;
}

class RootfsBuilder {
 public:
  RootfsBuilder(const Plan& plan, const Explain& explain) : plan_(plan), explain_(explain) {}

  void run();

 private:
  void say(std::string_view lesson, const std::string& call, const std::string& shell) const {
    if (explain_) explain_(lesson, call, shell);
  }
  void mount_entry(const MountEntry& m);
  void mount_bind(const MountEntry& m, const ParsedOptions& o);
  void mount_cgroup(const MountEntry& m, const ParsedOptions& o);
  void mount_cgroup_v1_hierarchies(const MountEntry& m, const ParsedOptions& o);
  void make_parent_mount_private() const;
  bool dev_is_bind_mounted() const;
  void create_devices();
  void create_dev_links();
  void finish_after_pivot();
  void write_sysctls();
  void make_paths_readonly();
  void mask_paths();

  const Plan& plan_;
  const Explain& explain_;
  lab::UniqueFd root_fd_;
  // tmpfs mounts asked "ro": mounted writable so that we can fill them (/dev), made read-only at
  // the end, as runc does.
  std::vector<std::pair<std::string, ParsedOptions>> readonly_tmpfs_;
};

void RootfsBuilder::make_parent_mount_private() const {
  // pivot_root refuses (EINVAL) when the new root's parent mount is shared, and our bind of the
  // rootfs onto itself would be propagated to its peers. A shared parent is made private, here
  // in our namespace only (runc's rootfsParentMountPrivate).
  const std::string real = lab::fd_path(lab::open_root(plan_.rootfs).get());
  const std::vector<lab::MountInfo> table = lab::read_mountinfo();
  const lab::MountInfo* parent = nullptr;  // the last (topmost) mount holding the rootfs
  for (const auto& m : table) {
    const std::string& p = m.mount_point;
    const bool holds = p == "/" || real == p ||
                       (real.starts_with(p) && real.size() > p.size() && real[p.size()] == '/');
    if (holds && (!parent || p.size() >= parent->mount_point.size())) parent = &m;
  }
  if (parent == nullptr || parent->propagation().find("shared") == std::string::npos) return;
  say("03", fmt::format("mount(NULL, {}, NULL, MS_PRIVATE, NULL)", lab::quote(parent->mount_point)),
      fmt::format("mount --make-private {}", parent->mount_point));
  lab::mount_fs(nullptr, parent->mount_point, nullptr, MS_PRIVATE);
}

void RootfsBuilder::run() {
  const unsigned long root_propagation = plan_.rootfs_propagation.empty()
                                             ? (MS_REC | MS_SLAVE)
                                             : propagation_flags(plan_.rootfs_propagation);
  say("03",
      fmt::format("mount(NULL, \"/\", NULL, {}, NULL)",
                  lab::mount_flags_to_string(root_propagation)),
      fmt::format("mount --make-{} /", plan_.rootfs_propagation.empty()
                                           ? std::string("rslave")
                                           : plan_.rootfs_propagation));
  lab::mount_fs(nullptr, "/", nullptr, root_propagation);
  make_parent_mount_private();

  say("03", fmt::format("mount({0}, {0}, NULL, MS_BIND|MS_REC, NULL)", lab::quote(plan_.rootfs)),
      fmt::format("mount --rbind {0} {0}", plan_.rootfs));
  mountns::bind_rootfs_onto_itself_in_child(plan_.rootfs);
  // Opened after the bind: mounts made through this descriptor go onto the new bind mount, the
  // one pivot_root will take, not onto the directory now hidden under it.
  root_fd_ = lab::open_root(plan_.rootfs);

  for (size_t i = 0; i < plan_.mounts.size(); ++i) {
    const MountEntry& m = plan_.mounts[i];
    try {
      mount_entry(m);
    } catch (const lab::Interrupted&) {
      throw;
    } catch (const std::runtime_error& e) {  // SyscallError, UserError, filesystem_error
      throw lab::UserError(fmt::format("mounts[{}] ({} on {}): {}", i,
                                       m.type.empty() ? "bind" : m.type, m.destination, e.what()));
    }
  }
  if (!dev_is_bind_mounted()) {
    create_devices();
    create_dev_links();
  }
  root_fd_.reset();

  say("03", "pivot_root(\".\", \".\"); umount2(\".\", MNT_DETACH)",
      fmt::format("cd {} && pivot_root . . && umount -l .", plan_.rootfs));
  mountns::pivot_root_in_child(plan_.rootfs);
  finish_after_pivot();
}

void RootfsBuilder::mount_entry(const MountEntry& m) {
  const ParsedOptions o = parse_options(m.options);
  if (o.bind || m.type == "bind") return mount_bind(m, o);
  if (m.type == "cgroup" || m.type == "cgroup2") return mount_cgroup(m, o);
  Target t = target_from_fd(lab::mkdir_all_in_root(root_fd_.get(), m.destination));
  // A procfs or sysfs put elsewhere through a symlink (proc -> /etc) would let the container
  // write where it should only read; runc refuses such destinations too.
  if ((m.type == "proc" || m.type == "sysfs") &&
      t.host_path != lab::join_in_root(lab::fd_path(root_fd_.get()), m.destination))
    throw lab::UserError(
        fmt::format("{} would be mounted on {} (its destination {} goes through "
                    "a symlink in the rootfs); refused",
                    m.type, t.host_path, m.destination));
  unsigned long flags = o.flags & ~MS_REC;
  if (m.type == "tmpfs" && (flags & MS_RDONLY) != 0) {
    flags &= ~MS_RDONLY;
    readonly_tmpfs_.emplace_back(m.destination, o);
  }
  const std::string source = m.source.empty() ? m.type : m.source;
  // Opened before the mount: afterwards the path leads into the new tmpfs, the descriptor still
  // to the directory it covers.
  lab::UniqueFd below;
  if (o.tmpcopyup) below = lab::open_fd(t.proc(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  say("03",
      fmt::format("mount({}, {}, {}, {}, {})", lab::quote(source), lab::quote(t.host_path),
                  lab::quote(m.type), lab::mount_flags_to_string(flags),
                  lab::quote(o.data.empty() ? nullptr : o.data.c_str())),
      fmt::format("mount -t {}{} {} {}", m.type, option_words(m.options), source, t.host_path));
  mount_on(source.c_str(), t, m.type.c_str(), flags, o.data.empty() ? nullptr : o.data.c_str());
  if (below) {
    say("", fmt::format("copy {} into the new tmpfs (tmpcopyup)", t.host_path),
        fmt::format("cp -a {0}/. (the directory under the mount) {0}", t.host_path));
    lab::UniqueFd top = lab::open_in_root(root_fd_.get(), m.destination, O_RDONLY | O_DIRECTORY);
    copy_tree(below.get(), top.get(), t.host_path);
  }
  if (o.propagation != 0) {
    // Propagation is set on the new mount, which the old descriptor (the directory under it)
    // does not reach: resolve the destination again.
    Target top = target_from_fd(lab::open_in_root(root_fd_.get(), m.destination, O_PATH));
    apply_propagation(top.proc(), o.propagation);
  }
}

void RootfsBuilder::mount_bind(const MountEntry& m, const ParsedOptions& o) {
  // The source is the host's (the bundle resolved it); the target is resolved inside the rootfs
  // and made as the source is: a directory for a directory, an empty file for anything else.
  struct stat st {};
  lab::check(::stat(m.source.c_str(), &st), [&] {
    return fmt::format("stat({}) (the bind mount's source)", lab::quote(m.source));
  });
  Target t =
      target_from_fd(S_ISDIR(st.st_mode) ? lab::mkdir_all_in_root(root_fd_.get(), m.destination)
                                         : lab::create_file_in_root(root_fd_.get(), m.destination));
  const unsigned long bind_flags = MS_BIND | (o.recursive ? MS_REC : 0);
  say("03",
      fmt::format("mount({}, {}, NULL, {}, NULL)", lab::quote(m.source), lab::quote(t.host_path),
                  lab::mount_flags_to_string(bind_flags)),
      fmt::format("mount --{}bind {} {}", o.recursive ? "r" : "", m.source, t.host_path));
  mount_on(m.source.c_str(), t, nullptr, bind_flags, nullptr);
  const unsigned long per_mount = o.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  if (per_mount == 0 && o.propagation == 0) return;
  Target top = target_from_fd(lab::open_in_root(root_fd_.get(), m.destination, O_PATH));
  if (per_mount != 0) {
    say("03",
        fmt::format("mount(NULL, {}, NULL, {}, NULL)", lab::quote(t.host_path),
                    lab::mount_flags_to_string(MS_BIND | MS_REMOUNT | per_mount)),
        fmt::format("mount -o remount,bind{} {}", remount_words(m.options), t.host_path));
    remount_bind(top.proc(), per_mount, false, top.host_path);
  }
  if (o.propagation != 0) apply_propagation(top.proc(), o.propagation);
}

void RootfsBuilder::mount_cgroup(const MountEntry& m, const ParsedOptions& o) {
  struct statfs sfs {};
  const bool host_v2 =
      ::statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == static_cast<long>(CGROUP2_SUPER_MAGIC);
  if (!host_v2 && m.type == "cgroup") return mount_cgroup_v1_hierarchies(m, o);
  // cgroup v2: one hierarchy, one mount. Without a cgroup namespace the container sees the
  // host's whole tree from its root (runc mounts it the same way then).
  Target t = target_from_fd(lab::mkdir_all_in_root(root_fd_.get(), m.destination));
  const unsigned long flags = o.flags & ~MS_REC;
  say("03",
      fmt::format("mount(\"cgroup2\", {}, \"cgroup2\", {}, NULL)", lab::quote(t.host_path),
                  lab::mount_flags_to_string(flags)),
      fmt::format("mount -t cgroup2{} cgroup2 {}", option_words(m.options), t.host_path));
  mount_on("cgroup2", t, "cgroup2", flags, nullptr);
}

// A v1 (or hybrid) host has one hierarchy per controller group. runc puts a tmpfs at
// /sys/fs/cgroup and, read-only, the container's own cgroup of each hierarchy onto
// /sys/fs/cgroup/<name> (with links cpu -> cpu,cpuacct for co-mounted ones): a new mount of the
// hierarchy inside a cgroup namespace; without one a bind of the container's directory (mounting
// anew would show the host's whole tree). We do that too.
void RootfsBuilder::mount_cgroup_v1_hierarchies(const MountEntry& m, const ParsedOptions& o) {
  Target t = target_from_fd(lab::mkdir_all_in_root(root_fd_.get(), m.destination));
  const unsigned long per_mount = o.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  say("03",
      fmt::format("mount(\"tmpfs\", {}, \"tmpfs\", {}, \"mode=755\")", lab::quote(t.host_path),
                  lab::mount_flags_to_string(per_mount & ~MS_RDONLY)),
      fmt::format("mount -t tmpfs -o mode=755 tmpfs {}", t.host_path));
  mount_on("tmpfs", t, "tmpfs", per_mount & ~MS_RDONLY, "mode=755");
  if ((per_mount & MS_RDONLY) != 0) {
    ParsedOptions ro = o;
    ro.data = "mode=755";
    readonly_tmpfs_.emplace_back(m.destination, ro);
  }

  // Our own cgroup in each hierarchy: "4:memory:/lab-x" -> {"memory" -> "/lab-x"}; v2 is "".
  std::map<std::string, std::string> own;
  std::istringstream lines(lab::read_file("/proc/self/cgroup"));
  for (std::string line; std::getline(lines, line);) {
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    own[line.substr(a + 1, b - a - 1)] = line.substr(b + 1);
  }
  for (const auto& mi : lab::read_mountinfo()) {
    if ((mi.fstype != "cgroup" && mi.fstype != "cgroup2") ||
        !mi.mount_point.starts_with("/sys/fs/cgroup/"))
      continue;
    const std::string name = basename_of(mi.mount_point);
    // Which line of /proc/self/cgroup is this hierarchy? For v1 every controller the line names
    // is among the mount's super options; v2's line has none.
    std::string path;
    bool found = false;
    for (const auto& [controllers, cgroup_path] : own) {
      bool all = true;
      if (mi.fstype == "cgroup2") {
        all = controllers.empty();
      } else if (controllers.empty()) {
        all = false;
      } else {
        std::istringstream words(controllers);
        for (std::string w; std::getline(words, w, ',');)
          all = all && ("," + mi.super_options + ",").find("," + w + ",") != std::string::npos;
      }
      if (all) {
        path = cgroup_path;
        found = true;
        break;
      }
    }
    if (!found) continue;
    const std::string dest = m.destination + "/" + name;
    Target sub = target_from_fd(lab::mkdir_all_in_root(root_fd_.get(), dest));
    if (plan_.cgroup_namespace) {
      // Inside a cgroup namespace /proc/self/cgroup says "/" for every hierarchy, so the bind
      // below would show the host's whole tree. A new mount of the same hierarchy (same
      // controllers, or name=) is shown by the kernel from the namespace's root: the container's
      // own cgroup, as runc does.
      std::string controllers;
      std::istringstream words(mi.super_options);
      for (std::string w; std::getline(words, w, ',');)
        if (w != "rw" && w != "ro") controllers += (controllers.empty() ? "" : ",") + w;
      const char* fstype = mi.fstype == "cgroup2" ? "cgroup2" : "cgroup";
      const char* data = mi.fstype == "cgroup2" ? nullptr : controllers.c_str();
      const unsigned long flags = per_mount | MS_NOSUID | MS_NODEV | MS_NOEXEC;
      say("03",
          fmt::format("mount(\"{}\", {}, \"{}\", {}, {})", fstype, lab::quote(sub.host_path),
                      fstype, lab::mount_flags_to_string(flags), lab::quote(data)),
          fmt::format("mount -t {}{} {} {}", fstype, data ? " -o " + controllers : "", fstype,
                      sub.host_path));
      mount_on(fstype, sub, fstype, flags, data);
    } else {
      // mi.root is the part of the hierarchy this mount shows (/ on the host).
      std::string relative = path;
      if (mi.root != "/" && path.starts_with(mi.root)) relative = path.substr(mi.root.size());
      const std::string source = mi.mount_point + (relative == "/" ? "" : relative);
      say("03",
          fmt::format("mount({}, {}, NULL, MS_BIND|MS_REC, NULL)", lab::quote(source),
                      lab::quote(sub.host_path)),
          fmt::format("mount --rbind {} {}", source, sub.host_path));
      mount_on(source.c_str(), sub, nullptr, MS_BIND | MS_REC, nullptr);
    }
    Target top = target_from_fd(lab::open_in_root(root_fd_.get(), dest, O_PATH));
    remount_bind(top.proc(), per_mount | MS_NOSUID | MS_NODEV | MS_NOEXEC, false, top.host_path);
    if (name.find(',') != std::string::npos) {
      lab::UniqueFd dir = lab::open_in_root(root_fd_.get(), m.destination, O_PATH | O_DIRECTORY);
      std::istringstream words(name);
      for (std::string w; std::getline(words, w, ',');)
        if (::symlinkat(name.c_str(), dir.get(), w.c_str()) == -1 && errno != EEXIST)
          lab::check(-1, [&] { return fmt::format("symlinkat({}, {}/{})", name, t.host_path, w); });
    }
  }
}

bool RootfsBuilder::dev_is_bind_mounted() const {
  for (const auto& m : plan_.mounts) {
    std::string d = m.destination;
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    if (d == "/dev" && (m.type == "bind" || parse_options(m.options).bind)) return true;
  }
  return false;
}

void RootfsBuilder::create_devices() {
  // linux.devices replace a default device of the same path.
  std::vector<Device> devices;
  std::set<std::string> listed;
  for (const auto& d : plan_.devices) listed.insert(d.path);
  for (const auto& d : default_devices())
    if (!listed.contains(d.path)) devices.push_back(d);
  for (const auto& d : plan_.devices) devices.push_back(d);

  std::vector<std::string> calls, shells;
  for (const auto& d : devices) {
    const mode_t kind = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
    const dev_t number = makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
    const mode_t perms = static_cast<mode_t>(d.file_mode & 07777);
    lab::UniqueFd dir = lab::mkdir_all_in_root(root_fd_.get(), dirname_of(d.path));
    const std::string name = basename_of(d.path);
    const std::string shown = lab::join_in_root(lab::fd_path(dir.get()), name);
    calls.push_back(fmt::format("mknod({}, {}|{:#o}, makedev({}, {}))", lab::quote(d.path),
                                kind == S_IFBLK   ? "S_IFBLK"
                                : kind == S_IFIFO ? "S_IFIFO"
                                                  : "S_IFCHR",
                                perms, d.major, d.minor));
    shells.push_back(d.type == 'p' ? fmt::format("mkfifo -m {:o} {}", perms, shown)
                                   : fmt::format("mknod -m {:o} {} {} {} {}", perms, shown,
                                                 d.type == 'b' ? 'b' : 'c', d.major, d.minor));
    if (::mknodat(dir.get(), name.c_str(), kind | perms, number) == -1) {
      if (errno == EEXIST) continue;  // the rootfs brought its own, as runc leaves it
      if (errno != EPERM)
        lab::check(-1, [&] { return fmt::format("mknod({}): {}", shown, calls.back()); });
      // No CAP_MKNOD (a user namespace): the host's node, bind-mounted onto an empty file, is
      // the same device (runc's fallback).
      Target t = target_from_fd(lab::create_file_in_root(root_fd_.get(), d.path));
      mount_on(d.path.c_str(), t, nullptr, MS_BIND, nullptr);
      continue;
    }
    // The umask trimmed mknod's mode; and the owner is who the spec says.
    lab::check(::fchmodat(dir.get(), name.c_str(), perms, 0),
               [&] { return fmt::format("chmod({}, {:o})", shown, perms); });
    lab::check(::fchownat(dir.get(), name.c_str(), d.uid, d.gid, AT_SYMLINK_NOFOLLOW),
               [&] { return fmt::format("chown({}, {}, {})", shown, d.uid, d.gid); });
  }
  if (!calls.empty())
    say("", fmt::format("{} ({} devices)", fmt::join(calls, ", "), calls.size()),
        fmt::format("{}", fmt::join(shells, "; ")));
}

void RootfsBuilder::create_dev_links() {
  lab::UniqueFd dev = lab::mkdir_all_in_root(root_fd_.get(), "/dev");
  const std::string shown = lab::fd_path(dev.get());
  // With devpts mounted "newinstance", the container's pseudo-terminals live in /dev/pts and
  // its multiplexer is /dev/pts/ptmx; /dev/ptmx must lead there, not to the host's.
  if (::unlinkat(dev.get(), "ptmx", 0) == -1 && errno != ENOENT)
    lab::check(-1, [&] { return fmt::format("unlink({}/ptmx)", shown); });
  std::vector<std::pair<std::string, std::string>> links = {{"pts/ptmx", "ptmx"},
                                                            {"/proc/self/fd", "fd"},
                                                            {"/proc/self/fd/0", "stdin"},
                                                            {"/proc/self/fd/1", "stdout"},
                                                            {"/proc/self/fd/2", "stderr"}};
  if (::access("/proc/kcore", F_OK) == 0) links.emplace_back("/proc/kcore", "core");
  std::vector<std::string> shells;
  for (const auto& [to, name] : links) {
    shells.push_back(fmt::format("ln -s {} {}/{}", to, shown, name));
    if (::symlinkat(to.c_str(), dev.get(), name.c_str()) == -1 && errno != EEXIST)
      lab::check(-1,
                 [&] { return fmt::format("symlink({}, {}/{})", lab::quote(to), shown, name); });
  }
  say("",
      fmt::format("symlink(\"pts/ptmx\", {}/ptmx), symlink(\"/proc/self/fd\", {}/fd), ...", shown,
                  shown),
      fmt::format("{}", fmt::join(shells, "; ")));
}

// From here on "/" is the rootfs and the host's tree is gone from this namespace: paths are the
// container's own and no symlink can lead out of it, so plain paths are used.
void RootfsBuilder::finish_after_pivot() {
  const unsigned long propagation = propagation_flags(plan_.rootfs_propagation);
  // Propagation of the new "/" is set only now: set before pivot_root it would apply to the
  // host's "/" in this namespace. Private was already done by the first call.
  if (propagation != 0 && (propagation & MS_PRIVATE) == 0) {
    say("03",
        fmt::format("mount(NULL, \"/\", NULL, {}, NULL)", lab::mount_flags_to_string(propagation)),
        fmt::format("mount --make-{} /", plan_.rootfs_propagation));
    lab::mount_fs(nullptr, "/", nullptr, propagation);
  }
  for (const auto& [dest, o] : readonly_tmpfs_) {
    const unsigned long flags = (o.flags & ~(MS_BIND | MS_REC)) | MS_REMOUNT | MS_RDONLY;
    say("03",
        fmt::format("mount(\"tmpfs\", {}, \"tmpfs\", {}, {})", lab::quote(dest),
                    lab::mount_flags_to_string(flags),
                    lab::quote(o.data.empty() ? nullptr : o.data.c_str())),
        fmt::format("mount -o remount,ro {}", dest));
    lab::mount_fs("tmpfs", dest, "tmpfs", flags, o.data.empty() ? nullptr : o.data.c_str());
  }
  if (plan_.readonly) {
    say("03", "mount(NULL, \"/\", NULL, MS_RDONLY|MS_REMOUNT|MS_BIND, NULL)",
        "mount -o remount,bind,ro /");
    remount_bind("/", MS_RDONLY, false);
  }
  write_sysctls();
  make_paths_readonly();
  mask_paths();
}

void RootfsBuilder::write_sysctls() {
  // Before readonlyPaths: /proc/sys is usually among them.
  for (const auto& [name, value] : plan_.sysctl) {
    std::string path = "/proc/sys/" + name;
    for (size_t i = 10; i < path.size(); ++i)
      if (path[i] == '.') path[i] = '/';
    say("", fmt::format("write({}, {})", lab::quote(path), lab::quote(value)),
        fmt::format("sysctl -w {}={}", name, value));
    try {
      lab::write_file(path, value);
    } catch (const lab::SyscallError& e) {
      throw lab::UserError(fmt::format("linux.sysctl {}: {}", name, e.what()));
    }
  }
}

void RootfsBuilder::make_paths_readonly() {
  for (const auto& path : plan_.readonly_paths) {
    if (!path_exists(path)) continue;  // the spec: a path that does not exist is skipped
    say("03",
        fmt::format("mount({0}, {0}, NULL, MS_BIND|MS_REC, NULL); mount(NULL, {0}, NULL, "
                    "MS_RDONLY|MS_REMOUNT|MS_BIND|<its flags>, NULL)",
                    lab::quote(path)),
        fmt::format("mount --rbind {0} {0} && mount -o remount,bind,ro {0}", path));
    if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) == -1) {
      if (errno == ENOENT) continue;  // gone meanwhile
      lab::check(-1, [&] {
        return fmt::format("mount({0}, {0}, NULL, MS_BIND|MS_REC, NULL) (readonlyPaths)",
                           lab::quote(path));
      });
    }
    remount_bind(path, MS_RDONLY, true);
  }
}

void RootfsBuilder::mask_paths() {
  for (const auto& path : plan_.masked_paths) {
    if (!path_exists(path)) continue;
    say("", fmt::format("mount(\"/dev/null\", {}, NULL, MS_BIND, NULL)", lab::quote(path)),
        fmt::format("mount --bind /dev/null {}", path));
    if (::mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr) == 0) continue;
    if (errno == ENOENT) continue;
    // A directory cannot take a file on top (ENOTDIR): an empty read-only tmpfs hides it.
    if (errno == ENOTDIR) {
      say("", fmt::format("mount(\"tmpfs\", {}, \"tmpfs\", MS_RDONLY, NULL)", lab::quote(path)),
          fmt::format("mount -t tmpfs -o ro tmpfs {}", path));
      lab::mount_fs("tmpfs", path, "tmpfs", MS_RDONLY);
      continue;
    }
    lab::check(-1, [&] {
      return fmt::format("mount(\"/dev/null\", {}, NULL, MS_BIND, NULL) (maskedPaths)",
                         lab::quote(path));
    });
  }
}

}  // namespace

unsigned long propagation_flags(std::string_view word) {
  for (const auto& p : kPropagationWords)
    if (p.word == word) return p.flags;
  return 0;
}

ParsedOptions parse_options(const std::vector<std::string>& options) {
  ParsedOptions out;
  std::vector<std::string> data;
  for (const auto& word : options) {
    bool known = false;
    for (const auto& f : kFlagWords) {
      if (f.word != word) continue;
      known = true;
      if (f.clear)
        out.flags &= ~f.flag;
      else
        out.flags |= f.flag;
    }
    if (word == "bind" || word == "rbind") {
      out.bind = true;
      out.recursive = out.recursive || word == "rbind";
    }
    if (word == "tmpcopyup") {
      known = true;
      out.tmpcopyup = true;
    }
    if (const unsigned long p = propagation_flags(word); p != 0) {
      known = true;
      out.propagation |= p;
    }
    if (!known) data.push_back(word);
  }
  out.data = fmt::format("{}", fmt::join(data, ","));
  return out;
}

std::string validate(const Plan& plan) {
  if (plan.rootfs.empty() || plan.rootfs.front() != '/')
    return fmt::format("root.path must be an absolute host path here, got {}",
                       lab::quote(plan.rootfs));
  for (size_t i = 0; i < plan.mounts.size(); ++i) {
    const MountEntry& m = plan.mounts[i];
    if (m.destination.empty() || m.destination.front() != '/')
      return fmt::format("mounts[{}].destination {} is not an absolute path", i,
                         lab::quote(m.destination));
    const ParsedOptions o = parse_options(m.options);
    const bool bind = o.bind || m.type == "bind";
    if (!bind && m.type == "none")
      return fmt::format(
          "mounts[{}] ({}): type \"none\" is only for bind mounts (options bind "
          "or rbind)",
          i, m.destination);
    if (o.tmpcopyup && m.type != "tmpfs")
      return fmt::format("mounts[{}] ({}): tmpcopyup is only for tmpfs", i, m.destination);
    if (!bind && !kKnownTypes.contains(m.type))
      return fmt::format("mounts[{}] ({}): unknown type {}", i, m.destination, lab::quote(m.type));
    if (bind && m.source.empty())
      return fmt::format("mounts[{}] ({}): a bind mount needs a source", i, m.destination);
    if (bind && m.source.front() != '/')
      return fmt::format("mounts[{}] ({}): bind source {} is not an absolute path", i,
                         m.destination, lab::quote(m.source));
  }
  if (!plan.rootfs_propagation.empty() && propagation_flags(plan.rootfs_propagation) == 0)
    return fmt::format(
        "linux.rootfsPropagation {} is not one of private, rprivate, slave, rslave, shared, "
        "rshared, unbindable, runbindable",
        lab::quote(plan.rootfs_propagation));
  for (const auto& d : plan.devices) {
    if (d.path.empty() || d.path.front() != '/')
      return fmt::format("linux.devices: path {} is not absolute", lab::quote(d.path));
    if (d.type != 'c' && d.type != 'b' && d.type != 'u' && d.type != 'p')
      return fmt::format("linux.devices {}: type '{}' is not one of c, b, u, p", d.path, d.type);
    if (d.major < 0 || d.minor < 0)
      return fmt::format("linux.devices {}: negative major or minor number", d.path);
  }
  for (const auto& list : {&plan.masked_paths, &plan.readonly_paths})
    for (const auto& p : *list)
      if (p.empty() || p.front() != '/')
        return fmt::format("{}: {} is not an absolute path",
                           list == &plan.masked_paths ? "linux.maskedPaths" : "linux.readonlyPaths",
                           lab::quote(p));
  for (const auto& [name, value] : plan.sysctl) {
    if (!valid_sysctl_name(name))
      return fmt::format("linux.sysctl: {} is not a sysctl name", lab::quote(name));
    if (!sysctl_is_namespaced(name))
      return fmt::format(
          "linux.sysctl: {} is not in any namespace a container has; setting it would change "
          "the host",
          name);
  }
  return "";
}

std::vector<Device> default_devices() {
  auto dev = [](const char* path, long long major, long long minor) {
    Device d;
    d.path = path;
    d.type = 'c';
    d.major = major;
    d.minor = minor;
    return d;
  };
  return {dev("/dev/null", 1, 3),   dev("/dev/zero", 1, 5),    dev("/dev/full", 1, 7),
          dev("/dev/random", 1, 8), dev("/dev/urandom", 1, 9), dev("/dev/tty", 5, 0)};
}

void prepare_rootfs_in_child(const Plan& plan, const Explain& explain) {
  if (const std::string why = validate(plan); !why.empty()) throw lab::UserError(why);
  RootfsBuilder(plan, explain).run();
}

}  // namespace runtime::mounts
