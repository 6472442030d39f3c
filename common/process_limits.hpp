// What the container's process may use and who it is: rlimits, no_new_privs, oom_score_adj,
// and the user switch (the OCI spec's process.rlimits, noNewPrivileges, oomScoreAdj, user).
//
// All of these are per-process attributes that execve keeps, so the container's init sets them
// on itself just before execve (runc's finalizeNamespace), in this order:
//   set_rlimits_in_child         (while still root: raising a hard limit needs CAP_SYS_RESOURCE)
//   caps::drop_bounding_in_child
//   switch_user_in_child         (keeps permitted capabilities across setuid with KEEPCAPS)
//   caps::apply_in_child
//   set_no_new_privileges_in_child, then seccomp::load_in_child
// oom_score_adj may be set by the parent on the child's pid instead.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lab::limits {

// One entry of process.rlimits: {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}.
struct Rlimit {
  std::string type;
  unsigned long long hard = 0, soft = 0;
};

// "RLIMIT_NOFILE" -> RLIMIT_NOFILE (7); every resource of setrlimit(2); nullopt otherwise.
std::optional<int> rlimit_resource(std::string_view type);
// 7 -> "RLIMIT_NOFILE"; "resource 99" for a number without a name.
std::string rlimit_name(int resource);

// "" or a one-line reason: unknown type, soft above hard, a type given twice.
std::string validate_rlimits(const std::vector<Rlimit>& rlimits);

// setrlimit for each, in order. A failure names the limit and both values:
//   setrlimit(RLIMIT_NOFILE, {soft=1024, hard=1048576}): Operation not permitted (EPERM) -
//   raising a hard limit (20000 now) needs CAP_SYS_RESOURCE ...
void set_rlimits_in_child(const std::vector<Rlimit>& rlimits);

// prctl(PR_SET_NO_NEW_PRIVS, 1): from here on execve never grants privileges (setuid bits and
// file capabilities are ignored), and it is inherited by every descendant, for good. It also
// lets a process without CAP_SYS_ADMIN load a seccomp filter.
void set_no_new_privileges_in_child();

// "" or why `value` is not an oom_score_adj (-1000..1000).
std::string validate_oom_score_adj(long long value);
// Writes /proc/PID/oom_score_adj (pid 0: /proc/self). Lowering it below what it was needs
// CAP_SYS_RESOURCE (EACCES otherwise).
void set_oom_score_adj(pid_t pid_or_0, int value);

// process.user: uid, gid and additionalGids.
struct User {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids{};
};

// As runc does: setgroups(additional_gids) - an empty list clears the groups root had on the
// host - then setgid, then setuid (gid first: after setuid we could no longer change it).
// setgroups is skipped when /proc/self/setgroups says "deny" (a user namespace whose gid_map
// was written unprivileged); additional gids are then an error. PR_SET_KEEPCAPS is on across
// setuid so that the permitted set survives for caps::apply_in_child.
void switch_user_in_child(const User& user);

}  // namespace lab::limits
