#include "container.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>

#include "capabilities.hpp"
#include "cli.hpp"
#include "error.hpp"
#include "runtime/cgroups.hpp"
#include "runtime/explain.hpp"
#include "runtime/hooks.hpp"
#include "runtime/init.hpp"
#include "runtime/seccomp_cache.hpp"
#include "runtime/spec.hpp"
#include "runtime/state.hpp"
#include "runtime/terminal.hpp"

namespace runtime {

using nlohmann::json;
using state::ContainerDir;
using state::State;
using state::Status;

namespace {

const std::vector<std::pair<std::string, unsigned long>> kCloneFlags = {{"mount", CLONE_NEWNS},
                                                                        {"uts", CLONE_NEWUTS},
                                                                        {"ipc", CLONE_NEWIPC},
                                                                        {"network", CLONE_NEWNET},
                                                                        {"pid", CLONE_NEWPID}};

std::string state_json(const State& s, Status status) {
  return state::to_oci_json(s, status).dump();
}

// Written next to the final name and renamed onto it: a reader (podman, a test) sees no file or
// the whole pid, never an empty one.
void write_pid_file(const std::string& path, pid_t pid) {
  if (path.empty()) return;
  std::string tmp = path + ".tmp";
  lab::create_file(tmp, std::to_string(pid), 0644);
  lab::check(::rename(tmp.c_str(), path.c_str()),
             [&] { return fmt::format("rename(\"{}\", \"{}\")", tmp, path); });
}

lab::UniqueFd open_pidfd(pid_t pid) {
  return lab::UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

// Waits until the process behind `pidfd` has exited; false after `timeout_ms`.
bool wait_exit(int pidfd, int timeout_ms) {
  struct pollfd p {
    pidfd, POLLIN, 0
  };
  for (;;) {
    int r = ::poll(&p, 1, timeout_ms);
    if (r == -1 && errno == EINTR) continue;
    return r == 1;
  }
}

// A signal to the container's init, through a pidfd opened after the start time was checked, so
// that a recycled PID can never receive it.
void signal_init(const State& s, int sig) {
  lab::UniqueFd pidfd = open_pidfd(s.pid);
  if (!pidfd || state::process_start_time(s.pid) != s.start_time)
    throw lab::UserError(fmt::format("container \"{}\" is not running", s.id));
  lab::check(static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd.get(), sig, nullptr, 0)),
             [&] { return fmt::format("pidfd_send_signal({}, {})", s.pid, sig); });
}

// The devices a container may always use, whatever linux.resources.devices says, as runc adds
// them after the spec's own rules: mknod of anything (the node is useless without access), the
// default nodes, the pty devices, tun (runc 1.1's list) and every node linux.devices asked for.
void allow_default_devices(Spec& spec) {
  auto& rules = spec.resources.devices;
  if (rules.empty()) return;
  rules.push_back({true, 'c', -1, -1, "m"});
  rules.push_back({true, 'b', -1, -1, "m"});
  for (const mounts::Device& d : mounts::default_devices())
    rules.push_back({true, d.type == 'b' ? 'b' : 'c', d.major, d.minor, "rwm"});
  rules.push_back({true, 'c', 5, 2, "rwm"});     // /dev/ptmx
  rules.push_back({true, 'c', 136, -1, "rwm"});  // /dev/pts/*
  rules.push_back({true, 'c', 10, 200, "rwm"});  // /dev/net/tun
  // Not the host's /dev/console (5:1): with CAP_MKNOD a container could make the node and write
  // to the host's console. A container's /dev/console is its pty (136:N), bind-mounted.
  for (const mounts::Device& d : spec.rootfs.devices)
    if (d.type != 'p') rules.push_back({true, d.type == 'b' ? 'b' : 'c', d.major, d.minor, "rwm"});
}

struct Created {
  ContainerDir dir;
  State state;
  cgroups::Cgroup cgroup;
  lab::Child init;
  lab::UniqueFd master;  // the pty master, when run keeps the terminal itself
};

// create's work, shared with run. Nothing is committed: if the caller throws, the owners undo
// everything in reverse order (the init killed, the cgroup removed, the state directory gone).
Created create_container(const GlobalOptions& global, const CreateOptions& o, bool with_fifo,
                         bool own_terminal, const Explainer& explain) {
  Spec spec = load_bundle(o.bundle);
  allow_default_devices(spec);
  if (spec.process.terminal && o.console_socket.empty() && !own_terminal)
    throw lab::UserError(
        "process.terminal is true, so the pty needs somewhere to go: give --console-socket SOCK "
        "(or set \"terminal\": false in config.json)");
  if (!spec.process.terminal && !o.console_socket.empty())
    throw lab::UserError(
        "--console-socket was given but process.terminal is false: no pty will be made");
  if (o.preserve_fds < 0) throw lab::UserError("--preserve-fds must be 0 or more");

  ContainerDir dir = ContainerDir::create(global.root, o.id);
  // Compiled here (or read from the cache under the root the line above made), before the clone:
  // the child inherits the program with its memory.
  std::vector<sock_filter> seccomp;
  if (spec.seccomp) seccomp = seccomp_cache::program(global.root, *spec.seccomp);
  lab::UniqueFd console, console_ours;
  if (!o.console_socket.empty()) {
    console = terminal::connect_console_socket(o.console_socket);
  } else if (spec.process.terminal) {
    int pair[2];
    lab::check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair),
               "socketpair(AF_UNIX, SOCK_STREAM)");
    console_ours.reset(pair[0]);
    console.reset(pair[1]);
  }
  std::string fifo = with_fifo ? dir.file("exec.fifo") : "";
  if (with_fifo)
    lab::check(::mkfifo(fifo.c_str(), 0622),
               [&] { return fmt::format("mkfifo(\"{}\", 0622)", fifo); });
  // mkfifo's mode goes through our umask (podman's conmon: 0022, so 0600), but the init opens the
  // fifo after it has become process.user: chmod, which ignores the umask, makes it 0622 again.
  if (with_fifo)
    lab::check(::chmod(fifo.c_str(), 0622),
               [&] { return fmt::format("chmod(\"{}\", 0622)", fifo); });

  // The cgroup first, so that the init is inside it before it can fork or allocate much.
  std::string cgroups_path =
      spec.cgroups_path.empty() ? cgroups::default_path(o.id) : spec.cgroups_path;
  if (std::string why = cgroups::validate_path(cgroups_path); !why.empty())
    throw lab::UserError("linux.cgroupsPath: " + why);
  cgroups::Cgroup cgroup = cgroups::Cgroup::create(cgroups_path, spec.resources);
  for (const auto& [call, shell] : cgroup.steps()) explain.step("04", call, shell);

  // Joining a PID namespace applies to the children we make afterwards (setns(2)).
  if (const Namespace* pid_ns = spec.find_namespace("pid"); pid_ns && !pid_ns->path.empty()) {
    explain.step("02", fmt::format("setns(open(\"{}\"), CLONE_NEWPID)", pid_ns->path));
    lab::UniqueFd fd = lab::open_fd(pid_ns->path, O_RDONLY | O_CLOEXEC);
    lab::check(::setns(fd.get(), CLONE_NEWPID),
               [&] { return fmt::format("setns(\"{}\", CLONE_NEWPID)", pid_ns->path); });
  }
  unsigned long flags = SIGCHLD;
  for (const auto& [type, flag] : kCloneFlags) {
    const Namespace* ns = spec.find_namespace(type);
    if (ns && ns->path.empty()) flags |= flag;
  }
  explain.step("02", fmt::format("clone({})", lab::clone_flags_to_string(flags)),
               "unshare --mount --uts --ipc --net --pid --fork");

  auto [ours, theirs] = lab::Channel::make_pair();
  InitArgs args;
  args.spec = &spec;
  args.seccomp = spec.seccomp ? &seccomp : nullptr;
  args.channel = &theirs;
  args.fifo_path = fifo;
  args.console_socket = console.get();
  args.preserve_fds = o.preserve_fds;
  const std::vector<std::string> cgroup_tasks = cgroup.self_join_files();
  args.cgroup_tasks = &cgroup_tasks;
  args.explain = &explain;
  auto init_body = [&]() -> int {
    ours.close();
    console_ours.reset();
    return container_init(args);
  };
  // Nobody writes the init's pid to a cgroup.procs: such a write takes the cgroup core's lock
  // on every thread group, whose first writer waits for an RCU grace period (4-20 ms here).
  // The init is cloned straight into its v2 cgroup (clone3 with CLONE_INTO_CGROUP, as crun
  // does), and joins the v1 trees itself by `echo 0 > tasks` (init.cpp), which skips that lock.
  lab::UniqueFd cgroup_dir = cgroup.open_for_clone();
  bool into_cgroup = false;
  lab::Child init = cgroup_dir ? lab::clone_child_into_cgroup(flags, cgroup_dir.get(),
                                                              into_cgroup, init_body)
                               : lab::clone_child(flags, init_body);
  theirs.close();
  console.reset();
  if (into_cgroup) {
    explain.step("04", fmt::format("clone3(CLONE_INTO_CGROUP, \"{}\")", cgroups_path),
                 "(no shell equivalent: the process is born in the cgroup)");
  } else if (cgroup_dir) {  // a kernel without clone3
    explain.step("04", fmt::format("write {} \"{}\"", "cgroup.procs", init.pid()),
                 fmt::format("echo {} > cgroup.procs", init.pid()));
    cgroup.add_process_to_v2(init.pid());
  }
  ours.send_ok();

  State s;
  s.id = o.id;
  s.bundle = spec.bundle;
  s.pid = init.pid();
  s.start_time = state::process_start_time(init.pid());
  s.created = state::now_rfc3339();
  s.annotations = spec.annotations;
  s.cgroups_path = cgroups_path;
  s.cgroup_grants = cgroup.grants_made();
  s.config = json::parse(lab::read_file(spec.bundle + "/config.json"));

  std::string reply = ours.receive_reply("creating the container");
  if (reply != "hooks") throw lab::UserError("creating the container: unexpected " + reply);
  std::string creating = state_json(s, Status::creating);
  hooks::run_all(spec.hooks.prestart, creating, "prestart");
  hooks::run_all(spec.hooks.create_runtime, creating, "createRuntime");
  ours.send_ok();
  ours.expect_ok("setting up the container");
  lab::UniqueFd master;
  if (console_ours) master = terminal::receive_fd(console_ours.get());

  s.started = !with_fifo;
  dir.write(s);
  write_pid_file(o.pid_file, init.pid());
  // The init waits for this word before it goes on (to exec.fifo, or, for run, to exec): if we
  // die before it, the init sees the channel close and leaves.
  ours.send_ok();
  return Created{std::move(dir), std::move(s), std::move(cgroup), std::move(init),
                 std::move(master)};
}

// Everything of a container that has stopped (or is made to): processes, cgroup, state.
void destroy(ContainerDir& dir, const State& s, bool run_poststop) {
  if (s.paused) {
    // A task frozen by the v1 freezer does not die of SIGKILL until it is thawed: signal every
    // process, then thaw the group (runc does the same), so the waits below end.
    cgroups::Cgroup frozen = cgroups::Cgroup::open(s.cgroups_path);
    frozen.release();  // open() owns what it finds: removed below, not here
    for (pid_t pid : frozen.processes()) ::kill(pid, SIGKILL);
    try {
      frozen.thaw();
    } catch (const std::exception&) {
      // no freezer left: nothing is frozen
    }
  }
  if (s.pid > 0 && state::process_start_time(s.pid) == s.start_time) {
    lab::UniqueFd pidfd = open_pidfd(s.pid);
    if (pidfd && state::process_start_time(s.pid) == s.start_time) {
      ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
      if (!wait_exit(pidfd.get(), 10000))
        throw lab::UserError(fmt::format(
            "container \"{}\": the init (pid {}) did not die within 10 s of SIGKILL", s.id, s.pid));
    }
  }
  cgroups::Cgroup cgroup = cgroups::Cgroup::open(s.cgroups_path, s.cgroup_grants);
  cgroup.kill_all(SIGKILL);
  cgroup.remove();
  if (run_poststop) {
    try {
      Spec spec = parse(s.config, s.bundle);
      hooks::run_all(spec.hooks.poststop, state_json(s, Status::stopped), "poststop");
    } catch (const std::exception& e) {
      // runtime.md: a poststop hook's failure is logged, and deletion goes on.
      fmt::print(stderr, "warning: {}\n", e.what());
    }
  }
  dir.remove();
}

void run_poststart(const State& s) {
  Spec spec = parse(s.config, s.bundle);
  hooks::run_all(spec.hooks.poststart, state_json(s, Status::running), "poststart");
}

// For run: the signals a user sends us go on to the container, as runc does.
volatile pid_t g_forward_to = 0;
extern "C" void forward_signal(int sig) {
  if (g_forward_to > 0) ::kill(g_forward_to, sig);
}

void forward_signals_to(pid_t pid) {
  g_forward_to = pid;
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH})
    ::sigaction(sig, &sa, nullptr);
}

lab::ExitStatus wait_for(pid_t pid) {
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, 0);
    if (r == pid) break;
    if (r == -1 && errno == EINTR) continue;
    lab::check(r, [&] { return fmt::format("waitpid({})", pid); });
  }
  return lab::decode_wait_status(status);
}

}  // namespace

int parse_signal(const std::string& text) {
  if (auto n = lab::whole_number(text)) return (*n > 0 && *n < NSIG) ? static_cast<int>(*n) : 0;
  std::string name = text;
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev && name == abbrev) return sig;
  }
  return 0;
}

int create(const GlobalOptions& global, const CreateOptions& o) {
  Explainer explain(global.explain);
  Created c = create_container(global, o, /*with_fifo=*/true, /*own_terminal=*/false, explain);
  c.dir.commit();
  c.cgroup.release();
  c.init.release();
  return 0;
}

int start(const GlobalOptions& global, const std::string& id) {
  Explainer explain(global.explain);
  ContainerDir dir = ContainerDir::open(global.root, id);
  State s = dir.read();
  Status status = dir.status(s);
  if (status == Status::stopped)
    throw lab::UserError(
        fmt::format("cannot start container \"{}\": it has stopped; delete it", id));
  if (status == Status::running)
    throw lab::UserError(fmt::format("cannot start container \"{}\": it is already running", id));
  // The pidfd first: opening the fifo releases the init, whose program may then run, exit and
  // be reaped by its parent (conmon, our monitor) before a pidfd opened after it could name it.
  // The start time is read again once the pidfd holds the process, so a recycled PID is never it.
  lab::UniqueFd pidfd = open_pidfd(s.pid);
  if (!pidfd || state::process_start_time(s.pid) != s.start_time)
    throw lab::UserError(fmt::format("container \"{}\" has stopped", id));
  std::string fifo_path = dir.file("exec.fifo");
  explain.step("", fmt::format("open(\"{}\", O_RDONLY)", fifo_path),
               fmt::format("cat {}", fifo_path));
  lab::UniqueFd fifo = lab::open_fd(fifo_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  // Opening the fifo for reading lets the init's open for writing return; it writes one byte,
  // and goes on to execve. If the init dies instead, its pidfd says so.
  for (;;) {
    struct pollfd p[2] = {{fifo.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
    int r = ::poll(p, 2, -1);
    if (r == -1 && errno == EINTR) {
      lab::throw_if_interrupted();
      continue;
    }
    lab::check(r, "poll(exec.fifo, pidfd)");
    if (p[0].revents & POLLIN) {
      char byte;
      if (::read(fifo.get(), &byte, 1) == 1) break;
    }
    if (p[1].revents & POLLIN)
      throw lab::UserError(fmt::format("container \"{}\": its init exited before start", id));
  }
  ::unlink(fifo_path.c_str());
  s.started = true;
  dir.write(s);
  run_poststart(s);
  return 0;
}

int print_state(const GlobalOptions& global, const std::string& id) {
  ContainerDir dir = ContainerDir::open(global.root, id);
  State s = dir.read();
  std::cout << state::to_oci_json(s, dir.status(s)).dump(2) << '\n';
  return 0;
}

int kill(const GlobalOptions& global, const std::string& id, const std::string& signal, bool all) {
  int sig = parse_signal(signal);
  if (sig == 0)
    throw lab::UserError(
        fmt::format("unknown signal \"{}\" (try TERM, KILL, HUP, 9 or 15)", signal));
  ContainerDir dir = ContainerDir::open(global.root, id);
  State s = dir.read();
  if (dir.status(s) == Status::stopped)
    throw lab::UserError(fmt::format("container \"{}\" is not running", id));
  if (all) {
    cgroups::Cgroup::open(s.cgroups_path).kill_all(sig);
    return 0;
  }
  signal_init(s, sig);
  return 0;
}

int pause(const GlobalOptions& global, const std::string& id) {
  Explainer explain(global.explain);
  ContainerDir dir = ContainerDir::open(global.root, id);
  State s = dir.read();
  Status status = dir.status(s);
  if (status == Status::paused)
    throw lab::UserError(fmt::format("container \"{}\" is already paused", id));
  if (status != Status::running)
    throw lab::UserError(fmt::format("container \"{}\" is not running", id));
  cgroups::Cgroup cgroup = cgroups::Cgroup::open(s.cgroups_path);
  cgroup.release();  // open() owns what it finds: the container keeps it
  explain.step(
      "04",
      fmt::format("freeze the cgroup {}: its processes are no longer scheduled", s.cgroups_path),
      cgroup.version_of("freezer") == cgroup::Version::v1
          ? fmt::format("echo FROZEN > {}/freezer.state", cgroup.path_in("freezer"))
          : fmt::format("echo 1 > {}/cgroup.freeze", cgroup.path_in("unified")));
  cgroup.freeze();
  s.paused = true;
  dir.write(s);
  return 0;
}

int resume(const GlobalOptions& global, const std::string& id) {
  Explainer explain(global.explain);
  ContainerDir dir = ContainerDir::open(global.root, id);
  State s = dir.read();
  if (dir.status(s) != Status::paused)
    throw lab::UserError(fmt::format("container \"{}\" is not paused", id));
  cgroups::Cgroup cgroup = cgroups::Cgroup::open(s.cgroups_path);
  cgroup.release();  // open() owns what it finds: the container keeps it
  explain.step("04", fmt::format("thaw the cgroup {}: its processes go on", s.cgroups_path),
               cgroup.version_of("freezer") == cgroup::Version::v1
                   ? fmt::format("echo THAWED > {}/freezer.state", cgroup.path_in("freezer"))
                   : fmt::format("echo 0 > {}/cgroup.freeze", cgroup.path_in("unified")));
  cgroup.thaw();
  s.paused = false;
  dir.write(s);
  return 0;
}

int remove(const GlobalOptions& global, const std::string& id, bool force) {
  // As runc: delete --force of a container that is not there succeeds (podman cleans up with it
  // after a create that failed).
  struct stat st {};
  if (force && state::validate_id(id).empty() &&
      ::stat(fmt::format("{}/{}", global.root, id).c_str(), &st) == -1 && errno == ENOENT)
    return 0;
  ContainerDir dir = ContainerDir::open(global.root, id);
  State s = dir.read();
  Status status = dir.status(s);
  if ((status == Status::running || status == Status::paused) && !force)
    throw lab::UserError(
        fmt::format("cannot delete container \"{}\" that is not stopped: {}; stop it with kill, or "
                    "use delete --force",
                    id, state::to_string(status)));
  destroy(dir, s, /*run_poststop=*/true);
  return 0;
}

int run(const GlobalOptions& global, const CreateOptions& o, bool detach) {
  Explainer explain(global.explain);
  Created c = create_container(global, o, /*with_fifo=*/false, /*own_terminal=*/!detach, explain);
  if (detach) {
    c.dir.commit();
    c.cgroup.release();
    c.init.release();
    run_poststart(c.state);
    return 0;
  }
  c.dir.commit();
  // The state is on disk; the directory's lock goes, so that state, kill and exec work while we
  // wait (delete is refused while the init runs).
  c.dir.unlock();
  pid_t pid = c.init.release();
  forward_signals_to(pid);
  run_poststart(c.state);
  if (c.master) terminal::copy_between(c.master.get());
  lab::ExitStatus status = wait_for(pid);
  g_forward_to = 0;
  ContainerDir dir = ContainerDir::open(global.root, o.id);
  destroy(dir, c.state, /*run_poststop=*/true);
  return status.shell_code();
}

int list(const GlobalOptions& global, bool quiet, const std::string& format) {
  if (format != "table" && format != "json")
    throw lab::UserError(fmt::format("--format {}: use table or json", format));
  json all = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const std::string& id : state::list_ids(global.root)) {
    try {
      ContainerDir dir = ContainerDir::open(global.root, id);
      State s = dir.read();
      Status status = dir.status(s);
      json j = state::to_oci_json(s, status);
      all.push_back(j);
      rows.push_back({id, std::to_string(status == Status::stopped ? 0 : s.pid),
                      std::string(state::to_string(status)), s.bundle, s.created, "root"});
    } catch (const lab::UserError&) {
      // Deleted while we listed.
    }
  }
  if (format == "json") {
    std::cout << all.dump() << '\n';
    return 0;
  }
  if (quiet) {
    for (const auto& r : rows) std::cout << r[0] << '\n';
    return 0;
  }
  std::vector<std::string> head = {"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"};
  std::vector<size_t> width(head.size());
  for (size_t i = 0; i < head.size(); ++i) {
    width[i] = head[i].size();
    for (const auto& r : rows) width[i] = std::max(width[i], r[i].size());
  }
  auto print_row = [&](const std::vector<std::string>& r) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i)
      line += i + 1 < r.size() ? fmt::format("{:<{}}   ", r[i], width[i]) : r[i];
    std::cout << line << '\n';
  };
  print_row(head);
  for (const auto& r : rows) print_row(r);
  return 0;
}

int exec(const GlobalOptions& global, const ExecOptions& o) {
  Explainer explain(global.explain);
  if (o.args.empty() && o.process_file.empty())
    throw lab::UserError("exec: say which command to run in the container");
  ContainerDir dir = ContainerDir::open(global.root, o.id);
  State s = dir.read();
  if (dir.status(s) == Status::paused)
    throw lab::UserError(fmt::format("cannot exec in a paused container \"{}\"", o.id));
  if (dir.status(s) != Status::running)
    throw lab::UserError(fmt::format("cannot exec in container \"{}\": it is not running", o.id));
  dir.unlock();
  Spec spec = parse(s.config, s.bundle);
  // With --process the file is the whole process (the flags below are refused with it).
  Process p = o.process_file.empty() ? spec.process : load_process(o.process_file);
  if (o.process_file.empty()) p.args = o.args;
  for (const std::string& e : o.env) {
    if (e.find('=') == std::string::npos)
      throw lab::UserError(fmt::format("--env {}: write it as KEY=VALUE", e));
    std::string key = e.substr(0, e.find('=') + 1);
    std::erase_if(p.env, [&](const std::string& old) { return old.rfind(key, 0) == 0; });
    p.env.push_back(e);
  }
  if (!o.cwd.empty()) p.cwd = o.cwd;
  if (!o.user.empty()) {
    size_t colon = o.user.find(':');
    auto uid = lab::whole_number(o.user.substr(0, colon));
    auto gid = colon == std::string::npos ? std::optional<long long>(0)
                                          : lab::whole_number(o.user.substr(colon + 1));
    if (!uid || !gid) throw lab::UserError(fmt::format("--user {}: write it as UID[:GID]", o.user));
    p.user.uid = static_cast<uid_t>(*uid);
    p.user.gid = static_cast<gid_t>(*gid);
  }
  for (const std::string& g : o.additional_gids) {
    auto gid = lab::whole_number(g);
    if (!gid) throw lab::UserError(fmt::format("--additional-gids {}: not a gid", g));
    p.user.additional_gids.push_back(static_cast<gid_t>(*gid));
  }
  if (!o.caps.empty()) {
    if (!p.capabilities) p.capabilities = lab::caps::Sets{};
    for (const std::string& cap : o.caps) {
      if (!lab::caps::capability_number(cap))
        throw lab::UserError(fmt::format("--cap {}: unknown capability", cap));
      for (auto* set :
           {&p.capabilities->bounding, &p.capabilities->effective, &p.capabilities->permitted,
            &p.capabilities->inheritable, &p.capabilities->ambient})
        set->push_back(cap);
    }
  }
  if (o.no_new_privs) p.no_new_privileges = true;
  if (o.process_file.empty()) p.terminal = o.tty;
  // conmon passes --tty along with --process; the file's "terminal" decides, and must agree.
  if (!o.process_file.empty() && o.tty && !p.terminal)
    throw lab::UserError(fmt::format("exec --tty, but {} has \"terminal\": false", o.process_file));
  if (p.terminal && o.console_socket.empty() && o.detach)
    throw lab::UserError("exec --tty --detach needs --console-socket SOCK for the pty");
  if (!p.terminal && !o.console_socket.empty())
    throw lab::UserError("--console-socket needs --tty: no pty will be made");

  lab::UniqueFd console, console_ours;
  if (!o.console_socket.empty()) {
    console = terminal::connect_console_socket(o.console_socket);
  } else if (p.terminal) {
    int pair[2];
    lab::check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair),
               "socketpair(AF_UNIX, SOCK_STREAM)");
    console_ours.reset(pair[0]);
    console.reset(pair[1]);
  }
  // The container's PID namespace, for the child we are about to make (setns(2): a process
  // cannot change its own PID namespace, only its children's). Ours is kept and rejoined once
  // the child exists, so nothing we start later (a sanitizer's helper) lands in the container.
  lab::UniqueFd own_pid_ns;
  if (spec.has_namespace("pid")) {
    own_pid_ns = lab::open_fd("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    std::string path = fmt::format("/proc/{}/ns/pid", s.pid);
    lab::UniqueFd fd = lab::open_fd(path, O_RDONLY | O_CLOEXEC);
    if (state::process_start_time(s.pid) != s.start_time)
      throw lab::UserError(fmt::format("container \"{}\" is not running", o.id));
    explain.step("02", fmt::format("setns(open(\"{}\"), CLONE_NEWPID)", path),
                 fmt::format("nsenter --target {} --pid", s.pid));
    lab::check(::setns(fd.get(), CLONE_NEWPID), [&] { return fmt::format("setns(\"{}\")", path); });
  }
  auto [ours, theirs] = lab::Channel::make_pair();
  std::vector<sock_filter> seccomp;
  if (spec.seccomp) seccomp = seccomp_cache::program(global.root, *spec.seccomp);
  ExecArgs args;
  args.spec = &spec;
  args.seccomp = spec.seccomp ? &seccomp : nullptr;
  args.process = &p;
  args.container_pid = s.pid;
  args.channel = &theirs;
  args.console_socket = console.get();
  args.preserve_fds = o.preserve_fds;
  args.keep_parent_death_signal = !o.detach;
  args.explain = &explain;
  // Into the container's cgroup as its init went (create above): born in the v2 one, joining
  // the v1 ones itself.
  cgroups::Cgroup cgroup = cgroups::Cgroup::open(s.cgroups_path);
  cgroup.release();  // the container's: never removed from here, whatever happens below
  const std::vector<std::string> cgroup_tasks = cgroup.self_join_files();
  args.cgroup_tasks = &cgroup_tasks;
  auto exec_body = [&]() -> int {
    ours.close();
    console_ours.reset();
    return exec_in_container(args);
  };
  lab::UniqueFd cgroup_dir = cgroup.open_for_clone();
  bool into_cgroup = false;
  lab::Child child = cgroup_dir ? lab::clone_child_into_cgroup(SIGCHLD, cgroup_dir.get(),
                                                               into_cgroup, exec_body)
                                : lab::clone_child(SIGCHLD, exec_body);
  theirs.close();
  console.reset();
  if (own_pid_ns)
    lab::check(::setns(own_pid_ns.get(), CLONE_NEWPID),
               "setns(\"/proc/self/ns/pid\", CLONE_NEWPID)");
  if (into_cgroup) {
    explain.step("04", fmt::format("clone3(CLONE_INTO_CGROUP, \"{}\")", s.cgroups_path),
                 "(no shell equivalent: the process is born in the cgroup)");
  } else if (cgroup_dir) {  // a kernel without clone3
    explain.step("04", fmt::format("write cgroup.procs \"{}\"", child.pid()),
                 fmt::format("echo {} > cgroup.procs", child.pid()));
    cgroup.add_process_to_v2(child.pid());
  }
  ours.send_ok();
  // Closed without a word: execve succeeded (the channel is close-on-exec).
  lab::Channel::Message m = ours.receive_message();
  if (m.kind == lab::Channel::Kind::error) throw lab::UserError("exec: " + m.text);
  write_pid_file(o.pid_file, child.pid());
  if (o.detach) {
    child.release();
    return 0;
  }
  pid_t pid = child.release();
  forward_signals_to(pid);
  if (console_ours) {
    lab::UniqueFd master = terminal::receive_fd(console_ours.get());
    terminal::copy_between(master.get());
  }
  return wait_for(pid).shell_code();
}

}  // namespace runtime
