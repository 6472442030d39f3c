#include "engine/containers.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <thread>

#include "engine/flags.hpp"
#include "engine/networking.hpp"
#include "engine/ops.hpp"
#include "engine/restart.hpp"
#include "engine/volumes.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "graph/driver.hpp"
#include "graph/store.hpp"
#include "mount.hpp"
#include "path_in_root.hpp"
#include "runtime/explain.hpp"
#include "runtime/container.hpp"
#include "runtime/state.hpp"

namespace engine {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string container_dir(const Paths& p, const std::string& id) {
  return p.root + "/containers/" + id;
}

// flock(2) on <root>/containers.lock: names are taken and containers removed one at a time.
lab::UniqueFd lock_containers(const Paths& p) {
  fs::create_directories(p.root + "/containers");
  lab::UniqueFd fd = lab::open_fd(p.root + "/containers.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  lab::check(::flock(fd.get(), LOCK_EX), "flock(containers.lock, LOCK_EX)");
  return fd;
}

std::string new_id() {
  unsigned char bytes[32];
  lab::check(::getrandom(bytes, sizeof bytes, 0), "getrandom(32)");
  std::string id;
  for (unsigned char b : bytes) id += fmt::format("{:02x}", b);
  return id;
}

uint64_t random_u64() {
  uint64_t r = 0;
  lab::check(::getrandom(&r, sizeof r, 0), "getrandom(8)");
  return r;
}

json read_json(const std::string& path) {
  std::string text = lab::read_file_or_empty(path);
  if (text.empty()) return json();
  return json::parse(text, nullptr, false);
}

// The runtime's command line before its verb: ours is `minirunc --root STATE` (the static program
// of the runtime alone, beside minidocker: see minirunc.cpp), runc's `runc --root STATE`; both take
// the same bundle.
std::vector<std::string> runtime_argv(const Paths& p, const std::string& runtime) {
  if (runtime.empty() || runtime == "minidocker")
    return {p.minirunc, "--root", p.root + "/run/minidocker"};
  std::string path = runtime;
  if (runtime.find('/') == std::string::npos) {
    path.clear();
    std::string search =
        std::getenv("PATH") ? std::getenv("PATH") : "/usr/sbin:/usr/bin:/sbin:/bin";
    size_t start = 0;
    while (start <= search.size()) {
      size_t colon = search.find(':', start);
      std::string dir = search.substr(start, colon == std::string::npos ? colon : colon - start);
      if (!dir.empty() && ::access((dir + "/" + runtime).c_str(), X_OK) == 0) {
        path = dir + "/" + runtime;
        break;
      }
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    if (path.empty())
      throw lab::UserError(fmt::format("unknown or invalid runtime name: {}", runtime));
  } else if (::access(runtime.c_str(), X_OK) != 0) {
    throw lab::UserError(fmt::format("unknown or invalid runtime name: {}", runtime));
  }
  std::string name = fs::path(path).filename().string();
  return {path, "--root", p.root + "/run/" + name};
}

struct Output {
  int status = 0;
  std::string text;
};

// Runs the runtime (or anything) and collects its stdout and stderr together.
//
// Every fork here is followed by an execve with only system calls in between (dup2, open,
// close_range, setsid: async-signal-safe): in the daemon other threads run meanwhile, and the
// child has a copy of their memory as it was, a lock they held (malloc's, stdio's) held for good
// in it. So the argv is built before the fork; and fds above 2 are closed in the child, as the
// daemon's sockets are not all close-on-exec, and one kept open by a runtime would keep a
// client's connection open after the daemon closed it.
Output run_quietly(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int pipefd[2];
  lab::check(::pipe2(pipefd, O_CLOEXEC), "pipe2");
  pid_t pid = lab::check(::fork(), "fork");
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    ::dup2(null, 0);
    ::close_range(3, ~0U, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  Output out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) out.text.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  while (::waitpid(pid, &out.status, 0) == -1 && errno == EINTR) {
  }
  return out;
}

Output runtime_verb(const Paths& p, const json& record, std::vector<std::string> verb) {
  std::vector<std::string> args = runtime_argv(p, record["HostConfig"].value("Runtime", ""));
  args.insert(args.end(), verb.begin(), verb.end());
  return run_quietly(args);
}

bool alive(int pid, unsigned long long start_time) {
  return pid > 0 && start_time != 0 && runtime::state::process_start_time(pid) == start_time;
}

void write_state(const std::string& dir, const json& state) {
  graph::write_file_atomically(dir + "/state.json", state.dump() + "\n");
}

int64_t seconds_of(const std::string& rfc3339) { return graph::parse_rfc3339(rfc3339); }

const char* const kAdjectives[] = {
    "admiring",    "adoring",   "affectionate", "agitated",      "amazing",   "angry",
    "awesome",     "beautiful", "blissful",     "bold",          "boring",    "brave",
    "busy",        "charming",  "clever",       "compassionate", "competent", "condescending",
    "confident",   "cool",      "cranky",       "crazy",         "dazzling",  "determined",
    "distracted",  "dreamy",    "eager",        "ecstatic",      "elastic",   "elated",
    "elegant",     "eloquent",  "epic",         "exciting",      "fervent",   "festive",
    "flamboyant",  "focused",   "friendly",     "frosty",        "funny",     "gallant",
    "gifted",      "goofy",     "gracious",     "great",         "happy",     "hardcore",
    "heuristic",   "hopeful",   "hungry",       "infallible",    "inspiring", "intelligent",
    "interesting", "jolly",     "jovial",       "keen",          "kind",      "laughing",
    "loving",      "lucid",     "magical",      "modest",        "musing",    "mystifying",
    "naughty",     "nervous",   "nice",         "nifty",         "nostalgic", "objective",
    "optimistic",  "peaceful",  "pedantic",     "pensive",       "practical", "priceless",
    "quirky",      "quizzical", "recursing",    "relaxed",       "reverent",  "romantic",
    "sad",         "serene",    "sharp",        "silly",         "sleepy",    "stoic",
    "strange",     "stupefied", "suspicious",   "sweet",         "tender",    "thirsty",
    "trusting",    "unruffled", "upbeat",       "vibrant",       "vigilant",  "vigorous",
    "wizardly",    "wonderful", "xenodochial",  "youthful",      "zealous",   "zen"};
const char* const kSurnames[] = {
    "albattani", "allen",         "almeida",     "archimedes", "ardinghelli",  "babbage",
    "bardeen",   "bartik",        "bell",        "blackwell",  "bohr",         "booth",
    "borg",      "bose",          "brahmagupta", "brattain",   "brown",        "carson",
    "cerf",      "chandrasekhar", "curie",       "darwin",     "davinci",      "dijkstra",
    "einstein",  "elion",         "engelbart",   "euclid",     "euler",        "fermat",
    "fermi",     "feynman",       "franklin",    "galileo",    "gates",        "goldberg",
    "goodall",   "hamilton",      "hawking",     "heisenberg", "hodgkin",      "hopper",
    "hypatia",   "jang",          "jennings",    "johnson",    "kalam",        "kepler",
    "khorana",   "knuth",         "kowalevski",  "lalande",    "lamport",      "leakey",
    "lovelace",  "lumiere",       "mayer",       "mccarthy",   "mcclintock",   "meitner",
    "mendel",    "merkle",        "minsky",      "montalcini", "morse",        "newton",
    "nobel",     "noether",       "pare",        "pascal",     "pasteur",      "perlman",
    "pike",      "poincare",      "ptolemy",     "raman",      "ritchie",      "rosalind",
    "sammet",    "shannon",       "shockley",    "sinoussi",   "stallman",     "swanson",
    "tesla",     "thompson",      "torvalds",    "turing",     "varahamihira", "wescoff",
    "wiles",     "williams",      "wilson",      "wing",       "wozniak",      "wright",
    "yalow",     "yonath"};

}  // namespace

void kill_point(const char* step) {
  const char* at = ::getenv("MINIDOCKER_ENGINE_KILL_AT");
  if (at && std::string_view(at) == step) ::raise(SIGKILL);
}

// ---- pure logic ------------------------------------------------------------------------------

std::string random_name(uint64_t r) {
  constexpr size_t na = std::size(kAdjectives), ns = std::size(kSurnames);
  for (;;) {
    std::string name = fmt::format("{}_{}", kAdjectives[r % na], kSurnames[(r / na) % ns]);
    if (name != "boring_wozniak") return name;  // "Steve Wozniak is not boring" (Docker's rule)
    r = r / (na * ns) + 1;
  }
}

bool valid_name(const std::string& name) {
  if (name.empty() || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

std::string status_text(const Container& c, int64_t now) {
  if (c.restarting)
    return fmt::format(
        "Restarting ({}) {} ago", c.exit_code,
        graph::human_duration(std::max<int64_t>(0, now - seconds_of(c.finished_at))));
  if (c.status == "running")
    return "Up " + graph::human_duration(std::max<int64_t>(0, now - seconds_of(c.started_at))) +
           (c.paused ? " (Paused)" : "");
  if (c.status == "exited") {
    if (c.finished_at.empty()) return fmt::format("Exited ({})", c.exit_code);
    return fmt::format(
        "Exited ({}) {} ago", c.exit_code,
        graph::human_duration(std::max<int64_t>(0, now - seconds_of(c.finished_at))));
  }
  return "Created";
}

int create_failure_code(const std::string& message) {
  if (message.find("not found") != std::string::npos ||
      message.find("No such file or directory") != std::string::npos)
    return 127;
  if (message.find("ermission denied") != std::string::npos ||
      message.find("is a directory") != std::string::npos)
    return 126;
  return 125;
}

// ---- jobs ------------------------------------------------------------------------------------

Paths paths_for(const std::string& root, bool explain) {
  Paths p;
  p.root = fs::absolute(root).lexically_normal().string();
  if (p.root.size() > 1 && p.root.back() == '/') p.root.pop_back();
  p.minidocker = fs::read_symlink("/proc/self/exe").string();
  p.monitor = (fs::path(p.minidocker).parent_path() / "minidocker-monitor").string();
  p.minirunc = (fs::path(p.minidocker).parent_path() / "minirunc").string();
  p.explain = explain;
  return p;
}

std::string resolve(const Paths& p, const std::string& ref) {
  std::string wanted = ref.starts_with("/") ? ref.substr(1) : ref;
  std::vector<std::string> by_prefix;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(p.root + "/containers", ec)) {
    std::string id = entry.path().filename().string();
    json record = read_json(entry.path().string() + "/config.v2.json");
    if (!record.is_object()) continue;
    if (id == wanted || record.value("Name", "") == "/" + wanted) return id;
    if (!wanted.empty() && id.starts_with(wanted)) by_prefix.push_back(id);
  }
  if (by_prefix.size() == 1) return by_prefix.front();
  if (by_prefix.size() > 1)
    throw lab::UserError(fmt::format("multiple IDs found with provided prefix: {}", ref));
  throw lab::UserError("No such container: " + ref);
}

Container load(const Paths& p, const std::string& id) {
  Container c;
  c.id = id;
  c.dir = container_dir(p, id);
  json record = read_json(c.dir + "/config.v2.json");
  if (!record.is_object()) throw lab::UserError("No such container: " + id);
  c.name = record.value("Name", "");
  c.image_id = record.value("Image", "");
  c.image_name = record["Config"].value("Image", "");
  c.created = record.value("Created", "");
  c.path = record.value("Path", "");
  c.args = record.value("Args", std::vector<std::string>{});
  c.config = record["Config"];
  c.host_config = record["HostConfig"];
  c.mounts = record.value("Mounts", json::array());
  json state = read_json(c.dir + "/state.json");
  json done = read_json(c.dir + "/exit.json");
  if (state.is_object()) {
    c.status = state.value("Status", "created");
    c.pid = state.value("Pid", 0);
    c.started_at = state.value("StartedAt", "");
    c.monitor_pid = state.value("MonitorPid", 0);
    c.finished_at = state.value("FinishedAt", "");  // the previous run's, once restarted
    c.paused = c.status == "running" && state.value("Paused", false);
    c.error = state.value("Error", "");  // a program that could not be run (start_failed)
    c.exit_code = state.value("ExitCode", 0);
  }
  if (!done.is_object() && state.is_object() && c.monitor_pid != 0 &&
      !alive(c.monitor_pid, state.value("MonitorStartTime", 0ULL)))
    // The monitor writes exit.json and then exits: gone now, it may have written it since the
    // read above (read again, or a clean exit would be taken for a killed monitor below).
    done = read_json(c.dir + "/exit.json");
  if (done.is_object()) {
    c.status = "exited";
    c.paused = false;
    c.pid = 0;
    c.exit_code = done.value("ExitCode", 0);
    c.finished_at = done.value("FinishedAt", "");
    c.oom_killed = done.value("OOMKilled", false);
    c.error = done.value("Error", "");
    c.restart_count = restart_count(c.dir);
    c.restarting = restart_pending(c.dir);
    return c;
  }
  c.restart_count = restart_count(c.dir);
  // A restart between its new monitor and its start ("created" for a moment): still restarting.
  if (c.status == "created" && c.monitor_pid != 0) c.restarting = restart_pending(c.dir);
  if (state.is_object() && c.monitor_pid != 0 &&
      !alive(c.monitor_pid, state.value("MonitorStartTime", 0ULL))) {
    // The monitor was killed: nobody holds the container's stdio or will record its exit. As
    // containerd does when a shim dies, the container is killed and recorded as killed (137).
    runtime_verb(p, record, {"delete", "--force", id});
    json exit_record = {{"ExitCode", 137},
                        {"FinishedAt", graph::rfc3339_now()},
                        {"OOMKilled", false},
                        {"Error", "the container's monitor died"}};
    graph::write_file_atomically(c.dir + "/exit.json", exit_record.dump() + "\n");
    c.status = "exited";
    c.paused = false;
    c.pid = 0;
    c.exit_code = 137;
    c.finished_at = exit_record["FinishedAt"];
    c.error = exit_record["Error"];
  }
  return c;
}

std::vector<Container> list(const Paths& p) {
  std::vector<Container> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(p.root + "/containers", ec)) {
    if (!fs::exists(entry.path() / "config.v2.json")) continue;
    try {
      out.push_back(load(p, entry.path().filename().string()));
    } catch (const lab::UserError&) {
      // removed meanwhile
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Container& a, const Container& b) { return a.created > b.created; });
  return out;
}

// The file at `path` (absolute, in the container) as the container will see it once its mounts
// are made, the lookup runc makes in the container after them: under the deepest of the spec's
// mounts that holds it (a bind mount: in its host source; a tmpfs or a kernel filesystem: none of
// the image's files), else in the rootfs. A symlink is followed within the tree it is in.
static lab::UniqueFd open_in_container(int root_fd, const json& mounts, const std::string& path) {
  std::string file = fs::path(path).lexically_normal().string();
  const json* under = nullptr;
  size_t depth = 0;
  for (const json& m : mounts) {
    std::string dest = fs::path(m.value("destination", "")).lexically_normal().string();
    while (dest.size() > 1 && dest.back() == '/') dest.pop_back();
    bool holds = dest == "/" || file == dest || file.starts_with(dest + "/");
    if (holds && dest.size() >= depth) {  // the later of two at one place is on top
      under = &m;
      depth = dest.size();
    }
  }
  if (!under) return lab::open_in_root_if_exists(root_fd, file, O_PATH);
  std::vector<std::string> options = under->value("options", std::vector<std::string>{});
  bool bind = under->value("type", "") == "bind" ||
              std::find(options.begin(), options.end(), "bind") != options.end() ||
              std::find(options.begin(), options.end(), "rbind") != options.end();
  if (!bind) return {};
  std::string source = under->value("source", "");
  std::string rest = file.substr(std::min(file.size(), depth == 1 ? size_t{0} : depth));
  if (rest.empty() || rest == "/") {
    int fd = ::open(source.c_str(), O_PATH | O_CLOEXEC);
    return lab::UniqueFd(fd);
  }
  std::error_code ec;
  if (!fs::is_directory(source, ec)) return {};
  return lab::open_in_root_if_exists(lab::open_root(source).get(), rest, O_PATH);
}

// Docker answers 127 for a program not found, 126 for one that cannot be run, with its exec
// words; the runtime would only fail at its execve, after start. runc looks the program up in
// the container, after its mounts (a script on a -v volume runs, by its path or on a PATH that
// names the volume): so here it is looked up as the container will see it (open_in_container).
// A name without '/' is looked up on the PATH of the bundle's `process` (its env and cwd), as
// Go's LookPath (executable files only); with --init (`on_path` false) tini looks it up, and
// fails as it does.
static void check_program(const std::string& rootfs, const std::string& program,
                          const json& process, const json& mounts, bool on_path) {
  lab::UniqueFd root_fd = lab::open_root(rootfs);
  std::string cwd = process.value("cwd", "/");
  auto open = [&](const std::string& f) {
    return open_in_container(root_fd.get(), mounts, f.starts_with("/") ? f : cwd + "/" + f);
  };
  if (program.find('/') == std::string::npos) {
    if (!on_path) return;
    std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const std::string& e : process.value("env", std::vector<std::string>{}))
      if (e.starts_with("PATH=")) path = e.substr(5);
    auto found = find_on_path(program, path, [&](const std::string& f) {
      lab::UniqueFd fd = open(f);
      struct stat st {};
      return fd && ::fstat(fd.get(), &st) == 0 && !S_ISDIR(st.st_mode) && (st.st_mode & 0111);
    });
    if (!found)
      throw RunError(127, fmt::format("exec: \"{}\": executable file not found in $PATH", program));
    return;
  }
  lab::UniqueFd file = open(program);
  struct stat st {};
  if (!file)
    throw RunError(
        127, fmt::format("exec: \"{}\": stat {}: no such file or directory", program, program));
  if (::fstat(file.get(), &st) == 0 && (S_ISDIR(st.st_mode) || (st.st_mode & 0111) == 0))
    throw RunError(126, fmt::format("exec: \"{}\": permission denied", program));
}

// The program of container `id` could not be run: nothing runs (the runtime's state and cgroup,
// if its create left any, are deleted; no monitor), the container stays "created" with its
// rootfs, network and bundle for a later start, and state.json records the error and the code.
static void start_failed(const Paths& p, const std::string& id, const RunError& e,
                         const runtime::Explainer& explain) {
  std::string dir = container_dir(p, id);
  explain.step("engine",
               fmt::format("{} cannot run its program ({}): it stays created, nothing running",
                           id.substr(0, 12), e.what()),
               fmt::format("runtime delete --force {}", id));
  runtime_verb(p, read_json(dir + "/config.v2.json"), {"delete", "--force", id});
  write_state(dir, {{"Status", "created"}, {"Error", e.what()}, {"ExitCode", e.code}});
}

// [monitor] fork, setsid, fork: the monitor is re-parented to init and outlives us. It runs the
// runtime's create from the container's bundle and answers on a pipe; then state.json says
// "created". Used by create, and by start of an exited container (a new monitor, the same bundle,
// rootfs and log). With `stdin_fd` the container's stdin is that fd; else -i gives it a pipe the
// monitor feeds from the attach socket. With `exit_fd` the monitor writes the exit code there.
static void launch_monitor(const Paths& p, const std::string& id, const json& record, int stdin_fd,
                           int exit_fd) {
  runtime::Explainer explain(p.explain);
  std::string dir = container_dir(p, id);
  const json& host = record["HostConfig"];
  std::vector<std::string> runtime = runtime_argv(p, host.value("Runtime", ""));
  std::string flags;
  if (host.value("AutoRemove", false)) flags += ",rm";
  if (restart_policy_of(host).name != "no") flags += ",restart";
  if (record["Config"].value("Tty", false)) flags += ",tty";
  if (record["Config"].value("OpenStdin", false) && stdin_fd < 0) flags += ",stdin";
  flags = flags.empty() ? "-" : flags.substr(1);
  std::string runtime_line;
  for (const auto& a : runtime) runtime_line += (runtime_line.empty() ? "" : " ") + a;
  explain.step("monitor",
               fmt::format("start the monitor, which runs the runtime: {} create --bundle "
                           "{}/bundle {}{}",
                           runtime_line, dir, id.substr(0, 12),
                           flags.find("tty") != std::string::npos
                               ? " (with a pty: its master comes back over the console socket)"
                               : ""),
               fmt::format("{} create --bundle {}/bundle --pid-file {}/init.pid {}{}", runtime_line,
                           dir, dir,
                           flags.find("tty") != std::string::npos
                               ? fmt::format("--console-socket {}/console.sock ", dir)
                               : "",
                           id));
  std::vector<std::string> margs = {p.monitor, dir,          id,    exec::cgroups_path(id),
                                    flags,     p.minidocker, p.root};
  margs.insert(margs.end(), runtime.begin(), runtime.end());
  std::vector<char*> argv;  // built before the fork: see run_quietly
  for (auto& a : margs) argv.push_back(a.data());
  argv.push_back(nullptr);
  int report[2];
  lab::check(::pipe2(report, O_CLOEXEC), "pipe2");
  lab::UniqueFd report_read(report[0]);
  pid_t first = lab::check(::fork(), "fork");
  if (first == 0) {
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    // Every fd is first copied above 9, so no dup2 below overwrites one not yet placed (and
    // dup2 onto itself would keep O_CLOEXEC).
    int null = ::fcntl(::open("/dev/null", O_RDWR), F_DUPFD, 10);
    int child_in = ::fcntl(stdin_fd >= 0 ? stdin_fd : null, F_DUPFD, 10);
    int rep = ::fcntl(report[1], F_DUPFD, 10);
    int ex = ::fcntl(exit_fd >= 0 ? exit_fd : null, F_DUPFD, 10);
    ::dup2(child_in, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::dup2(rep, 3);
    ::dup2(ex, 4);
    ::close_range(5, ~0U, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(report[1]);
  int status = 0;
  while (::waitpid(first, &status, 0) == -1 && errno == EINTR) {
  }
  std::string answer;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(report_read.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) answer.append(buf, static_cast<size_t>(n));
  if (!answer.starts_with("ok ")) {
    std::string message = answer.starts_with("err ") ? answer.substr(4) : answer;
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    if (message.starts_with("minirunc: ")) message = message.substr(10);
    // runc logs as logrus does: time="..." level=error msg="..."
    if (size_t at = message.find("msg=\""); at != std::string::npos) {
      message = json::parse(message.substr(at + 4, message.rfind('"') - at - 3), nullptr, false)
                    .get<std::string>();
    }
    if (message.empty()) message = "the monitor did not start the container";
    throw RunError(create_failure_code(message), message);
  }
  kill_point("monitor");
  int init_pid = 0, monitor_pid = 0;
  std::sscanf(answer.c_str(), "ok %d %d", &init_pid, &monitor_pid);
  write_state(dir, {{"Status", "created"},
                    {"Pid", init_pid},
                    {"MonitorPid", monitor_pid},
                    {"MonitorStartTime", runtime::state::process_start_time(monitor_pid)}});
}

std::string create(const Paths& p, const CreateRequest& r, int stdin_fd, int exit_fd) {
  runtime::Explainer explain(p.explain);
  const exec::RunOptions& o = r.options;
  if (!r.name.empty() && !valid_name(r.name.starts_with("/") ? r.name.substr(1) : r.name))
    throw lab::UserError(fmt::format(
        "Invalid container name ({}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", r.name));
  exec::Limits limits = exec::parse_limits(o, ::sysconf(_SC_NPROCESSORS_ONLN));
  if (limits.memory) limits = adapt_swap(limits, swap_accounting());
  const std::string init = o.init ? init_binary() : "";  // --init: tini, checked first
  runtime_argv(p, r.runtime);  // an unknown runtime is refused before anything is made
  RestartPolicy restart_policy = parse_restart_policy(r.restart);
  if (r.auto_remove && restart_policy.name != "no")
    throw lab::UserError("Conflicting options: --restart and --rm");
  if (::access(p.monitor.c_str(), X_OK) != 0)
    throw lab::UserError(fmt::format("{} is missing: build it with make in final/", p.monitor));
  // Resolve -e KEY and --env-file against our environment before anything is made.
  auto lookup = [](const char* key) -> const char* { return std::getenv(key); };
  std::vector<std::string> env = exec::resolve_env(o.env_files, o.env, lookup);
  NetworkRequest net = check_network(p, o.network, r.publish, o.hostname);

  graph::Store store(p.root);
  auto store_lock = store.lock(graph::LockMode::shared);
  std::string image_id = store.resolve(r.image);
  graph::Image image = store.image(image_id);
  json image_config = image.config.value("config", json::object());
  if (image_config.is_null()) image_config = json::object();
  exec::RunOptions resolved = o;
  resolved.env = env;
  // Docker's daemon gives a -t container TERM=xterm unless it was set.
  if (o.tty && std::none_of(env.begin(), env.end(),
                            [](const std::string& e) { return e.starts_with("TERM="); }))
    resolved.env.push_back("TERM=xterm");
  std::vector<std::string> args = exec::process_args(image_config, resolved);
  if (args.empty()) throw lab::UserError("No command specified");
  // -v, --tmpfs, --mount and the image's VOLUMEs, checked before anything is made.
  std::vector<MountSpec> mounts = container_mounts(o, image_config, [] { return new_id(); });

  // [engine] the name, under the lock; the record is written before anything else is made, so
  // whatever a crash leaves is found by its record (or is a directory without one: prune).
  std::string id = new_id();
  std::string dir = container_dir(p, id);
  std::string name, rootfs;
  const std::string hostname = hostname_for(p, net, id, o.hostname);
  {
    lab::UniqueFd names = lock_containers(p);
    if (!r.name.empty()) {
      name = r.name.starts_with("/") ? r.name.substr(1) : r.name;
      try {
        std::string other = resolve(p, name);
        json rec = read_json(container_dir(p, other) + "/config.v2.json");
        if (rec.value("Name", "") == "/" + name)
          throw RunError(125, fmt::format("Conflict. The container name \"/{}\" is already in use "
                                          "by container \"{}\". You have to remove (or rename) "
                                          "that container to be able to reuse that name.",
                                          name, other));
      } catch (const lab::UserError&) {
      }
    } else {
      for (int i = 0; i < 10 && name.empty(); ++i) {
        name = random_name(random_u64());
        try {
          resolve(p, name);
          name.clear();
        } catch (const lab::UserError&) {
        }
      }
    }
    explain.step("engine",
                 fmt::format("record the container {} \"/{}\" of image {}", id.substr(0, 12), name,
                             image_id.substr(7, 12)),
                 fmt::format("mkdir {}", dir));
    // The graph driver makes <root>/containers/<id> with the rootfs (lesson 05); the record goes
    // beside it.
    graph::RootfsRequest rootfs_request{id, {}, hostname, r.auto_remove};
    for (const auto& layer : image.layers) rootfs_request.layers.push_back(layer.diff_id.substr(7));
    rootfs = graph::prepare_rootfs(p.root, graph::choose_driver(p.root), rootfs_request, &explain);
    kill_point("rootfs");
    lab::create_file(dir + "/image", image_id + "\n", 0600);
    json record = {
        {"Id", id},
        {"Created", graph::rfc3339_now()},
        {"Name", "/" + name},
        {"Path", args.front()},
        {"Args", std::vector<std::string>(args.begin() + 1, args.end())},
        {"Image", image_id},
        {"Driver", graph::driver_name(graph::choose_driver(p.root))},
        {"Config",
         {{"Hostname", hostname},
          {"User", o.user.empty() ? image_config.value("User", "") : o.user},
          {"Env", env},
          {"Cmd", o.command.empty() ? image_config.value("Cmd", json()) : json(o.command)},
          {"Entrypoint", o.entrypoint ? json(std::vector<std::string>{*o.entrypoint})
                                      : image_config.value("Entrypoint", json())},
          {"WorkingDir", o.workdir.empty() ? image_config.value("WorkingDir", "") : o.workdir},
          {"Image", r.image},
          {"OpenStdin", o.interactive},
          {"Tty", o.tty}}},
        {"HostConfig",
         {{"NetworkMode", net.mode},
          {"PortBindings", port_bindings(net.ports)},
          {"AutoRemove", r.auto_remove},
          {"RestartPolicy", restart_policy_json(restart_policy)},
          {"Runtime", r.runtime.empty() ? "" : r.runtime},
          {"ReadonlyRootfs", o.read_only},
          {"CapAdd", o.cap_add},
          {"CapDrop", o.cap_drop},
          {"Memory", limits.memory.value_or(0)},
          {"MemorySwap", limits.memory_swap.value_or(0)},
          {"NanoCpus", o.cpus.empty() ? 0 : exec::parse_nano_cpus(o.cpus)},
          {"CpuShares", limits.cpu_shares.value_or(0)},
          {"PidsLimit", limits.pids ? json(*limits.pids) : json()},
          {"Init", o.init ? json(true) : json()}}},
        {"Mounts", inspect_mounts(p, mounts)},
    };
    if (!r.labels.empty()) record["Config"]["Labels"] = r.labels;
    record_host_config(o, record["HostConfig"]);
    graph::write_file_atomically(dir + "/config.v2.json", record.dump(2) + "\n");
  }
  kill_point("record");
  try {
    std::string user_spec = o.user.empty() ? image_config.value("User", "") : o.user;
    exec::User user = exec::resolve_user(user_spec, lab::read_file_or_empty(rootfs + "/etc/passwd"),
                                         lab::read_file_or_empty(rootfs + "/etc/group"));
    exec::BundleInput in{id, rootfs, image_config, resolved, user, limits, ""};
    in.mounts = prepare_mounts(p, mounts, rootfs, explain);
    in.options.network = net.mode.starts_with("container:") ? "container" : net.mode;
    in.options.hostname = hostname;
    in.netns_path = connect_container(p, net, id, name, hostname, explain);
    kill_point("network");
    fs::create_directories(dir + "/bundle");
    json spec = exec::make_spec(in);
    // A program that cannot be run fails the start, after everything is made (as Docker's).
    std::optional<RunError> cannot_run;
    try {
      check_program(rootfs, args.front(), spec["process"], spec["mounts"], init.empty());
    } catch (const RunError& e) {
      cannot_run = e;
    }
    for (const json& m : etc_mounts(p, net, id)) spec["mounts"].push_back(m);
    if (!init.empty()) {
      explain.step("02",
                   fmt::format("docker-init (tini) as PID 1: {} bound read-only at {}, then "
                               "{} -- {}",
                               init, kInitPath, kInitPath, fmt::join(args, " ")),
                   fmt::format("mount --bind -o ro {} ROOTFS{}", init, kInitPath));
      add_init(spec, init);
    }
    exec::write_bundle(dir + "/bundle", spec);
    kill_point("bundle");
    explain.step(
        "04",
        fmt::format("the container's cgroup {} (memory {}, cpu quota {}, pids {})",
                    exec::cgroups_path(id), limits.memory ? std::to_string(*limits.memory) : "-",
                    limits.cpu_quota ? std::to_string(*limits.cpu_quota) : "-",
                    limits.pids ? std::to_string(*limits.pids) : "-"),
        "the runtime writes it from linux.resources in config.json");

    if (cannot_run) throw *cannot_run;
    launch_monitor(p, id, read_json(dir + "/config.v2.json"), stdin_fd, exit_fd);
  } catch (const RunError& e) {
    // Docker keeps a container whose program cannot be run (unless --rm): "created", its name
    // taken, State.Error saying why; `start` fails again, `rm` removes it.
    if ((e.code == 126 || e.code == 127) && !r.auto_remove) {
      start_failed(p, id, e, explain);
      throw StartFailure(e.code, e.what(), id);
    }
    try {
      remove(p, id, true);
      for (const MountSpec& m : mounts)
        if (m.anonymous) remove_volume(p, m.source);
    } catch (...) {
    }
    throw;
  } catch (...) {
    try {
      remove(p, id, true);
      for (const MountSpec& m : mounts)  // as Docker's cleanup: with the container's volumes
        if (m.anonymous) remove_volume(p, m.source);
    } catch (...) {
    }
    throw;
  }
  return id;
}

void prepare_start(const Paths& p, const std::string& id) {
  runtime::Explainer explain(p.explain);
  std::string dir = container_dir(p, id);
  json record = read_json(dir + "/config.v2.json");
  Container c = load(p, id);
  if (c.status == "created" && !c.error.empty() && c.monitor_pid == 0) {
    // Its program could not be run at create (start_failed): the runtime's create again from
    // the same bundle, which fails the same way unless the rootfs changed.
    json spec = read_json(dir + "/bundle/config.json");
    std::string rootfs = spec["root"].value("path", "");
    if (!rootfs.starts_with("/")) rootfs = dir + "/bundle/" + rootfs;
    try {
      check_program(rootfs, c.path, spec["process"], spec.value("mounts", json::array()),
                    c.host_config.value("Init", json()) != true);
      launch_monitor(p, id, record, -1, -1);
    } catch (const RunError& e) {
      if (e.code == 126 || e.code == 127) start_failed(p, id, e, explain);
      throw;
    }
    return;
  }
  if (c.status != "exited") return;
  // Start again (Docker's `start` of an exited container, and `restart`): the monitor deleted
  // the runtime's state at the exit, and the rootfs stays mounted until rm, so a new monitor
  // runs the runtime's create from the same bundle. The log goes on; exit.json goes (the new
  // monitor writes the next one), its FinishedAt kept as Docker shows it while running.
  explain.step("engine",
               fmt::format("{} has exited (code {}): a new monitor and a new init from the same "
                           "bundle and rootfs",
                           id.substr(0, 12), c.exit_code),
               fmt::format("rm {}/exit.json", dir));
  std::vector<std::string> runtime = runtime_argv(p, record["HostConfig"].value("Runtime", ""));
  std::string state_root = *(std::find(runtime.begin(), runtime.end(), "--root") + 1);
  if (fs::exists(state_root + "/" + id)) runtime_verb(p, record, {"delete", "--force", id});
  std::string last_exit = lab::read_file_or_empty(dir + "/exit.json");
  fs::remove(dir + "/exit.json");
  try {
    launch_monitor(p, id, record, -1, -1);
  } catch (...) {
    graph::write_file_atomically(dir + "/exit.json", last_exit);  // still exited, as it was
    throw;
  }
  json state = read_json(dir + "/state.json");
  state["FinishedAt"] = c.finished_at;
  write_state(dir, state);
}

void start(const Paths& p, const std::string& id) {
  reset_restart(container_dir(p, id));
  start_container(p, id);
}

void start_container(const Paths& p, const std::string& id) {
  runtime::Explainer explain(p.explain);
  std::string dir = container_dir(p, id);
  json record = read_json(dir + "/config.v2.json");
  prepare_start(p, id);
  Container c = load(p, id);
  if (c.status == "running") return;
  json state = read_json(dir + "/state.json");
  state["Status"] = "running";
  state["StartedAt"] = graph::rfc3339_now();
  write_state(dir, state);
  explain.step("02",
               fmt::format("start {}: the init, waiting before its execve, goes on as PID 1",
                           id.substr(0, 12)),
               fmt::format("runtime start {}", id));
  Output out = runtime_verb(p, record, {"start", id});
  // A program that exits at once may be gone before the runtime's start returns ("has
  // stopped"): that is a start, and the monitor records the exit.
  if (out.status != 0 && !wait_exit(p, id, 2000)) {
    std::string message = out.text;
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw RunError(125, message);
  }
}

bool wait_exit(const Paths& p, const std::string& id, int timeout_ms) {
  std::string dir = container_dir(p, id);
  for (int waited = 0;; waited += 20) {
    if (fs::exists(dir + "/exit.json")) return true;
    if (!fs::exists(dir + "/config.v2.json")) return true;                 // removed (--rm)
    if (waited % 500 == 0 && load(p, id).status == "exited") return true;  // the monitor died
    if (timeout_ms >= 0 && waited >= timeout_ms) return false;
    ::usleep(20000);
  }
}

void restart(const Paths& p, const std::string& id, int seconds) {
  stop(p, id, seconds);
  start(p, id);
}

void kill(const Paths& p, const std::string& id, int signal) {
  Container c = load(p, id);
  if (c.restarting)
    throw lab::UserError(fmt::format(
        "Cannot kill container: {}: Container {} is restarting, wait until the container is "
        "running",
        c.name.substr(1), id));
  // Docker's ExitOnNext: SIGKILL, or the container's stop signal (any signal when it has none),
  // means the user stopped it: its --restart policy does not bring it back.
  std::string stop_signal = c.config.value("StopSignal", "");
  if (signal == SIGKILL || stop_signal.empty() || runtime::parse_signal(stop_signal) == signal)
    cancel_restart(c.dir);
  if (c.status != "running")
    throw lab::UserError(fmt::format("Cannot kill container: {}: Container {} is not running",
                                     c.name.substr(1), id));
  json record = read_json(c.dir + "/config.v2.json");
  Output out = runtime_verb(p, record, {"kill", id, std::to_string(signal)});
  if (out.status != 0 && !fs::exists(c.dir + "/exit.json"))
    throw lab::UserError(lab::trim(out.text));
  resume_after_signal(p, c);
}

void stop(const Paths& p, const std::string& id, int seconds) {
  runtime::Explainer explain(p.explain);
  cancel_restart(container_dir(p, id));  // a stopped container stays stopped, whatever its policy
  Container c = load(p, id);
  if (c.status != "running") return;
  json record = read_json(c.dir + "/config.v2.json");
  explain.step("02", "SIGTERM to the container's PID 1", fmt::format("runtime kill {} TERM", id));
  runtime_verb(p, record, {"kill", id, "15"});
  resume_after_signal(p, c);
  if (wait_exit(p, id, seconds * 1000)) return;
  explain.step("02", fmt::format("still running after {} s: SIGKILL", seconds),
               fmt::format("runtime kill {} KILL", id));
  runtime_verb(p, record, {"kill", id, "9"});
  wait_exit(p, id, 10000);
}

// runc leaves the /minidocker parent it made in every hierarchy, systemd's named one included
// (our runtime removes it with its last container); an empty one goes here. rmdir(2) refuses a
// parent that still holds a container's cgroup, so a busy one stays.
static void remove_empty_cgroup_parents() {
  std::error_code ec;
  for (const fs::directory_entry& tree : fs::directory_iterator("/sys/fs/cgroup", ec))
    ::rmdir((tree.path() / "minidocker").c_str());
  ::rmdir("/sys/fs/cgroup/minidocker");
}

void remove(const Paths& p, const std::string& id, bool force) {
  runtime::Explainer explain(p.explain);
  std::string dir = container_dir(p, id);
  json record = read_json(dir + "/config.v2.json");
  if (record.is_object()) {
    Container c = load(p, id);
    if ((c.status == "running" || c.restarting) && !force)
      throw lab::UserError(fmt::format(
          "cannot remove container \"/{}\": container is {}: stop the container before "
          "removing or force remove",
          c.name.substr(1), c.restarting ? "restarting" : "running"));
    cancel_restart(dir);
    if (c.restarting) c = load(p, id);  // its restart may have started it meanwhile
    if (c.status != "exited" && c.monitor_pid != 0 && fs::exists(dir + "/state.json")) {
      // delete --force kills the init; the monitor reaps it and records the exit.
      runtime_verb(p, record, {"delete", "--force", id});
      wait_exit(p, id, 10000);
    }
    // exit.json is written after the runtime's delete (by the monitor, or by load() for a dead
    // monitor); without it (a create killed half-way) the runtime may still hold the container.
    if (!fs::exists(dir + "/exit.json")) runtime_verb(p, record, {"delete", "--force", id});
    // With a policy the monitor becomes the restart's process after the exit (the same pid and
    // start time): it finds the restart canceled and ends; wait for that before the files go.
    if (restart_policy_of(c.host_config).name != "no") {
      json state = read_json(dir + "/state.json");
      int monitor = state.is_object() ? state.value("MonitorPid", 0) : 0;
      unsigned long long since = state.is_object() ? state.value("MonitorStartTime", 0ULL) : 0;
      for (int i = 0; i < 500 && alive(monitor, since); ++i) ::usleep(20000);
    }
  }
  // Whatever connect made, even for a create killed before its record said so.
  disconnect_container(p, id);
  lab::UniqueFd lock = lock_containers(p);
  explain.step("05", "unmount the container's overlay and remove its rw and init layers",
               fmt::format("umount {}/merged; rm -r {}", dir, dir));
  graph::remove_rootfs(p.root, graph::choose_driver(p.root), id, &explain);
  lab::remove_tree_without_crossing_mounts(dir);
  remove_empty_cgroup_parents();
}

void remove_with_volumes(const Paths& p, const std::string& id, bool force) {
  std::vector<std::string> volumes = anonymous_volumes(p, load(p, id).mounts);
  remove(p, id, force);
  for (const std::string& v : volumes) {
    try {
      remove_volume(p, v);
    } catch (const lab::UserError&) {
      // in use by another container: it stays, as with Docker
    }
  }
}

std::vector<std::string> prune(const Paths& p, uint64_t* reclaimed) {
  std::vector<std::string> deleted;
  for (const Container& c : list(p)) {
    if (c.status == "running" || c.restarting) continue;
    if (reclaimed)
      *reclaimed += graph::tree_size(graph::rw_layer_dir(p.root, graph::choose_driver(p.root), c.id));
    remove(p, c.id, true);
    deleted.push_back(c.id);
  }
  // A directory without a record is a create killed before it wrote one; one still being
  // created holds the containers lock until its record is written, so look under that lock.
  std::error_code ec;
  std::vector<std::string> orphans;
  {
    lab::UniqueFd lock = lock_containers(p);
    for (const auto& entry : fs::directory_iterator(p.root + "/containers", ec))
      if (!fs::exists(entry.path() / "config.v2.json"))
        orphans.push_back(entry.path().filename().string());
  }
  for (const std::string& id : orphans) {
    disconnect_container(p, id);
    lab::UniqueFd lock = lock_containers(p);
    if (fs::exists(container_dir(p, id) + "/config.v2.json")) continue;
    graph::remove_rootfs(p.root, graph::choose_driver(p.root), id);
    lab::remove_tree_without_crossing_mounts(container_dir(p, id));
  }
  return deleted;
}

std::vector<std::string> recover(const Paths& p) {
  std::vector<std::string> gone;
  auto exists = [&](const std::string& id) {
    return fs::exists(container_dir(p, id) + "/config.v2.json");
  };
  // The runtimes' state: a container the engine no longer has, or one whose exit is recorded
  // (the monitor's delete was killed): `delete --force` removes its cgroup and state.
  std::error_code ec;
  for (const auto& runtime_dir : fs::directory_iterator(p.root + "/run", ec)) {
    std::string name = runtime_dir.path().filename().string();
    if (name != "minidocker" && name != "runc") continue;
    std::vector<std::string> argv;
    try {
      argv = runtime_argv(p, name == "minidocker" ? "" : name);
    } catch (const lab::UserError&) {
      continue;  // runc not installed: nothing could have used it
    }
    std::error_code ec2;
    for (const auto& entry : fs::directory_iterator(runtime_dir.path(), ec2)) {
      if (!entry.is_directory()) continue;
      std::string id = entry.path().filename().string();
      // Only containers' state (64 hex digits: ours never names one otherwise), not the
      // runtime's own directories such as @seccomp-cache.
      if (id.size() != 64 || id.find_first_not_of("0123456789abcdef") != std::string::npos)
        continue;
      if (exists(id) && !fs::exists(container_dir(p, id) + "/exit.json")) continue;
      std::vector<std::string> args = argv;
      args.insert(args.end(), {"delete", "--force", id});
      run_quietly(args);
      gone.push_back(fmt::format("runtime state {} ({})", id, name));
    }
  }
  for (const std::string& line : network::prune(network_context(p), exists, false))
    gone.push_back(line);
  remove_empty_cgroup_parents();
  return gone;
}

std::vector<std::string> runtime_command(const Paths& p, const std::string& runtime) {
  return runtime_argv(p, runtime);
}

namespace {

// HostConfig as recorded, with what Docker always has in it and our engine fixes: the log
// driver (docker-py's run reads HostConfig.LogConfig.Type to decide whether logs can be read).
json inspect_host_config(json host_config) {
  if (!host_config.is_object()) host_config = json::object();
  if (!host_config.contains("LogConfig"))
    host_config["LogConfig"] = {{"Type", "json-file"}, {"Config", json::object()}};
  return host_config;
}

}  // namespace

nlohmann::json inspect(const Paths& p, const Container& c) {
  graph::DriverKind kind = graph::choose_driver(p.root);
  json data = nullptr;
  if (kind == graph::DriverKind::overlay)
    data = {{"UpperDir", c.dir + "/diff"},
            {"WorkDir", c.dir + "/work"},
            {"MergedDir", c.dir + "/merged"}};
  return {
      {"Id", c.id},
      {"Created", c.created},
      {"Path", c.path},
      {"Args", c.args},
      {"State",
       {{"Status", c.paused ? "paused" : c.restarting ? "restarting" : c.status},
        {"Running", c.status == "running" || c.restarting},  // Docker's, while restarting
        {"Paused", c.paused},
        {"Restarting", c.restarting},
        {"OOMKilled", c.oom_killed},
        {"Dead", false},
        {"Pid", c.pid},
        {"ExitCode", c.exit_code},
        {"Error", c.error},
        {"StartedAt", c.started_at.empty() ? "0001-01-01T00:00:00Z" : c.started_at},
        {"FinishedAt", c.finished_at.empty() ? "0001-01-01T00:00:00Z" : c.finished_at}}},
      {"Image", c.image_id},
      {"RestartCount", c.restart_count},  // the restarts of its --restart policy only
      {"LogPath", c.dir + "/" + c.id + "-json.log"},
      {"Name", c.name},
      {"Driver", graph::driver_name(kind)},
      {"HostConfig", inspect_host_config(c.host_config)},
      {"HostnamePath", c.dir + "/hostname"},
      {"HostsPath", c.dir + "/hosts"},
      {"ResolvConfPath", c.dir + "/resolv.conf"},
      {"NetworkSettings", network_settings(p, c)},
      {"Mounts", c.mounts},
      {"GraphDriver", {{"Name", graph::driver_name(kind)}, {"Data", data}}},
      {"Config", c.config},
  };
}

}  // namespace engine
