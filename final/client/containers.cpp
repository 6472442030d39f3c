// The container verbs (Docker's grammar): create, start, run, ps, logs, wait, stop, kill, rm,
// inspect, container prune; the jobs themselves are in final/engine/containers.cpp.
//
// A foreground `run` (no -d) is a client of the container's attach socket (client/attach.hpp):
// the monitor sends it the output as it logs it and, once the container has exited, its exit
// code, also written on a pipe the CLI handed it; the CLI exits with that code when the pipe
// reaches EOF (for --rm, after the monitor's clean-up). Killing the CLI leaves the container
// running under its monitor, as with `docker run` and a killed client.
#include "engine/containers.hpp"
#include "engine/restart.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <optional>
#include <thread>

#include "client/attach.hpp"
#include "client/engine.hpp"
#include "daemon/container_api.hpp"
#include "daemon/http_client.hpp"
#include "engine/logs.hpp"
#include "engine/networking.hpp"
#include "engine/volumes.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "runtime/container.hpp"

namespace client {

namespace {

using nlohmann::json;

// Runs a verb that Docker's CLI reports with 125 when the engine fails.
int with_run_errors(const std::function<int()>& body) {
  try {
    return body();
  } catch (const engine::RunError& e) {
    std::cout.flush();
    fmt::print(stderr, "Error: {}\n", e.what());
    return e.code;
  } catch (const lab::UserError& e) {
    std::cout.flush();
    fmt::print(stderr, "Error: {}\n", e.what());
    return 125;
  }
}

struct CreateFlags {
  engine::CreateRequest request;
  std::string image;
  std::vector<std::string> command;  // the words after the image
  bool detach = false;
  bool sig_proxy = true;
  std::string detach_keys = "ctrl-p,ctrl-q";
  bool privileged = false;
};

void add_create_flags(CLI::App* cmd, CreateFlags& f, bool is_run) {
  exec::RunOptions& o = f.request.options;
  cmd->add_option("image", f.image, "NAME[:TAG], or an image's id")->required();
  add_container_words(cmd, "command", f.command, "[COMMAND] [ARG...]: the container's, verbatim");
  cmd->add_option("--name", f.request.name, "the container's name");
  cmd->add_option("--runtime", f.request.runtime,
                  "runc, or a path: an OCI runtime instead of ours");
  cmd->add_flag("--rm", f.request.auto_remove, "remove the container when it exits");
  cmd->add_option("--restart", f.request.restart,
                  "no, always, unless-stopped, on-failure[:N]: start it again when it exits");
  cmd->add_flag("--interactive,-i", o.interactive, "keep stdin open: forwarded to the container");
  cmd->add_flag("--tty,-t", o.tty, "a pty: the container's stdin, stdout and stderr");
  // A repeatable option takes one value per use (allow_extra_args(false)): CLI11's default for a
  // vector would go on taking words, the image and its command included.
  cmd->add_option("--env,-e", o.env, "KEY=VALUE, or KEY to take it from here")
      ->allow_extra_args(false);
  cmd->add_option("--env-file", o.env_files, "a file of KEY=VALUE lines")->allow_extra_args(false);
  cmd->add_option("--workdir,-w", o.workdir, "the working directory inside");
  cmd->add_option("--user,-u", o.user, "NAME|UID[:GROUP|GID]");
  cmd->add_option("--hostname", o.hostname, "the container's hostname");
  cmd->add_option("--entrypoint", o.entrypoint, "replaces the image's ENTRYPOINT (and its CMD)");
  cmd->add_option("--network,--net", o.network,
                  "bridge (default), none, host, container:NAME, or a network's name");
  cmd->add_option("--publish,-p", f.request.publish,
                  "[IP:][HOST[-END]]:CTR[-END][/tcp|/udp]: publish ports (no HOST: a free one)")
      ->allow_extra_args(false);
  cmd->add_flag("--read-only", o.read_only, "mount the container's root read-only");
  cmd->add_flag("--privileged", f.privileged, "refused: every capability and device of the host");
  cmd->add_flag("--init", o.init,
                "docker-init (Debian's tini) as PID 1: reaps orphans, passes signals on");
  cmd->add_option("--cap-add", o.cap_add, "add a capability (or ALL)")->allow_extra_args(false);
  cmd->add_option("--cap-drop", o.cap_drop, "drop a capability (or ALL)")->allow_extra_args(false);
  // Their values are checked as Docker's CLI checks them while it reads its flags (read_flags):
  // the syntax here; the ranges (at least 6MB, at most the host's CPUs) where the engine or the
  // daemon checks them (exec::parse_limits), as Docker's daemon does.
  cmd->add_option("--cpus", o.cpus, "CPUs, e.g. 0.5 (cgroup cpu quota of a 100 ms period)")
      ->check(nano_cpus_flag());
  cmd->add_option("--cpu-shares,-c", o.cpu_shares, "relative CPU weight (1024 is the default)")
      ->transform(int_flag());
  cmd->add_option("--memory,-m", o.memory, "memory limit, e.g. 64m")->check(mem_bytes_flag());
  cmd->add_option("--memory-swap", o.memory_swap,
                  "memory plus swap limit (-1: unlimited swap; default: twice --memory)")
      ->check(mem_swap_bytes_flag());
  cmd->add_option("--pids-limit", o.pids_limit, "at most this many processes (-1: unlimited)")
      ->transform(int_flag());
  cmd->add_option("--volume,-v", o.volumes, "/HOST:/CTR[:ro], NAME:/CTR[:ro] or /CTR (a volume)")
      ->allow_extra_args(false);
  cmd->add_option("--tmpfs", o.tmpfs, "/CTR[:OPTIONS]: a tmpfs there (noexec,nosuid,nodev)")
      ->allow_extra_args(false);
  cmd->add_option("--mount", o.mounts, "type=bind|volume|tmpfs,source=..,target=..[,readonly]")
      ->allow_extra_args(false);
  if (is_run) {
    cmd->add_flag("--detach,-d", f.detach, "run in the background; print the id");
    cmd->add_flag("--sig-proxy", f.sig_proxy,
                  "forward received signals to the container (default true; not with -t)");
    cmd->add_option("--detach-keys", f.detach_keys, "the keys that detach (default ctrl-p,ctrl-q)");
  }
}

engine::CreateRequest request_of(CreateFlags& f) {
  engine::CreateRequest r = f.request;
  r.image = f.image;
  r.options.command = f.command;
  if (f.privileged) throw lab::UserError(engine::kPrivilegedRefused);
  if (r.options.network.empty()) r.options.network = "bridge";
  return r;
}

int create_verb(const EngineOptions& options, CreateFlags& f) {
  return with_run_errors([&] {
    engine::Paths paths = engine::paths_for(options.root, options.explain);
    try {
      std::cout << engine::create(paths, request_of(f)) << '\n';
    } catch (const engine::StartFailure& e) {
      // Docker's create does not run the program: it is made, and its start will fail.
      std::cout << e.id << '\n';
    }
    return 0;
  });
}

// The exit code the monitor writes on the pipe the CLI handed it: EOF once the monitor is done
// (for --rm, after its clean-up). A monitor that died wrote nothing: the record says.
int exit_code_from_pipe(const engine::Paths& paths, const std::string& id, int exit_read,
                        std::optional<int> known) {
  std::string text;
  char buf[64];
  ssize_t n;
  while ((n = ::read(exit_read, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) text.append(buf, static_cast<size_t>(n));
  if (known) return *known;
  if (!text.empty()) return std::atoi(text.c_str());
  try {
    engine::wait_exit(paths, id, 10000);
    return engine::load(paths, id).exit_code;
  } catch (const lab::UserError&) {
    return 125;
  }
}

std::string detach_keys_of(const std::string& spec) {
  auto keys = parse_detach_keys(spec);
  if (!keys) throw lab::UserError(fmt::format("Invalid detach keys ({}) provided", spec));
  return *keys;
}

// A foreground run's relay: -t and -i as given, --sig-proxy without -t (Docker's rule: with a
// pty, ^C is the container's byte), the detach keys checked, and -it refused without a terminal.
RelayOptions relay_options_of(const CreateFlags& f, const engine::CreateRequest& r) {
  RelayOptions o;
  o.tty = r.options.tty;
  o.forward_stdin = r.options.interactive;
  o.sig_proxy = f.sig_proxy && !r.options.tty;
  o.detach_keys = detach_keys_of(f.detach_keys);
  if (r.options.tty && r.options.interactive && !::isatty(STDIN_FILENO))
    throw lab::UserError("the input device is not a TTY");
  return o;
}

// A foreground run is attached to the container's attach socket before its start (so no output
// is missed): stdout and stderr come from there, our stdin goes there with -i, and with -t our
// terminal is the container's (raw mode, window size, Ctrl-P Ctrl-Q to detach). --sig-proxy,
// Docker's default without -t: a signal to the CLI (Ctrl-C, kill) goes on to the container's
// PID 1 through the runtime, and the CLI goes on waiting for the exit.
int run_verb(const EngineOptions& options, CreateFlags& f) {
  return with_run_errors([&] {
    engine::Paths paths = engine::paths_for(options.root, options.explain);
    engine::CreateRequest r = request_of(f);
    if (f.detach) {
      int null_stdin = -1;
      std::string id = engine::create(paths, r, null_stdin, -1);
      engine::start(paths, id);
      std::cout << id << '\n';
      return 0;
    }
    RelayOptions relay_options = relay_options_of(f, r);
    int exit_pipe[2];
    lab::check(::pipe2(exit_pipe, O_CLOEXEC), "pipe2");
    lab::UniqueFd exit_read(exit_pipe[0]), exit_write(exit_pipe[1]);
    std::string id = engine::create(paths, r, -1, exit_write.get());
    exit_write = lab::UniqueFd();
    lab::UniqueFd sock(connect_attach(paths, id));
    RelayResult result =
        relay(paths, id, sock.get(), relay_options, [&] { engine::start(paths, id); });
    if (result.detached) return 0;  // it goes on running
    sock = lab::UniqueFd();
    return exit_code_from_pipe(paths, id, exit_read.get(), result.code);
  });
}

}  // namespace

// One piece of a container's output, printed as logs and a foreground run print it: stderr's
// on our stderr (stdout flushed first, so the order holds on a shared terminal).
void print_output(bool to_stderr, std::string_view text) {
  if (to_stderr) {
    std::cout.flush();
    std::fwrite(text.data(), 1, text.size(), stderr);
  } else {
    std::cout << text << std::flush;
  }
}

// ---- through a daemon (-H) ---------------------------------------------------------------------

// The 8-byte framed stream of a hijacked attach or a log (stream, 0, 0, 0, length big-endian):
// each whole frame in `pending` printed to stdout or stderr, a partial one left for later.
void print_frames(std::string& pending) {
  while (pending.size() >= 8) {
    size_t size = (size_t{static_cast<unsigned char>(pending[4])} << 24) |
                  (size_t{static_cast<unsigned char>(pending[5])} << 16) |
                  (size_t{static_cast<unsigned char>(pending[6])} << 8) |
                  size_t{static_cast<unsigned char>(pending[7])};
    if (pending.size() < 8 + size) return;
    print_output(pending[0] == 2, std::string_view(pending).substr(8, size));
    pending.erase(0, 8 + size);
  }
}

namespace {

// The code Docker's CLI gives a start that failed, from the daemon's words (moby's
// cli/command/container/run.go): the program not found 127, not executable 126, else 125.
int start_failure_code(const std::string& message) {
  if (message.find("executable file not found") != std::string::npos ||
      message.find("no such file or directory") != std::string::npos)
    return 127;
  if (message.find("permission denied") != std::string::npos) return 126;
  return 125;
}

// What a relay through a daemon asks it for: the container's pty resized (Docker's CLI sends
// POST /containers/{id}/resize after the start; ours before it too, as the in-process relay
// does, so the first `stty size` inside is already right) and our signals passed on (--sig-proxy)
// as POST /containers/{id}/kill. Failures are dropped: the container may have exited meanwhile.
StreamHooks container_hooks(api::DaemonClient& daemon, const std::string& id,
                            std::function<void()> started) {
  StreamHooks hooks;
  hooks.started = std::move(started);
  hooks.resize = [&daemon, id](unsigned rows, unsigned cols) {
    daemon.call("POST", fmt::format("/containers/{}/resize?h={}&w={}", id, rows, cols));
  };
  hooks.proxy_signal = [&daemon, id](int sig) {
    daemon.call("POST", fmt::format("/containers/{}/kill?signal={}", id, sig));
  };
  return hooks;
}

// The StatusCode of a wait's body, at the container's exit.
int wait_status_code(api::ResponseStream& wait) {
  json exited = json::parse(wait.rest(), nullptr, false);
  if (!exited.is_object() || !exited.contains("StatusCode"))
    throw lab::UserError("the daemon's wait ended without an exit code");
  return exited["StatusCode"].get<int>();
}

// create and run through a daemon, as Docker's CLI does them: POST /containers/create with the
// body of these flags (-e KEY and --env-file read here, as the client's); for a foreground run,
// the attach (connection hijacked) and the wait (next-exit, or removed with --rm) before the
// start, so no output and no exit is missed; then the relay (relay_stream: -t's raw bytes and
// window size, -i, the detach keys) and the exit code the wait answers.
int create_remote(const EngineOptions& options, CreateFlags& f, bool run) {
  return with_run_errors([&] {
    engine::CreateRequest r = request_of(f);
    RelayOptions relay_options;
    if (run && !f.detach) relay_options = relay_options_of(f, r);
    r.options.env = exec::resolve_env(r.options.env_files, r.options.env, [](const char* key) {
      return static_cast<const char*>(std::getenv(key));
    });
    r.options.env_files.clear();
    api::DaemonClient daemon(options.host, options.explain);
    std::string target = "/containers/create";
    if (!r.name.empty()) target += "?name=" + api::url_escape(r.name);
    // A program that cannot be run fails the create when --rm removes the container at once
    // (the engine tries it there): the same codes as a failed start.
    auto refused_with_code = [](const api::ClientReply& reply) {
      try {
        api::throw_if_refused(reply);
      } catch (const lab::UserError& e) {
        throw engine::RunError(start_failure_code(e.what()), e.what());
      }
    };
    api::ClientReply created = daemon.call("POST", target, api::create_body(r).dump());
    refused_with_code(created);
    std::string id = json::parse(created.body)["Id"];
    if (!run) {
      std::cout << id << '\n';
      return 0;
    }
    auto start = [&] { refused_with_code(daemon.call("POST", "/containers/" + id + "/start")); };
    if (f.detach) {
      start();
      std::cout << id << '\n';
      return 0;
    }
    api::Hijacked attached =
        daemon.hijack(fmt::format("/containers/{}/attach?stream=1&stdout=1&stderr=1{}", id,
                                  r.options.interactive ? "&stdin=1" : ""));
    if (attached.status >= 400) {
      // Our daemon has no attach socket for a container whose program could not be run at
      // create (it keeps it "created" with State.Error, and its monitor is gone): the start then
      // tells why, with its code, as in-process; an attach refused for another reason stays so.
      start();
      api::throw_if_refused(attached.status, attached.reason, attached.body);
    }
    api::ResponseStream wait =
        daemon.open("POST", fmt::format("/containers/{}/wait?condition={}", id,
                                        r.auto_remove ? "removed" : "next-exit"));
    if (wait.status() >= 400) api::throw_if_refused(wait.status(), wait.reason(), wait.rest());
    RelayResult result = relay_stream(attached.fd.get(), std::move(attached.buffered),
                                      relay_options, container_hooks(daemon, id, start));
    if (result.detached) return 0;  // it goes on running
    return wait_status_code(wait);
  });
}

struct StartFlags {
  std::vector<std::string> refs;
  bool attach = false, interactive = false;
  std::string detach_keys = "ctrl-p,ctrl-q";
};

// start -a (and -i) through a daemon, as Docker's CLI does it: the container's json (its Tty
// and OpenStdin), the attach (our daemon makes an exited container's new monitor there, so the
// attach has its socket before the start), the wait for its next exit, the start, the relay.
int start_attached_remote(api::DaemonClient& daemon, const StartFlags& f, const std::string& ref) {
  json c = json::parse(daemon.checked("GET", "/containers/" + ref + "/json").body);
  std::string id = c["Id"];
  RelayOptions o;
  o.tty = c["Config"].value("Tty", false);
  o.forward_stdin = f.interactive && c["Config"].value("OpenStdin", false);
  o.sig_proxy = !o.tty;
  o.detach_keys = detach_keys_of(f.detach_keys);
  if (o.tty && o.forward_stdin && !::isatty(STDIN_FILENO))
    throw lab::UserError("the input device is not a TTY");
  api::Hijacked attached = daemon.hijack(fmt::format(
      "/containers/{}/attach?stream=1&stdout=1&stderr=1{}", id, o.forward_stdin ? "&stdin=1" : ""));
  if (attached.status >= 400) {
    // A program that cannot be run (126, 127) is told, as in-process, with exit 1.
    try {
      api::throw_if_refused(attached.status, attached.reason, attached.body);
    } catch (const lab::UserError& e) {
      if (attached.status != 400) throw;
      std::cout.flush();
      fmt::print(stderr, "Error: {}\n", e.what());
      return 1;
    }
  }
  api::ResponseStream wait = daemon.open("POST", "/containers/" + id + "/wait?condition=next-exit");
  if (wait.status() >= 400) api::throw_if_refused(wait.status(), wait.reason(), wait.rest());
  auto start = [&] { daemon.checked("POST", "/containers/" + id + "/start"); };
  RelayResult result = relay_stream(attached.fd.get(), std::move(attached.buffered), o,
                                    container_hooks(daemon, id, start));
  if (result.detached) return 0;
  return wait_status_code(wait);
}

int start_verb(const EngineOptions& options, StartFlags& f) {
  engine::Paths paths = engine::paths_for(options.root, options.explain);
  int rc = 0;
  if ((f.attach || f.interactive) && f.refs.size() > 1) {
    fmt::print(stderr, "Error: you cannot start and attach multiple containers at once\n");
    return 1;
  }
  // As Docker's CLI: a container whose program cannot be run (126, 127) is reported, and after
  // them all "failed to start containers: ..."; exit 1.
  std::vector<std::string> failed;
  std::optional<api::DaemonClient> daemon;
  if (!options.host.empty()) daemon.emplace(options.host, options.explain);
  for (const std::string& ref : f.refs) {
    rc = with_run_errors([&] {
      if (daemon && (f.attach || f.interactive)) return start_attached_remote(*daemon, f, ref);
      if (daemon) {
        // The daemon's 404 is our resolve()'s "No such container" (125, below); any other
        // refusal is the start failing, reported as the engine's 126 and 127 are.
        api::ClientReply reply = daemon->call("POST", "/containers/" + ref + "/start");
        if (reply.status == 404) api::throw_if_refused(reply);
        try {
          api::throw_if_refused(reply);
        } catch (const lab::UserError& e) {
          std::cout.flush();
          fmt::print(stderr, "Error: {}\n", e.what());
          failed.push_back(ref);
          return 1;
        }
        std::cout << ref << '\n';
        return 0;
      }
      std::string id = engine::resolve(paths, ref);
      if (!f.attach && !f.interactive) {
        try {
          engine::start(paths, id);
        } catch (const engine::RunError& e) {
          if (e.code != 126 && e.code != 127) throw;
          std::cout.flush();
          fmt::print(stderr, "Error: {}\n", e.what());
          failed.push_back(ref);
          return 1;
        }
        std::cout << ref << '\n';
        return 0;
      }
      // -a (and -i): attached before the start, as run is; an exited container first gets its
      // new monitor (and so its attach socket).
      engine::Container c = engine::load(paths, id);
      RelayOptions o;
      o.tty = c.config.value("Tty", false);
      o.forward_stdin = f.interactive && c.config.value("OpenStdin", false);
      o.sig_proxy = !o.tty;
      o.detach_keys = detach_keys_of(f.detach_keys);
      if (o.tty && o.forward_stdin && !::isatty(STDIN_FILENO))
        throw lab::UserError("the input device is not a TTY");
      try {
        engine::prepare_start(paths, id);
      } catch (const engine::RunError& e) {
        if (e.code != 126 && e.code != 127) throw;
        std::cout.flush();
        fmt::print(stderr, "Error: {}\n", e.what());
        return 1;
      }
      lab::UniqueFd sock(connect_attach(paths, id));
      RelayResult result = relay(paths, id, sock.get(), o, [&] { engine::start(paths, id); });
      if (result.detached) return 0;
      if (result.code) return *result.code;
      engine::wait_exit(paths, id, 10000);
      return engine::load(paths, id).exit_code;
    });
  }
  if (!failed.empty()) {
    std::string names;
    for (const std::string& ref : failed) names += (names.empty() ? "" : ", ") + ref;
    fmt::print(stderr, "Error: failed to start containers: {}\n", names);
    return 1;
  }
  return rc;
}

struct PsFlags {
  bool all = false, quiet = false, no_trunc = false;
};

// One container as `ps` shows it: what the engine's records say in-process, and what GET
// /containers/json says through a daemon.
struct PsRow {
  std::string id, image, command;
  int64_t created = 0;  // seconds since the epoch
  std::string status, ports, name;
};

void print_ps(const std::vector<PsRow>& listed, const PsFlags& f) {
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::vector<std::vector<std::string>> rows = {
      {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}};
  for (const PsRow& c : listed) {
    if (f.quiet) {
      std::cout << (f.no_trunc ? c.id : c.id.substr(0, 12)) << '\n';
      continue;
    }
    std::string command = c.command;
    if (!f.no_trunc && command.size() > 20) command = command.substr(0, 19) + "…";
    rows.push_back({f.no_trunc ? c.id : c.id.substr(0, 12), c.image, json(command).dump(),
                    graph::human_duration(now - c.created) + " ago", c.status, c.ports, c.name});
  }
  if (f.quiet) return;
  // Docker's table: tabwriter, padding 3, the last column not padded.
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      size_t w = 0;
      for (char ch : row[i]) w += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
      widths[i] = std::max(widths[i], w + 3);
    }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      size_t w = 0;
      for (char ch : row[i]) w += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
      if (i + 1 < row.size()) line += std::string(widths[i] - w, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << '\n';
  }
}

int ps_verb(const EngineOptions& options, const PsFlags& f) {
  engine::Paths paths = engine::paths_for(options.root, options.explain);
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::vector<PsRow> rows;
  for (const engine::Container& c : engine::list(paths)) {
    if (!f.all && c.status != "running" && !c.restarting) continue;
    std::string command = c.path;
    for (const std::string& a : c.args) command += " " + a;
    std::string ports;
    if (c.status == "running")
      for (const network::PortMapping& m : engine::published_ports(paths, c.id))
        ports += (ports.empty() ? "" : ", ") + network::describe(m);
    rows.push_back({c.id, c.image_name, command, graph::parse_rfc3339(c.created),
                    engine::status_text(c, now), ports, c.name.substr(1)});
  }
  print_ps(rows, f);
  return 0;
}

// ps through a daemon: GET /containers/json, the same table.
int ps_remote(const EngineOptions& options, const PsFlags& f) {
  api::DaemonClient daemon(options.host, options.explain);
  json listed = json::parse(
      daemon.checked("GET", fmt::format("/containers/json?all={}", f.all ? 1 : 0)).body);
  std::vector<PsRow> rows;
  for (const json& c : listed) {
    std::string ports;
    for (const json& p : c.value("Ports", json::array())) {
      network::PortMapping m;
      m.host_ip = p.value("IP", "");
      if (m.host_ip == "0.0.0.0") m.host_ip.clear();
      m.host_port = p.value("PublicPort", 0);
      m.container_port = p.value("PrivatePort", 0);
      m.protocol = p.value("Type", "tcp");
      ports += (ports.empty() ? "" : ", ") + network::describe(m);
    }
    std::string name = c["Names"].empty() ? "" : c["Names"][0].get<std::string>();
    rows.push_back({c["Id"], c["Image"], c["Command"], c["Created"].get<int64_t>(), c["Status"],
                    ports, name.empty() ? name : name.substr(1)});
  }
  print_ps(rows, f);
  return 0;
}

struct LogsFlags {
  std::string ref;
  bool follow = false, timestamps = false;
  std::string tail = "all";
};

// logs through a daemon: its json (for Tty), then GET /containers/{id}/logs, whose body is the
// 8-byte framed stream (stream, 0, 0, 0, length big-endian), or raw bytes for a tty container,
// printed as it comes (with -f, until the container exits).
int logs_remote(const EngineOptions& options, const LogsFlags& f) {
  api::DaemonClient daemon(options.host, options.explain);
  json c = json::parse(daemon.checked("GET", "/containers/" + f.ref + "/json").body);
  bool tty = c["Config"].value("Tty", false);
  api::ResponseStream stream = daemon.open(
      "GET", fmt::format("/containers/{}/logs?stdout=1&stderr=1&follow={}&tail={}&timestamps={}",
                         f.ref, f.follow ? 1 : 0, api::url_escape(f.tail), f.timestamps ? 1 : 0));
  if (stream.status() >= 400)
    api::throw_if_refused(stream.status(), stream.reason(), stream.rest());
  std::string pending;  // a frame may arrive in pieces
  for (std::string piece; !(piece = stream.next()).empty();) {
    if (tty) {
      print_output(false, piece);
      continue;
    }
    pending += piece;
    print_frames(pending);
  }
  return 0;
}

int logs_verb(const EngineOptions& options, const LogsFlags& f) {
  if (!options.host.empty()) return logs_remote(options, f);
  engine::Paths paths = engine::paths_for(options.root, options.explain);
  std::string id = engine::resolve(paths, f.ref);
  engine::read_logs(paths, id, {f.follow, f.tail}, [&](const engine::LogEntry& entry) {
    print_output(entry.stream == "stderr",
                 f.timestamps ? entry.time + " " + entry.text : entry.text);
    return true;
  });
  return 0;
}

engine::Paths paths_of_options(const EngineOptions& options) {
  return engine::paths_for(options.root, options.explain);
}

// Each ref in turn; failures are one line each and exit 1, as Docker's CLI does.
int for_each_ref(const std::vector<std::string>& refs,
                 const std::function<void(const std::string&)>& body) {
  int rc = 0;
  for (const std::string& ref : refs) {
    try {
      body(ref);
    } catch (const lab::UserError& e) {
      rc = report_user_error(e.what());
    }
  }
  return rc;
}

}  // namespace

void add_container_verbs(CLI::App& app, const EngineOptions& options,
                         std::function<int()>& action) {
  static CreateFlags create_flags, run_flags;
  auto* create_cmd = app.add_subcommand("create", "Create a new container");
  docker_args(create_cmd, "[OPTIONS] IMAGE [COMMAND] [ARG...]", at_least(1));
  add_create_flags(create_cmd, create_flags, false);
  create_cmd->callback([&] {
    action = [&] {
      return options.host.empty() ? create_verb(options, create_flags)
                                  : create_remote(options, create_flags, false);
    };
  });
  auto* run_cmd = app.add_subcommand("run", "Run a command in a new container");
  docker_args(run_cmd, "[OPTIONS] IMAGE [COMMAND] [ARG...]", at_least(1));
  add_create_flags(run_cmd, run_flags, true);
  run_cmd->callback([&] {
    action = [&] {
      return options.host.empty() ? run_verb(options, run_flags)
                                  : create_remote(options, run_flags, true);
    };
  });

  static StartFlags start_flags;
  auto* start_cmd = app.add_subcommand("start", "Start one or more stopped containers");
  docker_args(start_cmd, "[OPTIONS] CONTAINER [CONTAINER...]", at_least(1));
  start_cmd->add_option("container", start_flags.refs, "NAME or ID")->required();
  start_cmd->add_flag("--attach,-a", start_flags.attach, "print its output; exit with its code");
  start_cmd->add_flag("--interactive,-i", start_flags.interactive, "attach our stdin too");
  start_cmd->add_option("--detach-keys", start_flags.detach_keys,
                        "the keys that detach (default ctrl-p,ctrl-q)");
  start_cmd->callback([&] { action = [&] { return start_verb(options, start_flags); }; });

  static PsFlags ps_flags;
  auto add_ps = [&](CLI::App* cmd) {
    cmd->add_flag("--all,-a", ps_flags.all, "every container, not only running ones");
    cmd->add_flag("--quiet,-q", ps_flags.quiet, "ids only");
    cmd->add_flag("--no-trunc", ps_flags.no_trunc, "do not shorten ids and commands");
    cmd->callback([&] {
      action = [&] {
        return options.host.empty() ? ps_verb(options, ps_flags) : ps_remote(options, ps_flags);
      };
    });
  };
  CLI::App* ps_cmd = app.add_subcommand("ps", "List containers");
  docker_args(ps_cmd, "[OPTIONS]", kNoArgs);
  add_ps(ps_cmd);

  static LogsFlags logs_flags;
  auto* logs_cmd = app.add_subcommand("logs", "Fetch the logs of a container");
  docker_args(logs_cmd, "[OPTIONS] CONTAINER", exactly(1));
  logs_cmd->add_option("container", logs_flags.ref, "NAME or ID")->required();
  logs_cmd->add_flag("--follow,-f", logs_flags.follow, "go on until the container exits");
  logs_cmd->add_flag("--timestamps,-t", logs_flags.timestamps, "each line's time first");
  logs_cmd->add_option("--tail,-n", logs_flags.tail, "only the last N lines (default all)");
  logs_cmd->callback([&] { action = [&] { return logs_verb(options, logs_flags); }; });

  static std::vector<std::string> wait_refs;
  auto* wait_cmd = app.add_subcommand(
      "wait", "Block until one or more containers stop, then print their exit codes");
  docker_args(wait_cmd, "CONTAINER [CONTAINER...]", at_least(1));
  wait_cmd->add_option("container", wait_refs, "NAME or ID")->required();
  wait_cmd->callback([&] {
    action = [&] {
      if (!options.host.empty()) {
        // POST /containers/{id}/wait (condition not-running): its body comes at the exit.
        api::DaemonClient daemon(options.host, options.explain);
        return for_each_ref(wait_refs, [&](const std::string& ref) {
          api::ResponseStream wait = daemon.open("POST", "/containers/" + ref + "/wait");
          if (wait.status() >= 400)
            api::throw_if_refused(wait.status(), wait.reason(), wait.rest());
          std::cout << wait_status_code(wait) << '\n';
        });
      }
      engine::Paths paths = engine::paths_for(options.root, options.explain);
      return for_each_ref(wait_refs, [&](const std::string& ref) {
        std::string id = engine::resolve(paths, ref);
        engine::wait_exit(paths, id, -1);
        std::cout << engine::load(paths, id).exit_code << '\n';
      });
    };
  });

  static std::vector<std::string> stop_refs;
  static int stop_seconds = 10;
  auto* stop_cmd = app.add_subcommand("stop", "Stop one or more running containers");
  docker_args(stop_cmd, "[OPTIONS] CONTAINER [CONTAINER...]", at_least(1));
  stop_cmd->add_option("container", stop_refs, "NAME or ID")->required();
  stop_cmd->add_option("--time,-t", stop_seconds, "seconds before SIGKILL (default 10)")
      ->transform(int_flag());
  stop_cmd->callback([&] {
    action = [&] {
      if (!options.host.empty()) {
        api::DaemonClient daemon(options.host, options.explain);
        return for_each_ref(stop_refs, [&](const std::string& ref) {
          daemon.checked("POST", fmt::format("/containers/{}/stop?t={}", ref, stop_seconds));
          std::cout << ref << '\n';
        });
      }
      engine::Paths paths = engine::paths_for(options.root, options.explain);
      return for_each_ref(stop_refs, [&](const std::string& ref) {
        engine::stop(paths, engine::resolve(paths, ref), stop_seconds);
        std::cout << ref << '\n';
      });
    };
  });

  static std::vector<std::string> kill_refs;
  static std::string kill_signal = "KILL";
  auto* kill_cmd = app.add_subcommand("kill", "Kill one or more running containers");
  docker_args(kill_cmd, "[OPTIONS] CONTAINER [CONTAINER...]", at_least(1));
  kill_cmd->add_option("container", kill_refs, "NAME or ID")->required();
  kill_cmd->add_option("--signal,-s", kill_signal, "KILL, TERM, 9, ...");
  kill_cmd->callback([&] {
    action = [&] {
      int sig = runtime::parse_signal(kill_signal);
      if (sig == 0) throw lab::UserError("invalid signal: " + kill_signal);
      if (!options.host.empty()) {
        api::DaemonClient daemon(options.host, options.explain);
        return for_each_ref(kill_refs, [&](const std::string& ref) {
          daemon.checked("POST", fmt::format("/containers/{}/kill?signal={}", ref,
                                             api::url_escape(kill_signal)));
          std::cout << ref << '\n';
        });
      }
      engine::Paths paths = engine::paths_for(options.root, options.explain);
      return for_each_ref(kill_refs, [&](const std::string& ref) {
        engine::kill(paths, engine::resolve(paths, ref), sig);
        std::cout << ref << '\n';
      });
    };
  });

  static std::vector<std::string> rm_refs;
  static bool rm_force = false, rm_volumes = false;
  auto add_rm = [&](CLI::App* cmd) {
    docker_args(cmd, "[OPTIONS] CONTAINER [CONTAINER...]", at_least(1));
    cmd->add_option("container", rm_refs, "NAME or ID")->required();
    cmd->add_flag("--force,-f", rm_force, "kill it first if it is running");
    cmd->add_flag("--volumes,-v", rm_volumes, "remove its anonymous volumes too");
    cmd->callback([&] {
      action = [&] {
        if (!options.host.empty()) {
          api::DaemonClient daemon(options.host, options.explain);
          return for_each_ref(rm_refs, [&](const std::string& ref) {
            daemon.checked("DELETE", fmt::format("/containers/{}?force={}&v={}", ref,
                                                 rm_force ? 1 : 0, rm_volumes ? 1 : 0));
            std::cout << ref << '\n';
          });
        }
        engine::Paths paths = engine::paths_for(options.root, options.explain);
        return for_each_ref(rm_refs, [&](const std::string& ref) {
          std::string id = engine::resolve(paths, ref);
          if (rm_volumes)
            engine::remove_with_volumes(paths, id, rm_force);
          else
            engine::remove(paths, id, rm_force);
          std::cout << ref << '\n';
        });
      };
    });
  };
  add_rm(app.add_subcommand("rm", "Remove one or more containers"));

  static std::vector<std::string> inspect_refs;
  auto add_inspect = [&](CLI::App* cmd) {
    cmd->add_option("container", inspect_refs, "NAME or ID")->required();
    cmd->callback([&] {
      action = [&] {
        engine::Paths paths = engine::paths_for(options.root, options.explain);
        json out = json::array();
        std::vector<std::string> missing;
        std::optional<api::DaemonClient> daemon;
        if (!options.host.empty()) daemon.emplace(options.host, options.explain);
        for (const std::string& ref : inspect_refs) {
          if (daemon) {
            // Only the daemon's 404 is a missing container: not reaching it is an error.
            api::ClientReply reply = daemon->call("GET", "/containers/" + ref + "/json");
            if (reply.status == 404) {
              missing.push_back(ref);
              continue;
            }
            api::throw_if_refused(reply);
            out.push_back(json::parse(reply.body));
            continue;
          }
          try {
            out.push_back(engine::inspect(paths, engine::load(paths, engine::resolve(paths, ref))));
          } catch (const lab::UserError&) {
            missing.push_back(ref);
          }
        }
        std::cout << out.dump(4) << '\n';
        for (const std::string& ref : missing) report_user_error("No such container: " + ref);
        return missing.empty() ? 0 : 1;
      };
    });
  };
  // Docker's top-level inspect takes any object; ours knows containers, under its Use and Short.
  CLI::App* inspect_cmd =
      app.add_subcommand("inspect", "Return low-level information on Docker objects");
  docker_args(inspect_cmd, "[OPTIONS] NAME|ID [NAME|ID...]", at_least(1));
  add_inspect(inspect_cmd);

  static std::string port_ref, port_private;
  auto* port_cmd =
      app.add_subcommand("port", "List port mappings or a specific mapping for the container");
  docker_args(port_cmd, "CONTAINER [PRIVATE_PORT[/PROTO]]", between(1, 2));
  port_cmd->add_option("container", port_ref, "NAME or ID")->required();
  port_cmd->add_option("port", port_private, "PRIVATE_PORT[/PROTO]: only this one");
  port_cmd->callback([&] {
    action = [&] {
      // Each published port as "80/tcp" and its "0.0.0.0:8080": the engine's list in-process,
      // the container's NetworkSettings.Ports (GET /containers/{id}/json) through a daemon.
      std::vector<std::pair<std::string, std::string>> published;
      if (!options.host.empty()) {
        api::DaemonClient daemon(options.host, options.explain);
        json c = json::parse(daemon.checked("GET", "/containers/" + port_ref + "/json").body);
        json ports = c["NetworkSettings"].value("Ports", json::object());
        for (const auto& [key, bindings] : ports.items())
          for (const json& b : bindings.is_array() ? bindings : json::array()) {
            std::string ip = b.value("HostIp", "");
            published.emplace_back(key,
                                   (ip.empty() ? "0.0.0.0" : ip) + ":" + b.value("HostPort", ""));
          }
      } else {
        engine::Paths paths = engine::paths_for(options.root, options.explain);
        std::string id = engine::resolve(paths, port_ref);
        if (engine::load(paths, id).status == "running")
          for (const network::PortMapping& m : engine::published_ports(paths, id))
            published.emplace_back(
                fmt::format("{}/{}", m.container_port, m.protocol),
                fmt::format("{}:{}", m.host_ip.empty() ? "0.0.0.0" : m.host_ip, m.host_port));
      }
      std::string wanted = port_private;
      if (!wanted.empty() && wanted.find('/') == std::string::npos) wanted += "/tcp";
      bool any = false;
      for (const auto& [key, host] : published) {
        if (!wanted.empty() && key != wanted) continue;
        any = true;
        if (wanted.empty())
          std::cout << key << " -> " << host << '\n';
        else
          std::cout << host << '\n';
      }
      if (!wanted.empty() && !any)
        return report_user_error(
            fmt::format("No public port '{}' published for {}", wanted, port_ref));
      return 0;
    };
  });

  auto* container_cmd = app.add_subcommand("container", "Manage containers");
  container_cmd->require_subcommand(1);
  CLI::App* ls_cmd = container_cmd->add_subcommand("ls", "List containers")->alias("list");
  docker_args(ls_cmd, "[OPTIONS]", kNoArgs);
  add_ps(ls_cmd);
  add_rm(container_cmd->add_subcommand("rm", "Remove one or more containers")->alias("remove"));
  CLI::App* container_inspect = container_cmd->add_subcommand(
      "inspect", "Display detailed information on one or more containers");
  docker_args(container_inspect, "[OPTIONS] CONTAINER [CONTAINER...]", at_least(1));
  add_inspect(container_inspect);
  static bool prune_force = false;
  auto* prune_cmd = container_cmd->add_subcommand("prune", "Remove all stopped containers");
  docker_args(prune_cmd, "[OPTIONS]", kNoArgs);
  prune_cmd->add_flag("--force,-f", prune_force, "do not ask");
  prune_cmd->callback([&] {
    action = [&] {
      if (!prune_force) {
        std::cout << "WARNING! This will remove all stopped containers.\nAre you sure you want "
                     "to continue? [y/N] "
                  << std::flush;
        std::string answer;
        std::getline(std::cin, answer);
        if (answer != "y" && answer != "Y") return 0;
      }
      std::vector<std::string> deleted;
      uint64_t reclaimed = 0;
      if (!options.host.empty()) {
        api::DaemonClient daemon(options.host, options.explain);
        json pruned = json::parse(daemon.checked("POST", "/containers/prune").body);
        deleted = api::strings_of(pruned.value("ContainersDeleted", json()));
        reclaimed = pruned.value("SpaceReclaimed", uint64_t{0});
      } else {
        deleted = engine::prune(paths_of_options(options), &reclaimed);
      }
      if (!deleted.empty()) {
        std::cout << "Deleted Containers:\n";
        for (const auto& id : deleted) std::cout << id << '\n';
        std::cout << '\n';
      }
      std::cout << "Total reclaimed space: " << graph::human_size(static_cast<double>(reclaimed))
                << '\n';
      return 0;
    };
  });

  // The monitor's last step for a container with a --restart policy (engine/restart.hpp).
  static std::string restart_id;
  auto* restart_cmd = container_cmd->add_subcommand("_restart", "apply a restart policy (monitor)");
  restart_cmd->group("");
  restart_cmd->add_option("id", restart_id)->required();
  restart_cmd->callback([&] {
    action = [&] {
      engine::restart_by_policy(engine::paths_for(options.root, false), restart_id);
      return 0;
    };
  });
}

}  // namespace client
