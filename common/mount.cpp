#include "mount.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "error.hpp"
#include "fd.hpp"

namespace lab {

void mount_fs(const char* source, const std::string& target, const char* fstype,
              unsigned long flags, const char* data) {
  check(::mount(source, target.c_str(), fstype, flags, data), [&] {
    return fmt::format("mount({}, {}, {}, {}, {})", quote(source), quote(target), quote(fstype),
                       mount_flags_to_string(flags), quote(data));
  });
}

Mount& Mount::operator=(Mount&& other) noexcept {
  if (this != &other) {
    detach();
    target_ = std::exchange(other.target_, {});
  }
  return *this;
}

void Mount::detach() noexcept {
  if (target_.empty()) return;
  ::umount2(target_.c_str(), MNT_DETACH);
  target_.clear();
}

TempDir::TempDir(std::string_view prefix) {
  std::string tmpl = fmt::format("{}XXXXXX", prefix);
  if (!::mkdtemp(tmpl.data())) check(-1, [&] { return fmt::format("mkdtemp({})", quote(tmpl)); });
  path_ = tmpl;
}

namespace {

// The id of the mount that `name` (in `dirfd`) lives on, as mountinfo's first field numbers it;
// 0 when it cannot be told. st_dev is not enough: a bind mount of /home/u/vol into a directory on
// the same file system has the same st_dev as its parent, yet it is someone else's data.
unsigned long long mount_id_at(int dirfd, const char* name) {
  struct statx stx {};
  if (::statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID, &stx) == -1)
    return 0;
  return (stx.stx_mask & STATX_MNT_ID) != 0 ? stx.stx_mnt_id : 0;
}

// rm -r of `name` in `dirfd` that never leaves the mount it started on: a directory with another
// mount on it is left in place, with whatever that mount shows. Returns whether all went.
bool remove_tree_on_one_mount(int dirfd, const char* name, unsigned long long mount_id) {
  const unsigned long long here = mount_id_at(dirfd, name);
  if (here == 0 || here != mount_id) return false;
  const int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd == -1) return ::unlinkat(dirfd, name, 0) == 0;  // not a directory (or a link to one)
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    return false;
  }
  bool all = true;
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view n = entry->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  for (const auto& n : names) all = remove_tree_on_one_mount(fd, n.c_str(), mount_id) && all;
  ::closedir(dir);
  return all && ::unlinkat(dirfd, name, AT_REMOVEDIR) == 0;
}

}  // namespace

void remove_tree_without_crossing_mounts(const std::string& path) noexcept {
  try {
    // First detach what is still mounted below (deepest first), in this mount namespace: a test
    // that failed halfway, a volume bound into a rootfs. Then remove, refusing to cross any mount
    // that remains (one made meanwhile, or one we could not detach): removing through a bind
    // mount deletes the files of the directory it shows, on the host.
    char real[PATH_MAX];
    if (::realpath(path.c_str(), real) != nullptr) {
      const std::string root = real;
      std::vector<std::string> below;
      for (const auto& m : read_mountinfo()) {
        const std::string& p = m.mount_point;
        if (p == root || (p.size() > root.size() && p.compare(0, root.size(), root) == 0 &&
                          p[root.size()] == '/'))
          below.push_back(p);
      }
      std::sort(below.begin(), below.end(),
                [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
      for (const auto& p : below) ::umount2(p.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
    }
  } catch (...) {
    // No /proc to read: the walk below still refuses to cross a mount.
  }
  // The mount of the directory that holds `path` (".." climbs out of a mount's root, so this is
  // the parent mount when `path` itself is still a mount point, and then nothing is removed).
  const std::string parent = path + "/..";
  remove_tree_on_one_mount(AT_FDCWD, path.c_str(), mount_id_at(AT_FDCWD, parent.c_str()));
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  remove_tree_without_crossing_mounts(path_);
}

std::string MountInfo::propagation() const {
  std::string out;
  for (const auto& f : optional_fields) {
    std::string kind;
    if (f.starts_with("shared:"))
      kind = "shared";
    else if (f.starts_with("master:"))
      kind = "slave";
    else if (f == "unbindable")
      kind = "unbindable";
    if (kind.empty()) continue;
    if (!out.empty()) out += ',';
    out += kind;
  }
  return out.empty() ? "private" : out;
}

std::string MountInfo::super_option(std::string_view key) const {
  // Overlay paths may hold commas escaped as "\,", so split on unescaped commas only.
  std::string_view opts = super_options;
  size_t start = 0;
  while (start <= opts.size()) {
    size_t end = start;
    while (end < opts.size() && !(opts[end] == ',' && (end == 0 || opts[end - 1] != '\\'))) ++end;
    std::string_view item = opts.substr(start, end - start);
    if (item.size() > key.size() && item.substr(0, key.size()) == key && item[key.size()] == '=')
      return std::string(item.substr(key.size() + 1));
    if (item == key) return "";
    start = end + 1;
  }
  return "";
}

std::string decode_mount_escapes(std::string_view s) {
  auto is_octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && is_octal(s[i + 1]) && is_octal(s[i + 2]) &&
        is_octal(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

MountInfo parse_mountinfo_line(std::string_view line) {
  // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
  // (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)     (10)         (11)
  std::istringstream in{std::string(line)};
  MountInfo m;
  std::string root, mount_point, field;
  if (!(in >> m.mount_id >> m.parent_id >> m.major_minor >> root >> mount_point >> m.options))
    throw std::invalid_argument(fmt::format("malformed mountinfo line: {}", line));
  bool saw_separator = false;
  while (in >> field) {
    if (field == "-") {
      saw_separator = true;
      break;
    }
    m.optional_fields.push_back(field);
  }
  if (!saw_separator || !(in >> m.fstype >> m.source))
    throw std::invalid_argument(fmt::format("malformed mountinfo line: {}", line));
  in >> m.super_options;  // may be absent
  m.root = decode_mount_escapes(root);
  m.mount_point = decode_mount_escapes(mount_point);
  m.source = decode_mount_escapes(m.source);
  return m;
}

std::vector<MountInfo> parse_mountinfo(std::string_view text) {
  std::vector<MountInfo> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty()) out.push_back(parse_mountinfo_line(line));
    start = end + 1;
  }
  return out;
}

std::vector<MountInfo> read_mountinfo(const std::string& path) {
  return parse_mountinfo(read_file(path));
}

const MountInfo* find_mount(const std::vector<MountInfo>& mounts, std::string_view mount_point) {
  const MountInfo* found = nullptr;
  for (const auto& m : mounts)
    if (m.mount_point == mount_point) found = &m;
  return found;
}

}  // namespace lab
