#include "hooks.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "error.hpp"
#include "process.hpp"

namespace runtime::hooks {

namespace {

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

void run_one(const Hook& hook, const std::string& state_json, std::string_view kind) {
  // A socket rather than a pipe for the hook's stdin: send() with MSG_NOSIGNAL cannot kill us
  // with SIGPIPE when a hook exits without reading its input.
  int pipe_fds[2];
  lab::check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pipe_fds),
             "socketpair(AF_UNIX, SOCK_STREAM)");
  lab::UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  lab::Child child = lab::clone_child(SIGCHLD, [&]() -> int {
    ::dup2(read_end.get(), 0);
    std::vector<std::string> args =
        hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
    std::vector<std::string> env = hook.env;
    std::vector<char*> argv = c_strings(args), envp = c_strings(env);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    std::fprintf(stderr, "%.*s hook: execve(\"%s\"): %s\n", static_cast<int>(kind.size()),
                 kind.data(), hook.path.c_str(), std::strerror(errno));
    return 127;
  });
  read_end.reset();
  // The state is small (well under a pipe's 64 KiB), so this write cannot block on the hook.
  (void)::send(write_end.get(), state_json.data(), state_json.size(), MSG_NOSIGNAL);
  write_end.reset();
  lab::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child.pid(), 0)));
  if (hook.timeout_seconds && pidfd) {
    struct pollfd p {
      pidfd.get(), POLLIN, 0
    };
    int r;
    do {
      r = ::poll(&p, 1, *hook.timeout_seconds * 1000);
    } while (r == -1 && errno == EINTR);
    if (r == 0) {
      child.kill_and_reap();
      throw lab::UserError(fmt::format("{} hook {} did not finish within its timeout of {} s", kind,
                                       hook.path, *hook.timeout_seconds));
    }
  }
  lab::ExitStatus status = child.wait();
  if (!status.ok())
    throw lab::UserError(fmt::format("{} hook {} {}", kind, hook.path, status.describe()));
}

}  // namespace

void run_all(const std::vector<Hook>& hooks, const std::string& state_json, std::string_view kind) {
  for (const Hook& hook : hooks) run_one(hook, state_json, kind);
}

}  // namespace runtime::hooks
