// commit (Docker's grammar): `commit [-a AUTHOR] [-c CHANGE]... [-m MESSAGE] [-p=false]
// CONTAINER [REPOSITORY[:TAG]]`; the job is final/engine/commit.cpp.
#include "engine/commit.hpp"

#include <iostream>

#include "client/engine.hpp"

namespace client {

void add_commit_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action) {
  static engine::CommitRequest request;
  auto* cmd = app.add_subcommand("commit", "create a new image from a container's changes");
  cmd->add_option("container", request.container, "NAME or ID")->required();
  cmd->add_option("repository", request.reference, "REPOSITORY[:TAG] for the new image");
  cmd->add_option("--author,-a", request.author, "the image's author (\"Name <email>\")");
  cmd->add_option("--change,-c", request.changes,
                  "a Dockerfile instruction to apply (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, "
                  "STOPSIGNAL, USER, VOLUME, WORKDIR)")
      ->allow_extra_args(false);
  cmd->add_option("--message,-m", request.message, "the commit message (history's COMMENT)");
  cmd->add_flag("--pause,-p", request.pause,
                "freeze a running container during the commit (default true; --pause=false)");
  cmd->callback([&] {
    action = [&] {
      engine::Paths paths = engine::paths_for(options.root, options.explain);
      std::cout << engine::commit(paths, request) << '\n';
      return 0;
    };
  });
}

}  // namespace client
