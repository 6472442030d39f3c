// `logs`: a container's output, read back from its json log (<dir>/<id>-json.log, written by
// the monitor as Docker's json-file driver: one {"log","stream","time"} object a line). The CLI
// prints each entry to its stream; the daemon frames it for GET /containers/{id}/logs.
#pragma once

#include <functional>
#include <string>

#include "engine/containers.hpp"

namespace engine {

struct LogEntry {
  std::string stream;  // "stdout" or "stderr"
  std::string time;    // RFC 3339 with nanoseconds, as the monitor wrote it
  std::string text;    // the line, with its "\n" (a -t container's output as it came)
};

struct LogOptions {
  bool follow = false;       // -f: go on until the container has exited
  std::string tail = "all";  // --tail N: only the last N lines
};

// Calls `emit` for each entry of the log, in order; with `follow`, then for each new one until the
// container has exited. `emit` returning false, or `gone` (asked between reads while following)
// returning true, ends it early. Throws lab::UserError for a bad --tail.
void read_logs(const Paths& paths, const std::string& id, const LogOptions& options,
               const std::function<bool(const LogEntry&)>& emit,
               const std::function<bool()>& gone = {});

}  // namespace engine
