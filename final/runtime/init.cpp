#include "init.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <linux/close_range.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "capabilities.hpp"
#include "error.hpp"
#include "hooks.hpp"
#include "process_limits.hpp"
#include "runtime/cgroups.hpp"
#include "runtime/mounts.hpp"
#include "runtime/terminal.hpp"
#include "seccomp.hpp"
#include "uts.hpp"

namespace runtime {

namespace {

const std::map<std::string, int> kNamespaceFlags = {
    {"pid", CLONE_NEWPID}, {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
    {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},     {"cgroup", CLONE_NEWCGROUP}};

const std::map<std::string, std::string> kProcNames = {{"pid", "pid"},   {"network", "net"},
                                                       {"mount", "mnt"}, {"ipc", "ipc"},
                                                       {"uts", "uts"},   {"cgroup", "cgroup"}};

// setns(2) into the namespace at `path` (a /proc/PID/ns/TYPE link or a bind mount of one, such
// as the engine's pinned /run/netns/NAME).
void join_namespace_in_child(const std::string& type, const std::string& path,
                             const Explainer& explain) {
  int flag = kNamespaceFlags.at(type);
  explain.step(type == "network" ? "06" : "",
               fmt::format("setns(open(\"{}\"), {})", path,
                           lab::clone_flags_to_string(static_cast<unsigned long>(flag))),
               fmt::format("nsenter --{}={}",
                           kProcNames.at(type) == "mnt" ? "mount" : kProcNames.at(type), path));
  lab::UniqueFd fd = lab::open_fd(path, O_RDONLY | O_CLOEXEC);
  lab::check(::setns(fd.get(), flag), [&] {
    return fmt::format("setns(\"{}\", {})", path,
                       lab::clone_flags_to_string(static_cast<unsigned long>(flag)));
  });
}

bool executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The home directory of `uid` in the container's /etc/passwd ("name:x:uid:gid:gecos:home:shell"),
// "/" when it has none: runc sets HOME to it when process.env has no HOME, and programs (sh's
// ~, ssh, git) expect one.
std::string home_of(uid_t uid) {
  std::ifstream passwd("/etc/passwd");
  for (std::string line; std::getline(passwd, line);) {
    std::vector<std::string> fields;
    std::istringstream words(line);
    for (std::string f; std::getline(words, f, ':');) fields.push_back(f);
    if (fields.size() >= 6 && fields[2] == std::to_string(uid) && !fields[5].empty())
      return fields[5];
  }
  return "/";
}

bool has_env(const std::vector<std::string>& env, std::string_view name) {
  for (const auto& e : env)
    if (e.size() > name.size() && e.starts_with(name) && e[name.size()] == '=') return true;
  return false;
}

// What init and exec share once the namespaces and the root are in place, in runc's order:
// limits, the working directory, then privileges dropped step by step (bounding set, user,
// capabilities, no_new_privs), fds closed, and seccomp as late as it can be.
struct Prepared {
  std::string program;
  std::string home;  // HOME to add to the environment, or "" (process.env has one)
  bool seccomp_loaded = false;
};

Prepared prepare_process_in_child(const Process& p, const std::vector<sock_filter>* seccomp,
                                  int preserve_fds, const Explainer& explain) {
  Prepared out;
  if (!p.rlimits.empty()) {
    for (const auto& r : p.rlimits)
      explain.step("", fmt::format("setrlimit({}, {{{}, {}}})", r.type, r.soft, r.hard),
                   fmt::format("prlimit --{}={}:{}", r.type, r.soft, r.hard));
    lab::limits::set_rlimits_in_child(p.rlimits);
  }
  // umask is per process and kept across execve; runc sets 0022 when the spec has none.
  ::umask(p.umask.value_or(022));
  explain.step("03", fmt::format("chdir(\"{}\")", p.cwd), fmt::format("cd {}", p.cwd));
  lab::check(::chdir(p.cwd.c_str()),
             [&] { return fmt::format("chdir(\"{}\") (process.cwd)", p.cwd); });
  out.program = find_program(p.args[0], p.env, executable_file);
  if (!has_env(p.env, "HOME")) out.home = home_of(p.user.uid);

  // Without no_new_privs, loading a seccomp filter needs CAP_SYS_ADMIN, so it must happen while
  // we still have it (runc does the same); with it, the filter goes on last of all. The parent
  // compiled it (or found it in its cache): here it is only handed to the kernel.
  if (seccomp && !p.no_new_privileges) {
    explain.step("", "seccomp_load(filter)  (before dropping capabilities: no no_new_privs)");
    lab::seccomp::load_bpf_in_child(*seccomp);
    out.seccomp_loaded = true;
  }
  if (p.capabilities) {
    explain.step("",
                 fmt::format("prctl(PR_CAPBSET_DROP, ...) keeping {}",
                             fmt::join(p.capabilities->bounding, ",")),
                 "capsh --drop=...");
    lab::caps::drop_bounding_in_child(*p.capabilities);
  }
  explain.step("",
               fmt::format("setgroups({}), setgid({}), setuid({})",
                           fmt::join(p.user.additional_gids, ","), p.user.gid, p.user.uid),
               fmt::format("setpriv --reuid={} --regid={} --groups={}", p.user.uid, p.user.gid,
                           p.user.additional_gids.empty()
                               ? std::string("''")
                               : fmt::format("{}", fmt::join(p.user.additional_gids, ","))));
  lab::limits::switch_user_in_child(p.user);
  if (p.capabilities) {
    explain.step("", "capset(effective, permitted, inheritable) + PR_CAP_AMBIENT_RAISE");
    lab::caps::apply_in_child(*p.capabilities);
  }
  if (p.no_new_privileges) {
    explain.step("", "prctl(PR_SET_NO_NEW_PRIVS, 1)", "setpriv --no-new-privs");
    lab::limits::set_no_new_privileges_in_child();
  }
  // Nothing the runtime had open may leak into the container: every fd from 3 (after the ones
  // the caller asked to pass on) is closed by the coming execve.
  unsigned first = 3 + static_cast<unsigned>(preserve_fds);
  lab::check(static_cast<int>(::syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC)),
             [&] { return fmt::format("close_range({}, ~0U, CLOSE_RANGE_CLOEXEC)", first); });
  if (seccomp && !out.seccomp_loaded) {
    explain.step("", "seccomp_load(filter)  (last, just before execve)");
    lab::seccomp::load_bpf_in_child(*seccomp);
    out.seccomp_loaded = true;
  }
  return out;
}

[[noreturn]] void exec_program(const Prepared& prepared, const Process& p) {
  std::vector<std::string> args = p.args, env = p.env;
  if (!prepared.home.empty()) env.push_back("HOME=" + prepared.home);
  std::vector<char*> argv = c_strings(args), envp = c_strings(env);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(prepared.program.c_str(), argv.data(), envp.data());
  int err = errno;
  throw lab::SyscallError(err, fmt::format("execve(\"{}\")", prepared.program));
}

}  // namespace

// The runtime's Ctrl-C handlers (copied by clone) have no place in the container: the init's
// signals are the kernel's defaults from the start, as the program will have them after execve.
// A clone starts with a copy of every fd the runtime had: its caller's pipes, a test harness's
// lock, the state directory's lock. Until the execve that would close the close-on-exec ones,
// they keep those files open (a pipe's reader waits for an end of file that never comes; a lock
// stays held), so the child closes all of them at once, but for stdio, the fds it was asked to
// pass on (3 .. 3+N-1) and the ones it still needs.
static void close_inherited_fds(std::vector<int> keep, int preserve_fds) {
  unsigned next = 3 + static_cast<unsigned>(preserve_fds);
  std::sort(keep.begin(), keep.end());
  for (int fd : keep) {
    if (fd < 0 || static_cast<unsigned>(fd) < next) continue;
    if (static_cast<unsigned>(fd) > next) ::syscall(SYS_close_range, next, fd - 1, 0);
    next = static_cast<unsigned>(fd) + 1;
  }
  ::syscall(SYS_close_range, next, ~0U, 0);
}

// echo 0 > tasks in each v1 tree, by the new process itself: see cgroups::join_self for why
// (no wait for the kernel's lock on every thread group, which a write to cgroup.procs takes).
static void join_cgroups(const std::vector<std::string>* files, const Explainer& explain) {
  if (!files) return;
  for (const std::string& file : *files)
    explain.step("04", fmt::format("write(\"{}\", \"0\")", file), fmt::format("echo 0 > {}", file));
  cgroups::join_self(*files);
}

static void default_signal_handlers() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGPIPE})
    ::signal(sig, SIG_DFL);
}

int container_init(const InitArgs& a) noexcept {
  const Spec& spec = *a.spec;
  lab::Channel& channel = *a.channel;
  const Explainer& explain = *a.explain;
  default_signal_handlers();
  close_inherited_fds({channel.fd(), a.console_socket}, a.preserve_fds);
  try {
    // 1. Into the container's cgroup before we may do anything that forks or allocates much
    //    (the limits hold from the first step): we join the v1 trees ourselves; the v2 tree
    //    holds us since clone3, or the parent puts us there.
    join_cgroups(a.cgroup_tasks, explain);
    channel.expect_ok("waiting for the cgroup");
    // 2. Namespaces given by path are joined; new ones were made by clone() itself.
    for (const Namespace& ns : spec.namespaces)
      if (!ns.path.empty() && ns.type != "pid") join_namespace_in_child(ns.type, ns.path, explain);
    // A cgroup namespace made now, after joining the cgroup, has that cgroup as its root: the
    // container's /proc/self/cgroup says "0::/" (cgroup_namespaces(7)).
    if (const Namespace* ns = spec.find_namespace("cgroup"); ns && ns->path.empty()) {
      explain.step("04", "unshare(CLONE_NEWCGROUP)", "unshare --cgroup");
      lab::check(::unshare(CLONE_NEWCGROUP), "unshare(CLONE_NEWCGROUP)");
    }
    if (spec.process.oom_score_adj) {
      explain.step(
          "", fmt::format("write /proc/self/oom_score_adj \"{}\"", *spec.process.oom_score_adj),
          fmt::format("choom -n {} -p $$", *spec.process.oom_score_adj));
      lab::limits::set_oom_score_adj(0, *spec.process.oom_score_adj);
    }
    if (!spec.hostname.empty()) {
      explain.step("01", fmt::format("sethostname({})", uts::c_literal(spec.hostname)),
                   fmt::format("hostname {}", uts::shell_word(spec.hostname)));
      uts::set_hostname_in_child(spec.hostname);
    }
    if (!spec.domainname.empty()) {
      explain.step("01", fmt::format("setdomainname({})", uts::c_literal(spec.domainname)),
                   fmt::format("domainname {}", uts::shell_word(spec.domainname)));
      uts::set_domainname_in_child(spec.domainname);
    }
    // 3. prestart and createRuntime hooks run now, in the runtime's namespaces, with our PID.
    channel.send("hooks");
    channel.expect_ok("running the prestart and createRuntime hooks");
    // The fifo is on the host, where the pivot will take us away from: keep a handle (O_PATH)
    // to reopen it through /proc/self/fd afterwards, as runc does.
    lab::UniqueFd fifo;
    if (!a.fifo_path.empty()) fifo = lab::open_fd(a.fifo_path, O_PATH | O_CLOEXEC);
    // 4. The root filesystem: mounts, /dev, pivot_root, sysctls, masked and read-only paths.
    mounts::prepare_rootfs_in_child(
        spec.rootfs, [&](std::string_view lesson, std::string_view call, std::string_view shell) {
          explain.step(lesson, call, shell);
        });
    hooks::run_all(spec.hooks.create_container, "", "createContainer");
    if (spec.process.terminal) {
      explain.step("",
                   "open(\"/dev/ptmx\"), sendmsg(console socket, SCM_RIGHTS), setsid(), "
                   "ioctl(TIOCSCTTY)");
      terminal::setup_console_in_child(a.console_socket, spec.process.console_size);
      ::close(a.console_socket);
    }
    // 5. Privileges, limits and seccomp; the program is looked up now, so that a missing one is
    //    reported by create, not lost after start.
    Prepared prepared = prepare_process_in_child(spec.process, a.seccomp, a.preserve_fds, explain);
    // 6. Ready. From here we must outlive the create process, so the death signal goes; if the
    //    parent dies before it has recorded us, the channel closes and we leave.
    ::prctl(PR_SET_PDEATHSIG, 0);
    channel.send_ok();
    if (channel.receive_message().kind != lab::Channel::Kind::ok) return 1;
    channel.close();
    if (fifo) {
      // Blocks until `start` opens the fifo for reading: the created state (runtime.md).
      std::string again = fmt::format("/proc/self/fd/{}", fifo.get());
      lab::UniqueFd writer;
      for (;;) {
        writer.reset(::open(again.c_str(), O_WRONLY | O_CLOEXEC));
        if (writer || errno != EINTR) break;
      }
      lab::check(writer.get(), "open(exec.fifo, O_WRONLY)");
      char zero = '0';
      lab::check(::write(writer.get(), &zero, 1), "write(exec.fifo, \"0\")");
    }
    hooks::run_all(spec.hooks.start_container, "", "startContainer");
    exec_program(prepared, spec.process);
  } catch (const std::exception& e) {
    channel.report_error(e.what());
  }
  return 1;
}

int exec_in_container(const ExecArgs& a) noexcept {
  lab::Channel& channel = *a.channel;
  const Explainer& explain = *a.explain;
  default_signal_handlers();
  close_inherited_fds({channel.fd(), a.console_socket}, a.preserve_fds);
  try {
    // Open every namespace first: once we are in the container's mount namespace, the host's
    // /proc/PID/ns paths are out of reach.
    std::vector<std::pair<std::string, lab::UniqueFd>> fds;
    for (const char* type : {"cgroup", "ipc", "uts", "network", "mount"}) {
      if (!a.spec->has_namespace(type)) continue;
      std::string path = fmt::format("/proc/{}/ns/{}", a.container_pid, kProcNames.at(type));
      fds.emplace_back(type, lab::open_fd(path, O_RDONLY | O_CLOEXEC));
    }
    join_cgroups(a.cgroup_tasks, explain);  // still in the host's mount namespace
    channel.expect_ok("waiting for the cgroup");
    for (auto& [type, fd] : fds) {
      int flag = kNamespaceFlags.at(type);
      explain.step("",
                   fmt::format("setns(/proc/{}/ns/{}, {})", a.container_pid, kProcNames.at(type),
                               lab::clone_flags_to_string(static_cast<unsigned long>(flag))),
                   fmt::format("nsenter --target {} --{}", a.container_pid,
                               kProcNames.at(type) == "mnt" ? "mount" : kProcNames.at(type)));
      lab::check(::setns(fd.get(), flag), [&] {
        return fmt::format("setns(/proc/{}/ns/{}, {})", a.container_pid, kProcNames.at(type),
                           lab::clone_flags_to_string(static_cast<unsigned long>(flag)));
      });
    }
    if (a.process->terminal) {
      terminal::setup_console_in_child(a.console_socket, a.process->console_size);
      ::close(a.console_socket);
    }
    Prepared prepared = prepare_process_in_child(*a.process, a.seccomp, a.preserve_fds, explain);
    if (!a.keep_parent_death_signal) ::prctl(PR_SET_PDEATHSIG, 0);
    // The channel is close-on-exec: the parent sees it close when execve succeeds.
    exec_program(prepared, *a.process);
  } catch (const std::exception& e) {
    channel.report_error(e.what());
  }
  return 1;
}

}  // namespace runtime
