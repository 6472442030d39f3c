// The volume verbs (Docker's grammar): volume create, ls, rm, inspect, prune. The store of
// volumes is final/engine/volumes.cpp; `run -v` uses the same one.
#include "engine/volumes.hpp"

#include <fmt/format.h>

#include <iostream>

#include "client/engine.hpp"
#include "error.hpp"
#include "graph/store.hpp"

namespace client {

namespace {

using nlohmann::json;

engine::Paths paths_of(const EngineOptions& options) {
  return engine::paths_for(options.root, options.explain);
}

struct VolumeFlags {
  std::vector<std::string> names;
  bool quiet = false, force = false, all = false;
};

int create_verb(const EngineOptions& options, const VolumeFlags& f) {
  if (f.names.size() > 1) throw lab::UserError("\"volume create\" requires at most 1 argument");
  engine::Volume v =
      engine::create_volume(paths_of(options), f.names.empty() ? "" : f.names.front());
  std::cout << v.name << '\n';
  return 0;
}

int ls_verb(const EngineOptions& options, const VolumeFlags& f) {
  std::vector<engine::Volume> volumes = engine::list_volumes(paths_of(options));
  if (f.quiet) {
    for (const auto& v : volumes) std::cout << v.name << '\n';
    return 0;
  }
  // Docker's table: tabwriter with minimum width 10 and padding 3; the last column not padded.
  std::cout << "DRIVER    VOLUME NAME\n";
  for (const auto& v : volumes) std::cout << "local     " << v.name << '\n';
  return 0;
}

int rm_verb(const EngineOptions& options, const VolumeFlags& f) {
  engine::Paths paths = paths_of(options);
  int rc = 0;
  for (const std::string& name : f.names) {
    try {
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
      out.push_back(engine::inspect_volume(engine::load_volume(paths, name)));
    } catch (const lab::UserError& e) {
      errors.push_back(e.what());
    }
  }
  std::cout << out.dump(4) << '\n';
  for (const std::string& e : errors) report_user_error(e);
  return errors.empty() ? 0 : 1;
}

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
  std::vector<std::string> removed = engine::prune_volumes(paths_of(options), f.all, reclaimed);
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
  auto* volume = app.add_subcommand("volume", "manage volumes (<root>/volumes/NAME/_data)");
  volume->require_subcommand(1);
  auto verb = [&](CLI::App* cmd, int (*body)(const EngineOptions&, const VolumeFlags&)) {
    cmd->callback([&, body] {
      action = [&, body] { return user_errors([&] { return body(options, flags); }); };
    });
  };

  auto* create = volume->add_subcommand("create", "create a volume (a random name without NAME)");
  create->add_option("name", flags.names, "NAME");
  verb(create, create_verb);

  auto* ls = volume->add_subcommand("ls", "list volumes")->alias("list");
  ls->add_flag("--quiet,-q", flags.quiet, "names only");
  verb(ls, ls_verb);

  auto* rm = volume->add_subcommand("rm", "remove volumes (never one in use)")->alias("remove");
  rm->add_option("volume", flags.names, "NAME")->required();
  rm->add_flag("--force,-f", flags.force, "no error for a volume that does not exist");
  verb(rm, rm_verb);

  auto* inspect = volume->add_subcommand("inspect", "volumes as Docker's JSON");
  inspect->add_option("volume", flags.names, "NAME")->required();
  verb(inspect, inspect_verb);

  auto* prune = volume->add_subcommand(
      "prune", "remove unused anonymous volumes (-a: every unused volume), as Docker 23+");
  prune->add_flag("--force,-f", flags.force, "do not ask");
  prune->add_flag("--all,-a", flags.all, "named volumes too");
  verb(prune, prune_verb);
}

}  // namespace client
