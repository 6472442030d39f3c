// build (Docker's grammar, the legacy builder's output): `build [-t NAME[:TAG]]... [-f FILE]
// [--build-arg KEY=VALUE]... [--no-cache] [-q] DIR`; the job is final/engine/build.cpp.
#include "engine/build.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <iostream>

#include "client/engine.hpp"
#include "error.hpp"

namespace client {

namespace {

struct BuildFlags {
  engine::BuildRequest request;
  std::vector<std::string> build_args;
};

int build_verb(const EngineOptions& options, BuildFlags& f) {
  engine::BuildRequest r = f.request;
  for (const std::string& arg : f.build_args) {
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      r.build_args[arg.substr(0, eq)] = arg.substr(eq + 1);
    } else if (const char* value = std::getenv(arg.c_str())) {
      r.build_args[arg] = value;  // KEY alone: from our environment, as Docker's CLI
    }
  }
  engine::Paths paths = engine::paths_for(options.root, options.explain);
  try {
    std::string id = engine::build(paths, r, std::cout);
    if (r.quiet) std::cout << id << '\n';
    return 0;
  } catch (const engine::BuildFailure& e) {
    std::cout.flush();
    fmt::print(stderr, "{}\n", e.what());
    return 1;
  } catch (const engine::RunError& e) {
    return report_user_error(e.what());
  }
}

}  // namespace

void add_build_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action) {
  static BuildFlags flags;
  auto* cmd = app.add_subcommand("build", "build an image from a Dockerfile (legacy builder)");
  cmd->add_option("context", flags.request.context, "the build context: a directory")->required();
  cmd->add_option("--tag,-t", flags.request.tags, "NAME[:TAG] for the image (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--file,-f", flags.request.dockerfile, "the Dockerfile (default DIR/Dockerfile)");
  cmd->add_option("--build-arg", flags.build_args, "KEY=VALUE for an ARG (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--no-cache", flags.request.no_cache, "do not reuse the images of earlier builds");
  cmd->add_flag("--quiet,-q", flags.request.quiet, "print only the image id");
  cmd->callback([&] { action = [&] { return build_verb(options, flags); }; });
}

}  // namespace client
