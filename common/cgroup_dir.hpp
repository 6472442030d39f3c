// Cgroup directories and the controllers a cgroup hands to its children.
//
// A cgroup is a directory in a cgroup filesystem: mkdir(2) makes one (the kernel fills it with
// its control files), rmdir(2) removes it, and only when no process and no child cgroup is left
// inside (EBUSY otherwise). A CgroupDir owns such a directory: when it goes away it moves any
// process still inside to another cgroup, then removes the directory.
//
// In cgroup v2 a controller works in a cgroup only when its parent lists it in
// cgroup.subtree_control (`echo +cpu > PARENT/cgroup.subtree_control`). A SubtreeControl owns such
// a grant and takes it back if it was the one that made it. See cgroups(7).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lab {

class CgroupDir {
 public:
  CgroupDir() = default;
  // mkdir(path, 0755), checked. Processes found inside when the owner goes away are moved to the
  // cgroup directory `evacuate_to` (default: the parent directory) before rmdir.
  static CgroupDir create(const std::string& path, const std::string& evacuate_to = "");
  CgroupDir(CgroupDir&& other) noexcept
      : path_(std::exchange(other.path_, {})), evacuate_to_(std::move(other.evacuate_to_)) {}
  CgroupDir& operator=(CgroupDir&& other) noexcept;
  CgroupDir(const CgroupDir&) = delete;
  CgroupDir& operator=(const CgroupDir&) = delete;
  ~CgroupDir() { remove_quietly(); }

  const std::string& path() const { return path_; }
  // A control file inside: file("cpu.max") is "<path>/cpu.max".
  std::string file(std::string_view name) const;
  // Moves stragglers out and rmdir(2)s the directory, checked; the owner then holds nothing.
  void remove();
  void remove_quietly() noexcept;
  std::string release() { return std::exchange(path_, {}); }

 private:
  CgroupDir(std::string path, std::string evacuate_to)
      : path_(std::move(path)), evacuate_to_(std::move(evacuate_to)) {}
  std::string path_;
  std::string evacuate_to_;
};

class SubtreeControl {
 public:
  SubtreeControl() = default;
  // Makes sure `controller` is in <dir>/cgroup.subtree_control: writes "+controller" unless it is
  // already there. EBUSY here is v2's "no internal processes" rule: `dir` holds processes and the
  // controller is a domain one (memory, io), or a threaded one (cpu) while its children hold
  // processes too (see errno_hint).
  static SubtreeControl enable(const std::string& dir, const std::string& controller);
  SubtreeControl(SubtreeControl&& other) noexcept
      : file_(std::exchange(other.file_, {})),
        controller_(std::move(other.controller_)),
        was_enabled_(other.was_enabled_) {}
  SubtreeControl& operator=(SubtreeControl&& other) noexcept;
  SubtreeControl(const SubtreeControl&) = delete;
  SubtreeControl& operator=(const SubtreeControl&) = delete;
  // Writes "-controller" again if enable() was the one that added it and no child cgroup is
  // left below the directory (a sibling may still use the controller); best effort.
  ~SubtreeControl() { restore(); }

  bool was_enabled_already() const { return was_enabled_; }
  // Leaves the grant in place for good: the owner no longer takes it back.
  void release() { file_.clear(); }
  void restore() noexcept;

 private:
  std::string file_;  // "" when there is nothing to undo
  std::string controller_;
  bool was_enabled_ = false;
};

// Pure helpers, for the owners above and for tests.
// Whether a cgroup.controllers / cgroup.subtree_control text ("cpu io memory") names `controller`.
bool controller_listed(std::string_view text, std::string_view controller);
// The PIDs in a cgroup.procs or tasks file, one a line.
std::vector<pid_t> parse_pid_list(std::string_view text);

}  // namespace lab
