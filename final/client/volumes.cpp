// The volume verbs (Docker's grammar): volume create, ls, rm, inspect, prune. The store of
// volumes is final/engine/volumes.cpp; `run -v` uses the same one. With -H each asks the daemon
// for the same job (POST /volumes/create, GET /volumes, ...: final/daemon/routes_resources.cpp)
// and prints its answer with the same code as its own.
#include "engine/volumes.hpp"

#include <fmt/format.h>

#include <iostream>

#include "client/engine.hpp"
#include "daemon/http_client.hpp"
#include "error.hpp"
#include "graph/store.hpp"

namespace client {

namespace {

using nlohmann::json;

engine::Paths paths_of(const EngineOptions& options) {
  return engine::paths_for(options.root, options.explain);
}

bool remote(const EngineOptions& options) { return !options.host.empty(); }

api::DaemonClient daemon_of(const EngineOptions& options) {
  return api::DaemonClient(options.host, options.explain);
}

std::string path_of(const std::string& name) { return "/volumes/" + api::url_escape(name); }

struct VolumeFlags {
  std::vector<std::string> names;
  bool quiet = false, force = false, all = false;
};

int create_verb(const EngineOptions& options, const VolumeFlags& f) {
  if (f.names.size() > 1) throw lab::UserError("\"volume create\" requires at most 1 argument");
  std::string name = f.names.empty() ? "" : f.names.front();
  if (remote(options))
    name =
        json::parse(
            daemon_of(options).checked("POST", "/volumes/create", json{{"Name", name}}.dump()).body)
            .at("Name");
  else
    name = engine::create_volume(paths_of(options), name).name;
  std::cout << name << '\n';
  return 0;
}

int ls_verb(const EngineOptions& options, const VolumeFlags& f) {
  std::vector<std::string> names;
  if (remote(options)) {
    json answer = json::parse(daemon_of(options).checked("GET", "/volumes").body);
    if (answer.value("Volumes", json()).is_array())
      for (const json& v : answer["Volumes"]) names.push_back(v.at("Name"));
  } else {
    for (const engine::Volume& v : engine::list_volumes(paths_of(options))) names.push_back(v.name);
  }
  if (f.quiet) {
    for (const auto& name : names) std::cout << name << '\n';
    return 0;
  }
  // Docker's table: tabwriter with minimum width 10 and padding 3; the last column not padded.
  std::cout << "DRIVER    VOLUME NAME\n";
  for (const auto& name : names) std::cout << "local     " << name << '\n';
  return 0;
}

int rm_verb(const EngineOptions& options, const VolumeFlags& f) {
  engine::Paths paths = paths_of(options);
  int rc = 0;
  for (const std::string& name : f.names) {
    try {
      // Through the daemon without force=1: a missing volume comes back as the error below,
      // which -f forgives here, as it does in-process (and nothing is printed for it).
      if (remote(options))
        daemon_of(options).checked("DELETE", path_of(name));
      else
        engine::remove_volume(paths, name);
      std::cout << name << '\n';
    } catch (const lab::UserError& e) {
      // -f: a missing volume is no error (a volume in use still is, as with Docker).
      if (f.force && std::string(e.what()).ends_with(": no such volume")) continue;
      rc = report_user_error(e.what());
    }
  }
  return rc;
}

int inspect_verb(const EngineOptions& options, const VolumeFlags& f) {
  engine::Paths paths = paths_of(options);
  json out = json::array();
  std::vector<std::string> errors;
  for (const std::string& name : f.names) {
    try {
      out.push_back(remote(options)
                        ? json::parse(daemon_of(options).checked("GET", path_of(name)).body)
                        : engine::inspect_volume(engine::load_volume(paths, name)));
    } catch (const lab::UserError& e) {
      errors.push_back(e.what());
    }
  }
  std::cout << out.dump(4) << '\n';
  for (const std::string& e : errors) report_user_error(e);
  return errors.empty() ? 0 : 1;
}

}  // namespace

// The volumes no container uses, anonymous ones or `all`; shared with system prune --volumes.
// Through the daemon the filter all= says which (API 1.41's daemon would take all of them).
std::vector<std::string> prune_volumes(const EngineOptions& options, bool all,
                                       uint64_t& reclaimed) {
  if (!remote(options)) return engine::prune_volumes(paths_of(options), all, reclaimed);
  std::string filters = json{{"all", {all ? "true" : "false"}}}.dump();
  json answer =
      json::parse(daemon_of(options)
                      .checked("POST", "/volumes/prune?filters=" + api::url_escape(filters))
                      .body);
  reclaimed = answer.value("SpaceReclaimed", uint64_t{0});
  std::vector<std::string> removed;
  if (answer.value("VolumesDeleted", json()).is_array())
    removed = answer["VolumesDeleted"].get<std::vector<std::string>>();
  return removed;
}

namespace {

int prune_verb(const EngineOptions& options, const VolumeFlags& f) {
  if (!f.force) {
    std::cout << (f.all ? "WARNING! This will remove all local volumes not used by at least one "
                          "container.\n"
                        : "WARNING! This will remove anonymous local volumes not used by at "
                          "least one container.\n")
              << "Are you sure you want to continue? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y") return 0;
  }
  uint64_t reclaimed = 0;
  std::vector<std::string> removed = prune_volumes(options, f.all, reclaimed);
  if (!removed.empty()) {
    std::cout << "Deleted Volumes:\n";
    for (const auto& name : removed) std::cout << name << '\n';
    std::cout << '\n';
  }
  std::cout << "Total reclaimed space: " << graph::human_size(static_cast<double>(reclaimed))
            << '\n';
  return 0;
}

int user_errors(const std::function<int()>& body) {
  try {
    return body();
  } catch (const lab::UserError& e) {
    return report_user_error(e.what());
  }
}

}  // namespace

void add_volume_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action) {
  static VolumeFlags flags;
  // Each volume is <root>/volumes/NAME/_data.
  auto* volume = app.add_subcommand("volume", "Manage volumes");
  volume->require_subcommand(1);
  auto verb = [&](CLI::App* cmd, int (*body)(const EngineOptions&, const VolumeFlags&)) {
    cmd->callback([&, body] {
      action = [&, body] { return user_errors([&] { return body(options, flags); }); };
    });
  };

  auto* create = volume->add_subcommand("create", "Create a volume");
  docker_args(create, "[OPTIONS] [VOLUME]", at_most(1));
  create->add_option("name", flags.names, "NAME");
  verb(create, create_verb);

  auto* ls = volume->add_subcommand("ls", "List volumes")->alias("list");
  docker_args(ls, "[OPTIONS]", kNoArgs);
  ls->add_flag("--quiet,-q", flags.quiet, "names only");
  verb(ls, ls_verb);

  auto* rm = volume->add_subcommand("rm", "Remove one or more volumes")->alias("remove");
  docker_args(rm, "[OPTIONS] VOLUME [VOLUME...]", at_least(1));
  rm->add_option("volume", flags.names, "NAME")->required();
  rm->add_flag("--force,-f", flags.force, "no error for a volume that does not exist");
  verb(rm, rm_verb);

  auto* inspect =
      volume->add_subcommand("inspect", "Display detailed information on one or more volumes");
  docker_args(inspect, "[OPTIONS] VOLUME [VOLUME...]", at_least(1));
  inspect->add_option("volume", flags.names, "NAME")->required();
  verb(inspect, inspect_verb);

  // Docker 23+'s prune (anonymous volumes; -a every unused one), under its Short; 20.10's was
  // "Remove all unused local volumes".
  auto* prune = volume->add_subcommand("prune", "Remove unused local volumes");
  docker_args(prune, "[OPTIONS]", kNoArgs);
  prune->add_flag("--force,-f", flags.force, "do not ask");
  prune->add_flag("--all,-a", flags.all, "named volumes too");
  verb(prune, prune_verb);
}

}  // namespace client
