#include "command_line.hpp"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli.hpp"
#include "error.hpp"
#include "process.hpp"
#include "runtime/container.hpp"
#include "runtime/default_spec.hpp"
#include "runtime/state.hpp"

namespace runtime {

namespace {


// runc writes its errors to --log too, where podman and containerd look for them; with
// --log-format json one object a line, as runc does.
void log_error(const Globals& g, const std::string& message) {
  if (g.log.empty()) return;
  std::ofstream out(g.log, std::ios::app);
  if (g.log_format == "json") {
    out << nlohmann::json{{"level", "error"}, {"msg", message}, {"time", state::now_rfc3339()}}
               .dump()
        << '\n';
  } else {
    out << fmt::format("time=\"{}\" level=error msg=\"{}\"\n", state::now_rfc3339(), message);
  }
}

}  // namespace

void add_verbs(CLI::App& app, Globals& g, std::function<int()>& action) {
  app.add_option("--root", g.options.root,
                 fmt::format("where container state is kept (default {})", state::kDefaultRoot));
  app.add_option("--log", g.log, "also write errors to this file (as runc does for podman)");
  app.add_option("--log-format", g.log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--debug", g.debug, "accepted for runc compatibility (minidocker logs errors only)");
  app.add_flag("--systemd-cgroup", g.systemd_cgroup,
               "refused: minidocker manages cgroups itself (cgroupfs), not through systemd");
  app.add_option("--rootless", g.rootless, "true is refused: minidocker runs as root")
      ->check(CLI::IsMember({"true", "false", "auto"}));
  app.add_option("--criu", g.criu, "refused: checkpoint/restore is not supported");
  app.add_flag("--explain", g.options.explain,
               "narrate every kernel step on stderr, with the lesson it comes from");
  // podman runs `RUNTIME --version` (podman info) and shows its first line.
  app.set_version_flag("--version,-v", fmt::format("{} version 0.1\nspec: 1.0.2", app.get_name()));
  app.require_subcommand(1);

  auto* spec_cmd = app.add_subcommand("spec", "write a default config.json (Docker's defaults)");
  static std::string spec_bundle = ".";
  static bool spec_rootless = false;
  spec_cmd->add_option("--bundle,-b", spec_bundle, "the bundle directory (default: here)");
  spec_cmd->add_flag("--rootless", spec_rootless, "refused: minidocker runs as root");
  spec_cmd->callback([&] {
    g.needs_root = false;
    action = [&] {
      if (spec_rootless)
        throw lab::UserError("spec --rootless: minidocker has no rootless mode; run as root");
      write_default_spec(spec_bundle);
      return 0;
    };
  });

  static CreateOptions create_options;
  static bool detach = false;
  auto add_create_flags = [&](CLI::App* cmd) {
    cmd->add_option("id", create_options.id, "the container's ID")->required();
    cmd->add_option("--bundle,-b", create_options.bundle,
                    "the bundle: a directory with config.json (default: here)");
    cmd->add_option("--pid-file", create_options.pid_file, "write the init's pid to this file");
    cmd->add_option("--console-socket", create_options.console_socket,
                    "a unix socket that receives the pty master (process.terminal)");
    cmd->add_option("--preserve-fds", create_options.preserve_fds,
                    "pass fds 3 .. 3+N-1 on to the container");
    static bool no_new_keyring = false, no_pivot = false;
    cmd->add_flag("--no-new-keyring", no_new_keyring,
                  "accepted: minidocker never makes a session keyring");
    cmd->add_flag("--no-pivot", no_pivot, "refused: minidocker always uses pivot_root");
    cmd->callback([cmd] {
      if (cmd->get_option("--no-pivot")->as<bool>())
        throw lab::UserError("--no-pivot is refused: chroot can be escaped (lesson 03)");
    });
  };
  auto* create_cmd =
      app.add_subcommand("create", "set up a container; its program waits for start");
  add_create_flags(create_cmd);
  create_cmd->final_callback([&] { action = [&] { return create(g.options, create_options); }; });

  auto* run_cmd = app.add_subcommand("run", "create and start a container, wait for its program");
  add_create_flags(run_cmd);
  run_cmd->add_flag("--detach,-d", detach, "do not wait: leave it running");
  run_cmd->final_callback([&] { action = [&] { return run(g.options, create_options, detach); }; });

  static std::string id;
  auto* start_cmd = app.add_subcommand("start", "let a created container's program run");
  start_cmd->add_option("id", id, "the container's ID")->required();
  start_cmd->callback([&] { action = [&] { return start(g.options, id); }; });

  auto* state_cmd = app.add_subcommand("state", "print a container's state as JSON");
  state_cmd->add_option("id", id, "the container's ID")->required();
  state_cmd->callback([&] { action = [&] { return print_state(g.options, id); }; });

  static std::string signal = "SIGTERM";
  static bool all = false;
  auto* kill_cmd = app.add_subcommand("kill", "send a signal to a container's init");
  kill_cmd->add_option("id", id, "the container's ID")->required();
  kill_cmd->add_option("signal", signal, "a name (TERM, SIGKILL) or number (default SIGTERM)");
  kill_cmd->add_flag("--all,-a", all, "every process in the container's cgroup");
  kill_cmd->callback([&] { action = [&] { return kill(g.options, id, signal, all); }; });

  auto* pause_cmd = app.add_subcommand("pause", "freeze every process of a container");
  pause_cmd->add_option("id", id, "the container's ID")->required();
  pause_cmd->callback([&] { action = [&] { return pause(g.options, id); }; });
  auto* resume_cmd = app.add_subcommand("resume", "thaw a paused container");
  resume_cmd->add_option("id", id, "the container's ID")->required();
  resume_cmd->callback([&] { action = [&] { return resume(g.options, id); }; });

  static bool force = false;
  auto* delete_cmd = app.add_subcommand("delete", "remove a stopped container");
  delete_cmd->add_option("id", id, "the container's ID")->required();
  delete_cmd->add_flag("--force,-f", force, "kill it first if it still runs");
  delete_cmd->callback([&] { action = [&] { return remove(g.options, id, force); }; });

  static bool quiet = false;
  static std::string format = "table";
  auto* list_cmd = app.add_subcommand("list", "the containers under --root");
  list_cmd->alias("ls");
  list_cmd->add_flag("--quiet,-q", quiet, "IDs only");
  list_cmd->add_option("--format,-f", format, "table or json");
  list_cmd->callback([&] { action = [&] { return list(g.options, quiet, format); }; });

  static ExecOptions exec_options;
  auto* exec_cmd = app.add_subcommand("exec", "run another process in a running container");
  exec_cmd->add_option("id", exec_options.id, "the container's ID")->required();
  exec_cmd->add_option("command", exec_options.args, "the command and its arguments");
  exec_cmd->add_option("--process,-p", exec_options.process_file,
                       "a JSON file holding the whole process (config.json's \"process\")");
  // A repeatable option takes one value per use (as runc's): CLI11's default for a vector would
  // go on taking words, the container's id and the command included.
  exec_cmd->add_option("--env,-e", exec_options.env, "KEY=VALUE, added to the environment")
      ->allow_extra_args(false);
  exec_cmd->add_option("--cwd", exec_options.cwd, "the working directory inside");
  exec_cmd->add_option("--user,-u", exec_options.user, "UID[:GID]");
  exec_cmd->add_option("--additional-gids,-g", exec_options.additional_gids,
                       "more groups for the process")
      ->allow_extra_args(false);
  exec_cmd->add_flag("--tty,-t", exec_options.tty, "give the process a pty");
  exec_cmd->add_option("--console-socket", exec_options.console_socket,
                       "a unix socket that receives the pty master");
  exec_cmd->add_flag("--detach,-d", exec_options.detach, "do not wait for the process");
  exec_cmd->add_option("--pid-file", exec_options.pid_file, "write the process's pid here");
  exec_cmd->add_option("--cap,-c", exec_options.caps, "add a capability (CAP_NET_ADMIN)")
      ->allow_extra_args(false);
  exec_cmd->add_flag("--no-new-privs", exec_options.no_new_privs, "set no_new_privs");
  exec_cmd->add_option("--preserve-fds", exec_options.preserve_fds,
                       "pass fds 3 .. 3+N-1 on to the process");
  exec_cmd->positionals_at_end();
  exec_cmd->callback([&, exec_cmd] {
    // runc ignores these when --process is given; we refuse them rather than drop them.
    if (!exec_options.process_file.empty()) {
      for (const char* flag :
           {"command", "--env", "--cwd", "--user", "--additional-gids", "--cap", "--no-new-privs"})
        if (exec_cmd->get_option(flag)->count() > 0)
          throw lab::UserError(fmt::format(
              "exec --process FILE holds the whole process: {} cannot be added to it", flag));
    } else if (exec_options.args.empty()) {
      throw lab::UserError("exec: say which command to run (or give --process FILE)");
    }
    action = [&] { return exec(g.options, exec_options); };
  });
}

namespace {

// Flags that would change behaviour we do not have are refused, never ignored.
void refuse_unsupported(const Globals& g) {
  if (g.systemd_cgroup)
    throw lab::UserError(
        "--systemd-cgroup is not supported: minidocker writes cgroup files itself "
        "(podman: --cgroup-manager=cgroupfs)");
  if (g.rootless == "true")
    throw lab::UserError("--rootless true is not supported: minidocker runs as root");
  if (!g.criu.empty()) throw lab::UserError("--criu: checkpoint and restore are not supported");
}

}  // namespace

int dispatch(const std::string& program, CLI::App& app, Globals& g, std::function<int()>& action,
             int argc, char** argv) {
  return lab::run_guarded(program, [&]() -> int {
    int rc = lab::parse_command_line(app, argc, argv);
    if (rc >= 0) return rc;
    if (g.options.root.empty()) g.options.root = state::kDefaultRoot;
    try {
      refuse_unsupported(g);
      if (g.needs_root && ::geteuid() != 0)
        throw lab::UserError(fmt::format("{} needs root: run it as root (or with sudo)", program));
      return action ? action() : 0;
    } catch (const lab::Interrupted&) {
      throw;
    } catch (const std::exception& e) {
      log_error(g, e.what());
      throw;
    }
  });
}

int main(const std::string& program, int argc, char** argv) {
  CLI::App app{"an OCI runtime built from the lessons, called as runc is"};
  app.name(program);
  lab::last_value_wins(app);  // runc's urfave/cli reads flags with Go's flag package: last wins
  Globals g;
  std::function<int()> action;
  add_verbs(app, g, action);
  return dispatch(program, app, g, action, argc, argv);
}

}  // namespace runtime
