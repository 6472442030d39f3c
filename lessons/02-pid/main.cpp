// Lesson 02: process numbers of one's own (the PID namespace), and what PID 1 has to do.
//
// What it shows: in `docker run -it busybox /bin/sh`, `ps` lists /bin/sh as PID 1 and only two
// processes, while on the host the same shell has an ordinary PID. Then the duties the kernel
// gives PID 1: orphans are re-parented to it, their zombies stay until it reaps them, SIGTERM
// from inside is dropped when it has no handler, and its exit kills the whole namespace.
// --init puts a small reaping init at PID 1 (what `docker run --init` / tini do) instead.
//
// The calls, in order:
//   parent: clone(CLONE_NEWNS|CLONE_NEWPID|SIGCHLD)       unshare --pid --mount --fork
//   child:  mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL) mount --make-rprivate /
//   child:  mount("proc", ROOTFS/proc, "proc", ...), a tmpfs on ROOTFS/dev with mknod'ed
//           null, zero, full, random, urandom, tty; chroot(ROOTFS)
//   child:  execve("/bin/sh") - PID 1; the parent types `ps` into it and reads NSpid on the host
//   then a second namespace whose PID 1 makes an orphan, a zombie, gets SIGTERM, and exits.
// Man pages: pid_namespaces(7), clone(2), proc(5) (NSpid, State, PPid), wait(2), signal(7).
//
// Run it as root (or with sudo):  make && ./pid   (--init, --shell, --help for all)
// Look for: ps lists PID 1 and ps only; NSpid shows the host's number and 1 for the same process;
// the host's mountinfo has no proc on ROOTFS/proc; the orphan's PPid is 1; the zombie stays (or,
// with --init, is reaped); SIGTERM is ignored (or, with --init, stops the container); nothing of
// the namespace outlives PID 1.

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "cli.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "host.hpp"
#include "mount.hpp"
#include "narrator.hpp"
#include "pid.hpp"
#include "process.hpp"

namespace {

struct Options {
  std::string rootfs = lab::host::default_rootfs();
  bool init = false;
  bool shell = false;
  lab::OutputOptions output;
};

constexpr unsigned long kCloneFlags = CLONE_NEWNS | CLONE_NEWPID | SIGCHLD;

std::vector<std::string> shell_environment() {
  std::vector<std::string> env = {"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/root",
                                  "PS1=[pid lesson] \\w # "};
  if (const char* term = std::getenv("TERM")) env.push_back(fmt::format("TERM={}", term));
  return env;
}

// A pipe whose ends close on exec; the child dup2()s the one it needs onto 0, 1 or 2.
std::pair<lab::UniqueFd, lab::UniqueFd> make_pipe() {
  int fds[2];
  lab::check(::pipe2(fds, O_CLOEXEC), "pipe2(O_CLOEXEC)");
  return {lab::UniqueFd(fds[0]), lab::UniqueFd(fds[1])};
}

std::string read_until_eof(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      return out;
    } else if (errno == EINTR) {
      lab::throw_if_interrupted();
    } else {
      lab::check(n, "read(stdout of PID 1)");
    }
  }
}

// Polls /proc/HOSTPID/status until `done` says so or about two seconds pass; returns the last
// status read ("" once the process is gone). The kernel finishes a kill asynchronously.
template <typename Done>
std::string wait_for_status(pid_t host_pid, Done done) {
  std::string status;
  for (int i = 0; i < 200; ++i) {
    status = pid::read_status(host_pid);
    if (done(status)) break;
    lab::sleep_ms(10);
  }
  return status;
}

// --- the child's side of part 1: becomes /bin/sh, PID 1 of the new namespace ---------------------

// stdin_fd/stdout_fd are -1 with --shell: the shell keeps the terminal.
int shell_child(const Options& opt, lab::Channel& channel, int stdin_fd, int stdout_fd) noexcept {
  try {
    pid::reset_signals_in_child();
    pid::make_mounts_private_in_child();
    channel.send_ok();
    pid::mount_proc_in_child(opt.rootfs);
    pid::mount_dev_in_child(opt.rootfs);
    pid::chroot_in_child(opt.rootfs);
    channel.send_ok();
    // Wait until the parent has looked at us from the host and said what it needs to say.
    if (channel.receive() != "exec") return 1;
    if (stdin_fd >= 0) {
      lab::check(::dup2(stdin_fd, 0), "dup2(stdin)");
      lab::check(::dup2(stdout_fd, 1), "dup2(stdout)");
      lab::check(::dup2(stdout_fd, 2), "dup2(stderr)");
    }
    // The channel is close-on-exec: the parent sees it close once the exec has happened.
    if (!(opt.init && opt.shell)) pid::exec_in_child({"/bin/sh"}, shell_environment());
    // `docker run --init -it busybox sh`: the small init stays PID 1, the shell is its child,
    // PID 2. The init closes its copy of the channel; the shell's copy closes on exec.
    return pid::run_init(
        [&]() -> int {
          try {
            pid::exec_in_child({"/bin/sh"}, shell_environment());
          } catch (const std::exception& e) {
            channel.report_error(e.what());
          }
          return 127;
        },
        [&] { channel.close(); });
  } catch (const std::exception& e) {
    channel.report_error(e.what());
  }
  return 1;
}

// --- the child's side of part 2: an app at PID 1 (or at PID 2 under --init) ----------------------

// The app does what the parent asks, one command at a time, and answers. Like most programs that
// never expected to be PID 1, it waits for the children it started itself, and for nothing else.
int duties_app(lab::Channel& channel, int devnull) noexcept {
  try {
    pid_t orphans[2] = {-1, -1};
    for (;;) {
      std::string command = channel.receive();
      if (command == "orphans") {
        for (pid_t& orphan : orphans) orphan = pid::spawn_orphan({"/bin/sleep", "1000"}, devnull);
        std::string ppid =
            pid::status_field(lab::read_file(fmt::format("/proc/{}/status", orphans[0])), "PPid");
        channel.send(fmt::format("{} {} {}", orphans[0], orphans[1], ppid));
      } else if (command == "kill-orphan") {
        lab::check(::kill(orphans[0], SIGKILL),
                   [&] { return fmt::format("kill({}, SIGKILL)", orphans[0]); });
        channel.send_ok();
      } else if (command == "sigterm-pid1") {
        int code = pid::run_and_wait({"/bin/kill", "-TERM", "1"});
        channel.send(std::to_string(code));
      } else {  // "exit", or "" when the parent went away
        return 0;
      }
    }
  } catch (const std::exception& e) {
    channel.report_error(e.what());
  }
  return 1;
}

int duties_child(const Options& opt, lab::Channel& channel) noexcept {
  try {
    pid::reset_signals_in_child();
    pid::make_mounts_private_in_child();
    pid::mount_proc_in_child(opt.rootfs);
    // The orphans' stdio: /dev/null, opened before the rootfs (which has an empty /dev) is root.
    lab::UniqueFd devnull = lab::open_fd("/dev/null", O_RDWR | O_CLOEXEC);
    pid::chroot_in_child(opt.rootfs);
    channel.send_ok();
    if (!opt.init) return duties_app(channel, devnull.get());
    return pid::run_init([&] { return duties_app(channel, devnull.get()); },
                         [&] { channel.close(); });
  } catch (const std::exception& e) {
    channel.report_error(e.what());
  }
  return 1;
}

// --- the parent's side ---------------------------------------------------------------------------

// The notes' experiment: /bin/sh as PID 1, then ps. Steps 1-5 (1-4 with --shell).
// Returns what did not hold, "" when everything did.
std::string show_shell_as_pid1(const Options& opt, lab::Narrator& say) {
  say.heading("docker run -it busybox /bin/sh; ps");
  say.step(fmt::format("clone({})", lab::clone_flags_to_string(kCloneFlags)),
           "unshare --pid --mount --fork");
  auto [parent_end, child_end] = lab::Channel::make_pair();
  lab::UniqueFd stdin_read, stdin_write, stdout_read, stdout_write;
  if (!opt.shell) {
    std::tie(stdin_read, stdin_write) = make_pipe();
    std::tie(stdout_read, stdout_write) = make_pipe();
  }
  lab::Child child = lab::clone_child(kCloneFlags, [&] {
    parent_end.close();
    return shell_child(opt, child_end, stdin_read.get(), stdout_write.get());
  });
  child_end.close();
  stdin_read.reset();
  stdout_write.reset();
  const std::string ns_inside = lab::namespace_link(child.pid(), "pid");
  const std::string ns_outside = lab::namespace_link(0, "pid");
  say.say(fmt::format("clone() returned {}: the child's PID as the host numbers it", child.pid()));
  say.say(fmt::format("ns/pid inside: {}   outside: {}", ns_inside, ns_outside));

  say.step("mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL)  [in the child]",
           "mount --make-rprivate /");
  parent_end.expect_ok("making / private in the new mount namespace");
  say.say("mounts made from now on stay in the child's mount namespace");

  say.step(
      "mount(\"proc\", ROOTFS \"/proc\", \"proc\", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL); "
      "mount(\"tmpfs\", ROOTFS \"/dev\", \"tmpfs\", MS_NOSUID|MS_NOEXEC, \"mode=755,size=64k\"); "
      "mknod(ROOTFS \"/dev/null\", S_IFCHR|0666, makedev(1, 3)) ...; chroot(ROOTFS)  [in the "
      "child]",
      "mount -t proc proc ROOTFS/proc; mount -t tmpfs tmpfs ROOTFS/dev; mknod -m 666 "
      "ROOTFS/dev/null c 1 3 ...; chroot ROOTFS");
  parent_end.expect_ok(fmt::format("mounting /proc and /dev and chroot into {}", opt.rootfs));
  say.say(fmt::format("ROOTFS = {}", opt.rootfs));
  say.say("a proc mounted from inside the new PID namespace lists that namespace's processes");
  say.say(
      "the rootfs's /dev is empty: a tmpfs there gets null, zero, full, random, urandom and tty "
      "(as runc gives every container)");
  // The kernel records the mounts under the resolved path, so look for that in the host's table.
  const std::string rootfs_path = std::filesystem::canonical(opt.rootfs).string();
  const std::string proc_path = rootfs_path + "/proc";
  const std::string dev_path = rootfs_path + "/dev";
  const auto host_mounts = lab::read_mountinfo();
  const bool proc_on_host = lab::find_mount(host_mounts, proc_path) != nullptr;
  const bool dev_on_host = lab::find_mount(host_mounts, dev_path) != nullptr;
  say.say(proc_on_host || dev_on_host
              ? "the host's /proc/self/mountinfo HAS a mount on ROOTFS/proc or ROOTFS/dev: it "
                "leaked out"
              : "the host's /proc/self/mountinfo has no mount on ROOTFS/proc or ROOTFS/dev: they "
                "stayed in the child's mount namespace");
  say.fact("dev_on_host", dev_on_host);
  say.fact("proc_on_host", proc_on_host);

  const bool shell_under_init = opt.shell && opt.init;
  if (shell_under_init)
    say.step("fork(); execve(\"/bin/sh\", [\"/bin/sh\"], env)  [in the child, now an init]",
             "docker run --init -it busybox /bin/sh");
  else
    say.step("execve(\"/bin/sh\", [\"/bin/sh\"], env)  [in the child]", "/bin/sh");
  // A process keeps its PIDs across execve(), so the host's view can be read just before it.
  const std::string status = pid::read_status(child.pid());
  const std::vector<pid_t> nspid = pid::parse_nspid(status);
  const bool nspid_ok = nspid.size() == 2 && nspid[0] == child.pid() && nspid[1] == 1;
  say.say(
      fmt::format("/proc/{}/status on the host: NSpid: {}", child.pid(), fmt::join(nspid, " ")));
  say.say(fmt::format("the same process is PID {} on the host and PID {} inside", child.pid(),
                      nspid.empty() ? 0 : nspid.back()));
  say.fact("host_pid", child.pid());
  say.fact("nspid", nspid);
  say.fact("ns_inside", ns_inside);
  say.fact("ns_outside", ns_outside);
  say.fact("nspid_held", nspid_ok);

  if (shell_under_init) {
    say.say(
        "the child stays PID 1 as a small init (like docker run --init) and runs busybox sh as "
        "PID 2.");
    say.say("Try: ps; echo $$; sleep 1000 & kill %1; exit to leave (the init then exits too).");
  } else if (opt.shell) {
    say.say("you are in busybox sh, PID 1 of the new namespace. Try: ps; echo $$;");
    say.say(
        "sleep 1000 & ps; kill -KILL 1 (nothing happens: the kernel drops even SIGKILL sent to "
        "PID 1 from inside its own namespace); exit to leave.");
  }
  parent_end.send("exec");
  if (std::string msg = parent_end.receive(); !msg.empty())
    throw lab::UserError(fmt::format("starting /bin/sh in the child: {}",
                                     msg.rfind("error:", 0) == 0 ? msg.substr(6) : msg));
  std::vector<std::string> failed;
  if (!nspid_ok)
    failed.push_back(fmt::format("NSpid on the host was \"{}\", expected \"{} 1\"",
                                 fmt::join(nspid, " "), child.pid()));
  if (proc_on_host)
    failed.push_back(fmt::format("the proc mount on {} showed up on the host", proc_path));
  if (dev_on_host)
    failed.push_back(fmt::format("the tmpfs mount on {} showed up on the host", dev_path));
  if (opt.shell) {
    lab::ExitStatus s = child.wait_foreground();
    say.fact("shell_exit", s.shell_code());
    return fmt::format("{}", fmt::join(failed, "; "));
  }

  say.step("write(PID 1's stdin, \"ps\\n\")", "/ # ps");
  const std::string typed = "ps\n";
  lab::check(::write(stdin_write.get(), typed.data(), typed.size()), "write(stdin of PID 1)");
  stdin_write.reset();  // end of input: the shell exits after ps
  const std::string output = read_until_eof(stdout_read.get());
  lab::ExitStatus s = child.wait();
  std::string_view rest = output;
  while (!rest.empty()) {
    size_t end = rest.find('\n');
    say.say(fmt::format("  {}", rest.substr(0, end)));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  const auto entries = pid::parse_ps(output);
  const std::string problem = pid::check_ps_shows_shell_and_ps(entries);
  if (problem.empty()) {
    say.say("two processes: the shell as PID 1, and ps; nothing of the host is visible");
    say.say(
        "(busybox sh runs ps in a fork of itself: \"{ps}\" is its name, \"/bin/sh\" its "
        "command line)");
  } else {
    say.say(problem);
  }
  nlohmann::json ps = nlohmann::json::array();
  for (const auto& e : entries)
    ps.push_back({{"pid", e.pid}, {"user", e.user}, {"command", e.command}});
  say.fact("ps", ps);
  say.fact("ps_output", output);
  say.fact("ps_held", problem.empty());
  say.fact("shell_exit", s.shell_code());
  if (!problem.empty()) failed.insert(failed.begin(), "ps inside: " + problem);
  if (!s.ok()) failed.push_back(fmt::format("/bin/sh {}", s.describe()));
  return fmt::format("{}", fmt::join(failed, "; "));
}

// PID 1's duties, with the app at PID 1, or with --init under a small init. Steps 6-10.
bool show_pid1_duties(const Options& opt, lab::Narrator& say) {
  say.heading(opt.init ? "PID 1's duties, done by an init (docker run --init)"
                       : "PID 1's duties, with an app at PID 1 that is not an init");
  say.step(fmt::format("clone({})", lab::clone_flags_to_string(kCloneFlags)),
           opt.init ? "docker run --init" : "docker run");
  auto [parent_end, child_end] = lab::Channel::make_pair();
  lab::Child child = lab::clone_child(kCloneFlags, [&] {
    parent_end.close();
    return duties_child(opt, child_end);
  });
  child_end.close();
  const pid_t pid1 = child.pid();
  const std::string ns = lab::namespace_link(pid1, "pid");
  parent_end.expect_ok("preparing the second namespace");
  say.say(opt.init ? fmt::format("PID 1 (host {}) is this program's small init, like tini; the "
                                 "app runs under it as PID 2",
                                 pid1)
                   : fmt::format("PID 1 (host {}) is the app itself: this program's code, which "
                                 "waits only for children it started",
                                 pid1));

  // An orphan: its parent exits, and the kernel hands it to the namespace's init.
  say.step("fork(); fork(); _exit(0)  [in the app]", "sh -c 'sleep 1000 &'");
  parent_end.send("orphans");
  std::string reply = parent_end.receive_reply("making orphans");
  pid_t orphan = 0, survivor = 0;
  int ppid_inside = 0;
  if (std::sscanf(reply.c_str(), "%d %d %d", &orphan, &survivor, &ppid_inside) != 3)
    throw lab::UserError(fmt::format("making orphans: unexpected answer \"{}\"", reply));
  const pid_t host_orphan = pid::host_pid_of(ns, orphan);
  const pid_t host_survivor = pid::host_pid_of(ns, survivor);
  const std::string ppid_host = pid::status_field(pid::read_status(host_orphan), "PPid");
  const bool orphan_held = ppid_inside == 1 && ppid_host == std::to_string(pid1);
  say.say(fmt::format("two orphans, sleep 1000: PIDs {} and {} inside (host {} and {})", orphan,
                      survivor, host_orphan, host_survivor));
  say.say(fmt::format("their parent exited; PPid inside: {}   PPid on the host: {} (= PID 1)",
                      ppid_inside, ppid_host));
  say.fact("init", opt.init);
  say.fact("pid1_host", pid1);
  say.fact("orphan_pid_inside", orphan);
  say.fact("orphan_pid_host", host_orphan);
  say.fact("orphan_ppid_inside", ppid_inside);
  say.fact("orphan_ppid_host", ppid_host.empty() ? -1 : std::stoi(ppid_host));

  // A zombie: a dead child stays in the process table until its parent wait()s for it.
  say.step(fmt::format("kill({}, SIGKILL)  [in the app]", orphan),
           fmt::format("kill -KILL {}", orphan));
  parent_end.send("kill-orphan");
  parent_end.expect_ok("killing the orphan");
  bool zombie_stays = false, zombie_reaped = false;
  if (!opt.init) {
    std::string z = wait_for_status(host_orphan, [](const std::string& st) {
      return st.empty() || pid::process_state(st) == 'Z';
    });
    lab::sleep_ms(200);
    std::string later = pid::read_status(host_orphan);
    zombie_stays = pid::process_state(z) == 'Z' && pid::process_state(later) == 'Z';
    say.say(fmt::format("/proc/{}/status: State: {}", host_orphan,
                        later.empty() ? "(gone)" : pid::status_field(later, "State")));
    say.say(zombie_stays ? "it stays a zombie: PID 1 never calls wait() for a child it did not "
                           "start"
                         : "the zombie did not stay");
  } else {
    std::string gone =
        wait_for_status(host_orphan, [](const std::string& st) { return st.empty(); });
    zombie_reaped = gone.empty();
    say.say(fmt::format("/proc/{}: {}", host_orphan, zombie_reaped ? "gone" : "still there"));
    say.say(zombie_reaped ? "reaped: the init got SIGCHLD and called waitpid(-1, WNOHANG)"
                          : "the init did not reap the zombie");
  }
  say.fact("zombie_stays", zombie_stays);
  say.fact("zombie_reaped", zombie_reaped);

  // SIGTERM from inside: dropped by the kernel unless PID 1 has a handler (or blocks it).
  say.step("kill(1, SIGTERM)  [in a child of the app]", "kill -TERM 1");
  parent_end.send("sigterm-pid1");
  bool sigterm_ignored = false;
  lab::ExitStatus pid1_end;
  if (!opt.init) {
    reply = parent_end.receive_reply("sending SIGTERM to PID 1");
    const std::string st = pid::read_status(pid1);
    sigterm_ignored = reply == "0" && !st.empty() && pid::process_state(st) != 'Z';
    say.say(fmt::format("kill -TERM 1 exited {}; PID 1 (host {}) is {}", reply, pid1,
                        sigterm_ignored ? "still running" : "GONE"));
    say.say(sigterm_ignored ? "ignored: PID 1 has no SIGTERM handler, so the kernel dropped the "
                              "signal (docker stop would wait 10 s, then SIGKILL)"
                            : "PID 1 did not survive SIGTERM");
  } else {
    pid1_end = child.wait();
    say.say(
        fmt::format("the init forwarded SIGTERM to the app (PID 2), which died of it; "
                    "PID 1 then {}",
                    pid1_end.describe()));
    say.say("the container stopped at once, as docker stop expects");
  }
  say.fact("sigterm_ignored", sigterm_ignored);

  // PID 1 exits: the kernel SIGKILLs every other process in the namespace.
  if (!opt.init) {
    say.step("_exit(0)  [in PID 1], waitpid()", "exit");
    parent_end.send("exit");
    pid1_end = child.wait();
  } else {
    say.step("waitpid()  [PID 1 has ended]", "docker wait");
  }
  const std::vector<pid_t> left = pid::host_pids_in_namespace(ns);
  const bool survivor_gone = pid::read_status(host_survivor).empty();
  say.say(fmt::format("PID 1 {}; the orphan that was still running (host {}) is {}",
                      pid1_end.describe(), host_survivor, survivor_gone ? "gone" : "STILL THERE"));
  say.say(left.empty() ? "no process is left in the namespace: the kernel killed them all"
                       : fmt::format("processes left: {}", fmt::join(left, " ")));
  say.fact("pid1_exit", pid1_end.shell_code());
  say.fact("survivor_pid_host", host_survivor);
  say.fact("left_in_namespace", left);

  const bool ended = left.empty() && survivor_gone;
  if (opt.init)
    return orphan_held && zombie_reaped && pid1_end.shell_code() == 128 + SIGTERM && ended;
  return orphan_held && zombie_stays && sigterm_ignored && pid1_end.ok() && ended;
}

int run(const Options& opt) {
  lab::host::require_root("./pid");
  lab::host::require_rootfs(opt.rootfs);
  lab::Narrator say("pid", opt.output.mode(), opt.shell ? 4 : 10);

  const std::string part1_failed = show_shell_as_pid1(opt, say);
  const bool part1 = part1_failed.empty();
  if (opt.shell)
    return say.verdict(part1, !part1     ? part1_failed
                              : opt.init ? "the shell you left ran as PID 2, under an init at "
                                           "PID 1 of its own PID namespace"
                                         : "the shell you left ran as PID 1 of its own PID "
                                           "namespace")
               ? 0
               : 1;
  const bool part2 = show_pid1_duties(opt, say);
  std::string what;
  if (!part1 || !part2) {
    std::vector<std::string> failed;
    if (!part1) failed.push_back(part1_failed);
    if (!part2)
      failed.push_back(
          opt.init ? "the init did not reap the zombie or stop on SIGTERM, or left processes"
                   : "PID 1 did not adopt, keep the zombie, ignore SIGTERM and take the "
                     "namespace down as the kernel promises");
    what = fmt::format("{}", fmt::join(failed, "; "));
  } else {
    what = opt.init ? "/bin/sh was PID 1 and ps saw only itself and the shell; with --init, PID 1 "
                      "reaped the zombie and SIGTERM stopped the container"
                    : "/bin/sh was PID 1 and ps saw only itself and the shell; PID 1 adopted the "
                      "orphan, kept its zombie, ignored SIGTERM, and its exit killed the rest";
  }
  return say.verdict(part1 && part2, what) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{
      "Lesson 02: process numbers of one's own. Starts busybox sh as PID 1 of a new PID namespace\n"
      "and runs ps in it (like `docker run -it busybox /bin/sh; ps`), then shows PID 1's duties:\n"
      "orphans, zombies, SIGTERM, and the end of the namespace.",
      "pid"};
  app.add_option("--rootfs", opt.rootfs, "the busybox rootfs to chroot into (made by make rootfs)")
      ->capture_default_str()
      ->check([](const std::string& path) -> std::string {
        // "" + "/bin/busybox" is the host's own busybox: the check below would pass, and
        // chroot("") would fail only after the namespaces were made.
        if (path.empty()) return "the path is empty; give the busybox rootfs, e.g. build/rootfs";
        lab::host::Check c = lab::host::check_rootfs(path);
        return c.status == lab::host::Status::fail ? c.detail + "; " + c.fix : "";
      });
  app.add_flag("--init", opt.init,
               "run the duties part (with --shell: the shell) under a small init at PID 1 that "
               "reaps zombies and forwards SIGTERM (like docker run --init / tini)");
  app.add_flag("--shell", opt.shell,
               "leave you in busybox sh as PID 1 of the new namespace (try ps, echo $$)");
  lab::add_output_options(app, opt.output);
  if (int code = lab::parse_command_line(app, argc, argv); code >= 0) return code;
  return lab::run_guarded("pid", [&] { return run(opt); });
}
