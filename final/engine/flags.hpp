// Two run/create flags whose meaning depends on the host (issue 9):
//   --memory without --memory-swap   Docker's daemon allows as much swap again (memory + swap =
//                                    2 x memory, exec::parse_limits); a kernel that does not
//                                    count swap (v1 without memory.memsw.*, v2 without
//                                    memory.swap.max: swapaccount=0) cannot limit it, and Docker
//                                    then warns and records MemorySwap -1 ("memory limited
//                                    without swap"). So does minidocker.
//   --init                           Docker bind-mounts its docker-init (tini) read-only at
//                                    /sbin/docker-init and runs `/sbin/docker-init -- CMD...`:
//                                    a PID 1 that reaps orphans and passes signals on, so the
//                                    command is not PID 1 (lesson 02's duties of an init). Here
//                                    it is Debian's tini-static (static: it runs in any rootfs).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "exec/bundle.hpp"

namespace runtime {
class Explainer;
}

namespace engine {

// Where docker-init comes from on this host, and where the container sees it.
inline constexpr const char* kInitBinary = "/usr/bin/tini-static";
inline constexpr const char* kInitPath = "/sbin/docker-init";

// Does the kernel count swap per cgroup for the memory controller in use (host)?
bool swap_accounting();
// Docker's rule after its defaults: a kernel without swap accounting gets MemorySwap -1 and the
// warning on stderr. Returns the limits to use.
exec::Limits adapt_swap(exec::Limits limits, bool has_swap_accounting);

// tini-static's path, checked: a regular executable file, or one line of UserError telling what
// to install.
std::string init_binary();
// The spec with --init (pure): `init` bound read-only at /sbin/docker-init and put before the
// command (`/sbin/docker-init -- ARGS...`).
void add_init(nlohmann::json& spec, const std::string& init);

}  // namespace engine
