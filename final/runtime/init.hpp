// The container's side of create and exec: what runs in the cloned child, from the moment it
// exists (in its new namespaces, not yet in its cgroup) to the execve of the container's program.
#pragma once

#include <linux/filter.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "process.hpp"
#include "runtime/explain.hpp"
#include "runtime/spec.hpp"

namespace runtime {

struct InitArgs {
  const Spec* spec = nullptr;
  lab::Channel* channel = nullptr;  // to the parent (create or run)
  std::string fifo_path;            // exec.fifo: `start` opens it, and then we exec
  int console_socket = -1;          // >= 0: the pty master goes there
  int preserve_fds = 0;             // fds 3 .. 3+N-1 stay open across exec (runc --preserve-fds)
  // linux.seccomp as BPF, compiled by the parent (seccomp_cache::program); null: no seccomp.
  const std::vector<sock_filter>* seccomp = nullptr;
  // The v1 cgroup trees' `tasks` files the init joins itself (cgroups::join_self), first thing.
  const std::vector<std::string>* cgroup_tasks = nullptr;
  const Explainer* explain = nullptr;
};

// The body of the container's init (PID 1 of its PID namespace). Returns only on error, with
// the exit code; the error has been reported to the parent.
int container_init(const InitArgs& args) noexcept;

struct ExecArgs {
  const Spec* spec = nullptr;        // the container's config (seccomp, defaults)
  const Process* process = nullptr;  // what to run, with exec's overrides applied
  pid_t container_pid = 0;
  lab::Channel* channel = nullptr;
  int console_socket = -1;
  int preserve_fds = 0;
  bool keep_parent_death_signal = true;
  const std::vector<sock_filter>* seccomp = nullptr;  // as InitArgs::seccomp
  const std::vector<std::string>* cgroup_tasks = nullptr;  // as InitArgs::cgroup_tasks
  const Explainer* explain = nullptr;
};

// The body of an exec'd process: joins the container's namespaces (the PID namespace was joined
// by the parent, for its children), then does the same last steps as the init.
int exec_in_container(const ExecArgs& args) noexcept;

}  // namespace runtime
