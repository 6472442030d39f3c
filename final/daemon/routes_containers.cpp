// The daemon's routes for containers: create, start, attach, wait, logs, stop, kill, rm, ... and
// exec. Each calls the engine job the CLI's verb calls (final/engine/containers.hpp, ops.hpp,
// logs.hpp, files.hpp) and answers as dockerd does.
//
// `docker run` is several requests: create; attach (before the start, so no output is missed);
// wait?condition=next-exit (removed with --rm), whose headers come at once and whose body comes
// at the exit; start; then the client exits with the wait's StatusCode. Attach and exec start take
// the connection over ("hijack": 101 UPGRADED, then raw bytes both ways), and the daemon becomes
// one more client of the container's monitor (final/monitor/attach_protocol.hpp), as our own CLI
// is: output comes from the monitor's attach socket, the client's input goes to it.
//
// Docker's stream framing: without a pty, stdout and stderr share the one connection, so each
// piece of output goes with an 8-byte header, [STREAM, 0, 0, 0, SIZE as a big-endian uint32],
// STREAM 1 for stdout and 2 for stderr (the docker client's stdcopy splits them again). With a
// pty there is one stream, raw.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "cli.hpp"
#include "client/attach.hpp"
#include "daemon/container_api.hpp"
#include "daemon/handlers.hpp"
#include "engine/containers.hpp"
#include "engine/files.hpp"
#include "engine/logs.hpp"
#include "engine/ops.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "monitor/attach_protocol.hpp"
#include "runtime/container.hpp"

namespace api {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

engine::Paths paths_of(const Engine& engine) { return engine::paths_for(engine.root, false); }

Response no_content(int status = 204) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  return r;
}

// All of `data` to a file or a pty's master (nothing for fd -1).
void write_fd(int fd, std::string_view data) {
  while (fd >= 0 && !data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// All of `data` to a socket, without a SIGPIPE when the other end is gone (nothing for fd -1).
void send_fd(int fd, std::string_view data) {
  while (fd >= 0 && !data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// The engine's errors under Docker's status codes. DaemonError is the container's state in the
// way (409: not running, paused, a name in use), unless it names a missing container (404) or a
// bad name (400). RunError: a name in use is 409; a program that cannot be run is 400 with the
// runtime's words (the docker client reads 126 or 127 from them); the rest 500. lab::UserError
// goes on to the router (404 for "No such ...", else 400).
Response engine_errors(const std::function<Response()>& body) {
  try {
    return body();
  } catch (const engine::DaemonError& e) {
    std::string message = e.what();
    if (message.starts_with("No such ")) return error_response(404, message);
    if (message.starts_with("Invalid ")) return error_response(400, message);
    return error_response(409, message);
  } catch (const engine::RunError& e) {
    std::string message = e.what();
    if (message.starts_with("Conflict.")) return error_response(409, message);
    if (e.code == 126 || e.code == 127) return error_response(400, message);
    return error_response(500, message);
  }
}

// A route's handler with the engine's errors translated.
Handler route(const Engine& engine, Response (*handler)(const Engine&, const Request&)) {
  return [&engine, handler](const Request& request) {
    return engine_errors([&] { return handler(engine, request); });
  };
}

json parse_body(const Request& request) {
  if (request.body.empty()) return json::object();
  json body = json::parse(request.body, nullptr, false);
  if (!body.is_object()) throw lab::UserError("invalid JSON in the request body");
  return body;
}

// A query integer ("t=3"); `fallback` when absent. 400 for anything that is not a number.
long query_int(const Request& request, const std::string& key, long fallback) {
  auto it = request.query.find(key);
  if (it == request.query.end() || it->second.empty()) return fallback;
  auto value = lab::whole_number(it->second);
  if (!value) throw lab::UserError(fmt::format("invalid value for {}: {}", key, it->second));
  return static_cast<long>(*value);
}

std::string query_string(const Request& request, const std::string& key,
                         const std::string& fallback = "") {
  auto it = request.query.find(key);
  return it == request.query.end() ? fallback : it->second;
}

// ---- create -------------------------------------------------------------------------------------

// POST /containers/create?name=NAME -> 201 {"Id", "Warnings"}.
Response create_container(const Engine& engine, const Request& request) {
  json body = parse_body(request);
  engine::CreateRequest r = create_request(body, query_string(request, "name"));
  engine::Paths paths = paths_of(engine);
  std::string id;
  try {
    id = engine::create(paths, r);
  } catch (const engine::StartFailure& e) {
    id = e.id;  // made, as Docker's create makes it; its start will fail with these words
  } catch (const lab::UserError& e) {
    std::string message = e.what();
    if (message.starts_with("No such image: "))
      return error_response(404, "No such image: " + with_default_tag(r.image));
    throw;
  }
  return json_response({{"Id", id}, {"Warnings", json::array()}}, 201);
}

// ---- start, stop, restart, kill, pause, unpause, rename, rm -------------------------------------

std::string id_of_paths(const engine::Paths& paths, const Request& request) {
  return engine::resolve(paths, request.params.at("id"));
}

std::string id_of(const Engine& engine, const Request& request) {
  return id_of_paths(paths_of(engine), request);
}

// POST /containers/{id}/start: 204, or 304 when it is already running.
Response start_container(const Engine& engine, const Request& request) {
  engine::Paths paths = paths_of(engine);
  std::string id = id_of(engine, request);
  if (engine::load(paths, id).status == "running") return no_content(304);
  engine::start(paths, id);
  return no_content();
}

// POST /containers/{id}/stop?t=SECONDS: 204, or 304 when it is not running.
Response stop_container(const Engine& engine, const Request& request) {
  engine::Paths paths = paths_of(engine);
  std::string id = id_of(engine, request);
  if (engine::load(paths, id).status != "running") return no_content(304);
  engine::stop(paths, id, static_cast<int>(query_int(request, "t", 10)));
  return no_content();
}

Response restart_container(const Engine& engine, const Request& request) {
  engine::Paths paths = paths_of(engine);
  engine::restart(paths, id_of(engine, request), static_cast<int>(query_int(request, "t", 10)));
  return no_content();
}

// POST /containers/{id}/kill?signal=SIG (default KILL): 409 when it is not running.
Response kill_container(const Engine& engine, const Request& request) {
  engine::Paths paths = paths_of(engine);
  std::string id = id_of(engine, request);
  std::string name = query_string(request, "signal", "KILL");
  int signal = runtime::parse_signal(name.empty() ? "KILL" : name);
  if (signal == 0) throw lab::UserError("Invalid signal: " + name);
  try {
    engine::kill(paths, id, signal);
  } catch (const lab::UserError& e) {
    std::string message = e.what();
    if (message.find("is not running") != std::string::npos) return error_response(409, message);
    throw;
  }
  // As Docker's daemon: a SIGKILL is answered once the container has exited (it cannot refuse
  // it), so that `docker kill web; docker rm web` finds it stopped.
  if (signal == SIGKILL) engine::wait_exit(paths, id, 10000);
  return no_content();
}

Response pause_container(const Engine& engine, const Request& request) {
  engine::pause(paths_of(engine), id_of(engine, request));
  return no_content();
}

Response unpause_container(const Engine& engine, const Request& request) {
  engine::unpause(paths_of(engine), id_of(engine, request));
  return no_content();
}

// POST /containers/{id}/rename?name=NEW
Response rename_container(const Engine& engine, const Request& request) {
  std::string name = query_string(request, "name");
  if (name.empty()) throw lab::UserError("Neither old nor new names may be empty");
  engine::rename(paths_of(engine), request.params.at("id"), name);
  return no_content();
}

// DELETE /containers/{id}?force=1&v=1. A running container without force is refused with the
// words of Docker's daemon (API 1.41), which the docker client prints.
Response remove_container(const Engine& engine, const Request& request) {
  engine::Paths paths = paths_of(engine);
  std::string id = id_of(engine, request);
  bool force = query_bool(request, "force");
  engine::Container c = engine::load(paths, id);
  if (c.status == "running" && !force)
    return error_response(
        409, c.paused ? fmt::format("You cannot remove a paused container {}. Unpause and then "
                                    "stop the container before attempting removal or force "
                                    "remove",
                                    id)
                      : fmt::format("You cannot remove a running container {}. Stop the "
                                    "container before attempting removal or force remove",
                                    id));
  if (query_bool(request, "v"))
    engine::remove_with_volumes(paths, id, force);
  else
    engine::remove(paths, id, force);
  return no_content();
}

// ---- top, stats, changes ------------------------------------------------------------------------

// GET /containers/{id}/top?ps_args=aux -> {"Titles": [...], "Processes": [[...], ...]}.
Response top_container(const Engine& engine, const Request& request) {
  std::vector<std::string> ps_args;
  std::string text = query_string(request, "ps_args");
  for (size_t start = 0; start < text.size();) {
    size_t space = text.find(' ', start);
    if (space == std::string::npos) space = text.size();
    if (space > start) ps_args.push_back(text.substr(start, space - start));
    start = space + 1;
  }
  engine::PsTable table = engine::top(paths_of(engine), id_of(engine, request), ps_args);
  return json_response({{"Titles", table.titles}, {"Processes", table.rows}});
}

// One of Docker's stats objects: what `docker stats` computes its columns from (CPU % from the
// difference between cpu_stats and precpu_stats, memory, block and network I/O, pids).
json stats_json(const engine::Container& c, const engine::Sample& now, const engine::Sample& before,
                const std::string& read, const std::string& preread) {
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  auto cpu = [&](const engine::Sample& s) {
    return json{
        {"cpu_usage",
         {{"total_usage", s.cpu_usage_ns}, {"usage_in_kernelmode", 0}, {"usage_in_usermode", 0}}},
        {"system_cpu_usage", s.system_usage_ns},
        {"online_cpus", cpus},
        {"throttling_data", {{"periods", 0}, {"throttled_periods", 0}, {"throttled_time", 0}}}};
  };
  json out = {
      {"read", read},
      {"preread", preread},
      {"id", c.id},
      {"name", c.name},
      {"num_procs", 0},
      {"pids_stats", {{"current", now.pids}}},
      {"cpu_stats", cpu(now)},
      {"precpu_stats", cpu(before)},
      // usage is already without the inactive page cache (engine::sample), so no "stats" keys
      // for the client to subtract.
      {"memory_stats", {{"usage", now.memory_usage}, {"limit", now.memory_limit}}},
      {"blkio_stats",
       {{"io_service_bytes_recursive",
         json::array({{{"major", 0}, {"minor", 0}, {"op", "Read"}, {"value", now.block_read}},
                      {{"major", 0}, {"minor", 0}, {"op", "Write"}, {"value", now.block_write}}})},
        {"io_serviced_recursive", json::array()}}},
      {"storage_stats", json::object()},
  };
  std::string mode = c.host_config.value("NetworkMode", "");
  if (mode != "none" && mode != "host")
    out["networks"] = {{"eth0", {{"rx_bytes", now.net_rx}, {"tx_bytes", now.net_tx}}}};
  return out;
}

// GET /containers/{id}/stats?stream=0|1. Two readings a second apart (Docker's daemon reads
// every second; its precpu_stats is the reading before), taken in the stream, after the headers.
// stream=1 (the default) sends one object a second until the client goes or the container
// stops.
Response container_stats(const Engine& engine, const Request& request) {
  engine::Paths paths = paths_of(engine);
  std::string id = id_of(engine, request);
  bool streaming = request.query.contains("stream") ? query_bool(request, "stream") : true;
  Response r;
  r.stream = [paths, id, streaming](Connection& connection) {
    engine::Container c = engine::load(paths, id);
    auto reading = [&](engine::Sample& s) {
      try {
        c = engine::load(paths, id);
        if (c.status != "running") return false;
        s = engine::sample(c);
        return true;
      } catch (const std::exception&) {
        return false;  // it exited, or was removed, in between
      }
    };
    engine::Sample before{}, now{};
    std::string preread = "0001-01-01T00:00:00Z", read = graph::rfc3339_now();
    bool running = reading(before);
    for (;;) {
      if (running) {
        ::usleep(1000000);
        preread = read;
        read = graph::rfc3339_now();
        running = reading(now);
      }
      // A container that is not running reads as zeros, as Docker's daemon answers for it.
      if (!running) now = before = engine::Sample{};
      if (!connection.write(stats_json(c, now, before, read, preread).dump() + "\n")) return;
      if (!streaming || !running) return;
      before = now;
    }
  };
  return r;
}

// GET /containers/{id}/changes -> [{"Path", "Kind"}]: Kind 0 changed, 1 added, 2 deleted.
Response container_changes(const Engine& engine, const Request& request) {
  json out = json::array();
  for (const engine::Change& change : engine::diff(paths_of(engine), id_of(engine, request)))
    out.push_back({{"Path", change.path},
                   {"Kind", change.kind == 'C'   ? 0
                            : change.kind == 'A' ? 1
                                                 : 2}});
  return json_response(out);
}

// ---- archive (docker cp) ------------------------------------------------------------------------

// The path of an archive request, resolved in the container as `minidocker cp` resolves it;
// Docker's 404 for a path that is not there.
std::optional<Response> archive_path(const engine::Paths& paths, const Request& request,
                                     std::string& id, std::string& path, engine::PathStat& stat) {
  id = id_of_paths(paths, request);
  path = query_string(request, "path");
  if (path.empty()) throw lab::UserError("path cannot be empty");
  try {
    stat = engine::stat_path(paths, id, request.params.at("id"), path);
  } catch (const lab::UserError& e) {
    std::string message = e.what();
    if (message.starts_with("Could not find")) return error_response(404, message);
    throw;
  }
  return std::nullopt;
}

// HEAD /containers/{id}/archive?path=P: only the X-Docker-Container-Path-Stat header, which
// `docker cp` asks for the destination before it copies into a container.
Response archive_head(const Engine& engine, const Request& request) {
  engine::Paths paths = paths_of(engine);
  std::string id, path;
  engine::PathStat stat;
  if (auto missing = archive_path(paths, request, id, path, stat)) return *missing;
  Response r = no_content(200);
  r.headers["X-Docker-Container-Path-Stat"] = path_stat_header(stat);
  return r;
}

// The whole of a file (a memfd the tar went to).
std::string read_back(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(out.size()))) > 0 ||
         (n < 0 && errno == EINTR))
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// GET /containers/{id}/archive?path=P: a tar of P (what `minidocker cp CTR:P -` writes), with
// the stat header. `docker cp CTR:P DEST` unpacks it under DEST's name.
Response archive_get(const Engine& engine, const Request& request) {
  engine::Paths paths = paths_of(engine);
  std::string id, path;
  engine::PathStat stat;
  if (auto missing = archive_path(paths, request, id, path, stat)) return *missing;
  lab::UniqueFd tar(lab::check(::memfd_create("archive", MFD_CLOEXEC), "memfd_create"));
  engine::copy_from_container(paths, id, request.params.at("id"), path, "-", tar.get());
  Response r;
  r.content_type = "application/x-tar";
  r.headers["X-Docker-Container-Path-Stat"] = path_stat_header(stat);
  r.body = read_back(tar.get());
  return r;
}

// PUT /containers/{id}/archive?path=DIR: the request's tar unpacked in the container's DIR (what
// `minidocker cp - CTR:DIR` does).
Response archive_put(const Engine& engine, const Request& request) {
  engine::Paths paths = paths_of(engine);
  std::string id, path;
  engine::PathStat stat;
  if (auto missing = archive_path(paths, request, id, path, stat)) return *missing;
  lab::UniqueFd tar(lab::check(::memfd_create("archive", MFD_CLOEXEC), "memfd_create"));
  write_fd(tar.get(), request.body);
  lab::check(::lseek(tar.get(), 0, SEEK_SET), "lseek(archive, 0)");
  engine::copy_to_container(paths, id, request.params.at("id"), "-", path, tar.get());
  return no_content(200);
}

// ---- the hijacked connection --------------------------------------------------------------------

// Output to the client: raw with a pty, framed without. False once the client has gone.
bool send_output(Connection& connection, bool tty, char stream, std::string_view data) {
  if (data.empty()) return true;
  return connection.write(tty ? std::string(data) : frame(stream, data));
}

// What the client sent us: `data` (its input), `ended` when it half-closed (shutdown(SHUT_WR):
// its stdin is at its end), `gone` when it closed the connection.
struct ClientInput {
  std::string data;
  bool ended = false, gone = false;
};
ClientInput read_client(int fd, short revents) {
  ClientInput in;
  if (revents & POLLIN) {
    char buf[16384];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) in.data.assign(buf, static_cast<size_t>(n));
    if (n == 0) in.ended = true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) in.gone = true;
  }
  if (revents & (POLLHUP | POLLERR)) in.gone = true;
  return in;
}

// The end of a hijacked stream that the container ended, not the client: our side is shut for
// writing, so the client reads the end of the output, and what it may still be sending (the rest
// of a piped stdin) is read and dropped until it closes its side, for at most 2 s. Closing a
// unix socket with unread bytes in it resets the connection: the client would see "connection
// reset by peer" instead of the end of the output.
void end_hijack(Connection& connection) {
  int fd = connection.fd();
  ::shutdown(fd, SHUT_WR);
  char buf[16384];
  for (int waited = 0; waited < 2000;) {
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, 100);
    if (ready == 0) waited += 100;
    if (ready < 0 && errno != EINTR) return;
    if (ready <= 0) continue;
    ssize_t got = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) return;
  }
}

// Sends `data` to the monitor as input messages (at most kMaxMessage bytes each).
void send_input(int sock, std::string_view data) {
  for (size_t at = 0; at < data.size(); at += attach::kMaxMessage) {
    std::string msg = attach::message(attach::kInput, data.substr(at, attach::kMaxMessage));
    while (::send(sock, msg.data(), msg.size(), MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
  }
}

void send_message(int sock, const std::string& msg) {
  while (::send(sock, msg.data(), msg.size(), MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

// The container's monitor, connected; null when nobody listens (it has exited, or has none yet).
std::shared_ptr<lab::UniqueFd> connect_monitor(const engine::Paths& paths, const std::string& id) {
  int fd = attach::connect_socket(paths.root + "/containers/" + id);
  if (fd < 0) return nullptr;
  return std::make_shared<lab::UniqueFd>(fd);
}

// ---- attach, wait, resize, logs -----------------------------------------------------------------

// POST /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1[&logs=1][&detachKeys=...]
// The monitor's attach socket is connected here, before the 101 goes out: the docker client
// starts the container only after that, and nothing it prints is missed.
Response attach_route(const Engine& engine, const Request& request) {
  engine::Paths paths = paths_of(engine);
  std::string id = id_of(engine, request);
  engine::Container c = engine::load(paths, id);
  if (c.paused)
    return error_response(
        409, fmt::format("Container {} is paused, unpause the container before attach.", id));
  bool tty = c.config.value("Tty", false);
  bool want_stdin = query_bool(request, "stdin") && c.config.value("OpenStdin", false);
  bool want_stdout = query_bool(request, "stdout"), want_stderr = query_bool(request, "stderr");
  bool logs = query_bool(request, "logs"), stream = query_bool(request, "stream");
  std::string keys_spec = query_string(request, "detachKeys", "ctrl-p,ctrl-q");
  auto keys = client::parse_detach_keys(keys_spec);
  if (!keys) throw lab::UserError(fmt::format("Invalid detach keys ({}) provided", keys_spec));
  std::shared_ptr<lab::UniqueFd> monitor;
  if (stream && c.status != "running") {
    // `start -a` attaches before it starts: an exited container (or one whose program could not
    // be run at create) gets its new monitor here, as the CLI's own start -a makes it before it
    // connects (engine::prepare_start; 126 and 127 are the start's errors, 400). The start that
    // follows runs it, and the attach has its socket from the first byte.
    engine::prepare_start(paths, id);
  }
  if (stream) {
    monitor = connect_monitor(paths, id);
    if (!monitor && !logs)
      return error_response(409, "You cannot attach to a stopped container, start it first");
  }
  Response r;
  r.status = 101;
  r.content_type = "application/vnd.docker.raw-stream";
  r.stream = [=](Connection& connection) {
    auto wanted = [&](char s) { return s == attach::kStderr ? want_stderr : want_stdout; };
    if (logs) {
      bool ok = true;
      engine::read_logs(paths, id, {}, [&](const engine::LogEntry& entry) {
        char s = entry.stream == "stderr" ? attach::kStderr : attach::kStdout;
        if (wanted(s)) ok = send_output(connection, tty, s, entry.text);
        return ok;
      });
      if (!ok) return;
    }
    if (!monitor) return;
    int sock = monitor->get();
    client::DetachScanner scanner(tty ? *keys : std::string());
    // Input the server read past the request's headers is the container's too.
    std::string early = connection.take_buffered();
    if (want_stdin && !early.empty()) send_input(sock, early);
    bool input_open = true;
    std::string msg(attach::kMaxMessage + 1, '\0');
    for (;;) {
      pollfd fds[2] = {{sock, POLLIN, 0},
                       {connection.fd(), static_cast<short>(input_open ? POLLIN : 0), 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[0].revents) {
        ssize_t got = ::recv(sock, msg.data(), msg.size(), 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0 || msg[0] == attach::kExit) {  // it has exited: the stream ends
          end_hijack(connection);
          return;
        }
        char s = msg[0];
        if ((s == attach::kStdout || s == attach::kStderr) && wanted(s) &&
            !send_output(connection, tty, s,
                         std::string_view(msg.data() + 1, static_cast<size_t>(got) - 1)))
          return;  // the client has gone: our end of the monitor's socket closes with us
      }
      if (fds[1].revents) {
        ClientInput in = read_client(connection.fd(), fds[1].revents);
        if (!in.data.empty() && want_stdin) {
          bool detached = false;
          send_input(sock, scanner.feed(in.data, detached));
          if (detached) {  // the detach keys: the container goes on
            end_hijack(connection);
            return;
          }
        }
        if (in.ended) {
          // The client's half-close: its stdin is at its end, and so is the container's.
          if (want_stdin) send_message(sock, attach::message(attach::kEndOfInput));
          input_open = false;
        }
        if (in.gone) return;
      }
    }
  };
  return r;
}

// What the monitor's socket said at its end: the exit code from its 'x' (-1 when it closed
// without one), or that the client went first.
struct ExitMessage {
  bool client_gone = false;
  int code = -1;
};

// Waits on the monitor's socket for its 'x' (the exit code) or its close, or for the client to
// go.
ExitMessage wait_for_exit_message(int sock, int client) {
  std::string msg(attach::kMaxMessage + 1, '\0');
  for (;;) {
    pollfd fds[2] = {{sock, POLLIN, 0}, {client, 0, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return {true, -1};
    }
    if (fds[1].revents & (POLLHUP | POLLERR)) return {true, -1};
    if (!fds[0].revents) continue;
    ssize_t got = ::recv(sock, msg.data(), msg.size(), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return {false, -1};  // closed without a word: the record says
    if (msg[0] == attach::kExit)
      return {false, std::atoi(std::string(msg.data() + 1, static_cast<size_t>(got) - 1).c_str())};
  }
}

// POST /containers/{id}/wait?condition=not-running|next-exit|removed: the headers at once, the
// body {"StatusCode": N, "Error": null} when the condition is met. The wait is registered (the
// monitor's socket connected) before the headers go out: `docker run` starts the container only
// after it has them, and the exit of `echo hi` cannot come before.
Response wait_container(const Engine& engine, const Request& request) {
  engine::Paths paths = paths_of(engine);
  std::string id = id_of(engine, request);
  std::string condition = query_string(request, "condition", "not-running");
  if (condition.empty()) condition = "not-running";
  if (condition != "not-running" && condition != "next-exit" && condition != "removed")
    throw lab::UserError("invalid condition: " + condition);
  engine::Container c = engine::load(paths, id);
  auto body = [](int code) { return json{{"StatusCode", code}, {"Error", nullptr}}.dump(); };
  if (condition == "not-running" && c.status != "running")
    return json_response({{"StatusCode", c.exit_code}, {"Error", nullptr}});
  // A created or running container has a monitor listening; an exited one has none until it is
  // started again (next-exit), or it only has to go (removed).
  std::shared_ptr<lab::UniqueFd> monitor =
      c.status == "exited" ? nullptr : connect_monitor(paths, id);
  Response r;
  r.stream = [=](Connection& connection) {
    std::shared_ptr<lab::UniqueFd> sock = monitor;
    int last_code = c.exit_code;
    auto gone = [&] {
      pollfd p{connection.fd(), 0, 0};
      return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
    };
    auto exists = [&] { return fs::exists(paths.root + "/containers/" + id + "/config.v2.json"); };
    if (!sock && condition == "next-exit") {
      // Exited: its next run starts with a new monitor (engine::prepare_start).
      while (exists() && !sock) {
        if (gone()) return;
        if (!fs::exists(paths.root + "/containers/" + id + "/exit.json"))
          sock = connect_monitor(paths, id);
        if (!sock) ::usleep(50000);
      }
    }
    if (sock) {
      ExitMessage exit = wait_for_exit_message(sock->get(), connection.fd());
      if (exit.client_gone) return;
      if (exit.code >= 0) {
        last_code = exit.code;
      } else {
        try {
          engine::wait_exit(paths, id, 10000);
          last_code = engine::load(paths, id).exit_code;
        } catch (const lab::UserError&) {
          // removed meanwhile (--rm)
        }
      }
    }
    if (condition == "removed") {
      while (exists()) {
        if (gone()) return;
        ::usleep(20000);
      }
    }
    connection.write(body(last_code));
  };
  return r;
}

// POST /containers/{id}/resize?h=ROWS&w=COLS: the monitor sets it on the pty (TIOCSWINSZ) and
// answers, as for our CLI's window size.
Response resize_container(const Engine& engine, const Request& request) {
  engine::Paths paths = paths_of(engine);
  std::string id = id_of(engine, request);
  long rows = query_int(request, "h", 0), cols = query_int(request, "w", 0);
  if (rows <= 0 || cols <= 0 || rows > 65535 || cols > 65535)
    throw lab::UserError(fmt::format("invalid size: {}x{}", rows, cols));
  // A created container's monitor already holds its pty: our own client sets the size before
  // the start (as the CLI's relay does in-process), so the first `stty size` inside is right.
  // Docker's daemon takes it only while running; Docker's CLI sends it after the start.
  engine::Container c = engine::load(paths, id);
  if (c.status != "running" && c.status != "created")
    return error_response(409, fmt::format("Container {} is not running", id));
  auto sock = connect_monitor(paths, id);
  if (!sock) return error_response(409, fmt::format("Container {} is not running", id));
  send_message(sock->get(),
               attach::resize_message(static_cast<unsigned>(rows), static_cast<unsigned>(cols)));
  // Its answer, or 2 s (output may come first; it is not ours to show).
  std::string msg(attach::kMaxMessage + 1, '\0');
  for (int waited = 0; waited < 2000; waited += 100) {
    pollfd p{sock->get(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t got = ::recv(sock->get(), msg.data(), msg.size(), 0);
    if (got <= 0 || msg[0] == attach::kResize) break;
  }
  return no_content(200);
}

// GET /containers/{id}/logs?stdout=1&stderr=1&follow=1&timestamps=1&tail=N&since=T&until=T
Response container_logs(const Engine& engine, const Request& request) {
  engine::Paths paths = paths_of(engine);
  std::string id = id_of(engine, request);
  engine::Container c = engine::load(paths, id);
  bool tty = c.config.value("Tty", false);
  bool want_stdout = query_bool(request, "stdout"), want_stderr = query_bool(request, "stderr");
  if (!want_stdout && !want_stderr)
    throw lab::UserError("Bad parameters: you must choose at least one stream");
  engine::LogOptions options;
  options.follow = query_bool(request, "follow");
  options.tail = query_string(request, "tail", "all");
  if (options.tail.empty()) options.tail = "all";
  bool timestamps = query_bool(request, "timestamps");
  // since and until: Unix seconds, as the docker client sends them ("1700000000.000000000").
  double since = std::atof(query_string(request, "since", "0").c_str());
  double until = std::atof(query_string(request, "until", "0").c_str());
  if (options.tail != "all" && !lab::whole_number(options.tail))
    throw lab::UserError("invalid --tail " + options.tail);
  Response r;
  r.raw = true;  // Docker sends the log as a plain (framed) stream, to the connection's end
  r.content_type = "application/vnd.docker.raw-stream";
  r.stream = [=](Connection& connection) {
    engine::read_logs(
        paths, id, options,
        [&](const engine::LogEntry& entry) {
          char s = entry.stream == "stderr" ? attach::kStderr : attach::kStdout;
          if (!(s == attach::kStderr ? want_stderr : want_stdout)) return true;
          double t = static_cast<double>(graph::parse_rfc3339(entry.time));
          if (since > 0 && t < std::floor(since)) return true;
          if (until > 0 && t > until) return true;
          return send_output(connection, tty, s,
                             timestamps ? entry.time + " " + entry.text : entry.text);
        },
        [&] {
          pollfd p{connection.fd(), 0, 0};
          return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
        });
  };
  return r;
}

// ---- exec ---------------------------------------------------------------------------------------

// An exec instance: made by POST /containers/{id}/exec, run by POST /exec/{id}/start, read by
// GET /exec/{id}/json (the docker client asks it for the exit code). Kept in the daemon's memory,
// as dockerd keeps them.
struct ExecInstance {
  std::string id, container;
  engine::ExecRequest request;
  bool attach_stdout = true, attach_stderr = true;
  bool running = false, started = false;
  std::optional<int> exit_code;
  int pid = 0;
  int master = -1;  // the pty's master while it runs (-t): /exec/{id}/resize sets its size
};

struct ExecTable {
  std::mutex mutex;
  std::condition_variable done;
  std::map<std::string, std::shared_ptr<ExecInstance>> instances;
  std::shared_ptr<ExecInstance> find(const std::string& id) {
    std::lock_guard lock(mutex);
    auto it = instances.find(id);
    if (it == instances.end()) throw lab::UserError("No such exec instance: " + id);
    return it->second;
  }
};

std::string new_exec_id() {
  unsigned char bytes[32];
  lab::check(::getrandom(bytes, sizeof bytes, 0), "getrandom(32)");
  std::string id;
  for (unsigned char b : bytes) id += fmt::format("{:02x}", b);
  return id;
}

// A running container for exec, or Docker's 409.
std::optional<Response> not_execable(const engine::Container& c) {
  if (c.status != "running")
    return error_response(409, fmt::format("Container {} is not running", c.id));
  if (c.paused)
    return error_response(
        409, fmt::format("Container {} is paused, unpause the container before exec", c.id));
  return std::nullopt;
}

// POST /containers/{id}/exec {Cmd, Env, WorkingDir, User, Tty, AttachStdin, ...} -> 201 {"Id"}.
Response exec_create(const Engine& engine, ExecTable& table, const Request& request) {
  engine::Paths paths = paths_of(engine);
  std::string container = id_of(engine, request);
  if (auto refused = not_execable(engine::load(paths, container))) return *refused;
  json body = parse_body(request);
  if (body.value("Privileged", false))
    throw lab::UserError("exec --privileged is not supported: add what it needs with --cap-add");
  auto instance = std::make_shared<ExecInstance>();
  instance->id = new_exec_id();
  instance->container = container;
  engine::ExecRequest& r = instance->request;
  r.command = strings_of(body.value("Cmd", json()));
  if (r.command.empty()) throw lab::UserError("No exec command specified");
  r.env = client_env(body.value("Env", json()));
  r.workdir = body.value("WorkingDir", "");
  r.user = body.value("User", "");
  r.tty = body.value("Tty", false);
  r.interactive = body.value("AttachStdin", false);
  instance->attach_stdout = body.value("AttachStdout", false);
  instance->attach_stderr = body.value("AttachStderr", false);
  std::lock_guard lock(table.mutex);
  table.instances[instance->id] = instance;
  return json_response({{"Id", instance->id}}, 201);
}

// GET /exec/{id}/json
Response exec_inspect(const Engine&, ExecTable& table, const Request& request) {
  auto instance = table.find(request.params.at("id"));
  std::lock_guard lock(table.mutex);
  const engine::ExecRequest& r = instance->request;
  json arguments = std::vector<std::string>(r.command.begin() + 1, r.command.end());
  return json_response({
      {"ID", instance->id},
      {"ContainerID", instance->container},
      {"Running", instance->running},
      {"ExitCode", instance->exit_code ? json(*instance->exit_code) : json()},
      {"Pid", instance->pid},
      {"OpenStdin", r.interactive},
      {"OpenStdout", instance->attach_stdout},
      {"OpenStderr", instance->attach_stderr},
      {"CanRemove", false},
      {"DetachKeys", ""},
      {"ProcessConfig",
       {{"tty", r.tty},
        {"entrypoint", r.command.front()},
        {"arguments", arguments},
        {"privileged", false},
        {"user", r.user}}},
  });
}

// POST /exec/{id}/resize?h=&w=: the size of the pty of an exec -t, while it runs.
Response exec_resize(const Engine&, ExecTable& table, const Request& request) {
  auto instance = table.find(request.params.at("id"));
  long rows = query_int(request, "h", 0), cols = query_int(request, "w", 0);
  if (rows <= 0 || cols <= 0 || rows > 65535 || cols > 65535)
    throw lab::UserError(fmt::format("invalid size: {}x{}", rows, cols));
  std::lock_guard lock(table.mutex);
  if (instance->master < 0)
    return error_response(409, fmt::format("exec {} has no pty running", instance->id));
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(rows);
  ws.ws_col = static_cast<unsigned short>(cols);
  ::ioctl(instance->master, TIOCSWINSZ, &ws);
  return no_content(200);
}

// The exec's own run of engine::exec: the exit code recorded (a command that cannot be run:
// its message on the client's stdout, as dockerd writes it, and its code), then the instance
// is no longer running.
void run_exec(const engine::Paths& paths, ExecTable& table,
              const std::shared_ptr<ExecInstance>& instance, const engine::ExecRequest& r,
              int error_fd) {
  int code = 126;
  try {
    code = engine::exec(paths, instance->container, r);
  } catch (const engine::RunError& e) {
    code = e.code;
    std::string line = std::string(e.what()) + "\r\n";
    send_fd(error_fd, line);
  } catch (const std::exception& e) {
    send_fd(error_fd, std::string(e.what()) + "\r\n");
  }
  std::lock_guard lock(table.mutex);
  instance->exit_code = code;
  instance->running = false;
  instance->master = -1;
  table.done.notify_all();
}

// An exec -t's pty: the master's output to the client, the client's input to the master, until
// the process's side closes (EIO) or the client goes (then the master is closed by the engine
// and the process gets its SIGHUP).
void relay_pty(int master, Connection& connection, bool input, const std::string& early) {
  if (input) write_fd(master, early);
  bool input_open = input;
  char buf[16384];
  for (;;) {
    pollfd fds[2] = {{master, POLLIN, 0},
                     {connection.fd(), static_cast<short>(input_open ? POLLIN : 0), 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents) {
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      if (!connection.write(std::string_view(buf, static_cast<size_t>(n)))) return;
    }
    if (fds[1].revents) {
      ClientInput in = read_client(connection.fd(), fds[1].revents);
      write_fd(master, in.data);
      if (in.ended) {
        write_fd(master, "\x04");  // the end of input, as a terminal says it: its EOF character
        input_open = false;
      }
      if (in.gone) return;
    }
  }
}

// POST /exec/{id}/start {"Detach", "Tty"}: with Detach 200 at once; else the connection is
// hijacked as for attach, the process's stdio relayed to it, and closed at its exit.
Response exec_start(const Engine& engine, ExecTable& table, const Request& request) {
  engine::Paths paths = paths_of(engine);
  auto instance = table.find(request.params.at("id"));
  json body = parse_body(request);
  {
    std::lock_guard lock(table.mutex);
    if (instance->started)
      return error_response(409,
                            fmt::format("Error: Exec command {} is already running", instance->id));
    instance->started = true;
  }
  if (auto refused = not_execable(engine::load(paths, instance->container))) return *refused;
  engine::ExecRequest r = instance->request;
  std::string pid_file = paths.root + "/containers/" + instance->container + "/exec-" +
                         instance->id.substr(0, 12) + ".pid";
  r.pid_file = pid_file;
  if (r.tty && !engine::load(paths, instance->container).host_config.value("Runtime", "").empty())
    throw lab::UserError(
        "exec -t through the daemon needs our runtime: runc hands the pty over only with "
        "--detach, and the daemon would become the process's reaper");
  if (body.value("Detach", false)) {
    r.detach = true;
    r.tty = false;
    r.interactive = false;
    r.stdout_fd = r.stderr_fd = -1;
    {
      std::lock_guard lock(table.mutex);
      instance->running = true;
    }
    run_exec(paths, table, instance, r, -1);
    if (instance->exit_code != 0)
      return error_response(500, fmt::format("exec {} failed to start", instance->id));
    return no_content(200);
  }
  Response response;
  response.status = 101;
  response.content_type = "application/vnd.docker.raw-stream";
  response.stream = [paths, &table, instance, r, pid_file](Connection& connection) mutable {
    {
      std::lock_guard lock(table.mutex);
      instance->running = true;
    }
    std::string early = connection.take_buffered();
    if (r.tty) {
      // The pty's master comes to us from the runtime: relayed both ways until the process's
      // side closes (EIO), the process's exit code is the runtime's.
      r.stdout_fd = r.stderr_fd = -1;
      r.terminal = [&](int master) {
        {
          std::lock_guard lock(table.mutex);
          instance->master = master;
        }
        relay_pty(master, connection, r.interactive, early);
        std::lock_guard lock(table.mutex);
        instance->master = -1;  // the engine closes it next
      };
      // A command that cannot be run never gets its pty: its message goes on the stream itself
      // (raw, as the pty would have carried it), where the client's terminal shows it.
      run_exec(paths, table, instance, r, connection.fd());
      end_hijack(connection);
      return;
    }
    // Without a pty: a channel each for stdout, stderr and (AttachStdin) stdin. engine::exec
    // runs in a thread of its own, which holds the process's ends and closes them when it has
    // exited: then the reads below reach their end. Socket pairs rather than pipes: the daemon
    // writes to them with send(MSG_NOSIGNAL), so a process that is gone is an EPIPE, never a
    // SIGPIPE that would end the daemon (which cannot ignore SIGPIPE: its children, and so the
    // containers' processes, would inherit the SIG_IGN).
    auto make_pipe = [] {
      int fds[2];
      lab::check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                 "socketpair(AF_UNIX, SOCK_STREAM)");
      ::shutdown(fds[0], SHUT_WR);  // one way, as a pipe: fds[0] reads, fds[1] writes
      ::shutdown(fds[1], SHUT_RD);
      return std::pair<lab::UniqueFd, lab::UniqueFd>(fds[0], fds[1]);
    };
    auto [out_read, out_write] = make_pipe();
    auto [err_read, err_write] = make_pipe();
    lab::UniqueFd in_read, in_write;
    if (r.interactive) std::tie(in_read, in_write) = make_pipe();
    r.stdin_fd = in_read.get();
    r.stdout_fd = out_write.get();
    r.stderr_fd = err_write.get();
    auto held = std::make_shared<std::array<lab::UniqueFd, 3>>(std::array<lab::UniqueFd, 3>{
        std::move(in_read), std::move(out_write), std::move(err_write)});
    // Detached: a client that goes leaves the thread to reap the process and record its code.
    std::thread([paths, &table, instance, r, held] {
      run_exec(paths, table, instance, r, (*held)[1].get());
      for (lab::UniqueFd& fd : *held) fd.reset();
    }).detach();
    send_fd(in_write.get(), early);
    bool input_open = true;
    int open_outputs = 2;
    int pipes[2] = {out_read.get(), err_read.get()};
    char buf[16384];
    while (open_outputs > 0) {
      pollfd fds[3] = {{pipes[0], POLLIN, 0},
                       {pipes[1], POLLIN, 0},
                       {connection.fd(), static_cast<short>(input_open ? POLLIN : 0), 0}};
      if (::poll(fds, 3, 1000) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      {
        std::lock_guard lock(table.mutex);
        if (instance->pid == 0)
          instance->pid = static_cast<int>(std::atol(lab::read_file_or_empty(pid_file).c_str()));
      }
      for (int i = 0; i < 2; ++i) {
        if (!fds[i].revents) continue;
        ssize_t n = ::read(pipes[i], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          pipes[i] = -1;  // poll(2) skips a negative fd
          --open_outputs;
          continue;
        }
        bool wanted = i == 0 ? instance->attach_stdout : instance->attach_stderr;
        if (wanted && !send_output(connection, false, i == 0 ? attach::kStdout : attach::kStderr,
                                   std::string_view(buf, static_cast<size_t>(n))))
          return;  // the client has gone: our pipe ends close, the process sees EPIPE / EOF
      }
      if (fds[2].revents) {
        ClientInput in = read_client(connection.fd(), fds[2].revents);
        send_fd(in_write.get(), in.data);
        if (in.ended) {
          in_write.reset();  // the client's half-close: the process's stdin ends
          input_open = false;
        }
        if (in.gone) return;
      }
    }
    // The outputs end when the process has exited and its code is recorded: the docker client
    // asks GET /exec/{id}/json for it as soon as the connection closes.
    std::unique_lock lock(table.mutex);
    table.done.wait(lock, [&] { return !instance->running; });
    lock.unlock();
    end_hijack(connection);
  };
  return response;
}

}  // namespace

std::vector<Route> container_routes(const Engine& engine) {
  auto with = [&engine](Response (*handler)(const Engine&, const Request&)) {
    return route(engine, handler);
  };
  // The exec instances, shared by the exec routes for the daemon's life.
  auto table = std::make_shared<ExecTable>();
  auto with_execs =
      [&engine, table](Response (*handler)(const Engine&, ExecTable&, const Request&)) -> Handler {
    return [&engine, table, handler](const Request& request) {
      return engine_errors([&] { return handler(engine, *table, request); });
    };
  };
  // method, pattern (Docker's), handler: the router tries them in this order.
  return {
      {"POST", "/containers/create", with(create_container)},
      {"POST", "/containers/{id}/start", with(start_container)},
      {"POST", "/containers/{id}/stop", with(stop_container)},
      {"POST", "/containers/{id}/restart", with(restart_container)},
      {"POST", "/containers/{id}/kill", with(kill_container)},
      {"POST", "/containers/{id}/pause", with(pause_container)},
      {"POST", "/containers/{id}/unpause", with(unpause_container)},
      {"POST", "/containers/{id}/rename", with(rename_container)},
      {"POST", "/containers/{id}/resize", with(resize_container)},
      {"POST", "/containers/{id}/attach", with(attach_route)},
      {"POST", "/containers/{id}/wait", with(wait_container)},
      {"GET", "/containers/{id}/logs", with(container_logs)},
      {"GET", "/containers/{id}/top", with(top_container)},
      {"GET", "/containers/{id}/stats", with(container_stats)},
      {"GET", "/containers/{id}/changes", with(container_changes)},
      {"DELETE", "/containers/{id}", with(remove_container)},
      {"HEAD", "/containers/{id}/archive", with(archive_head)},
      {"GET", "/containers/{id}/archive", with(archive_get)},
      {"PUT", "/containers/{id}/archive", with(archive_put)},
      {"POST", "/containers/{id}/exec", with_execs(exec_create)},
      {"POST", "/exec/{id}/start", with_execs(exec_start)},
      {"POST", "/exec/{id}/resize", with_execs(exec_resize)},
      {"GET", "/exec/{id}/json", with_execs(exec_inspect)},
  };
}

}  // namespace api
