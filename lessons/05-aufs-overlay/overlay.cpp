#include "overlay.hpp"

#include <fmt/format.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <stdexcept>

#include "error.hpp"
#include "fd.hpp"

namespace overlay {

namespace fs = std::filesystem;

std::string escape_path(std::string_view path) {
  std::string out;
  for (char c : path) {
    if (c == '\\' || c == ':' || c == ',') out += '\\';
    out += c;
  }
  return out;
}

std::string validate_layers(const Layers& layers) {
  if (layers.lowerdirs.empty()) return "no lowerdir: an overlay needs at least one lower layer";
  for (const auto& dir : layers.lowerdirs)
    if (dir.empty()) return "an empty lowerdir path";
  if (layers.upperdir.empty() != layers.workdir.empty())
    return "upperdir and workdir come together: give both or neither";
  if (layers.upperdir.empty() && layers.lowerdirs.size() < 2)
    return "a read-only overlay (no upperdir) needs at least 2 lowerdirs";
  return "";
}

std::string mount_options(const Layers& layers) {
  if (std::string problem = validate_layers(layers); !problem.empty())
    throw std::invalid_argument(problem);
  std::string out = "lowerdir=";
  for (size_t i = 0; i < layers.lowerdirs.size(); ++i) {
    if (i) out += ':';
    out += escape_path(layers.lowerdirs[i]);
  }
  if (!layers.upperdir.empty())
    out += fmt::format(",upperdir={},workdir={}", escape_path(layers.upperdir),
                       escape_path(layers.workdir));
  if (out.size() > kMaxOptionBytes)
    throw std::invalid_argument(fmt::format(
        "the overlay options are {} bytes; mount(2) takes at most {} (one page): use shorter "
        "paths, e.g. relative ones after chdir, as Docker's overlay2 does",
        out.size(), kMaxOptionBytes));
  return out;
}

std::vector<std::string> split_lowerdir(std::string_view mountinfo_value) {
  const std::string text = lab::decode_mount_escapes(mountinfo_value);
  std::vector<std::string> out;
  std::string current;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      current += text[++i];
    } else if (text[i] == ':') {
      // "::" marks data-only lower layers (6.5+); they are still layers, so keep them all.
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current += text[i];
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

std::string aufs_options(const std::vector<std::string>& branches, std::string_view permission) {
  std::string out = "br=";
  for (size_t i = 0; i < branches.size(); ++i)
    out += fmt::format("{}{}={}", i ? ":" : "", branches[i], permission);
  return out;
}

bool is_whiteout(mode_t mode, dev_t rdev) { return S_ISCHR(mode) && rdev == makedev(0, 0); }

bool is_whiteout(const struct stat& st) { return is_whiteout(st.st_mode, st.st_rdev); }

bool is_opaque(std::string_view xattr_value) { return xattr_value == "y"; }

std::string check_work_dir(const std::string& path) {
  if (path.empty()) return "the directory name is empty";
  std::error_code ec;
  const fs::path p(path);
  auto status = fs::symlink_status(p, ec);
  if (fs::exists(status)) {
    if (!fs::is_directory(status)) return fmt::format("{} exists and is not a directory", path);
    if (!fs::is_empty(p, ec) || ec)
      return fmt::format("{} is not empty; give an empty or a new directory", path);
    return "";
  }
  // The parent of "/tmp/new/" is /tmp, not /tmp/new (which is what parent_path() would say).
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  fs::path parent = fs::absolute(trimmed, ec).parent_path();
  if (ec || !fs::is_directory(parent, ec))
    return fmt::format("{} cannot be made: {} is not a directory", path, parent.string());
  return "";
}

void unshare_private_mount_namespace() {
  lab::check(::unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)");
  // systemd makes / shared: without this our mounts would propagate back to the host's namespace.
  lab::mount_fs(nullptr, "/", nullptr, MS_REC | MS_PRIVATE);
}

lab::Mount mount_overlay(const Layers& layers, const std::string& target) {
  const std::string options = mount_options(layers);
  lab::mount_fs("overlay", target, "overlay", 0, options.c_str());
  return lab::Mount(fs::absolute(target).string());
}

lab::Mount mount_aufs_read_only(const std::vector<std::string>& branches,
                                const std::string& target) {
  const std::string options = aufs_options(branches, "ro");
  lab::mount_fs("none", target, "aufs", MS_RDONLY, options.c_str());
  return lab::Mount(fs::absolute(target).string());
}

std::optional<struct stat> lstat_path(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == -1) {
    if (errno == ENOENT) return std::nullopt;
    lab::check(-1, [&] { return fmt::format("lstat({})", lab::quote(path)); });
  }
  return st;
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(path)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> list_tree(const std::string& root) {
  std::vector<std::string> paths;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    paths.push_back(fs::relative(entry.path(), root).string());
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::string read_opaque_xattr(const std::string& dir) {
  char value[16];
  ssize_t n = ::lgetxattr(dir.c_str(), kOpaqueXattr, value, sizeof value);
  if (n == -1 && errno == ENODATA) return "";
  lab::check(n, [&] {
    return fmt::format("lgetxattr({}, {})", lab::quote(dir), lab::quote(kOpaqueXattr));
  });
  return std::string(value, static_cast<size_t>(n));
}

}  // namespace overlay
