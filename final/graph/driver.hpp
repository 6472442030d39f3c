// The graph driver: a container's root filesystem built from an image's layers.
//
// The store (store.hpp) keeps every layer unpacked once, at <root>/layers/<diff id hex>/diff. As
// Docker's overlay2 driver does, each layer also gets a short name:
//   <root>/layers/<hex>/link       the short name (26 characters)
//   <root>/layers/l/<short>        symlink to ../<hex>/diff
// and a container gets, under <root>/containers/<id>/:
//   init/   the init layer: /etc/hosts, /etc/resolv.conf, /etc/hostname, /dev/console... stubs
//   diff/   its rw layer (upperdir), work/ (workdir), merged/ (the mount point)
// mounted from <root> with relative paths, lowerdir=layers/l/INIT:layers/l/TOP:...:l/BOTTOM.
// The short links keep the option string inside one page (mount(2) copies one page of data), so
// an image of 100+ layers still mounts. Where overlay is unavailable, `vfs` copies every layer
// into the container's diff/ instead (merged/ is then a plain directory), as Docker's vfs does.
#pragma once

#include <string>
#include <vector>

namespace graph {

enum class DriverKind { overlay, vfs };

// Overlay when the kernel has it and <root> is on a filesystem that can be an upperdir (not
// overlay itself), vfs otherwise; MINIDOCKER_STORAGE_DRIVER=vfs|overlay overrides.
DriverKind choose_driver(const std::string& root);
const char* driver_name(DriverKind kind);

struct RootfsRequest {
  std::string container_id;             // [0-9a-f]{64} or any [A-Za-z0-9_.-]+ name
  std::vector<std::string> layers;      // diff id hex of each layer, bottom first
  std::string hostname;                 // for /etc/hostname in the init layer
};

// Creates the rw and init layers and mounts the container's root; returns the path of the
// mounted (or, for vfs, copied) rootfs. Nothing stays behind if it throws.
std::string prepare_rootfs(const std::string& root, DriverKind kind, const RootfsRequest& req);
// Unmounts and removes everything prepare_rootfs made for `container_id`; idempotent.
void remove_rootfs(const std::string& root, DriverKind kind, const std::string& container_id);
// The container's rw layer (for commit in the next issue).
std::string rw_layer_dir(const std::string& root, DriverKind kind, const std::string& container_id);

// Gives the unpacked layer <root>/layers/<hex>/diff its short name: writes <hex>/link and the
// l/<short> symlink. Idempotent: the store calls it once a layer is in place, and prepare_rootfs
// again for any layer a crash left without its link. forget_layer undoes it (store's rmi).
void register_layer(const std::string& root, const std::string& diff_id_hex);
void forget_layer(const std::string& root, const std::string& diff_id_hex);

}  // namespace graph
