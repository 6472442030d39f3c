// The engine's jobs on a running container (issue 9): exec, top, stats, pause and unpause, and
// rename. Each one asks the container's own runtime (ours or runc, `<runtime> exec|pause|resume`,
// both OCI runtimes with runc's grammar) or reads the kernel's files of the container: its
// cgroup (lesson 04) and its network namespace's /proc/PID/net/dev (lesson 06).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/containers.hpp"

namespace engine {

// A failure Docker's daemon reports: the CLI prints "Error response from daemon: <what>" and
// exits 1.
struct DaemonError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- exec ------------------------------------------------------------------------------------
struct ExecRequest {
  std::vector<std::string> command;
  std::vector<std::string> env;        // -e KEY=VAL or KEY (taken from our environment)
  std::vector<std::string> env_files;  // --env-file
  std::string workdir;                 // -w
  std::string user;                    // -u NAME|UID[:GROUP|GID]
  bool detach = false;                 // -d
  bool interactive = false;            // -i
  // -t: the runtime makes a pty (`exec --tty --console-socket`) and sends its master to us;
  // `terminal` relays between the CLI and the master until the process's side closes.
  bool tty = false;
  std::function<void(int master)> terminal;
  // With -t, the terminal's size (rows, columns) from the start: the runtime sets it on the pty
  // before the process runs (process.consoleSize), so `stty size` as the first command is right.
  std::optional<std::pair<unsigned short, unsigned short>> console_size;
  // The process's stdin (with -i), stdout and stderr: the CLI's own, or the daemon's pipes to a
  // hijacked connection (final/daemon/routes_containers.cpp).
  int stdin_fd = 0, stdout_fd = 1, stderr_fd = 2;
  // Where the runtime writes the process's pid ("": <dir>/exec-<our pid>.pid); the daemon runs
  // several execs at once and reads it for GET /exec/{id}/json.
  std::string pid_file;
};
// Runs the command in the container through `<runtime> exec`: its stdout and stderr are ours,
// with -i its stdin too. Returns the process's exit code (0 at once with -d). Throws DaemonError
// (not running, paused) or RunError with 126/127 for a command that cannot be run / is not found.
int exec(const Paths& paths, const std::string& id, const ExecRequest& request);
// Pure: where `program` is on `path` ("a:b:c") among the names `exists` says are there: the
// first "dir/program" for which it is true; a program with a '/' is itself. nullopt: not found.
std::optional<std::string> find_on_path(const std::string& program, const std::string& path,
                                        const std::function<bool(const std::string&)>& exists);

// ---- top -------------------------------------------------------------------------------------
// The PIDs (as the host sees them) of every process in the container's cgroup.
std::vector<pid_t> container_pids(const Paths& paths, const Container& c);
struct PsTable {
  std::vector<std::string> titles;
  std::vector<std::vector<std::string>> rows;
};
// Pure, Docker's parsePSOutput: the header's columns, then each line whose PID column is in
// `pids` (the last column keeps its spaces). Throws lab::UserError without a PID column.
PsTable filter_ps_output(std::string_view ps_output, const std::vector<pid_t>& pids);
// `top`: the host's ps with `ps_args` (default -ef), only the rows of the container's processes,
// as Docker's daemon does it. Throws DaemonError when the container is not running.
PsTable top(const Paths& paths, const std::string& id, std::vector<std::string> ps_args);

// ---- stats -----------------------------------------------------------------------------------
// One reading of a container's cgroup and network namespace.
struct Sample {
  uint64_t cpu_usage_ns = 0;     // cpuacct.usage, or cpu.stat usage_usec * 1000
  uint64_t system_usage_ns = 0;  // the host's CPU time (/proc/stat), as Docker's system_cpu_usage
  uint64_t memory_usage = 0;     // without the inactive page cache, as Docker shows it
  uint64_t memory_limit = 0;     // the host's memory when there is no limit
  uint64_t pids = 0;
  uint64_t net_rx = 0, net_tx = 0;
  uint64_t block_read = 0, block_write = 0;
};
Sample sample(const Container& c);
// Pure parsers of the kernel's files (v1 and v2).
// "cpu  1 2 3 ..." of /proc/stat: the sum of the first line's ticks, in ns (ticks_per_second).
uint64_t parse_proc_stat_cpu_ns(std::string_view proc_stat, long ticks_per_second);
// The value of `key` in a "key value" file (memory.stat, cpu.stat); nullopt when absent.
std::optional<uint64_t> parse_keyed(std::string_view text, std::string_view key);
// A limit file: "max" (v2) or a value past the host's memory (v1's "no limit") -> nullopt.
std::optional<uint64_t> parse_limit(std::string_view text, uint64_t host_memory);
// v1 blkio.throttle.io_service_bytes(_recursive): "8:0 Read 4096" lines summed by Read/Write.
std::pair<uint64_t, uint64_t> parse_blkio_v1(std::string_view text);
// v2 io.stat: "8:0 rbytes=4096 wbytes=0 rios=1 ..." summed.
std::pair<uint64_t, uint64_t> parse_io_stat_v2(std::string_view text);
// /proc/PID/net/dev: received and transmitted bytes of every interface but lo.
std::pair<uint64_t, uint64_t> parse_net_dev(std::string_view text);
// Docker's calculateCPUPercentUnix: the container's share of the host's CPU time between two
// samples, times the online CPUs, in percent.
double cpu_percent(const Sample& before, const Sample& after, long online_cpus);
// Docker's units: "5.629MiB" (binary, 4 significant digits) and "147kB" (decimal, 3).
std::string bytes_size(double bytes);
std::string human_size(double bytes);

// ---- pause, unpause, rename ------------------------------------------------------------------
void pause(const Paths& paths, const std::string& id);
void unpause(const Paths& paths, const std::string& id);
// Thaws a paused container after a signal (Docker's stop and kill of a paused container).
void resume_after_signal(const Paths& paths, const Container& c);
void rename(const Paths& paths, const std::string& ref, const std::string& new_name);

}  // namespace engine
