// An owned file descriptor: closed when the owner goes away, handed on with release().
#pragma once

#include <unistd.h>

#include <string>
#include <utility>

namespace lab {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// open(2), checked: the error names the path and flags.
UniqueFd open_fd(const std::string& path, int flags, mode_t mode = 0);

// The whole content of a small file such as /proc/self/status or a cgroup file.
std::string read_file(const std::string& path);
// The same, or "" when the file cannot be read (a /proc or /sys file this kernel may lack).
std::string read_file_or_empty(const std::string& path);
// `text` without its trailing newlines, carriage returns and spaces (a value read from a file).
std::string trim(std::string text);
// Writes `content` to an existing file in one write(2), as `echo content > path` does; the
// error names the file and the value, which is what a student needs for cgroup files.
void write_file(const std::string& path, const std::string& content);
// The same for a file that may not exist yet: created with `mode`, or emptied first.
void create_file(const std::string& path, const std::string& content, mode_t mode = 0644);

}  // namespace lab
