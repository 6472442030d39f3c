#include "syscall_hint.hpp"

#include <fmt/format.h>

#include <cstring>

namespace lab {

HintedSyscallError::HintedSyscallError(int err, std::string call, const std::string& hint)
    : SyscallError(err, call) {
  const char* name = strerrorname_np(err);
  message_ = fmt::format("{}: {} ({})", call, std::strerror(err),
                         name ? name : fmt::format("errno {}", err));
  std::string text = hint.empty() ? errno_hint(err, call) : hint;
  if (!text.empty()) message_ += " - " + text;
}

}  // namespace lab
