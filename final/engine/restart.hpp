// --restart no|always|unless-stopped|on-failure[:N] (issue 9): Docker's restart policies without
// a daemon. When a container with a policy exits, its monitor (final/monitor/monitor.cpp) records
// the exit as always, then becomes `minidocker container _restart ID` (exec, as it becomes `rm`
// for --rm): restart_by_policy below decides as Docker's restart manager does
// (moby/restartmanager), waits out the back-off, and starts the container again through the
// engine's own start. Meanwhile the container is "restarting" (ps: "Restarting (1) 2 seconds
// ago"). What the policy has done so far is <dir>/restart.json, changed only under a flock of
// <dir>/restart.lock:
//   {"Count": restarts so far (inspect's RestartCount), "TimeoutMs": the last back-off,
//    "Canceled": stopped by the user (stop, kill, rm), "Pid"/"StartTime": the waiting process}
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/containers.hpp"

namespace engine {

struct RestartPolicy {
  std::string name = "no";  // no, always, unless-stopped, on-failure
  int maximum_retry_count = 0;
};
// --restart as typed ("" is "no"); Docker's words for a bad one (lab::UserError).
RestartPolicy parse_restart_policy(const std::string& typed);
// HostConfig.RestartPolicy: {"Name": ..., "MaximumRetryCount": ...}; and back.
nlohmann::json restart_policy_json(const RestartPolicy& policy);
RestartPolicy restart_policy_of(const nlohmann::json& host_config);

// Pure, Docker's restart manager: the next back-off in ms (100 ms, doubled each time up to a
// minute, back to 100 ms after a run of 10 s or more) and whether to restart at all.
int next_backoff_ms(int last_ms, int64_t ran_seconds);
bool should_restart(const RestartPolicy& policy, int exit_code, int restarts_so_far);

// inspect's RestartCount; whether a restart is waiting out its back-off (its process alive).
int restart_count(const std::string& dir);
bool restart_pending(const std::string& dir);
// A start by the user (start, restart, run): a new count, not canceled; a waiting restart gives
// way. stop, kill and rm: no restart from now on, and a waiting one is ended (its process
// killed) before they go on.
void reset_restart(const std::string& dir);
void cancel_restart(const std::string& dir);

// The monitor's last step for a container with a policy (the hidden `container _restart ID`).
void restart_by_policy(const Paths& paths, const std::string& id);

}  // namespace engine
