// minidocker: the lessons combined into a small Docker (see README.md beside this file).
//
// One binary with modes, as Docker's client and daemon were one executable in the notes:
//   minidocker VERB ...             the engine's verbs, with Docker's grammar (client/)
//   minidocker runtime VERB ...     the OCI runtime (our libcontainer): create, start, state, ...
// The runtime alone, under runc's own command line, is ./minirunc (minirunc.cpp): a small
// static program, as runc is apart from dockerd, which the engine calls for each container.

#include <fmt/format.h>

#include <string_view>

#include "cli.hpp"
#include "client/engine.hpp"
#include "daemon/routes.hpp"
#include "runtime/command_line.hpp"

namespace {

// `minidocker [--root DIR] [--explain] runtime ...` keeps the runtime's own grammar and errors;
// every other verb is the engine's, with Docker's.
bool names_runtime(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--root" || arg == "--host" || arg == "-H") {
      ++i;
    } else if (!arg.starts_with("-")) {
      return arg == "runtime";
    }
  }
  return false;
}

// `minidocker --version` (or -v), with no verb: Docker's one line, "Docker version 20.10.24,
// build 297e128". We embed no commit, so the build is named "source", as a build from a source
// tree is; `minidocker version` says the rest.
bool asks_version(int argc, char** argv) {
  bool asked = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--root" || arg == "--host" || arg == "-H") {
      ++i;
    } else if (arg == "--version" || arg == "-v") {
      asked = true;
    } else if (!arg.starts_with("-")) {
      return false;  // a verb: --version is not one of its flags (read_flags says so)
    }
  }
  return asked;
}

}  // namespace

int main(int argc, char** argv) {
  if (asks_version(argc, argv)) {
    fmt::print("minidocker version {}, build source\n", api::kServerVersion);
    return 0;
  }
  CLI::App app{"minidocker: the lessons combined into a small Docker"};
  app.name("minidocker");
  // Docker's flags and runc's alike: an option given twice takes its last value.
  lab::last_value_wins(app);
  app.require_subcommand(1);
  client::EngineOptions engine;
  app.add_option("--root", engine.root,
                 fmt::format("the engine's root: images, layers, containers (default {})",
                             graph::kDefaultStoreRoot));
  app.add_option("--host,-H", engine.host,
                 "unix:///PATH: ask the daemon there to do the verb (default $DOCKER_HOST; "
                 "without either, the CLI does it itself)");
  app.add_flag("--explain", engine.explain,
               "narrate every step on stderr, with the lesson it comes from");
  auto* runtime_cmd =
      app.add_subcommand("runtime", "the OCI runtime (our libcontainer): runc's verbs");
  runtime::Globals g;
  std::function<int()> action;
  runtime::add_verbs(*runtime_cmd, g, action);
  // `minidocker --explain runtime ...` narrates as `minidocker runtime --explain ...` does.
  app.parse_complete_callback([&] { g.options.explain = g.options.explain || engine.explain; });
  client::add_image_verbs(app, engine, action);
  client::add_load_save_verbs(app, engine, action);
  client::add_pull_push_verbs(app, engine, action);
  client::add_container_verbs(app, engine, action);
  client::add_attach_verbs(app, engine, action);
  client::add_network_verbs(app, engine, action);
  client::add_system_prune(app, engine, action);
  client::add_ops_verbs(app, engine, action);
  client::add_volume_verbs(app, engine, action);
  client::add_file_verbs(app, engine, action);
  client::add_commit_verbs(app, engine, action);
  client::add_build_verbs(app, engine, action);
  client::add_version_verbs(app, engine, action);
  client::add_daemon_verbs(app, engine, action);
  if (names_runtime(argc, argv))
    return runtime::dispatch("minidocker runtime", app, g, action, argc, argv);
  return client::run_engine(app, engine, action, argc, argv);
}
