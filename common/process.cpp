#include "process.hpp"

#include <fmt/format.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>

#include "error.hpp"

namespace lab {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_interrupt(int) { g_interrupted = 1; }

// Runs in the child. It must never return into the parent's code, and an exception must never
// unwind through the frames it shares (as a copy) with the parent: catch everything and _exit.
[[noreturn]] void run_child_body(const std::function<int()>& body) noexcept {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  int code = 127;
  try {
    code = body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "child: unknown error\n");
  }
  std::fflush(nullptr);
  std::_Exit(code);
}

}  // namespace

std::string ExitStatus::describe() const {
  if (signal)
    return fmt::format("killed by {}", sigabbrev_np(signal)
                                           ? fmt::format("SIG{}", sigabbrev_np(signal))
                                           : std::to_string(signal));
  return fmt::format("exited {}", code);
}

ExitStatus decode_wait_status(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) s.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) s.signal = WTERMSIG(status);
  return s;
}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    pid_ = std::exchange(other.pid_, -1);
  }
  return *this;
}

ExitStatus Child::wait() {
  int status = 0;
  for (;;) {
    // A Ctrl-C that came between two calls must not be lost while we block.
    throw_if_interrupted();
    pid_t r = ::waitpid(pid_, &status, 0);
    if (r == pid_) break;
    if (r == -1 && errno == EINTR) {
      throw_if_interrupted();
      continue;
    }
    check(r, [&] { return fmt::format("waitpid({}, 0)", pid_); });
  }
  pid_ = -1;
  return decode_wait_status(status);
}

ExitStatus Child::wait_foreground() {
  struct sigaction ignore {
  }, old_int{}, old_quit{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGINT, &ignore, &old_int);
  ::sigaction(SIGQUIT, &ignore, &old_quit);
  ExitStatus s;
  try {
    s = wait();
  } catch (...) {
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGQUIT, &old_quit, nullptr);
    throw;
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGQUIT, &old_quit, nullptr);
  return s;
}

void Child::kill_and_reap() noexcept {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) == -1 && errno == EINTR) {
  }
  pid_ = -1;
}

Child clone_child(unsigned long flags, std::function<int()> body) {
  // Buffered output would be printed twice, once by each process.
  std::cout.flush();
  std::fflush(nullptr);
  // The raw system call with no new stack behaves like fork(2): the child goes on from here on a
  // copy of our memory and stack, in the new namespaces that `flags` asks for. (glibc's clone()
  // wrapper insists on a separate stack, which sanitizers and debuggers find confusing.) All
  // arguments after the flags are zero, so their order, which differs between architectures,
  // does not matter.
  long pid = ::syscall(SYS_clone, flags, 0, 0, 0, 0);
  if (pid == 0) run_child_body(body);
  check(pid, [&] { return fmt::format("clone({})", clone_flags_to_string(flags)); });
  return Child(static_cast<pid_t>(pid));
}

std::pair<Channel, Channel> Channel::make_pair() {
  int fds[2];
  check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds),
        "socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC)");
  return {Channel(fds[0]), Channel(fds[1])};
}

void Channel::send(std::string_view msg) {
  // MSG_NOSIGNAL: a peer that already died must not kill us with SIGPIPE.
  check(::send(fd_.get(), msg.data(), msg.size(), MSG_NOSIGNAL), "send(channel)");
}

void Channel::send_error(std::string_view what) { send(fmt::format("error:{}", what)); }

void Channel::report_error(std::string_view what) noexcept {
  try {
    send_error(what);
  } catch (...) {
    // Nobody listens any more (the channel was closed before an exec, or the parent is gone):
    // stderr is the last place where the message can still be seen.
    std::fprintf(stderr, "child: %.*s\n", static_cast<int>(what.size()), what.data());
  }
}

std::string Channel::receive() {
  char buf[4096];
  for (;;) {
    throw_if_interrupted();
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n >= 0) return std::string(buf, static_cast<size_t>(n));
    if (errno == EINTR) {
      throw_if_interrupted();
      continue;
    }
    check(n, "recv(channel)");
  }
}

std::string Channel::receive_reply(std::string_view step) {
  std::string msg = receive();
  if (msg.starts_with("error:")) throw UserError(fmt::format("{}: {}", step, msg.substr(6)));
  if (msg.empty()) throw UserError(fmt::format("{}: the child died without a word", step));
  return msg;
}

void Channel::expect_ok(std::string_view step) {
  std::string msg = receive_reply(step);
  if (msg != "ok") throw UserError(fmt::format("{}: unexpected message from child: {}", step, msg));
}

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR so we notice
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

void throw_if_interrupted() {
  if (g_interrupted) throw Interrupted();
}

std::string namespace_link(pid_t pid, std::string_view type) {
  std::string path =
      pid == 0 ? fmt::format("/proc/self/ns/{}", type) : fmt::format("/proc/{}/ns/{}", pid, type);
  char buf[256];
  ssize_t n = check(::readlink(path.c_str(), buf, sizeof buf - 1),
                    [&] { return fmt::format("readlink({})", quote(path)); });
  return std::string(buf, static_cast<size_t>(n));
}

void sleep_ms(long ms) {
  struct timespec left {
    ms / 1000, (ms % 1000) * 1000000
  };
  while (::nanosleep(&left, &left) == -1 && errno == EINTR) throw_if_interrupted();
  throw_if_interrupted();
}

}  // namespace lab
