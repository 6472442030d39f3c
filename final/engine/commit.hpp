// commit: a container's rw layer becomes an image (the notes' "a container is an image plus a
// writable layer; commit turns that layer into one more read-only one").
//
// The overlay upperdir (graph::rw_layer_dir) holds exactly what the container changed: new and
// modified files, deletions as 0:0 character devices, directories made opaque with
// trusted.overlay.opaque. graph::export_layer writes it as an OCI layer tar (those become .wh.NAME
// and .wh..wh..opq), and the store takes it as import and load do: blob, unpacked layer, config,
// manifest, record last. The new config is the parent image's, with the container's Cmd, Env,
// Entrypoint, WorkingDir and User, then the --change instructions; its history gains one row.
//
// The builder (build.cpp) makes every step's image through add_image below.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/containers.hpp"
#include "graph/store.hpp"

namespace engine {

// One more image on top of `parent`.
struct NewImage {
  std::string parent;                    // an image id; "" for scratch; recorded as the new
                                         // image's parent (inspect's Parent)
  std::optional<std::string> layer_dir;  // an overlay upper dir to add as a layer; none: an
                                         // "empty layer" step (history empty_layer: true)
  nlohmann::json config;                 // the image's "config" object (Cmd, Env, ...)
  std::string created_by, comment, author;
};

// Adds the image to the store (whose exclusive lock the caller holds); returns its id.
std::string add_image(graph::Store& store, const NewImage& image, bool explain);

struct CommitRequest {
  std::string container;             // a name, an id or a prefix
  std::string reference;             // REPOSITORY[:TAG], or "" for an untagged image
  std::string message, author;       // -m, -a
  std::vector<std::string> changes;  // -c "CMD [\"sh\"]", ...
  bool pause = true;                 // freeze a running container while its layer is read
};

// The whole `commit`; returns the new image id ("sha256:<hex>").
std::string commit(const Paths& paths, const CommitRequest& request);

}  // namespace engine
