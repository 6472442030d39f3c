// recvtty SOCKET: the receiving end of runc's console-socket protocol (as runc's contrib/cmd/
// recvtty), for the runtime's tests. Listens on SOCKET, accepts one connection, takes the pty
// master that comes as SCM_RIGHTS, prints "name: <the pty's name the runtime sent with it>", then
// copies whatever the container writes to its terminal to stdout until the container's side of
// the pty is closed.
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "error.hpp"
#include "fd.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: recvtty SOCKET\n");
    return 2;
  }
  try {
    std::string path = argv[1];
    lab::UniqueFd server(lab::check(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    lab::check(::bind(server.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr),
               fmt::format("bind(\"{}\")", path));
    lab::check(::listen(server.get(), 1), "listen");
    lab::UniqueFd conn(
        lab::check(::accept4(server.get(), nullptr, nullptr, SOCK_CLOEXEC), "accept"));
    char name[4096] = {};
    char control[CMSG_SPACE(sizeof(int))] = {};
    struct iovec iov {
      name, sizeof name - 1
    };
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    lab::check(::recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC), "recvmsg");
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS) {
      fmt::print(stderr, "recvtty: the message carried no file descriptor\n");
      return 1;
    }
    int master;
    std::memcpy(&master, CMSG_DATA(c), sizeof master);
    fmt::print("name: {}\n", name);
    std::fflush(stdout);
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n == -1 && errno == EINTR) continue;
      if (n <= 0) break;  // EIO: every process in the container closed its side
      if (::write(1, buf, static_cast<size_t>(n)) != n) break;
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "recvtty: {}\n", e.what());
    return 1;
  }
}
