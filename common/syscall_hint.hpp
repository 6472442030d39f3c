// A SyscallError whose plain-words hint is chosen by the caller.
//
// errno_hint() knows the hints of the lessons' calls (mount, clone, pivot_root...). The process
// security steps have their own surprises: EPERM from setrlimit means "raising a hard limit
// needs CAP_SYS_RESOURCE", EPERM from PR_CAP_AMBIENT_RAISE means "not in permitted and
// inheritable" - not "run it as root". Those calls throw HintedSyscallError, which is still a
// SyscallError (same errno, same call()), only its message carries the caller's hint.
#pragma once

#include <string>

#include "error.hpp"

namespace lab {

class HintedSyscallError : public SyscallError {
 public:
  // An empty hint falls back to errno_hint(err, call).
  HintedSyscallError(int err, std::string call, const std::string& hint);
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

// Like check(), with the hint for this call: hint(err) returns "" when it has nothing to add.
template <typename Rc, typename CallText, typename Hint>
Rc check_hinted(Rc rc, CallText&& call, Hint&& hint) {
  if (rc == static_cast<Rc>(-1)) {
    int err = errno;
    throw HintedSyscallError(err, std::forward<CallText>(call)(), hint(err));
  }
  return rc;
}

}  // namespace lab
