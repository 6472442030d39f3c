#include "capabilities.hpp"

#include <fmt/format.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <type_traits>

#include "error.hpp"
#include "syscall_hint.hpp"

namespace lab::caps {

namespace {

struct NamedSet {
  const char* name;
  const std::vector<std::string>* names;
};

std::vector<NamedSet> named_sets(const Sets& s) {
  return {{"bounding", &s.bounding},
          {"effective", &s.effective},
          {"permitted", &s.permitted},
          {"inheritable", &s.inheritable},
          {"ambient", &s.ambient}};
}

// The numbers of the names that both libcap and the running kernel know.
std::vector<int> usable_numbers(const std::vector<std::string>& names) {
  int last = last_cap();
  std::vector<int> out;
  for (const auto& n : names) {
    auto cap = capability_number(n);
    if (cap && *cap <= last) out.push_back(*cap);
  }
  return out;
}

std::string join_names(const std::vector<int>& caps) {
  std::string out;
  for (int c : caps) {
    if (!out.empty()) out += '|';
    out += capability_name(c);
  }
  return out.empty() ? "0" : out;
}

// cap_t is a pointer that cap_free releases.
struct CapFree {
  void operator()(void* p) const { cap_free(p); }
};

// libcap's name for a number, upper-cased; nullopt when it has none (it then prints the
// number itself).
std::optional<std::string> libcap_name(int cap) {
  std::unique_ptr<char, CapFree> text(cap_to_name(static_cast<cap_value_t>(cap)));
  if (!text || !std::isalpha(static_cast<unsigned char>(text.get()[0]))) return std::nullopt;
  std::string out = text.get();
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

}  // namespace

std::optional<int> capability_number(std::string_view name) {
  if (!name.starts_with("CAP_")) return std::nullopt;
  // libcap reads names case-insensitively and takes plain numbers too ("21"): only a name
  // that libcap spells back exactly, in upper case, is the OCI spelling.
  cap_value_t value = 0;
  std::string text(name);
  if (cap_from_name(text.c_str(), &value) != 0) return std::nullopt;
  auto spelled = libcap_name(value);
  if (!spelled || *spelled != name) return std::nullopt;
  return value;
}

std::string capability_name(int cap) {
  return libcap_name(cap).value_or(fmt::format("CAP_{}", cap));
}

int last_cap() {
  static const int value = [] {
    std::ifstream in("/proc/sys/kernel/cap_last_cap");
    int n = -1;
    if (!(in >> n)) {
      // Kernels before 3.2 lack the file; what libcap was built with is the best guess.
      return static_cast<int>(CAP_LAST_CAP);
    }
    return n;
  }();
  return value;
}

std::string validate(const Sets& sets) {
  for (const auto& set : named_sets(sets)) {
    for (const auto& name : *set.names) {
      if (!capability_number(name))
        return fmt::format("unknown capability \"{}\" in process.capabilities.{}", name, set.name);
    }
  }
  return "";
}

std::vector<std::string> unknown_to_kernel(const Sets& sets) {
  int last = last_cap();
  std::vector<std::string> out;
  for (const auto& set : named_sets(sets)) {
    for (const auto& name : *set.names) {
      auto cap = capability_number(name);
      if (cap && *cap > last && std::find(out.begin(), out.end(), name) == out.end())
        out.push_back(name);
    }
  }
  return out;
}

void drop_bounding_in_child(const Sets& sets) {
  std::vector<int> keep = usable_numbers(sets.bounding);
  for (int cap = 0; cap <= last_cap(); ++cap) {
    if (std::find(keep.begin(), keep.end(), cap) != keep.end()) continue;
    check_hinted(
        ::prctl(PR_CAPBSET_DROP, static_cast<unsigned long>(cap), 0UL, 0UL, 0UL),
        [&] { return fmt::format("prctl(PR_CAPBSET_DROP, {})", capability_name(cap)); },
        [](int err) -> std::string {
          return err == EPERM ? "dropping from the bounding set needs CAP_SETPCAP in the "
                                "effective set: do it before the user switch"
                              : "";
        });
  }
}

void apply_in_child(const Sets& sets) {
  std::vector<int> effective = usable_numbers(sets.effective);
  std::vector<int> permitted = usable_numbers(sets.permitted);
  std::vector<int> inheritable = usable_numbers(sets.inheritable);

  std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree> owner(cap_init());
  cap_t state = owner.get();
  check(state == nullptr ? -1 : 0, "cap_init()");
  auto set_flag = [&](cap_flag_t flag, const std::vector<int>& caps) {
    std::vector<cap_value_t> values(caps.begin(), caps.end());
    if (values.empty()) return;
    check(cap_set_flag(state, flag, static_cast<int>(values.size()), values.data(), CAP_SET),
          "cap_set_flag()");
  };
  set_flag(CAP_EFFECTIVE, effective);
  set_flag(CAP_PERMITTED, permitted);
  set_flag(CAP_INHERITABLE, inheritable);
  check_hinted(
      cap_set_proc(state),
      [&] {
        return fmt::format("capset(effective={}, permitted={}, inheritable={})",
                           join_names(effective), join_names(permitted), join_names(inheritable));
      },
      [](int err) -> std::string {
        return err == EPERM ? "capset can only lower permitted, effective must be within "
                              "permitted, and inheritable within permitted and the bounding set"
                            : "";
      });

  // The ambient set (Linux 4.3) is what lets a non-root program keep capabilities across
  // execve without file capabilities. The kernel drops a capability from it as soon as it
  // leaves permitted or inheritable, so it is raised last.
  check(::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0UL, 0UL, 0UL),
        "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)");
  for (int cap : usable_numbers(sets.ambient)) {
    check_hinted(
        ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, static_cast<unsigned long>(cap), 0UL, 0UL),
        [&] {
          return fmt::format("prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, {})",
                             capability_name(cap));
        },
        [](int err) -> std::string {
          return err == EPERM ? "an ambient capability must also be in the permitted and "
                                "inheritable sets"
                              : "";
        });
  }
}

uint64_t mask(const std::vector<std::string>& names) {
  uint64_t bits = 0;
  for (const auto& n : names) {
    auto cap = capability_number(n);
    if (cap && *cap < 64) bits |= uint64_t{1} << *cap;
  }
  return bits;
}

uint64_t parse_status_mask(std::string_view hex) {
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.front())))
    hex.remove_prefix(1);
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back()))) hex.remove_suffix(1);
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), value, 16);
  if (hex.empty() || ec != std::errc() || end != hex.data() + hex.size())
    throw std::invalid_argument(fmt::format("not a capability mask: \"{}\"", hex));
  return value;
}

std::vector<std::string> names_in_mask(uint64_t bits) {
  std::vector<std::string> out;
  for (int cap = 0; cap < 64; ++cap) {
    if (bits & (uint64_t{1} << cap)) out.push_back(capability_name(cap));
  }
  return out;
}

uint64_t read_status_mask(int pid, std::string_view field) {
  std::string path = pid == 0 ? "/proc/self/status" : fmt::format("/proc/{}/status", pid);
  std::ifstream in(path);
  if (!in) throw SyscallError(errno, fmt::format("open(\"{}\", O_RDONLY)", path));
  std::string line;
  std::string prefix = fmt::format("{}:", field);
  while (std::getline(in, line)) {
    if (line.starts_with(prefix)) return parse_status_mask(line.substr(prefix.size()));
  }
  throw std::runtime_error(fmt::format("{} has no {} line", path, field));
}

std::vector<std::string> docker_default() {
  return {"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
          "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
          "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
          "CAP_KILL",    "CAP_AUDIT_WRITE"};
}

}  // namespace lab::caps
