// Lesson 04: a CPU limit for a group of processes (the cgroup cpu controller).
//
// What it shows: a busy loop (`while : ; do : ; done`) eats a whole CPU; after
// `echo 20000 > cpu.cfs_quota_us` (of a 100000 us period) and `echo PID > cgroup.procs` it gets
// 20%: the scheduler lets the group run 20 ms in every 100 ms and throttles it for the rest, and
// cpu.stat counts the throttled periods. (The notes write the PID to `tasks`, which moves that one
// thread only; cgroup.procs moves every thread of the process.) On v2 it also shows the "no
// internal processes" rule on the cgroup that now holds the loop: +memory in its subtree_control
// is refused (EBUSY), +cpu is accepted (cpu is a threaded controller). With --mode shares, two
// loops pinned to one CPU in two cgroups weighted 2:1 split that CPU about 2:1 (the other CFS
// control: proportional weights).
//
// The calls, in order (v1 file names; v2 in brackets):
//   parent: read /proc/self/mountinfo          which hierarchy holds the cpu controller
//   parent: [v2] write +cpu to the root's cgroup.subtree_control
//   parent: mkdir /sys/fs/cgroup/cpu/lab-cpu-PID   the kernel fills it with control files
//   parent: clone(SIGCHLD)                     the busy loop; measure its share every second
//                                              from /proc/PID/schedstat (else /proc/PID/stat)
//   parent: write cpu.cfs_quota_us [cpu.max], then the loop's PID to cgroup.procs
//   parent: measure again over whole periods (cpu.stat's nr_periods), read cpu.stat
//   parent: [v2] write +memory, then +cpu, to the cgroup's own cgroup.subtree_control
//   parent: kill the loop, rmdir the cgroup
// Man pages: cgroups(7), sched(7), proc(5) (/proc/PID/schedstat, /proc/PID/stat),
// sched_setaffinity(2);
// kernel docs: scheduler/sched-bwc.rst, admin-guide/cgroup-v2.rst.
//
// Run it, as root:  make && ./cgroup-cpu             (--mode shares for the 2:1 split, --help)
// Look for: about 100% before, about 20% after, and nr_throttled > 0 in cpu.stat (usually most
// of nr_periods: the loop uses up its quota early in a period and waits for the next one).

#include <fmt/format.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cgroup.hpp"
#include "cgroup_dir.hpp"
#include "cli.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "host.hpp"
#include "narrator.hpp"
#include "process.hpp"

namespace {

struct Options {
  long long quota_us = 20000;
  long long period_us = cgroup::kDefaultPeriodUs;
  long long seconds = 3;
  std::string mode = "quota";
  lab::OutputOptions output;
};

// --- the child's side: a busy loop --------------------------------------------------------------

// `while : ; do : ; done`: never sleeps, never makes a system call, so every bit of CPU it gets
// shows up as user time. It does not cooperate with anything; the parent moves it and kills it.
int busy_loop_in_child() noexcept {
  ::prctl(PR_SET_NAME, "lab-busy");
  volatile unsigned long spins = 0;
  for (;;) spins = spins + 1;
}

// --- the parent's side ------------------------------------------------------------------------

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Samples the processes' CPU time once a second, like top does, and prints one line per second.
// Returns each process's average share (percent of one CPU) over the whole time.
std::vector<double> measure(lab::Narrator& say, const std::vector<pid_t>& pids,
                            const std::vector<std::string>& labels, long long seconds,
                            std::vector<std::vector<double>>& samples) {
  const auto start = Clock::now();
  std::vector<double> first, last;
  for (pid_t pid : pids) first.push_back(cgroup::cpu_seconds_of_process(pid));
  last = first;
  samples.assign(pids.size(), {});
  auto tick = start;
  for (long long s = 1; s <= seconds; ++s) {
    lab::sleep_ms(1000);
    const double wall = seconds_since(tick);
    tick = Clock::now();
    std::string line = fmt::format("second {}:", s);
    for (size_t i = 0; i < pids.size(); ++i) {
      const double now = cgroup::cpu_seconds_of_process(pids[i]);
      const double percent = cgroup::share_percent(now - last[i], wall);
      last[i] = now;
      samples[i].push_back(percent);
      line += fmt::format("{} {}PID {} lab-busy %CPU {:5.1f}", i ? "   " : "", labels[i], pids[i],
                          percent);
    }
    say.say(line);
  }
  const double wall = seconds_since(start);
  std::vector<double> averages;
  for (size_t i = 0; i < pids.size(); ++i)
    averages.push_back(cgroup::share_percent(last[i] - first[i], wall));
  return averages;
}

// Waits until cpu.stat's nr_periods reaches `at_least`. nr_periods grows when the kernel's period
// timer fires, the moment the group's quota is refilled: a period boundary. Polled every
// millisecond; a timer that never fires (it cannot, while the loop runs) ends in an error.
long long wait_for_nr_periods(const std::string& dir, cgroup::Version v, long long at_least,
                              long long period_us) {
  long long now = cgroup::read_cpu_stat(dir, v).nr_periods;
  const auto deadline = Clock::now() + std::chrono::microseconds((at_least - now + 2) * period_us) +
                        std::chrono::seconds(2);
  while (now < at_least) {
    if (Clock::now() > deadline)
      throw lab::UserError(fmt::format(
          "{}/cpu.stat: nr_periods stayed at {} (waited for {}): the period timer did not fire",
          dir, now, at_least));
    lab::sleep_ms(1);
    now = cgroup::read_cpu_stat(dir, v).nr_periods;
  }
  return now;
}

// The limited phase, measured over whole periods: from one period boundary to another, about
// `seconds` apart. Within a period the loop runs its quota at once and then waits, so a window
// that starts or ends mid-period is off by up to one quota: over three 1 s windows with a 1 s
// period that is a third of the answer. Between two boundaries the group had exactly one quota
// per period. Prints a line a second as measure() does; the last one ends at the last boundary.
struct PeriodMeasurement {
  double percent = 0;
  long long periods = 0;
  std::vector<double> samples;
};
PeriodMeasurement measure_whole_periods(lab::Narrator& say, pid_t pid, const std::string& dir,
                                        cgroup::Version v, long long period_us, long long seconds) {
  const long long first_boundary =
      wait_for_nr_periods(dir, v, cgroup::read_cpu_stat(dir, v).nr_periods + 1, period_us);
  const auto start = Clock::now();
  const double first = cgroup::cpu_seconds_of_process(pid);
  const long long wanted = first_boundary + (seconds * 1000000 + period_us - 1) / period_us;
  PeriodMeasurement m;
  long long last_boundary = first_boundary;
  double last = first;
  auto tick = start;
  for (long long s = 1; s <= seconds; ++s) {
    if (s < seconds) {
      const double left = double(s) - seconds_since(start);
      if (left > 0) lab::sleep_ms(std::lround(left * 1000));
    } else {
      // `wanted` is the boundary `seconds` worth of periods after the first; if the samples
      // above ran past it, the next one.
      const long long current = cgroup::read_cpu_stat(dir, v).nr_periods;
      last_boundary = wait_for_nr_periods(dir, v, std::max(wanted, current + 1), period_us);
    }
    const double wall = seconds_since(tick);
    tick = Clock::now();
    const double now = cgroup::cpu_seconds_of_process(pid);
    m.samples.push_back(cgroup::share_percent(now - last, wall));
    last = now;
    say.say(fmt::format("second {}: PID {} lab-busy %CPU {:5.1f}", s, pid, m.samples.back()));
  }
  m.percent =
      cgroup::share_percent(last - first, std::chrono::duration<double>(tick - start).count());
  m.periods = last_boundary - first_boundary;
  return m;
}

double round2(double x) { return static_cast<double>(std::llround(x * 100)) / 100; }

std::vector<double> round_all(std::vector<double> xs) {
  for (double& x : xs) x = round2(x);
  return xs;
}

std::string limit_text(const cgroup::CpuLimit& limit, cgroup::Version v) {
  if (v == cgroup::Version::v2)
    return fmt::format("cpu.max = \"{}\"", cgroup::format_cpu_max(limit));
  return fmt::format("cpu.cfs_quota_us = {}{}   cpu.cfs_period_us = {}", limit.quota_us,
                     limit.unlimited() ? " (no limit)" : "", limit.period_us);
}

// What run() found in /proc/self/mountinfo, once, before the first step.
struct Host {
  lab::host::CgroupLayout layout;
  cgroup::CpuController cpu;
};

// Step: which hierarchy holds cpu, and the file this mode will write there.
void narrate_controller(lab::Narrator& say, const Host& host, std::string_view file) {
  say.step("read(\"/proc/self/mountinfo\")", "grep cgroup /proc/self/mountinfo");
  say.say(fmt::format("{}: using {}", host.cpu.explanation, file));
  say.fact("host_layout", std::string(lab::host::to_string(host.layout.mode)));
  say.fact("cgroup_version", std::string(cgroup::to_string(host.cpu.version)));
  say.fact("hierarchy", host.cpu.root);
}

// Step (v2 only): +cpu in the root's subtree_control.
lab::SubtreeControl enable_cpu_for_children(lab::Narrator& say, const std::string& dir) {
  const std::string file = dir + "/cgroup.subtree_control";
  say.step(fmt::format("write({}, \"+cpu\")", lab::quote(file)),
           fmt::format("echo +cpu > {}", file));
  lab::SubtreeControl grant = lab::SubtreeControl::enable(dir, "cpu");
  say.say(grant.was_enabled_already()
              ? "cpu was already enabled for the root's children"
              : "cpu is now enabled for the root's children (and disabled again at the end)");
  say.say("v2's \"no internal processes\" rule: a cgroup that holds processes cannot hand a");
  say.say("domain controller (memory, io) to its children (EBUSY); the root is exempt from it");
  return grant;
}

// What the kernel answered to a write into cgroup.subtree_control.
std::string answer_to(const std::string& file, const std::string& value) {
  try {
    lab::write_file(file, value);
    return "accepted";
  } catch (const lab::SyscallError& e) {
    if (e.code().value() == EBUSY) return "EBUSY";
    if (e.code().value() == EOPNOTSUPP) return "EOPNOTSUPP";
    throw;
  }
}

// The "no internal processes" rule, shown on DIR while it holds the loop (v2 only). The rule is
// for domain controllers such as memory and io: a cgroup with processes of its own cannot hand
// them to children, so +memory fails with EBUSY. cpu is a threaded controller too (so are pids,
// cpuset and perf_event): the kernel accepts +cpu in a cgroup with processes, provided no child
// of it holds processes and no domain controller is enabled there, and turns it into a "thread
// root" (cgroup.type "domain threaded"), whose children can then only be threaded cgroups.
// +memory goes first: in a thread root it would be refused with EOPNOTSUPP instead. Both are
// undone before the step ends. memory must be in DIR's cgroup.controllers, so the root's
// subtree_control gets it first (undone by `memory_grant`).
struct RuleAnswers {
  std::string memory;  // "EBUSY" (the rule), "accepted", or "unavailable" (no memory controller)
  std::string cpu;     // "accepted" (threaded), or "EBUSY"
  std::string type_with_cpu;  // cgroup.type while +cpu was in: "domain threaded"
};
RuleAnswers show_no_internal_processes(lab::Narrator& say, const std::string& root,
                                       const std::string& dir, pid_t loop,
                                       lab::SubtreeControl& memory_grant) {
  const std::string file = dir + "/cgroup.subtree_control";
  say.step(fmt::format("write({}, \"+memory\"), then \"+cpu\"", lab::quote(file)),
           fmt::format("echo +memory > {}; echo +cpu > {}", file, file));
  RuleAnswers a;
  if (!lab::controller_listed(lab::read_file(root + "/cgroup.controllers"), "memory")) {
    a.memory = "unavailable";
    say.say("this kernel offers no memory controller, so +memory cannot be shown");
  } else {
    memory_grant = lab::SubtreeControl::enable(root, "memory");
    if (!memory_grant.was_enabled_already())
      say.say(
          fmt::format("(first echo +memory > {}/cgroup.subtree_control, undone at the end)", root));
    a.memory = answer_to(file, "+memory");
    if (a.memory == "accepted") lab::write_file(file, "-memory");
    if (a.memory == "EBUSY") {
      say.say(fmt::format("+memory -> EBUSY: the cgroup holds the loop (PID {}), and memory is a",
                          loop));
      say.say("domain controller: \"no internal processes\" forbids passing it on");
    } else {
      say.say(fmt::format("+memory -> {}: NOT the EBUSY of \"no internal processes\"", a.memory));
    }
  }
  a.cpu = answer_to(file, "+cpu");
  if (a.cpu == "accepted") {
    a.type_with_cpu = lab::read_file(dir + "/cgroup.type");
    while (!a.type_with_cpu.empty() && a.type_with_cpu.back() == '\n') a.type_with_cpu.pop_back();
    lab::write_file(file, "-cpu");
  }
  if (a.cpu == "accepted") {
    say.say(fmt::format("+cpu -> accepted: cpu is a threaded controller; cgroup.type became \"{}\"",
                        a.type_with_cpu));
    say.say("(a thread root: its children could only be threaded); echo -cpu undid it");
  } else {
    say.say(fmt::format("+cpu -> {}: NOT accepted, although cpu is a threaded controller", a.cpu));
  }
  say.fact("subtree_memory_answer", a.memory);
  say.fact("subtree_cpu_answer", a.cpu);
  say.fact("cgroup_type_with_cpu", a.type_with_cpu);
  return a;
}

int run_quota(const Options& opt, const Host& host, lab::Narrator& say) {
  const cgroup::CpuController& cpu = host.cpu;
  const cgroup::Version v = cpu.version;
  const cgroup::CpuFiles files = cgroup::files_for(v);
  narrate_controller(say, host, files.quota);
  lab::SubtreeControl grant;
  if (v == cgroup::Version::v2) grant = enable_cpu_for_children(say, cpu.root);
  lab::SubtreeControl memory_grant;  // v2: for the "no internal processes" step

  const std::string path = fmt::format("{}/lab-cpu-{}", cpu.root, ::getpid());
  say.step(fmt::format("mkdir({}, 0755)", lab::quote(path)), "mkdir " + path);
  lab::CgroupDir group = lab::CgroupDir::create(path, cpu.root);
  const cgroup::CpuLimit initial = cgroup::read_cpu_limit(path, v);
  say.say(fmt::format("the kernel filled it with control files; {}", limit_text(initial, v)));
  say.fact("cgroup", path);
  say.fact("initial_quota_us", initial.quota_us);
  say.fact("initial_period_us", initial.period_us);

  say.step("clone(SIGCHLD) -> for (;;) spins++", "while : ; do : ; done &");
  lab::Child loop = lab::clone_child(SIGCHLD, busy_loop_in_child);
  say.say(fmt::format("busy loop PID {}; its CPU time from /proc/{}/{} every second:", loop.pid(),
                      loop.pid(), cgroup::cpu_time_file(loop.pid())));
  std::vector<std::vector<double>> free_samples;
  const double free_share = measure(say, {loop.pid()}, {""}, opt.seconds, free_samples).at(0);
  // On a busy machine other work takes part of the CPU; the quota is a ceiling, so it still shows.
  say.say(fmt::format("no limit: {:.1f}% of one CPU{}", free_share,
                      free_share < 80 ? " (other work on this machine took the rest)" : ""));

  const cgroup::CpuLimit limit{opt.quota_us, opt.period_us};
  say.step(cgroup::set_cpu_limit_call(path, v, limit), cgroup::set_cpu_limit_shell(path, v, limit));
  cgroup::set_cpu_limit(path, v, limit);
  say.say(fmt::format("{} us of CPU in every {} us period: at most {:.1f}% of one CPU",
                      limit.quota_us, limit.period_us, limit.percent()));

  const std::string procs = group.file(files.procs);
  say.step(fmt::format("write({}, \"{}\")", lab::quote(procs), loop.pid()),
           fmt::format("echo {} > {}", loop.pid(), procs));
  cgroup::move_process_from_parent(path, v, loop.pid());
  const std::string loop_cgroup = cgroup::cgroup_of_process(loop.pid(), v);
  say.say(fmt::format("/proc/{}/cgroup now says {}; measuring again, from a period boundary:",
                      loop.pid(), loop_cgroup));
  const PeriodMeasurement limited =
      measure_whole_periods(say, loop.pid(), path, v, limit.period_us, opt.seconds);
  const double limited_share = limited.percent;
  say.say(fmt::format("limited: {:.1f}% of one CPU over {} whole periods (asked for {:.1f}%)",
                      limited_share, limited.periods, limit.percent()));

  say.step(fmt::format("read(\"{}/cpu.stat\")", path), fmt::format("cat {}/cpu.stat", path));
  const cgroup::CpuStat stat = cgroup::read_cpu_stat(path, v);
  say.say(fmt::format("nr_periods {}   nr_throttled {}   throttled {:.1f} s", stat.nr_periods,
                      stat.nr_throttled, double(stat.throttled_usec) / 1e6));
  say.say("a throttled period: the loop used up its quota early and waited for the next one");

  RuleAnswers rule;
  if (v == cgroup::Version::v2)
    rule = show_no_internal_processes(say, cpu.root, path, loop.pid(), memory_grant);

  say.step(fmt::format("kill({}, SIGKILL); rmdir({})", loop.pid(), lab::quote(path)),
           fmt::format("kill {}; rmdir {}", loop.pid(), path));
  const pid_t loop_pid = loop.pid();
  loop.kill_and_reap();
  group.remove();
  memory_grant.restore();
  grant.restore();
  const bool removed = !std::filesystem::exists(path);
  say.say(removed ? "the loop is gone and so is the cgroup (rmdir works once it is empty)"
                  : "the cgroup is STILL there");

  say.fact("mode", "quota");
  say.fact("quota_us", limit.quota_us);
  say.fact("period_us", limit.period_us);
  say.fact("seconds", opt.seconds);
  say.fact("loop_pid", loop_pid);
  say.fact("loop_cgroup", loop_cgroup);
  say.fact("expected_percent", round2(limit.percent()));
  say.fact("unlimited_percent", round2(free_share));
  say.fact("limited_percent", round2(limited_share));
  say.fact("samples_unlimited", round_all(free_samples.at(0)));
  say.fact("samples_limited", round_all(limited.samples));
  say.fact("limited_periods", limited.periods);
  say.fact("nr_periods", stat.nr_periods);
  say.fact("nr_throttled", stat.nr_throttled);
  say.fact("throttled_usec", stat.throttled_usec);
  say.fact("cgroup_removed", removed);

  const bool near = cgroup::share_near(limited_share, limit.percent());
  // v2: the rule held for memory (where the kernel has it) and cpu, being threaded, was let in.
  const bool rule_shown = v == cgroup::Version::v1 ||
                          ((rule.memory == "EBUSY" || rule.memory == "unavailable") &&
                           rule.cpu == "accepted" && rule.type_with_cpu == "domain threaded");
  const bool held = near && stat.nr_throttled > 0 && removed && rule_shown;
  std::string rule_text =
      v == cgroup::Version::v1 ? ""
      : rule.memory == "unavailable"
          ? fmt::format("; +cpu {} in the cgroup holding it", rule.cpu)
          : fmt::format("; +memory {}, +cpu {} in the cgroup holding it", rule.memory, rule.cpu);
  std::string what =
      held ? fmt::format(
                 "the loop took {:.1f}% of a CPU, then {:.1f}% under a quota of {} of {} "
                 "us ({:.1f}%), throttled in {} of {} periods{}",
                 free_share, limited_share, limit.quota_us, limit.period_us, limit.percent(),
                 stat.nr_throttled, stat.nr_periods, rule_text)
           : fmt::format(
                 "expected about {:.1f}% with throttling, measured {:.1f}% with {} "
                 "throttled periods{}{}",
                 limit.percent(), limited_share, stat.nr_throttled,
                 removed ? "" : " (and the cgroup was not removed)",
                 rule_shown ? ""
                            : fmt::format(" (and on v2 expected +memory EBUSY and +cpu accepted "
                                          "as \"domain threaded\", got +memory {}, +cpu {} {})",
                                          rule.memory, rule.cpu, rule.type_with_cpu));
  return say.verdict(held, what) ? 0 : 1;
}

int run_shares(const Options& opt, const Host& host, lab::Narrator& say) {
  const cgroup::CpuController& cpu = host.cpu;
  const cgroup::Version v = cpu.version;
  const cgroup::CpuFiles files = cgroup::files_for(v);
  narrate_controller(say, host, files.weight);
  lab::SubtreeControl root_grant;
  if (v == cgroup::Version::v2) root_grant = enable_cpu_for_children(say, cpu.root);

  const std::string path = fmt::format("{}/lab-cpu-{}", cpu.root, ::getpid());
  say.step(fmt::format("mkdir({}, 0755), then heavy/ and light/ in it", lab::quote(path)),
           fmt::format("mkdir -p {}/heavy {}/light", path, path));
  lab::CgroupDir group = lab::CgroupDir::create(path, cpu.root);
  lab::SubtreeControl inner_grant;
  if (v == cgroup::Version::v2) {
    // lab-cpu-PID holds no process, so it may pass cpu on; its leaves will hold the loops.
    inner_grant = lab::SubtreeControl::enable(path, "cpu");
    say.say(
        fmt::format("echo +cpu > {}/cgroup.subtree_control: allowed, it holds no process", path));
  }
  lab::CgroupDir heavy = lab::CgroupDir::create(path + "/heavy", cpu.root);
  lab::CgroupDir light = lab::CgroupDir::create(path + "/light", cpu.root);
  say.say(
      fmt::format("both start at {} = {}", files.weight, cgroup::read_cpu_weight(light.path(), v)));
  say.fact("cgroup", path);

  const long long light_weight = cgroup::default_weight(v);
  const long long heavy_weight = 2 * light_weight;
  say.step(fmt::format("write(\"heavy/{}\", \"{}\"), write(\"light/{}\", \"{}\")", files.weight,
                       heavy_weight, files.weight, light_weight),
           fmt::format("echo {} > heavy/{}; echo {} > light/{}", heavy_weight, files.weight,
                       light_weight, files.weight));
  cgroup::set_cpu_weight(heavy.path(), v, heavy_weight);
  cgroup::set_cpu_weight(light.path(), v, light_weight);
  say.say("weights only matter when the CPU is contended: then heavy gets 2 parts, light 1");

  const int cpu_number = cgroup::first_allowed_cpu();
  say.step(fmt::format("clone(SIGCHLD) x2; sched_setaffinity(PID, {{cpu {}}})", cpu_number),
           fmt::format("taskset -c {} sh -c 'while : ; do : ; done' &  (twice)", cpu_number));
  lab::Child heavy_loop = lab::clone_child(SIGCHLD, busy_loop_in_child);
  lab::Child light_loop = lab::clone_child(SIGCHLD, busy_loop_in_child);
  cgroup::pin_to_cpu_from_parent(heavy_loop.pid(), cpu_number);
  cgroup::pin_to_cpu_from_parent(light_loop.pid(), cpu_number);
  say.say(fmt::format("loops {} and {} both on CPU {}: they must share it", heavy_loop.pid(),
                      light_loop.pid(), cpu_number));

  say.step(fmt::format("write(\"heavy/{}\", \"{}\"), write(\"light/{}\", \"{}\")", files.procs,
                       heavy_loop.pid(), files.procs, light_loop.pid()),
           fmt::format("echo {} > heavy/{}; echo {} > light/{}", heavy_loop.pid(), files.procs,
                       light_loop.pid(), files.procs));
  cgroup::move_process_from_parent(heavy.path(), v, heavy_loop.pid());
  cgroup::move_process_from_parent(light.path(), v, light_loop.pid());
  // v1 has no "no internal processes" rule, so nothing to show there; on v2 the verdict needs
  // the kernel's EBUSY below.
  bool internal_process_refused = v == cgroup::Version::v1;
  if (v == cgroup::Version::v2) {
    // Show the rule instead of only stating it: lab-cpu-PID hands cpu to children that hold
    // processes, so the kernel will not let a process live in it as well. (Before its children
    // held any process the move would be allowed: cpu is a threaded controller, and a cgroup
    // whose children hold no process and which enables only threaded controllers may still become
    // a thread root. That is why the loops go into the leaves first.)
    try {
      cgroup::move_process_from_parent(path, v, heavy_loop.pid());
      say.say(fmt::format("then: echo {} > {}/cgroup.procs -> accepted: the kernel let a process",
                          heavy_loop.pid(), path));
      say.say("into a cgroup with +cpu in subtree_control (\"no internal processes\" NOT shown)");
      cgroup::move_process_from_parent(heavy.path(), v, heavy_loop.pid());
    } catch (const lab::SyscallError& e) {
      if (e.code().value() != EBUSY) throw;
      say.say(fmt::format("then: echo {} > {}/cgroup.procs -> EBUSY: it passes cpu to",
                          heavy_loop.pid(), path));
      say.say("children that hold processes, so it may not hold any itself (\"no internal");
      say.say("processes\"; with its children empty, cpu being threaded, it could have)");
      internal_process_refused = true;
    }
    say.fact("internal_process_refused", internal_process_refused);
  }
  const std::string heavy_cgroup = cgroup::cgroup_of_process(heavy_loop.pid(), v);
  const std::string light_cgroup = cgroup::cgroup_of_process(light_loop.pid(), v);
  say.say(fmt::format("/proc/PID/cgroup: {} and {}", heavy_cgroup, light_cgroup));

  say.step(fmt::format("read(\"/proc/{{{},{}}}/{}\") every second", heavy_loop.pid(),
                       light_loop.pid(), cgroup::cpu_time_file(heavy_loop.pid())),
           "top -p PID1,PID2");
  std::vector<std::vector<double>> samples;
  const std::vector<double> shares = measure(say, {heavy_loop.pid(), light_loop.pid()},
                                             {"heavy ", "light "}, opt.seconds, samples);
  const double ratio = shares.at(1) > 0 ? shares.at(0) / shares.at(1) : 0.0;
  say.say(fmt::format("heavy {:.1f}%, light {:.1f}%: a ratio of {:.2f} (weights {}:{})",
                      shares.at(0), shares.at(1), ratio, heavy_weight, light_weight));

  say.step(fmt::format("kill(PID, SIGKILL) x2; rmdir heavy, light, {}", lab::quote(path)),
           fmt::format("kill {} {}; rmdir {}/heavy {}/light {}", heavy_loop.pid(), light_loop.pid(),
                       path, path, path));
  const pid_t heavy_pid = heavy_loop.pid(), light_pid = light_loop.pid();
  heavy_loop.kill_and_reap();
  light_loop.kill_and_reap();
  heavy.remove();
  light.remove();
  inner_grant.restore();
  group.remove();
  root_grant.restore();
  const bool removed = !std::filesystem::exists(path);
  say.say(removed ? "the loops are gone and so are the three cgroups" : "a cgroup is STILL there");

  say.fact("mode", "shares");
  say.fact("seconds", opt.seconds);
  say.fact("cpu", cpu_number);
  say.fact("weight_file", std::string(files.weight));
  say.fact("heavy_weight", heavy_weight);
  say.fact("light_weight", light_weight);
  say.fact("heavy_pid", heavy_pid);
  say.fact("light_pid", light_pid);
  say.fact("heavy_cgroup", heavy_cgroup);
  say.fact("light_cgroup", light_cgroup);
  say.fact("heavy_percent", round2(shares.at(0)));
  say.fact("light_percent", round2(shares.at(1)));
  say.fact("samples_heavy", round_all(samples.at(0)));
  say.fact("samples_light", round_all(samples.at(1)));
  say.fact("ratio", round2(ratio));
  say.fact("cgroup_removed", removed);

  const bool near = cgroup::ratio_near(ratio, 2.0);
  const bool held = near && internal_process_refused && removed;
  std::string what =
      held ? fmt::format(
                 "two loops on CPU {} with weights {}:{} got {:.1f}% and {:.1f}%, a ratio "
                 "of {:.2f}",
                 cpu_number, heavy_weight, light_weight, shares.at(0), shares.at(1), ratio)
           : fmt::format(
                 "expected a ratio near 2 (1.5 to 2.7), measured {:.2f} ({:.1f}% and "
                 "{:.1f}%){}{}",
                 ratio, shares.at(0), shares.at(1),
                 internal_process_refused
                     ? ""
                     : " (and the kernel let a process into lab-cpu-PID although it passes cpu "
                       "to its children: no EBUSY)",
                 removed ? "" : " (and a cgroup was not removed)");
  return say.verdict(held, what) ? 0 : 1;
}

int run(const Options& opt) {
  lab::host::require_root("./cgroup-cpu");
  Host host;
  host.layout = lab::host::detect_cgroups();
  host.cpu = cgroup::find_cpu_controller(host.layout);
  // v2 adds +cpu in the root's subtree_control, and in quota mode the "no internal processes" step.
  const bool v2 = host.cpu.version == cgroup::Version::v2;
  const int steps = 7 + (v2 ? 1 : 0) + (v2 && opt.mode == "quota" ? 1 : 0);
  lab::Narrator say("cgroup-cpu", opt.output.mode(), steps);
  return opt.mode == "quota" ? run_quota(opt, host, say) : run_shares(opt, host, say);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{
      "Lesson 04: a CPU limit for a group of processes. Starts a busy loop, measures it at about\n"
      "100% of a CPU, puts it in a cgroup with a CFS quota (cpu.cfs_quota_us on v1, cpu.max on\n"
      "v2) and measures it again at quota/period, like `echo 20000 > cpu.cfs_quota_us`.\n"
      "--mode shares instead splits one CPU 2:1 between two cgroups by weight.",
      "cgroup-cpu"};
  app.add_option("--quota-us", opt.quota_us,
                 "CPU time the group may use per period, in microseconds (at least 1000, and "
                 "less than --period-us)")
      ->capture_default_str()
      ->transform(lab::whole_number_option(cgroup::validate_quota, "microseconds"));
  app.add_option("--period-us", opt.period_us,
                 "the length of a period, in microseconds (1000 to 1000000)")
      ->capture_default_str()
      ->transform(lab::whole_number_option(cgroup::validate_period, "microseconds"));
  app.add_option("--seconds", opt.seconds, "how long to measure each phase (1 to 60)")
      ->capture_default_str()
      ->transform(lab::whole_number_option(cgroup::validate_seconds, "seconds"));
  app.add_option("--mode", opt.mode,
                 "quota: a hard cap (cfs_quota_us / cpu.max); shares: two loops weighted 2:1 "
                 "(cpu.shares / cpu.weight)")
      ->capture_default_str()
      ->check(CLI::IsMember({"quota", "shares"}));
  lab::add_output_options(app, opt.output);
  if (int code = lab::parse_command_line(app, argc, argv); code >= 0) return code;
  if (std::string why = cgroup::validate_quota_below_period(opt.quota_us, opt.period_us);
      opt.mode == "quota" && !why.empty()) {
    fmt::print(stderr, "cgroup-cpu: --quota-us: {}; see cgroup-cpu --help\n", why);
    return 2;
  }
  return lab::run_guarded("cgroup-cpu", [&] { return run(opt); });
}
