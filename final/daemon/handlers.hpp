// What the route files (routes*.cpp) share: a JSON answer and the image store opened for one
// request, as a CLI verb opens it.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "client/engine.hpp"
#include "daemon/router.hpp"
#include "daemon/routes.hpp"
#include "graph/store.hpp"

namespace api {

inline Response json_response(const nlohmann::json& body, int status = 200) {
  Response r;
  r.status = status;
  r.body = body.dump();
  return r;
}

// The image store at the engine's root, with its shared lock for the request.
struct ReadStore {
  explicit ReadStore(const Engine& engine)
      : store(client::open_store({engine.root, false, ""})),
        lock(store->lock(graph::LockMode::shared)) {}
  std::unique_ptr<graph::Store> store;
  graph::StoreLock lock;
};

}  // namespace api
