// The daemon's routes: the Docker Engine API v1.41 paths this daemon serves, each a handler that
// calls the engine's jobs (final/engine/) and the image store (final/graph/) exactly as the
// CLI's verbs do, and answers with Docker's JSON.
#pragma once

#include <string>
#include <vector>

#include "daemon/router.hpp"

namespace api {

inline constexpr const char* kServerVersion = "0.10.0";  // minidocker's own version

struct Engine {
  std::string root;  // the engine's --root, as the CLI's
};

// The table the server dispatches on (read it top to bottom: it is the API this daemon speaks):
// the system routes (routes.cpp), then these, one file each.
std::vector<Route> engine_routes(const Engine& engine);
std::vector<Route> container_routes(const Engine& engine);  // routes_containers.cpp, + exec
std::vector<Route> image_routes(const Engine& engine);      // routes_images.cpp, + build, commit
std::vector<Route> resource_routes(const Engine& engine);   // routes_resources.cpp: networks,
                                                            // volumes, prune, system df

}  // namespace api
