// The engine's container jobs (the notes' "engine runs each request as a job"): one function per
// verb, called by the CLI directly (and later by the daemon's router).
//
// A container's files, beside the graph driver's (diff/, init/, work/, merged/, link):
//   <root>/containers/<id>/image           the image id (the store's rule for "in use")
//   <root>/containers/<id>/config.v2.json  what was asked: name, image, command, HostConfig
//   <root>/containers/<id>/state.json      created|running, the init's and the monitor's pid and
//                                          start time (written by the engine, atomically)
//   <root>/containers/<id>/exit.json       ExitCode, FinishedAt, OOMKilled (by the monitor, once)
//   <root>/containers/<id>/<id>-json.log   stdout and stderr, Docker's json-file format
//   <root>/containers/<id>/bundle/         the OCI bundle (config.json) the runtime is given
//   <root>/containers/<id>/hosts, hostname, resolv.conf   bound over /etc's (networking.hpp)
//   <root>/containers.lock                 flock(2) while a name is taken or a container removed
// The runtime keeps its own state under <root>/run/<runtime name>.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "exec/bundle.hpp"

namespace engine {

struct Paths {
  std::string root;        // the engine's --root
  std::string minidocker;  // this binary (for the monitor's rm)
  std::string monitor;     // minidocker-monitor, beside it
  std::string minirunc;    // the runtime alone (minirunc.cpp), beside it
  bool explain = false;
};
Paths paths_for(const std::string& root, bool explain);

// --privileged, refused by the CLI and by the daemon's create alike.
inline constexpr const char* kPrivilegedRefused =
    "--privileged is not supported: it would hand the container every capability and device of "
    "the host; add what it needs with --cap-add";

struct CreateRequest {
  std::string image;
  std::string name;
  std::string runtime;  // "" (ours), "runc", or a path
  bool auto_remove = false;
  std::string restart;  // --restart as typed (engine/restart.hpp); "" is "no"
  std::vector<std::string> publish;  // -p [IP:]HOST:CTR[/tcp|/udp], as typed
  exec::RunOptions options;
  std::map<std::string, std::string> labels;  // Config.Labels (the API's; recorded as given)
};

// A failure with Docker's exit code: 125 (the engine), 126 (cannot invoke), 127 (not found).
struct RunError : std::runtime_error {
  RunError(int code_, const std::string& what) : std::runtime_error(what), code(code_) {}
  int code;
};

// create's failure to run the container's program (126, 127): the container stays, "created"
// with State.Error (as Docker keeps it, unless --rm); `start` fails the same way again.
struct StartFailure : RunError {
  StartFailure(int code_, const std::string& what, std::string id_)
      : RunError(code_, what), id(std::move(id_)) {}
  std::string id;
};

struct Container {
  std::string id, name, image_id, image_name, created, path;
  std::vector<std::string> args;
  nlohmann::json config, host_config;
  nlohmann::json mounts = nlohmann::json::array();  // inspect's "Mounts" (engine/volumes.hpp)
  std::string status = "created";                   // created, running, exited
  bool paused = false;  // running, but frozen by `pause` (state.json "Paused")
  // exited, and its --restart policy is waiting out a back-off before starting it again
  // (engine/restart.hpp): Docker's "restarting"; restart_count: inspect's RestartCount.
  bool restarting = false;
  int restart_count = 0;
  int pid = 0, exit_code = 0;
  bool oom_killed = false;
  std::string started_at, finished_at, error;  // error: a monitor that died, or a program
                                               // that could not be run (status created)
  std::string dir;
  int monitor_pid = 0;
};

// The whole `create`: every step narrated with --explain. With `stdin_fd` the container's stdin
// is that fd (else -i gives it a pipe the monitor feeds from <dir>/attach.sock); with `exit_fd` the
// monitor writes the exit code there (foreground run).
std::string create(const Paths& paths, const CreateRequest& request, int stdin_fd = -1,
                   int exit_fd = -1);
// Starts a created container, or an exited one again (a new monitor and init from the same
// bundle and rootfs; the log is appended to).
void start(const Paths& paths, const std::string& id);
// start without the user's reset of the --restart policy's count: the policy's own restarts.
void start_container(const Paths& paths, const std::string& id);
// The first half of start: an exited container gets its new monitor (and is "created" again,
// its attach socket ready); nothing for a created or running one. `start -a` attaches between.
void prepare_start(const Paths& paths, const std::string& id);
// stop (SIGTERM, SIGKILL after `seconds`), then start.
void restart(const Paths& paths, const std::string& id, int seconds);
// The id of the container `ref` (a name, an id, or a unique id prefix); RunError-free: throws
// lab::UserError "No such container: REF".
std::string resolve(const Paths& paths, const std::string& ref);
// The container with its status worked out: a monitor that died (pid and start time checked,
// never the pid alone) means its container is killed and recorded as exited with 137.
Container load(const Paths& paths, const std::string& id);
std::vector<Container> list(const Paths& paths);  // newest first
// Waits for exit.json (timeout_ms < 0: for ever); true when the container has exited.
bool wait_exit(const Paths& paths, const std::string& id, int timeout_ms);
void kill(const Paths& paths, const std::string& id, int signal);
// SIGTERM, then SIGKILL after `seconds`.
void stop(const Paths& paths, const std::string& id, int seconds);
// Removes everything: the runtime's state and cgroup, the rootfs mount and layers, the files.
void remove(const Paths& paths, const std::string& id, bool force);
// rm -v: remove, then the container's anonymous volumes (one another container uses stays, as
// with Docker).
void remove_with_volumes(const Paths& paths, const std::string& id, bool force);
nlohmann::json inspect(const Paths& paths, const Container& c);
// container prune: every container that is not running (created ones too, as Docker's), and any
// directory a killed create left without its record. Returns the ids removed; `reclaimed`, if
// given, gets the bytes their rw layers held (Docker's SpaceReclaimed, their SizeRw).
std::vector<std::string> prune(const Paths& paths, uint64_t* reclaimed = nullptr);
// Recovery after crashes (system prune): the runtimes' state of containers that are gone or have
// exited, the network driver's leftovers (endpoints, namespaces, links, rules of containers that
// are gone), empty /minidocker cgroups. Returns a line per thing removed.
std::vector<std::string> recover(const Paths& paths);
// The runtime's command line before its verb, for HostConfig.Runtime ("" is ours): ours is
// `minirunc --root STATE`, runc's `runc --root STATE`.
std::vector<std::string> runtime_command(const Paths& paths, const std::string& runtime);

// ---- pure logic ------------------------------------------------------------------------------
// "Up 3 seconds", "Exited (0) 2 seconds ago", "Created" (Docker's STATUS column).
std::string status_text(const Container& c, int64_t now);
// Docker's random names: "adjective_surname" (never "boring_wozniak", as Docker's rule).
std::string random_name(uint64_t random);
bool valid_name(const std::string& name);  // [a-zA-Z0-9][a-zA-Z0-9_.-]*
// The exit code Docker gives a failed create: 127 for a command not found, 126 for one that
// cannot be run, 125 otherwise.
int create_failure_code(const std::string& runtime_message);

// For the crash tests: MINIDOCKER_ENGINE_KILL_AT=STEP makes the engine SIGKILL itself at STEP
// (create: rootfs, record, network, bundle, monitor; commit: commit-paused), where a real crash
// (Ctrl-C, OOM, power) could stop it; `ps -a` and `system prune` must then tell the truth and
// leave nothing behind.
void kill_point(const char* step);

}  // namespace engine
