#include "fd.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>

#include "error.hpp"

namespace lab {

namespace {

std::string open_flags_to_string(int flags) {
  std::string access = (flags & O_ACCMODE) == O_WRONLY ? "O_WRONLY"
                       : (flags & O_ACCMODE) == O_RDWR ? "O_RDWR"
                                                       : "O_RDONLY";
  std::string rest =
      flags_to_string(static_cast<unsigned long>(flags & ~O_ACCMODE), {{O_CLOEXEC, "O_CLOEXEC"},
                                                                       {O_CREAT, "O_CREAT"},
                                                                       {O_TRUNC, "O_TRUNC"},
                                                                       {O_DIRECTORY, "O_DIRECTORY"},
                                                                       {O_PATH, "O_PATH"},
                                                                       {O_NOFOLLOW, "O_NOFOLLOW"}});
  return rest == "0" ? access : access + "|" + rest;
}

}  // namespace

UniqueFd open_fd(const std::string& path, int flags, mode_t mode) {
  int fd = check(::open(path.c_str(), flags, mode), [&] {
    return fmt::format("open({}, {})", quote(path), open_flags_to_string(flags));
  });
  return UniqueFd(fd);
}

std::string read_file(const std::string& path) {
  UniqueFd fd = open_fd(path, O_RDONLY | O_CLOEXEC);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = check(::read(fd.get(), buf, sizeof buf),
                      [&] { return fmt::format("read({})", quote(path)); });
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Without a throw: a missing file is an everyday answer here (a process that has gone), and
// in a static binary the first exception costs milliseconds (the unwinder sorts every frame
// description of the program before it can search them).
std::string read_file_or_empty(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return "";
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return "";
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  return text;
}

namespace {
void write_all_at_once(const UniqueFd& fd, const std::string& path, const std::string& content) {
  check(::write(fd.get(), content.data(), content.size()),
        [&] { return fmt::format("write({}, {})", quote(path), quote(content)); });
}
}  // namespace

void write_file(const std::string& path, const std::string& content) {
  write_all_at_once(open_fd(path, O_WRONLY | O_CLOEXEC), path, content);
}

void create_file(const std::string& path, const std::string& content, mode_t mode) {
  write_all_at_once(open_fd(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode), path, content);
}

}  // namespace lab
