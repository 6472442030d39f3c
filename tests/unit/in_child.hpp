// Runs a test body in a forked child, for the steps that change the calling process for good
// (capability sets, rlimits, a seccomp filter, the user). The body returns "" for success or
// what went wrong; an exception's text counts as what went wrong. The child sends that text
// over a pipe and _exits, so nothing of the child (its filter, its gtest state) leaks into
// the test process. The parent reads until the pipe closes, then reaps the child.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <exception>
#include <functional>
#include <string>

#include "capabilities.hpp"
#include "error.hpp"
#include "process.hpp"

namespace lab_test {

inline std::string in_child(const std::function<std::string()>& body) {
  int fds[2];
  lab::check(::pipe2(fds, O_CLOEXEC), "pipe2()");
  pid_t pid = lab::check(::fork(), "fork()");
  if (pid == 0) {
    ::close(fds[0]);
    std::string message;
    try {
      message = body();
    } catch (const std::exception& e) {
      message = std::string("exception: ") + e.what();
    } catch (...) {
      message = "unknown exception";
    }
    size_t off = 0;
    while (off < message.size()) {
      ssize_t n = ::write(fds[1], message.data() + off, message.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    out += " (child " + lab::decode_wait_status(status).describe() + ")";
  return out;
}

// True when this process has `cap` in its effective set (root here lacks CAP_SYS_RESOURCE).
inline bool has_effective_cap(int cap) {
  return (lab::caps::read_status_mask(0, "CapEff") >> cap) & 1;
}

}  // namespace lab_test
