#include "seccomp.hpp"

#include <fmt/format.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <set>

#include "error.hpp"
#include "fd.hpp"
#include "syscall_hint.hpp"

namespace lab::seccomp {

using nlohmann::json;

namespace {

struct Named {
  const char* name;
  uint32_t value;
};

#define LAB_ARCH(a) \
  Named { #a, a }
const std::array kArches = {
    LAB_ARCH(SCMP_ARCH_X86),      LAB_ARCH(SCMP_ARCH_X86_64),      LAB_ARCH(SCMP_ARCH_X32),
    LAB_ARCH(SCMP_ARCH_ARM),      LAB_ARCH(SCMP_ARCH_AARCH64),     LAB_ARCH(SCMP_ARCH_MIPS),
    LAB_ARCH(SCMP_ARCH_MIPS64),   LAB_ARCH(SCMP_ARCH_MIPS64N32),   LAB_ARCH(SCMP_ARCH_MIPSEL),
    LAB_ARCH(SCMP_ARCH_MIPSEL64), LAB_ARCH(SCMP_ARCH_MIPSEL64N32), LAB_ARCH(SCMP_ARCH_PPC),
    LAB_ARCH(SCMP_ARCH_PPC64),    LAB_ARCH(SCMP_ARCH_PPC64LE),     LAB_ARCH(SCMP_ARCH_S390),
    LAB_ARCH(SCMP_ARCH_S390X),    LAB_ARCH(SCMP_ARCH_PARISC),      LAB_ARCH(SCMP_ARCH_PARISC64),
    LAB_ARCH(SCMP_ARCH_RISCV64),
};
#undef LAB_ARCH

#define LAB_OP(o) \
  Named { #o, o }
const std::array kOps = {
    LAB_OP(SCMP_CMP_NE), LAB_OP(SCMP_CMP_LT), LAB_OP(SCMP_CMP_LE),        LAB_OP(SCMP_CMP_EQ),
    LAB_OP(SCMP_CMP_GE), LAB_OP(SCMP_CMP_GT), LAB_OP(SCMP_CMP_MASKED_EQ),
};
#undef LAB_OP

// 1 parsed from text is an unsigned JSON number, 1 put in from C++ a signed one: take both.
bool non_negative_integer(const json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
}

// Go's encoding/json writes a nil slice as null: "args": null means no args.
bool present(const json& object, const char* key) {
  return object.contains(key) && !object[key].is_null();
}

const json& array_or_empty(const json& object, const char* key) {
  static const json empty = json::array();
  return present(object, key) ? object[key] : empty;
}

// Actions whose low 16 bits carry a value: the errno to return, or the tracer's message.
bool takes_errno_ret(const std::string& action) {
  return action == "SCMP_ACT_ERRNO" || action == "SCMP_ACT_TRACE";
}

const char* const kActions[] = {"SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                                "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
                                "SCMP_ACT_ALLOW", "SCMP_ACT_LOG"};

bool known_action(const std::string& name) {
  return std::find(std::begin(kActions), std::end(kActions), name) != std::end(kActions);
}

std::string check_action(const json& action, const json& errno_ret, const std::string& where) {
  if (!action.is_string()) return fmt::format("{}: action must be a string", where);
  std::string name = action.get<std::string>();
  if (name == "SCMP_ACT_NOTIFY")
    return fmt::format(
        "{}: SCMP_ACT_NOTIFY is not supported (it needs a seccomp listener "
        "process; use SCMP_ACT_ERRNO or SCMP_ACT_TRACE)",
        where);
  if (!known_action(name)) return fmt::format("{}: unknown action \"{}\"", where, name);
  if (!errno_ret.is_null()) {
    if (!non_negative_integer(errno_ret))
      return fmt::format("{}: errnoRet must be a non-negative integer", where);
    if (!takes_errno_ret(name))
      return fmt::format("{}: errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {}",
                         where, name);
    if (errno_ret.get<uint64_t>() > 0xffff)
      return fmt::format("{}: errnoRet {} does not fit in 16 bits", where,
                         errno_ret.get<uint64_t>());
  }
  return "";
}

std::string check_arg(const json& arg, const std::string& where) {
  if (!arg.is_object()) return fmt::format("{}: must be an object", where);
  for (const auto& [key, value] : arg.items()) {
    if (key != "index" && key != "value" && key != "valueTwo" && key != "op")
      return fmt::format("{}: unknown key \"{}\"", where, key);
    if (key != "op" && !non_negative_integer(value))
      return fmt::format("{}.{} must be a non-negative integer", where, key);
  }
  if (!arg.contains("index") || !arg.contains("op") || !arg.contains("value"))
    return fmt::format("{}: index, value and op are required", where);
  if (arg["index"].get<uint64_t>() > 5)
    return fmt::format("{}: index {} is not an argument (system calls take 6: 0..5)", where,
                       arg["index"].get<uint64_t>());
  if (!arg["op"].is_string() || op_value(arg["op"].get<std::string>()) == _SCMP_CMP_MIN)
    return fmt::format("{}: unknown op {}", where, arg["op"].dump());
  return "";
}

// "SCMP_A0(SCMP_CMP_EQ, 0x0)": the comparison as libseccomp's C macros spell it.
std::string arg_to_string(const scmp_arg_cmp& c) {
  std::string op = "?";
  for (const auto& o : kOps) {
    if (o.value == static_cast<uint32_t>(c.op)) op = o.name;
  }
  if (c.op == SCMP_CMP_MASKED_EQ)
    return fmt::format("SCMP_A{}({}, {:#x}, {:#x})", c.arg, op, c.datum_a, c.datum_b);
  return fmt::format("SCMP_A{}({}, {:#x})", c.arg, op, c.datum_a);
}

// libseccomp returns -errno instead of setting errno.
void check_scmp(int rc, const std::function<std::string()>& call) {
  if (rc < 0) throw SyscallError(-rc, call());
}

}  // namespace

uint32_t arch_value(const std::string& name) {
  for (const auto& a : kArches) {
    if (name == a.name) return a.value;
  }
  return 0;
}

scmp_compare op_value(const std::string& name) {
  for (const auto& o : kOps) {
    if (name == o.name) return static_cast<scmp_compare>(o.value);
  }
  return _SCMP_CMP_MIN;
}

uint32_t action_value(const std::string& name, const json& errno_ret) {
  auto ret = [&] {
    return static_cast<uint16_t>(non_negative_integer(errno_ret) ? errno_ret.get<uint64_t>()
                                                                 : EPERM);
  };
  // SCMP_ACT_KILL is the old name of SCMP_ACT_KILL_THREAD: only the calling thread dies, which
  // leaves a multi-threaded program half-alive. KILL_PROCESS (Linux 4.14) is usually meant.
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(ret());
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(ret());
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  throw UserError(fmt::format("unknown seccomp action \"{}\"", name));
}

std::string action_to_string(uint32_t action) {
  // The high 16 bits say what to do, the low 16 carry the errno or the tracer's message.
  switch (action & 0xffff0000U) {
    case SCMP_ACT_KILL_PROCESS:
      return "KILL_PROCESS";
    case SCMP_ACT_KILL_THREAD:
      return "KILL_THREAD";
    case SCMP_ACT_TRAP:
      return "TRAP";
    case SCMP_ACT_ERRNO(0):
      return fmt::format("ERRNO({})", action & 0xffff);
    case SCMP_ACT_TRACE(0):
      return fmt::format("TRACE({})", action & 0xffff);
    case SCMP_ACT_LOG:
      return "LOG";
    case SCMP_ACT_ALLOW:
      return "ALLOW";
    default:
      return fmt::format("{:#x}", action);
  }
}

std::string validate(const json& seccomp) {
  if (!seccomp.is_object()) return "linux.seccomp must be an object";
  for (const auto& [key, value] : seccomp.items()) {
    if (key == "defaultAction" || key == "defaultErrnoRet" || key == "architectures" ||
        key == "syscalls")
      continue;
    if (key == "flags") {
      // SECCOMP_FILTER_FLAG_TSYNC, _LOG, _SPEC_ALLOW: not implemented here.
      if (value.is_null() || (value.is_array() && value.empty())) continue;
      return fmt::format("linux.seccomp.flags {} are not supported", value.dump());
    }
    if (key == "listenerPath" || key == "listenerMetadata")
      return fmt::format("linux.seccomp.{} is not supported (no seccomp notify listener)", key);
    return fmt::format("unknown key \"{}\" in linux.seccomp", key);
  }
  if (!seccomp.contains("defaultAction")) return "linux.seccomp.defaultAction is required";
  std::string reason =
      check_action(seccomp["defaultAction"], seccomp.value("defaultErrnoRet", json()),
                   "linux.seccomp.defaultAction");
  if (!reason.empty()) return reason;

  if (present(seccomp, "architectures")) {
    const json& arches = seccomp["architectures"];
    if (!arches.is_array()) return "linux.seccomp.architectures must be an array";
    for (const auto& a : arches) {
      if (!a.is_string() || arch_value(a.get<std::string>()) == 0)
        return fmt::format("linux.seccomp.architectures: unknown architecture {}", a.dump());
    }
  }
  if (!present(seccomp, "syscalls")) return "";
  const json& syscalls = seccomp["syscalls"];
  if (!syscalls.is_array()) return "linux.seccomp.syscalls must be an array";
  for (size_t i = 0; i < syscalls.size(); ++i) {
    const json& rule = syscalls[i];
    std::string where = fmt::format("linux.seccomp.syscalls[{}]", i);
    if (!rule.is_object()) return fmt::format("{} must be an object", where);
    for (const auto& [key, value] : rule.items()) {
      if (key != "names" && key != "action" && key != "errnoRet" && key != "args")
        return fmt::format("{}: unknown key \"{}\"", where, key);
    }
    if (!rule.contains("names") || !rule["names"].is_array() || rule["names"].empty())
      return fmt::format("{}.names must be a non-empty array of system call names", where);
    for (const auto& n : rule["names"]) {
      if (!n.is_string() || n.get<std::string>().empty())
        return fmt::format("{}.names: {} is not a system call name", where, n.dump());
    }
    if (!rule.contains("action")) return fmt::format("{}.action is required", where);
    reason = check_action(rule["action"], rule.value("errnoRet", json()), where);
    if (!reason.empty()) return reason;
    if (present(rule, "args")) {
      if (!rule["args"].is_array()) return fmt::format("{}.args must be an array", where);
      for (size_t j = 0; j < rule["args"].size(); ++j) {
        reason = check_arg(rule["args"][j], fmt::format("{}.args[{}]", where, j));
        if (!reason.empty()) return reason;
      }
    }
  }
  return "";
}

std::vector<std::string> unknown_syscalls(const json& seccomp) {
  std::vector<std::string> out;
  if (!seccomp.is_object() || !present(seccomp, "syscalls") || !seccomp["syscalls"].is_array())
    return out;
  for (const auto& rule : seccomp["syscalls"]) {
    if (!rule.is_object() || !rule.contains("names") || !rule["names"].is_array()) continue;
    for (const auto& n : rule["names"]) {
      if (!n.is_string()) continue;
      std::string name = n.get<std::string>();
      // A name of another architecture ("_llseek" on x86_64) resolves to a negative pseudo
      // number, not to __NR_SCMP_ERROR: libseccomp knows it, and maps it per architecture.
      if (seccomp_syscall_resolve_name(name.c_str()) == __NR_SCMP_ERROR &&
          std::find(out.begin(), out.end(), name) == out.end())
        out.push_back(name);
    }
  }
  return out;
}

Filter& Filter::operator=(Filter&& other) noexcept {
  if (this != &other) {
    if (ctx_) seccomp_release(ctx_);
    ctx_ = std::exchange(other.ctx_, nullptr);
    rules_added = other.rules_added;
    rules_skipped = other.rules_skipped;
  }
  return *this;
}

Filter::~Filter() {
  if (ctx_) seccomp_release(ctx_);
}

Filter compile(const json& seccomp) {
  std::string reason = validate(seccomp);
  if (!reason.empty()) throw UserError(reason);

  const uint32_t default_action = action_value(seccomp["defaultAction"].get<std::string>(),
                                               seccomp.value("defaultErrnoRet", json()));
  scmp_filter_ctx raw = seccomp_init(default_action);
  if (raw == nullptr)
    throw SyscallError(EINVAL, fmt::format("seccomp_init({})", action_to_string(default_action)));
  Filter filter(raw);

  check_scmp(seccomp_attr_set(raw, SCMP_FLTATR_CTL_NNP, 0),
             [] { return std::string("seccomp_attr_set(SCMP_FLTATR_CTL_NNP, 0)"); });

  // Without this, libseccomp reports every kernel refusal in seccomp_load as ECANCELED; with
  // it, the kernel's own errno (EACCES: neither no_new_privs nor CAP_SYS_ADMIN).
  check_scmp(seccomp_attr_set(raw, SCMP_FLTATR_API_SYSRAWRC, 1),
             [] { return std::string("seccomp_attr_set(SCMP_FLTATR_API_SYSRAWRC, 1)"); });

  for (const auto& a : array_or_empty(seccomp, "architectures")) {
    std::string name = a.get<std::string>();
    int rc = seccomp_arch_add(raw, arch_value(name));
    // The native architecture is in every new filter already: EEXIST is not an error.
    if (rc == -EEXIST) continue;
    check_scmp(rc, [&] { return fmt::format("seccomp_arch_add({})", name); });
  }

  for (const auto& rule : array_or_empty(seccomp, "syscalls")) {
    const uint32_t action =
        action_value(rule["action"].get<std::string>(), rule.value("errnoRet", json()));
    std::vector<scmp_arg_cmp> args;
    std::set<unsigned> indexes;
    bool index_repeats = false;
    for (const auto& a : array_or_empty(rule, "args")) {
      scmp_arg_cmp c{};
      c.arg = static_cast<unsigned>(a["index"].get<uint64_t>());
      c.op = op_value(a["op"].get<std::string>());
      c.datum_a = a["value"].get<uint64_t>();
      c.datum_b = a.value("valueTwo", uint64_t{0});
      index_repeats |= !indexes.insert(c.arg).second;
      args.push_back(c);
    }
    // All comparisons of one rule must hold together (AND), but libseccomp refuses two on the
    // same argument in one rule. runc then adds one rule per comparison (OR); so do we.
    std::vector<std::vector<scmp_arg_cmp>> groups;
    if (index_repeats) {
      for (const auto& c : args) groups.push_back({c});
    } else {
      groups.push_back(args);
    }

    for (const auto& n : rule["names"]) {
      std::string name = n.get<std::string>();
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR || action == default_action) {
        ++filter.rules_skipped;
        continue;
      }
      for (const auto& group : groups) {
        check_scmp(seccomp_rule_add_array(raw, action, nr, static_cast<unsigned>(group.size()),
                                          group.empty() ? nullptr : group.data()),
                   [&] {
                     std::string text = fmt::format("seccomp_rule_add({}, \"{}\", {}",
                                                    action_to_string(action), name, group.size());
                     for (const auto& c : group) text += ", " + arg_to_string(c);
                     return text + ")";
                   });
        ++filter.rules_added;
      }
    }
  }
  return filter;
}

namespace {

[[noreturn]] void throw_load_error(int err, const std::string& call) {
  throw HintedSyscallError(
      err, call,
      err == EACCES ? "loading a seccomp filter needs no_new_privs "
                      "(prctl(PR_SET_NO_NEW_PRIVS, 1)) or CAP_SYS_ADMIN in the effective set: "
                      "load it before dropping capabilities, or set noNewPrivileges"
                    : "");
}

std::string read_all(int fd, const char* what) {
  check(::lseek(fd, 0, SEEK_SET), [&] { return fmt::format("lseek({}, 0, SEEK_SET)", what); });
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == -1 && errno == EINTR) continue;
    check(n, [&] { return fmt::format("read({})", what); });
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

void load_in_child(const Filter& filter) {
  if (!filter) throw UserError("seccomp_load: no filter was compiled");
  int rc = seccomp_load(filter.get());
  if (rc < 0) throw_load_error(-rc, "seccomp_load()");
}

std::vector<sock_filter> export_bpf(const Filter& filter) {
  if (!filter) throw UserError("seccomp_export_bpf: no filter was compiled");
  UniqueFd fd(check(::memfd_create("seccomp-bpf", MFD_CLOEXEC), "memfd_create(\"seccomp-bpf\")"));
  check_scmp(seccomp_export_bpf(filter.get(), fd.get()),
             [] { return std::string("seccomp_export_bpf()"); });
  std::string bytes = read_all(fd.get(), "memfd");
  std::vector<sock_filter> program(bytes.size() / sizeof(sock_filter));
  std::memcpy(program.data(), bytes.data(), program.size() * sizeof(sock_filter));
  return program;
}

void load_bpf_in_child(const std::vector<sock_filter>& program) {
  if (program.empty() || program.size() > BPF_MAXINSNS)
    throw UserError(
        fmt::format("seccomp(SECCOMP_SET_MODE_FILTER): a program of {} instructions "
                    "(the kernel takes 1 to {})",
                    program.size(), BPF_MAXINSNS));
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.size());
  prog.filter = const_cast<sock_filter*>(program.data());
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
    throw_load_error(errno, fmt::format("seccomp(SECCOMP_SET_MODE_FILTER, 0, {{{} instructions}})",
                                        program.size()));
}

std::string export_pfc(const Filter& filter) {
  if (!filter) return "";
  UniqueFd fd(check(::memfd_create("seccomp-pfc", MFD_CLOEXEC), "memfd_create(\"seccomp-pfc\")"));
  check_scmp(seccomp_export_pfc(filter.get(), fd.get()),
             [] { return std::string("seccomp_export_pfc()"); });
  return read_all(fd.get(), "memfd");
}

}  // namespace lab::seccomp
