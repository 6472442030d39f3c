// The CLI's end of a container's attach socket (final/monitor/attach_protocol.hpp): what `run`
// (in the foreground), `start -a` and `attach` do. Our stdin goes in (-i), the container's
// output comes out; with a pty (-t) our terminal is put in raw mode (so Ctrl-C is a byte for the
// container's terminal, not a signal for us), its size follows ours (SIGWINCH), and the detach
// keys (Ctrl-P Ctrl-Q) leave the container running.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "engine/containers.hpp"

namespace client {

// Docker's --detach-keys: "ctrl-p,ctrl-q" -> "\x10\x11". Each key is one character or ctrl-X
// (X one of a-z @ [ \ ] ^ _); nullopt for anything else.
std::optional<std::string> parse_detach_keys(const std::string& spec);

// Watches our input for the detach keys. feed() returns what to forward: bytes that might start
// the sequence are held back until the next one shows whether they do (and then forwarded).
class DetachScanner {
 public:
  explicit DetachScanner(std::string keys) : keys_(std::move(keys)) {}
  std::string feed(std::string_view input, bool& detached);

 private:
  std::string keys_;
  size_t matched_ = 0;
};

struct RelayOptions {
  bool forward_stdin = false;  // our stdin goes to the container ('i', then 'e' at its end)
  bool tty = false;            // the container has a pty: raw mode, window size, detach keys
  bool sig_proxy = false;      // our SIGINT, SIGTERM, ... go to the container (runtime kill)
  std::string detach_keys = "\x10\x11";
};

struct RelayResult {
  bool detached = false;    // the detach keys were typed: the container is still running
  std::optional<int> code;  // its exit code, when the monitor said it ('x')
};

// Connects to the container's attach socket; "You cannot attach to a stopped container" when
// nobody listens.
int connect_attach(const engine::Paths& paths, const std::string& id);

// Relays between us and the connected socket `sock` until the container exits or we detach.
// `started` runs once the monitor has our window size (so `run -t` starts the container with the
// right size): run and start -a start the container there. Our terminal is restored on every path
// (a signal that ends us restores it first).
RelayResult relay(const engine::Paths& paths, const std::string& id, int sock,
                  const RelayOptions& options, const std::function<void()>& started);

// exec -t: the same, with the pty's master in our hands (the runtime's exec sent it to us): our
// terminal raw, its size set on the master now and at each SIGWINCH, until the process's side of
// the pty closes. (No detach keys: the runtime's exec waits for the process.)
void relay_master(int master, bool forward_stdin);
// Our terminal's size (rows, columns) from whichever of stdin, stdout is one; nullopt: neither.
std::optional<std::pair<unsigned short, unsigned short>> window_size();

// Through a daemon (-H; final/client/containers.cpp): one piece of a container's output on our
// stdout or stderr; the whole 8-byte frames in `pending` printed, a partial one left there; and a
// hijacked connection without a pty relayed until the daemon closes it: its frames out, our stdin
// in with `forward_stdin` (its end a half-close, the process's EOF).
void print_output(bool to_stderr, std::string_view text);
void print_frames(std::string& pending);

// What relay_stream asks the daemon for as it goes (each may be empty).
struct StreamHooks {
  std::function<void()> started;  // once our window size is sent: run and start -a start here
  // -t: our window's size, at the start and at each SIGWINCH (POST /containers/{id}/resize or
  // /exec/{id}/resize).
  std::function<void(unsigned rows, unsigned cols)> resize;
  std::function<void(int sig)> proxy_signal;  // --sig-proxy: POST /containers/{id}/kill?signal=
};
// relay() over a hijacked connection (`pending`: what came with the response's head): with -t the
// pty's raw bytes, our terminal raw and its size sent, the detach keys ours to see (then we close
// the connection and the container runs on); without, the 8-byte frames split to stdout and
// stderr. Our stdin goes up it with forward_stdin, its end a half-close (the container's EOF).
// Ends when the daemon closes the connection (the exit) or we detach; the exit code is the
// caller's to ask (wait, or the exec's inspect). The terminal is restored on every path.
RelayResult relay_stream(int sock, std::string pending, const RelayOptions& options,
                         const StreamHooks& hooks = {});

// attach, restart (final/client/attach.cpp), the contract of add_container_verbs.
}  // namespace client
