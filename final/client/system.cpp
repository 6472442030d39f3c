// `system prune`: what Docker's removes (stopped containers, networks no container uses,
// dangling images, or with -a every unused image), and before that the engine's recovery: what
// crashed commands left that no record names (engine::recover: runtime state, network
// endpoints, namespaces, links, rules, empty cgroups). Docker's daemon recovers at its start;
// with no daemon, this is where it happens. With -H the daemon is asked for each part (POST
// /containers/prune, /networks/prune, /volumes/prune, /images/prune), as Docker's CLI does.
#include <fmt/format.h>

#include <iostream>
#include <map>

#include "client/engine.hpp"
#include "daemon/http_client.hpp"
#include "engine/containers.hpp"
#include "engine/networking.hpp"
#include "graph/driver.hpp"

namespace client {

namespace {

// What one verb's worth of pruning removed: the lines of its section and the bytes it freed.
struct Pruned {
  std::vector<std::string> containers, networks, volumes, images, recovered;
  uint64_t reclaimed = 0;
};

// The jobs themselves, in Docker's order, and before them the recovery.
Pruned prune_here(const EngineOptions& options, bool all, bool volumes) {
  Pruned p;
  engine::Paths paths = engine::paths_for(options.root, options.explain);
  p.containers = engine::prune(paths, &p.reclaimed);
  p.recovered = engine::recover(paths);
  p.networks = network::remove_unused_networks(engine::network_context(paths));
  if (volumes) {
    uint64_t bytes = 0;
    p.volumes = prune_volumes(options, false, bytes);
    p.reclaimed += bytes;
  }
  auto store = open_store(options);
  graph::RemoveResult images;
  {
    auto lock = store->lock(graph::LockMode::exclusive);
    images = store->prune(all);
  }
  for (const auto& tag : images.untagged) p.images.push_back("untagged: " + tag);
  for (const auto& id : images.deleted) p.images.push_back("deleted: " + id);
  p.reclaimed += images.reclaimed;
  return p;
}

// The same jobs asked of the daemon, one request each, as Docker's CLI asks them. Its recovery
// is its own (at its start), so no "Recovered" section comes from it.
Pruned prune_through(const EngineOptions& options, bool all, bool volumes) {
  using nlohmann::json;
  api::DaemonClient daemon(options.host, options.explain);
  auto post = [&](const std::string& target) {
    return json::parse(daemon.checked("POST", target).body);
  };
  auto names = [](const json& answer, const char* key) {
    std::vector<std::string> out;
    if (answer.value(key, json()).is_array()) out = answer[key].get<std::vector<std::string>>();
    return out;
  };
  Pruned p;
  json containers = post("/containers/prune");
  p.containers = names(containers, "ContainersDeleted");
  p.reclaimed += containers.value("SpaceReclaimed", uint64_t{0});
  p.networks = names(post("/networks/prune"), "NetworksDeleted");
  if (volumes) {
    uint64_t bytes = 0;
    p.volumes = prune_volumes(options, false, bytes);
    p.reclaimed += bytes;
  }
  json images =
      post(all ? "/images/prune?filters=" + api::url_escape(json{{"dangling", {"false"}}}.dump())
               : std::string("/images/prune"));
  if (images.value("ImagesDeleted", json()).is_array())
    for (const json& entry : images["ImagesDeleted"])
      for (const auto& [what, name] : entry.items())
        p.images.push_back((what == "Untagged" ? "untagged: " : "deleted: ") +
                           name.get<std::string>());
  p.reclaimed += images.value("SpaceReclaimed", uint64_t{0});
  return p;
}

}  // namespace

void add_system_prune(CLI::App& app, const EngineOptions& options, std::function<int()>& action) {
  static bool all = false, force = false, volumes = false;
  CLI::App* system_cmd = app.get_subcommand("system");
  // Ours also recovers from crashes (system.cpp's header); the words are Docker's.
  auto* prune_cmd = system_cmd->add_subcommand("prune", "Remove unused data");
  docker_args(prune_cmd, "[OPTIONS]", kNoArgs);
  prune_cmd->add_flag("--all,-a", all, "every unused image, not only dangling ones");
  prune_cmd->add_flag("--force,-f", force, "do not ask");
  prune_cmd->add_flag("--volumes", volumes, "anonymous volumes no container uses too");
  prune_cmd->callback([&] {
    action = [&] {
      if (!force) {
        std::cout << "WARNING! This will remove:\n  - all stopped containers\n  - all networks "
                     "not used by at least one container\n"
                  << (volumes ? "  - all anonymous volumes not used by at least one container\n"
                              : "")
                  << (all ? "  - all images without at least one container associated to them\n"
                          : "  - all dangling images\n")
                  << "\nAre you sure you want to continue? [y/N] " << std::flush;
        std::string answer;
        std::getline(std::cin, answer);
        if (answer != "y" && answer != "Y") return 0;
      }
      Pruned p = options.host.empty() ? prune_here(options, all, volumes)
                                      : prune_through(options, all, volumes);
      auto section = [](const char* title, const std::vector<std::string>& lines) {
        if (lines.empty()) return;
        std::cout << title << ":\n";
        for (const auto& line : lines) std::cout << line << '\n';
        std::cout << '\n';
      };
      section("Deleted Containers", p.containers);
      section("Deleted Networks", p.networks);
      section("Deleted Volumes", p.volumes);
      section("Deleted Images", p.images);
      // Not in Docker's output: what the recovery found (nothing, after clean runs).
      section("Recovered", p.recovered);
      std::cout << "Total reclaimed space: "
                << graph::human_size(static_cast<double>(p.reclaimed), 4) << '\n';
      return 0;
    };
  });
}

}  // namespace client
