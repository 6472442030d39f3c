#include "engine/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "engine/tree_tar.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "graph/driver.hpp"
#include "graph/layer_archive.hpp"
#include "graph/store.hpp"
#include "overlay.hpp"
#include "path_in_root.hpp"
#include "runtime/explain.hpp"

namespace engine {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// One side of a copy: a root that paths are resolved in, and the path inside it. The host is the
// root "/" (RESOLVE_IN_ROOT from "/" resolves as the kernel always does).
struct Side {
  lab::UniqueFd root;
  std::string path;       // inside `root`, as typed (trailing "/" or "/." kept)
  std::string container;  // the container as the user named it; "" for the host
  std::string shown;      // the path as the user typed it, for messages
};

std::string lexical(const std::string& path) {
  std::string out = fs::path("/" + path).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string base_name(const std::string& path) {
  std::string p = lexical(path);
  return p == "/" ? "" : p.substr(p.rfind('/') + 1);
}

std::string parent_of(const std::string& path) {
  std::string p = lexical(path);
  size_t slash = p.rfind('/');
  return slash == 0 ? "/" : p.substr(0, slash);
}

bool ends_with_dot(const std::string& path) { return path == "." || path.ends_with("/."); }

// The container's path on the host: its rootfs, or the host directory of the volume or bind
// mounted over it. A tmpfs is refused.
Side container_side(const Paths& p, const std::string& id, const std::string& ref,
                    const std::string& path) {
  Container c = load(p, id);
  const std::string wanted = lexical(path);
  const json* best = nullptr;
  size_t best_length = 0;
  // --tmpfs shows in HostConfig.Tmpfs only (as Docker's inspect): a mount here too.
  json mounts = c.mounts;
  if (c.host_config.contains("Tmpfs") && c.host_config["Tmpfs"].is_object())
    for (const auto& [destination, _] : c.host_config["Tmpfs"].items())
      mounts.push_back({{"Type", "tmpfs"}, {"Destination", destination}});
  for (const auto& m : mounts) {
    std::string d = m.value("Destination", "");
    bool contains = wanted == d || (wanted.starts_with(d) && wanted[d.size()] == '/');
    if (contains && d.size() > best_length) {
      best = &m;
      best_length = d.size();
    }
  }
  Side side;
  side.container = ref;
  side.shown = path;
  if (best != nullptr && best->value("Type", "") == "tmpfs")
    throw lab::UserError(fmt::format(
        "{} is on the tmpfs {} of container {}, which exists only in its mount namespace; "
        "cp cannot reach it from the host",
        path, best->value("Destination", ""), ref));
  if (best != nullptr) {
    // The rest of the path below the mount point, its trailing "/" or "/." as typed.
    side.root = lab::open_root(best->value("Source", ""));
    side.path = wanted.size() > best_length ? wanted.substr(best_length) : "/";
    if (ends_with_dot(path))
      side.path += "/.";
    else if (path.ends_with("/"))
      side.path += "/";
  } else {
    side.root = lab::open_root(c.dir + "/merged");
    side.path = path;
  }
  return side;
}

Side host_side(const std::string& path) {
  Side side;
  side.root = lab::open_root("/");
  std::string absolute = path.starts_with("/") ? path : fs::current_path().string() + "/" + path;
  side.path = absolute;
  side.shown = path;
  return side;
}

[[noreturn]] void not_found(const Side& side, const std::string& path) {
  if (!side.container.empty())
    throw lab::UserError(
        fmt::format("Could not find the file {} in container {}", path, side.container));
  throw lab::UserError(fmt::format("lstat {}: no such file or directory", path));
}

bool is_directory(int fd) {
  struct stat st {};
  lab::check(::fstatat(fd, "", &st, AT_EMPTY_PATH), "fstat");
  return S_ISDIR(st.st_mode);
}

// SRC opened as cp opens it: a symlink itself unless -L or a trailing "/" or "/." asks for what
// it points to; "lstat SRC: no such file or directory" (or Docker's words for a container's path)
// when it is not there, "SRC: not a directory" when a "/" asks for a directory that is not one.
lab::UniqueFd open_source(const Side& src, const CopyOptions& options, bool& is_dir) {
  const bool src_wants_dir = src.path.ends_with("/") || ends_with_dot(src.path);
  const int follow = options.follow_link || src_wants_dir ? 0 : O_NOFOLLOW;
  lab::UniqueFd from = lab::open_in_root_if_exists(src.root.get(), src.path, O_PATH | follow);
  if (!from) not_found(src, src.shown);
  is_dir = is_directory(from.get());
  if (src_wants_dir && !is_dir) throw lab::UserError(fmt::format("{}: not a directory", src.shown));
  return from;
}

// Docker's rules for SRC and DEST (docker cp --help), as a tar stream from `src` into `dest`.
void copy(const Side& src, const Side& dest, const CopyOptions& options) {
  bool src_is_dir = false;
  lab::UniqueFd from = open_source(src, options, src_is_dir);
  lab::UniqueFd to = lab::open_in_root_if_exists(dest.root.get(), dest.path, O_PATH);
  DestKind kind = !to                      ? DestKind::missing
                  : is_directory(to.get()) ? DestKind::directory
                                           : DestKind::file;
  Landing land = landing(src_is_dir, src.path, kind, dest.path, dest.shown);
  lab::UniqueFd target_dir;  // where the tar is unpacked
  std::string name = land.name;
  if (!land.in_parent) {
    target_dir = std::move(to);
  } else {
    target_dir =
        lab::open_in_root_if_exists(dest.root.get(), parent_of(dest.path), O_PATH | O_DIRECTORY);
    if (!target_dir) not_found(dest, parent_of(dest.shown));
  }
  if (land.make_dir) {
    // The new directory takes the source's mode; its contents come from the tar.
    struct stat st {};
    lab::check(::fstatat(from.get(), "", &st, AT_EMPTY_PATH), "fstat");
    lab::UniqueFd parent =
        lab::open_fd(lab::proc_fd_name(target_dir.get()), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    lab::check(::mkdirat(parent.get(), name.c_str(), st.st_mode & 07777),
               [&] { return fmt::format("mkdir({})", lab::quote(dest.shown)); });
    target_dir = lab::open_in_root(dest.root.get(), dest.path, O_PATH | O_DIRECTORY);
    name = "";
  }
  copy_tree_via_tar(from.get(), name, lab::proc_fd_name(target_dir.get()),
                    options.archive && !dest.container.empty());
}

// ---- diff ------------------------------------------------------------------------------------

bool exists_in(const std::vector<std::string>& lowers, const std::string& path) {
  struct stat st {};
  return std::any_of(lowers.begin(), lowers.end(),
                     [&](const std::string& l) { return ::lstat((l + path).c_str(), &st) == 0; });
}

std::vector<std::string> sorted_entries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

void walk_upper(const std::string& upper, const std::vector<std::string>& lowers,
                const std::string& dir, std::vector<Change>& out) {
  // An opaque directory hides everything below it in the lower layers: those names are gone.
  std::set<std::string> hidden;
  if (!dir.empty()) {
    char value[8] = {};
    ssize_t n = ::lgetxattr((upper + dir).c_str(), overlay::kOpaqueXattr, value, sizeof value);
    if (n > 0 && overlay::is_opaque(std::string_view(value, static_cast<size_t>(n))))
      for (const std::string& lower : lowers)
        for (const std::string& name : sorted_entries(lower + dir)) hidden.insert(name);
  }
  std::set<std::string> names;
  for (const std::string& name : sorted_entries(upper + dir)) names.insert(name);
  names.insert(hidden.begin(), hidden.end());
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name;
    struct stat st {};
    if (::lstat((upper + path).c_str(), &st) != 0) {
      out.push_back({'D', path});  // hidden by an opaque directory
      continue;
    }
    if (overlay::is_whiteout(st)) {
      out.push_back({'D', path});
      continue;
    }
    out.push_back({exists_in(lowers, path) ? 'C' : 'A', path});
    if (S_ISDIR(st.st_mode)) walk_upper(upper, lowers, path, out);
  }
}

void explain_copy(const Paths& p, const Side& container, const std::string& direction) {
  runtime::Explainer explain(p.explain);
  const std::string root = lab::fd_path(container.root.get());
  explain.step("03",
               fmt::format("openat2({}, \"{}\", RESOLVE_IN_ROOT): the path as the container sees "
                           "it, its symlinks resolved inside that root; then a tar {}",
                           root, container.path, direction),
               fmt::format("tar -C {} ... (every path kept inside {})", root, root));
}

}  // namespace

void copy_from_container(const Paths& p, const std::string& id, const std::string& ref,
                         const std::string& src, const std::string& dest, int out_fd,
                         const CopyOptions& options) {
  Side from = container_side(p, id, ref, src);
  explain_copy(p, from, dest == "-" ? "to stdout" : "unpacked at " + dest);
  if (dest == "-") {
    const bool follow = options.follow_link || from.path.ends_with("/") || ends_with_dot(src);
    lab::UniqueFd fd =
        lab::open_in_root_if_exists(from.root.get(), from.path, O_PATH | (follow ? 0 : O_NOFOLLOW));
    if (!fd) not_found(from, src);
    write_tree_tar(fd.get(), ends_with_dot(src) ? "" : base_name(src), out_fd);
    return;
  }
  copy(from, host_side(dest), options);
}

void copy_to_container(const Paths& p, const std::string& id, const std::string& ref,
                       const std::string& src, const std::string& dest, int in_fd,
                       const CopyOptions& options) {
  Side to = container_side(p, id, ref, dest);
  explain_copy(p, to, src == "-" ? "from stdin unpacked there" : "of " + src + " unpacked there");
  if (src == "-") {
    lab::UniqueFd fd = lab::open_in_root_if_exists(to.root.get(), to.path, O_PATH);
    if (!fd) not_found(to, dest);
    if (!is_directory(fd.get()))
      throw lab::UserError(fmt::format("destination \"{}:{}\" must be a directory", ref, dest));
    graph::unpack_layer(in_fd, lab::proc_fd_name(fd.get()));
    return;
  }
  copy(host_side(src), to, options);
}

Landing landing(bool src_is_dir, const std::string& src_path, DestKind dest,
                const std::string& dest_path, const std::string& dest_shown) {
  switch (dest) {
    case DestKind::directory:
      // Into it, under the source's name (a directory's "/." : its contents).
      return {false, src_is_dir && ends_with_dot(src_path) ? "" : base_name(src_path), false};
    case DestKind::file:
      if (src_is_dir)
        throw lab::UserError(fmt::format("cannot copy a directory to a file: {}", dest_shown));
      return {true, base_name(dest_path), false};
    case DestKind::missing:
      if (dest_path.ends_with("/") && !src_is_dir)
        throw lab::UserError(fmt::format("no such directory: {}", dest_shown));
      return {true, base_name(dest_path), src_is_dir};
  }
  return {};
}

std::string tar_for_container(const std::string& src, const std::string& dest, DestKind kind,
                              int out_fd, const CopyOptions& options) {
  Side from = host_side(src);
  bool src_is_dir = false;
  lab::UniqueFd fd = open_source(from, options, src_is_dir);
  Landing land = landing(src_is_dir, from.path, kind, dest, dest);
  // A directory that DEST becomes: the tar's top entry is it, under DEST's name, with the
  // source's mode (what mkdir, then its contents, makes in-process).
  write_tree_tar(fd.get(), land.name, out_fd, options.archive);
  return land.in_parent ? parent_of(dest) : dest;
}

void place_from_container(int tar_fd, const std::string& tar_name, const std::string& ref,
                          const std::string& src, const std::string& dest, mode_t src_mode,
                          const CopyOptions& options) {
  // The tar unpacked in a private directory, then copied by the rules of an in-process cp, as if
  // that directory were the container's.
  std::string staging = (fs::temp_directory_path() / "minidocker-cp-XXXXXX").string();
  if (::mkdtemp(staging.data()) == nullptr)
    lab::check(-1, fmt::format("mkdtemp({})", lab::quote(staging)));
  struct Remove {
    std::string dir;
    ~Remove() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } remove{staging};
  graph::unpack_layer(tar_fd, staging);
  std::string name = ends_with_dot(src) ? "" : base_name(src);
  // Its contents alone: the staging directory stands for SRC, and a DEST made from it takes its
  // mode.
  if (name.empty())
    lab::check(::chmod(staging.c_str(), src_mode & 07777),
               [&] { return fmt::format("chmod({}, {:o})", lab::quote(staging), src_mode); });
  if (!tar_name.empty() && tar_name != name && !name.empty())
    fs::rename(staging + "/" + tar_name, staging + "/" + name);  // -L: the link's target
  Side from;
  from.root = lab::open_root(staging);
  from.path = name.empty() ? "/." : "/" + name + (src.ends_with("/") ? "/" : "");
  from.container = ref;
  from.shown = src;
  CopyOptions inner = options;
  inner.follow_link = false;  // the daemon has followed it already
  copy(from, host_side(dest), inner);
}

PathStat stat_path(const Paths& p, const std::string& id, const std::string& ref,
                   const std::string& path) {
  Side side = container_side(p, id, ref, path);
  lab::UniqueFd fd = lab::open_in_root_if_exists(side.root.get(), side.path, O_PATH | O_NOFOLLOW);
  if (!fd) not_found(side, path);
  struct stat st {};
  lab::check(::fstat(fd.get(), &st), [&] { return fmt::format("fstat(\"{}\")", path); });
  PathStat out;
  out.name = lexical(path) == "/" ? "/" : base_name(path);
  out.size = st.st_size;
  out.mode = st.st_mode;
  out.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlinkat(fd.get(), "", target, sizeof target);
    if (n > 0) out.link_target.assign(target, static_cast<size_t>(n));
  }
  return out;
}

std::vector<Change> diff(const Paths& p, const std::string& id) {
  graph::DriverKind kind = graph::choose_driver(p.root);
  if (kind != graph::DriverKind::overlay)
    throw lab::UserError(
        "diff needs the overlay driver: with vfs the container's diff/ is a full copy of the "
        "image, not a layer of changes");
  Container c = load(p, id);
  std::vector<std::string> lowers = {c.dir + "/init"};
  {
    graph::Store store(p.root);
    auto lock = store.lock(graph::LockMode::shared);
    graph::Image image = store.image(c.image_id);
    for (auto it = image.layers.rbegin(); it != image.layers.rend(); ++it)
      lowers.push_back(p.root + "/layers/" + it->diff_id.substr(7) + "/diff");
  }
  runtime::Explainer explain(p.explain);
  explain.step("05",
               fmt::format("walk the upperdir {}: a 0:0 character device is a whiteout (D), a "
                           "path found in a lower layer is C, a new one A",
                           graph::rw_layer_dir(p.root, kind, id)),
               fmt::format("find {} -printf '%y %p\\n'", graph::rw_layer_dir(p.root, kind, id)));
  std::vector<Change> changes;
  walk_upper(graph::rw_layer_dir(p.root, kind, id), lowers, "", changes);
  return changes;
}

}  // namespace engine
