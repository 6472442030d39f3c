// What this host can do, checked the same way by `make doctor` and by the lessons.
//
// Each check says OK, WARN or FAIL, what it saw, and for a problem the exact fix. A lesson that
// needs something missing stops early (require_*) with that check's detail and fix, before it
// changes anything; require_root words it for a lesson run without sudo.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mount.hpp"

namespace lab::host {

enum class Status { ok, warn, fail };
std::string_view to_string(Status s);

struct Check {
  std::string name;
  Status status = Status::ok;
  std::string detail;  // what was seen
  std::string fix;     // what to do about it ("" when OK)
};

// --- cgroups -----------------------------------------------------------------------------------
// v1: one hierarchy per controller group (cpu at /sys/fs/cgroup/cpu, ...), no cgroup2 mount.
// v2: a single unified hierarchy (cgroup2) that holds every controller.
// hybrid: v1 controllers plus a cgroup2 mount (often /sys/fs/cgroup/unified) holding few or none.
enum class CgroupMode { none, v1, v2, hybrid };
std::string_view to_string(CgroupMode m);

struct CgroupLayout {
  CgroupMode mode = CgroupMode::none;
  std::string v2_mount;                               // "" when there is no cgroup2 mount
  std::vector<std::string> v2_controllers;            // from <v2_mount>/cgroup.controllers
  std::map<std::string, std::string> v1_controllers;  // controller -> its v1 mount point

  // Where `controller` can be used: "v1" (with v1_controllers[controller]), "v2", or "".
  std::string where(const std::string& controller) const;
};

// Pure: from the mount table and a way to read <v2 mount>/cgroup.controllers.
CgroupLayout detect_cgroups(const std::vector<MountInfo>& mounts,
                            const std::function<std::string(const std::string&)>& read_text);
CgroupLayout detect_cgroups();  // this host

// --- the checks ----------------------------------------------------------------------------------
bool is_root();
Check check_root();
Check check_cgroups();
Check check_overlay();
Check check_root_propagation();
Check check_user_namespaces();
Check check_rootfs(const std::string& rootfs);
Check check_environment();  // in a container, or WSL
Check check_command(const std::string& command, const std::string& package);
// The bridge lesson's subnet (172.29.0.0/24) must not overlap a route this host already has, or
// its containers' packets would go the wrong way.
// A stale lab0 (from a killed bridge lesson) is named as such, with doctor --clean as the fix.
Check check_bridge_subnet();
// /tmp (and TMPDIR if set) must allow exec: lessons copy programs there and run them.
Check check_temp_dir_exec();

bool filesystem_supported(std::string_view proc_filesystems, std::string_view fs);
// Whether /proc/filesystems lists fs now (a module not yet loaded is not listed).
bool kernel_has_filesystem(std::string_view fs);
// "wsl", "docker", "podman", "container" or "" (bare metal or a VM), from what the host shows.
std::string detect_environment(std::string_view osrelease, bool dockerenv, bool containerenv,
                               std::string_view pid1_environ);

// --- for the lessons -----------------------------------------------------------------------------
// Throws UserError with the doctor's words when the check is FAIL.
void require(const Check& check);
void require_root(std::string_view program);
void require_rootfs(const std::string& rootfs);

// The busybox rootfs that `make rootfs` builds (build/rootfs at the top of the project).
std::string default_rootfs();

}  // namespace lab::host
