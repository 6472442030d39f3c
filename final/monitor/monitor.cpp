// minidocker-monitor: one small process per container (what containerd-shim and conmon are).
//
// The engine starts it detached (fork, setsid, fork: it is nobody's child but init's, and no
// terminal's), so it outlives the CLI. It:
//   1. becomes a child subreaper (prctl(PR_SET_CHILD_SUBREAPER)): `RUNTIME create` clones the
//      container's init and exits; the orphaned init is re-parented to us, not to PID 1, so we
//      can wait for it and read its exit status;
//   2. listens on <dir>/attach.sock (monitor/attach_protocol.hpp): clients (`run`, `attach`,
//      `start -a`) get the output as it comes and send input and window sizes;
//   3. runs `RUNTIME --root STATE create --bundle B --pid-file F ID` with the container's stdio:
//      stdin (a pipe whose write end we keep for -i, else our fd 0: /dev/null or a caller's pipe)
//      and two pipes for stdout and stderr, whose read ends we keep. With -t (FLAGS has "tty")
//      the container's stdio is a pty instead: we add `--console-socket <dir>/console.sock` and
//      the runtime sends us the pty's master over it (SCM_RIGHTS). Then we tell the engine
//      "ok INIT_PID MONITOR_PID" on fd 3 (or "err" and the runtime's message);
//   4. copies the pipes (or the master: stream "stdout", as Docker logs a tty) to
//      <dir>/<id>-json.log as Docker's json-file driver writes it and to the attached clients,
//      and their input to the container, until the init is reaped (signalfd for SIGCHLD, in the
//      same poll(2) as the pipes and sockets);
//   5. reads the cgroup's oom_kill count (before the runtime removes the cgroup), runs
//      `RUNTIME delete --force ID`, and writes <dir>/exit.json atomically: ExitCode (128+signal
//      for a signal, as a shell reports it), FinishedAt, OOMKilled;
//   6. sends the exit code to the attached clients and writes it to fd 4 (a foreground `run` waits
//   on it), and for --rm becomes
//      `minidocker rm -f ID` (exec, keeping fd 4 open: the CLI sees EOF when the removal is done);
//      with a --restart policy (FLAGS "restart") it becomes `minidocker container _restart ID`
//      (engine/restart.hpp), which may start the container again after a back-off.
// It links only libc and libstdc++ (statically): a few hundred KiB of RSS per container.
//
// `start` of an exited container starts a new monitor on the same directory: the same bundle and
// rootfs, the same log (appended to).
//
// Usage (by the engine only):
//   minidocker-monitor DIR ID CGROUP_PATH FLAGS MINIDOCKER ROOT RUNTIME [RUNTIME ARGS...]
// FLAGS: "-", or a comma-separated list of rm (--rm), tty (-t), stdin (-i), restart (--restart).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "monitor/attach_protocol.hpp"
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

// A unix socket listening at DIR/NAME (an old one from a previous run is replaced); -1 on failure.
int listen_at(int dir_fd, const std::string& dir, const char* name, int type) {
  sockaddr_un addr;
  if (!attach::socket_address(dir_fd, dir, name, addr)) return -1;
  ::unlink(addr.sun_path);
  int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == -1 || ::listen(fd, 8) == -1) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The pty master the runtime sent over the console socket (see runtime/terminal.cpp, send_fd).
int receive_master(int listener) {
  int conn = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (conn < 0) return -1;
  char name[256];
  char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{name, sizeof name};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  } while (n == -1 && errno == EINTR);
  ::close(conn);
  cmsghdr* c = n < 0 ? nullptr : CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

// Sends one message to every attached client; one that is gone is dropped. (A client that does
// not read slows the container's output down, as a slow terminal does.)
void broadcast(std::vector<int>& clients, const std::string& msg) {
  for (size_t i = 0; i < clients.size();) {
    if (::send(clients[i], msg.data(), msg.size(), MSG_NOSIGNAL) < 0 && errno != EINTR) {
      ::close(clients[i]);
      clients.erase(clients.begin() + static_cast<long>(i));
      continue;
    }
    ++i;
  }
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
  std::string flags = std::string(",") + argv[4] + ",";
  bool remove_after = flags.find(",rm,") != std::string::npos;
  bool restart_policy = flags.find(",restart,") != std::string::npos;
  bool tty = flags.find(",tty,") != std::string::npos;
  bool own_stdin = flags.find(",stdin,") != std::string::npos;
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

  int dir_fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  int listener = listen_at(dir_fd, dir, "attach.sock", SOCK_SEQPACKET);
  int console = tty ? listen_at(dir_fd, dir, "console.sock", SOCK_STREAM) : -1;
  int out[2], err[2], in[2] = {-1, -1};
  if (listener < 0 || (tty && console < 0) || ::pipe2(out, O_CLOEXEC) == -1 ||
      ::pipe2(err, O_CLOEXEC) == -1 || (own_stdin && ::pipe2(in, O_CLOEXEC) == -1)) {
    write_all(report,
              std::string("err the monitor's sockets and pipes: ") + std::strerror(errno) + "\n");
    return 1;
  }
  std::string pid_file = dir + "/init.pid";
  std::vector<std::string> create = runtime;
  for (const char* a : {"create", "--bundle"}) create.emplace_back(a);
  create.push_back(dir + "/bundle");
  create.emplace_back("--pid-file");
  create.push_back(pid_file);
  if (tty) {
    // The runtime is another process: /proc/self would be its own, so a long path goes through
    // our pid.
    sockaddr_un addr;
    attach::socket_address(dir_fd, dir, "console.sock", addr);
    std::string path = addr.sun_path;
    if (path.starts_with("/proc/self/"))
      path = "/proc/" + std::to_string(::getpid()) + path.substr(10);
    create.emplace_back("--console-socket");
    create.push_back(path);
  }
  create.push_back(id);
  int create_status = wait_child(spawn(create, own_stdin ? in[0] : 0, out[1], err[1]));
  ::close(0);
  ::close(out[1]);
  ::close(err[1]);
  if (own_stdin) ::close(in[0]);
  int master = -1;
  if (create_status == 0 && tty) master = receive_master(console);
  if (tty) {
    ::close(console);
    ::unlinkat(dir_fd, "console.sock", 0);
  }
  if (create_status != 0 || (tty && master < 0)) {
    // Nothing of the container ran: what is in the pipes is the runtime's complaint.
    std::string message;
    for (int fd : {err[0], out[0]}) {
      ::fcntl(fd, F_SETFL, O_NONBLOCK);
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) message.append(buf, static_cast<size_t>(n));
    }
    if (message.empty()) message = "the runtime sent no pty over the console socket\n";
    write_all(report, "err " + message);
    ::unlinkat(dir_fd, "attach.sock", 0);
    return 1;
  }
  pid_t init = static_cast<pid_t>(std::atol(read_small_file(pid_file).c_str()));
  write_all(report, "ok " + std::to_string(init) + " " + std::to_string(::getpid()) + "\n");
  ::close(report);

  std::string log_path = dir + "/" + id + "-json.log";
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  // The container's output: its two pipes, or (-t) the pty master alone, logged as stdout.
  int source[2] = {out[0], err[0]};
  if (tty) {
    ::close(out[0]);
    ::close(err[0]);
    source[0] = master;
    source[1] = -1;
  }
  std::string buffers[2];
  const char* streams[2] = {"stdout", "stderr"};
  const char types[2] = {attach::kStdout, attach::kStderr};
  int stdin_write = own_stdin ? in[1] : -1;
  std::vector<int> clients;
  int init_status = -1;
  int grace_ms = -1;  // after the init is reaped: how long to wait for the pipes' last bytes
  std::string msg(attach::kMaxMessage + 1, '\0');
  for (;;) {
    if (init_status != -1 && source[0] < 0 && source[1] < 0) break;
    std::vector<pollfd> fds = {
        {source[0], POLLIN, 0}, {source[1], POLLIN, 0}, {sfd, POLLIN, 0}, {listener, POLLIN, 0}};
    for (int c : clients) fds.push_back({c, POLLIN, 0});
    int n = ::poll(fds.data(), fds.size(), init_status == -1 ? -1 : grace_ms);
    if (n == 0) break;  // the pipes stayed open after the init died: enough
    if (n < 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (source[i] < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[16384];
      ssize_t got = ::read(source[i], buf, sizeof buf);
      if (got <= 0) {  // EOF, or EIO from a master whose pty has no other end left
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        ::close(source[i]);
        source[i] = -1;
        write_all(log,
                  monitor::take_entries(buffers[i], streams[i], monitor::rfc3339_nano_now(), true));
        continue;
      }
      broadcast(clients,
                attach::message(types[i], std::string_view(buf, static_cast<size_t>(got))));
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
    if (fds[3].revents & POLLIN) {
      int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) clients.push_back(c);
    }
    for (size_t k = 4; k < fds.size(); ++k) {
      if (!fds[k].revents) continue;
      int c = fds[k].fd;
      ssize_t got = ::recv(c, msg.data(), msg.size(), MSG_DONTWAIT);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got <= 0) {  // the client went away (detached, or killed)
        ::close(c);
        std::erase(clients, c);
        continue;
      }
      std::string_view payload(msg.data() + 1, static_cast<size_t>(got) - 1);
      switch (msg[0]) {
        case attach::kInput:
          // To the pty (its line discipline echoes and makes ^C a SIGINT) or the stdin pipe.
          if (tty && source[0] >= 0) write_all(source[0], payload);
          if (!tty && stdin_write >= 0) write_all(stdin_write, payload);
          break;
        case attach::kEndOfInput:
          if (stdin_write >= 0) ::close(stdin_write);
          stdin_write = -1;
          break;
        case attach::kResize: {
          unsigned rows = 0, cols = 0;
          if (tty && source[0] >= 0 && attach::parse_resize(payload, rows, cols)) {
            winsize ws{};
            ws.ws_row = static_cast<unsigned short>(rows);
            ws.ws_col = static_cast<unsigned short>(cols);
            ::ioctl(source[0], TIOCSWINSZ, &ws);  // the kernel sends SIGWINCH to the foreground
          }
          std::string ack = attach::message(attach::kResize);
          ::send(c, ack.data(), ack.size(), MSG_NOSIGNAL);
          break;
        }
        default:
          break;
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
  ::close(listener);
  ::unlinkat(dir_fd, "attach.sock", 0);
  broadcast(clients, attach::message(attach::kExit, std::to_string(code)));
  for (int c : clients) ::close(c);
  write_all(exit_pipe, std::to_string(code) + "\n");
  if (remove_after || restart_policy) {
    std::vector<std::string> next = {minidocker, "--root", root, "rm", "-f", "-v", id};
    if (restart_policy) {
      // The policy's decision and back-off (engine/restart.hpp); a foreground run has its code
      // and returns now, as Docker's does while its daemon restarts the container.
      next = {minidocker, "--root", root, "container", "_restart", id};
      ::close(exit_pipe);
    }
    std::vector<char*> args;
    for (auto& a : next) args.push_back(a.data());
    args.push_back(nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(args[0], args.data());
  }
  return 0;
}
