#include "error.hpp"

#include <fmt/format.h>
#include <sched.h>
#include <sys/mount.h>

#include <csignal>
#include <cstring>
#include <exception>

namespace lab {

namespace {

std::string errno_name(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : fmt::format("errno {}", err);
}

}  // namespace

std::string errno_hint(int err, std::string_view call) {
  switch (err) {
    case EPERM:
      if (call.starts_with("sethostname") || call.starts_with("clone") ||
          call.starts_with("unshare") || call.starts_with("mount") || call.starts_with("chroot") ||
          call.starts_with("pivot_root") || call.starts_with("setns"))
        return "this needs root (CAP_SYS_ADMIN); run it with sudo";
      return "not permitted: run it as root (sudo)";
    case EINVAL:
      if (call.starts_with("pivot_root"))
        return "pivot_root refuses when the new root is not a mount point, or when / or the new "
               "root's parent has shared propagation: make / private first "
               "(mount --make-rprivate /)";
      if (call.starts_with("sethostname") || call.starts_with("setdomainname"))
        return "names are limited to 64 bytes";
      return "";
    case EBUSY:
      // The rule binds domain controllers (memory, io): +cpu, a threaded controller, is accepted
      // in a cgroup with processes as long as none of its children holds any (it then becomes a
      // thread root), so EBUSY for it means the children are populated too.
      if (call.find("subtree_control") != std::string_view::npos)
        return "cgroup v2's 'no internal processes' rule: a cgroup with processes in it cannot "
               "hand a domain controller such as memory or io to its children (a threaded one "
               "such as cpu only while its children hold no processes); move the processes into "
               "a leaf cgroup first";
      if (call.find("cgroup.procs") != std::string_view::npos)
        return "cgroup v2's 'no internal processes' rule: this cgroup hands controllers to its "
               "children (its subtree_control is not empty), so it may not hold processes (it "
               "could if they were only threaded ones such as cpu and its children held none); "
               "use a leaf cgroup";
      if (call.starts_with("umount") || call.starts_with("rmdir"))
        return "still in use: a process or a mount is still inside";
      return "";
    case ENOSPC:
      if (call.starts_with("mount") || call.starts_with("clone") || call.starts_with("unshare"))
        return "a kernel limit was reached (fs.mount-max, or user.max_*_namespaces in sysctl)";
      return "";
    case ENOENT:
      if (call.starts_with("execv")) return "the program is not inside the new root";
      return "";
    default:
      return "";
  }
}

SyscallError::SyscallError(int err, std::string call)
    : std::system_error(err, std::generic_category()), call_(std::move(call)) {
  message_ = fmt::format("{}: {} ({})", call_, std::strerror(err), errno_name(err));
  std::string hint = errno_hint(err, call_);
  if (!hint.empty()) message_ += " - " + hint;
}

std::string flags_to_string(unsigned long flags, std::initializer_list<FlagName> names) {
  std::string out;
  for (const auto& f : names) {
    if (f.value != 0 && (flags & f.value) == f.value) {
      if (!out.empty()) out += '|';
      out += f.name;
      flags &= ~f.value;
    }
  }
  if (flags != 0) {
    if (!out.empty()) out += '|';
    out += fmt::format("{:#x}", flags);
  }
  return out.empty() ? "0" : out;
}

#define LAB_FLAG(f) \
  FlagName { static_cast<unsigned long>(f), #f }

std::string clone_flags_to_string(unsigned long flags) {
  // The low byte of clone's flags is the signal sent to the parent when the child exits.
  unsigned long signal = flags & 0xff;
  std::string out = flags_to_string(
      flags & ~0xffUL, {LAB_FLAG(CLONE_NEWNS), LAB_FLAG(CLONE_NEWUTS), LAB_FLAG(CLONE_NEWIPC),
                        LAB_FLAG(CLONE_NEWPID), LAB_FLAG(CLONE_NEWNET), LAB_FLAG(CLONE_NEWUSER),
                        LAB_FLAG(CLONE_NEWCGROUP), LAB_FLAG(CLONE_VM), LAB_FLAG(CLONE_FS),
                        LAB_FLAG(CLONE_FILES), LAB_FLAG(CLONE_SIGHAND), LAB_FLAG(CLONE_THREAD),
                        LAB_FLAG(CLONE_VFORK), LAB_FLAG(CLONE_PARENT)});
  if (signal == SIGCHLD) {
    out = (out == "0") ? "SIGCHLD" : out + "|SIGCHLD";
  } else if (signal != 0) {
    out += fmt::format("|{}", signal);
  }
  return out;
}

std::string mount_flags_to_string(unsigned long flags) {
  return flags_to_string(
      flags, {LAB_FLAG(MS_BIND), LAB_FLAG(MS_REC), LAB_FLAG(MS_PRIVATE), LAB_FLAG(MS_SHARED),
              LAB_FLAG(MS_SLAVE), LAB_FLAG(MS_UNBINDABLE), LAB_FLAG(MS_RDONLY), LAB_FLAG(MS_NOSUID),
              LAB_FLAG(MS_NODEV), LAB_FLAG(MS_NOEXEC), LAB_FLAG(MS_REMOUNT), LAB_FLAG(MS_MOVE),
              LAB_FLAG(MS_RELATIME), LAB_FLAG(MS_STRICTATIME)});
}

std::string umount_flags_to_string(int flags) {
  return flags_to_string(static_cast<unsigned long>(flags),
                         {LAB_FLAG(MNT_DETACH), LAB_FLAG(MNT_FORCE), LAB_FLAG(MNT_EXPIRE)});
}

#undef LAB_FLAG

std::string quote(const char* s) { return s ? quote(std::string_view(s)) : "NULL"; }

std::string quote(std::string_view s) { return fmt::format("\"{}\"", s); }

}  // namespace lab
