// Where the runtime keeps what it knows of each container between commands, as runc does under
// /run/runc: one directory a container, <root>/<id>/, holding state.json and, between create and
// start, exec.fifo (the container's init is blocked opening it).
//
// Every command that changes a container holds the directory's lock (flock), so `start` and
// `delete` run at the same time cannot both act; state.json is replaced atomically (write a new
// file, rename it over the old one), so a reader never sees half of one.
#pragma once

#include <sys/types.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "fd.hpp"

namespace runtime::state {

// The default for --root: under /run, a tmpfs, so a reboot forgets containers that died with it.
inline constexpr const char* kDefaultRoot = "/run/minidocker/runtime";

// runc's rule for container IDs: letters, digits and _ + - . only; not "." or "..".
std::string validate_id(const std::string& id);

struct State {
  std::string id;
  std::string bundle;
  pid_t pid = 0;
  // The init process's start time (field 22 of /proc/PID/stat): a PID alone could be reused by
  // another process after the container exits; PID + start time cannot.
  unsigned long long start_time = 0;
  std::string created;  // RFC 3339, UTC
  std::map<std::string, std::string> annotations;
  std::string cgroups_path;
  // (directory, controller): the cgroup.subtree_control grants create made, for delete to take
  // back (Cgroup::grants_made).
  std::vector<std::pair<std::string, std::string>> cgroup_grants;
  nlohmann::json config;  // config.json as it was at create: exec and delete use it
  bool started = false;   // start has released the init
  bool paused = false;    // pause froze its cgroup (resume thaws it)
};

enum class Status { creating, created, running, paused, stopped };
std::string_view to_string(Status s);

// 0 when no such process (or it is a zombie: it has exited, only its exit code is left).
unsigned long long process_start_time(pid_t pid);
// Pure: the start time from the text of /proc/PID/stat (the comm may hold spaces and ")").
unsigned long long parse_start_time(std::string_view proc_pid_stat);
bool is_zombie(std::string_view proc_pid_stat);

class ContainerDir {
 public:
  // mkdir <root>/<id> (refused if it exists: "container \"x\" already exists") and lock it.
  // Until commit(), the destructor removes the directory again.
  static ContainerDir create(const std::string& root, const std::string& id);
  // An existing container, locked; "container \"x\" does not exist" otherwise.
  static ContainerDir open(const std::string& root, const std::string& id);
  ContainerDir(ContainerDir&&) noexcept = default;
  ~ContainerDir();

  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }
  State read() const;
  void write(const State& state);  // atomically
  Status status(const State& state) const;
  void commit() { created_ = false; }
  void remove();  // the whole directory (the lock goes with it)
  void unlock() { lock_.reset(); }

 private:
  ContainerDir(std::string path, lab::UniqueFd lock, bool created)
      : path_(std::move(path)), lock_(std::move(lock)), created_(created) {}
  std::string path_;
  lab::UniqueFd lock_;
  bool created_ = false;
};

// The state as `runtime state` prints it (runtime-spec runtime.md "State").
nlohmann::json to_oci_json(const State& state, Status status);

std::vector<std::string> list_ids(const std::string& root);

// "2026-11-30T14:00:00.123456789Z"
std::string now_rfc3339();

}  // namespace runtime::state
