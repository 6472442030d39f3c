// Errors that name what failed.
//
// Every syscall is checked where it is made. A failure becomes a SyscallError whose message names
// the call with its arguments (flags by name) and the errno text, like crun and runc print them:
//   mount("overlay", "/tmp/lab/C", "overlay", MS_NODEV, "lowerdir=..."): No such file or directory
// Where errno misleads a beginner (EINVAL from pivot_root, EBUSY from cgroup files, EPERM without
// root) a plain-words hint follows in the same line.
#pragma once

#include <cerrno>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace lab {

// A mistake the user can fix (bad option, missing rootfs, not root). Printed as one line.
class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Ctrl-C (SIGINT) or SIGTERM arrived while we waited; unwinding runs every cleanup.
class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted; everything created so far was removed") {}
};

class SyscallError : public std::system_error {
 public:
  SyscallError(int err, std::string call);
  const std::string& call() const { return call_; }
  // One line: the call, the errno text and name, and the hint if there is one.
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string call_;
  std::string message_;
};

// What a beginner should know about this errno from this call, or "" if the text says it all.
std::string errno_hint(int err, std::string_view call);

// Throws SyscallError(errno, call()) when rc == -1; returns rc otherwise. `call` is only built on
// failure, so callers may format freely.
template <typename Rc, typename CallText>
Rc check(Rc rc, CallText&& call) {
  if (rc == static_cast<Rc>(-1)) {
    int err = errno;
    if constexpr (std::is_invocable_v<CallText>) {
      throw SyscallError(err, std::forward<CallText>(call)());
    } else {
      throw SyscallError(err, std::string(call));
    }
  }
  return rc;
}

// A flag word spelled by name: "CLONE_NEWUTS|CLONE_NEWPID|SIGCHLD".
struct FlagName {
  unsigned long value;
  const char* name;
};
std::string flags_to_string(unsigned long flags, std::initializer_list<FlagName> names);
std::string clone_flags_to_string(unsigned long flags);
std::string mount_flags_to_string(unsigned long flags);
std::string umount_flags_to_string(int flags);

// A C string as it would appear in C source: "lab" or NULL.
std::string quote(const char* s);
std::string quote(std::string_view s);

}  // namespace lab
