#include "cgroup_dir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "error.hpp"
#include "fd.hpp"

namespace lab {

namespace {

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

// Moves every process in `dir` into `to` (echo PID > TO/cgroup.procs). Processes that exit
// meanwhile make the write fail with ESRCH, which is fine: they are out.
void evacuate(const std::string& dir, const std::string& to) {
  for (pid_t pid : parse_pid_list(read_file(dir + "/cgroup.procs"))) {
    try {
      write_file(to + "/cgroup.procs", std::to_string(pid));
    } catch (const SyscallError& e) {
      if (e.code().value() != ESRCH) throw;
    }
  }
}

bool has_child_cgroup(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (const dirent* entry = ::readdir(d)) {
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode)) {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

}  // namespace

CgroupDir CgroupDir::create(const std::string& path, const std::string& evacuate_to) {
  check(::mkdir(path.c_str(), 0755), [&] { return fmt::format("mkdir({}, 0755)", quote(path)); });
  return CgroupDir(path, evacuate_to.empty() ? parent_of(path) : evacuate_to);
}

CgroupDir& CgroupDir::operator=(CgroupDir&& other) noexcept {
  if (this != &other) {
    remove_quietly();
    path_ = std::exchange(other.path_, {});
    evacuate_to_ = std::move(other.evacuate_to_);
  }
  return *this;
}

std::string CgroupDir::file(std::string_view name) const {
  return fmt::format("{}/{}", path_, name);
}

void CgroupDir::remove() {
  if (path_.empty()) return;
  // A process that was just killed and reaped can still be counted for a moment, so EBUSY is
  // retried briefly; anything still listed in cgroup.procs is moved out first.
  for (int attempt = 0;; ++attempt) {
    if (::rmdir(path_.c_str()) == 0 || errno == ENOENT) break;
    if (errno != EBUSY || attempt >= 50)
      check(-1, [&] { return fmt::format("rmdir({})", quote(path_)); });
    evacuate(path_, evacuate_to_);
    ::usleep(20 * 1000);
  }
  path_.clear();
}

void CgroupDir::remove_quietly() noexcept {
  try {
    remove();
  } catch (...) {
    path_.clear();
  }
}

SubtreeControl SubtreeControl::enable(const std::string& dir, const std::string& controller) {
  SubtreeControl grant;
  const std::string file = dir + "/cgroup.subtree_control";
  grant.controller_ = controller;
  grant.was_enabled_ = controller_listed(read_file(file), controller);
  if (!grant.was_enabled_) {
    write_file(file, "+" + controller);
    grant.file_ = file;
  }
  return grant;
}

SubtreeControl& SubtreeControl::operator=(SubtreeControl&& other) noexcept {
  if (this != &other) {
    restore();
    file_ = std::exchange(other.file_, {});
    controller_ = std::move(other.controller_);
    was_enabled_ = other.was_enabled_;
  }
  return *this;
}

void SubtreeControl::restore() noexcept {
  if (file_.empty()) return;
  try {
    // The kernel lets "-cpu" through while child cgroups still use cpu as leaves (it refuses
    // only when a child passes it further down): their cpu.max would vanish under them. So
    // the grant is taken back only when no child cgroup is left (ours is removed by now).
    if (!has_child_cgroup(parent_of(file_))) write_file(file_, "-" + controller_);
  } catch (...) {
    // Another cgroup below may use the controller by now; then it must stay enabled.
  }
  file_.clear();
}

bool controller_listed(std::string_view text, std::string_view controller) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find_first_of(" \n", start);
    if (end == std::string_view::npos) end = text.size();
    if (text.substr(start, end - start) == controller) return true;
    start = end + 1;
  }
  return false;
}

std::vector<pid_t> parse_pid_list(std::string_view text) {
  std::vector<pid_t> pids;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    pid_t pid = 0;
    auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), pid);
    if (ec == std::errc() && ptr == line.data() + line.size() && pid > 0) pids.push_back(pid);
    start = end + 1;
  }
  return pids;
}

}  // namespace lab
