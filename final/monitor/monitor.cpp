// minidocker-monitor: one small process per container (what containerd-shim and conmon are).
//
// The engine starts it detached (fork, setsid, fork: it is nobody's child but init's, and no
// terminal's), so it outlives the CLI. It:
//   1. becomes a child subreaper (prctl(PR_SET_CHILD_SUBREAPER)): `RUNTIME create` clones the
//      container's init and exits; the orphaned init is re-parented to us, not to PID 1, so we
//      can wait for it and read its exit status;
//   2. runs `RUNTIME --root STATE create --bundle B --pid-file F ID` with the container's stdio:
//      stdin (our fd 0, a pipe from `run -i` or /dev/null) and two pipes for stdout and stderr,
//      whose read ends we keep; then tells the engine "ok INIT_PID MONITOR_PID" on fd 3 (or "err"
//      and the runtime's message);
//   3. copies the pipes to <dir>/<id>-json.log as Docker's json-file driver writes it, until the
//      init is reaped (signalfd for SIGCHLD, in the same poll(2) as the pipes);
//   4. reads the cgroup's oom_kill count (before the runtime removes the cgroup), runs
//      `RUNTIME delete --force ID`, and writes <dir>/exit.json atomically: ExitCode (128+signal
//      for a signal, as a shell reports it), FinishedAt, OOMKilled;
//   5. writes the exit code to fd 4 (a foreground `run` waits on it), and for --rm becomes
//      `minidocker rm -f ID` (exec, keeping fd 4 open: the CLI sees EOF when the removal is done).
// It links only libc and libstdc++ (statically): a few hundred KiB of RSS per container.
//
// Usage (by the engine only):
//   minidocker-monitor DIR ID CGROUP_PATH RM(0|1) MINIDOCKER ROOT RUNTIME [RUNTIME ARGS...]
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "monitor/json_log.hpp"

namespace {

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string read_small_file(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

void write_atomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  write_all(fd, content);
  ::fsync(fd);
  ::close(fd);
  ::rename(tmp.c_str(), path.c_str());
}

// Runs argv with stdin/stdout/stderr given (-1: /dev/null); returns the child's pid.
pid_t spawn(const std::vector<std::string>& args, int in, int out, int err) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int null = ::open("/dev/null", O_RDWR);
  ::dup2(in >= 0 ? in : null, 0);
  ::dup2(out >= 0 ? out : null, 1);
  ::dup2(err >= 0 ? err : null, 2);
  ::close_range(3, ~0U, 0);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

int wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) == -1 && errno == EINTR) {
  }
  return status;
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

// The cgroup's count of OOM kills: v2 memory.events, v1 memory.oom_control (both "oom_kill N").
bool oom_killed(const std::string& cgroup_path) {
  for (const std::string& file : {"/sys/fs/cgroup" + cgroup_path + "/memory.events",
                                  "/sys/fs/cgroup/memory" + cgroup_path + "/memory.oom_control"}) {
    std::string text = read_small_file(file);
    size_t at = text.find("oom_kill ");
    if (at != std::string::npos) return std::atol(text.c_str() + at + 9) > 0;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 8) {
    const char* usage =
        "minidocker-monitor is started by minidocker for each container; it is not run by hand\n";
    write_all(2, usage);
    return 2;
  }
  std::string dir = argv[1], id = argv[2], cgroup_path = argv[3];
  bool remove_after = std::string(argv[4]) == "1";
  std::string minidocker = argv[5], root = argv[6];
  std::vector<std::string> runtime(argv + 7, argv + argc);
  const int report = 3, exit_pipe = 4;
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  int sfd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);

  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) == -1 || ::pipe2(err, O_CLOEXEC) == -1) {
    write_all(report, std::string("err pipe: ") + std::strerror(errno) + "\n");
    return 1;
  }
  std::string pid_file = dir + "/init.pid";
  std::vector<std::string> create = runtime;
  for (const char* a : {"create", "--bundle"}) create.emplace_back(a);
  create.push_back(dir + "/bundle");
  create.emplace_back("--pid-file");
  create.push_back(pid_file);
  create.push_back(id);
  int create_status = wait_child(spawn(create, 0, out[1], err[1]));
  ::close(0);
  ::close(out[1]);
  ::close(err[1]);
  if (create_status != 0) {
    // Nothing of the container ran: what is in the pipes is the runtime's complaint.
    std::string message;
    for (int fd : {err[0], out[0]}) {
      ::fcntl(fd, F_SETFL, O_NONBLOCK);
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) message.append(buf, static_cast<size_t>(n));
    }
    write_all(report, "err " + message);
    return 1;
  }
  pid_t init = static_cast<pid_t>(std::atol(read_small_file(pid_file).c_str()));
  write_all(report, "ok " + std::to_string(init) + " " + std::to_string(::getpid()) + "\n");
  ::close(report);

  std::string log_path = dir + "/" + id + "-json.log";
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  std::string buffers[2];
  const char* streams[2] = {"stdout", "stderr"};
  bool open_fd[2] = {true, true};
  int init_status = -1;
  int grace_ms = -1;  // after the init is reaped: how long to wait for the pipes' last bytes
  for (;;) {
    pollfd fds[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {sfd, POLLIN, 0}};
    if (!open_fd[0]) fds[0].fd = -1;
    if (!open_fd[1]) fds[1].fd = -1;
    if (init_status != -1 && !open_fd[0] && !open_fd[1]) break;
    int n = ::poll(fds, 3, init_status == -1 ? -1 : grace_ms);
    if (n == 0) break;  // the pipes stayed open after the init died: enough
    if (n < 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[16384];
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        if (got < 0 && errno == EINTR) continue;
        open_fd[i] = false;
        write_all(log,
                  monitor::take_entries(buffers[i], streams[i], monitor::rfc3339_nano_now(), true));
        continue;
      }
      buffers[i].append(buf, static_cast<size_t>(got));
      write_all(log,
                monitor::take_entries(buffers[i], streams[i], monitor::rfc3339_nano_now(), false));
    }
    if (fds[2].revents & POLLIN) {
      signalfd_siginfo info;
      while (::read(sfd, &info, sizeof info) > 0) {
      }
      int status = 0;
      pid_t reaped;
      while ((reaped = ::waitpid(-1, &status, WNOHANG)) > 0) {
        if (reaped == init) {
          init_status = status;
          grace_ms = 2000;
        }
      }
    }
  }
  std::string now = monitor::rfc3339_nano_now();
  for (int i = 0; i < 2; ++i)
    write_all(log, monitor::take_entries(buffers[i], streams[i], now, true));
  ::close(log);
  int code = exit_code(init_status);
  bool oom = oom_killed(cgroup_path);
  std::vector<std::string> remove = runtime;
  for (const char* a : {"delete", "--force"}) remove.emplace_back(a);
  remove.push_back(id);
  wait_child(spawn(remove, -1, -1, -1));
  write_atomically(dir + "/exit.json", "{\"ExitCode\":" + std::to_string(code) +
                                           ",\"FinishedAt\":\"" + now +
                                           "\",\"OOMKilled\":" + (oom ? "true" : "false") + "}\n");
  write_all(exit_pipe, std::to_string(code) + "\n");
  if (remove_after) {
    std::vector<std::string> rm = {minidocker, "--root", root, "rm", "-f", "-v", id};
    std::vector<char*> args;
    for (auto& a : rm) args.push_back(a.data());
    args.push_back(nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(args[0], args.data());
  }
  return 0;
}
