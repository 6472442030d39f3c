// Docker's default seccomp profile, in the OCI runtime spec's linux.seccomp form, for x86_64.
//
// moby keeps the profile in profiles/seccomp/default.json in its own richer format: every rule
// may say which capabilities (includes.caps / excludes.caps), architectures and minimum kernel
// it applies to, and dockerd turns it into the OCI form for each container, from the
// container's capabilities. This is that conversion, done here for x86_64 (whose filter also
// covers the i386 and x32 system call tables, as Docker's does).
//
// What it is: everything is denied with EPERM (defaultAction SCMP_ACT_ERRNO, defaultErrnoRet 1)
// except a long allow list of ordinary system calls, plus:
//   - personality only with the values 0, 8 (PER_LINUX32), 0x20000 (UNAME26), 0x20008 and
//     0xffffffff (the query);
//   - socket with any family but AF_VSOCK (40): vsock reaches the host's hypervisor;
//   - clone only without any CLONE_NEW* flag (a masked comparison of argument 0) unless
//     CAP_SYS_ADMIN is given, and clone3 fails with ENOSYS (38) so that glibc falls back to
//     clone, whose flags the filter can see (clone3's are behind a pointer);
//   - the system calls of each capability (mount, unshare, setns... for CAP_SYS_ADMIN; chroot
//     for CAP_SYS_CHROOT; ptrace for CAP_SYS_PTRACE...) only when that capability is given.
// With Docker's 14 default capabilities that means: no mount, umount2, unshare, setns, bpf,
// keyctl, add_key, request_key, reboot, init_module, swapon, settimeofday, ...
//
// Left out of moby's file, on purpose: the rules for other architectures (ppc64le's
// sync_file_range2/swapcontext, arm's arm_fadvise64_64/arm_sync_file_range/sync_file_range2/
// breakpoint/cacheflush/set_tls, s390's s390_pci_mmio_read/s390_pci_mmio_write/
// s390_runtime_instr and its clone rule with the flags in argument 1, riscv64's
// riscv_flush_icache). The "minKernel 4.8" rule (ptrace, process_vm_readv, process_vm_writev)
// is always included: every kernel this toolkit runs on is newer.
//
// The profile was taken from moby's default.json as of its AF_VSOCK rule and the CAP_BPF /
// CAP_PERFMON groups (2022-2023); system calls that moby added later (cachestat, fchmodat2,
// futex_wake/wait/requeue, map_shadow_stack, ...) are denied here.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace runtime {

// The profile for Docker's default capabilities (lab::caps::docker_default()).
nlohmann::json docker_default_seccomp();

// The profile for a container with these capabilities ("CAP_SYS_ADMIN", ...), as dockerd makes
// it from process.capabilities.bounding: the capability-conditional rules are added or left out.
nlohmann::json docker_default_seccomp(const std::vector<std::string>& capabilities);

}  // namespace runtime
