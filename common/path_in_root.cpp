#include "path_in_root.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "error.hpp"

namespace lab {

namespace {

std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (!part.empty() && part != ".") out.push_back(std::move(part));
    start = end + 1;
  }
  return out;
}

std::string open_flags_to_string(int flags) {
  std::string out = (flags & O_ACCMODE) == O_WRONLY ? "O_WRONLY"
                    : (flags & O_ACCMODE) == O_RDWR ? "O_RDWR"
                                                    : "O_RDONLY";
  const auto rest =
      flags_to_string(static_cast<unsigned long>(flags & ~O_ACCMODE), {{O_PATH, "O_PATH"},
                                                                       {O_DIRECTORY, "O_DIRECTORY"},
                                                                       {O_NOFOLLOW, "O_NOFOLLOW"},
                                                                       {O_CLOEXEC, "O_CLOEXEC"},
                                                                       {O_CREAT, "O_CREAT"},
                                                                       {O_EXCL, "O_EXCL"},
                                                                       {O_TRUNC, "O_TRUNC"}});
  if ((flags & O_PATH) != 0) out.clear();  // O_PATH ignores the access mode
  if (!rest.empty() && rest != "0") out += out.empty() ? rest : "|" + rest;
  return out;
}

int raw_open_in_root(int root_fd, const std::string& path, int flags, mode_t mode) {
  struct open_how how {};
  how.flags = static_cast<unsigned long long>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  // RESOLVE_NO_MAGICLINKS: a rootfs could hold a link to /proc/self/root (or a path that
  // crosses into a procfs mounted inside it), and magic links jump anywhere.
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  // EAGAIN: a rename or a mount anywhere on the host raced with the lookup (RESOLVE_IN_ROOT
  // checks the kernel's rename and mount sequence counters, openat2(2)): simply try again. 20
  // containers starting at once mount 20 overlays, and hit it.
  for (int attempt = 0;; ++attempt) {
    int fd = static_cast<int>(::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how));
    if (fd != -1 || errno != EAGAIN || attempt == 1000) return fd;
  }
}

}  // namespace

UniqueFd open_in_root(int root_fd, const std::string& path, int flags, mode_t mode) {
  const int fd = raw_open_in_root(root_fd, path, flags, mode);
  check(fd, [&] {
    return fmt::format("openat2({}, {}, {{{}, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS}})",
                       fd_path(root_fd), quote(path), open_flags_to_string(flags));
  });
  return UniqueFd(fd);
}

UniqueFd open_in_root_if_exists(int root_fd, const std::string& path, int flags) {
  const int fd = raw_open_in_root(root_fd, path, flags, 0);
  if (fd == -1 && (errno == ENOENT || errno == ENOTDIR)) return UniqueFd();
  if (fd == -1) return open_in_root(root_fd, path, flags);  // the same call, to throw its error
  return UniqueFd(fd);
}

UniqueFd open_root(const std::string& root) {
  return open_fd(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

std::string proc_fd_name(int fd) { return fmt::format("/proc/self/fd/{}", fd); }

std::string fd_path(int fd) {
  const std::string link = proc_fd_name(fd);
  std::string buf(4096, '\0');
  const ssize_t n = ::readlink(link.c_str(), buf.data(), buf.size());
  check(n, [&] { return fmt::format("readlink({})", quote(link)); });
  buf.resize(static_cast<size_t>(n));
  return buf;
}

std::string resolve_in_root(const std::string& root, const std::string& path) {
  UniqueFd root_fd = open_root(root);
  UniqueFd target = open_in_root(root_fd.get(), path, O_PATH);
  return fd_path(target.get());
}

UniqueFd mkdir_all_in_root(int root_fd, const std::string& path, mode_t mode) {
  // Each prefix is opened from the root again, never from the previous directory's fd: a
  // symlink or ".." further on must restart at the container's "/", and only root_fd is that.
  UniqueFd current = open_in_root(root_fd, "/", O_PATH | O_DIRECTORY);
  std::string prefix;
  for (const auto& name : components(path)) {
    prefix += "/" + name;
    UniqueFd next = open_in_root_if_exists(root_fd, prefix, O_PATH | O_DIRECTORY);
    if (!next) {
      // mkdirat never follows a symlink in its last component: if `name` is a dangling link,
      // this fails with EEXIST instead of making the directory wherever the link points.
      if (::mkdirat(current.get(), name.c_str(), mode) == -1 && errno != EEXIST)
        check(-1, [&] {
          return fmt::format("mkdirat({}, {}, {:o})", fd_path(current.get()), quote(name), mode);
        });
      next = open_in_root(root_fd, prefix, O_PATH | O_DIRECTORY);
    }
    current = std::move(next);
  }
  return current;
}

UniqueFd create_file_in_root(int root_fd, const std::string& path, mode_t mode) {
  if (UniqueFd existing = open_in_root_if_exists(root_fd, path, O_PATH)) return existing;
  std::vector<std::string> parts = components(path);
  if (parts.empty()) return open_in_root(root_fd, "/", O_PATH);
  const std::string name = parts.back();
  parts.pop_back();
  std::string parent;
  for (const auto& p : parts) parent += "/" + p;
  UniqueFd dir = mkdir_all_in_root(root_fd, parent.empty() ? "/" : parent);
  // mknodat(S_IFREG) makes an empty file and, like O_CREAT|O_EXCL, never follows a symlink at
  // `name`: a dangling link there leaves EEXIST, and the open below then fails on it.
  const int rc = ::mknodat(dir.get(), name.c_str(), S_IFREG | mode, 0);
  if (rc == -1 && errno != EEXIST)
    check(-1, [&] {
      return fmt::format("mknodat({}, {}, S_IFREG|{:o}, 0)", fd_path(dir.get()), quote(name), mode);
    });
  return open_in_root(root_fd, path, O_PATH);
}

std::string join_in_root(const std::string& root, const std::string& path) {
  std::string out = root;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  for (const auto& p : components(path)) out += (out == "/" ? "" : "/") + p;
  return out;
}

}  // namespace lab
