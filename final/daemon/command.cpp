// `minidocker daemon`: the same executable as the client, as Docker's was in the notes
// (`docker -d` once, dockerd now); the verb serves the engine instead of running one job.
#include <fmt/format.h>

#include "client/engine.hpp"
#include "daemon/server.hpp"

namespace client {

void add_daemon_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action) {
  static api::ServeOptions serve_options;
  static std::string root;
  auto* cmd = app.add_subcommand(
      "daemon", "serve the engine over the Docker Engine API (v1.41) on unix sockets, or TCP on 127.0.0.1 (-H)");
  cmd->add_option("--host,-H", serve_options.hosts,
                  fmt::format("where to listen, once or more: unix:///PATH (default {}), or "
                              "tcp://127.0.0.1:PORT with --insecure-tcp",
                              api::kDefaultHost));
  cmd->add_flag("--insecure-tcp", serve_options.insecure_tcp,
                "serve tcp://127.0.0.1:PORT without TLS: whoever can reach the port is root here");
  cmd->add_option("--root", root, "the engine's root (as minidocker --root)");
  cmd->callback([&] {
    action = [&] {
      serve_options.root = root.empty() ? options.root : root;
      return api::serve(serve_options);
    };
  });
}

}  // namespace client
