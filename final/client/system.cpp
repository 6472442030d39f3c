// `system prune`: what Docker's removes (stopped containers, networks no container uses,
// dangling images, or with -a every unused image), and before that the engine's recovery: what
// crashed commands left that no record names (engine::recover: runtime state, network
// endpoints, namespaces, links, rules, empty cgroups). Docker's daemon recovers at its start;
// with no daemon, this is where it happens.
#include <fmt/format.h>

#include <iostream>

#include "client/engine.hpp"
#include "engine/containers.hpp"
#include "engine/networking.hpp"

namespace client {

void add_system_prune(CLI::App& app, const EngineOptions& options, std::function<int()>& action) {
  static bool all = false, force = false;
  CLI::App* system_cmd = app.get_subcommand("system");
  auto* prune_cmd = system_cmd->add_subcommand("prune", "remove unused data; recover from crashes");
  prune_cmd->add_flag("--all,-a", all, "every unused image, not only dangling ones");
  prune_cmd->add_flag("--force,-f", force, "do not ask");
  prune_cmd->callback([&] {
    action = [&] {
      if (!force) {
        std::cout << "WARNING! This will remove:\n  - all stopped containers\n  - all networks "
                     "not used by at least one container\n"
                  << (all ? "  - all images without at least one container associated to them\n"
                          : "  - all dangling images\n")
                  << "\nAre you sure you want to continue? [y/N] " << std::flush;
        std::string answer;
        std::getline(std::cin, answer);
        if (answer != "y" && answer != "Y") return 0;
      }
      engine::Paths paths = engine::paths_for(options.root, options.explain);
      std::vector<std::string> containers = engine::prune(paths);
      std::vector<std::string> recovered = engine::recover(paths);
      std::vector<std::string> networks =
          network::remove_unused_networks(engine::network_context(paths));
      auto store = open_store(options);
      graph::RemoveResult images;
      {
        auto lock = store->lock(graph::LockMode::exclusive);
        images = store->prune(all);
      }
      auto section = [](const char* title, const std::vector<std::string>& lines) {
        if (lines.empty()) return;
        std::cout << title << ":\n";
        for (const auto& line : lines) std::cout << line << '\n';
        std::cout << '\n';
      };
      section("Deleted Containers", containers);
      section("Deleted Networks", networks);
      std::vector<std::string> image_lines;
      for (const auto& tag : images.untagged) image_lines.push_back("untagged: " + tag);
      for (const auto& id : images.deleted) image_lines.push_back("deleted: " + id);
      section("Deleted Images", image_lines);
      // Not in Docker's output: what the recovery found (nothing, after clean runs).
      section("Recovered", recovered);
      std::cout << "Total reclaimed space: "
                << graph::human_size(static_cast<double>(images.reclaimed), 4) << '\n';
      return 0;
    };
  });
}

}  // namespace client
