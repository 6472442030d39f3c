#include "process_limits.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <string>
#include <utility>

#include "error.hpp"
#include "fd.hpp"
#include "syscall_hint.hpp"

namespace lab::limits {

namespace {

struct RlimitName {
  int resource;
  const char* name;
};

#define LAB_RLIMIT(r) \
  RlimitName { r, #r }
constexpr std::array kRlimits = {
    LAB_RLIMIT(RLIMIT_CPU),      LAB_RLIMIT(RLIMIT_FSIZE),  LAB_RLIMIT(RLIMIT_DATA),
    LAB_RLIMIT(RLIMIT_STACK),    LAB_RLIMIT(RLIMIT_CORE),   LAB_RLIMIT(RLIMIT_RSS),
    LAB_RLIMIT(RLIMIT_NPROC),    LAB_RLIMIT(RLIMIT_NOFILE), LAB_RLIMIT(RLIMIT_MEMLOCK),
    LAB_RLIMIT(RLIMIT_AS),       LAB_RLIMIT(RLIMIT_LOCKS),  LAB_RLIMIT(RLIMIT_SIGPENDING),
    LAB_RLIMIT(RLIMIT_MSGQUEUE), LAB_RLIMIT(RLIMIT_NICE),   LAB_RLIMIT(RLIMIT_RTPRIO),
    LAB_RLIMIT(RLIMIT_RTTIME),
};
#undef LAB_RLIMIT

std::string limit_text(unsigned long long v) {
  return v == static_cast<unsigned long long>(RLIM_INFINITY) ? "unlimited" : std::to_string(v);
}

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

std::optional<int> rlimit_resource(std::string_view type) {
  for (const auto& r : kRlimits) {
    if (type == r.name) return r.resource;
  }
  return std::nullopt;
}

std::string rlimit_name(int resource) {
  for (const auto& r : kRlimits) {
    if (resource == r.resource) return r.name;
  }
  return fmt::format("resource {}", resource);
}

std::string validate_rlimits(const std::vector<Rlimit>& rlimits) {
  for (size_t i = 0; i < rlimits.size(); ++i) {
    const Rlimit& r = rlimits[i];
    if (!rlimit_resource(r.type))
      return fmt::format("unknown rlimit type \"{}\" in process.rlimits", r.type);
    if (r.soft > r.hard)
      return fmt::format("process.rlimits {}: soft limit {} is above hard limit {}", r.type,
                         limit_text(r.soft), limit_text(r.hard));
    for (size_t j = 0; j < i; ++j) {
      if (rlimits[j].type == r.type)
        return fmt::format("process.rlimits: {} is given twice", r.type);
    }
  }
  return "";
}

void set_rlimits_in_child(const std::vector<Rlimit>& rlimits) {
  for (const auto& r : rlimits) {
    auto resource = rlimit_resource(r.type);
    if (!resource) throw UserError(fmt::format("unknown rlimit type \"{}\"", r.type));
    auto which = static_cast<__rlimit_resource_t>(*resource);
    rlimit old{};
    check(::getrlimit(which, &old), [&] { return fmt::format("getrlimit({})", r.type); });
    rlimit wanted{static_cast<rlim_t>(r.soft), static_cast<rlim_t>(r.hard)};
    check_hinted(
        ::setrlimit(which, &wanted),
        [&] {
          return fmt::format("setrlimit({}, {{soft={}, hard={}}})", r.type, limit_text(r.soft),
                             limit_text(r.hard));
        },
        [&](int err) -> std::string {
          if (err == EINVAL && r.soft > r.hard)
            return "the soft limit must not exceed the hard one";
          if (err != EPERM) return "";
          std::string hint = fmt::format(
              "raising a hard limit ({} now) needs CAP_SYS_RESOURCE, which this process lacks "
              "(root in a container or a sandbox often does)",
              limit_text(old.rlim_max));
          if (*resource == RLIMIT_NOFILE)
            hint += fmt::format("; RLIMIT_NOFILE can never exceed fs.nr_open ({})",
                                read_first_line("/proc/sys/fs/nr_open"));
          return hint;
        });
  }
}

void set_no_new_privileges_in_child() {
  check(::prctl(PR_SET_NO_NEW_PRIVS, 1UL, 0UL, 0UL, 0UL), "prctl(PR_SET_NO_NEW_PRIVS, 1)");
}

std::string validate_oom_score_adj(long long value) {
  if (value < -1000 || value > 1000)
    return fmt::format("process.oomScoreAdj {} is outside -1000..1000", value);
  return "";
}

void set_oom_score_adj(pid_t pid_or_0, int value) {
  std::string reason = validate_oom_score_adj(value);
  if (!reason.empty()) throw UserError(reason);
  std::string path =
      pid_or_0 == 0 ? "/proc/self/oom_score_adj" : fmt::format("/proc/{}/oom_score_adj", pid_or_0);
  UniqueFd fd = open_fd(path, O_WRONLY | O_CLOEXEC);
  std::string text = std::to_string(value);
  check_hinted(
      ::write(fd.get(), text.data(), text.size()),
      [&] { return fmt::format("write(\"{}\", \"{}\")", path, text); },
      [](int err) -> std::string {
        return err == EACCES ? "lowering oom_score_adj below its current value needs "
                               "CAP_SYS_RESOURCE"
                             : "";
      });
}

void switch_user_in_child(const User& user) {
  // In a user namespace whose gid_map was written without CAP_SETGID in the parent namespace,
  // the kernel denies setgroups for good (/proc/self/setgroups is "deny"), since dropping a
  // group could otherwise grant access that a negative ACL entry forbade.
  bool setgroups_allowed = read_first_line("/proc/self/setgroups") != "deny";
  if (!setgroups_allowed && !user.additional_gids.empty())
    throw UserError(
        "process.user.additionalGids cannot be set: /proc/self/setgroups is \"deny\" "
        "in this user namespace");

  // Without KEEPCAPS, setuid from 0 to non-zero empties the permitted set, and the capset that
  // follows could not give the configured capabilities back.
  check(::prctl(PR_SET_KEEPCAPS, 1UL, 0UL, 0UL, 0UL), "prctl(PR_SET_KEEPCAPS, 1)");
  if (setgroups_allowed) {
    check(::setgroups(user.additional_gids.size(), user.additional_gids.data()), [&] {
      return fmt::format("setgroups({}, [{}])", user.additional_gids.size(),
                         fmt::join(user.additional_gids, ", "));
    });
  }
  check(::setgid(user.gid), [&] { return fmt::format("setgid({})", user.gid); });
  check(::setuid(user.uid), [&] { return fmt::format("setuid({})", user.uid); });
  check(::prctl(PR_SET_KEEPCAPS, 0UL, 0UL, 0UL, 0UL), "prctl(PR_SET_KEEPCAPS, 0)");
}

}  // namespace lab::limits
