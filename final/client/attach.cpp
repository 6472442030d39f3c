// attach and restart, and the relay every foreground verb uses (see attach.hpp).
#include "client/attach.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <vector>

#include "client/engine.hpp"
#include "daemon/http_client.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "monitor/attach_protocol.hpp"

namespace client {

using nlohmann::json;

// ---- pure logic ------------------------------------------------------------------------------

std::optional<std::string> parse_detach_keys(const std::string& spec) {
  std::string out;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    std::string key = spec.substr(start, comma == std::string::npos ? comma : comma - start);
    if (key.size() == 1) {
      out += key;
    } else if (key.size() == 6 && key.starts_with("ctrl-")) {
      char c = static_cast<char>(std::tolower(static_cast<unsigned char>(key[5])));
      if (c >= 'a' && c <= 'z')
        out += static_cast<char>(c - 'a' + 1);
      else if (c == '@' || c == '[' || c == '\\' || c == ']' || c == '^' || c == '_')
        out += static_cast<char>(c - '@');  // Ctrl-@ is 0, Ctrl-[ is ESC, ... Ctrl-_ is 31
      else
        return std::nullopt;
    } else {
      return std::nullopt;
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::string DetachScanner::feed(std::string_view input, bool& detached) {
  std::string forward;
  detached = false;
  for (char c : input) {
    if (keys_.empty()) {
      forward += c;
      continue;
    }
    if (c == keys_[matched_]) {
      if (++matched_ == keys_.size()) {
        detached = true;  // what came after the keys is not the container's
        matched_ = 0;
        return forward;
      }
      continue;
    }
    // The sequence was broken: what was held back was input after all.
    forward.append(keys_, 0, matched_);
    matched_ = 0;
    if (c == keys_[0])
      matched_ = 1;
    else
      forward += c;
  }
  return forward;
}

// ---- the relay -------------------------------------------------------------------------------

namespace {

int g_signal_pipe = -1;
extern "C" void note_signal(int sig) {
  unsigned char b = static_cast<unsigned char>(sig);
  [[maybe_unused]] ssize_t n = ::write(g_signal_pipe, &b, 1);
}

// Our terminal in raw mode for as long as this lives (cfmakeraw: no echo, no line editing, no
// signals from ^C/^Z/^\, no output processing): every key goes to the container's pty as typed.
class RawTerminal {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (::tcgetattr(fd, &saved_) != 0) {
      fd_ = -1;
      return;
    }
    termios raw = saved_;
    ::cfmakeraw(&raw);
    ::tcsetattr(fd, TCSANOW, &raw);
  }
  ~RawTerminal() { restore(); }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  void restore() {
    if (fd_ >= 0) ::tcsetattr(fd_, TCSANOW, &saved_);
    fd_ = -1;
  }

 private:
  int fd_;
  termios saved_{};
};

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void send_message(int sock, const std::string& msg) {
  while (::send(sock, msg.data(), msg.size(), MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

// Our window's size (window_size()) as the monitor's 'w' message.
std::optional<std::string> window_size_message() {
  if (auto size = window_size()) return attach::resize_message(size->first, size->second);
  return std::nullopt;
}

// The signals a relay takes for as long as it lives: each one's number written on a pipe, which
// the relay polls with its data, so a signal is handled between two reads, never inside one.
class CaughtSignals {
 public:
  explicit CaughtSignals(std::initializer_list<int> signals) : signals_(signals) {
    int sp[2];
    lab::check(::pipe2(sp, O_CLOEXEC | O_NONBLOCK), "pipe2");
    read_ = lab::UniqueFd(sp[0]);
    write_ = lab::UniqueFd(sp[1]);
    g_signal_pipe = sp[1];
    struct sigaction sa {};
    sa.sa_handler = note_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (int sig : signals_) ::sigaction(sig, &sa, nullptr);
  }
  ~CaughtSignals() {
    for (int sig : signals_) ::signal(sig, SIG_DFL);
    g_signal_pipe = -1;
  }
  CaughtSignals(const CaughtSignals&) = delete;
  CaughtSignals& operator=(const CaughtSignals&) = delete;
  int fd() const { return read_.get(); }

 private:
  std::vector<int> signals_;
  lab::UniqueFd read_, write_;
};

// The signals CaughtSignals collected while a relay runs: SIGWINCH sends the terminal's new size
// (`resize`), the others go on to the container when it proxies them (`forward`, Docker's
// --sig-proxy) or, not proxied, are for us: the terminal first, then we die of the signal.
void dispatch_caught(int signal_fd, RawTerminal& terminal, const std::function<void()>& resize,
                     const std::function<void(int)>& forward) {
  unsigned char sig;
  while (::read(signal_fd, &sig, 1) == 1) {
    if (sig == SIGWINCH) {
      resize();
    } else if (forward) {
      forward(sig);
    } else {
      terminal.restore();
      ::signal(sig, SIG_DFL);
      ::raise(sig);
    }
  }
}

}  // namespace

std::optional<std::pair<unsigned short, unsigned short>> window_size() {
  winsize ws{};
  for (int fd : {STDIN_FILENO, STDOUT_FILENO})
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) return std::pair(ws.ws_row, ws.ws_col);
  return std::nullopt;
}

int connect_attach(const engine::Paths& paths, const std::string& id) {
  int fd = attach::connect_socket(paths.root + "/containers/" + id);
  if (fd < 0) throw lab::UserError("You cannot attach to a stopped container, start it first");
  return fd;
}

RelayResult relay(const engine::Paths& paths, const std::string& id, int sock,
                  const RelayOptions& o, const std::function<void()>& started) {
  // Caught whether proxied or not: a signal that ends us must first give the terminal back.
  CaughtSignals signals({SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH});
  ::signal(SIGPIPE, SIG_IGN);

  bool raw = o.tty && o.forward_stdin && ::isatty(STDIN_FILENO);
  RawTerminal terminal(raw ? STDIN_FILENO : -1);
  DetachScanner scanner(o.tty ? o.detach_keys : std::string());
  RelayResult result;
  std::string msg(attach::kMaxMessage + 1, '\0');

  // One message from the monitor: output is printed, 'x' is the end. False when the socket is
  // closed (the container has exited, or its monitor is gone).
  auto handle_message = [&](bool& acked) {
    ssize_t got = ::recv(sock, msg.data(), msg.size(), 0);
    if (got < 0 && errno == EINTR) return true;
    if (got <= 0) return false;
    std::string_view payload(msg.data() + 1, static_cast<size_t>(got) - 1);
    if (msg[0] == attach::kStdout) write_all(STDOUT_FILENO, payload);
    if (msg[0] == attach::kStderr) write_all(STDERR_FILENO, payload);
    if (msg[0] == attach::kResize) acked = true;
    if (msg[0] == attach::kExit) result.code = std::atoi(std::string(payload).c_str());
    return true;
  };

  // -t: the monitor sets our size on the pty before the container starts (it waits for the
  // answer), so the container's first `stty size` is already right.
  bool acked = true;
  if (o.tty) {
    if (auto size = window_size_message()) {
      send_message(sock, *size);
      acked = false;
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (!acked && std::chrono::steady_clock::now() < deadline) {
        pollfd pfd{sock, POLLIN, 0};
        if (::poll(&pfd, 1, 1000) > 0 && !handle_message(acked)) break;
      }
    }
  }
  if (started) started();

  bool stdin_open = o.forward_stdin;
  bool open = true;
  while (open && !result.code) {
    pollfd fds[3] = {
        {sock, POLLIN, 0}, {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}, {signals.fd(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) continue;
    if (fds[0].revents) open = handle_message(acked);
    if (fds[1].revents) {
      char buf[8192];
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        send_message(sock, attach::message(attach::kEndOfInput));
        stdin_open = false;
      } else {
        bool detached = false;
        std::string forward = scanner.feed(std::string_view(buf, static_cast<size_t>(n)), detached);
        for (size_t at = 0; at < forward.size(); at += attach::kMaxMessage)
          send_message(sock, attach::message(attach::kInput, std::string_view(forward).substr(
                                                                 at, attach::kMaxMessage)));
        if (detached) {
          result.detached = true;
          break;
        }
      }
    }
    if (fds[2].revents) {
      dispatch_caught(
          signals.fd(), terminal,
          [&] {
            if (auto size = window_size_message(); size && o.tty) send_message(sock, *size);
          },
          o.sig_proxy ? std::function<void(int)>([&](int sig) {
            try {
              engine::kill(paths, id, sig);
            } catch (const lab::UserError&) {
              // it has exited meanwhile
            }
          })
                      : nullptr);
    }
  }
  terminal.restore();
  return result;
}

void relay_master(int master, bool forward_stdin) {
  CaughtSignals signals({SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH});
  RawTerminal terminal(forward_stdin && ::isatty(STDIN_FILENO) ? STDIN_FILENO : -1);
  auto resize = [&] {
    winsize ws{};
    for (int fd : {STDIN_FILENO, STDOUT_FILENO})
      if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) {
        ::ioctl(master, TIOCSWINSZ, &ws);
        return;
      }
  };
  resize();
  bool stdin_open = forward_stdin;
  for (;;) {
    pollfd fds[3] = {{master, POLLIN, 0},
                     {stdin_open ? STDIN_FILENO : -1, POLLIN, 0},
                     {signals.fd(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) continue;
    if (fds[0].revents) {
      char buf[16384];
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // EIO: the process's side of the pty is closed
      write_all(STDOUT_FILENO, std::string_view(buf, static_cast<size_t>(n)));
    }
    if (fds[1].revents) {
      char buf[8192];
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0 && !(n < 0 && errno == EINTR)) stdin_open = false;
      if (n > 0) write_all(master, std::string_view(buf, static_cast<size_t>(n)));
    }
    if (fds[2].revents) {
      unsigned char sig;
      while (::read(signals.fd(), &sig, 1) == 1) {
        if (sig == SIGWINCH) {
          resize();
        } else {
          terminal.restore();
          ::signal(sig, SIG_DFL);
          ::raise(sig);
        }
      }
    }
  }
  terminal.restore();
}

RelayResult relay_stream(int sock, std::string pending, const RelayOptions& o,
                         const StreamHooks& hooks) {
  CaughtSignals signals({SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH});
  bool raw = o.tty && o.forward_stdin && ::isatty(STDIN_FILENO);
  RawTerminal terminal(raw ? STDIN_FILENO : -1);
  DetachScanner scanner(o.tty ? o.detach_keys : std::string());
  RelayResult result;
  // -t: our size first (the daemon's monitor sets it on the pty before the start, as for relay()).
  if (o.tty && hooks.resize)
    if (auto size = window_size()) hooks.resize(size->first, size->second);
  if (hooks.started) hooks.started();
  // With a pty the stream is the pty's bytes as they are; without, 8-byte frames.
  auto print = [&](std::string_view data) {
    if (o.tty) {
      write_all(STDOUT_FILENO, data);
      return;
    }
    pending.append(data);
    print_frames(pending);
  };
  std::string early = std::move(pending);
  pending.clear();
  print(early);
  bool stdin_open = o.forward_stdin;
  char buf[32768];
  for (;;) {
    pollfd fds[3] = {
        {sock, POLLIN, 0}, {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}, {signals.fd(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      lab::check(-1, "poll(the attach connection)");
    }
    if (fds[0].revents) {
      ssize_t n = ::read(sock, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // the daemon closed it: the container (or the process) has exited
      print(std::string_view(buf, static_cast<size_t>(n)));
    }
    if (fds[1].revents) {
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      bool detached = false;
      std::string forward =
          n > 0 ? scanner.feed(std::string_view(buf, static_cast<size_t>(n)), detached) : "";
      bool sent = n > 0;
      for (size_t off = 0; sent && off < forward.size();) {
        ssize_t w = ::send(sock, forward.data() + off, forward.size() - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0)
          sent = false;
        else
          off += static_cast<size_t>(w);
      }
      if (detached) {
        // The keys are ours, not the container's: we leave, it runs on. (The daemon sees the
        // connection close, and its monitor keeps the container.)
        result.detached = true;
        break;
      }
      if (!sent) {
        // Our stdin's end (a half-close, which the daemon passes on as the container's EOF), or
        // the container stopped reading: no more input either way.
        ::shutdown(sock, SHUT_WR);
        stdin_open = false;
      }
    }
    if (fds[2].revents) {
      dispatch_caught(
          signals.fd(), terminal,
          [&] {
            if (auto size = window_size(); size && o.tty && hooks.resize)
              hooks.resize(size->first, size->second);
          },
          o.sig_proxy ? hooks.proxy_signal : nullptr);
    }
  }
  terminal.restore();
  return result;
}

// ---- verbs -----------------------------------------------------------------------------------

namespace {

struct AttachFlags {
  std::string ref;
  bool no_stdin = false, sig_proxy = true;
  std::string detach_keys = "ctrl-p,ctrl-q";
};

int attach_verb(const EngineOptions& options, const AttachFlags& f) {
  engine::Paths paths = engine::paths_for(options.root, options.explain);
  std::string id = engine::resolve(paths, f.ref);
  engine::Container c = engine::load(paths, id);
  if (c.status != "running")
    throw lab::UserError("You cannot attach to a stopped container, start it first");
  auto keys = parse_detach_keys(f.detach_keys);
  if (!keys) throw lab::UserError(fmt::format("Invalid detach keys ({}) provided", f.detach_keys));
  RelayOptions o;
  o.tty = c.config.value("Tty", false);
  o.forward_stdin = !f.no_stdin && c.config.value("OpenStdin", false);
  if (o.tty && o.forward_stdin && !::isatty(STDIN_FILENO))
    throw lab::UserError("the input device is not a TTY");
  o.sig_proxy = f.sig_proxy && !o.tty;  // Docker: with a pty, ^C is the container's byte
  o.detach_keys = *keys;
  lab::UniqueFd sock(connect_attach(paths, id));
  RelayResult r = relay(paths, id, sock.get(), o, {});
  if (r.detached) {
    // Docker's CLI reports the detach as the error its escape proxy returned.
    fmt::print(stderr, "read escape sequence\n");
    return 1;
  }
  if (r.code) return *r.code;
  engine::wait_exit(paths, id, 10000);
  return engine::load(paths, id).exit_code;
}

// attach through a daemon, as Docker's CLI does it: the container's json (running? Tty?
// OpenStdin?), the wait for its exit registered, the attach (connection hijacked), the relay; the
// exit code from the wait. Our detach keys: the same line and exit code as in-process.
int attach_remote(const EngineOptions& options, const AttachFlags& f) {
  api::DaemonClient daemon(options.host, options.explain);
  json c = json::parse(daemon.checked("GET", "/containers/" + f.ref + "/json").body);
  std::string id = c["Id"];
  if (!c["State"].value("Running", false))
    throw lab::UserError("You cannot attach to a stopped container, start it first");
  auto keys = parse_detach_keys(f.detach_keys);
  if (!keys) throw lab::UserError(fmt::format("Invalid detach keys ({}) provided", f.detach_keys));
  RelayOptions o;
  o.tty = c["Config"].value("Tty", false);
  o.forward_stdin = !f.no_stdin && c["Config"].value("OpenStdin", false);
  if (o.tty && o.forward_stdin && !::isatty(STDIN_FILENO))
    throw lab::UserError("the input device is not a TTY");
  o.sig_proxy = f.sig_proxy && !o.tty;
  o.detach_keys = *keys;
  api::ResponseStream wait = daemon.open("POST", "/containers/" + id + "/wait");
  if (wait.status() >= 400) api::throw_if_refused(wait.status(), wait.reason(), wait.rest());
  api::Hijacked attached = daemon.hijack(fmt::format(
      "/containers/{}/attach?stream=1&stdout=1&stderr=1{}", id, o.forward_stdin ? "&stdin=1" : ""));
  api::throw_if_refused(attached.status, attached.reason, attached.body);
  StreamHooks hooks;
  hooks.resize = [&](unsigned rows, unsigned cols) {
    daemon.call("POST", fmt::format("/containers/{}/resize?h={}&w={}", id, rows, cols));
  };
  hooks.proxy_signal = [&](int sig) {
    daemon.call("POST", fmt::format("/containers/{}/kill?signal={}", id, sig));
  };
  RelayResult r = relay_stream(attached.fd.get(), std::move(attached.buffered), o, hooks);
  if (r.detached) {
    fmt::print(stderr, "read escape sequence\n");
    return 1;
  }
  json exited = json::parse(wait.rest(), nullptr, false);
  if (!exited.is_object() || !exited.contains("StatusCode"))
    throw lab::UserError("the daemon's wait ended without an exit code");
  return exited["StatusCode"].get<int>();
}

}  // namespace

void add_attach_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action) {
  static AttachFlags attach_flags;
  auto* attach_cmd = app.add_subcommand(
      "attach", "Attach local standard input, output, and error streams to a running container");
  docker_args(attach_cmd, "[OPTIONS] CONTAINER", exactly(1));
  attach_cmd->add_option("container", attach_flags.ref, "NAME or ID")->required();
  attach_cmd->add_flag("--no-stdin", attach_flags.no_stdin, "do not attach stdin");
  attach_cmd->add_flag("--sig-proxy", attach_flags.sig_proxy,
                       "forward received signals to the container (default true; not with -t)");
  attach_cmd->add_option("--detach-keys", attach_flags.detach_keys,
                         "the keys that detach (default ctrl-p,ctrl-q)");
  attach_cmd->callback([&] {
    action = [&] {
      return options.host.empty() ? attach_verb(options, attach_flags)
                                  : attach_remote(options, attach_flags);
    };
  });

  static std::vector<std::string> restart_refs;
  static int restart_seconds = 10;
  auto* restart_cmd = app.add_subcommand("restart", "Restart one or more containers");
  docker_args(restart_cmd, "[OPTIONS] CONTAINER [CONTAINER...]", at_least(1));
  restart_cmd->add_option("container", restart_refs, "NAME or ID")->required();
  restart_cmd->add_option("--time,-t", restart_seconds, "seconds before SIGKILL (default 10)")
      ->transform(int_flag());
  restart_cmd->callback([&] {
    action = [&] {
      engine::Paths paths = engine::paths_for(options.root, options.explain);
      std::optional<api::DaemonClient> daemon;
      if (!options.host.empty()) daemon.emplace(options.host, options.explain);
      int rc = 0;
      for (const std::string& ref : restart_refs) {
        try {
          if (daemon)
            daemon->checked("POST",
                            fmt::format("/containers/{}/restart?t={}", ref, restart_seconds));
          else
            engine::restart(paths, engine::resolve(paths, ref), restart_seconds);
          std::cout << ref << '\n';
        } catch (const engine::RunError& e) {
          rc = report_user_error(e.what());
        } catch (const lab::UserError& e) {
          rc = report_user_error(e.what());
        }
      }
      return rc;
    };
  });
}

}  // namespace client
