// A container's files from the host: `cp` (both ways, or as a tar stream) and `diff`.
//
// The engine works on the container's rootfs as the graph driver mounted it
// (<root>/containers/<id>/merged; for vfs a link to diff/), never inside the container's mount
// namespace. Every path is resolved INSIDE that root (openat2 RESOLVE_IN_ROOT: an absolute
// symlink restarts at the rootfs, ".." stops there), so a link in the container such as
// /escape -> / never leads a copy out to the host's files.
//
// Mounts live only in the container's mount namespace, so the rootfs shows an empty directory
// where a volume is mounted. A path under a -v bind or a volume (chosen by the path as typed,
// the longest Destination that contains it) is resolved inside that volume's host directory
// instead; a path under a tmpfs is refused with one line (its files exist only in the
// container's namespace). A symlink in the rootfs that points into a volume's mount point is
// resolved within the rootfs, where that directory is empty.
//
// `diff` reads the overlay's upperdir (the rw layer): a 0:0 character device is a whiteout
// (D), a path that exists in a lower layer (the init layer or the image's) is C, a new one A;
// directories on the way to a change are in the upperdir too and come out as C, as Docker
// prints them. An opaque directory (rm -r then mkdir) is C, and what it hides below is D.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/containers.hpp"

namespace engine {

struct CopyOptions {
  bool follow_link = false;  // -L: copy what a symlink at SRC points to, not the link itself
  // -a: files copied into the container keep their uid/gid; without it they are 0:0 (the
  // container's root), and files copied out belong to the caller, as with docker cp.
  bool archive = false;
};

// `cp CONTAINER:SRC DEST`; DEST "-" writes a tar stream of SRC to `out_fd`. `ref` is the
// container as the user named it (for messages: "Could not find the file /x in container c").
void copy_from_container(const Paths& paths, const std::string& id, const std::string& ref,
                         const std::string& src, const std::string& dest, int out_fd,
                         const CopyOptions& options = {});
// `cp SRC CONTAINER:DEST`; SRC "-" reads a tar stream from `in_fd` into the directory DEST.
void copy_to_container(const Paths& paths, const std::string& id, const std::string& ref,
                       const std::string& src, const std::string& dest, int in_fd,
                       const CopyOptions& options = {});

// Where a copy lands, by Docker's rules, from what DEST is: into DEST itself when it is a
// directory (under the source's name; "SRC/." its contents); in DEST's parent under DEST's
// name when it is a file or missing, a missing DEST made first as a directory when SRC is one.
// Throws "cannot copy a directory to a file: DEST", "no such directory: DEST/".
enum class DestKind { directory, file, missing };
struct Landing {
  bool in_parent = false;  // unpacked in DEST's parent, else in DEST
  std::string name;        // the tar's top entry ("" = the source's contents)
  bool make_dir = false;   // DEST is made, with the source directory's mode, and filled
};
Landing landing(bool src_is_dir, const std::string& src_path, DestKind dest,
                const std::string& dest_path, const std::string& dest_shown);

// Our client's halves of cp through a daemon (final/client/files.cpp), whose archive routes
// take and give a tar of one path:
// `cp SRC CONTAINER:DEST`: SRC (on this host) as the tar the daemon unpacks, written to
// `out_fd`; returns the container's directory to unpack it in (PUT /containers/{id}/archive?
// path=). `kind` is what the daemon's stat said of DEST (HEAD .../archive?path=DEST).
std::string tar_for_container(const std::string& src, const std::string& dest, DestKind kind,
                              int out_fd, const CopyOptions& options);
// `cp CONTAINER:SRC DEST`: the daemon's tar of SRC (GET .../archive?path=SRC; its top entry
// `tar_name`, the link's target's name with -L) read from `tar_fd`, put at DEST on this host as
// copy_from_container puts it. `ref` names the container in messages; `src_mode` is SRC's
// permission bits (the daemon's stat), which a "SRC/." tar of its contents alone does not carry.
void place_from_container(int tar_fd, const std::string& tar_name, const std::string& ref,
                          const std::string& src, const std::string& dest, mode_t src_mode,
                          const CopyOptions& options);

// What a path in the container is (lstat, resolved as cp resolves it): the daemon's
// HEAD /containers/{id}/archive, which `docker cp` asks before it copies.
struct PathStat {
  std::string name;  // the last component of the path as given ("/" for the root)
  int64_t size = 0;
  mode_t mode = 0;          // st_mode
  int64_t mtime_ns = 0;     // st_mtim, in ns since the epoch
  std::string link_target;  // a symlink's target
};
PathStat stat_path(const Paths& paths, const std::string& id, const std::string& ref,
                   const std::string& path);

struct Change {
  char kind;         // 'A', 'C' or 'D'
  std::string path;  // absolute, inside the container
};
// The container's rw layer against its lower layers, in Docker's order (a depth-first walk,
// names sorted). Needs the overlay driver (vfs keeps no separate rw layer): UserError otherwise.
std::vector<Change> diff(const Paths& paths, const std::string& id);

}  // namespace engine
