// config.json: the OCI runtime spec's description of one container (runtime-spec config.md).
//
// The bundle is a directory holding config.json and, usually, the rootfs it names. parse() reads
// every field we honour into plain structs that the kernel steps take as they are; a field we do
// not implement is refused by its JSON path ("linux.intelRdt is not supported"), never silently
// ignored, because a container that quietly lacks a limit or an isolation it asked for is worse
// than one that does not start.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "capabilities.hpp"
#include "process_limits.hpp"
#include "runtime/cgroups.hpp"
#include "runtime/mounts.hpp"

namespace runtime {

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout_seconds;
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart,
      poststop;
};

// One entry of linux.namespaces: a new namespace of `type`, or the existing one at `path`.
struct Namespace {
  std::string type;  // pid network mount ipc uts cgroup
  std::string path;  // "" for a new one
};

struct Process {
  bool terminal = false;
  std::optional<std::pair<unsigned, unsigned>> console_size;  // height, width
  lab::limits::User user;
  std::optional<mode_t> umask;  // process.user.umask; absent: 0022, as runc sets
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<lab::caps::Sets> capabilities;  // absent: keep every capability (as runc does)
  std::vector<lab::limits::Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
};

struct Spec {
  std::string oci_version;
  std::string bundle;  // absolute path of the bundle directory
  Process process;
  std::string hostname, domainname;
  mounts::Plan rootfs;  // root.path (resolved against the bundle), mounts, devices, masks
  std::vector<Namespace> namespaces;
  std::string cgroups_path;  // "" when config.json has none
  cgroups::Resources resources;
  std::optional<nlohmann::json> seccomp;
  Hooks hooks;
  std::map<std::string, std::string> annotations;

  bool has_namespace(const std::string& type) const;
  const Namespace* find_namespace(const std::string& type) const;
};

// Pure: the JSON of config.json into a Spec; `bundle` is the absolute bundle directory. Throws
// lab::UserError naming the field ("config.json: process.args must not be empty").
Spec parse(const nlohmann::json& config, const std::string& bundle);

// Reads <bundle>/config.json and parses it; the rootfs must exist.
Spec load_bundle(const std::string& bundle);

// exec --process FILE (runc's): FILE holds one JSON object shaped as config.json's "process",
// parsed with the same rules. Errors name the file ("FILE: process.args must ...").
Process load_process(const std::string& path);

// The process's environment as execve wants it, and the program looked up on the spec's PATH
// inside the container (as runc does: args[0] without a slash is searched there).
std::string find_program(const std::string& program, const std::vector<std::string>& env,
                         const std::function<bool(const std::string&)>& is_executable);

}  // namespace runtime
