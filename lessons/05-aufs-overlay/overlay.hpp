// Union mounts with overlayfs: read-only lower layers, one writable upper layer, one merged view.
//
// overlayfs (mainline since Linux 3.18) stacks directories: `lowerdir=A:B` lists read-only
// layers, top first; `upperdir` takes every change; `workdir` is the kernel's scratch space for
// atomic copy-up and must be an empty directory on the same filesystem as upperdir. A change to a
// lower file copies it up first (copy-on-write); a deletion leaves a whiteout (a character device
// 0/0) in the upper layer; a directory marked with the xattr trusted.overlay.opaque="y" hides
// everything below it. aufs, which the original notes and early Docker used, was never merged
// into mainline Linux. See Documentation/filesystems/overlayfs.rst, mount(2), xattr(7).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mount.hpp"

namespace overlay {

// The xattr that makes an upper directory opaque, and the value that means "opaque".
constexpr const char* kOpaqueXattr = "trusted.overlay.opaque";
// mount(2) copies its data argument into one page: the whole option string must fit in it.
// (Docker's overlay2 uses short symlinks, l/<26 chars>, so that 128 layers fit.)
constexpr size_t kMaxOptionBytes = 4095;

// The layers of one overlay mount.
struct Layers {
  std::vector<std::string> lowerdirs;  // top first: lowerdir=top:...:bottom
  std::string upperdir;                // "" for a read-only overlay (then 2+ lowerdirs)
  std::string workdir;                 // "" exactly when upperdir is ""
};

// --- pure logic ----------------------------------------------------------------------------------

// A path as the option string needs it: '\', ':' and ',' get a backslash, because ':' separates
// lowerdirs and ',' separates options.
std::string escape_path(std::string_view path);
// Why `layers` cannot be mounted, or "" when it can.
std::string validate_layers(const Layers& layers);
// "lowerdir=A:B,upperdir=U,workdir=W" (paths escaped). Throws std::invalid_argument when
// validate_layers() objects or the result does not fit in one page.
std::string mount_options(const Layers& layers);
// The lowerdir chain back from a mountinfo super option, top first. The kernel prints ',' and
// '\' as octal escapes (\054, \134) there, and keeps the backslash escapes of the option string.
std::vector<std::string> split_lowerdir(std::string_view mountinfo_value);
// "br=A=ro:B=ro" for aufs (which has no escaping: a ':' in a path cannot be expressed).
std::string aufs_options(const std::vector<std::string>& branches, std::string_view permission);

// A whiteout is a character device with device number 0/0.
bool is_whiteout(mode_t mode, dev_t rdev);
bool is_whiteout(const struct stat& st);
// trusted.overlay.opaque="y" is opaque. ("x", since 6.7, only says the directory may hold
// xwhiteouts; it does not hide the layers below.)
bool is_opaque(std::string_view xattr_value);

// Why `path` cannot be this lesson's work directory, or "" if it is an empty directory or can be
// made with one mkdir. Looks, never creates.
std::string check_work_dir(const std::string& path);

// --- kernel steps --------------------------------------------------------------------------------

// unshare(CLONE_NEWNS), then mount --make-rprivate /: mounts made afterwards are seen by no one
// else and vanish when the last process in the namespace exits, however it exits.
void unshare_private_mount_namespace();
// mount("overlay", target, "overlay", 0, mount_options(layers)), owned.
lab::Mount mount_overlay(const Layers& layers, const std::string& target);
// mount("none", target, "aufs", MS_RDONLY, "br=..."), owned; only where the kernel has aufs.
lab::Mount mount_aufs_read_only(const std::vector<std::string>& branches,
                                const std::string& target);

// lstat(2); nullopt when the path does not exist.
std::optional<struct stat> lstat_path(const std::string& path);
// The names in a directory, sorted, without "." and "..".
std::vector<std::string> list_dir(const std::string& path);
// Every path under `root`, relative and sorted, directories included: what a layer holds.
std::vector<std::string> list_tree(const std::string& root);
// lgetxattr(dir, "trusted.overlay.opaque"); "" when the xattr is absent.
std::string read_opaque_xattr(const std::string& dir);

}  // namespace overlay
