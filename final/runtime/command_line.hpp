// The runtime's command line: runc's verbs and global flags (runc(8)).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "runtime/container.hpp"

namespace runtime {

// The global flags, as runc has them.
struct Globals {
  GlobalOptions options;
  std::string log;
  std::string log_format = "text";
  bool debug = false;
  bool systemd_cgroup = false;
  std::string rootless = "auto";
  std::string criu;
  bool needs_root = true;  // every verb but spec
};

// The verbs, on `app` (minirunc itself, or minidocker's `runtime`). `action` is set to the verb
// that was chosen.
void add_verbs(CLI::App& app, Globals& g, std::function<int()>& action);

// Parses the command line and runs the verb chosen, with the runtime's errors (also written to
// --log, where podman looks for them) and exit codes; `program` names us in messages.
int dispatch(const std::string& program, CLI::App& app, Globals& g, std::function<int()>& action,
             int argc, char** argv);

// `minirunc [global flags] VERB ...`: runc's grammar.
int main(const std::string& program, int argc, char** argv);

}  // namespace runtime
