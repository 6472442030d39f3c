// The daemon's server: HTTP/1.1 on unix sockets, and on TCP at 127.0.0.1 when told
// (--insecure-tcp), through Boost.Beast over Boost.Asio; each request
// handed to the router (router.hpp) and the engine's routes (routes.hpp). Boost's headers are
// included by server.cpp alone, so only that file pays their compile time.
#pragma once

#include <string>
#include <vector>

namespace api {

struct ServeOptions {
  // Each -H: "unix:///run/minidocker.sock", "tcp://127.0.0.1:2375"; one listener each, as
  // dockerd's -H may be given several times.
  std::vector<std::string> hosts;
  std::string root;  // the engine's --root
  // --insecure-tcp: a tcp:// host is served only with it. There is no TLS here: whoever can
  // open the port can ask for a privileged container with / bound in, i.e. is root on the host.
  bool insecure_tcp = false;
};

inline constexpr const char* kDefaultHost = "unix:///run/minidocker.sock";
inline constexpr const char* kDefaultTcpPort = "2375";  // Docker's port for plain HTTP

// A -H value, parsed: unix:///PATH, or tcp://HOST[:PORT] (Docker's 2375 when no port is given).
struct HostAddress {
  bool tcp = false;
  std::string path;        // unix: the socket's path
  std::string host, port;  // tcp: "127.0.0.1", "2375"
};
// lab::UserError, in one line, for what neither the client nor the daemon speaks (fd://, ssh://,
// a missing scheme, an empty path or port).
HostAddress parse_host(const std::string& host);

// Serves in the foreground until SIGINT or SIGTERM, then removes the unix sockets and returns 0.
// Refuses (lab::UserError) a socket another daemon answers on (a stale one is removed), a
// tcp:// host without insecure_tcp, and any TCP address but 127.0.0.1 and localhost.
int serve(const ServeOptions& options);

}  // namespace api
