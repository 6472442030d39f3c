// Paths inside a container's root, resolved as the container will see them.
//
// A rootfs is the user's (or an image's) directory tree, and its symlinks are the container's:
// /etc/mtab -> /proc/mounts, /var/run -> ../run. Resolved on the host, an absolute symlink or
// enough ".." points out of the rootfs, and a mount whose destination crosses such a link would
// land on the host's /etc (CVE-2015-3627, CVE-2019-19921 and friends in runc). openat2(2) with
// RESOLVE_IN_ROOT resolves the path as if `root_fd` were "/": an absolute link restarts at
// root_fd, ".." stops there, and /proc's magic links (/proc/self/root) are refused. What comes
// back is a file descriptor of the real target; /proc/self/fd/N names it on the host.
// See openat2(2), path_resolution(7).
#pragma once

#include <sys/types.h>

#include <string>

#include "fd.hpp"

namespace lab {

// openat2(root_fd, path, {flags, mode, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS}): `path` ("/etc",
// "etc/passwd", "../x": all the same to it) is looked up with root_fd as "/". Throws SyscallError
// (ENOENT when a component is missing; ENOSYS before Linux 5.6).
UniqueFd open_in_root(int root_fd, const std::string& path, int flags, mode_t mode = 0);
// The same, but a missing path (ENOENT, or ENOTDIR from a file in the middle) gives an empty fd.
UniqueFd open_in_root_if_exists(int root_fd, const std::string& path, int flags);

// The directory `root` as an O_PATH descriptor, for the calls above.
UniqueFd open_root(const std::string& root);

// The host path of what `fd` refers to: readlink("/proc/self/fd/N").
std::string fd_path(int fd);
// "/proc/self/fd/N": a name for exactly that file, usable as mount(2)'s target or source. The
// kernel follows the magic link to the dentry the fd holds, so a symlink swapped in between our
// open and the mount cannot redirect it (runc mounts this way).
std::string proc_fd_name(int fd);

// The host path that `path` names inside `root`, every symlink resolved inside it. The target
// must exist (SyscallError with ENOENT otherwise).
std::string resolve_in_root(const std::string& root, const std::string& path);

// mkdir -p inside the root: every missing component is made with mkdirat in its resolved parent
// (so a symlink among them is followed inside the root, never out). Returns an O_PATH descriptor
// of the final directory. A dangling symlink in the way is an error (EEXIST names it).
UniqueFd mkdir_all_in_root(int root_fd, const std::string& path, mode_t mode = 0755);
// The file at `path` inside the root, created empty (with its parents) if missing: the target of
// a file bind mount. Returns an O_PATH descriptor.
UniqueFd create_file_in_root(int root_fd, const std::string& path, mode_t mode = 0644);

// The lexical host path of `path` under `root`, for messages: ("/r", "a//b/./c/") -> "/r/a/b/c".
// No symlink is followed; ".." is kept as it is.
std::string join_in_root(const std::string& root, const std::string& path);

}  // namespace lab
