// commit (Docker's grammar): `commit [-a AUTHOR] [-c CHANGE]... [-m MESSAGE] [-p=false]
// CONTAINER [REPOSITORY[:TAG]]`; the job is final/engine/commit.cpp.
#include "engine/commit.hpp"

#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "client/engine.hpp"
#include "daemon/http_client.hpp"

namespace client {

namespace {

// POST /commit?container=&repo=&comment=&author=&pause=&changes=..., as Docker's CLI asks: 201
// {"Id": "sha256:..."}.
std::string commit_through_daemon(const EngineOptions& options,
                                  const engine::CommitRequest& request) {
  if (!request.reference.empty()) graph::normalize_tag(request.reference);  // as the job would
  std::string target = fmt::format("/commit?container={}&pause={}",
                                   api::url_escape(request.container), request.pause ? 1 : 0);
  if (!request.reference.empty()) target += "&repo=" + api::url_escape(request.reference);
  if (!request.message.empty()) target += "&comment=" + api::url_escape(request.message);
  if (!request.author.empty()) target += "&author=" + api::url_escape(request.author);
  for (const std::string& change : request.changes) target += "&changes=" + api::url_escape(change);
  auto reply = nlohmann::json::parse(
      api::DaemonClient(options.host, options.explain).checked("POST", target).body);
  return reply.value("Id", "");
}

}  // namespace

void add_commit_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action) {
  static engine::CommitRequest request;
  auto* cmd = app.add_subcommand("commit", "Create a new image from a container's changes");
  docker_args(cmd, "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", between(1, 2));
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
      if (!options.host.empty()) {
        std::cout << commit_through_daemon(options, request) << '\n';
        return 0;
      }
      engine::Paths paths = engine::paths_for(options.root, options.explain);
      std::cout << engine::commit(paths, request) << '\n';
      return 0;
    };
  });
}

}  // namespace client
