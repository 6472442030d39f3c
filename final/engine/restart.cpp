#include "engine/restart.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <filesystem>

#include "error.hpp"
#include "fd.hpp"
#include "graph/store.hpp"
#include "runtime/state.hpp"

namespace engine {

namespace fs = std::filesystem;
using json = nlohmann::json;

RestartPolicy parse_restart_policy(const std::string& typed) {
  RestartPolicy p;
  if (typed.empty()) return p;
  size_t colon = typed.find(':');
  p.name = typed.substr(0, colon);
  if (colon != std::string::npos) {
    std::string count = typed.substr(colon + 1);
    int n = 0;  // as Go's strconv.Atoi: a sign, then digits, nothing else
    auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
    if (count.empty() || count[0] == '+' || ec != std::errc() || end != count.data() + count.size())
      throw lab::UserError("invalid restart policy format: maximum retry count must be an integer");
    p.maximum_retry_count = n;
  }
  // The daemon's checks (moby's validateRestartPolicy), in its words.
  if (p.name == "no" || p.name == "always" || p.name == "unless-stopped") {
    if (p.maximum_retry_count != 0)
      throw lab::UserError(fmt::format(
          "maximum retry count cannot be used with restart policy '{}'", p.name));
  } else if (p.name == "on-failure") {
    if (p.maximum_retry_count < 0) throw lab::UserError("maximum retry count cannot be negative");
  } else {
    throw lab::UserError(fmt::format("invalid restart policy '{}'", p.name));
  }
  return p;
}

json restart_policy_json(const RestartPolicy& policy) {
  return {{"Name", policy.name}, {"MaximumRetryCount", policy.maximum_retry_count}};
}

RestartPolicy restart_policy_of(const json& host_config) {
  RestartPolicy p;
  if (!host_config.is_object()) return p;
  auto it = host_config.find("RestartPolicy");
  if (it == host_config.end() || !it->is_object()) return p;
  p.name = it->value("Name", "no");
  if (p.name.empty()) p.name = "no";
  p.maximum_retry_count = it->value("MaximumRetryCount", 0);
  return p;
}

int next_backoff_ms(int last_ms, int64_t ran_seconds) {
  constexpr int kFirst = 100, kMost = 60 * 1000;
  if (ran_seconds >= 10 || last_ms <= 0) return kFirst;
  return std::min(last_ms * 2, kMost);
}

bool should_restart(const RestartPolicy& policy, int exit_code, int restarts_so_far) {
  if (policy.name == "always" || policy.name == "unless-stopped") return true;
  if (policy.name == "on-failure")
    return exit_code != 0 &&
           (policy.maximum_retry_count == 0 || restarts_so_far < policy.maximum_retry_count);
  return false;
}

namespace {

// The process restart.json names as waiting out a back-off, when it is still that process (pid
// and start time: never a bare pid); 0 when none is.
pid_t waiting_process(const json& data) {
  pid_t pid = data.value("Pid", 0);
  unsigned long long start = data.value("StartTime", 0ULL);
  return pid > 0 && start != 0 && runtime::state::process_start_time(pid) == start ? pid : 0;
}

// restart.json and its lock (see restart.hpp). The lock is held across a restart's start, so a
// stop that comes meanwhile waits for it and then finds the container running, and stops it.
class RestartRecord {
 public:
  explicit RestartRecord(const std::string& dir)
      : dir_(dir),
        lock_(::open((dir + "/restart.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (!lock_) throw lab::UserError(fmt::format("{}: the container is gone", dir));
    lab::check(::flock(lock_.get(), LOCK_EX), "flock(restart.lock, LOCK_EX)");
    try {
      data = json::parse(lab::read_file_or_empty(dir + "/restart.json"));
    } catch (const json::exception&) {
    }
    if (!data.is_object()) data = json::object();
  }
  void save() { graph::write_file_atomically(dir_ + "/restart.json", data.dump() + "\n"); }
  json data;

 private:
  std::string dir_;
  lab::UniqueFd lock_;
};

// Without taking the lock: inspect and ps read it (it is replaced atomically).
json peek(const std::string& dir) {
  json data = json::parse(lab::read_file_or_empty(dir + "/restart.json"), nullptr, false);
  return data.is_object() ? data : json::object();
}

}  // namespace

int restart_count(const std::string& dir) { return peek(dir).value("Count", 0); }

bool restart_pending(const std::string& dir) { return waiting_process(peek(dir)) != 0; }

void reset_restart(const std::string& dir) {
  if (!fs::exists(dir + "/restart.json")) return;
  RestartRecord record(dir);
  record.data = {{"Count", 0}, {"TimeoutMs", 0}, {"Canceled", false}};
  record.save();  // a waiting restart sees it is no longer the one recorded, and gives up
}

void cancel_restart(const std::string& dir) {
  if (!fs::exists(dir + "/config.v2.json")) return;
  RestartRecord record(dir);
  if (pid_t pid = waiting_process(record.data)) ::kill(pid, SIGKILL);  // it holds nothing while it waits
  record.data["Canceled"] = true;
  record.data.erase("Pid");
  record.data.erase("StartTime");
  record.save();
}

void restart_by_policy(const Paths& p, const std::string& id) {
  Container c;
  int backoff = 0;
  std::string dir;
  {
    try {
      c = load(p, id);
    } catch (const lab::UserError&) {
      return;  // removed meanwhile
    }
    dir = c.dir;
    RestartRecord record(dir);
    if (c.status != "exited" || record.data.value("Canceled", false)) return;
    RestartPolicy policy = restart_policy_of(c.host_config);
    int count = record.data.value("Count", 0);
    int64_t ran = c.started_at.empty() || c.finished_at.empty()
                      ? 0
                      : graph::parse_rfc3339(c.finished_at) - graph::parse_rfc3339(c.started_at);
    backoff = next_backoff_ms(record.data.value("TimeoutMs", 0), ran);
    record.data["TimeoutMs"] = backoff;
    if (!should_restart(policy, c.exit_code, count)) {
      record.save();
      return;
    }
    record.data["Count"] = count + 1;  // counted when decided, as Docker's inspect shows it
    record.data["Pid"] = ::getpid();
    record.data["StartTime"] = runtime::state::process_start_time(::getpid());
    record.save();
  }
  ::usleep(static_cast<useconds_t>(backoff) * 1000);
  RestartRecord record(dir);
  if (record.data.value("Pid", 0) != ::getpid()) return;  // canceled, or started by the user
  try {
    if (load(p, id).status == "exited") start_container(p, id);
  } catch (const std::exception& e) {
    // As Docker's daemon logs it: the container stays exited, the next exit is not ours.
    fmt::print(stderr, "restart of {} failed: {}\n", id.substr(0, 12), e.what());
  }
  record.data.erase("Pid");
  record.data.erase("StartTime");
  if (fs::exists(dir + "/config.v2.json")) record.save();
}

}  // namespace engine
