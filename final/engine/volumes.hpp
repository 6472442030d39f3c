// Volumes: directories of the host that a container sees at a path of its own, as mounts in the
// bundle's config.json (the runtime bind-mounts them inside the container's mount namespace, so
// the host's mount table never shows them: lesson 03's "a volume bind-mounted before the root
// switch is invisible on the host").
//
// Docker's kinds, all of them OCI mounts in the end:
//   -v /HOST:/CTR[:ro|rw]   a bind mount of a host directory (made if missing, as Docker does)
//   -v NAME:/CTR[:ro]       a named volume: <root>/volumes/NAME/_data, made on first use; an empty
//                           one is first filled with what the image has at /CTR (Docker's copy-up)
//   -v /CTR, VOLUME /CTR    an anonymous volume: a named one with a random 64-hex name and the
//                           label com.docker.volume.anonymous (what `rm -v` and prune remove)
//   --tmpfs /CTR[:OPTS]     a tmpfs (noexec,nosuid,nodev unless OPTS say otherwise)
//   --mount type=bind|volume|tmpfs,source=..,target=..[,readonly]   the same, spelled as keys
// Their files:
//   <root>/volumes/NAME/_data         what the container sees (Docker's layout)
//   <root>/volumes/NAME/volume.json   CreatedAt and Labels
//   <root>/volumes.lock               flock(2) while a volume is made or removed
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "engine/containers.hpp"

namespace runtime {
class Explainer;
}

namespace engine {

// One mount a container asked for, after parsing (pure).
struct MountSpec {
  std::string type;         // "bind", "volume" or "tmpfs"
  std::string source;       // bind: the host path; volume: its name ("" = anonymous, not named yet)
  std::string destination;  // absolute, inside the container
  bool read_only = false;
  std::string mode;              // -v's third field as typed ("ro", "rw,z", ...)
  std::string propagation;       // bind: "rprivate" unless given
  bool nocopy = false;           // volume: no copy-up of the image's content
  std::string tmpfs_data;        // tmpfs: the options as typed (HostConfig.Tmpfs)
  bool from_mount_flag = false;  // --mount (a missing bind source is an error there)
  bool anonymous = false;        // a volume named by container_mounts
};

// ---- pure logic ------------------------------------------------------------------------------
// Docker's rule for a local volume name: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (two characters at least).
bool valid_volume_name(std::string_view name);
// `-v` as Docker's Linux parser reads it; throws lab::UserError with Docker's words:
//   "invalid volume specification: 'a:b:c:d'", "... invalid mode: x", a relative host path:
//   "create ./x: \"./x\" includes invalid characters for a local volume name, ... use absolute
//   path", "... destination can't be '/'", "... mount path must be absolute".
MountSpec parse_volume_spec(std::string_view spec);
// `--tmpfs /CTR[:OPTS]`.
MountSpec parse_tmpfs_spec(std::string_view spec);
// `--mount type=...,source=...,target=...,readonly,...` (Docker's CSV keys: type, source|src,
// target|destination|dst, readonly|ro, bind-propagation, volume-nocopy, tmpfs-size, tmpfs-mode).
MountSpec parse_mount_spec(std::string_view spec);
// The options of a tmpfs as Docker merges them: "noexec,nosuid,nodev" first, then the user's
// (a later word of the same kind wins: exec over noexec, the last size=); unknown words refused.
std::vector<std::string> tmpfs_options(std::string_view data);
// Every mount of a container: -v, --tmpfs, --mount, then the image's VOLUMEs not already covered;
// anonymous volumes get their names here (`random_name` gives a fresh 64-hex one). A destination
// given twice is "Duplicate mount point: /x".
std::vector<MountSpec> container_mounts(const exec::RunOptions& options,
                                        const nlohmann::json& image_config,
                                        const std::function<std::string()>& random_name);

// ---- the volume store ------------------------------------------------------------------------
struct Volume {
  std::string name, mountpoint, created;
  nlohmann::json labels;  // null, or {"com.docker.volume.anonymous": ""}
  bool anonymous() const;
};

// Makes the volume if it does not exist (idempotent, as `docker volume create NAME`).
Volume create_volume(const Paths& paths, const std::string& name, bool anonymous = false);
// Throws lab::UserError "get NAME: no such volume".
Volume load_volume(const Paths& paths, const std::string& name);
std::vector<Volume> list_volumes(const Paths& paths);  // by name
nlohmann::json inspect_volume(const Volume& v);
// The ids of the containers whose mounts name the volume.
std::vector<std::string> containers_using(const Paths& paths, const std::string& name);
// Refuses a volume in use: "remove NAME: volume is in use - [ID, ...]".
void remove_volume(const Paths& paths, const std::string& name);
// Unused volumes (anonymous ones only unless `all`), removed; returns their names and the bytes
// freed.
std::vector<std::string> prune_volumes(const Paths& paths, bool all, uint64_t& reclaimed);

// ---- a container's mounts --------------------------------------------------------------------
// Docker's inspect "Mounts" for the specs (the record keeps it).
nlohmann::json inspect_mounts(const Paths& paths, const std::vector<MountSpec>& mounts);
// HostConfig.Binds, HostConfig.Tmpfs and HostConfig.Mounts as Docker records them.
void record_host_config(const exec::RunOptions& options, nlohmann::json& host_config);
// Makes what the mounts need on the host (bind sources, volumes with their copy-up from the
// container's `rootfs`) and returns them as OCI mounts for config.json, shallowest first.
nlohmann::json prepare_mounts(const Paths& paths, const std::vector<MountSpec>& mounts,
                              const std::string& rootfs, const runtime::Explainer& explain);
// The anonymous volumes in a record's "Mounts" (for `rm -v`, and --rm).
std::vector<std::string> anonymous_volumes(const Paths& paths, const nlohmann::json& mounts);

}  // namespace engine
