// The graph driver: a container's root filesystem built from an image's layers.
//
// The store (store.hpp) keeps every layer unpacked once, at <root>/layers/<diff id hex>/diff. As
// Docker's overlay2 driver does, each layer also gets a short name:
//   <root>/layers/<hex>/link       the short name (26 characters)
//   <root>/layers/l/<short>        symlink to ../<hex>/diff
// and a container gets, under <root>/containers/<id>/:
//   init/   the init layer: /etc/hosts, /etc/resolv.conf, /etc/hostname, /dev/console... stubs
//   diff/   its rw layer (upperdir), work/ (workdir), merged/ (the mount point)
//   link    the init layer's short name (l/<short> -> ../../containers/<id>/init)
// mounted from <root>/layers with relative paths, as Docker's overlay2 mounts from its home:
//   lowerdir=l/INIT:l/TOP:...:l/BOTTOM,upperdir=../containers/<id>/diff,workdir=...
// The short links keep the option string inside one page (mount(2) copies one page of data), so
// an image of 128 layers still mounts. Where overlay is unavailable, `vfs` copies every layer
// (whiteouts applied) and then the init layer into the container's diff/ instead, as Docker's vfs
// does; merged is then a symlink to diff, and prepare_rootfs returns the diff/ directory itself.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "overlay.hpp"

namespace runtime {
class Explainer;
}

namespace graph {

enum class DriverKind { overlay, vfs };

// Overlay when the kernel has it and <root> is on a filesystem that can be an upperdir (not
// overlay itself), vfs otherwise; MINIDOCKER_STORAGE_DRIVER=vfs|overlay overrides.
DriverKind choose_driver(const std::string& root);
const char* driver_name(DriverKind kind);

struct RootfsRequest {
  std::string container_id;         // [0-9a-f]{64} or any [A-Za-z0-9_.-]+ name
  std::vector<std::string> layers;  // diff id hex of each layer, bottom first
  std::string hostname;             // for /etc/hostname in the init layer
  // The rw layer dies with the container (run --rm): overlay's `volatile` option, as podman
  // uses for --rm, so that the unmount does not sync the whole file system under it.
  bool volatile_upper = false;
};

// Creates the rw and init layers and mounts the container's root; returns the path of the
// mounted (or, for vfs, copied) rootfs. Nothing stays behind if it throws. The overlay stays
// mounted in the caller's mount namespace until remove_rootfs. `explain` (the engine's
// --explain) narrates the mount with its shell equivalent.
std::string prepare_rootfs(const std::string& root, DriverKind kind, const RootfsRequest& req,
                           const runtime::Explainer* explain = nullptr);
// Unmounts and removes everything prepare_rootfs made for `container_id`; idempotent. What is on
// disk decides (a mount is detached whatever `kind` says); it never deletes across a mount point
// or through a symlink, and throws if something could not go.
void remove_rootfs(const std::string& root, DriverKind kind, const std::string& container_id,
                   const runtime::Explainer* explain = nullptr);
// The container's rw layer (for commit in the next issue).
std::string rw_layer_dir(const std::string& root, DriverKind kind, const std::string& container_id);

// Gives the unpacked layer <root>/layers/<hex>/diff its short name: writes <hex>/link and the
// l/<short> symlink. Idempotent: the store calls it once a layer is in place, and prepare_rootfs
// again for any layer a crash left without its link. forget_layer undoes it (store's rmi).
void register_layer(const std::string& root, const std::string& diff_id_hex);
void forget_layer(const std::string& root, const std::string& diff_id_hex);

// --- pure logic (for the tests)
// -------------------------------------------------------------------

// A fresh short name: 26 characters of base32's alphabet [A-Z2-7] from getrandom(2), as Docker's
// overlay2 names its l/ links (130 random bits: no two layers ever meet).
std::string new_short_id();
bool is_short_id(std::string_view s);
// The overlay of a container as seen from <root>/layers, the mount's working directory:
// lowerdirs l/<short> (top first, the init layer's first), upperdir and workdir under
// ../containers/<id>/.
overlay::Layers container_layers(const std::vector<std::string>& short_ids_top_first,
                                 const std::string& container_id);

}  // namespace graph
