// The cgroup cpu controller: a hard cap (CFS bandwidth) and proportional shares (CFS weights).
//
// The Completely Fair Scheduler offers two ways to hold a group of processes back:
//   quota/period  in every period (100 ms by default) the group may run for at most `quota`
//                 microseconds, summed over all CPUs; then it is throttled until the next period.
//                 v1: cpu.cfs_quota_us + cpu.cfs_period_us     v2: cpu.max ("20000 100000")
//   weights       when CPUs are contended, groups get CPU time in proportion to their weights;
//                 an idle CPU is still anyone's. v1: cpu.shares (1024)   v2: cpu.weight (100)
// cpu.stat counts the periods and how many of them ended in throttling.
//
// The same idea sits behind different files in v1 and v2, so every function takes the Version.
// Functions that touch a running process say which side does it: the loop never cooperates, the
// parent moves it (echo PID > cgroup.procs). See cgroups(7), sched(7), and the kernel's
// Documentation/scheduler/sched-bwc.rst and Documentation/admin-guide/cgroup-v2.rst.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "host.hpp"

namespace cgroup {

enum class Version { v1, v2 };
std::string_view to_string(Version v);

// Where the cpu controller lives on this host.
struct CpuController {
  Version version = Version::v2;
  std::string root;  // the hierarchy's mount point, e.g. /sys/fs/cgroup/cpu or /sys/fs/cgroup
  std::string explanation;  // for the student: which layout, and why this hierarchy
};
// Pure: from lab::host::detect_cgroups(). v2 wins when its root offers cpu; otherwise a v1 cpu
// hierarchy (hybrid hosts: v1 controllers plus a v2 tree without cpu). Throws lab::UserError if
// neither has it.
CpuController find_cpu_controller(const lab::host::CgroupLayout& layout);

// The control files, by version.
struct CpuFiles {
  std::string_view quota;   // cpu.cfs_quota_us | cpu.max
  std::string_view period;  // cpu.cfs_period_us | cpu.max
  std::string_view weight;  // cpu.shares | cpu.weight
  // Where a PID is written to move a process: cgroup.procs in both versions, which moves all of
  // its threads. (v1 also has `tasks`, as in the notes: a thread ID written there moves that one
  // thread, so a three-thread process would leave two threads behind.)
  std::string_view procs;
};
CpuFiles files_for(Version v);

// --- limits --------------------------------------------------------------------------------------
constexpr long long kMinQuotaUs = 1000;      // the kernel refuses less than 1 ms (EINVAL)
constexpr long long kMinPeriodUs = 1000;     // 1 ms
constexpr long long kMaxPeriodUs = 1000000;  // 1 s
constexpr long long kDefaultPeriodUs = 100000;

struct CpuLimit {
  long long quota_us = -1;  // -1: no limit ("max" in v2)
  long long period_us = kDefaultPeriodUs;
  bool unlimited() const { return quota_us < 0; }
  double percent() const {
    return unlimited() ? 100.0 : 100.0 * double(quota_us) / double(period_us);
  }
};

// Why a value cannot be used, or "" when it can (for CLI11 validators and for the engine).
std::string validate_quota(long long quota_us);
std::string validate_period(long long period_us);
std::string validate_quota_below_period(long long quota_us, long long period_us);
std::string validate_seconds(long long seconds);

// v2's cpu.max: "max 100000" or "20000 100000". Throws std::invalid_argument on anything else.
CpuLimit parse_cpu_max(std::string_view text);
std::string format_cpu_max(const CpuLimit& limit);
// One number in a v1 file ("-1\n", "100000\n"). Throws std::invalid_argument.
long long parse_number(std::string_view text);

CpuLimit read_cpu_limit(const std::string& dir, Version v);
// v1: period into cpu.cfs_period_us (only if it changes), then quota into cpu.cfs_quota_us.
// v2: "QUOTA PERIOD" into cpu.max.
void set_cpu_limit(const std::string& dir, Version v, const CpuLimit& limit);
// What set_cpu_limit writes, for the narration, when DIR starts at the default period:
//   as calls:  write("/sys/fs/cgroup/cpu/lab-cpu-1/cpu.cfs_quota_us", "20000")
//   as shell:  echo 20000 > /sys/fs/cgroup/cpu/lab-cpu-1/cpu.cfs_quota_us
// A v1 period other than the default adds the cpu.cfs_period_us write before the quota's.
std::string set_cpu_limit_call(const std::string& dir, Version v, const CpuLimit& limit);
std::string set_cpu_limit_shell(const std::string& dir, Version v, const CpuLimit& limit);

// --- weights -------------------------------------------------------------------------------------
// The default weight: 1024 cpu.shares in v1, 100 cpu.weight in v2.
// Weights `ratio`:1 are ratio*default and default.
long long default_weight(Version v);
long long read_cpu_weight(const std::string& dir, Version v);
void set_cpu_weight(const std::string& dir, Version v, long long weight);

// --- accounting ----------------------------------------------------------------------------------
struct CpuStat {
  long long nr_periods = 0;
  long long nr_throttled = 0;
  long long throttled_usec = 0;
};
// v1 reports throttled_time in nanoseconds, v2 throttled_usec in microseconds.
CpuStat parse_cpu_stat(std::string_view text, Version v);
CpuStat read_cpu_stat(const std::string& dir, Version v);

// --- processes -----------------------------------------------------------------------------------
// echo PID > DIR/cgroup.procs, done by the parent: the whole process, every thread.
void move_process_from_parent(const std::string& dir, Version v, pid_t pid);
// Which cgroup of this hierarchy /proc/PID/cgroup names: "/lab-cpu-42". Pure on the file's text:
// v1 lines look like "4:cpu,cpuacct:/lab-cpu-42", v2's like "0::/lab-cpu-42". "" if absent.
std::string cgroup_of(std::string_view proc_pid_cgroup, Version v);
std::string cgroup_of_process(pid_t pid, Version v);

// The first CPU this process may run on, and sched_setaffinity(pid, {cpu}) from the parent.
int first_allowed_cpu();
void pin_to_cpu_from_parent(pid_t pid, int cpu);

// CPU time a process has used. top reads utime + stime from /proc/PID/stat, in clock ticks (10 ms);
// /proc/PID/schedstat's first number is the same time in nanoseconds. Both parsers are pure (the
// command name in stat may hold spaces and parentheses); cpu_seconds_of_process prefers schedstat
// and cpu_time_file names the one it reads: "schedstat", or "stat" without CONFIG_SCHED_INFO.
long long parse_proc_stat_ticks(std::string_view text);
long long parse_schedstat_ns(std::string_view text);
std::string_view cpu_time_file(pid_t pid);
double cpu_seconds_of_process(pid_t pid);
// Percent of one CPU.
double share_percent(double cpu_seconds, double wall_seconds);

// --- what the verdicts accept --------------------------------------------------------------------
// The measured share is within `tolerance` (relative) of the expected one.
bool share_near(double measured_percent, double expected_percent, double tolerance = 0.25);
// Two loops with weights 2:1 on one CPU: the measured ratio is in [1.5, 2.7].
bool ratio_near(double measured, double expected);

// --- beyond cpu: the controllers a container runtime sets ---------------------------------------
// The runtime (final/runtime/cgroups) applies an OCI spec's linux.resources through these, so
// each write it makes is one this lesson's module knows how to explain.

// One write into a control file, as the functions below made it (for --explain narration).
struct FileWrite {
  std::string file;
  std::string value;
  std::string call() const;   // write("/sys/fs/cgroup/pids/c/pids.max", "10")
  std::string shell() const;  // echo 10 > /sys/fs/cgroup/pids/c/pids.max
};

// OCI's cpu.shares (v1's 2..262144, default 1024) as v2's cpu.weight (1..10000, default 100),
// runc's linear map: 1 + ((shares - 2) * 9999) / 262142. 0 (unset) stays 0.
long long shares_to_weight(long long shares);

// Memory. OCI's memory.limit is bytes (-1: unlimited); memory.swap is memory PLUS swap, as v1's
// memory.memsw.limit_in_bytes. v2 splits them: memory.max and memory.swap.max (swap alone), so
// v2 gets swap - limit. Why a pair cannot be used, or "" (pure). There is no minimum: the kernel
// takes any size, but one below what the group already uses fails with EBUSY when it cannot be
// reclaimed, and a container's init alone needs a few hundred KiB.
std::string validate_memory(long long limit_bytes, std::optional<long long> swap);
// The value memory.swap.max gets for OCI's memory+swap total: "max" for -1, else swap - limit.
// Throws std::invalid_argument when validate_memory would refuse the pair.
std::string v2_swap_max(long long limit_bytes, long long swap);
// v1: memory.limit_in_bytes and memory.memsw.limit_in_bytes, in the order the kernel accepts
// (memsw may never drop below the limit: raising both writes memsw first). Without swap
// accounting (swapaccount=0, no memsw file) a swap value other than -1 is refused (UserError).
// v2: memory.max, then memory.swap.max (skipped without the file if the value is "max" or "0").
// Returns the writes made, in order.
std::vector<FileWrite> set_memory_limit(const std::string& dir, Version v, long long limit_bytes,
                                        std::optional<long long> swap);

// Pids: pids.max, the same file in v1 and v2; a limit <= 0 means none ("max").
std::string format_pids_max(long long limit);
std::vector<FileWrite> set_pids_limit(const std::string& dir, long long limit);

}  // namespace cgroup
