#include "engine/ops.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "cli.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "graph/store.hpp"
#include "mount.hpp"
#include "path_in_root.hpp"
#include "runtime/cgroups.hpp"
#include "runtime/explain.hpp"
#include "runtime/terminal.hpp"

namespace engine {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json(const std::string& path) {
  std::string text = lab::read_file_or_empty(path);
  if (text.empty()) return json();
  return json::parse(text, nullptr, false);
}

std::vector<std::string> runtime_of(const Paths& p, const Container& c) {
  return runtime_command(p, c.host_config.value("Runtime", ""));
}

std::string joined(const std::vector<std::string>& args) {
  std::string line;
  for (const auto& a : args) line += (line.empty() ? "" : " ") + a;
  return line;
}

// Starts `args` with stdin, stdout and stderr as given (-1: /dev/null); returns its pid.
// Between the fork and the execve only system calls: in the daemon, other threads run meanwhile
// and the child has their locks as they were (containers.cpp's run_quietly says more).
pid_t spawn(std::vector<std::string> args, int in, int out, int err) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = lab::check(::fork(), "fork");
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    int fds[3] = {in < 0 ? null : in, out < 0 ? null : out, err < 0 ? null : err};
    // Copied above 2 first, so no dup2 overwrites one not yet placed.
    for (int& fd : fds) fd = ::fcntl(fd, F_DUPFD, 10);
    for (int i = 0; i < 3; ++i) ::dup2(fds[i], i);
    ::close_range(3, ~0U, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

int wait_status(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) == -1 && errno == EINTR) {
  }
  return status;
}

int run_with_stdio(std::vector<std::string> args, int in, int out, int err) {
  return wait_status(spawn(std::move(args), in, out, err));
}

// The runtime's verb, its output kept for an error message.
std::pair<int, std::string> runtime_quietly(const Paths& p, const Container& c,
                                            const std::vector<std::string>& verb) {
  std::vector<std::string> args = runtime_of(p, c);
  args.insert(args.end(), verb.begin(), verb.end());
  int pipefd[2];
  lab::check(::pipe2(pipefd, O_CLOEXEC), "pipe2");
  lab::UniqueFd read_end(pipefd[0]), write_end(pipefd[1]);
  pid_t pid = spawn(args, -1, write_end.get(), write_end.get());
  write_end.reset();
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(read_end.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) text.append(buf, static_cast<size_t>(n));
  int status = wait_status(pid);
  text = lab::trim(text);
  // runc logs as logrus does: time="..." level=error msg="..."
  if (size_t at = text.find("msg=\""); at != std::string::npos) {
    json m = json::parse(text.substr(at + 4, text.rfind('"') - at - 3), nullptr, false);
    if (m.is_string()) text = m.get<std::string>();
  }
  if (text.starts_with("minirunc: ")) text = text.substr(10);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), text};
}

void set_paused(const Container& c, bool paused) {
  json state = read_json(c.dir + "/state.json");
  if (!state.is_object()) return;
  state["Paused"] = paused;
  graph::write_file_atomically(c.dir + "/state.json", state.dump() + "\n");
}

std::string container_rootfs(const Container& c) {
  json config = read_json(c.dir + "/bundle/config.json");
  std::string root = config.is_object() ? config["root"].value("path", "rootfs") : "rootfs";
  return root.starts_with("/") ? root : c.dir + "/bundle/" + root;
}

// Docker's "OCI runtime exec failed" line for a command that cannot start, with its code.
[[noreturn]] void exec_failed(int code, const std::string& why) {
  throw RunError(code, fmt::format("OCI runtime exec failed: exec failed: unable to start "
                                   "container process: exec: {}: unknown",
                                   why));
}

}  // namespace

// ---- exec ------------------------------------------------------------------------------------

std::optional<std::string> find_on_path(const std::string& program, const std::string& path,
                                        const std::function<bool(const std::string&)>& exists) {
  if (program.find('/') != std::string::npos)
    return exists(program) ? std::optional(program) : std::nullopt;
  size_t start = 0;
  while (start <= path.size()) {
    size_t colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? colon : colon - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + program;
    if (exists(candidate)) return candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return std::nullopt;
}

int exec(const Paths& p, const std::string& id, const ExecRequest& r) {
  runtime::Explainer explain(p.explain);
  Container c = load(p, id);
  if (c.status != "running") throw DaemonError(fmt::format("container {} is not running", id));
  if (c.paused)
    throw DaemonError(fmt::format("container {} is paused, unpause the container before exec", id));
  if (r.command.empty()) throw lab::UserError("exec: say which command to run");

  // -e and --env-file as run takes them; the runtime adds them to the container's environment.
  auto lookup = [](const char* key) -> const char* { return std::getenv(key); };
  std::vector<std::string> env = exec::resolve_env(r.env_files, r.env, lookup);

  // Docker answers 127 (not found) or 126 (cannot run) before anything runs: the command is
  // looked up on its PATH as the container sees its files, its mounts (-v, --tmpfs) included:
  // from its init's root, /proc/PID/root, which is the container's "/" in its mount namespace,
  // without leaving it (symlinks included).
  std::string rootfs = container_rootfs(c);
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& list : {c.config.value("Env", std::vector<std::string>{}), env})
    for (const std::string& e : list)
      if (e.starts_with("PATH=")) path = e.substr(5);
  lab::UniqueFd root_fd = lab::open_root(fmt::format("/proc/{}/root", c.pid));
  const std::string& program = r.command.front();
  std::optional<std::string> found = find_on_path(program, path, [&](const std::string& f) {
    std::string in_root = f.starts_with("/") ? f : (r.workdir.empty() ? "/" : r.workdir) + "/" + f;
    lab::UniqueFd fd = lab::open_in_root_if_exists(root_fd.get(), in_root, O_PATH);
    struct stat st {};
    return fd && ::fstat(fd.get(), &st) == 0 && !S_ISDIR(st.st_mode);
  });
  if (!found) {
    if (program.find('/') != std::string::npos)
      exec_failed(127, fmt::format("\"{}\": stat {}: no such file or directory", program, program));
    exec_failed(127, fmt::format("\"{}\": executable file not found in $PATH", program));
  }
  {
    std::string in_root =
        found->starts_with("/") ? *found : (r.workdir.empty() ? "/" : r.workdir) + "/" + *found;
    lab::UniqueFd fd = lab::open_in_root_if_exists(root_fd.get(), in_root, O_PATH);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || (st.st_mode & 0111) == 0)
      exec_failed(126, fmt::format("\"{}\": permission denied", program));
  }

  std::vector<std::string> args = runtime_of(p, c);
  std::string pid_file =
      r.pid_file.empty() ? fmt::format("{}/exec-{}.pid", c.dir, ::getpid()) : r.pid_file;
  ::unlink(pid_file.c_str());
  args.insert(args.end(), {"exec", "--pid-file", pid_file});
  if (r.detach) args.push_back("--detach");
  // -t: a console socket of our own, as the monitor has for run -t; the runtime (ours or runc)
  // connects and sends the pty's master. Ours then waits for the process in the foreground and
  // exits with its code. runc takes a console socket only with --detach (in the foreground it
  // relays the pty itself), so runc gets --detach, as containerd's shim does it: we become a
  // child subreaper, the exec'd process is re-parented to us when the runtime exits, and we reap
  // it for its exit code.
  const std::string runtime_name = c.host_config.value("Runtime", "");
  const bool ours = runtime_name.empty() || runtime_name == "minidocker";
  std::optional<lab::TempDir> console_dir;
  lab::UniqueFd console;
  if (r.tty) {
    if (r.detach) throw lab::UserError("exec -d -t: a detached pty is not supported; drop -t");
    console_dir.emplace("/tmp/minidocker-exec-");
    std::string socket_path = console_dir->path() + "/console.sock";
    console = lab::UniqueFd(lab::check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0),
                                       "socket(AF_UNIX, SOCK_STREAM)"));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
    lab::check(::bind(console.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr),
               "bind(console socket)");
    lab::check(::listen(console.get(), 1), "listen(console socket)");
    if (!ours) args.push_back("--detach");
    args.insert(args.end(), {"--tty", "--console-socket", socket_path});
  }
  std::optional<exec::User> user;
  if (!r.user.empty())
    user = exec::resolve_user(r.user, lab::read_file_or_empty(rootfs + "/etc/passwd"),
                              lab::read_file_or_empty(rootfs + "/etc/group"));
  std::string process_file;
  if (r.tty && r.console_size) {
    // runc's exec flags have no console size; its --process file has (process.consoleSize), as
    // containerd's shim sends it. The file is the whole process, for runc and for ours: the
    // container's own (capabilities, rlimits, ...) with this command, environment, cwd and user.
    json process = read_json(c.dir + "/bundle/config.json").value("process", json::object());
    process["args"] = r.command;
    std::vector<std::string> merged = process.value("env", std::vector<std::string>{});
    for (const std::string& e : env) {
      std::string key = e.substr(0, e.find('=') + 1);
      std::erase_if(merged, [&](const std::string& old) { return old.starts_with(key); });
      merged.push_back(e);
    }
    process["env"] = merged;
    if (!r.workdir.empty()) process["cwd"] = r.workdir;
    if (user) {
      process["user"]["uid"] = user->uid;
      process["user"]["gid"] = user->gid;
      process["user"]["additionalGids"] = user->additional_gids;
    }
    process["terminal"] = true;
    process["consoleSize"] = {{"height", r.console_size->first},
                              {"width", r.console_size->second}};
    process_file = console_dir->path() + "/process.json";
    lab::create_file(process_file, process.dump(), 0600);
    args.insert(args.end(), {"--process", process_file, id});
  } else {
    for (const std::string& e : env) args.insert(args.end(), {"--env", e});
    if (!r.workdir.empty()) args.insert(args.end(), {"--cwd", r.workdir});
    if (user) {
      args.insert(args.end(), {"--user", fmt::format("{}:{}", user->uid, user->gid)});
      for (uint32_t g : user->additional_gids)
        args.insert(args.end(), {"--additional-gids", std::to_string(g)});
    }
    args.push_back(id);
    args.insert(args.end(), r.command.begin(), r.command.end());
  }
  explain.step("02",
               fmt::format("exec in {}: setns(2) into its namespaces, join its cgroup, execve {}",
                           id.substr(0, 12), program),
               joined(args));
  int status = 0;
  if (r.tty) {
    if (!ours) ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    pid_t runtime_pid = spawn(args, -1, r.stdout_fd, r.stderr_fd);
    // The master comes before the process runs; a runtime that fails first never connects.
    lab::UniqueFd master;
    for (;;) {
      pollfd pfd{console.get(), POLLIN, 0};
      if (::poll(&pfd, 1, 100) > 0) {
        lab::UniqueFd conn(lab::check(::accept4(console.get(), nullptr, nullptr, SOCK_CLOEXEC),
                                      "accept(console socket)"));
        master = runtime::terminal::receive_fd(conn.get());
        break;
      }
      if (::waitpid(runtime_pid, &status, WNOHANG) == runtime_pid) {
        runtime_pid = 0;
        break;
      }
    }
    if (ours) {
      // The runtime waits for the process: the pty is relayed meanwhile, its exit is the code.
      if (master && r.terminal) r.terminal(master.get());
      master.reset();
      if (runtime_pid != 0) status = wait_status(runtime_pid);
    } else {
      if (runtime_pid != 0) status = wait_status(runtime_pid);
      pid_t pid = static_cast<pid_t>(std::atol(lab::read_file_or_empty(pid_file).c_str()));
      if (master && WIFEXITED(status) && WEXITSTATUS(status) == 0 && pid > 0) {
        if (r.terminal) r.terminal(master.get());
        master.reset();
        status = wait_status(pid);  // ours to reap: we are its subreaper
      }
    }
  } else {
    status = r.detach
                 ? run_with_stdio(args, -1, -1, r.stderr_fd)
                 : run_with_stdio(args, r.interactive ? r.stdin_fd : -1, r.stdout_fd, r.stderr_fd);
  }
  bool started = !lab::read_file_or_empty(pid_file).empty();
  ::unlink(pid_file.c_str());
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  // No pid file: the runtime failed before the process ran (it said why on stderr); Docker's
  // code for a command that cannot be invoked.
  if (!started) return code == 0 ? 0 : 126;
  return r.detach ? 0 : code;
}

// ---- top -------------------------------------------------------------------------------------

std::vector<pid_t> container_pids(const Paths& p, const Container& c) {
  runtime::Explainer explain(p.explain);
  runtime::cgroups::Cgroup cgroup = runtime::cgroups::Cgroup::open(exec::cgroups_path(c.id));
  cgroup.release();  // open() owns what it finds: only read here, never removed
  std::vector<std::string> dirs = cgroup.paths();
  explain.step("04", "the container's processes: its cgroup's cgroup.procs",
               fmt::format("cat {}/cgroup.procs", dirs.empty() ? "?" : dirs.front()));
  std::vector<pid_t> pids = cgroup.processes();
  std::sort(pids.begin(), pids.end());
  return pids;
}

PsTable filter_ps_output(std::string_view ps_output, const std::vector<pid_t>& pids) {
  PsTable table;
  std::istringstream lines{std::string(ps_output)};
  std::string line;
  if (!std::getline(lines, line)) throw lab::UserError("ps printed nothing");
  std::istringstream header(line);
  for (std::string title; header >> title;) table.titles.push_back(title);
  auto pid_column = std::find(table.titles.begin(), table.titles.end(), "PID");
  if (pid_column == table.titles.end())
    throw lab::UserError("Couldn't find PID field in ps output");
  size_t pid_index = static_cast<size_t>(pid_column - table.titles.begin());
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::vector<std::string> fields;
    for (std::string w; words >> w;) fields.push_back(w);
    if (fields.size() <= pid_index) continue;
    auto pid = lab::whole_number(fields[pid_index]);
    if (!pid || std::find(pids.begin(), pids.end(), static_cast<pid_t>(*pid)) == pids.end())
      continue;
    // The last column (the command) keeps its spaces.
    std::vector<std::string> row(
        fields.begin(),
        fields.begin() + static_cast<long>(std::min(fields.size(), table.titles.size() - 1)));
    std::string rest;
    for (size_t i = table.titles.size() - 1; i < fields.size(); ++i)
      rest += (rest.empty() ? "" : " ") + fields[i];
    row.push_back(rest);
    table.rows.push_back(row);
  }
  return table;
}

PsTable top(const Paths& p, const std::string& id, std::vector<std::string> ps_args) {
  Container c = load(p, id);
  if (c.status != "running") throw DaemonError(fmt::format("container {} is not running", id));
  // As Docker's daemon: the host's ps (default -ef), only the rows of the container's PIDs.
  if (ps_args.empty()) ps_args = {"-ef"};
  std::vector<pid_t> pids = container_pids(p, c);
  std::vector<std::string> argv = {"ps"};
  argv.insert(argv.end(), ps_args.begin(), ps_args.end());
  int pipefd[2];
  lab::check(::pipe2(pipefd, O_CLOEXEC), "pipe2");
  lab::UniqueFd read_end(pipefd[0]), write_end(pipefd[1]);
  std::vector<char*> cargv;  // built before the fork, as spawn's
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = lab::check(::fork(), "fork");
  if (pid == 0) {
    ::dup2(write_end.get(), 1);
    ::close_range(3, ~0U, 0);
    ::execvp("ps", cargv.data());
    ::_exit(127);
  }
  write_end.reset();
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(read_end.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  int status = wait_status(pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw DaemonError(fmt::format("ps: exit status {}: {}", WEXITSTATUS(status), out));
  return filter_ps_output(out, pids);
}

// ---- stats -----------------------------------------------------------------------------------

uint64_t parse_proc_stat_cpu_ns(std::string_view text, long ticks_per_second) {
  std::istringstream in{std::string(text.substr(0, text.find('\n')))};
  std::string name;
  in >> name;
  if (name != "cpu") return 0;
  uint64_t total = 0;
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  for (int i = 0; i < 8; ++i) {
    uint64_t v = 0;
    if (!(in >> v)) break;
    total += v;
  }
  return total * (1000000000ULL / static_cast<uint64_t>(ticks_per_second));
}

std::optional<uint64_t> parse_keyed(std::string_view text, std::string_view key) {
  std::istringstream in{std::string(text)};
  std::string k;
  uint64_t v = 0;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    if (words >> k >> v && k == key) return v;
  }
  return std::nullopt;
}

std::optional<uint64_t> parse_limit(std::string_view text, uint64_t host_memory) {
  std::string t = lab::trim(std::string(text));
  if (t.empty() || t == "max") return std::nullopt;
  auto v = lab::whole_number(t);
  if (!v || *v < 0) return std::nullopt;
  // v1 writes "no limit" as a huge page-rounded number (9223372036854771712).
  if (static_cast<uint64_t>(*v) >= host_memory && host_memory != 0) return std::nullopt;
  return static_cast<uint64_t>(*v);
}

std::pair<uint64_t, uint64_t> parse_blkio_v1(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string line;
  uint64_t read = 0, write = 0;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string device, op;
    uint64_t v = 0;
    if (!(words >> device >> op >> v)) continue;
    std::transform(op.begin(), op.end(), op.begin(), ::tolower);
    if (op == "read") read += v;
    if (op == "write") write += v;
  }
  return {read, write};
}

std::pair<uint64_t, uint64_t> parse_io_stat_v2(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string word;
  uint64_t read = 0, write = 0;
  while (in >> word) {
    if (word.starts_with("rbytes=")) read += std::strtoull(word.c_str() + 7, nullptr, 10);
    if (word.starts_with("wbytes=")) write += std::strtoull(word.c_str() + 7, nullptr, 10);
  }
  return {read, write};
}

std::pair<uint64_t, uint64_t> parse_net_dev(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string line;
  uint64_t rx = 0, tx = 0;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;  // the two header lines
    std::string name;
    std::istringstream(line.substr(0, colon)) >> name;  // the names are right-aligned
    if (name == "lo") continue;
    std::istringstream fields(line.substr(colon + 1));
    std::vector<uint64_t> v;
    for (uint64_t x; fields >> x;) v.push_back(x);
    if (v.size() < 9) continue;
    rx += v[0];  // receive: bytes packets errs drop fifo frame compressed multicast
    tx += v[8];  // transmit: bytes ...
  }
  return {rx, tx};
}

double cpu_percent(const Sample& before, const Sample& after, long online_cpus) {
  double cpu_delta =
      static_cast<double>(after.cpu_usage_ns) - static_cast<double>(before.cpu_usage_ns);
  double system_delta =
      static_cast<double>(after.system_usage_ns) - static_cast<double>(before.system_usage_ns);
  if (cpu_delta <= 0 || system_delta <= 0) return 0.0;
  return cpu_delta / system_delta * static_cast<double>(online_cpus) * 100.0;
}

namespace {
std::string go_units(double size, double base, const std::vector<const char*>& units,
                     int precision) {
  size_t i = 0;
  while (size >= base && i + 1 < units.size()) {
    size /= base;
    ++i;
  }
  return fmt::format("{:.{}g}{}", size, precision, units[i]);
}
}  // namespace

std::string bytes_size(double bytes) {
  return go_units(bytes, 1024.0, {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}, 4);
}

std::string human_size(double bytes) {
  return go_units(bytes, 1000.0, {"B", "kB", "MB", "GB", "TB", "PB", "EB"}, 3);
}

Sample sample(const Container& c) {
  Sample s;
  long ticks = ::sysconf(_SC_CLK_TCK);
  s.system_usage_ns = parse_proc_stat_cpu_ns(lab::read_file_or_empty("/proc/stat"), ticks);
  uint64_t host_memory =
      parse_keyed(lab::read_file_or_empty("/proc/meminfo"), "MemTotal:").value_or(0) * 1024;
  runtime::cgroups::Cgroup cgroup = runtime::cgroups::Cgroup::open(exec::cgroups_path(c.id));
  cgroup.release();  // open() owns what it finds: only read here, never removed
  auto file = [&](const std::string& controller, const std::string& name) {
    std::string dir = cgroup.path_in(controller);
    return dir.empty() ? std::string() : lab::read_file_or_empty(dir + "/" + name);
  };
  auto v1 = [&](const std::string& controller) {
    return !cgroup.path_in(controller).empty() &&
           cgroup.version_of(controller) == cgroup::Version::v1;
  };
  // CPU: v1 cpuacct.usage is in ns; v2 cpu.stat's usage_usec in us.
  if (v1("cpuacct"))
    s.cpu_usage_ns = std::strtoull(file("cpuacct", "cpuacct.usage").c_str(), nullptr, 10);
  else
    s.cpu_usage_ns = parse_keyed(file("cpu", "cpu.stat"), "usage_usec").value_or(0) * 1000;
  // Memory: usage less the inactive page cache, as Docker's CLI shows it.
  if (v1("memory")) {
    uint64_t usage = std::strtoull(file("memory", "memory.usage_in_bytes").c_str(), nullptr, 10);
    uint64_t inactive =
        parse_keyed(file("memory", "memory.stat"), "total_inactive_file").value_or(0);
    s.memory_usage = inactive < usage ? usage - inactive : usage;
    s.memory_limit =
        parse_limit(file("memory", "memory.limit_in_bytes"), host_memory).value_or(host_memory);
  } else {
    uint64_t usage = std::strtoull(file("memory", "memory.current").c_str(), nullptr, 10);
    uint64_t inactive = parse_keyed(file("memory", "memory.stat"), "inactive_file").value_or(0);
    s.memory_usage = inactive < usage ? usage - inactive : usage;
    s.memory_limit = parse_limit(file("memory", "memory.max"), host_memory).value_or(host_memory);
  }
  std::string pids = file("pids", "pids.current");
  s.pids = pids.empty() ? cgroup.processes().size() : std::strtoull(pids.c_str(), nullptr, 10);
  if (v1("blkio")) {
    std::string text = file("blkio", "blkio.throttle.io_service_bytes_recursive");
    if (text.empty()) text = file("blkio", "blkio.throttle.io_service_bytes");
    std::tie(s.block_read, s.block_write) = parse_blkio_v1(text);
  } else {
    std::tie(s.block_read, s.block_write) = parse_io_stat_v2(file("io", "io.stat"));
  }
  // The network namespace's counters, read through its init; a --network host container has
  // no namespace of its own and shows none (Docker does the same).
  if (c.pid > 0 && c.host_config.value("NetworkMode", "") != "host")
    std::tie(s.net_rx, s.net_tx) =
        parse_net_dev(lab::read_file_or_empty(fmt::format("/proc/{}/net/dev", c.pid)));
  return s;
}

// ---- pause, unpause, rename ------------------------------------------------------------------

void pause(const Paths& p, const std::string& id) {
  runtime::Explainer explain(p.explain);
  Container c = load(p, id);
  if (c.status != "running") throw DaemonError(fmt::format("container {} is not running", id));
  if (c.paused) throw DaemonError(fmt::format("Container {} is already paused", id));
  explain.step("04", "freeze the container's cgroup (v1 freezer.state, v2 cgroup.freeze)",
               fmt::format("{} pause {}", joined(runtime_of(p, c)), id));
  auto [code, text] = runtime_quietly(p, c, {"pause", id});
  if (code != 0) throw DaemonError(text.empty() ? "the runtime's pause failed" : text);
  set_paused(c, true);
}

void unpause(const Paths& p, const std::string& id) {
  runtime::Explainer explain(p.explain);
  Container c = load(p, id);
  if (!c.paused) throw DaemonError(fmt::format("Container {} is not paused", id));
  explain.step("04", "thaw the container's cgroup",
               fmt::format("{} resume {}", joined(runtime_of(p, c)), id));
  auto [code, text] = runtime_quietly(p, c, {"resume", id});
  if (code != 0) throw DaemonError(text.empty() ? "the runtime's resume failed" : text);
  set_paused(c, false);
}

void resume_after_signal(const Paths& p, const Container& c) {
  if (!c.paused) return;
  // The signal waits, pending, until the processes are thawed: then it is delivered.
  runtime_quietly(p, c, {"resume", c.id});
  set_paused(c, false);
}

void rename(const Paths& p, const std::string& ref, const std::string& wanted) {
  std::string name = wanted.starts_with("/") ? wanted.substr(1) : wanted;
  if (!valid_name(name))
    throw DaemonError(fmt::format(
        "Invalid container name ({}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name));
  // The names are taken under <root>/containers.lock, as create takes them.
  fs::create_directories(p.root + "/containers");
  lab::UniqueFd lock =
      lab::open_fd(p.root + "/containers.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  lab::check(::flock(lock.get(), LOCK_EX), "flock(containers.lock, LOCK_EX)");
  std::string id;
  try {
    id = resolve(p, ref);
  } catch (const lab::UserError& e) {
    throw DaemonError(e.what());
  }
  std::string record_path = p.root + "/containers/" + id + "/config.v2.json";
  json record = read_json(record_path);
  if (record.value("Name", "") == "/" + name)
    throw DaemonError("Renaming a container with the same name as its current name");
  try {
    std::string other = resolve(p, name);
    if (read_json(p.root + "/containers/" + other + "/config.v2.json").value("Name", "") ==
        "/" + name)
      throw DaemonError(
          fmt::format("Conflict. The container name \"/{}\" is already in use by "
                      "container \"{}\". You have to remove (or rename) that "
                      "container to be able to reuse that name.",
                      name, other));
  } catch (const lab::UserError&) {
    // free
  }
  record["Name"] = "/" + name;
  graph::write_file_atomically(record_path, record.dump(2) + "\n");
}

}  // namespace engine
