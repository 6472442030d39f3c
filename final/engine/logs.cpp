#include "engine/logs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "error.hpp"
#include "fd.hpp"

namespace engine {

namespace {

// The entries of a json log from `offset` on, each complete line given to `emit`. Returns the
// new offset (an unfinished last line is left in `pending` for next time); false in `more` when
// `emit` asked to stop.
size_t emit_entries(int fd, size_t offset, std::string& pending,
                    const std::function<bool(const LogEntry&)>& emit, bool& more) {
  char buf[65536];
  ssize_t n;
  while ((n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(offset))) > 0) {
    offset += static_cast<size_t>(n);
    pending.append(buf, static_cast<size_t>(n));
  }
  size_t start = 0;
  more = true;
  while (more) {
    size_t nl = pending.find('\n', start);
    if (nl == std::string::npos) break;
    nlohmann::json entry = nlohmann::json::parse(pending.substr(start, nl - start), nullptr, false);
    start = nl + 1;
    if (!entry.is_object()) continue;
    more = emit({entry.value("stream", "stdout"), entry.value("time", ""), entry.value("log", "")});
  }
  pending.erase(0, start);
  return offset;
}

}  // namespace

void read_logs(const Paths& paths, const std::string& id, const LogOptions& options,
               const std::function<bool(const LogEntry&)>& emit,
               const std::function<bool()>& gone) {
  std::string log_path = paths.root + "/containers/" + id + "/" + id + "-json.log";
  std::string text = lab::read_file_or_empty(log_path);
  size_t offset = text.size();
  if (options.tail != "all") {
    char* end = nullptr;
    long n = std::strtol(options.tail.c_str(), &end, 10);
    if (*end != '\0' || options.tail.empty())
      throw lab::UserError("invalid --tail " + options.tail);
    size_t start = text.size();
    for (long i = 0; i < n && start > 0; ++i) {
      size_t nl = start >= 2 ? text.rfind('\n', start - 2) : std::string::npos;
      start = nl == std::string::npos ? 0 : nl + 1;
    }
    if (n < 0) start = 0;
    text = text.substr(start);
  }
  lab::UniqueFd log = lab::open_fd(log_path, O_RDONLY | O_CREAT | O_CLOEXEC, 0640);
  std::string pending = text;
  bool more = true;
  // What was chosen, then (with -f) what comes, until the container has exited.
  emit_entries(log.get(), offset, pending, emit, more);
  if (!options.follow || !more) return;
  while (!wait_exit(paths, id, 100)) {
    if (gone && gone()) return;
    offset = emit_entries(log.get(), offset, pending, emit, more);
    if (!more) return;
  }
  emit_entries(log.get(), offset, pending, emit, more);
}

}  // namespace engine
