// The graph driver: overlay (lesson 05) over the store's layers, or vfs copies where overlay
// cannot be used. See driver.hpp for the layout on disk.
#include "graph/driver.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <utility>

#include "error.hpp"
#include "fd.hpp"
#include "host.hpp"
#include "mount.hpp"
#include "path_in_root.hpp"
#include "runtime/explain.hpp"

namespace graph {

namespace fs = std::filesystem;

namespace {

constexpr size_t kShortIdLength = 26;
// base32's alphabet: 32 symbols, so a random byte modulo 32 picks each one with equal odds.
constexpr std::string_view kShortIdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_container_id(std::string_view s) {
  if (s.empty() || s.size() > 128 || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

void require_layer_id(const std::string& hex) {
  if (!is_hex64(hex))
    throw lab::UserError(
        fmt::format("{}: not a layer diff id (64 lowercase hex digits)", lab::quote(hex)));
}

void require_container_id(const std::string& id) {
  if (!is_container_id(id))
    throw lab::UserError(fmt::format(
        "{}: not a container id (letters, digits, '_', '.', '-', at most 128)", lab::quote(id)));
}

std::string layers_dir(const std::string& root) { return root + "/layers"; }
std::string links_dir(const std::string& root) { return root + "/layers/l"; }
std::string layer_dir(const std::string& root, const std::string& hex) {
  return root + "/layers/" + hex;
}
std::string container_dir(const std::string& root, const std::string& id) {
  return root + "/containers/" + id;
}
// Where a layer's l/ link points, relative to the l/ directory.
std::string layer_link_target(const std::string& hex) { return "../" + hex + "/diff"; }
std::string init_link_target(const std::string& id) { return "../../containers/" + id + "/init"; }

// mkdir that is content with a directory already there.
void make_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == -1 && errno != EEXIST)
    lab::check(-1, [&] { return fmt::format("mkdir({}, {:04o})", lab::quote(path), mode); });
}

// mkdir then chmod: the umask must not decide the mode of a container's root.
void make_dir_exactly(const std::string& path, mode_t mode) {
  lab::check(::mkdir(path.c_str(), mode),
             [&] { return fmt::format("mkdir({}, {:04o})", lab::quote(path), mode); });
  lab::check(::chmod(path.c_str(), mode),
             [&] { return fmt::format("chmod({}, {:04o})", lab::quote(path), mode); });
}

// readlink(2); "" when `path` is missing or not a symlink.
std::string read_link(const std::string& path) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

void make_symlink(const std::string& target, const std::string& path) {
  lab::check(::symlink(target.c_str(), path.c_str()),
             [&] { return fmt::format("symlink({}, {})", lab::quote(target), lab::quote(path)); });
}

void unlink_if_present(const std::string& path) {
  if (::unlink(path.c_str()) == -1 && errno != ENOENT)
    lab::check(-1, [&] { return fmt::format("unlink({})", lab::quote(path)); });
}

// The short name a `link` file holds, or "" when it is missing or not a short name.
std::string read_short_id(const std::string& link_file) {
  std::string id = lab::trim(lab::read_file_or_empty(link_file));
  return is_short_id(id) ? id : std::string();
}

// A new l/<short> -> `target` symlink; returns its short name. A clash (never seen in practice:
// 130 random bits) just draws again.
std::string new_short_link(const std::string& root, const std::string& target) {
  make_dir(links_dir(root), 0700);
  for (;;) {
    std::string id = new_short_id();
    const std::string path = links_dir(root) + "/" + id;
    if (::symlink(target.c_str(), path.c_str()) == 0) return id;
    if (errno != EEXIST)
      lab::check(
          -1, [&] { return fmt::format("symlink({}, {})", lab::quote(target), lab::quote(path)); });
  }
}

// A file replaced whole by rename(2), so a reader never sees half of it.
void write_file_atomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  lab::create_file(tmp, content, 0644);
  lab::check(::rename(tmp.c_str(), path.c_str()),
             [&] { return fmt::format("rename({}, {})", lab::quote(tmp), lab::quote(path)); });
}

bool on_overlayfs(const std::string& root) {
  // <root> may not exist yet: its nearest existing ancestor is where it will be made.
  fs::path p = fs::absolute(root);
  struct statfs sfs {};
  while (::statfs(p.c_str(), &sfs) == -1) {
    if (errno != ENOENT || p == p.root_path()) return false;
    p = p.parent_path();
  }
  return sfs.f_type == OVERLAYFS_SUPER_MAGIC;
}

// The working directory, changed for the lifetime of this object and restored after, even when
// the mount in between throws. The working directory belongs to the process, shared by its
// threads (with the root and the umask: the kernel's fs_struct), and the daemon runs many jobs at
// once on threads: unshare(CLONE_FS) first gives this thread a copy of its own, so the chdir is
// seen by nobody else (in a single-threaded CLI the copy changes nothing).
class WorkingDirectory {
 public:
  explicit WorkingDirectory(const std::string& dir)
      : previous_(lab::open_fd(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) {
    lab::check(::unshare(CLONE_FS), "unshare(CLONE_FS)");
    lab::check(::chdir(dir.c_str()), [&] { return fmt::format("chdir({})", lab::quote(dir)); });
  }
  WorkingDirectory(const WorkingDirectory&) = delete;
  WorkingDirectory& operator=(const WorkingDirectory&) = delete;
  ~WorkingDirectory() {
    if (::fchdir(previous_.get()) == -1) {
      // Nothing sensible is left to do: the directory we came from is gone.
    }
  }

 private:
  lab::UniqueFd previous_;
};

// --- the init layer ------------------------------------------------------------------------------

// What Docker's daemon/initlayer puts in every container: mount points and stub files for what
// the engine binds or mounts over them, so those never land in the rw layer (and so a commit
// never captures /etc/hosts). The stubs shadow the image's own files.
void build_init_layer(const std::string& dir, const std::string& hostname) {
  for (const char* sub : {"/dev", "/dev/pts", "/dev/shm", "/etc", "/proc", "/sys"})
    make_dir_exactly(dir + sub, 0755);
  lab::create_file(dir + "/etc/hosts", "", 0644);
  lab::create_file(dir + "/etc/resolv.conf", "", 0644);
  lab::create_file(dir + "/etc/hostname", hostname.empty() ? "" : hostname + "\n", 0644);
  lab::create_file(dir + "/dev/console", "", 0644);
  make_symlink("/proc/mounts", dir + "/etc/mtab");
}

// --- vfs: layers copied one over the other -------------------------------------------------------

std::optional<struct stat> stat_at(int dirfd, const char* name) {
  struct stat st {};
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) return st;
  if (errno == ENOENT) return std::nullopt;
  lab::check(-1, [&] { return fmt::format("fstatat({}, {})", dirfd, lab::quote(name)); });
  return std::nullopt;
}

std::vector<std::string> names_in(int dirfd) {
  // fdopendir takes the descriptor it is given: hand it a fresh one.
  const int fd = lab::check(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC),
                            [&] { return fmt::format("openat({}, \".\")", dirfd); });
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    lab::check(-1, [&] { return fmt::format("fdopendir({})", fd); });
  }
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view n = entry->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

lab::UniqueFd open_dir_at(int dirfd, const std::string& name) {
  return lab::UniqueFd(lab::check(
      ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), [&] {
        return fmt::format("openat({}, {}, O_DIRECTORY|O_NOFOLLOW)", dirfd, lab::quote(name));
      }));
}

// rm -rf of `name` in `dirfd`, never following a symlink (only in our own staging tree, which
// holds no mounts).
void remove_at(int dirfd, const std::string& name) {
  if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return;
  if (errno != EISDIR)
    lab::check(-1, [&] { return fmt::format("unlinkat({}, {})", dirfd, lab::quote(name)); });
  {
    lab::UniqueFd sub = open_dir_at(dirfd, name);
    for (const auto& n : names_in(sub.get())) remove_at(sub.get(), n);
  }
  lab::check(::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR), [&] {
    return fmt::format("unlinkat({}, {}, AT_REMOVEDIR)", dirfd, lab::quote(name));
  });
}

// "/proc/self/fd/N/name": the l*xattr calls have no *at form before Linux 6.13, and the magic
// link pins the directory, so only `name` itself is looked up (and not followed).
std::string at_path(int dirfd, const std::string& name) {
  return fmt::format("/proc/self/fd/{}/{}", dirfd, name);
}

// Extended attributes (file capabilities, ACLs, SELinux labels) copied as they are, except
// overlay's own: trusted.overlay.opaque means something only inside an overlay's layers.
void copy_xattrs(const std::string& from, const std::string& to) {
  ssize_t size = ::llistxattr(from.c_str(), nullptr, 0);
  if (size <= 0) return;
  std::string names(static_cast<size_t>(size), '\0');
  size = lab::check(::llistxattr(from.c_str(), names.data(), names.size()),
                    [&] { return fmt::format("llistxattr({})", lab::quote(from)); });
  names.resize(static_cast<size_t>(size));
  for (size_t at = 0; at < names.size();) {
    const std::string name = names.c_str() + at;
    at += name.size() + 1;
    if (name.starts_with("trusted.overlay.")) continue;
    ssize_t len = lab::check(::lgetxattr(from.c_str(), name.c_str(), nullptr, 0), [&] {
      return fmt::format("lgetxattr({}, {})", lab::quote(from), lab::quote(name));
    });
    std::string value(static_cast<size_t>(len), '\0');
    len = lab::check(::lgetxattr(from.c_str(), name.c_str(), value.data(), value.size()), [&] {
      return fmt::format("lgetxattr({}, {})", lab::quote(from), lab::quote(name));
    });
    lab::check(::lsetxattr(to.c_str(), name.c_str(), value.data(), static_cast<size_t>(len), 0),
               [&] { return fmt::format("lsetxattr({}, {})", lab::quote(to), lab::quote(name)); });
  }
}

// Owner, then mode (chown clears set-uid bits), then xattrs (chown also drops
// security.capability), then times: the order `cp -a` keeps.
void copy_metadata(int src_dir, int dst_dir, const std::string& name, const struct stat& st) {
  lab::check(::fchownat(dst_dir, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW), [&] {
    return fmt::format("fchownat({}, {}, {}, {})", dst_dir, lab::quote(name), st.st_uid, st.st_gid);
  });
  if (!S_ISLNK(st.st_mode))
    lab::check(::fchmodat(dst_dir, name.c_str(), st.st_mode & 07777, 0), [&] {
      return fmt::format("fchmodat({}, {}, {:04o})", dst_dir, lab::quote(name), st.st_mode & 07777);
    });
  copy_xattrs(at_path(src_dir, name), at_path(dst_dir, name));
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  lab::check(::utimensat(dst_dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW),
             [&] { return fmt::format("utimensat({}, {})", dst_dir, lab::quote(name)); });
}

void copy_file_data(int in, int out, const std::string& name) {
  // copy_file_range shares extents where the filesystem can (btrfs, xfs) and copies in the
  // kernel elsewhere; read/write is the fallback where it is refused (old kernels, some fs).
  bool first = true;
  for (;;) {
    const ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
    if (n == 0) return;
    if (n > 0) {
      first = false;
      continue;
    }
    if (!(first && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)))
      lab::check(-1, [&] { return fmt::format("copy_file_range({})", lab::quote(name)); });
    break;
  }
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = lab::check(::read(in, buf, sizeof buf),
                                 [&] { return fmt::format("read({})", lab::quote(name)); });
    if (n == 0) return;
    for (ssize_t off = 0; off < n;)
      off += lab::check(::write(out, buf + off, static_cast<size_t>(n - off)),
                        [&] { return fmt::format("write({})", lab::quote(name)); });
  }
}

struct LayerCopy {
  int dst_root;  // the container's diff/
  // (st_dev, st_ino) of a source file with more than one link -> where its first copy went.
  std::map<std::pair<dev_t, ino_t>, std::string> hardlinks;
};

void copy_entry(int src_dir, int dst_dir, const std::string& name, const std::string& rel,
                const struct stat& st, LayerCopy& copy) {
  if (st.st_nlink > 1) {
    const auto key = std::make_pair(st.st_dev, st.st_ino);
    if (auto it = copy.hardlinks.find(key); it != copy.hardlinks.end()) {
      // The first copy's directory, looked up inside diff/ only: a symlink on the way (none is
      // expected: we made those directories) could not lead out.
      const fs::path first(it->second);
      lab::UniqueFd parent = lab::open_in_root(copy.dst_root, first.parent_path().string(),
                                               O_PATH | O_DIRECTORY | O_CLOEXEC);
      lab::check(::linkat(parent.get(), first.filename().c_str(), dst_dir, name.c_str(), 0), [&] {
        return fmt::format("linkat({}, {})", lab::quote(it->second), lab::quote(rel));
      });
      return;
    }
    copy.hardlinks.emplace(key, rel);
  }
  if (S_ISREG(st.st_mode)) {
    lab::UniqueFd in(lab::check(
        ::openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC),
        [&] { return fmt::format("openat({}, O_RDONLY|O_NOFOLLOW)", lab::quote(rel)); }));
    lab::UniqueFd out(lab::check(
        ::openat(dst_dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600),
        [&] { return fmt::format("openat({}, O_WRONLY|O_CREAT|O_EXCL)", lab::quote(rel)); }));
    copy_file_data(in.get(), out.get(), rel);
  } else if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    const ssize_t n = lab::check(::readlinkat(src_dir, name.c_str(), target, sizeof target - 1),
                                 [&] { return fmt::format("readlinkat({})", lab::quote(rel)); });
    target[n] = '\0';
    lab::check(::symlinkat(target, dst_dir, name.c_str()), [&] {
      return fmt::format("symlinkat({}, {})", lab::quote(target), lab::quote(rel));
    });
  } else {
    // Devices, fifos and sockets: the node itself, as tar and cp -a make it.
    lab::check(::mknodat(dst_dir, name.c_str(), st.st_mode, st.st_rdev),
               [&] { return fmt::format("mknodat({}, {:o})", lab::quote(rel), st.st_mode); });
  }
  copy_metadata(src_dir, dst_dir, name, st);
}

// One layer's directory `src_dir` applied over `dst_dir`, as overlay would show it: a whiteout
// deletes what is below, an opaque directory replaces what is below, a plain directory merges,
// anything else replaces.
void apply_layer_dir(int src_dir, int dst_dir, const std::string& rel, LayerCopy& copy) {
  for (const auto& name : names_in(src_dir)) {
    const std::string path = rel.empty() ? name : rel + "/" + name;
    const std::optional<struct stat> found = stat_at(src_dir, name.c_str());
    if (!found) continue;  // gone since the listing (the store never changes a layer, though)
    const struct stat& st = *found;
    const std::optional<struct stat> below = stat_at(dst_dir, name.c_str());
    if (overlay::is_whiteout(st)) {
      if (below) remove_at(dst_dir, name);
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (below) remove_at(dst_dir, name);
      copy_entry(src_dir, dst_dir, name, path, st, copy);
      continue;
    }
    lab::UniqueFd src = open_dir_at(src_dir, name);
    const bool opaque = overlay::is_opaque(overlay::read_opaque_xattr(at_path(src_dir, name)));
    if (below && (opaque || !S_ISDIR(below->st_mode))) remove_at(dst_dir, name);
    if (!below || opaque || !S_ISDIR(below->st_mode))
      lab::check(::mkdirat(dst_dir, name.c_str(), 0700),
                 [&] { return fmt::format("mkdirat({})", lab::quote(path)); });
    {
      lab::UniqueFd dst = open_dir_at(dst_dir, name);
      apply_layer_dir(src.get(), dst.get(), path, copy);
    }
    // Last, so that the children written above do not change the directory's mtime again.
    copy_metadata(src_dir, dst_dir, name, st);
  }
}

void apply_layer(const std::string& layer, int dst_root) {
  lab::UniqueFd src(lab::check(::open(layer.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC), [&] {
    return fmt::format("open({}, O_RDONLY|O_DIRECTORY)", lab::quote(layer));
  }));
  LayerCopy copy{dst_root, {}};
  apply_layer_dir(src.get(), dst_root, "", copy);
}

// --- the container's directory -------------------------------------------------------------------

bool is_mount_point(const std::string& path) {
  char real[PATH_MAX];
  if (::realpath(path.c_str(), real) == nullptr) return false;
  return lab::find_mount(lab::read_mountinfo(), real) != nullptr;
}

// Undoes a half-made rootfs: the mount, the init layer's link, the directory.
class ContainerUndo {
 public:
  ContainerUndo(std::string root, std::string id) : root_(std::move(root)), id_(std::move(id)) {}
  ContainerUndo(const ContainerUndo&) = delete;
  ContainerUndo& operator=(const ContainerUndo&) = delete;
  ~ContainerUndo() {
    if (id_.empty()) return;
    try {
      remove_rootfs(root_, DriverKind::overlay, id_);
    } catch (...) {
      // Already failing: the first error is the one to report.
    }
  }
  void release() { id_.clear(); }

 private:
  std::string root_, id_;
};

void check_layers_present(const std::string& root, const std::vector<std::string>& layers) {
  for (const auto& hex : layers) {
    require_layer_id(hex);
    const std::string diff = layer_dir(root, hex) + "/diff";
    const auto st = overlay::lstat_path(diff);
    if (!st || !S_ISDIR(st->st_mode))
      throw std::runtime_error(fmt::format(
          "layer sha256:{} is missing from the store ({} is not a directory)", hex, diff));
  }
}

void mount_container_overlay(const std::string& root, const std::string& id,
                             const std::vector<std::string>& lowers_top_first, bool volatile_upper,
                             const runtime::Explainer* explain) {
  std::string options = overlay::mount_options(container_layers(lowers_top_first, id));
  // `volatile` (Linux 5.10): overlay skips every sync of its upper layer, the one at unmount
  // included, which is a sync of the whole file system the engine's root is on (milliseconds
  // when it is idle, tens of them when other programs write). Only for a container that goes
  // with its exit: after a crash, overlay refuses to mount a volatile upper again.
  if (volatile_upper) options += ",volatile";
  const std::string merged = fs::absolute(container_dir(root, id) + "/merged").string();
  const std::string home = fs::absolute(layers_dir(root)).string();
  if (explain)
    explain->step(
        "05", fmt::format("mount(\"overlay\", \"{}\", \"overlay\", 0, \"{}\")", merged, options),
        fmt::format("cd {} && mount -t overlay overlay -o {} {}", home, options, merged));
  // The paths are relative to <root>/layers, so the mount runs from there, as Docker's overlay2
  // does: "l/<26 chars>" per layer keeps 128 layers inside mount(2)'s one page of options.
  // Linux 6.8's new mount API could pass each layer on its own (fsconfig(FSCONFIG_SET_STRING,
  // "lowerdir+", ...)), free of the page limit and of chdir, but students' kernels are older; a
  // chdir works wherever overlay does (3.18). The working directory is the process's: Docker
  // re-execs itself for the mount; WorkingDirectory unshares it from the other threads instead.
  WorkingDirectory in_home(home);
  if (volatile_upper) {
    if (::mount("overlay", merged.c_str(), "overlay", 0, options.c_str()) == 0) return;
    // A kernel older than 5.10 has no `volatile`: the mount without it, as before (any other
    // failure comes again from the mount below, with its one line).
    if (errno == EINVAL) options.resize(options.size() - std::string_view(",volatile").size());
  }
  lab::mount_fs("overlay", merged, "overlay", 0, options.c_str());
}

}  // namespace

// --- pure logic ----------------------------------------------------------------------------------

std::string new_short_id() {
  unsigned char bytes[kShortIdLength];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n == -1 && errno == EINTR) continue;
    got += static_cast<size_t>(lab::check(n, "getrandom(26 bytes)"));
  }
  std::string id;
  for (unsigned char b : bytes) id += kShortIdAlphabet[b % kShortIdAlphabet.size()];
  return id;
}

bool is_short_id(std::string_view s) {
  return s.size() == kShortIdLength && std::all_of(s.begin(), s.end(), [](char c) {
           return kShortIdAlphabet.find(c) != std::string_view::npos;
         });
}

overlay::Layers container_layers(const std::vector<std::string>& short_ids_top_first,
                                 const std::string& container_id) {
  overlay::Layers layers;
  for (const auto& id : short_ids_top_first) layers.lowerdirs.push_back("l/" + id);
  layers.upperdir = "../containers/" + container_id + "/diff";
  layers.workdir = "../containers/" + container_id + "/work";
  return layers;
}

// --- choosing ------------------------------------------------------------------------------------

const char* driver_name(DriverKind kind) { return kind == DriverKind::overlay ? "overlay" : "vfs"; }

DriverKind choose_driver(const std::string& root) {
  const bool kernel_overlay = lab::host::kernel_has_filesystem("overlay");
  if (const char* env = std::getenv("MINIDOCKER_STORAGE_DRIVER"); env && *env) {
    const std::string_view want = env;
    if (want == "vfs") return DriverKind::vfs;
    if (want != "overlay" && want != "overlay2")
      throw lab::UserError(fmt::format(
          "MINIDOCKER_STORAGE_DRIVER={}: no such storage driver (use overlay or vfs)", want));
    if (!kernel_overlay)
      throw lab::UserError(
          "MINIDOCKER_STORAGE_DRIVER=overlay, but this kernel has no overlay filesystem "
          "(modprobe overlay, or use vfs)");
    return DriverKind::overlay;
  }
  // An overlay upperdir on overlayfs is refused by the kernel (minidocker inside a container
  // whose root is overlay, as docker:dind is): copies are the only way left there. /proc/
  // filesystems lists overlay only once its module is loaded (Docker runs modprobe first).
  if (!kernel_overlay || on_overlayfs(root)) return DriverKind::vfs;
  return DriverKind::overlay;
}

// --- layers --------------------------------------------------------------------------------------

void register_layer(const std::string& root, const std::string& diff_id_hex) {
  require_layer_id(diff_id_hex);
  check_layers_present(root, {diff_id_hex});
  const std::string link_file = layer_dir(root, diff_id_hex) + "/link";
  const std::string target = layer_link_target(diff_id_hex);
  if (const std::string id = read_short_id(link_file); !id.empty()) {
    const std::string path = links_dir(root) + "/" + id;
    const std::string now = read_link(path);
    if (now == target) return;
    if (now.empty() && !overlay::lstat_path(path)) {
      make_dir(links_dir(root), 0700);
      make_symlink(target, path);
      return;
    }
    // The name is taken by something else (a crash between two writes): draw a new one.
  }
  // The symlink first, then the name that points at it: a crash in between leaves a stray link,
  // never a `link` file naming nothing.
  write_file_atomically(link_file, new_short_link(root, target));
}

void forget_layer(const std::string& root, const std::string& diff_id_hex) {
  require_layer_id(diff_id_hex);
  const std::string link_file = layer_dir(root, diff_id_hex) + "/link";
  if (const std::string id = read_short_id(link_file); !id.empty()) {
    const std::string path = links_dir(root) + "/" + id;
    if (read_link(path) == layer_link_target(diff_id_hex)) unlink_if_present(path);
  }
  unlink_if_present(link_file);
}

// --- containers ----------------------------------------------------------------------------------

std::string rw_layer_dir(const std::string& root, DriverKind, const std::string& container_id) {
  require_container_id(container_id);
  return container_dir(root, container_id) + "/diff";
}

std::string prepare_rootfs(const std::string& root, DriverKind kind, const RootfsRequest& req,
                           const runtime::Explainer* explain) {
  require_container_id(req.container_id);
  check_layers_present(root, req.layers);
  const std::string dir = container_dir(root, req.container_id);
  if (overlay::lstat_path(dir))
    throw lab::UserError(fmt::format("container {} already has a rootfs at {}; remove it first",
                                     req.container_id, dir));

  std::vector<std::string> lowers;  // short names, top first
  if (kind == DriverKind::overlay) {
    for (auto it = req.layers.rbegin(); it != req.layers.rend(); ++it) {
      register_layer(root, *it);  // again, for a layer a crash left without its link
      lowers.push_back(read_short_id(layer_dir(root, *it) + "/link"));
    }
  }

  // Everything is built under <root>/tmp and renamed into place in one step: a command killed
  // half-way leaves garbage in tmp/ (which the next writer clears), never half a container.
  make_dir(root + "/tmp", 0700);
  make_dir(layers_dir(root), 0700);
  make_dir(root + "/containers", 0711);
  lab::TempDir staging(fmt::format("{}/tmp/rootfs-{}-", root, req.container_id));
  lab::check(::chmod(staging.path().c_str(), 0711),
             [&] { return fmt::format("chmod({}, 0711)", lab::quote(staging.path())); });
  const std::string init = staging.path() + "/init";
  make_dir_exactly(init, 0755);
  build_init_layer(init, req.hostname);
  if (explain)
    explain->step("", fmt::format("init layer {}/init: /etc/hosts /etc/resolv.conf /etc/hostname "
                                  "/dev/console /dev/shm /proc /sys",
                                  dir));
  make_dir_exactly(staging.path() + "/diff", 0755);

  if (kind == DriverKind::vfs) {
    // vfs: the layers bottom-up, then the init layer, copied into diff/ (what overlay would
    // show); merged is only a name for it.
    lab::UniqueFd diff = lab::open_fd(staging.path() + "/diff", O_RDONLY | O_DIRECTORY);
    for (const auto& hex : req.layers) {
      const std::string layer = layer_dir(root, hex) + "/diff";
      if (explain)
        explain->step("", fmt::format("copy layer {} (vfs, whiteouts applied)", hex.substr(0, 12)),
                      fmt::format("cp -a {}/. {}/diff/", layer, dir));
      apply_layer(layer, diff.get());
    }
    apply_layer(init, diff.get());
    make_symlink("diff", staging.path() + "/merged");
  } else {
    make_dir_exactly(staging.path() + "/work", 0700);
    make_dir_exactly(staging.path() + "/merged", 0755);
  }
  const std::string init_id = kind == DriverKind::overlay ? new_short_id() : std::string();
  if (!init_id.empty()) lab::create_file(staging.path() + "/link", init_id + "\n", 0644);

  // RENAME_NOREPLACE: another command that made the same container meanwhile keeps its own.
  lab::check(::renameat2(AT_FDCWD, staging.path().c_str(), AT_FDCWD, dir.c_str(), RENAME_NOREPLACE),
             [&] {
               return fmt::format("renameat2({}, {}, RENAME_NOREPLACE)", lab::quote(staging.path()),
                                  lab::quote(dir));
             });
  staging.release();
  ContainerUndo undo(root, req.container_id);
  if (kind == DriverKind::vfs) {
    undo.release();
    return dir + "/diff";
  }
  make_dir(links_dir(root), 0700);
  make_symlink(init_link_target(req.container_id), links_dir(root) + "/" + init_id);
  lowers.insert(lowers.begin(), init_id);
  mount_container_overlay(root, req.container_id, lowers, req.volatile_upper, explain);
  undo.release();
  return dir + "/merged";
}

void remove_rootfs(const std::string& root, DriverKind kind, const std::string& container_id,
                   const runtime::Explainer* explain) {
  require_container_id(container_id);
  const std::string dir = container_dir(root, container_id);
  const auto st = overlay::lstat_path(dir);
  if (!st) return;
  if (!S_ISDIR(st->st_mode))
    throw std::runtime_error(fmt::format("{} is not a directory; not touching it", dir));
  const std::string merged = dir + "/merged";
  // vfs's merged is a symlink to diff: only overlay's merged directory is ever mounted on.
  const auto merged_st = overlay::lstat_path(merged);
  if (merged_st && S_ISDIR(merged_st->st_mode) && is_mount_point(merged)) {
    if (explain)
      explain->step("05", fmt::format("umount2(\"{}\", MNT_DETACH)", merged),
                    fmt::format("umount -l {}", merged));
    lab::check(::umount2(merged.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW), [&] {
      return fmt::format("umount2({}, MNT_DETACH|UMOUNT_NOFOLLOW)", lab::quote(merged));
    });
  }
  if (const std::string id = read_short_id(dir + "/link"); !id.empty()) {
    const std::string path = links_dir(root) + "/" + id;
    if (read_link(path) == init_link_target(container_id)) unlink_if_present(path);
  }
  if (explain)
    explain->step("", fmt::format("remove the {} rootfs {}", driver_name(kind), dir),
                  fmt::format("rm -rf --one-file-system {}", dir));
  // Detaches whatever else is mounted below (a bind a test left), then never crosses a mount.
  lab::remove_tree_without_crossing_mounts(dir);
  if (overlay::lstat_path(dir))
    throw std::runtime_error(fmt::format(
        "{} could not be removed entirely: something under it is still mounted or in use", dir));
}

}  // namespace graph
