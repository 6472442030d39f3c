// The exec driver's first half: an OCI bundle for a container (the notes' execdriver, which now
// writes a config.json and hands it to an OCI runtime, as dockerd hands one to containerd/runc).
//
// The spec starts from the runtime's Docker-like default (runtime/default_spec.hpp) and takes,
// in Docker's order of precedence:
//   process.args   --entrypoint (or the image's Entrypoint) + the command given (or the image's
//                  Cmd; an --entrypoint given on the command line drops the image's Cmd)
//   process.env    PATH, HOSTNAME, the image's Env, then --env-file and -e (a later KEY wins)
//   process.cwd    -w, or the image's WorkingDir, or /
//   process.user   -u, or the image's User: "name|uid[:group|gid]", names looked up in the
//                  rootfs's /etc/passwd and /etc/group, as runc's libcontainer/user does
//   linux.resources from --cpus, --cpu-shares, --memory, --memory-swap, --pids-limit (lesson 04)
//   linux.namespaces network: none keeps a new one (only lo), host removes it, a path joins one
//   mounts          the default ones, then the volumes, binds and tmpfs (BundleInput.mounts)
//   linux.cgroupsPath "/minidocker/<id>": one cgroup per container under a minidocker parent
// Everything here is pure (no files touched) except write_bundle.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace exec {

// What `run` and `create` were told (the parts that shape the bundle).
struct RunOptions {
  std::vector<std::string> command;  // after the image: overrides Cmd
  std::optional<std::string> entrypoint;
  std::vector<std::string> env;        // -e KEY=VALUE or KEY (taken from our environment)
  std::vector<std::string> env_files;  // --env-file
  std::string workdir;                 // -w
  std::string user;                    // -u
  std::string hostname;                // --hostname (default: the id's first 12 characters)
  std::string network = "bridge";      // --network: bridge, none, host
  bool read_only = false;
  bool init = false;  // --init: docker-init (tini) as PID 1 (engine/flags.hpp)
  std::vector<std::string> cap_add, cap_drop;
  std::string cpus, cpu_shares, memory, memory_swap, pids_limit;  // as typed; "" = not given
  bool interactive = false;
  bool tty = false;
  // -v, --tmpfs, --mount as typed (engine/volumes.hpp parses them and makes what they need).
  std::vector<std::string> volumes, tmpfs, mounts;
};

// The resources as numbers, after Docker's checks.
struct Limits {
  std::optional<int64_t> memory, memory_swap, cpu_quota, cpu_period, cpu_shares, pids;
};

// "512m", "1g", "100000" (bytes), "1.5g": Docker's RAMInBytes (binary units, b k m g t p, case
// insensitive, an optional trailing b). Throws lab::UserError on anything else.
int64_t parse_memory(std::string_view text);
// Docker's opts.NanoCPUs (--cpus): a rational number, as Go's big.Rat reads one in decimal, in
// nano-CPUs: "0.5" and "1/2" are 500000000, "1e-1" 100000000, "-1" -1000000000 (the range is
// parse_limits's to check, as it is Docker's daemon's). Throws lab::UserError with Docker's
// reason: "failed to parse abc as a rational number", or "value is too precise" past 9 decimals.
// (big.Rat also reads 0x, 0o and 0b numbers and '_' between digits; these are refused here.)
int64_t parse_nano_cpus(std::string_view text);
// The checks Docker makes (memory at least 6 MB, --memory-swap not below --memory and only with
// --memory, --cpus from 0.01 to the number of CPUs, shares 2..262144) and the cgroup values:
// --cpus N becomes quota N*100000 of period 100000, as Docker writes it. `ncpu` is the host's.
// memory_swap is memory PLUS swap (OCI's memory.swap, v1's memsw): --memory alone gets twice the
// memory (Docker's default), --memory-swap -1 unlimited swap, 0 the same as not given.
Limits parse_limits(const RunOptions& options, long ncpu);

// One line of an --env-file: "KEY=VALUE", "KEY" (taken from `lookup`), blank or # comment
// (nullopt). Docker keeps everything after the first '=' as is.
std::optional<std::string> env_file_line(std::string_view line,
                                         const std::function<const char*(const char*)>& lookup);
// Docker's merge: a later KEY=... replaces an earlier one in place; "KEY" alone (from -e) takes
// KEY from `lookup`, and is dropped when it is unset.
std::vector<std::string> merge_env(std::vector<std::string> base,
                                   const std::vector<std::string>& more,
                                   const std::function<const char*(const char*)>& lookup);
// --env-file FILE... then -e, as the CLI resolves them before anything is made (and as Docker's
// CLI does before it sends Env to a daemon): each file's lines (env_file_line), then merge_env.
// A file that cannot be read: lab::UserError "open FILE: no such file or directory".
std::vector<std::string> resolve_env(const std::vector<std::string>& env_files,
                                     const std::vector<std::string>& env,
                                     const std::function<const char*(const char*)>& lookup);

struct User {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
};
// "1000", "1000:1000", "nobody", "nobody:nogroup", "" (root), against the text of the rootfs's
// /etc/passwd and /etc/group. Throws lab::UserError ("unable to find user x: no matching entries
// in passwd file", runc's words).
User resolve_user(std::string_view spec, std::string_view passwd, std::string_view group);

// The process Docker would run: Entrypoint + Cmd after the overrides above. Empty: nothing to
// run ("No command specified").
std::vector<std::string> process_args(const nlohmann::json& image_config,
                                      const RunOptions& options);

struct BundleInput {
  std::string id;
  std::string rootfs;           // absolute path of the mounted rootfs
  nlohmann::json image_config;  // the image's "config" object (Cmd, Env, ...)
  RunOptions options;
  User user;
  Limits limits;
  std::string netns_path;  // a pinned network namespace to join ("" for none/host)
  // The container's volumes, binds and tmpfs as OCI mounts (engine::prepare_mounts), after the
  // default ones; one on the same destination as a default mount (/dev/shm) replaces it.
  nlohmann::json mounts = nlohmann::json::array();
};
// The config.json (pure).
nlohmann::json make_spec(const BundleInput& in);
// The cgroup every container gets: "/minidocker/<id>" in each tree (runtime/cgroups.hpp).
std::string cgroups_path(const std::string& id);

// Writes <dir>/config.json (atomically); returns <dir>.
void write_bundle(const std::string& dir, const nlohmann::json& spec);

}  // namespace exec
