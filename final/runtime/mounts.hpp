// The container's root file system, as config.json describes it: root, mounts, linux.devices,
// maskedPaths, readonlyPaths, rootfsPropagation, linux.sysctl (runtime-spec config.md and
// config-linux.md). Built in the container's init, in its own mount namespace, in runc's order:
//
//   mount("", "/", MS_REC|MS_SLAVE)        nothing we mount reaches the host     (lesson 03)
//   mount(rootfs, rootfs, MS_BIND|MS_REC)  the rootfs becomes a mount point      (lesson 03)
//   each of `mounts`, in order             targets resolved inside the rootfs    (lesson 03)
//   /dev: device nodes, ptmx, fd, stdin... unless /dev is a bind mount
//   pivot_root(".", "."), umount2(".")     the rootfs is "/"                     (lesson 03)
//   rootfsPropagation on the new "/", tmpfs mounts asked "ro" made read-only, root.readonly
//   linux.sysctl, readonlyPaths, maskedPaths
//
// Every mount target inside the rootfs is resolved with openat2(RESOLVE_IN_ROOT) (path_in_root):
// the rootfs is not ours, and a symlink in it must never send a mount onto the host. The mount is
// then made onto /proc/self/fd/N of that descriptor (runc's way), so nothing can swap the path
// between the check and the mount. After pivot_root the host is out of reach and plain paths
// are used.
//
// A "cgroup" mount: on a cgroup v2 host, cgroup2 itself. On a v1 or hybrid host, runc's layout:
// a tmpfs at the destination and, for each hierarchy the host mounts under /sys/fs/cgroup, the
// container's own cgroup of it on DEST/<name>, read-only (links cpu -> cpu,cpuacct for
// co-mounted controllers). With a cgroup namespace each hierarchy is mounted anew (the kernel
// shows it from the namespace's root, the container's cgroup); without one, the container's
// cgroup directory is bind-mounted.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace runtime::mounts {

struct MountEntry {
  std::string destination, type, source;
  std::vector<std::string> options;
};

struct Device {
  std::string path;
  char type = 'c';  // c (or u): character, b: block, p: FIFO
  long long major = 0, minor = 0;
  unsigned file_mode = 0666;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct Plan {
  std::string rootfs;  // absolute host path (already resolved against the bundle)
  bool readonly = false;
  std::vector<MountEntry> mounts;  // config order
  std::vector<Device> devices;     // linux.devices, in addition to default_devices()
  std::vector<std::string> masked_paths, readonly_paths;
  // "" means runc's default: "/" made rslave before anything is mounted (host mounts still reach
  // the container, nothing goes back), and no change after pivot_root.
  std::string rootfs_propagation;
  std::map<std::string, std::string> sysctl;  // "net.ipv4.ip_forward" -> "1"
  // The init is in a cgroup namespace of its own when the mounts are made (v1 "cgroup" mounts).
  bool cgroup_namespace = false;
};

// A mount's "options" split the way mount(8) and runc do: flag words into mount(2) flags
// (with their negations: "rw", "suid", "dev", "exec", "atime"... clear them), propagation words
// into a separate set of flags (they need mount calls of their own), "bind"/"rbind" noted, and
// every other word ("mode=755", "size=65536k", "newinstance", "gid=5") joined with ',' as the
// file system's data string.
struct ParsedOptions {
  unsigned long flags = 0;
  unsigned long propagation = 0;  // MS_SHARED|MS_SLAVE|MS_PRIVATE|MS_UNBINDABLE, maybe MS_REC
  std::string data;
  bool bind = false, recursive = false;
  // runc's "tmpcopyup": a tmpfs starts with a copy of what the directory under it held (podman
  // --read-only puts such tmpfs on /run, /tmp and /var/tmp).
  bool tmpcopyup = false;
};
ParsedOptions parse_options(const std::vector<std::string>& options);

// One propagation word ("rslave") as mount flags (MS_REC|MS_SLAVE); 0 for anything else.
unsigned long propagation_flags(std::string_view word);

// What is wrong with the plan, in one line, or "": relative destinations, unknown mount types,
// bind mounts without a source, a bad rootfsPropagation, device types, sysctl names (and sysctls
// that are not per-namespace: writing them would change the host).
std::string validate(const Plan& plan);

// runtime-spec "Default Devices": /dev/null, zero, full, random, urandom, tty; 0666, root's.
std::vector<Device> default_devices();

// (lesson, call, shell) for each step: lesson is "03" for what lesson 03 teaches (propagation,
// bind mounts, pivot_root), "" for the runtime's own steps. May be empty.
using Explain =
    std::function<void(std::string_view lesson, std::string_view call, std::string_view shell)>;

// Builds the whole root file system and switches into it; on return "/" is plan.rootfs. Runs in
// the container's init after unshare(CLONE_NEWNS); throws lab::SyscallError or lab::UserError
// with the step in the message.
void prepare_rootfs_in_child(const Plan& plan, const Explain& explain);

}  // namespace runtime::mounts
