// seccomp: a BPF program the kernel runs on every system call the process makes.
//
// The OCI spec's linux.seccomp object names a default action, the architectures whose system
// call numbers the filter must know (an x86_64 process can still make i386 calls through int
// 0x80, with other numbers), and rules: a list of system call names, an action, and optional
// comparisons on the call's arguments. libseccomp turns that into BPF (seccomp_init,
// seccomp_arch_add, seccomp_rule_add_array) and loads it with seccomp(2) (seccomp_load).
//
// Kernel rules to know:
//   - Loading a filter needs either no_new_privs (prctl(PR_SET_NO_NEW_PRIVS)) or CAP_SYS_ADMIN,
//     otherwise EACCES: an unprivileged process could make a setuid binary misbehave. We do not
//     let libseccomp set no_new_privs on its own (runc doesn't either): that is the spec's
//     process.noNewPrivileges. Without it, load before the capabilities are dropped.
//   - A filter can never be removed, only stacked, and it is inherited across fork and execve.
//   - libseccomp refuses a rule whose action equals the default action; such rules are
//     skipped, like runc does.
#pragma once

#include <linux/filter.h>
#include <seccomp.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace lab::seccomp {

// "" or a one-line reason why this linux.seccomp object cannot be used: an unknown
// defaultAction/action (SCMP_ACT_NOTIFY is refused: no listener support), architecture or
// op, an argument index outside 0..5, an unknown or unsupported key (listenerPath, flags...),
// errnoRet with an action that has no return code, a value of the wrong JSON type.
std::string validate(const nlohmann::json& seccomp);

// The system call names that this libseccomp does not know at all: runc skips them (with a
// warning), and so does compile(). Each once, in the order first met.
std::vector<std::string> unknown_syscalls(const nlohmann::json& seccomp);

// "SCMP_ACT_ERRNO" + errnoRet -> the libseccomp action; errnoRet defaults to EPERM for
// SCMP_ACT_ERRNO and SCMP_ACT_TRACE. Throws UserError for an unknown name.
uint32_t action_value(const std::string& name, const nlohmann::json& errno_ret = nullptr);
// SCMP_ACT_ERRNO(1) -> "ERRNO(1)", SCMP_ACT_ALLOW -> "ALLOW", as libseccomp's tools print.
std::string action_to_string(uint32_t action);
// "SCMP_ARCH_X86_64" -> SCMP_ARCH_X86_64; 0 for an unknown name.
uint32_t arch_value(const std::string& name);
// "SCMP_CMP_MASKED_EQ" -> SCMP_CMP_MASKED_EQ; _SCMP_CMP_MIN (0) for an unknown name.
scmp_compare op_value(const std::string& name);

// An owned libseccomp filter context (seccomp_release when the owner goes away).
class Filter {
 public:
  Filter() = default;
  explicit Filter(scmp_filter_ctx ctx) : ctx_(ctx) {}
  Filter(Filter&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}
  Filter& operator=(Filter&& other) noexcept;
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;
  ~Filter();

  scmp_filter_ctx get() const { return ctx_; }
  explicit operator bool() const { return ctx_ != nullptr; }
  // How many rules compile() added, and how many it skipped (action == default action, or a
  // name libseccomp does not know).
  int rules_added = 0;
  int rules_skipped = 0;

 private:
  scmp_filter_ctx ctx_ = nullptr;
};

// Builds the filter in memory; nothing is loaded. Throws UserError when validate() refuses the
// object, SyscallError naming the libseccomp call when libseccomp does, e.g.
//   seccomp_rule_add(ALLOW, "clone", SCMP_A0(SCMP_CMP_MASKED_EQ, 0x7e020000, 0x0)): ...
Filter compile(const nlohmann::json& seccomp);

// Child side, last step before execve: seccomp_load. From here on the filter judges every call,
// including the execve that follows - so the profile must allow execve.
void load_in_child(const Filter& filter);

// The BPF program libseccomp generated (seccomp_export_bpf): what seccomp(2) takes. A runtime can
// keep it, so that the next container with the same profile skips libseccomp altogether.
std::vector<sock_filter> export_bpf(const Filter& filter);

// Child side, as load_in_child, for a program exported earlier: seccomp(SECCOMP_SET_MODE_FILTER,
// 0, program), the call seccomp_load makes for a filter without TSYNC, LOG or SPEC_ALLOW flags.
// Refuses an empty program or one longer than the kernel's BPF_MAXINSNS (4096).
void load_bpf_in_child(const std::vector<sock_filter>& program);

// The BPF program as text (seccomp_export_pfc), for a lesson to show.
std::string export_pfc(const Filter& filter);

}  // namespace lab::seccomp
