#include "terminal.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "error.hpp"

namespace runtime::terminal {

lab::UniqueFd connect_console_socket(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == -1)
    throw lab::UserError(fmt::format("--console-socket {}: {}", path, std::strerror(errno)));
  if (!S_ISSOCK(st.st_mode))
    throw lab::UserError(fmt::format(
        "--console-socket {} is not a unix socket; give the socket a tool such as recvtty "
        "listens on",
        path));
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    throw lab::UserError(fmt::format("--console-socket {}: the path is too long", path));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  lab::UniqueFd fd(
      lab::check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket(AF_UNIX, SOCK_STREAM)"));
  lab::check(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr),
             [&] { return fmt::format("connect(\"{}\")", path); });
  return fd;
}

void send_fd(int socket, int fd, std::string_view name) {
  char control[CMSG_SPACE(sizeof(int))] = {};
  struct iovec iov {
    const_cast<char*>(name.data()), name.size()
  };
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  lab::check(::sendmsg(socket, &msg, MSG_NOSIGNAL),
             [&] { return fmt::format("sendmsg(console socket, SCM_RIGHTS, fd {})", fd); });
}

lab::UniqueFd receive_fd(int socket) {
  char name[4096];
  char control[CMSG_SPACE(sizeof(int))] = {};
  struct iovec iov {
    name, sizeof name
  };
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
  } while (n == -1 && errno == EINTR);
  lab::check(n, "recvmsg(console socket)");
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS)
    throw lab::UserError("the console socket's message carried no file descriptor");
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return lab::UniqueFd(fd);
}

void setup_console_in_child(int console_socket, std::optional<std::pair<unsigned, unsigned>> size) {
  // /dev/ptmx here is the container's (a link to its own devpts instance's ptmx), so the pty
  // belongs to the container: /dev/pts/0 inside, invisible in the host's /dev/pts.
  lab::UniqueFd master = lab::open_fd("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  lab::check(::unlockpt(master.get()), "unlockpt(/dev/ptmx)");
  char name[128];
  lab::check(::ptsname_r(master.get(), name, sizeof name) == 0 ? 0 : -1, "ptsname_r(/dev/ptmx)");
  if (size && size->first && size->second) {
    struct winsize ws {};
    ws.ws_row = static_cast<unsigned short>(size->first);
    ws.ws_col = static_cast<unsigned short>(size->second);
    lab::check(::ioctl(master.get(), TIOCSWINSZ, &ws), "ioctl(ptmx, TIOCSWINSZ)");
  }
  lab::UniqueFd slave = lab::open_fd(name, O_RDWR | O_NOCTTY);
  send_fd(console_socket, master.get(), name);
  master.reset();
  // A new session with no controlling terminal, then this pty as its terminal.
  lab::check(::setsid(), "setsid()");
  lab::check(::ioctl(slave.get(), TIOCSCTTY, 0), "ioctl(pty, TIOCSCTTY, 0)");
  for (int target : {0, 1, 2})
    lab::check(::dup2(slave.get(), target), [&] { return fmt::format("dup2(pty, {})", target); });
}

namespace {

// Writes all of `n` bytes; false when the other side is gone.
bool write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w == -1 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

void copy_between(int master) {
  struct termios saved {};
  bool raw = ::isatty(0) && ::tcgetattr(0, &saved) == 0;
  if (raw) {
    struct termios t = saved;
    ::cfmakeraw(&t);
    ::tcsetattr(0, TCSANOW, &t);
    struct winsize ws {};
    if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
  }
  bool stdin_open = true;
  char buf[8192];
  for (;;) {
    struct pollfd fds[2] = {{master, POLLIN, 0},
                            {0, static_cast<short>(stdin_open ? POLLIN : 0), 0}};
    int r = ::poll(fds, stdin_open ? 2 : 1, -1);
    if (r == -1 && errno == EINTR) continue;
    if (r == -1) break;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n == -1 && errno == EINTR) continue;
      // EIO: every process in the container closed the pty's other end.
      if (n <= 0) break;
      if (!write_all(1, buf, static_cast<size_t>(n))) break;
    }
    if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n == -1 && errno == EINTR) continue;
      if (n <= 0) {
        // End of our input: the terminal's end-of-file character tells the program so.
        stdin_open = false;
        char eof = 4;
        write_all(master, &eof, 1);
      } else if (!write_all(master, buf, static_cast<size_t>(n))) {
        break;
      }
    }
  }
  if (raw) ::tcsetattr(0, TCSANOW, &saved);
}

}  // namespace runtime::terminal
