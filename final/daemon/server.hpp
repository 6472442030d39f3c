// The daemon's server: HTTP/1.1 on a unix socket (Boost.Beast over Boost.Asio), each request
// handed to the router (router.hpp) and the engine's routes (routes.hpp). Boost's headers are
// included by server.cpp alone, so only that file pays their compile time.
#pragma once

#include <string>

namespace api {

struct ServeOptions {
  std::string host;  // "unix:///run/minidocker.sock"
  std::string root;  // the engine's --root
};

inline constexpr const char* kDefaultHost = "unix:///run/minidocker.sock";

// The socket path in a -H value; lab::UserError for what this daemon does not serve (tcp://,
// fd://, a missing scheme).
std::string unix_socket_path(const std::string& host);

// Serves in the foreground until SIGINT or SIGTERM, then removes the socket and returns 0.
// Refuses (lab::UserError) a socket another daemon answers on; removes a stale one.
int serve(const ServeOptions& options);

}  // namespace api
