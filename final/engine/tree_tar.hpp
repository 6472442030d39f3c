// A file or directory tree as a tar stream, and a copy between two trees through one: how
// `docker cp` moves files (the daemon tars the source, the other side untars it) and how a new
// volume is filled from the image.
//
// The source is given as a descriptor the caller resolved (openat2 RESOLVE_IN_ROOT for a path in
// a container); everything below it is opened with openat(O_NOFOLLOW) relative to its parent, and
// symlinks are written as symlinks, so a link in the container never leads the walk to the host.
// The destination side is graph::unpack_layer, which resolves every entry inside its directory.
#pragma once

#include <string>

namespace engine {

// Writes what `fd` (any descriptor of it, O_PATH is enough) names to `out_fd` as a tar: entries
// `name`, `name/...` below a directory; with `name` "" a directory's entries only (its contents).
// Without `keep_owner` every entry is owned by 0:0 (docker cp without -a).
void write_tree_tar(int fd, const std::string& name, int out_fd, bool keep_owner = true);

// write_tree_tar(fd, name) unpacked into `dest_dir` (a host path; graph::unpack_layer).
void copy_tree_via_tar(int fd, const std::string& name, const std::string& dest_dir,
                       bool keep_owner = true);

}  // namespace engine
