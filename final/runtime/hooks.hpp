// OCI hooks (runtime-spec config.md "POSIX-platform Hooks"): programs the runtime runs at fixed
// points of a container's life, each given the container's state as JSON on its stdin. Tools use
// them to wire networks or mount things in (the notes' engine did such steps itself; the engine of
// final/ does too, and hands the runtime a ready network namespace instead).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/spec.hpp"

namespace runtime::hooks {

// Runs each hook in order: path, args (args[0] is argv[0]), env, state on stdin, killed after
// its timeout. A hook that fails or times out throws UserError naming the hook and `kind`
// ("prestart hook /usr/bin/x exited 1").
void run_all(const std::vector<Hook>& hooks, const std::string& state_json, std::string_view kind);

}  // namespace runtime::hooks
