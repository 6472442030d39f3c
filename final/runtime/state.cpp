#include "state.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <filesystem>

#include "error.hpp"

namespace runtime::state {

using nlohmann::json;

std::string validate_id(const std::string& id) {
  if (id.empty()) return "the container ID is empty";
  if (id == "." || id == "..") return fmt::format("\"{}\" is not a valid container ID", id);
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '.';
    if (!ok)
      return fmt::format(
          "container ID \"{}\" may hold only letters, digits and _ + - . (runc's rule)", id);
  }
  if (id.size() > 1024) return "the container ID is longer than 1024 bytes";
  return "";
}

std::string_view to_string(Status s) {
  switch (s) {
    case Status::creating:
      return "creating";
    case Status::created:
      return "created";
    case Status::running:
      return "running";
    case Status::paused:
      return "paused";
    case Status::stopped:
      return "stopped";
  }
  return "unknown";
}

namespace {

// The fields after "PID (comm) ": the comm is whatever the program called itself and may hold
// spaces and parentheses, so the last ")" is where it ends.
std::string_view after_comm(std::string_view stat) {
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos || close + 2 > stat.size()) return {};
  return stat.substr(close + 2);
}

}  // namespace

unsigned long long parse_start_time(std::string_view stat) {
  std::string_view rest = after_comm(stat);
  // rest starts at field 3 (state); starttime is field 22.
  for (int field = 3; field < 22; ++field) {
    size_t space = rest.find(' ');
    if (space == std::string_view::npos) return 0;
    rest.remove_prefix(space + 1);
  }
  unsigned long long value = 0;
  for (char c : rest) {
    if (c < '0' || c > '9') break;
    value = value * 10 + static_cast<unsigned long long>(c - '0');
  }
  return value;
}

bool is_zombie(std::string_view stat) {
  std::string_view rest = after_comm(stat);
  return !rest.empty() && (rest[0] == 'Z' || rest[0] == 'X');
}

unsigned long long process_start_time(pid_t pid) {
  if (pid <= 0) return 0;
  std::string stat = lab::read_file_or_empty(fmt::format("/proc/{}/stat", pid));
  if (stat.empty() || is_zombie(stat)) return 0;
  return parse_start_time(stat);
}

ContainerDir ContainerDir::create(const std::string& root, const std::string& id) {
  if (std::string why = validate_id(id); !why.empty()) throw lab::UserError(why);
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec)
    throw lab::UserError(
        fmt::format("cannot make the state directory --root {}: {}", root, ec.message()));
  ::chmod(root.c_str(), 0700);
  std::string path = root + "/" + id;
  if (::mkdir(path.c_str(), 0700) == -1) {
    if (errno == EEXIST)
      throw lab::UserError(fmt::format(
          "container \"{}\" already exists; pick another ID or remove it with delete", id));
    lab::check(-1, [&] { return fmt::format("mkdir(\"{}\", 0700)", path); });
  }
  lab::UniqueFd lock(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!lock || ::flock(lock.get(), LOCK_EX) == -1) {
    int err = errno;
    ::rmdir(path.c_str());
    throw lab::SyscallError(err, fmt::format("flock(\"{}\", LOCK_EX)", path));
  }
  return ContainerDir(path, std::move(lock), true);
}

ContainerDir ContainerDir::open(const std::string& root, const std::string& id) {
  if (std::string why = validate_id(id); !why.empty()) throw lab::UserError(why);
  std::string path = root + "/" + id;
  lab::UniqueFd lock(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!lock) {
    if (errno == ENOENT) throw lab::UserError(fmt::format("container \"{}\" does not exist", id));
    lab::check(-1, [&] { return fmt::format("open(\"{}\", O_RDONLY|O_DIRECTORY)", path); });
  }
  lab::check(::flock(lock.get(), LOCK_EX), [&] { return fmt::format("flock(\"{}\")", path); });
  // Deleted while we waited for the lock.
  if (::access((path + "/state.json").c_str(), F_OK) == -1)
    throw lab::UserError(fmt::format("container \"{}\" does not exist", id));
  return ContainerDir(path, std::move(lock), false);
}

ContainerDir::~ContainerDir() {
  if (created_ && !path_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
}

State ContainerDir::read() const {
  json j = json::parse(lab::read_file(file("state.json")), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw lab::UserError(
        fmt::format("{} is damaged; remove the directory by hand", file("state.json")));
  State s;
  s.id = j.value("id", "");
  s.bundle = j.value("bundle", "");
  s.pid = j.value("pid", 0);
  s.start_time = j.value("init_start_time", 0ULL);
  s.created = j.value("created", "");
  s.annotations = j.value("annotations", std::map<std::string, std::string>{});
  s.cgroups_path = j.value("cgroups_path", "");
  s.cgroup_grants = j.value("cgroup_grants", std::vector<std::pair<std::string, std::string>>{});
  s.config = j.value("config", json::object());
  s.started = j.value("started", false);
  s.paused = j.value("paused", false);
  return s;
}

void ContainerDir::write(const State& s) {
  json j = {{"id", s.id},
            {"bundle", s.bundle},
            {"pid", s.pid},
            {"init_start_time", s.start_time},
            {"created", s.created},
            {"annotations", s.annotations},
            {"cgroups_path", s.cgroups_path},
            {"cgroup_grants", s.cgroup_grants},
            {"config", s.config},
            {"started", s.started},
            {"paused", s.paused}};
  std::string tmp = file("state.json.tmp");
  std::string text = j.dump(2) + "\n";
  lab::UniqueFd fd = lab::open_fd(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n == -1 && errno == EINTR) continue;
    lab::check(n, [&] { return fmt::format("write(\"{}\")", tmp); });
    done += static_cast<size_t>(n);
  }
  lab::check(::fsync(fd.get()), [&] { return fmt::format("fsync(\"{}\")", tmp); });
  fd.reset();
  lab::check(::rename(tmp.c_str(), file("state.json").c_str()),
             [&] { return fmt::format("rename(\"{}\", \"state.json\")", tmp); });
}

Status ContainerDir::status(const State& s) const {
  if (s.pid <= 0) return Status::stopped;
  unsigned long long now = process_start_time(s.pid);
  if (now == 0 || now != s.start_time) return Status::stopped;
  if (!s.started) return Status::created;
  return s.paused ? Status::paused : Status::running;
}

void ContainerDir::remove() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec)
    throw lab::UserError(fmt::format("removing the state directory {}: {}", path_, ec.message()));
  lock_.reset();
  created_ = false;
}

json to_oci_json(const State& s, Status status) {
  json j = {{"ociVersion", "1.0.2"},
            {"id", s.id},
            {"status", to_string(status)},
            {"pid", status == Status::stopped ? 0 : s.pid},
            {"bundle", s.bundle},
            {"created", s.created},
            {"owner", ""}};
  j["annotations"] = s.annotations.empty() ? json::object() : json(s.annotations);
  return j;
}

std::vector<std::string> list_ids(const std::string& root) {
  std::vector<std::string> ids;
  DIR* dir = ::opendir(root.c_str());
  if (!dir) return ids;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (::access((root + "/" + name + "/state.json").c_str(), F_OK) == 0) ids.push_back(name);
  }
  ::closedir(dir);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::string now_rfc3339() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm {};
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", buf, ts.tv_nsec);
}

}  // namespace runtime::state
