#include "cgroup.hpp"

#include <fmt/format.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <stdexcept>
#include <vector>

#include "error.hpp"
#include "fd.hpp"

namespace cgroup {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) s.remove_prefix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string path_in(const std::string& dir, std::string_view file) {
  return fmt::format("{}/{}", dir, file);
}

}  // namespace

std::string_view to_string(Version v) { return v == Version::v1 ? "v1" : "v2"; }

CpuController find_cpu_controller(const lab::host::CgroupLayout& layout) {
  using lab::host::CgroupMode;
  CpuController c;
  const std::string where = layout.where("cpu");
  if (where == "v2") {
    c.version = Version::v2;
    c.root = layout.v2_mount;
    c.explanation = layout.mode == CgroupMode::hybrid
                        ? fmt::format("hybrid host, but cpu is in the cgroup v2 tree at {}", c.root)
                        : fmt::format("cgroup v2 at {}, one tree for every controller", c.root);
    return c;
  }
  if (where == "v1") {
    c.version = Version::v1;
    c.root = layout.v1_controllers.at("cpu");
    c.explanation =
        layout.mode == CgroupMode::hybrid
            ? fmt::format(
                  "hybrid host: the cgroup v2 tree at {} holds {} but not cpu; cpu is a "
                  "v1 hierarchy at {}",
                  layout.v2_mount,
                  layout.v2_controllers.empty()
                      ? std::string("no controllers")
                      : fmt::format("{}", fmt::join(layout.v2_controllers, " ")),
                  c.root)
            : fmt::format("cgroup v1, the cpu controller in its own hierarchy at {}", c.root);
    return c;
  }
  throw lab::UserError(
      "no cgroup hierarchy offers the cpu controller; mount cgroup2 at /sys/fs/cgroup "
      "(mount -t cgroup2 none /sys/fs/cgroup) or check `make doctor`");
}

CpuFiles files_for(Version v) {
  // Both versions move a process through cgroup.procs: every thread of it. v1's `tasks` (the
  // notes' file) takes a thread ID and moves that one thread only.
  if (v == Version::v1)
    return {"cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares", "cgroup.procs"};
  return {"cpu.max", "cpu.max", "cpu.weight", "cgroup.procs"};
}

std::string validate_quota(long long quota_us) {
  if (quota_us < kMinQuotaUs)
    return fmt::format("the quota is {} us; the kernel needs at least {} us (1 ms)", quota_us,
                       kMinQuotaUs);
  return "";
}

std::string validate_period(long long period_us) {
  if (period_us < kMinPeriodUs || period_us > kMaxPeriodUs)
    return fmt::format("the period is {} us; the kernel accepts {} to {} us (1 ms to 1 s)",
                       period_us, kMinPeriodUs, kMaxPeriodUs);
  return "";
}

std::string validate_quota_below_period(long long quota_us, long long period_us) {
  if (quota_us >= period_us)
    return fmt::format(
        "a quota of {} us per {} us period is {}% of a CPU; one busy loop never "
        "uses more than 100%, so nothing would be throttled: give a quota below "
        "the period",
        quota_us, period_us, 100 * quota_us / period_us);
  return "";
}

std::string validate_seconds(long long seconds) {
  if (seconds < 1 || seconds > 60)
    return fmt::format("{} seconds: measure for 1 to 60 seconds", seconds);
  return "";
}

long long parse_number(std::string_view text) {
  std::string_view t = trim(text);
  long long value = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || ec != std::errc() || ptr != t.data() + t.size())
    throw std::invalid_argument(fmt::format("not a number: \"{}\"", t));
  return value;
}

CpuLimit parse_cpu_max(std::string_view text) {
  auto words = split(trim(text), ' ');
  if (words.size() != 2)
    throw std::invalid_argument(
        fmt::format("cpu.max should hold \"QUOTA PERIOD\", not \"{}\"", trim(text)));
  CpuLimit limit;
  limit.quota_us = words[0] == "max" ? -1 : parse_number(words[0]);
  limit.period_us = parse_number(words[1]);
  return limit;
}

std::string format_cpu_max(const CpuLimit& limit) {
  return limit.unlimited() ? fmt::format("max {}", limit.period_us)
                           : fmt::format("{} {}", limit.quota_us, limit.period_us);
}

CpuLimit read_cpu_limit(const std::string& dir, Version v) {
  const CpuFiles files = files_for(v);
  if (v == Version::v2) return parse_cpu_max(lab::read_file(path_in(dir, files.quota)));
  CpuLimit limit;
  limit.quota_us = parse_number(lab::read_file(path_in(dir, files.quota)));
  limit.period_us = parse_number(lab::read_file(path_in(dir, files.period)));
  return limit;
}

void set_cpu_limit(const std::string& dir, Version v, const CpuLimit& limit) {
  const CpuFiles files = files_for(v);
  if (v == Version::v2) {
    lab::write_file(path_in(dir, files.quota), format_cpu_max(limit));
    return;
  }
  if (read_cpu_limit(dir, v).period_us != limit.period_us)
    lab::write_file(path_in(dir, files.period), std::to_string(limit.period_us));
  lab::write_file(path_in(dir, files.quota), std::to_string(limit.quota_us));
}

std::string set_cpu_limit_call(const std::string& dir, Version v, const CpuLimit& limit) {
  const CpuFiles files = files_for(v);
  if (v == Version::v2)
    return fmt::format("write(\"{}/{}\", \"{}\")", dir, files.quota, format_cpu_max(limit));
  std::string quota = fmt::format("write(\"{}/{}\", \"{}\")", dir, files.quota, limit.quota_us);
  if (limit.period_us == kDefaultPeriodUs) return quota;
  return fmt::format("write(\"{}/{}\", \"{}\"), {}", dir, files.period, limit.period_us, quota);
}

std::string set_cpu_limit_shell(const std::string& dir, Version v, const CpuLimit& limit) {
  const CpuFiles files = files_for(v);
  if (v == Version::v2)
    return fmt::format("echo \"{}\" > {}/{}", format_cpu_max(limit), dir, files.quota);
  std::string quota = fmt::format("echo {} > {}/{}", limit.quota_us, dir, files.quota);
  if (limit.period_us == kDefaultPeriodUs) return quota;
  return fmt::format("echo {} > {}/{}; {}", limit.period_us, dir, files.period, quota);
}

long long default_weight(Version v) { return v == Version::v1 ? 1024 : 100; }

long long read_cpu_weight(const std::string& dir, Version v) {
  return parse_number(lab::read_file(path_in(dir, files_for(v).weight)));
}

void set_cpu_weight(const std::string& dir, Version v, long long weight) {
  lab::write_file(path_in(dir, files_for(v).weight), std::to_string(weight));
}

CpuStat parse_cpu_stat(std::string_view text, Version v) {
  CpuStat stat;
  for (std::string_view line : split(text, '\n')) {
    auto words = split(trim(line), ' ');
    if (words.size() != 2) continue;
    long long value = 0;
    auto [ptr, ec] = std::from_chars(words[1].data(), words[1].data() + words[1].size(), value);
    if (ec != std::errc()) continue;
    if (words[0] == "nr_periods") stat.nr_periods = value;
    if (words[0] == "nr_throttled") stat.nr_throttled = value;
    if (v == Version::v1 && words[0] == "throttled_time") stat.throttled_usec = value / 1000;
    if (v == Version::v2 && words[0] == "throttled_usec") stat.throttled_usec = value;
  }
  return stat;
}

CpuStat read_cpu_stat(const std::string& dir, Version v) {
  return parse_cpu_stat(lab::read_file(path_in(dir, "cpu.stat")), v);
}

void move_process_from_parent(const std::string& dir, Version v, pid_t pid) {
  lab::write_file(path_in(dir, files_for(v).procs), std::to_string(pid));
}

std::string cgroup_of(std::string_view proc_pid_cgroup, Version v) {
  // Each line is "hierarchy-ID:controller-list:path"; v2's hierarchy is ID 0 with no controllers.
  for (std::string_view line : split(proc_pid_cgroup, '\n')) {
    size_t first = line.find(':');
    size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    std::string_view id = line.substr(0, first);
    std::string_view controllers = line.substr(first + 1, second - first - 1);
    std::string_view path = line.substr(second + 1);
    if (v == Version::v2 && id == "0" && controllers.empty()) return std::string(path);
    if (v == Version::v1)
      for (std::string_view c : split(controllers, ','))
        if (c == "cpu") return std::string(path);
  }
  return "";
}

std::string cgroup_of_process(pid_t pid, Version v) {
  return cgroup_of(lab::read_file(fmt::format("/proc/{}/cgroup", pid)), v);
}

int first_allowed_cpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  lab::check(::sched_getaffinity(0, sizeof set, &set), "sched_getaffinity(0)");
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) return cpu;
  return 0;
}

void pin_to_cpu_from_parent(pid_t pid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  lab::check(::sched_setaffinity(pid, sizeof set, &set),
             [&] { return fmt::format("sched_setaffinity({}, {{cpu {}}})", pid, cpu); });
}

long long parse_proc_stat_ticks(std::string_view text) {
  // "PID (comm) state ppid ..." : comm may hold anything, so count fields after the last ')'.
  size_t close = text.rfind(')');
  if (close == std::string_view::npos)
    throw std::invalid_argument("/proc/PID/stat without \"(comm)\"");
  std::vector<std::string_view> fields;
  for (std::string_view f : split(trim(text.substr(close + 1)), ' '))
    if (!f.empty()) fields.push_back(f);
  // fields[0] is field 3 (state); utime is field 14 and stime field 15 (see proc(5)).
  if (fields.size() < 13) throw std::invalid_argument("/proc/PID/stat is too short");
  return parse_number(fields[11]) + parse_number(fields[12]);
}

long long parse_schedstat_ns(std::string_view text) {
  auto words = split(trim(text), ' ');
  if (words.size() != 3) throw std::invalid_argument("/proc/PID/schedstat should hold 3 numbers");
  return parse_number(words[0]);
}

std::string_view cpu_time_file(pid_t pid) {
  // top's utime+stime tick 100 times a second; over one second of a 10% share that is +-10%.
  // The scheduler's own sum in nanoseconds is in /proc/PID/schedstat (CONFIG_SCHED_INFO).
  const std::string schedstat = fmt::format("/proc/{}/schedstat", pid);
  return ::access(schedstat.c_str(), R_OK) == 0 ? "schedstat" : "stat";
}

double cpu_seconds_of_process(pid_t pid) {
  const std::string_view file = cpu_time_file(pid);
  const std::string text = lab::read_file(fmt::format("/proc/{}/{}", pid, file));
  if (file == "schedstat") return double(parse_schedstat_ns(text)) / 1e9;
  static const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  return double(parse_proc_stat_ticks(text)) / double(ticks_per_second);
}

double share_percent(double cpu_seconds, double wall_seconds) {
  return wall_seconds > 0 ? 100.0 * cpu_seconds / wall_seconds : 0.0;
}

bool share_near(double measured_percent, double expected_percent, double tolerance) {
  return measured_percent >= expected_percent * (1 - tolerance) &&
         measured_percent <= expected_percent * (1 + tolerance);
}

bool ratio_near(double measured, double expected) {
  return measured >= expected * 0.75 && measured <= expected * 1.35;
}

}  // namespace cgroup

namespace cgroup {

std::string FileWrite::call() const { return fmt::format("write(\"{}\", \"{}\")", file, value); }

std::string FileWrite::shell() const {
  const bool needs_quotes = value.find(' ') != std::string::npos;
  return needs_quotes ? fmt::format("echo \"{}\" > {}", value, file)
                      : fmt::format("echo {} > {}", value, file);
}

long long shares_to_weight(long long shares) {
  if (shares == 0) return 0;
  return 1 + ((shares - 2) * 9999) / 262142;
}

std::string validate_memory(long long limit_bytes, std::optional<long long> swap) {
  if (limit_bytes == 0 || limit_bytes < -1)
    return fmt::format(
        "memory.limit is {} bytes; give a positive number of bytes, or -1 for no limit",
        limit_bytes);
  if (!swap || *swap == -1) return "";
  if (*swap <= 0)
    return fmt::format(
        "memory.swap is {}; it is memory plus swap in bytes (at least memory.limit), or -1 for "
        "no limit",
        *swap);
  if (limit_bytes == -1)
    return fmt::format(
        "memory.swap ({}) limits memory plus swap, so it needs a memory.limit as well", *swap);
  if (*swap < limit_bytes)
    return fmt::format(
        "memory.swap ({}) is memory plus swap and cannot be below memory.limit ({}); give the "
        "same value for no swap at all",
        *swap, limit_bytes);
  return "";
}

std::string v2_swap_max(long long limit_bytes, long long swap) {
  std::string why = validate_memory(limit_bytes, swap);
  if (!why.empty()) throw std::invalid_argument(why);
  return swap == -1 ? "max" : std::to_string(swap - limit_bytes);
}

namespace {

bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The kernel answers EBUSY to a memory limit below what the group already uses when it cannot
// reclaim enough (anonymous memory with no swap to go to); say how much is in use.
[[noreturn]] void explain_memory_busy(const lab::SyscallError& e, const std::string& usage_file) {
  std::string usage = lab::trim(lab::read_file_or_empty(usage_file));
  throw lab::SyscallError(
      e.code().value(),
      fmt::format("{} (the group already uses {} bytes, which the kernel could not reclaim)",
                  e.call(), usage.empty() ? "?" : usage));
}

}  // namespace

std::vector<FileWrite> set_memory_limit(const std::string& dir, Version v, long long limit_bytes,
                                        std::optional<long long> swap) {
  std::string why = validate_memory(limit_bytes, swap);
  if (!why.empty()) throw lab::UserError(why);
  std::vector<FileWrite> done;
  auto write = [&](std::string_view file, const std::string& value) {
    FileWrite w{path_in(dir, file), value};
    try {
      lab::write_file(w.file, w.value);
    } catch (const lab::SyscallError& e) {
      if (e.code().value() != EBUSY) throw;
      explain_memory_busy(
          e, path_in(dir, v == Version::v1 ? "memory.usage_in_bytes" : "memory.current"));
    }
    done.push_back(std::move(w));
  };

  if (v == Version::v2) {
    write("memory.max", limit_bytes < 0 ? "max" : std::to_string(limit_bytes));
    if (swap) {
      std::string swap_max = v2_swap_max(limit_bytes, *swap);
      if (file_exists(path_in(dir, "memory.swap.max"))) {
        write("memory.swap.max", swap_max);
      } else if (swap_max != "max" && swap_max != "0") {
        throw lab::UserError(fmt::format(
            "memory.swap {} needs swap accounting, and this kernel has none ({} is missing); "
            "leave memory.swap out or set it to -1",
            *swap, path_in(dir, "memory.swap.max")));
      }
    }
    return done;
  }

  // v1 keeps memory.memsw.limit_in_bytes >= memory.limit_in_bytes at every moment (EINVAL
  // otherwise), so the order of the two writes depends on which way the limits move.
  const std::string limit = std::to_string(limit_bytes);
  const bool has_memsw = file_exists(path_in(dir, "memory.memsw.limit_in_bytes"));
  if (swap && !has_memsw && *swap != -1)
    throw lab::UserError(fmt::format(
        "memory.swap {} needs swap accounting, and this kernel has it off "
        "({} is missing; boot with swapaccount=1); leave memory.swap out or set it to -1",
        *swap, path_in(dir, "memory.memsw.limit_in_bytes")));
  if (!swap || !has_memsw) {
    write("memory.limit_in_bytes", limit);
    return done;
  }
  const long long current = parse_number(lab::read_file(path_in(dir, "memory.limit_in_bytes")));
  if (*swap == -1 || current < *swap) {
    write("memory.memsw.limit_in_bytes", std::to_string(*swap));
    write("memory.limit_in_bytes", limit);
  } else {
    write("memory.limit_in_bytes", limit);
    write("memory.memsw.limit_in_bytes", std::to_string(*swap));
  }
  return done;
}

std::string format_pids_max(long long limit) { return limit <= 0 ? "max" : std::to_string(limit); }

std::vector<FileWrite> set_pids_limit(const std::string& dir, long long limit) {
  FileWrite w{path_in(dir, "pids.max"), format_pids_max(limit)};
  lab::write_file(w.file, w.value);
  return {w};
}

}  // namespace cgroup
