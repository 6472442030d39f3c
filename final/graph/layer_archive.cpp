#include "graph/layer_archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "error.hpp"
#include "fd.hpp"
#include "graph/digest.hpp"
#include "overlay.hpp"
#include "path_in_root.hpp"

namespace graph {

namespace {

constexpr size_t kReadBlock = 1 << 20;
constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueWhiteout = ".wh..wh..opq";
constexpr std::string_view kOverlayXattrPrefix = "trusted.overlay.";

using ReadArchive = std::unique_ptr<struct archive, decltype(&archive_read_free)>;
using WriteArchive = std::unique_ptr<struct archive, decltype(&archive_write_free)>;

std::string archive_error(struct archive* a) {
  const char* text = archive_error_string(a);
  return text != nullptr ? text : "unknown libarchive error";
}

// --- the raw bytes: fd -> (blob digest) -> libarchive's decompressors -> tar bytes -------------

// What libarchive's read callback works on. libarchive is C: an exception must not unwind
// through it, so one thrown by the progress callback waits here until control is back in C++.
struct FdSource {
  int fd = -1;
  // Two blocks in turn: libarchive holds the one returned until its next read, the hashing
  // thread the one before. (Declared before `digest`, so they outlive its thread.)
  std::vector<char> buffers[2] = {std::vector<char>(kReadBlock), std::vector<char>(kReadBlock)};
  const char* block = nullptr;  // the one last returned
  BackgroundSha256 digest;
  bool hashing = true;  // false when the caller knows the blob's digest already
  uint64_t bytes = 0;
  const Progress* progress = nullptr;
  std::exception_ptr pending;

  // One read(2) of up to a block: its byte count, 0 at the end, -1 (errno set) on failure.
  ssize_t read_block() {
    std::vector<char>& buffer = buffers[block == buffers[0].data() ? 1 : 0];
    block = buffer.data();
    ssize_t n;
    do n = ::read(fd, buffer.data(), buffer.size());
    while (n == -1 && errno == EINTR);
    if (n <= 0) return n;
    bytes += static_cast<uint64_t>(n);
    if (hashing) digest.update(buffer.data(), static_cast<size_t>(n));
    if (progress != nullptr && *progress) (*progress)(bytes);
    return n;
  }
};

la_ssize_t read_fd_callback(struct archive* a, void* opaque, const void** out) {
  auto* source = static_cast<FdSource*>(opaque);
  try {
    const ssize_t n = source->read_block();
    if (n == -1) {
      archive_set_error(a, errno, "read(fd %d): %s", source->fd, strerror(errno));
      return -1;
    }
    *out = source->block;
    return n;
  } catch (...) {
    source->pending = std::current_exception();
    archive_set_error(a, ECANCELED, "interrupted");
    return -1;
  }
}

// Reader A: the blob as one "raw" entry whose data is the blob decompressed. Only the
// compressions image layers use are enabled: libarchive's other filters (uuencode above all)
// bid on text found anywhere in the first bytes, and a plain tar holding a shell script that
// starts with "begin 644" would be taken for one.
ReadArchive open_decompressor(FdSource& source) {
  ReadArchive a(archive_read_new(), archive_read_free);
  if (!a) throw std::bad_alloc();
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_format_raw(a.get());
  if (archive_read_open2(a.get(), &source, nullptr, read_fd_callback, nullptr, nullptr) !=
      ARCHIVE_OK) {
    if (source.pending) std::rethrow_exception(source.pending);
    if (source.bytes == 0) throw lab::UserError("cannot read the layer: it is empty");
    throw lab::UserError(fmt::format("cannot read the layer: {}", archive_error(a.get())));
  }
  struct archive_entry* entry = nullptr;
  const int rc = archive_read_next_header(a.get(), &entry);
  if (source.pending) std::rethrow_exception(source.pending);
  if (rc == ARCHIVE_EOF) throw lab::UserError("cannot read the layer: it is empty");
  if (rc < ARCHIVE_WARN)
    throw lab::UserError(fmt::format("cannot read the layer: {}", archive_error(a.get())));
  return a;
}

// The uncompressed stream, hashed on its way through (the diff id).
struct TarSource {
  struct archive* decompressor = nullptr;
  // Two blocks in turn, as FdSource's.
  std::vector<char> buffers[2] = {std::vector<char>(kReadBlock), std::vector<char>(kReadBlock)};
  const char* block = nullptr;
  BackgroundSha256 digest;
  bool hashing = true;  // false when the blob is a plain tar: its digest is the diff id
  uint64_t bytes = 0;
  uint64_t max_bytes = UINT64_MAX;
  std::string error;  // the decompressor's, kept for the one line the user sees

  // Up to a block of tar bytes: the count, 0 at the end, -1 with `error` set.
  la_ssize_t read_block() {
    std::vector<char>& buffer = buffers[block == buffers[0].data() ? 1 : 0];
    block = buffer.data();
    const la_ssize_t n = archive_read_data(decompressor, buffer.data(), buffer.size());
    if (n < 0) {
      error = archive_error(decompressor);
      return -1;
    }
    bytes += static_cast<uint64_t>(n);
    if (hashing) digest.update(buffer.data(), static_cast<size_t>(n));
    if (bytes > max_bytes) {
      error = fmt::format("its uncompressed tar exceeds {} bytes", max_bytes);
      return -1;
    }
    return n;
  }
};

la_ssize_t read_tar_callback(struct archive* a, void* opaque, const void** out) {
  auto* source = static_cast<TarSource*>(opaque);
  const la_ssize_t n = source->read_block();
  if (n < 0) {
    archive_set_error(a, EIO, "%s", source->error.c_str());
    return -1;
  }
  *out = source->block;
  return n;
}

// --- paths inside the layer ----------------------------------------------------------------------

// The entry's path as components below the layer root. A leading "/" is dropped (Docker and
// containerd read "/etc/passwd" in a layer as etc/passwd of the layer); "." and empty
// components vanish; ".." removes the component before it, and one that would climb above the
// root refuses the entry: lexically, as Docker's filepath.Clean does, before any symlink is
// looked at (symlinks are then resolved inside the root by openat2).
std::vector<std::string> clean_components(std::string_view path, std::string_view entry,
                                          std::string_view what) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part == "..") {
      if (out.empty())
        throw lab::UserError(fmt::format("layer entry {}{}{} climbs out of the layer; refused",
                                         entry, what.empty() ? "" : " ", what));
      out.pop_back();
    } else if (!part.empty() && part != ".") {
      out.emplace_back(part);
    }
    start = end + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) out += (i == 0 ? "" : "/") + parts[i];
  return out;
}

// "/proc/self/fd/N/name": `name` in the directory that fd N holds, for the calls that have no
// *at form (lsetxattr). The magic link is ours and resolved already; `name` itself is never
// followed by the l*() calls.
std::string name_at(int dirfd, const std::string& name) {
  return fmt::format("{}/{}", lab::proc_fd_name(dirfd), name);
}

// rm -rf of `name` in `dirfd`, never following a symlink: every level is opened with
// O_NOFOLLOW from the level above.
void remove_all_at(int dirfd, const std::string& name) {
  struct stat st {};
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == -1) {
    if (errno == ENOENT) return;
    lab::check(-1, [&] { return fmt::format("fstatat({})", lab::quote(name_at(dirfd, name))); });
  }
  if (S_ISDIR(st.st_mode)) {
    lab::UniqueFd dir(lab::check(
        ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
        [&] { return fmt::format("openat({}, O_DIRECTORY)", lab::quote(name_at(dirfd, name))); }));
    std::vector<std::string> children;
    {
      DIR* stream = ::fdopendir(::dup(dir.get()));
      if (stream == nullptr) lab::check(-1, [&] { return fmt::format("fdopendir({})", name); });
      while (const dirent* d = ::readdir(stream)) {
        const std::string child = d->d_name;
        if (child != "." && child != "..") children.push_back(child);
      }
      ::closedir(stream);
    }
    for (const auto& child : children) remove_all_at(dir.get(), child);
  }
  lab::check(::unlinkat(dirfd, name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0),
             [&] { return fmt::format("unlinkat({})", lab::quote(name_at(dirfd, name))); });
}

// --- unpacking -----------------------------------------------------------------------------------

struct DeferredDir {
  std::string path;  // relative to the root
  mode_t mode;
  struct timespec mtime;
};

class Unpacker {
 public:
  // `stream_error` is where the tar's source keeps the decompressor's error: a truncated gzip
  // stream says so there, while the tar reader only sees its input fail.
  Unpacker(const std::string& dir, const UnpackLimits& limits, const std::string& stream_error)
      : dir_(dir),
        limits_(limits),
        stream_error_(stream_error),
        root_(lab::open_root(dir)),
        is_root_(::geteuid() == 0) {}

  void unpack(struct archive* tar, struct archive_entry* entry, UnpackResult& result);
  // Directory modes and times last: a file made inside would change the mtime, and a read-only
  // mode would stop a non-root unpacker from making the files.
  void finish_directories();

 private:
  // An O_PATH descriptor of the directory `parts[0..count)` inside the root, made if missing.
  int parent_dir(const std::vector<std::string>& parts, size_t count);
  void replace_existing(int parent, const std::string& name, bool keep_directory);
  void write_whiteout(const std::string& entry_path, const std::vector<std::string>& parts,
                      struct archive_entry* entry);
  void write_regular(struct archive* tar, int parent, const std::string& name,
                     struct archive_entry* entry, const std::string& entry_path,
                     UnpackResult& result);
  void link_hardlink(int parent, const std::string& name, struct archive_entry* entry,
                     const std::string& entry_path);
  void apply_xattrs(struct archive_entry* entry, const std::string& path_for_xattr);

  std::string dir_;
  UnpackLimits limits_;
  const std::string& stream_error_;
  lab::UniqueFd root_;
  bool is_root_;
  // The last parent directory resolved: tar files list a directory's files together, so most
  // entries reuse it. It stays right: an entry only ever removes a child of its own parent,
  // which is this directory, never the directory itself or one on the way to it.
  std::string cached_parent_path_;
  lab::UniqueFd cached_parent_;
  std::vector<DeferredDir> directories_;
};

int Unpacker::parent_dir(const std::vector<std::string>& parts, size_t count) {
  const std::string path = "/" + join(parts, count);
  if (cached_parent_ && cached_parent_path_ == path) return cached_parent_.get();
  lab::UniqueFd fd = lab::open_in_root_if_exists(root_.get(), path, O_PATH | O_DIRECTORY);
  if (!fd) fd = lab::mkdir_all_in_root(root_.get(), path, 0755);
  cached_parent_ = std::move(fd);
  cached_parent_path_ = path;
  return cached_parent_.get();
}

// A later entry for the same path wins, as with tar -x: what is there goes, unless both are
// directories (then the directory keeps its contents and takes the new metadata).
void Unpacker::replace_existing(int parent, const std::string& name, bool keep_directory) {
  struct stat st {};
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == -1) {
    if (errno == ENOENT) return;
    lab::check(-1, [&] { return fmt::format("fstatat({})", lab::quote(name_at(parent, name))); });
  }
  if (keep_directory && S_ISDIR(st.st_mode)) return;
  remove_all_at(parent, name);
}

void Unpacker::apply_xattrs(struct archive_entry* entry, const std::string& path_for_xattr) {
  archive_entry_xattr_reset(entry);
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
    // overlayfs's own xattrs (opaque, redirect, metacopy, origin) steer how the kernel merges
    // layers; a layer states deletions with whiteout files, never with these.
    if (std::string_view(name).starts_with(kOverlayXattrPrefix)) continue;
    if (::lsetxattr(path_for_xattr.c_str(), name, value, size, 0) == -1) {
      // As Docker: a file system without xattrs (or a namespace we may not write) loses them
      // rather than refusing the image.
      if (errno == ENOTSUP || errno == EPERM) continue;
      lab::check(-1, [&] {
        return fmt::format("lsetxattr({}, {}, <{} bytes>)", lab::quote(path_for_xattr),
                           lab::quote(name), size);
      });
    }
  }
}

void Unpacker::write_whiteout(const std::string& entry_path, const std::vector<std::string>& parts,
                              struct archive_entry* entry) {
  const std::string& base = parts.back();
  const std::string name = base.substr(kWhiteoutPrefix.size());
  if (base != kOpaqueWhiteout &&
      (name.empty() || name == "." || name == ".." || name.starts_with(kWhiteoutPrefix)))
    throw lab::UserError(
        fmt::format("layer entry {} is not a whiteout of a plain file name; refused", entry_path));
  const int parent = parent_dir(parts, parts.size() - 1);
  if (base == kOpaqueWhiteout) {
    const std::string target = lab::proc_fd_name(parent);
    lab::check(::setxattr(target.c_str(), overlay::kOpaqueXattr, "y", 1, 0), [&] {
      return fmt::format("setxattr({}, {}, \"y\")", lab::quote(lab::fd_path(parent)),
                         overlay::kOpaqueXattr);
    });
    return;
  }
  replace_existing(parent, name, false);
  lab::check(::mknodat(parent, name.c_str(), S_IFCHR | 0, ::makedev(0, 0)), [&] {
    return fmt::format("mknodat({}, S_IFCHR, makedev(0, 0))", lab::quote(name_at(parent, name)));
  });
  if (is_root_)
    lab::check(::fchownat(parent, name.c_str(), static_cast<uid_t>(archive_entry_uid(entry)),
                          static_cast<gid_t>(archive_entry_gid(entry)), AT_SYMLINK_NOFOLLOW),
               [&] { return fmt::format("fchownat({})", lab::quote(name_at(parent, name))); });
}

void Unpacker::write_regular(struct archive* tar, int parent, const std::string& name,
                             struct archive_entry* entry, const std::string& entry_path,
                             UnpackResult& result) {
  // O_EXCL after the removal above: never opened through a symlink that sits at `name`.
  lab::UniqueFd file(lab::check(
      ::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600),
      [&] {
        return fmt::format("openat({}, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW, 0600)",
                           lab::quote(name_at(parent, name)));
      }));
  const auto too_big = [&] {
    return lab::UserError(fmt::format("layer exceeds {} bytes of file content (at entry {})",
                                      limits_.max_bytes, entry_path));
  };
  if (archive_entry_size_is_set(entry) != 0 &&
      result.content_bytes + static_cast<uint64_t>(archive_entry_size(entry)) > limits_.max_bytes)
    throw too_big();
  const void* block = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  int64_t end = 0;
  for (;;) {
    const int rc = archive_read_data_block(tar, &block, &size, &offset);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN)
      throw lab::UserError(fmt::format("cannot read the layer at entry {}: {}", entry_path,
                                       stream_error_.empty() ? archive_error(tar) : stream_error_));
    result.content_bytes += size;
    if (result.content_bytes > limits_.max_bytes) throw too_big();
    // Blocks come with their offset: a sparse file's holes are skipped, not written as zeros.
    const char* data = static_cast<const char*>(block);
    while (size > 0) {
      const ssize_t n = lab::check(::pwrite(file.get(), data, size, offset), [&] {
        return fmt::format("pwrite({}, {} bytes at {})", lab::quote(dir_ + "/" + entry_path), size,
                           offset);
      });
      data += n;
      size -= static_cast<size_t>(n);
      offset += n;
    }
    end = offset;
  }
  if (archive_entry_size_is_set(entry) != 0 && archive_entry_size(entry) > end)
    lab::check(::ftruncate(file.get(), archive_entry_size(entry)),
               [&] { return fmt::format("ftruncate({})", lab::quote(dir_ + "/" + entry_path)); });
}

void Unpacker::link_hardlink(int parent, const std::string& name, struct archive_entry* entry,
                             const std::string& entry_path) {
  const char* target_text = archive_entry_hardlink(entry);
  const auto target =
      clean_components(target_text, entry_path, fmt::format("(a hardlink to {})", target_text));
  // Resolved inside the root like everything else, so "/etc/passwd" means the layer's own
  // etc/passwd; O_NOFOLLOW because a hardlink may name a symlink itself.
  lab::UniqueFd source;
  try {
    source = lab::open_in_root_if_exists(root_.get(), "/" + join(target, target.size()),
                                         O_PATH | O_NOFOLLOW);
  } catch (const lab::SyscallError&) {
    // ELOOP from a symlink loop on the way, and the like: not a file of the layer either.
  }
  struct stat st {};
  if (!source || ::fstat(source.get(), &st) == -1 || S_ISDIR(st.st_mode))
    throw lab::UserError(fmt::format(
        "layer entry {} is a hardlink to {}, which is not a file earlier in the layer; refused",
        entry_path, target_text));
  // linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; through /proc/self/fd it needs nothing and
  // links exactly the inode the fd holds.
  const std::string source_name = lab::proc_fd_name(source.get());
  lab::check(::linkat(AT_FDCWD, source_name.c_str(), parent, name.c_str(), AT_SYMLINK_FOLLOW), [&] {
    return fmt::format("linkat({}, {}, AT_SYMLINK_FOLLOW)", lab::quote(lab::fd_path(source.get())),
                       lab::quote(name_at(parent, name)));
  });
}

void Unpacker::unpack(struct archive* tar, struct archive_entry* entry, UnpackResult& result) {
  const char* raw_path = archive_entry_pathname(entry);
  if (raw_path == nullptr) raw_path = archive_entry_pathname_utf8(entry);
  if (raw_path == nullptr) throw lab::UserError("layer entry without a path name; refused");
  const std::string entry_path = raw_path;
  const auto parts = clean_components(entry_path, entry_path, "");
  if (parts.empty()) return;  // "./": the layer root, which the caller made

  // A whiteout is a file name, never a directory on the way to one: ".wh.../x" is refused.
  for (size_t i = 0; i + 1 < parts.size(); ++i)
    if (parts[i].starts_with(kWhiteoutPrefix))
      throw lab::UserError(fmt::format("layer entry {} has a whiteout ({}) as a directory; refused",
                                       entry_path, parts[i]));
  if (parts.back().starts_with(kWhiteoutPrefix)) return write_whiteout(entry_path, parts, entry);

  const mode_t type = archive_entry_filetype(entry);
  const std::string& name = parts.back();
  const int parent = parent_dir(parts, parts.size() - 1);
  replace_existing(parent, name, type == AE_IFDIR);
  const mode_t perm = archive_entry_perm(entry) & 07777;
  struct timespec mtime {
    archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)
  };

  switch (type) {
    case AE_IFDIR:
      if (::mkdirat(parent, name.c_str(), 0700) == -1 && errno != EEXIST)
        lab::check(-1,
                   [&] { return fmt::format("mkdirat({})", lab::quote(name_at(parent, name))); });
      break;
    case AE_IFREG:
      if (archive_entry_hardlink(entry) != nullptr)
        return link_hardlink(parent, name, entry, entry_path);
      write_regular(tar, parent, name, entry, entry_path, result);
      break;
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(entry);
      if (target == nullptr || *target == '\0')
        throw lab::UserError(
            fmt::format("layer entry {} is a symlink without a target; refused", entry_path));
      lab::check(::symlinkat(target, parent, name.c_str()), [&] {
        return fmt::format("symlinkat({}, {})", lab::quote(target),
                           lab::quote(name_at(parent, name)));
      });
      break;
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
      if (type != AE_IFIFO && !is_root_)
        throw lab::UserError(fmt::format(
            "layer entry {} is a device node; only root may make one; refused", entry_path));
      const dev_t rdev = archive_entry_rdev(entry);
      lab::check(::mknodat(parent, name.c_str(), type | 0600, rdev), [&] {
        return fmt::format("mknodat({}, {:o}, makedev({}, {}))", lab::quote(name_at(parent, name)),
                           type, major(rdev), minor(rdev));
      });
      break;
    }
    default:
      if (archive_entry_hardlink(entry) != nullptr)
        return link_hardlink(parent, name, entry, entry_path);
      throw lab::UserError(fmt::format(
          "layer entry {} has an unsupported file type ({:o}); refused", entry_path, type));
  }

  // Owner first: chown(2) clears the setuid and setgid bits and security.capability, so the
  // mode and the xattrs come after it.
  if (is_root_)
    lab::check(::fchownat(parent, name.c_str(), static_cast<uid_t>(archive_entry_uid(entry)),
                          static_cast<gid_t>(archive_entry_gid(entry)), AT_SYMLINK_NOFOLLOW),
               [&] { return fmt::format("fchownat({})", lab::quote(name_at(parent, name))); });
  if (type == AE_IFDIR) {
    directories_.push_back({join(parts, parts.size()), perm, mtime});
  } else if (type != AE_IFLNK) {
    lab::check(::fchmodat(parent, name.c_str(), perm, 0), [&] {
      return fmt::format("fchmodat({}, {:o})", lab::quote(name_at(parent, name)), perm);
    });
  }
  apply_xattrs(entry, name_at(parent, name));
  if (type != AE_IFDIR) {
    const struct timespec times[2] = {mtime, mtime};
    lab::check(::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW),
               [&] { return fmt::format("utimensat({})", lab::quote(name_at(parent, name))); });
  }
}

void Unpacker::finish_directories() {
  // Deepest first, so setting a child's times does not touch its parent's again.
  std::sort(directories_.begin(), directories_.end(),
            [](const DeferredDir& a, const DeferredDir& b) { return a.path > b.path; });
  for (const auto& d : directories_) {
    lab::UniqueFd fd = lab::open_in_root_if_exists(root_.get(), "/" + d.path, O_PATH | O_NOFOLLOW);
    struct stat st {};
    // A later entry may have replaced the directory (or a parent with a symlink): skip it.
    if (!fd || ::fstat(fd.get(), &st) == -1 || !S_ISDIR(st.st_mode)) continue;
    const std::string name = lab::proc_fd_name(fd.get());
    lab::check(::chmod(name.c_str(), d.mode), [&] {
      return fmt::format("chmod({}, {:o})", lab::quote(dir_ + "/" + d.path), d.mode);
    });
    const struct timespec times[2] = {d.mtime, d.mtime};
    lab::check(::utimensat(AT_FDCWD, name.c_str(), times, 0),
               [&] { return fmt::format("utimensat({})", lab::quote(dir_ + "/" + d.path)); });
  }
}

// --- exporting -----------------------------------------------------------------------------------

// What libarchive's write callback works on: the fd, and the digest of every byte written.
struct FdSink {
  int fd = -1;
  Sha256 digest;
  std::exception_ptr pending;
};

la_ssize_t write_fd_callback(struct archive* a, void* opaque, const void* buffer, size_t size) {
  auto* sink = static_cast<FdSink*>(opaque);
  try {
    const char* data = static_cast<const char*>(buffer);
    for (size_t done = 0; done < size;) {
      const ssize_t n = ::write(sink->fd, data + done, size - done);
      if (n == -1 && errno == EINTR) continue;
      lab::check(n, [&] { return fmt::format("write(fd {}, {} bytes)", sink->fd, size - done); });
      done += static_cast<size_t>(n);
    }
    sink->digest.update(buffer, size);
    return static_cast<la_ssize_t>(size);
  } catch (...) {
    sink->pending = std::current_exception();
    archive_set_error(a, EIO, "write failed");
    return -1;
  }
}

std::vector<std::string> sorted_names(int dirfd, const std::string& shown) {
  DIR* stream =
      ::fdopendir(lab::check(::dup(dirfd), [&] { return fmt::format("dup({})", dirfd); }));
  if (stream == nullptr)
    lab::check(-1, [&] { return fmt::format("fdopendir({})", lab::quote(shown)); });
  std::vector<std::string> names;
  while (const dirent* d = ::readdir(stream)) {
    const std::string name = d->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(stream);
  std::sort(names.begin(), names.end());
  return names;
}

class Exporter {
 public:
  Exporter(const std::string& dir, FdSink& sink) : dir_(dir), sink_(sink) {}
  void write_tree(int dirfd, const std::string& prefix);
  void write_opaque_marker_if_opaque(const std::string& xattr_path, const std::string& dir_prefix,
                                     const struct stat& st);
  void open(int fd);
  void close();

 private:
  void write_header(struct archive_entry* entry, const std::string& path);
  void write_empty_file(const std::string& path, const struct stat& st);
  void add_xattrs(struct archive_entry* entry, const std::string& xattr_path);
  void copy_content(int dirfd, const std::string& name, const std::string& path);
  [[noreturn]] void fail(const std::string& path);

  std::string dir_;
  FdSink& sink_;
  WriteArchive out_{nullptr, archive_write_free};
  std::map<std::pair<dev_t, ino_t>, std::string> first_links_;  // hardlinks: the first path
  std::vector<char> buffer_ = std::vector<char>(kReadBlock);
};

void Exporter::fail(const std::string& path) {
  if (sink_.pending) std::rethrow_exception(sink_.pending);
  throw std::runtime_error(
      fmt::format("writing the layer tar of {} at {}: {}", dir_, path, archive_error(out_.get())));
}

void Exporter::open(int fd) {
  sink_.fd = fd;
  out_.reset(archive_write_new());
  if (!out_) throw std::bad_alloc();
  // pax "restricted": plain ustar headers, and a pax extended header only for what ustar cannot
  // say (long names, big ids, xattrs), which every tar reader since 2001 understands.
  archive_write_set_format_pax_restricted(out_.get());
  // Xattrs as SCHILY.xattr.NAME only: what GNU tar, Go's archive/tar (Docker) and containerd read.
  archive_write_set_format_option(out_.get(), "pax", "xattrheader", "SCHILY");
  archive_write_add_filter_none(out_.get());
  // No padding to tar's 10 KiB records: the archive ends right after its two zero blocks.
  archive_write_set_bytes_in_last_block(out_.get(), 1);
  if (archive_write_open2(out_.get(), &sink_, nullptr, write_fd_callback, nullptr, nullptr) !=
      ARCHIVE_OK)
    fail("start");
}

void Exporter::close() {
  if (archive_write_close(out_.get()) != ARCHIVE_OK) fail("end");
}

void Exporter::write_header(struct archive_entry* entry, const std::string& path) {
  if (archive_write_header(out_.get(), entry) < ARCHIVE_WARN) fail(path);
}

void Exporter::add_xattrs(struct archive_entry* entry, const std::string& xattr_path) {
  const ssize_t size = ::llistxattr(xattr_path.c_str(), nullptr, 0);
  if (size == -1 && (errno == ENOTSUP || errno == EOPNOTSUPP)) return;
  lab::check(size, [&] { return fmt::format("llistxattr({})", lab::quote(xattr_path)); });
  std::string names(static_cast<size_t>(size), '\0');
  const ssize_t got = lab::check(::llistxattr(xattr_path.c_str(), names.data(), names.size()), [&] {
    return fmt::format("llistxattr({})", lab::quote(xattr_path));
  });
  names.resize(static_cast<size_t>(got));
  for (size_t start = 0; start < names.size();) {
    const std::string name = names.c_str() + start;
    start += name.size() + 1;
    // overlayfs's bookkeeping (opaque, origin, impure, redirect) is spelled as whiteout files
    // in a tar, or means nothing outside this host.
    if (name.empty() || std::string_view(name).starts_with(kOverlayXattrPrefix)) continue;
    const auto call = [&] {
      return fmt::format("lgetxattr({}, {})", lab::quote(xattr_path), lab::quote(name));
    };
    const ssize_t length =
        lab::check(::lgetxattr(xattr_path.c_str(), name.c_str(), nullptr, 0), call);
    std::string value(static_cast<size_t>(length), '\0');
    const ssize_t read =
        lab::check(::lgetxattr(xattr_path.c_str(), name.c_str(), value.data(), value.size()), call);
    archive_entry_xattr_add_entry(entry, name.c_str(), value.data(), static_cast<size_t>(read));
  }
}

void Exporter::write_empty_file(const std::string& path, const struct stat& st) {
  std::unique_ptr<struct archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(),
                                                                             archive_entry_free);
  archive_entry_set_pathname(entry.get(), path.c_str());
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), st.st_mode & 0777);
  archive_entry_set_uid(entry.get(), st.st_uid);
  archive_entry_set_gid(entry.get(), st.st_gid);
  archive_entry_set_mtime(entry.get(), st.st_mtim.tv_sec, 0);
  archive_entry_set_size(entry.get(), 0);
  write_header(entry.get(), path);
}

void Exporter::write_opaque_marker_if_opaque(const std::string& xattr_path,
                                             const std::string& dir_prefix, const struct stat& st) {
  char value[8] = {};
  const ssize_t n = ::lgetxattr(xattr_path.c_str(), overlay::kOpaqueXattr, value, sizeof value);
  if (n > 0 && overlay::is_opaque(std::string_view(value, static_cast<size_t>(n))))
    write_empty_file(dir_prefix + std::string(kOpaqueWhiteout), st);
}

void Exporter::copy_content(int dirfd, const std::string& name, const std::string& path) {
  lab::UniqueFd file(
      lab::check(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC), [&] {
        return fmt::format("openat({}, O_RDONLY|O_NOFOLLOW)", lab::quote(dir_ + "/" + path));
      }));
  for (;;) {
    ssize_t n = ::read(file.get(), buffer_.data(), buffer_.size());
    if (n == -1 && errno == EINTR) continue;
    lab::check(n, [&] { return fmt::format("read({})", lab::quote(dir_ + "/" + path)); });
    if (n == 0) break;
    // A file that grew since its lstat is cut at the size in the header; one that shrank is
    // padded with zeros by libarchive when the entry ends.
    if (archive_write_data(out_.get(), buffer_.data(), static_cast<size_t>(n)) < 0) fail(path);
  }
}

void Exporter::write_tree(int dirfd, const std::string& prefix) {
  for (const auto& name : sorted_names(dirfd, dir_ + "/" + prefix)) {
    const std::string path = prefix + name;
    const std::string xattr_path = name_at(dirfd, name);
    struct stat st {};
    lab::check(::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW),
               [&] { return fmt::format("fstatat({})", lab::quote(dir_ + "/" + path)); });
    if (S_ISSOCK(st.st_mode)) continue;  // tar has no sockets; a socket is bound anew anyway
    if (overlay::is_whiteout(st)) {
      write_empty_file(prefix + std::string(kWhiteoutPrefix) + name, st);
      continue;
    }
    std::unique_ptr<struct archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(),
                                                                               archive_entry_free);
    struct archive_entry* e = entry.get();
    archive_entry_set_pathname(e, S_ISDIR(st.st_mode) ? (path + "/").c_str() : path.c_str());
    archive_entry_set_filetype(e, st.st_mode & S_IFMT);
    archive_entry_set_perm(e, st.st_mode & 07777);
    archive_entry_set_uid(e, st.st_uid);
    archive_entry_set_gid(e, st.st_gid);
    archive_entry_set_mtime(e, st.st_mtim.tv_sec, 0);
    add_xattrs(e, xattr_path);
    if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
      const auto [link, first] = first_links_.try_emplace({st.st_dev, st.st_ino}, path);
      if (!first) {
        archive_entry_set_hardlink(e, link->second.c_str());
        archive_entry_set_size(e, 0);
        write_header(e, path);
        continue;
      }
    }
    if (S_ISREG(st.st_mode)) {
      archive_entry_set_size(e, st.st_size);
      write_header(e, path);
      copy_content(dirfd, name, path);
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      const ssize_t n =
          lab::check(::readlinkat(dirfd, name.c_str(), target.data(), target.size()),
                     [&] { return fmt::format("readlinkat({})", lab::quote(dir_ + "/" + path)); });
      target.resize(static_cast<size_t>(n));
      archive_entry_set_symlink(e, target.c_str());
      write_header(e, path);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      archive_entry_set_rdev(e, st.st_rdev);
      write_header(e, path);
    } else {
      write_header(e, path);  // a directory or a FIFO: the header is all of it
    }
    if (S_ISDIR(st.st_mode)) {
      write_opaque_marker_if_opaque(xattr_path, path + "/", st);
      lab::UniqueFd child(lab::check(
          ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), [&] {
            return fmt::format("openat({}, O_DIRECTORY|O_NOFOLLOW)", lab::quote(dir_ + "/" + path));
          }));
      write_tree(child.get(), path + "/");
    }
  }
}

}  // namespace

UnpackResult unpack_layer(int fd, const std::string& dir, const UnpackLimits& limits,
                          const Progress& progress, std::string_view known_blob_digest) {
  // Each sha256 pass over a layer costs about what writing its files does, so no byte is hashed
  // twice: a blob whose digest the caller has (it hashed these bytes as it wrote them) is not
  // hashed again, and a plain tar's diff id is its blob digest.
  FdSource raw;
  raw.fd = fd;
  raw.progress = &progress;
  raw.hashing = known_blob_digest.empty();
  ReadArchive decompressor = open_decompressor(raw);

  TarSource tar_bytes;
  tar_bytes.decompressor = decompressor.get();
  const bool plain = archive_filter_count(decompressor.get()) == 1 &&
                     archive_filter_code(decompressor.get(), 0) == ARCHIVE_FILTER_NONE;
  tar_bytes.hashing = !plain;
  // A bound on the uncompressed stream as well, so that gigabytes of zeros after the end of the
  // archive (a gzip bomb in the padding) are not read forever: content plus generous headers.
  tar_bytes.max_bytes = limits.max_bytes + limits.max_entries * 16384 + (1 << 20);
  if (tar_bytes.max_bytes < limits.max_bytes) tar_bytes.max_bytes = UINT64_MAX;

  ReadArchive tar(archive_read_new(), archive_read_free);
  if (!tar) throw std::bad_alloc();
  archive_read_support_format_tar(tar.get());  // ustar, pax and GNU tar
  const auto fail = [&](std::string_view where) {
    if (raw.pending) std::rethrow_exception(raw.pending);
    if (raw.bytes == 0) throw lab::UserError("cannot read the layer: it is empty");
    const std::string why = tar_bytes.error.empty() ? archive_error(tar.get()) : tar_bytes.error;
    throw lab::UserError(fmt::format("cannot read the layer{}: {}", where, why));
  };
  if (archive_read_open2(tar.get(), &tar_bytes, nullptr, read_tar_callback, nullptr, nullptr) !=
      ARCHIVE_OK)
    fail("");

  UnpackResult result;
  Unpacker unpacker(dir, limits, tar_bytes.error);
  struct archive_entry* entry = nullptr;
  for (;;) {
    const int rc = archive_read_next_header(tar.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) fail(result.entries == 0 ? "" : " after its first entries");
    if (++result.entries > limits.max_entries)
      throw lab::UserError(fmt::format("layer exceeds {} entries", limits.max_entries));
    try {
      unpacker.unpack(tar.get(), entry, result);
    } catch (const lab::UserError&) {
      if (raw.pending) std::rethrow_exception(raw.pending);  // what made the read fail
      throw;
    }
  }
  unpacker.finish_directories();

  // Both digests cover the whole input: the tar's padding after its end blocks, then any bytes
  // after the end of the compressed stream.
  for (;;) {
    const la_ssize_t n = tar_bytes.read_block();
    if (n == 0) break;
    if (n < 0) fail(" after its last entry");
  }
  for (;;) {
    const ssize_t n = raw.read_block();
    if (n == 0) break;
    lab::check(n, [&] { return fmt::format("read(fd {})", fd); });
  }
  result.blob_size = raw.bytes;
  result.blob_digest = raw.hashing ? raw.digest.digest() : std::string(known_blob_digest);
  result.diff_id = plain ? result.blob_digest : tar_bytes.digest.digest();
  return result;
}

std::string export_layer(const std::string& dir, int fd) {
  lab::UniqueFd root = lab::open_fd(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  FdSink sink;
  Exporter exporter(dir, sink);
  exporter.open(fd);
  struct stat st {};
  lab::check(::fstat(root.get(), &st), [&] { return fmt::format("fstat({})", lab::quote(dir)); });
  // The root directory has no entry of its own (an image's layers share one "/"), but a lower
  // layer unpacked from `.wh..wh..opq` at its top keeps that marker.
  // ("/proc/self/fd/N/." so that lgetxattr, which follows no last symlink, reads the directory
  // and not the magic link.)
  exporter.write_opaque_marker_if_opaque(lab::proc_fd_name(root.get()) + "/.", "", st);
  exporter.write_tree(root.get(), "");
  exporter.close();
  return sink.digest.digest();
}

std::string decompress_to(int fd, int out_fd) {
  FdSource raw;
  raw.fd = fd;
  const Progress none;
  raw.progress = &none;
  ReadArchive decompressor = open_decompressor(raw);
  Sha256 digest;
  std::vector<char> buffer(kReadBlock);
  for (;;) {
    const la_ssize_t n = archive_read_data(decompressor.get(), buffer.data(), buffer.size());
    if (n == 0) break;
    if (n < 0)
      throw lab::UserError(
          fmt::format("cannot decompress the layer: {}", archive_error(decompressor.get())));
    digest.update(buffer.data(), static_cast<size_t>(n));
    for (la_ssize_t done = 0; done < n;) {
      const ssize_t w =
          lab::check(::write(out_fd, buffer.data() + done, static_cast<size_t>(n - done)),
                     [&] { return fmt::format("write(fd {}, {} bytes)", out_fd, n - done); });
      done += w;
    }
  }
  return digest.digest();
}

}  // namespace graph
