// exec, top, stats, pause, unpause and rename under Docker's grammar; the jobs are in
// final/engine/ops.cpp. Errors Docker's daemon reports are printed as the docker CLI prints them,
// "Error response from daemon: ...", exit 1.
#include "engine/ops.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "client/attach.hpp"
#include "client/engine.hpp"
#include "daemon/http_client.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "runtime/explain.hpp"

namespace client {

namespace {

int daemon_error(const std::string& message) {
  std::cout.flush();
  fmt::print(stderr, "Error response from daemon: {}\n", message);
  return 1;
}

// A verb whose daemon errors are Docker's: "Error response from daemon: ...", exit 1.
int with_daemon_errors(const std::function<int()>& body) {
  try {
    return body();
  } catch (const engine::DaemonError& e) {
    return daemon_error(e.what());
  } catch (const engine::RunError& e) {
    std::cout.flush();
    fmt::print(stderr, "{}\n", e.what());
    return e.code;
  } catch (const lab::UserError& e) {
    std::string what = e.what();
    if (what.starts_with("No such container")) return daemon_error(what);
    return report_user_error(what);
  }
}

// Docker's tables (text/tabwriter: each column as wide as its widest cell plus 3, at least
// `min_width`; the last column not padded).
void print_table(const std::vector<std::vector<std::string>>& rows, size_t min_width,
                 std::ostream& out = std::cout) {
  auto width_of = [](const std::string& s) {
    size_t w = 0;
    for (char ch : s) w += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
    return w;
  };
  std::vector<size_t> widths;
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(min_width);
      widths[i] = std::max(widths[i], width_of(row[i]) + 3);
    }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - width_of(row[i]), ' ');
    }
    out << line << '\n';
  }
}

struct ExecFlags {
  engine::ExecRequest request;
  std::string ref;
  std::vector<std::string> command;  // the words after the container
  bool tty = false;
};

int exec_verb(const EngineOptions& options, ExecFlags& f) {
  return with_daemon_errors([&] {
    engine::Paths paths = engine::paths_for(options.root, options.explain);
    engine::ExecRequest r = f.request;
    r.tty = f.tty;
    if (r.tty && r.interactive && !::isatty(STDIN_FILENO))
      throw lab::UserError("the input device is not a TTY");
    r.terminal = [&](int master) { relay_master(master, r.interactive); };
    if (r.tty) r.console_size = window_size();
    r.command = f.command;
    if (r.command.empty())
      throw lab::UserError("\"exec\" requires at least 2 arguments: CONTAINER COMMAND [ARG...]");
    return engine::exec(paths, engine::resolve(paths, f.ref), r);
  });
}

// A daemon's refusal of an ops verb, as the engine's DaemonError would have been in-process:
// "Error response from daemon: ...", exit 1 (with_daemon_errors).
api::ClientReply ops_checked(api::DaemonClient& daemon, std::string_view method,
                             const std::string& target) {
  api::ClientReply reply = daemon.call(method, target);
  try {
    api::throw_if_refused(reply);
  } catch (const lab::UserError& e) {
    throw engine::DaemonError(e.what());
  }
  return reply;
}

// exec through a daemon, as Docker's CLI does it: POST /containers/{id}/exec with the command
// (-e KEY and --env-file read here, as the client's), then POST /exec/{id}/start with the
// connection hijacked (relay_stream: with -t the pty's raw bytes, our terminal raw and its size
// sent as POST /exec/{id}/resize; without, the frames split to stdout and stderr; our stdin up it
// with -i), then GET /exec/{id}/json for the exit code.
int exec_remote(const EngineOptions& options, ExecFlags& f) {
  return with_daemon_errors([&] {
    const engine::ExecRequest& r = f.request;
    if (f.tty && r.interactive && !::isatty(STDIN_FILENO))
      throw lab::UserError("the input device is not a TTY");
    const std::vector<std::string>& command = f.command;
    if (command.empty())
      throw lab::UserError("\"exec\" requires at least 2 arguments: CONTAINER COMMAND [ARG...]");
    std::vector<std::string> env = exec::resolve_env(r.env_files, r.env, [](const char* key) {
      return static_cast<const char*>(std::getenv(key));
    });
    api::DaemonClient daemon(options.host, options.explain);
    nlohmann::json body = {{"Cmd", command},
                           {"Env", env},
                           {"WorkingDir", r.workdir},
                           {"User", r.user},
                           {"Tty", f.tty},
                           {"AttachStdin", r.interactive && !r.detach},
                           {"AttachStdout", !r.detach},
                           {"AttachStderr", !r.detach}};
    std::string id = nlohmann::json::parse(
        daemon.checked("POST", "/containers/" + f.ref + "/exec", body.dump()).body)["Id"];
    if (r.detach) {
      daemon.checked("POST", "/exec/" + id + "/start",
                     nlohmann::json{{"Detach", true}, {"Tty", f.tty}}.dump());
      return 0;
    }
    api::Hijacked started = daemon.hijack("/exec/" + id + "/start",
                                          nlohmann::json{{"Detach", false}, {"Tty", f.tty}}.dump());
    api::throw_if_refused(started.status, started.reason, started.body);
    RelayOptions o;
    o.tty = f.tty;
    o.forward_stdin = r.interactive;
    o.detach_keys.clear();  // as in-process: the exec runs to its end
    StreamHooks hooks;
    hooks.resize = [&](unsigned rows, unsigned cols) {
      // The pty exists once the runtime has sent its master to the daemon: the first size may
      // come before that (409), so it is tried again for a moment, as Docker's CLI does.
      std::string target = fmt::format("/exec/{}/resize?h={}&w={}", id, rows, cols);
      for (int attempt = 0; attempt < 20; ++attempt) {
        if (daemon.call("POST", target).status < 400) return;
        ::usleep(50000);
      }
    };
    relay_stream(started.fd.get(), std::move(started.buffered), o, hooks);
    return nlohmann::json::parse(daemon.checked("GET", "/exec/" + id + "/json").body)
        .value("ExitCode", 0);
  });
}

struct TopFlags {
  std::string ref;
  std::vector<std::string> ps_options;  // the words after the container
};

int top_verb(const EngineOptions& options, TopFlags& f) {
  return with_daemon_errors([&] {
    engine::PsTable table;
    if (!options.host.empty()) {
      // GET /containers/{id}/top?ps_args=...: the same table, as the daemon's JSON.
      std::string ps_args;
      for (const std::string& a : f.ps_options) ps_args += (ps_args.empty() ? "" : " ") + a;
      api::DaemonClient daemon(options.host, options.explain);
      nlohmann::json top = nlohmann::json::parse(
          ops_checked(daemon, "GET",
                      fmt::format("/containers/{}/top?ps_args={}", f.ref, api::url_escape(ps_args)))
              .body);
      table.titles = top.value("Titles", std::vector<std::string>{});
      table.rows = top.value("Processes", std::vector<std::vector<std::string>>{});
    } else {
      engine::Paths paths = engine::paths_for(options.root, options.explain);
      table = engine::top(paths, engine::resolve(paths, f.ref), f.ps_options);
    }
    std::vector<std::vector<std::string>> rows = {table.titles};
    rows.insert(rows.end(), table.rows.begin(), table.rows.end());
    print_table(rows, 20);
    return 0;
  });
}

struct StatsFlags {
  std::vector<std::string> refs;
  bool no_stream = false, no_trunc = false, all = false;
};

std::vector<std::string> stats_header() {
  return {"CONTAINER ID", "NAME",    "CPU %",     "MEM USAGE / LIMIT",
          "MEM %",        "NET I/O", "BLOCK I/O", "PIDS"};
}

// One row of Docker's stats table from two readings of a container (`cpus`: the host's online
// CPUs). A container that is no longer running shows zeros with --no-stream (as Docker's daemon
// answers for a stopped one) and dashes in a stream (Docker's CLI marks its entry invalid when the
// daemon's stream for it ends).
std::vector<std::string> stats_row(const std::string& id, const std::string& name, bool running,
                                   const engine::Sample& before, const engine::Sample& s, long cpus,
                                   bool streaming) {
  if (!running) {
    if (streaming) return {id, name, "--", "-- / --", "--", "--", "--", "--"};
    return {id, name, "0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0"};
  }
  double mem_percent = s.memory_limit == 0 ? 0.0
                                           : static_cast<double>(s.memory_usage) /
                                                 static_cast<double>(s.memory_limit) * 100.0;
  return {id,
          name,
          fmt::format("{:.2f}%", engine::cpu_percent(before, s, cpus)),
          engine::bytes_size(static_cast<double>(s.memory_usage)) + " / " +
              engine::bytes_size(static_cast<double>(s.memory_limit)),
          fmt::format("{:.2f}%", mem_percent),
          engine::human_size(static_cast<double>(s.net_rx)) + " / " +
              engine::human_size(static_cast<double>(s.net_tx)),
          engine::human_size(static_cast<double>(s.block_read)) + " / " +
              engine::human_size(static_cast<double>(s.block_write)),
          std::to_string(s.pids)};
}

// Docker's stats table from two samples of each container, read in-process.
std::vector<std::vector<std::string>> stats_rows(const engine::Paths& paths,
                                                 const std::vector<engine::Container>& containers,
                                                 const std::vector<engine::Sample>& before,
                                                 bool no_trunc, bool streaming) {
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  std::vector<std::vector<std::string>> rows = {stats_header()};
  for (size_t i = 0; i < containers.size(); ++i) {
    const engine::Container& c = containers[i];
    engine::Container now = c;
    try {
      now = engine::load(paths, c.id);
    } catch (const lab::UserError&) {
      now.status = "removed";
    }
    bool running = now.status == "running";
    engine::Sample s = running ? engine::sample(now) : engine::Sample{};
    rows.push_back(stats_row(no_trunc ? c.id : c.id.substr(0, 12), c.name.substr(1), running,
                             before[i], s, cpus, streaming));
  }
  return rows;
}

// stats --no-stream through a daemon: the containers named (GET /containers/{id}/json) or the
// running ones (GET /containers/json), then GET /containers/{id}/stats?stream=0 for each, all at
// once (each takes the daemon's second between two readings), its cpu_stats and precpu_stats
// the two samples.
int stats_remote(const EngineOptions& options, const StatsFlags& f) {
  if (!f.no_stream) {
    fmt::print(stderr,
               "minidocker -H: stats without --no-stream is not available through a daemon yet; "
               "run it without -H\n");
    return 1;
  }
  using nlohmann::json;
  struct Wanted {
    std::string id, name;
    bool running = false;
    json stats;
  };
  std::vector<Wanted> wanted;
  api::DaemonClient daemon(options.host, options.explain);
  if (f.refs.empty()) {
    json listed = json::parse(
        ops_checked(daemon, "GET", fmt::format("/containers/json?all={}", f.all ? 1 : 0)).body);
    // Newest first, as the engine lists them in-process.
    for (const json& c : listed) {
      std::string name = c["Names"].empty() ? "" : c["Names"][0].get<std::string>();
      std::string state = c.value("State", "");  // "paused" is running, as the engine's record
      wanted.push_back({c["Id"], name.empty() ? name : name.substr(1),
                        state == "running" || state == "paused", json()});
    }
  } else {
    for (const std::string& ref : f.refs) {
      json c = json::parse(ops_checked(daemon, "GET", "/containers/" + ref + "/json").body);
      std::string name = c.value("Name", "");
      wanted.push_back({c["Id"], name.empty() ? name : name.substr(1),
                        c["State"].value("Running", false), json()});
    }
  }
  std::vector<std::thread> readers;
  for (Wanted& w : wanted)
    readers.emplace_back([&options, &w] {
      api::DaemonClient one(options.host, options.explain);
      api::ClientReply reply = one.call("GET", "/containers/" + w.id + "/stats?stream=0");
      if (reply.status < 400) w.stats = json::parse(reply.body, nullptr, false);
    });
  for (std::thread& t : readers) t.join();
  std::vector<std::vector<std::string>> rows = {stats_header()};
  for (const Wanted& w : wanted) {
    const json& j = w.stats;
    engine::Sample before, now;
    long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    bool running = w.running && j.is_object();
    if (running) {
      auto cpu = [&](const json& stats, engine::Sample& s) {
        s.cpu_usage_ns = stats["cpu_usage"].value("total_usage", uint64_t{0});
        s.system_usage_ns = stats.value("system_cpu_usage", uint64_t{0});
      };
      cpu(j["precpu_stats"], before);
      cpu(j["cpu_stats"], now);
      cpus = j["cpu_stats"].value("online_cpus", cpus);
      now.memory_usage = j["memory_stats"].value("usage", uint64_t{0});
      now.memory_limit = j["memory_stats"].value("limit", uint64_t{0});
      now.pids = j["pids_stats"].value("current", uint64_t{0});
      for (const auto& [name, net] : j.value("networks", json::object()).items()) {
        now.net_rx += net.value("rx_bytes", uint64_t{0});
        now.net_tx += net.value("tx_bytes", uint64_t{0});
      }
      for (const json& io : j["blkio_stats"].value("io_service_bytes_recursive", json::array())) {
        if (io.value("op", "") == "Read") now.block_read += io.value("value", uint64_t{0});
        if (io.value("op", "") == "Write") now.block_write += io.value("value", uint64_t{0});
      }
    }
    rows.push_back(stats_row(f.no_trunc ? w.id : w.id.substr(0, 12), w.name, running, before, now,
                             cpus, false));
  }
  print_table(rows, 10);
  return 0;
}

std::vector<engine::Sample> samples_of(const std::vector<engine::Container>& containers) {
  std::vector<engine::Sample> samples;
  for (const auto& c : containers) {
    engine::Sample s{};
    if (c.status == "running") {
      try {
        s = engine::sample(c);
      } catch (const std::exception&) {  // it exited in between: its row says so
      }
    }
    samples.push_back(s);
  }
  return samples;
}

int stats_verb(const EngineOptions& options, StatsFlags& f) {
  return with_daemon_errors([&] {
    engine::Paths paths = engine::paths_for(options.root, options.explain);
    // The containers to show: those named (kept, running or not), or every running one (with -a
    // every one), listed again at each refresh of a stream, as Docker's CLI follows start and
    // die events.
    auto wanted = [&] {
      std::vector<engine::Container> containers;
      if (f.refs.empty()) {
        for (const engine::Container& c : engine::list(paths))
          if (f.all || c.status == "running") containers.push_back(c);
      } else {
        for (const std::string& ref : f.refs)
          containers.push_back(engine::load(paths, engine::resolve(paths, ref)));
      }
      return containers;
    };
    std::vector<engine::Container> containers = wanted();
    // Two readings a second apart, as Docker's daemon takes them (its "precpu" is the previous
    // read): CPU % is the container's share of the host's CPU time in between.
    runtime::Explainer explain(paths.explain);
    explain.step("04",
                 "read each container's cgroup twice, a second apart: cpuacct.usage or cpu.stat, "
                 "memory usage less inactive_file, the limit, blkio or io.stat, pids.current",
                 "cat /sys/fs/cgroup/memory/minidocker/ID/memory.usage_in_bytes ...");
    explain.step("06", "the network namespace's counters, through its init",
                 "cat /proc/PID/net/dev");
    if (f.no_stream) {
      std::vector<engine::Sample> before = samples_of(containers);
      if (!containers.empty()) ::usleep(1000000);
      print_table(stats_rows(paths, containers, before, f.no_trunc, false), 10);
      return 0;
    }
    // The stream: every second the cursor goes home ("\033[H"), each line of the new table is
    // followed by "erase to the end of the line" ("\033[K") and the rest of the screen is erased
    // ("\033[J"), so a shorter table leaves nothing behind; the same bytes on a terminal or a
    // pipe, as Docker's CLI writes them. Ctrl-C (SIGINT) or SIGTERM ends it with 0, as Docker's:
    // the signals are blocked and taken by sigtimedwait(2), which is also the second's wait.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    lab::check(::sigprocmask(SIG_BLOCK, &stop_signals, nullptr), "sigprocmask(SIG_BLOCK)");
    std::vector<engine::Sample> before = samples_of(containers);
    for (;;) {
      struct timespec second = {1, 0};
      int sig = ::sigtimedwait(&stop_signals, nullptr, &second);
      if (sig == SIGINT || sig == SIGTERM) return 0;
      std::ostringstream table;
      print_table(stats_rows(paths, containers, before, f.no_trunc, true), 10, table);
      std::string frame = "\033[H";
      std::istringstream lines(table.str());
      for (std::string line; std::getline(lines, line);) frame += line + "\033[K\n";
      frame += "\033[J";
      std::cout << frame << std::flush;
      if (f.refs.empty()) containers = wanted();
      before = samples_of(containers);
    }
  });
}

// pause/unpause: each container in turn, its name printed when done; errors one line each.
// Through a daemon, POST /containers/{id}/VERB ("pause", "unpause") instead of the job.
int each_container(const EngineOptions& options, const std::vector<std::string>& refs,
                   const std::function<void(const engine::Paths&, const std::string&)>& job,
                   const std::string& verb) {
  engine::Paths paths = engine::paths_for(options.root, options.explain);
  std::optional<api::DaemonClient> daemon;
  if (!options.host.empty()) daemon.emplace(options.host, options.explain);
  int rc = 0;
  for (const std::string& ref : refs) {
    int one = with_daemon_errors([&] {
      if (daemon)
        ops_checked(*daemon, "POST", "/containers/" + ref + "/" + verb);
      else
        job(paths, engine::resolve(paths, ref));
      std::cout << ref << '\n';
      return 0;
    });
    if (one != 0) rc = one;
  }
  return rc;
}

}  // namespace

void add_ops_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action) {
  static ExecFlags exec_flags;
  static TopFlags top_flags;
  static StatsFlags stats_flags;
  static std::vector<std::string> pause_refs, unpause_refs;
  static std::string rename_old, rename_new;
  // Each verb under `parent`: the top level, and Docker's `container` group (`container exec`).
  auto add_all = [&](CLI::App* parent) {
    auto* exec_cmd = parent->add_subcommand("exec", "Run a command in a running container");
    docker_args(exec_cmd, "[OPTIONS] CONTAINER COMMAND [ARG...]", at_least(2));
    exec_cmd->add_option("container", exec_flags.ref, "NAME or ID")->required();
    add_container_words(exec_cmd, "command", exec_flags.command,
                        "COMMAND [ARG...]: run in the container, verbatim");
    exec_cmd->add_flag("--detach,-d", exec_flags.request.detach, "run it in the background");
    exec_cmd->add_flag("--interactive,-i", exec_flags.request.interactive, "pass our stdin on");
    exec_cmd->add_flag("--tty,-t", exec_flags.tty,
                       "a pty (the runtime's exec --tty --console-socket)");
    exec_cmd
        ->add_option("--env,-e", exec_flags.request.env, "KEY=VALUE, or KEY to take it from here")
        ->allow_extra_args(false);
    exec_cmd->add_option("--env-file", exec_flags.request.env_files, "a file of KEY=VALUE lines")
        ->allow_extra_args(false);
    exec_cmd->add_option("--workdir,-w", exec_flags.request.workdir,
                         "the working directory inside");
    exec_cmd->add_option("--user,-u", exec_flags.request.user, "NAME|UID[:GROUP|GID]");
    exec_cmd->callback([&] {
      action = [&] {
        return options.host.empty() ? exec_verb(options, exec_flags)
                                    : exec_remote(options, exec_flags);
      };
    });

    auto* top_cmd = parent->add_subcommand("top", "Display the running processes of a container");
    docker_args(top_cmd, "CONTAINER [ps OPTIONS]", at_least(1));
    top_cmd->add_option("container", top_flags.ref, "NAME or ID")->required();
    add_container_words(top_cmd, "ps_options", top_flags.ps_options,
                        "[ps OPTIONS]: the host's ps options (default -ef)");
    top_cmd->callback([&] { action = [&] { return top_verb(options, top_flags); }; });

    auto* stats_cmd = parent->add_subcommand(
        "stats", "Display a live stream of container(s) resource usage statistics");
    // Docker's stats checks no count: no words means the running containers.
    docker_args(stats_cmd, "[OPTIONS] [CONTAINER...]", at_least(0));
    stats_cmd->add_option("container", stats_flags.refs, "NAME or ID (default: the running ones)");
    stats_cmd->add_flag("--no-stream", stats_flags.no_stream,
                        "one reading, then exit (default: a table redrawn every second until "
                        "Ctrl-C)");
    stats_cmd->add_flag("--no-trunc", stats_flags.no_trunc, "full container ids");
    stats_cmd->add_flag("--all,-a", stats_flags.all, "every container, not only running ones");
    stats_cmd->callback([&] {
      action = [&] {
        return options.host.empty()
                   ? stats_verb(options, stats_flags)
                   : with_daemon_errors([&] { return stats_remote(options, stats_flags); });
      };
    });

    auto* pause_cmd =
        parent->add_subcommand("pause", "Pause all processes within one or more containers");
    docker_args(pause_cmd, "CONTAINER [CONTAINER...]", at_least(1));
    pause_cmd->add_option("container", pause_refs, "NAME or ID")->required();
    pause_cmd->callback([&] {
      action = [&] { return each_container(options, pause_refs, engine::pause, "pause"); };
    });
    auto* unpause_cmd =
        parent->add_subcommand("unpause", "Unpause all processes within one or more containers");
    docker_args(unpause_cmd, "CONTAINER [CONTAINER...]", at_least(1));
    unpause_cmd->add_option("container", unpause_refs, "NAME or ID")->required();
    unpause_cmd->callback([&] {
      action = [&] { return each_container(options, unpause_refs, engine::unpause, "unpause"); };
    });

    auto* rename_cmd = parent->add_subcommand("rename", "Rename a container");
    docker_args(rename_cmd, "CONTAINER NEW_NAME", exactly(2));
    rename_cmd->add_option("container", rename_old, "the container (name or id)")->required();
    rename_cmd->add_option("new_name", rename_new, "its new name")->required();
    rename_cmd->callback([&] {
      action = [&] {
        if (rename_old.empty() || rename_new.empty()) {
          fmt::print(stderr, "Error: Neither old nor new names may be empty\n");
          return 1;
        }
        engine::Paths paths = engine::paths_for(options.root, options.explain);
        try {
          if (!options.host.empty()) {
            api::DaemonClient daemon(options.host, options.explain);
            ops_checked(daemon, "POST",
                        fmt::format("/containers/{}/rename?name={}", rename_old,
                                    api::url_escape(rename_new)));
          } else {
            engine::rename(paths, rename_old, rename_new);
          }
        } catch (const engine::DaemonError& e) {
          daemon_error(e.what());
          fmt::print(stderr, "Error: failed to rename container named {}\n", rename_old);
          return 1;
        }
        return 0;
      };
    });
  };
  add_all(&app);
  // `container` is made by add_container_verbs; without it only the top-level verbs exist.
  for (CLI::App* sub : app.get_subcommands({}))
    if (sub->get_name() == "container") add_all(sub);
}

}  // namespace client
