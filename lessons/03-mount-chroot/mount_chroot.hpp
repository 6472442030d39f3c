// A root file system of one's own: a mount namespace, a volume, and chroot or pivot_root.
//
// A container's "/" is an ordinary directory on the host (the rootfs, or "container image").
// The runtime clones a child with CLONE_NEWNS so that its mounts are its own, makes every mount
// private (otherwise, under systemd's shared propagation, its mounts would appear on the host
// too), bind-mounts the volumes into the rootfs, and only then switches the root:
//   chroot(2)       changes the process's root directory only. The old root is still mounted in
//                   the namespace, and a root process can climb back out (the nested-chroot
//                   trick in try_chroot_escape_in_child).
//   pivot_root(2)   swaps the namespace's root mount; once the old root is detached it is
//                   unreachable from inside. This is what runc, crun and Docker use.
// See mount_namespaces(7), chroot(2), pivot_root(2), mount(2), umount(2).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ldd.hpp"
#include "mount.hpp"

namespace mountns {

enum class RootSwitch { chroot, pivot_root };
std::string_view to_string(RootSwitch s);
std::optional<RootSwitch> parse_root_switch(std::string_view text);

// Where the volume appears inside the container.
inline constexpr std::string_view kVolumeMountPoint = "/data";

// Where temporary directories go: $TMPDIR when it is set, /tmp otherwise (as mktemp(1) does).
std::string temp_dir_base();

// Why programs copied into `dir` could not run ("" when they can): `dir` is on a file system
// mounted noexec (statvfs(2) reports ST_NOEXEC), where execve(2) fails with EACCES.
std::string exec_problem(const std::string& dir);

// Copies one regular file with its permission bits, like `cp`, checking every step:
// copy_file_range(2), or sendfile(2) where the kernel cannot copy between these file systems.
// A full disk comes back as SyscallError with ENOSPC (or EDQUOT for a quota), not as EIO.
void copy_regular_file(const std::string& from, const std::string& to);

// Copies `programs` (absolute host paths such as /bin/bash) into `rootfs` at the same paths, with
// the loader and every library they need (ldd::resolve), and makes the volume's mount point.
// Throws lab::UserError when a library cannot be found, and when the file system is full:
// "no space left on WHERE: ..., FIX" (`where` and `fix` name the place and the remedy in the
// user's terms, e.g. "/tmp (TMPDIR)" and "point TMPDIR at a roomier directory"). Returns the
// loader and libraries it copied (the programs themselves are not in it).
ldd::Resolution build_minimal_rootfs(const std::string& rootfs,
                                     const std::vector<std::string>& programs,
                                     std::string_view where = "", std::string_view fix = "");

// Why `dir` cannot hold a new rootfs ("" when it can): it must be an existing, empty directory,
// so that copying never overwrites anything of the user's.
std::string validate_empty_dir(const std::string& dir);

// --- in the child, in its new mount namespace -------------------------------------------------

// mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL): no mount or unmount from here on propagates to
// the host, and pivot_root stops refusing with EINVAL.
void make_mounts_private_in_child();
// mount(volume, rootfs/data, NULL, MS_BIND, NULL): the host directory appears inside the rootfs.
void bind_volume_in_child(const std::string& volume, const std::string& target);
// chroot(rootfs) then chdir("/").
void chroot_in_child(const std::string& rootfs);
// mount(rootfs, rootfs, NULL, MS_BIND|MS_REC, NULL): pivot_root needs the new root to be a mount
// point, not just a directory. MS_REC takes the mounts already inside it (the volume) along.
// runc does this first, before any of the container's mounts go in on top of it.
void bind_rootfs_onto_itself_in_child(const std::string& rootfs);
// The runc sequence, once `rootfs` is a mount point (bind_rootfs_onto_itself_in_child): chdir
// into it, pivot_root(".", "."), umount2(".", MNT_DETACH) to drop the old root stacked on top,
// chdir("/").
void pivot_root_in_child(const std::string& rootfs);
// chroot_in_child, or pivot_root_in_child (after the bind onto itself, which the caller does).
void switch_root_in_child(RootSwitch how, const std::string& rootfs);

struct EscapeAttempt {
  bool reached_host = false;              // the host-only marker file was visible afterwards
  std::vector<std::string> root_listing;  // what "/" holds afterwards
};
// The classic escape by a root process: mkdir("lab-escape"), chroot("lab-escape") (the cwd is now
// outside the root), chdir("..") `climbs` times up to the top of the mount tree, chroot(".").
// Then checks whether `host_marker` (a file only the host has) can be seen.
EscapeAttempt try_chroot_escape_in_child(const std::string& host_marker, int climbs = 64);

// Runs argv[0] with `argv` and a clean environment, and returns its stdout. Throws when it cannot
// run or exits non-zero.
std::string run_and_capture(const std::vector<std::string>& argv);

// --- pure helpers -------------------------------------------------------------------------------

// The names in a directory, sorted.
std::vector<std::string> list_directory(const std::string& dir);
// Non-empty lines of `text`.
std::vector<std::string> split_lines(std::string_view text);
// Mount points in `mounts` at `dir` or below it.
std::vector<std::string> mounts_under(const std::vector<lab::MountInfo>& mounts,
                                      std::string_view dir);

}  // namespace mountns
