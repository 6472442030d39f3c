// cp and diff (Docker's grammar): a container's files seen from the host. The work is in
// final/engine/files.cpp.
#include "engine/files.hpp"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "client/engine.hpp"
#include "daemon/container_api.hpp"
#include "daemon/http_client.hpp"
#include "error.hpp"
#include "fd.hpp"

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

int cp_remote(const EngineOptions& options, const CpFlags& f, const std::string& container,
              const std::string& path, bool out_of_container);

int cp_verb(const EngineOptions& options, const CpFlags& f) {
  auto [src_container, src_path] = split_cp_arg(f.src);
  auto [dest_container, dest_path] = split_cp_arg(f.dest);
  if (src_container.empty() == dest_container.empty())
    throw lab::UserError(src_container.empty() ? "must specify at least one container source"
                                               : "copying between containers is not supported");
  const std::string& path = src_container.empty() ? dest_path : src_path;
  if (path.empty()) throw lab::UserError("the path inside the container cannot be empty");
  if (!options.host.empty())
    return cp_remote(options, f, src_container.empty() ? dest_container : src_container, path,
                     !src_container.empty());
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

// A tar in a memfd, read from the start.
lab::UniqueFd memfd_of(const std::string& data) {
  lab::UniqueFd fd(lab::check(::memfd_create("archive", MFD_CLOEXEC), "memfd_create"));
  for (size_t off = 0; off < data.size();) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    lab::check(n < 0 ? -1 : 0, "write(archive)");
    off += static_cast<size_t>(n);
  }
  lab::check(::lseek(fd.get(), 0, SEEK_SET), "lseek(archive, 0)");
  return fd;
}

// cp through a daemon, as Docker's CLI does it, over the archive routes (a tar of one path
// either way): out of a container, GET /containers/{id}/archive?path=SRC (with -L, the path a
// symlink points to, from HEAD's X-Docker-Container-Path-Stat), then the tar put at DEST by the
// rules of an in-process cp (engine::place_from_container), or written to stdout for "-"; into
// one, HEAD .../archive?path=DEST says what DEST is, the tar of SRC is made by those rules
// (engine::tar_for_container), and PUT .../archive?path=DIR unpacks it there; "-" sends our
// stdin's tar as it is.
int cp_remote(const EngineOptions& options, const CpFlags& f, const std::string& container,
              const std::string& path, bool out_of_container) {
  api::DaemonClient daemon(options.host, options.explain);
  std::string archive = "/containers/" + container + "/archive?path=";
  engine::CopyOptions copy{f.follow_link, f.archive};
  if (out_of_container) {
    std::string src = path, tar_name;
    // A HEAD's refusal has no body to say why: the GET's has.
    api::ClientReply head = daemon.call("HEAD", archive + api::url_escape(src));
    if (head.status >= 400) daemon.checked("GET", archive + api::url_escape(src));
    api::throw_if_refused(head);
    auto stat = api::parse_path_stat_header(head.headers["x-docker-container-path-stat"]);
    if (!stat) throw lab::UserError("the daemon's answer has no X-Docker-Container-Path-Stat");
    if (f.follow_link) {
      if (stat->is_symlink) {
        std::string target = stat->link_target;
        if (!target.starts_with("/")) target = src.substr(0, src.rfind('/') + 1) + target;
        src = target;
        tar_name = std::filesystem::path(target).lexically_normal().filename().string();
      }
    }
    api::ClientReply got = daemon.checked("GET", archive + api::url_escape(src));
    if (f.dest == "-") {
      std::cout << got.body << std::flush;
      return 0;
    }
    lab::UniqueFd tar = memfd_of(got.body);
    engine::place_from_container(tar.get(), tar_name, container, path, f.dest, stat->permissions,
                                 copy);
    return 0;
  }
  if (f.src == "-") {
    std::string tar((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    api::throw_if_refused(
        daemon.call("PUT", archive + api::url_escape(path), tar, "application/x-tar"));
    return 0;
  }
  api::ClientReply head = daemon.call("HEAD", archive + api::url_escape(path));
  engine::DestKind kind = engine::DestKind::missing;
  if (head.status != 404) {
    api::throw_if_refused(head);
    auto stat = api::parse_path_stat_header(head.headers["x-docker-container-path-stat"]);
    kind = stat && stat->is_dir ? engine::DestKind::directory : engine::DestKind::file;
  }
  lab::UniqueFd tar(lab::check(::memfd_create("archive", MFD_CLOEXEC), "memfd_create"));
  std::string dir = engine::tar_for_container(f.src, path, kind, tar.get(), copy);
  ::lseek(tar.get(), 0, SEEK_SET);  // sent from its start, as it is read
  api::ResponseStream put =
      daemon.upload("PUT", archive + api::url_escape(dir), "application/x-tar", tar.get());
  if (put.status() >= 400) api::throw_if_refused(put.status(), put.reason(), put.rest());
  return 0;
}

int diff_verb(const EngineOptions& options, const std::string& ref) {
  if (!options.host.empty()) {
    // GET /containers/{id}/changes: Kind 0 changed, 1 added, 2 deleted.
    api::DaemonClient daemon(options.host, options.explain);
    for (const auto& change :
         nlohmann::json::parse(daemon.checked("GET", "/containers/" + ref + "/changes").body)) {
      int kind = change.value("Kind", 0);
      std::cout << (kind == 0   ? 'C'
                    : kind == 1 ? 'A'
                                : 'D')
                << ' ' << change.value("Path", "") << '\n';
    }
    return 0;
  }
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
  auto* cp =
      app.add_subcommand("cp", "Copy files/folders between a container and the local filesystem");
  // Docker's Use has two lines, the second naming the program itself.
  docker_args(cp,
              "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
              "\tminidocker cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
              exactly(2));
  cp->add_option("src", cp_flags.src, "CONTAINER:SRC_PATH, SRC_PATH or -")->required();
  cp->add_option("dest", cp_flags.dest, "DEST_PATH, CONTAINER:DEST_PATH or -")->required();
  cp->add_flag("--follow-link,-L", cp_flags.follow_link, "copy what a symlink at SRC points to");
  cp->add_flag("--archive,-a", cp_flags.archive,
               "keep uid/gid when copying into the container (without: 0:0)");
  cp->callback(
      [&] { action = [&] { return user_errors([&] { return cp_verb(options, cp_flags); }); }; });

  static std::string diff_ref;
  auto* diff = app.add_subcommand(
      "diff", "Inspect changes to files or directories on a container's filesystem");
  docker_args(diff, "CONTAINER", exactly(1));
  diff->add_option("container", diff_ref, "NAME or ID")->required();
  diff->callback(
      [&] { action = [&] { return user_errors([&] { return diff_verb(options, diff_ref); }); }; });
}

}  // namespace client
