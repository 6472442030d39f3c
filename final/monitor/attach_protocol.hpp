// The attach socket: <container dir>/attach.sock, a unix SOCK_SEQPACKET socket the monitor
// listens on for the container's whole life (what containerd's shim serves as fifos and Docker's
// daemon as a hijacked HTTP connection). SOCK_SEQPACKET keeps message boundaries, so each message
// is one type byte and its payload, with no length prefix to parse:
//   client -> monitor   'i' DATA       input: to the pty master (-t) or the stdin pipe (-i)
//                       'e'            the client's input ended: the stdin pipe is closed (-i)
//                       'w' ROWS COLS  the client's window size (two decimal numbers): the
//                                      monitor sets it on the master (TIOCSWINSZ) and answers 'w'
//   monitor -> client   '1' DATA       the container's stdout (a -t container's only stream)
//                       '2' DATA       its stderr
//                       'w'            the size was set (the CLI waits for it before `start`)
//                       'x' CODE       the container exited with CODE (after exit.json is written)
// Several clients may be attached at once: each gets all output, and all may send input.
// Header-only and libc-only: the monitor is a small static binary.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace attach {

constexpr char kInput = 'i', kEndOfInput = 'e', kResize = 'w', kStdout = '1', kStderr = '2',
               kExit = 'x';
constexpr size_t kMaxMessage = 32768;  // a message's payload is at most this

inline std::string message(char type, std::string_view payload = {}) {
  std::string out(1, type);
  out.append(payload);
  return out;
}

inline std::string resize_message(unsigned rows, unsigned cols) {
  return message(kResize, std::to_string(rows) + " " + std::to_string(cols));
}

// "ROWS COLS" -> true with both set; false for anything else.
inline bool parse_resize(std::string_view payload, unsigned& rows, unsigned& cols) {
  std::string text(payload);
  unsigned r = 0, c = 0;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%u %u%c", &r, &c, &extra) != 2) return false;
  rows = r;
  cols = c;
  return true;
}

// sockaddr_un holds 108 bytes; a container's directory under a long --root may not fit. Through
// an O_PATH fd of the directory, /proc/self/fd/N/NAME names the same file in a few bytes (bind(2)
// and connect(2) both resolve it). Returns false if even that does not fit.
inline bool socket_address(int dir_fd, const std::string& dir, const char* name,
                           sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  std::string full = dir + "/" + name;
  if (full.size() < sizeof addr.sun_path) {
    std::memcpy(addr.sun_path, full.c_str(), full.size() + 1);
    return true;
  }
  std::string via = "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name;
  if (dir_fd < 0 || via.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, via.c_str(), via.size() + 1);
  return true;
}

// Connects to DIR/attach.sock; -1 (errno set) when nobody listens.
inline int connect_socket(const std::string& dir) {
  int dir_fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  sockaddr_un addr;
  int fd = -1;
  if (socket_address(dir_fd, dir, "attach.sock", addr)) {
    fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == -1) {
      int saved = errno;
      ::close(fd);
      fd = -1;
      errno = saved;
    }
  }
  if (dir_fd >= 0) ::close(dir_fd);
  return fd;
}

}  // namespace attach
