#include "process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
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

// True when the process that cloned us has already exited. `parent_pidfd` (from pidfd_open) turns
// readable when it has; without one (a kernel before 5.3) the parent's PID is compared with
// getppid(), which says 0 in a new PID namespace, where the parent is not visible: then we cannot
// tell, and say no.
bool parent_is_gone(pid_t parent, int parent_pidfd) noexcept {
  if (parent_pidfd >= 0) {
    struct pollfd p {
      parent_pidfd, POLLIN, 0
    };
    return ::poll(&p, 1, 0) == 1;
  }
  const pid_t now = ::getppid();
  return now != 0 && now != parent;
}

// Runs in the child. It must never return into the parent's code, and an exception must never
// unwind through the frames it shares (as a copy) with the parent: catch everything and _exit.
[[noreturn]] void run_child_body(const std::function<int()>& body, pid_t parent, int parent_pidfd,
                                 ParentDeath on_parent_death) noexcept {
  // SIGKILL when the parent dies, so the child (and, as PID 1, its whole PID namespace) never
  // outlives it. The death signal is asked for only now, after the clone: if the parent was
  // killed in between, no signal will ever come, so look whether it is still there.
  if (on_parent_death == ParentDeath::kill_child &&
      (::prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || parent_is_gone(parent, parent_pidfd)))
    std::_Exit(127);
  if (parent_pidfd >= 0) ::close(parent_pidfd);
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

// Does this process have threads besides the caller (the daemon runs its jobs on many)? Then a
// raw clone is not safe: the child gets a copy of the memory as the other threads left it, a
// lock they held at that instant (malloc's, stdio's) held for good, and the child's first
// allocation would wait for ever. glibc's fork() takes those locks across the fork and gives the
// child fresh ones.
bool other_threads_running() {
  FILE* status = std::fopen("/proc/self/status", "re");
  if (!status) return true;  // cannot tell: the safe way
  char line[256];
  long threads = 0;
  while (std::fgets(line, sizeof line, status))
    if (std::sscanf(line, "Threads: %ld", &threads) == 1) break;
  std::fclose(status);
  return threads != 1;
}

// The namespaces that unshare(2) in a forked child enters exactly as clone(2) would have made the
// child in them. Not CLONE_NEWPID (unshare moves only the caller's future children) nor
// CLONE_NEWUSER (unshare refuses a multithreaded caller; the child would not be, but the runtime
// that asks for it is single-threaded anyway): those keep the raw clone.
bool fork_then_unshare_does(unsigned long flags) {
  constexpr unsigned long kUnshareable =
      CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNS | CLONE_NEWCGROUP;
  return (flags & CSIGNAL) == SIGCHLD && (flags & ~CSIGNAL & ~kUnshareable) == 0;
}

// clone_child in a multithreaded process: glibc's fork(), then unshare(2) of the namespaces in
// the child. The unshare's errno (0: done) comes back over a pipe, so the caller gets the same
// SyscallError a failed clone gives. (A word, not the pipe's end: a child another thread forks
// meanwhile holds a copy of the write end until its own execve.)
Child fork_then_unshare(unsigned long flags, const std::function<int()>& body, pid_t parent,
                        int parent_pidfd, ParentDeath on_parent_death) {
  int report[2];
  check(::pipe2(report, O_CLOEXEC), "pipe2(O_CLOEXEC)");
  UniqueFd report_read(report[0]), report_write(report[1]);
  pid_t pid = ::fork();
  if (pid == 0) {
    report_read.reset();
    int namespaces = static_cast<int>(flags & ~CSIGNAL);
    int err = namespaces != 0 && ::unshare(namespaces) == -1 ? errno : 0;
    ssize_t ignored = ::write(report_write.get(), &err, sizeof err);
    (void)ignored;
    if (err != 0) std::_Exit(127);
    report_write.reset();
    run_child_body(body, parent, parent_pidfd, on_parent_death);
  }
  auto what = [&] { return fmt::format("clone({})", clone_flags_to_string(flags)); };
  check(pid, what);
  report_write.reset();
  Child child(pid);
  int err = 0;
  ssize_t n;
  while ((n = ::read(report_read.get(), &err, sizeof err)) == -1 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof err) && err != 0)
    throw SyscallError(err, what());  // ~Child reaps it
  return child;
}

// The first byte of every channel message: what kind it is.
constexpr char kOk = 'o';
constexpr char kError = 'e';
constexpr char kValue = 'v';

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

Child clone_child(unsigned long flags, std::function<int()> body, ParentDeath on_parent_death) {
  // Buffered output would be printed twice, once by each process.
  std::cout.flush();
  std::fflush(nullptr);
  // For the child to see whether we are still alive once it has asked for its death signal
  // (see run_child_body); -1 where pidfd_open(2) does not exist.
  const pid_t parent = ::getpid();
  UniqueFd parent_pidfd(static_cast<int>(::syscall(SYS_pidfd_open, parent, 0)));
  // The raw system call with no new stack behaves like fork(2): the child goes on from here on a
  // copy of our memory and stack, in the new namespaces that `flags` asks for. (glibc's clone()
  // wrapper insists on a separate stack, which sanitizers and debuggers find confusing.) All
  // arguments after the flags are zero, so their order, which differs between architectures,
  // does not matter.
  if (other_threads_running() && fork_then_unshare_does(flags))
    return fork_then_unshare(flags, body, parent, parent_pidfd.get(), on_parent_death);
  long pid = ::syscall(SYS_clone, flags, 0, 0, 0, 0);
  if (pid == 0) run_child_body(body, parent, parent_pidfd.get(), on_parent_death);
  check(pid, [&] { return fmt::format("clone({})", clone_flags_to_string(flags)); });
  return Child(static_cast<pid_t>(pid));
}

Child clone_child_into_cgroup(unsigned long flags, int cgroup_dir_fd, bool& into_cgroup,
                              std::function<int()> body, ParentDeath on_parent_death) {
  std::cout.flush();
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  UniqueFd parent_pidfd(static_cast<int>(::syscall(SYS_pidfd_open, parent, 0)));
  // clone3's arguments as a struct (linux/sched.h's clone_args, declared here: glibc has no
  // wrapper). exit_signal takes the signal that clone(2) kept in the flags' low byte; no stack,
  // as above, so the child goes on from here like a fork.
  struct {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
  } args{};
  constexpr uint64_t kCloneIntoCgroup = 0x200000000ULL;  // CLONE_INTO_CGROUP, linux/sched.h
  args.flags = (flags & ~uint64_t{0xff}) | kCloneIntoCgroup;
  args.exit_signal = flags & 0xff;
  args.cgroup = static_cast<uint64_t>(cgroup_dir_fd);
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) run_child_body(body, parent, parent_pidfd.get(), on_parent_death);
  if (pid == -1 && errno == ENOSYS) {
    into_cgroup = false;
    return clone_child(flags, std::move(body), on_parent_death);
  }
  check(pid, [&] {
    return fmt::format("clone3({}|CLONE_INTO_CGROUP)", clone_flags_to_string(flags));
  });
  into_cgroup = true;
  return Child(static_cast<pid_t>(pid));
}

std::pair<Channel, Channel> Channel::make_pair() {
  int fds[2];
  check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds),
        "socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC)");
  return {Channel(fds[0]), Channel(fds[1])};
}

void Channel::send_message(char kind, std::string_view text) {
  std::string message(1, kind);
  message.append(text);
  // MSG_NOSIGNAL: a peer that already died must not kill us with SIGPIPE.
  check(::send(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL), "send(channel)");
}

void Channel::send(std::string_view value) { send_message(kValue, value); }

void Channel::send_ok() { send_message(kOk, ""); }

void Channel::send_error(std::string_view what) { send_message(kError, what); }

void Channel::report_error(std::string_view what) noexcept {
  try {
    send_error(what);
  } catch (...) {
    // Nobody listens any more (the channel was closed before an exec, or the parent is gone):
    // stderr is the last place where the message can still be seen.
    std::fprintf(stderr, "child: %.*s\n", static_cast<int>(what.size()), what.data());
  }
}

Channel::Message Channel::receive_message() {
  // First the size of the next message (MSG_PEEK|MSG_TRUNC returns it without taking it), then
  // the message itself, so that no message is ever cut short. 0 bytes means the other end is
  // closed: every message holds at least its kind byte.
  std::string buf;
  for (int flags = MSG_PEEK | MSG_TRUNC;;) {
    throw_if_interrupted();
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), flags);
    if (n == -1 && errno == EINTR) continue;
    check(n, "recv(channel)");
    if (n == 0) return {Kind::closed, ""};
    if (flags != 0) {
      buf.resize(static_cast<size_t>(n));
      flags = 0;
      continue;
    }
    buf.resize(static_cast<size_t>(n));
    break;
  }
  const char kind = buf[0];
  buf.erase(0, 1);
  switch (kind) {
    case kOk:
      return {Kind::ok, ""};
    case kError:
      return {Kind::error, std::move(buf)};
    case kValue:
      return {Kind::value, std::move(buf)};
    default:
      throw std::runtime_error(fmt::format("recv(channel): a message of unknown kind {:#04x}",
                                           static_cast<unsigned char>(kind)));
  }
}

std::string Channel::receive() {
  Message m = receive_message();
  switch (m.kind) {
    case Kind::ok:
      return "ok";
    case Kind::error:
      return "error:" + m.text;
    case Kind::value:
      return m.text;
    case Kind::closed:
      break;
  }
  return "";
}

std::string Channel::receive_reply(std::string_view step) {
  Message m = receive_message();
  switch (m.kind) {
    case Kind::ok:
      return "ok";
    case Kind::error:
      throw UserError(fmt::format("{}: {}", step, m.text));
    case Kind::value:
      return m.text;
    case Kind::closed:
      break;
  }
  throw UserError(fmt::format("{}: the child died without a word", step));
}

void Channel::expect_ok(std::string_view step) {
  Message m = receive_message();
  if (m.kind == Kind::ok) return;
  if (m.kind == Kind::error) throw UserError(fmt::format("{}: {}", step, m.text));
  if (m.kind == Kind::closed)
    throw UserError(fmt::format("{}: the child died without a word", step));
  throw UserError(fmt::format("{}: unexpected message from child: {}", step, quote(m.text)));
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
