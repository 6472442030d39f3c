// The engine's verbs under Docker's grammar: `minidocker [--root DIR] [--explain] VERB ...`.
//
// Each verb opens the store (final/graph/store.hpp) at the engine root, takes its lock for the
// whole command (shared to read, exclusive to write), and prints what Docker prints: the same
// columns, the same units, "Error: No such image: NAME" and exit 1 for a user's mistake, exit 125
// for a command line Docker's CLI would refuse.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "graph/store.hpp"
#include "narrator.hpp"

namespace client {

struct EngineOptions {
  std::string root = graph::kDefaultStoreRoot;
  bool explain = false;
};

// --explain: "[lesson 05] ..." or "[graph] sha256 of ..." lines on stderr through the narrator.
class Narration {
 public:
  explicit Narration(bool on);
  // `lesson` is "01".."06", or "" for a step of the image store.
  void step(std::string_view lesson, std::string_view call, std::string_view shell = {}) const;

 private:
  std::unique_ptr<lab::Narrator> narrator_;
};

// The store at options.root, its narration wired to --explain. The caller takes the lock.
std::unique_ptr<graph::Store> open_store(const EngineOptions& options);

// A user's mistake in an engine verb: printed as Docker does, "Error: <message>", exit 1.
int report_user_error(const std::string& message);

// import, images / image ls, tag, rmi / image rm, history, image inspect, image prune, system df.
// `action` is set to the verb that was chosen.
void add_image_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// The images `images` lists, newest first: with `all` the intermediate ones too (untagged, with
// a child). Shared with the daemon's GET /images/json (final/daemon/routes.cpp).
std::vector<graph::Image> listed_images(const graph::Store& store, bool all);
// One image as `image inspect` prints it (Docker's JSON); the daemon's GET /images/{name}/json.
nlohmann::json image_inspect_json(const graph::Store& store, const graph::Image& image);

// load and save: final/client/load_save.cpp (the transfer helper's file), same contract.
void add_load_save_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// pull and push (final/client/pull_push.cpp), same contract; call after add_image_verbs, which
// makes the `image` group that `image pull` and `image push` join.
void add_pull_push_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// create, run, start, ps, logs, wait, stop, kill, rm, inspect, container ls|rm|inspect|prune
// (final/client/containers.cpp; the jobs are final/engine/), same contract.
void add_container_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);
// attach and restart (final/client/attach.cpp), same contract.
void add_attach_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);
// network create|ls|rm|inspect (final/client/networks.cpp, over final/network/driver.hpp), same
// contract.
void add_network_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// system prune (final/client/system.cpp), same contract; call after add_image_verbs (which makes
// the `system` group) and add_container_verbs.
void add_system_prune(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// exec, top, stats, pause, unpause, rename (final/client/ops.cpp; the jobs are
// final/engine/ops.cpp), same contract.
void add_ops_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);
// volume create|ls|rm|inspect|prune (final/client/volumes.cpp, over final/engine/volumes.hpp),
// same contract.
void add_volume_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// cp and diff (final/client/files.cpp, over final/engine/files.hpp), same contract.
void add_file_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// commit (final/client/commit.cpp, over final/engine/commit.cpp), same contract.
void add_commit_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);
// build (final/client/build.cpp, over final/engine/build.cpp), same contract.
void add_build_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// daemon (final/daemon/command.cpp): serves the engine over the Docker Engine API on a unix
// socket (final/daemon/server.cpp, router.hpp, routes.cpp), same contract.
void add_daemon_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action);

// Parses argv against `app` (whose verbs set `action`) and runs the verb, Docker's way: a bad
// command line prints "minidocker: <what>\nSee 'minidocker VERB --help'." and exits 125.
int run_engine(CLI::App& app, const std::function<int()>& action, int argc, char** argv);

}  // namespace client
