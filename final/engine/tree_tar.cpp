#include "engine/tree_tar.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include "error.hpp"
#include "fd.hpp"
#include "graph/layer_archive.hpp"
#include "path_in_root.hpp"

namespace engine {

namespace {

using WriteArchive = std::unique_ptr<struct archive, decltype(&archive_write_free)>;
using Entry = std::unique_ptr<struct archive_entry, decltype(&archive_entry_free)>;

std::vector<std::string> sorted_names(int dirfd) {
  DIR* stream = ::fdopendir(lab::check(::dup(dirfd), "dup"));
  if (stream == nullptr) lab::check(-1, "fdopendir");
  std::vector<std::string> names;
  while (const dirent* d = ::readdir(stream)) {
    std::string name = d->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(stream);
  std::sort(names.begin(), names.end());
  return names;
}

class TarWriter {
 public:
  TarWriter(int out_fd, bool keep_owner)
      : out_(archive_write_new(), archive_write_free), keep_owner_(keep_owner) {
    if (!out_) throw std::bad_alloc();
    archive_write_set_format_pax_restricted(out_.get());
    archive_write_add_filter_none(out_.get());
    archive_write_set_bytes_in_last_block(out_.get(), 1);
    if (archive_write_open_fd(out_.get(), out_fd) != ARCHIVE_OK) fail("start");
  }
  void close() {
    if (archive_write_close(out_.get()) != ARCHIVE_OK) fail("end");
  }

  // The file `name` in directory `dirfd` (AT_EMPTY_PATH when name is ""), as entry `path`.
  void write(int dirfd, const std::string& name, const std::string& path) {
    struct stat st {};
    int flags = AT_SYMLINK_NOFOLLOW | (name.empty() ? AT_EMPTY_PATH : 0);
    lab::check(::fstatat(dirfd, name.c_str(), &st, flags),
               [&] { return fmt::format("fstatat({})", lab::quote(path)); });
    if (S_ISSOCK(st.st_mode)) return;
    if (!path.empty()) {
      Entry entry(archive_entry_new(), archive_entry_free);
      struct archive_entry* e = entry.get();
      archive_entry_set_pathname(e, S_ISDIR(st.st_mode) ? (path + "/").c_str() : path.c_str());
      archive_entry_set_filetype(e, st.st_mode & S_IFMT);
      archive_entry_set_perm(e, st.st_mode & 07777);
      archive_entry_set_uid(e, keep_owner_ ? st.st_uid : 0);
      archive_entry_set_gid(e, keep_owner_ ? st.st_gid : 0);
      archive_entry_set_mtime(e, st.st_mtim.tv_sec, 0);
      if (S_ISREG(st.st_mode)) archive_entry_set_size(e, st.st_size);
      if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) archive_entry_set_rdev(e, st.st_rdev);
      if (S_ISLNK(st.st_mode)) {
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = lab::check(::readlinkat(dirfd, name.c_str(), target.data(), target.size()),
                               [&] { return fmt::format("readlinkat({})", lab::quote(path)); });
        target.resize(static_cast<size_t>(n));
        archive_entry_set_symlink(e, target.c_str());
      }
      if (archive_write_header(out_.get(), e) < ARCHIVE_WARN) fail(path);
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return;
    // Opened relative to its parent without following a symlink: the walk stays in the tree.
    // (name "": `dirfd` is the file itself, opened by the caller.)
    lab::UniqueFd fd(lab::check(
        name.empty()
            ? ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0)
            : ::openat(dirfd, name.c_str(),
                       O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0)),
        [&] { return fmt::format("openat({}, O_RDONLY|O_NOFOLLOW)", lab::quote(path)); }));
    if (S_ISREG(st.st_mode)) {
      for (;;) {
        ssize_t n = ::read(fd.get(), buffer_.data(), buffer_.size());
        if (n == -1 && errno == EINTR) continue;
        lab::check(n, [&] { return fmt::format("read({})", lab::quote(path)); });
        if (n == 0) break;
        if (archive_write_data(out_.get(), buffer_.data(), static_cast<size_t>(n)) < 0) fail(path);
      }
      return;
    }
    for (const std::string& child : sorted_names(fd.get()))
      write(fd.get(), child, path.empty() ? child : path + "/" + child);
  }

 private:
  [[noreturn]] void fail(const std::string& where) {
    const char* text = archive_error_string(out_.get());
    throw std::runtime_error(
        fmt::format("writing a tar at {}: {}", where, text ? text : "unknown libarchive error"));
  }
  WriteArchive out_;
  bool keep_owner_;
  std::vector<char> buffer_ = std::vector<char>(1 << 16);
};

}  // namespace

void write_tree_tar(int fd, const std::string& name, int out_fd, bool keep_owner) {
  // An O_PATH descriptor can be stat'ed and read as a link, but not listed or read: reopen the
  // very file it holds through /proc/self/fd (no path lookup, so nothing to redirect).
  struct stat st {};
  lab::check(::fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW), "fstat");
  TarWriter tar(out_fd, keep_owner);
  if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
    lab::UniqueFd real = lab::open_fd(
        lab::proc_fd_name(fd), (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
    tar.write(real.get(), "", name);
  } else {
    tar.write(fd, "", name);  // a symlink (as itself), a device, a FIFO: the header only
  }
  tar.close();
}

void copy_tree_via_tar(int fd, const std::string& name, const std::string& dest_dir,
                       bool keep_owner) {
  int pipefd[2];
  lab::check(::pipe2(pipefd, O_CLOEXEC), "pipe2");
  lab::UniqueFd read_end(pipefd[0]), write_end(pipefd[1]);
  std::exception_ptr writer_error;
  std::thread writer([&, out = std::move(write_end)] {
    // A failed reader closes the pipe: the writer must get EPIPE, not die of SIGPIPE. Blocked in
    // this thread only (the kernel sends SIGPIPE to the thread that wrote, and a thread's pending
    // signal goes with it): signal(SIGPIPE, SIG_IGN) would be the whole process's, for good, and
    // in the daemon every program it starts afterwards (the runtime, a container's monitor) would
    // inherit the ignored SIGPIPE through execve.
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
    try {
      write_tree_tar(fd, name, out.get(), keep_owner);
    } catch (...) {
      writer_error = std::current_exception();
    }
  });
  std::exception_ptr reader_error;
  try {
    graph::unpack_layer(read_end.get(), dest_dir);
  } catch (...) {
    reader_error = std::current_exception();
  }
  read_end.reset();  // a writer still writing gets EPIPE rather than waiting for ever
  writer.join();
  if (writer_error) std::rethrow_exception(writer_error);
  if (reader_error) std::rethrow_exception(reader_error);
}

}  // namespace engine
