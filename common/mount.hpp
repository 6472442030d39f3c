// Mounts and the mount table.
//
// A Mount owns a mount point and detaches it (umount2 MNT_DETACH) when it goes away. mountinfo
// parsing reads /proc/PID/mountinfo the way findmnt does: that is where propagation (shared:N,
// master:N) and overlay's lowerdir chain can be seen.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lab {

// mount(2), checked and named: mount("proc", "/proc", "proc", MS_NOSUID|MS_NODEV, NULL).
void mount_fs(const char* source, const std::string& target, const char* fstype,
              unsigned long flags, const char* data = nullptr);

class Mount {
 public:
  Mount() = default;
  explicit Mount(std::string target) : target_(std::move(target)) {}
  Mount(Mount&& other) noexcept : target_(std::exchange(other.target_, {})) {}
  Mount& operator=(Mount&& other) noexcept;
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;
  ~Mount() { detach(); }

  const std::string& target() const { return target_; }
  void detach() noexcept;
  std::string release() { return std::exchange(target_, {}); }

 private:
  std::string target_;
};

// rm -r that never deletes through a mount: mounts at or below `path` are detached first
// (MNT_DETACH, this mount namespace only), and the walk leaves alone any directory that is still
// another mount's mount point. Best effort, never throws: what could not go stays.
void remove_tree_without_crossing_mounts(const std::string& path) noexcept;

// A directory made with mkdtemp and removed with everything in it when the owner goes away (by
// remove_tree_without_crossing_mounts: a volume still bound inside it keeps its files).
class TempDir {
 public:
  explicit TempDir(std::string_view prefix);  // e.g. "/tmp/lab-chroot-"
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string release() { return std::exchange(path_, {}); }

 private:
  std::string path_;
};

// One line of /proc/PID/mountinfo (see proc(5)).
struct MountInfo {
  int mount_id = 0;
  int parent_id = 0;
  std::string major_minor;
  std::string root;         // the part of the source filesystem that is mounted here
  std::string mount_point;  // octal escapes (\040 for space) decoded
  std::string options;      // per-mount: rw,nosuid,relatime
  std::vector<std::string> optional_fields;  // shared:N, master:N, propagate_from:N, unbindable
  std::string fstype;
  std::string source;
  std::string super_options;  // per-superblock: for overlay, lowerdir=...,upperdir=...

  // "shared", "slave", "shared,slave", "unbindable" or "private", as findmnt -o PROPAGATION says.
  std::string propagation() const;
  // Value of key=value in super_options ("" if absent), e.g. option("lowerdir").
  std::string super_option(std::string_view key) const;
};

// Parses one line; throws std::invalid_argument on a malformed line.
MountInfo parse_mountinfo_line(std::string_view line);
std::vector<MountInfo> parse_mountinfo(std::string_view text);
// /proc/self/mountinfo (or another process's).
std::vector<MountInfo> read_mountinfo(const std::string& path = "/proc/self/mountinfo");
// The entry mounted last at `mount_point` (the one on top), or nullptr.
const MountInfo* find_mount(const std::vector<MountInfo>& mounts, std::string_view mount_point);

// "\040" -> " ", as the kernel escapes space, tab, newline and backslash in mountinfo.
std::string decode_mount_escapes(std::string_view s);

}  // namespace lab
