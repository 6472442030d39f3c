// cp and diff (Docker's grammar): a container's files seen from the host. The work is in
// final/engine/files.cpp.
#include "engine/files.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

#include "client/engine.hpp"
#include "error.hpp"

namespace client {

namespace {

// Docker's splitCpArg: an absolute path, a path starting with ".", or one without ':' is the
// host's; otherwise CONTAINER:PATH.
std::pair<std::string, std::string> split_cp_arg(const std::string& arg) {
  if (arg.starts_with("/")) return {"", arg};
  size_t colon = arg.find(':');
  if (colon == std::string::npos || arg.starts_with(".")) return {"", arg};
  return {arg.substr(0, colon), arg.substr(colon + 1)};
}

struct CpFlags {
  std::string src, dest;
  bool follow_link = false, archive = false;
};

int cp_verb(const EngineOptions& options, const CpFlags& f) {
  auto [src_container, src_path] = split_cp_arg(f.src);
  auto [dest_container, dest_path] = split_cp_arg(f.dest);
  if (src_container.empty() == dest_container.empty())
    throw lab::UserError(src_container.empty() ? "must specify at least one container source"
                                               : "copying between containers is not supported");
  const std::string& path = src_container.empty() ? dest_path : src_path;
  if (path.empty()) throw lab::UserError("the path inside the container cannot be empty");
  engine::Paths paths = engine::paths_for(options.root, options.explain);
  engine::CopyOptions copy{f.follow_link, f.archive};
  if (!src_container.empty()) {
    std::string id = engine::resolve(paths, src_container);
    engine::copy_from_container(paths, id, src_container, src_path, dest_path, STDOUT_FILENO, copy);
  } else {
    std::string id = engine::resolve(paths, dest_container);
    engine::copy_to_container(paths, id, dest_container, src_path, dest_path, STDIN_FILENO, copy);
  }
  return 0;
}

int diff_verb(const EngineOptions& options, const std::string& ref) {
  engine::Paths paths = engine::paths_for(options.root, options.explain);
  for (const engine::Change& c : engine::diff(paths, engine::resolve(paths, ref)))
    std::cout << c.kind << ' ' << c.path << '\n';
  return 0;
}

int user_errors(const std::function<int()>& body) {
  try {
    return body();
  } catch (const lab::UserError& e) {
    std::cout.flush();
    return report_user_error(e.what());
  }
}

}  // namespace

void add_file_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action) {
  static CpFlags cp_flags;
  auto* cp = app.add_subcommand(
      "cp",
      "copy files between a container and the host: CONTAINER:SRC DEST or SRC CONTAINER:DEST"
      " ('-' for a tar stream on stdout or stdin)");
  cp->add_option("src", cp_flags.src, "CONTAINER:SRC_PATH, SRC_PATH or -")->required();
  cp->add_option("dest", cp_flags.dest, "DEST_PATH, CONTAINER:DEST_PATH or -")->required();
  cp->add_flag("--follow-link,-L", cp_flags.follow_link, "copy what a symlink at SRC points to");
  cp->add_flag("--archive,-a", cp_flags.archive,
               "keep uid/gid when copying into the container (without: 0:0)");
  cp->callback(
      [&] { action = [&] { return user_errors([&] { return cp_verb(options, cp_flags); }); }; });

  static std::string diff_ref;
  auto* diff =
      app.add_subcommand("diff", "the files a container added (A), changed (C), deleted (D)");
  diff->add_option("container", diff_ref, "NAME or ID")->required();
  diff->callback(
      [&] { action = [&] { return user_errors([&] { return diff_verb(options, diff_ref); }); }; });
}

}  // namespace client
