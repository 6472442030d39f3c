// build (Docker's grammar, the legacy builder's output): `build [-t NAME[:TAG]]... [-f FILE]
// [--build-arg KEY=VALUE]... [--no-cache] [-q] DIR`; the job is final/engine/build.cpp. With -H
// the job is the daemon's: the context travels as a tar, the builder's lines come back as
// Docker's JSON stream, and are printed as the in-process build prints them.
#include "engine/build.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "client/engine.hpp"
#include "daemon/http_client.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "graph/layer_archive.hpp"

namespace client {

namespace {

struct BuildFlags {
  engine::BuildRequest request;
  std::vector<std::string> build_args;
};

// Through -H, as Docker's CLI with its classic builder: the context directory as a tar (made in
// an unnamed file of TMPDIR) is the body of POST /build?t=&dockerfile=&nocache=&q=&buildargs=,
// and the builder's lines come back as {"stream": ...} messages, printed as they come; the last
// is {"aux": {"ID": ...}}, or the error that ended the build.
std::string build_through_daemon(const EngineOptions& options, const engine::BuildRequest& r) {
  namespace fs = std::filesystem;
  std::string dockerfile = engine::check_build_request(r);
  // The daemon reads the Dockerfile from the context it is sent, by its path there.
  fs::path context = fs::canonical(r.context);
  std::string relative = fs::canonical(dockerfile).lexically_relative(context).string();
  if (relative.empty() || relative.starts_with(".."))
    throw lab::UserError(
        fmt::format("through a daemon the Dockerfile must be inside the build context {}: {}",
                    r.context, dockerfile));
  const char* tmp = std::getenv("TMPDIR");
  lab::UniqueFd tar = lab::open_fd(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                                   O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  graph::export_layer(context.string(), tar.get());
  lab::check(::lseek(tar.get(), 0, SEEK_SET),
             [] { return std::string("lseek(the context's tar)"); });

  std::string target = "/build?dockerfile=" + api::url_escape(relative);
  for (const std::string& tag : r.tags) target += "&t=" + api::url_escape(tag);
  if (r.no_cache) target += "&nocache=1";
  if (r.quiet) target += "&q=1";
  if (!r.build_args.empty())
    target += "&buildargs=" + api::url_escape(nlohmann::json(r.build_args).dump());
  api::ResponseStream stream = api::DaemonClient(options.host, options.explain)
                                   .upload("POST", target, "application/x-tar", tar.get());
  std::string id;
  try {
    api::read_messages(stream, [&](const nlohmann::json& m) {
      // With -q the builder says nothing but the id, which the verb prints itself.
      if (m.contains("stream") && !r.quiet) std::cout << m.value("stream", "") << std::flush;
      if (m.contains("aux") && m["aux"].is_object()) id = m["aux"].value("ID", "");
    });
  } catch (const api::StreamedError& e) {
    // A failing RUN is the one error dockerd gives a code (the command's); the others are the
    // builder's refusals ("Error: ..." as in-process).
    if (e.code != 0) throw engine::BuildFailure(e.what(), e.code);
    throw;
  }
  return id;
}

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
  try {
    std::string id =
        options.host.empty()
            ? engine::build(engine::paths_for(options.root, options.explain), r, std::cout)
            : build_through_daemon(options, r);
    if (r.quiet) std::cout << id << '\n';
    return 0;
  } catch (const engine::BuildFailure& e) {
    // Docker's words without "Error: ", and the command's exit code, as Docker's CLI exits.
    std::cout.flush();
    fmt::print(stderr, "{}\n", e.what());
    return e.code != 0 ? e.code : 1;
  } catch (const engine::RunError& e) {
    return report_user_error(e.what());
  }
}

}  // namespace

void add_build_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action) {
  static BuildFlags flags;
  // Docker's legacy builder; BuildKit is not ours.
  auto* cmd = app.add_subcommand("build", "Build an image from a Dockerfile");
  docker_args(cmd, "[OPTIONS] PATH | URL | -", exactly(1));
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
