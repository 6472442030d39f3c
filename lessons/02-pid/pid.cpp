#include "pid.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <sstream>

#include "error.hpp"
#include "fd.hpp"
#include "mount.hpp"
#include "process.hpp"

namespace pid {

// --- reading what the kernel shows ---------------------------------------------------------------

std::vector<PsEntry> parse_ps(std::string_view text) {
  std::vector<PsEntry> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words{line};
    PsEntry e;
    if (!(words >> e.pid >> e.user)) continue;  // the header, or noise
    std::getline(words >> std::ws, e.command);
    out.push_back(std::move(e));
  }
  return out;
}

std::string check_ps_shows_shell_and_ps(const std::vector<PsEntry>& entries) {
  if (entries.size() != 2)
    return fmt::format("ps listed {} processes, expected 2 (the shell and ps)", entries.size());
  const PsEntry& first = entries[0];
  const PsEntry& second = entries[1];
  if (first.pid != 1 || first.command != "/bin/sh")
    return fmt::format("the first process is {} \"{}\", expected 1 \"/bin/sh\"", first.pid,
                       first.command);
  bool is_ps = second.command == "ps" || second.command.rfind("ps ", 0) == 0 ||
               second.command.rfind("{ps}", 0) == 0;
  if (!is_ps) return fmt::format("the second process is \"{}\", expected ps", second.command);
  return "";
}

std::string status_field(std::string_view status, std::string_view key) {
  size_t start = 0;
  while (start < status.size()) {
    size_t end = status.find('\n', start);
    if (end == std::string_view::npos) end = status.size();
    std::string_view line = status.substr(start, end - start);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      std::string_view value = line.substr(key.size() + 1);
      while (!value.empty() && (value.front() == '\t' || value.front() == ' '))
        value.remove_prefix(1);
      while (!value.empty() && (value.back() == '\t' || value.back() == ' '))
        value.remove_suffix(1);
      return std::string(value);
    }
    start = end + 1;
  }
  return "";
}

std::vector<pid_t> parse_nspid(std::string_view status) {
  std::vector<pid_t> out;
  std::istringstream in{status_field(status, "NSpid")};
  long n = 0;
  while (in >> n) out.push_back(static_cast<pid_t>(n));
  return out;
}

char process_state(std::string_view status) {
  std::string state = status_field(status, "State");
  return state.empty() ? '?' : state[0];
}

// --- the kernel steps ----------------------------------------------------------------------------

void make_mounts_private_in_child() { lab::mount_fs(nullptr, "/", nullptr, MS_REC | MS_PRIVATE); }

void mount_proc_in_child(const std::string& rootfs) {
  lab::mount_fs("proc", rootfs + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
}

void mount_dev_in_child(const std::string& rootfs) {
  const std::string dev = rootfs + "/dev";
  lab::mount_fs("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k");
  for (const DeviceNode& node : kDeviceNodes) {
    const std::string path = fmt::format("{}/{}", dev, node.name);
    lab::check(::mknod(path.c_str(), S_IFCHR | 0666, makedev(node.major, node.minor)), [&] {
      return fmt::format("mknod({}, S_IFCHR|0666, makedev({}, {}))", lab::quote(path), node.major,
                         node.minor);
    });
    // mknod applies the umask (0022 makes 0644); every process must be able to write /dev/null.
    lab::check(::chmod(path.c_str(), 0666),
               [&] { return fmt::format("chmod({}, 0666)", lab::quote(path)); });
  }
}

void chroot_in_child(const std::string& rootfs) {
  lab::check(::chroot(rootfs.c_str()),
             [&] { return fmt::format("chroot({})", lab::quote(rootfs)); });
  lab::check(::chdir("/"), "chdir(\"/\")");
}

void reset_signals_in_child() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

namespace {
std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}
}  // namespace

void exec_in_child(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  auto args = c_strings(argv);
  auto envp = c_strings(env);
  ::execve(args[0], args.data(), envp.data());
  const int err = errno;  // saved before formatting the message can change it
  throw lab::SyscallError(err, fmt::format("execve({})", lab::quote(argv[0])));
}

pid_t spawn_orphan(const std::vector<std::string>& argv, int stdio_fd) {
  int fds[2];
  lab::check(::pipe2(fds, O_CLOEXEC), "pipe2(O_CLOEXEC)");
  lab::UniqueFd read_end(fds[0]), write_end(fds[1]);
  auto args = c_strings(argv);
  pid_t middle = lab::check(::fork(), "fork()");
  if (middle == 0) {
    // The short-lived middle process: fork the orphan-to-be, tell the caller its PID, exit.
    pid_t orphan = ::fork();
    if (orphan == 0) {
      for (int fd = 0; fd < 3; ++fd) ::dup2(stdio_fd, fd);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ssize_t n = ::write(write_end.get(), &orphan, sizeof orphan);
    ::_exit(n == sizeof orphan ? 0 : 1);
  }
  write_end.reset();
  while (::waitpid(middle, nullptr, 0) == -1 && errno == EINTR) {
  }
  pid_t orphan = -1;
  ssize_t n = lab::check(::read(read_end.get(), &orphan, sizeof orphan), "read(pipe)");
  if (n != sizeof orphan || orphan <= 0)
    throw std::runtime_error(fmt::format("fork() for {} failed", argv[0]));
  return orphan;
}

int run_and_wait(const std::vector<std::string>& argv) {
  auto args = c_strings(argv);
  pid_t child = lab::check(::fork(), "fork()");
  if (child == 0) {
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) == -1) {
    if (errno != EINTR) lab::check(-1, [&] { return fmt::format("waitpid({}, 0)", child); });
  }
  return lab::decode_wait_status(status).shell_code();
}

int run_init(const std::function<int()>& app, const std::function<void()>& after_fork) noexcept {
  // The signals init handles are blocked and collected with sigwaitinfo(), as tini does. A blocked
  // signal is never dropped by the kernel's "init ignores what it has no handler for" rule: it
  // stays pending until we take it.
  sigset_t handled, old;
  sigemptyset(&handled);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2})
    sigaddset(&handled, sig);
  ::sigprocmask(SIG_BLOCK, &handled, &old);
  pid_t app_pid = ::fork();
  if (app_pid == -1) return 127;
  if (app_pid == 0) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    int code = 127;
    try {
      code = app();
    } catch (...) {
    }
    ::_exit(code);
  }
  if (after_fork) {
    try {
      after_fork();
    } catch (...) {
    }
  }
  for (;;) {
    siginfo_t info{};
    int sig = ::sigwaitinfo(&handled, &info);
    if (sig == -1) continue;  // EINTR
    if (sig != SIGCHLD) {
      ::kill(app_pid, sig);  // forward: the app decides what SIGTERM means
      continue;
    }
    // One SIGCHLD may stand for several ended children: reap until none is left.
    int status = 0;
    for (pid_t ended; (ended = ::waitpid(-1, &status, WNOHANG)) > 0;) {
      if (ended == app_pid) return lab::decode_wait_status(status).shell_code();
    }
  }
}

// --- looking from the host -----------------------------------------------------------------------

std::string read_status(pid_t host_pid) {
  try {
    return lab::read_file(fmt::format("/proc/{}/status", host_pid));
  } catch (const std::exception&) {
    return "";
  }
}

std::vector<pid_t> host_pids_in_namespace(const std::string& ns_link) {
  std::vector<pid_t> out;
  DIR* dir = ::opendir("/proc");
  if (!dir) lab::check(-1, "opendir(\"/proc\")");
  while (struct dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    long n = std::strtol(entry->d_name, &end, 10);
    if (n <= 0 || *end != '\0') continue;
    char buf[64];
    std::string link = fmt::format("/proc/{}/ns/pid", n);
    ssize_t len = ::readlink(link.c_str(), buf, sizeof buf);
    if (len > 0 && std::string_view(buf, static_cast<size_t>(len)) == ns_link)
      out.push_back(static_cast<pid_t>(n));
  }
  ::closedir(dir);
  return out;
}

pid_t host_pid_of(const std::string& ns_link, pid_t inner_pid) {
  for (pid_t host_pid : host_pids_in_namespace(ns_link)) {
    auto nspid = parse_nspid(read_status(host_pid));
    if (!nspid.empty() && nspid.back() == inner_pid) return host_pid;
  }
  return -1;
}

}  // namespace pid
