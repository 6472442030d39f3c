#include "exec/bundle.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "capabilities.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "graph/store.hpp"
#include "runtime/default_spec.hpp"

namespace exec {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string_view::npos ? s.npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return parts;
}

std::optional<uint32_t> number(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

std::string env_key(std::string_view kv) { return std::string(kv.substr(0, kv.find('='))); }

}  // namespace

int64_t parse_memory(std::string_view text) {
  std::string s = lower(text);
  if (!s.empty() && s.back() == 'b' && s.size() > 1 &&
      std::isalpha(static_cast<unsigned char>(s[s.size() - 2])))
    s.pop_back();
  double multiplier = 1;
  if (!s.empty() && std::isalpha(static_cast<unsigned char>(s.back()))) {
    static const std::string units = "bkmgtp";
    size_t unit = units.find(s.back());
    if (unit == std::string::npos)
      s.clear();
    else
      multiplier = std::pow(1024.0, static_cast<double>(unit));
    if (!s.empty()) s.pop_back();
  }
  char* end = nullptr;
  double value = s.empty() ? -1 : std::strtod(s.c_str(), &end);
  if (s.empty() || end == nullptr || *end != '\0' || value < 0 || !std::isfinite(value))
    throw lab::UserError(fmt::format("invalid size: '{}'", text));
  return static_cast<int64_t>(value * multiplier);
}

namespace {

// Digits only, at least one, as a number; nullopt past 28 digits, so that a billion times it
// still fits (a count of CPUs far beyond any host's either way).
std::optional<__int128> decimal_digits(std::string_view digits) {
  if (digits.empty() || digits.size() > 28) return std::nullopt;
  __int128 value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

int64_t clamp_to_int64(__int128 value) {
  if (value > INT64_MAX) return INT64_MAX;
  if (value < INT64_MIN) return INT64_MIN;
  return static_cast<int64_t>(value);
}

}  // namespace

int64_t parse_nano_cpus(std::string_view text) {
  auto not_rational = [&] {
    return lab::UserError(fmt::format("failed to parse {} as a rational number", text));
  };
  std::string_view s = text;
  bool negative = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  // A fraction, "1/2": the nano-CPUs are whole only if the denominator divides them.
  if (size_t slash = s.find('/'); slash != std::string_view::npos) {
    std::optional<__int128> num = decimal_digits(s.substr(0, slash));
    std::optional<__int128> den = decimal_digits(s.substr(slash + 1));
    if (!num || !den || *den == 0) throw not_rational();
    __int128 nano = *num * 1000000000;
    if (nano % *den != 0) throw lab::UserError("value is too precise");
    return clamp_to_int64(negative ? -(nano / *den) : nano / *den);
  }
  // A decimal, "0.5", ".5", "5.", "1e-1": digits without the point, then the power of ten.
  size_t e = s.find_first_of("eE");
  std::string_view mantissa = s.substr(0, e);
  long long exponent = 0;
  if (e != std::string_view::npos) {
    std::string_view power = s.substr(e + 1);
    bool down = !power.empty() && power[0] == '-';
    if (!power.empty() && (power[0] == '-' || power[0] == '+')) power.remove_prefix(1);
    if (power.empty() || power.find_first_not_of("0123456789") != std::string_view::npos)
      throw not_rational();
    for (char c : power) exponent = std::min(exponent * 10 + (c - '0'), 100000LL);
    if (down) exponent = -exponent;
  }
  size_t point = mantissa.find('.');
  std::string digits(mantissa.substr(0, point));
  if (point != std::string_view::npos) {
    digits += mantissa.substr(point + 1);
    exponent -= static_cast<long long>(mantissa.size() - point - 1);
  }
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
    throw not_rational();
  // nano-CPUs = digits x 10^(exponent + 9), whole or "too precise" (Docker's opts.NanoCPUs).
  exponent += 9;
  while (digits.size() > 1 && digits.front() == '0') digits.erase(0, 1);
  while (exponent < 0 && digits.size() > 1 && digits.back() == '0') {
    digits.pop_back();
    ++exponent;
  }
  if (digits == "0") return 0;
  if (exponent < 0) throw lab::UserError("value is too precise");
  if (digits.size() + static_cast<size_t>(exponent) > 19)
    return negative ? INT64_MIN : INT64_MAX;  // beyond any host: the range check refuses it
  __int128 nano = *decimal_digits(digits);
  for (long long k = 0; k < exponent; ++k) nano *= 10;
  return clamp_to_int64(negative ? -nano : nano);
}

Limits parse_limits(const RunOptions& o, long ncpu) {
  Limits l;
  if (!o.memory.empty()) {
    l.memory = parse_memory(o.memory);
    if (*l.memory < 6 * 1024 * 1024) throw lab::UserError("Minimum memory limit allowed is 6MB");
  }
  if (!o.memory_swap.empty()) {
    l.memory_swap = o.memory_swap == "-1" ? -1 : parse_memory(o.memory_swap);
    if (*l.memory_swap == 0) l.memory_swap.reset();  // 0: as if not given (Docker's CLI)
    if (l.memory_swap && *l.memory_swap > 0 && !l.memory)
      throw lab::UserError(
          "You should always set the Memory limit when using Memoryswap limit, see usage");
    if (l.memory_swap && *l.memory_swap > 0 && *l.memory_swap < *l.memory)
      throw lab::UserError(
          "Minimum memoryswap limit should be larger than memory limit, see usage");
  }
  // Docker's daemon (adaptContainerSettings): --memory alone allows as much swap again, so
  // memory plus swap is twice the memory.
  if (l.memory && !l.memory_swap) l.memory_swap = 2 * *l.memory;
  if (!o.cpus.empty()) {
    int64_t nano = parse_nano_cpus(o.cpus);
    if (nano < 10000000 || nano > ncpu * 1000000000LL)
      throw lab::UserError(fmt::format(
          "Range of CPUs is from 0.01 to {}.00, as there are only {} CPUs available", ncpu, ncpu));
    l.cpu_period = 100000;
    l.cpu_quota = nano / 10000;  // nano-CPUs * period / 1e9
  }
  if (!o.cpu_shares.empty()) {
    auto shares = number(o.cpu_shares);
    if (!shares || *shares < 2 || *shares > 262144)
      throw lab::UserError(fmt::format(
          "invalid --cpu-shares {}: give a whole number from 2 to 262144 (1024 is the default)",
          o.cpu_shares));
    l.cpu_shares = *shares;
  }
  if (!o.pids_limit.empty()) {
    char* end = nullptr;
    long long v = std::strtoll(o.pids_limit.c_str(), &end, 10);
    if (*end != '\0' || o.pids_limit.empty())
      throw lab::UserError(
          fmt::format("invalid --pids-limit {}: give a whole number", o.pids_limit));
    if (v > 0) l.pids = v;  // 0 and -1: unlimited, as Docker
  }
  return l;
}

std::optional<std::string> env_file_line(std::string_view line,
                                         const std::function<const char*(const char*)>& lookup) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  size_t first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos || line[first] == '#') return std::nullopt;
  line.remove_prefix(first);
  if (line.find('=') != std::string_view::npos) {
    if (line.front() == '=')
      throw lab::UserError(fmt::format("invalid environment variable: {}", line));
    return std::string(line);
  }
  std::string key(line);
  while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
  const char* value = lookup(key.c_str());
  if (!value) return std::nullopt;
  return key + "=" + value;
}

std::vector<std::string> merge_env(std::vector<std::string> base,
                                   const std::vector<std::string>& more,
                                   const std::function<const char*(const char*)>& lookup) {
  for (const std::string& entry : more) {
    if (entry.empty() || entry.front() == '=')
      throw lab::UserError(fmt::format("invalid environment variable: {}", entry));
    std::string kv = entry;
    if (kv.find('=') == std::string::npos) {
      const char* value = lookup(kv.c_str());
      if (!value) continue;
      kv += std::string("=") + value;
    }
    std::string key = env_key(kv);
    auto it = std::find_if(base.begin(), base.end(),
                           [&](const std::string& b) { return env_key(b) == key; });
    if (it != base.end()) {
      *it = kv;
    } else {
      base.push_back(kv);
    }
  }
  return base;
}

std::vector<std::string> resolve_env(const std::vector<std::string>& env_files,
                                     const std::vector<std::string>& env,
                                     const std::function<const char*(const char*)>& lookup) {
  std::vector<std::string> from_files;
  for (const std::string& file : env_files) {
    std::string text;
    try {
      text = lab::read_file(file);
    } catch (const std::exception&) {
      throw lab::UserError(fmt::format("open {}: no such file or directory", file));
    }
    for (std::string_view line : split(text, '\n'))
      if (auto kv = env_file_line(line, lookup)) from_files.push_back(*kv);
  }
  return merge_env(std::move(from_files), env, lookup);
}

User resolve_user(std::string_view spec, std::string_view passwd, std::string_view group) {
  User u;
  if (spec.empty()) return u;
  auto parts = split(spec, ':');
  if (parts.size() > 2 || parts[0].empty())
    throw lab::UserError(fmt::format("invalid user \"{}\": give NAME|UID[:GROUP|GID]", spec));
  std::string_view user_part = parts[0];
  bool found = false;
  if (auto uid = number(user_part)) {
    u.uid = *uid;
    found = true;
  }
  for (std::string_view line : split(passwd, '\n')) {
    auto f = split(line, ':');
    if (f.size() < 4) continue;
    if (f[0] == user_part || (found && number(f[2]) == u.uid)) {
      u.uid = number(f[2]).value_or(0);
      u.gid = number(f[3]).value_or(0);
      found = true;
      break;
    }
  }
  if (!found)
    throw lab::UserError(
        fmt::format("unable to find user {}: no matching entries in passwd file", user_part));
  if (parts.size() == 2) {
    std::string_view group_part = parts[1];
    if (auto gid = number(group_part)) {
      u.gid = *gid;
    } else {
      bool group_found = false;
      for (std::string_view line : split(group, '\n')) {
        auto f = split(line, ':');
        if (f.size() >= 3 && f[0] == group_part) {
          u.gid = number(f[2]).value_or(0);
          group_found = true;
          break;
        }
      }
      if (!group_found)
        throw lab::UserError(
            fmt::format("unable to find group {}: no matching entries in group file", group_part));
    }
  }
  return u;
}

std::vector<std::string> process_args(const nlohmann::json& image_config, const RunOptions& o) {
  auto strings = [](const nlohmann::json& j) {
    std::vector<std::string> v;
    if (j.is_array())
      for (const auto& s : j) v.push_back(s.get<std::string>());
    return v;
  };
  std::vector<std::string> entrypoint = strings(image_config.value("Entrypoint", nlohmann::json()));
  std::vector<std::string> cmd = strings(image_config.value("Cmd", nlohmann::json()));
  if (o.entrypoint) {
    entrypoint.clear();
    if (!o.entrypoint->empty()) entrypoint.push_back(*o.entrypoint);
    cmd.clear();  // Docker: a new entrypoint drops the image's Cmd
  }
  if (!o.command.empty()) cmd = o.command;
  entrypoint.insert(entrypoint.end(), cmd.begin(), cmd.end());
  return entrypoint;
}

std::string cgroups_path(const std::string& id) { return "/minidocker/" + id; }

nlohmann::json make_spec(const BundleInput& in) {
  nlohmann::json spec = runtime::default_spec();
  const RunOptions& o = in.options;
  auto& process = spec["process"];
  process["args"] = process_args(in.image_config, o);
  process["terminal"] = o.tty;  // the runtime makes a pty; its master goes to the monitor
  std::string hostname = o.hostname.empty() ? in.id.substr(0, 12) : o.hostname;
  std::vector<std::string> env = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=" + hostname};
  auto no_lookup = [](const char*) -> const char* { return nullptr; };
  std::vector<std::string> image_env;
  for (const auto& e : in.image_config.value("Env", nlohmann::json::array()))
    image_env.push_back(e.get<std::string>());
  env = merge_env(env, image_env, no_lookup);
  env = merge_env(env, o.env, no_lookup);  // the caller resolved KEY and --env-file already
  process["env"] = env;
  std::string cwd = o.workdir.empty() ? in.image_config.value("WorkingDir", "") : o.workdir;
  if (cwd.empty()) cwd = "/";
  if (cwd.front() != '/')
    throw lab::UserError(
        fmt::format("the working directory '{}' is invalid, it needs to be an absolute path", cwd));
  process["cwd"] = cwd;
  process["user"] = {{"uid", in.user.uid}, {"gid", in.user.gid}};
  if (!in.user.additional_gids.empty()) process["user"]["additionalGids"] = in.user.additional_gids;

  // Capabilities: Docker's default set, then --cap-add, then --cap-drop ("ALL" allowed in both).
  auto normal = [](std::string c) {
    for (char& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (c != "ALL" && !c.starts_with("CAP_")) c = "CAP_" + c;
    return c;
  };
  std::vector<std::string> caps = lab::caps::docker_default();
  for (const std::string& add : o.cap_add) {
    std::string c = normal(add);
    if (c == "ALL") {
      caps = lab::caps::names_in_mask(~uint64_t{0});
      continue;
    }
    if (lab::caps::mask({c}) == 0)
      throw lab::UserError(fmt::format("unknown capability: \"{}\"", add));
    if (std::find(caps.begin(), caps.end(), c) == caps.end()) caps.push_back(c);
  }
  for (const std::string& drop : o.cap_drop) {
    std::string c = normal(drop);
    if (c == "ALL") {
      caps.clear();
      continue;
    }
    if (lab::caps::mask({c}) == 0)
      throw lab::UserError(fmt::format("unknown capability: \"{}\"", drop));
    caps.erase(std::remove(caps.begin(), caps.end(), c), caps.end());
  }
  for (const char* set : {"bounding", "effective", "permitted"})
    process["capabilities"][set] = caps;

  spec["root"] = {{"path", in.rootfs}, {"readonly", o.read_only}};
  if (in.mounts.is_array() && !in.mounts.empty()) {
    nlohmann::json mounts = nlohmann::json::array();
    for (const auto& m : spec["mounts"]) {
      bool replaced = std::any_of(in.mounts.begin(), in.mounts.end(), [&](const auto& user) {
        return user["destination"] == m["destination"];
      });
      if (!replaced) mounts.push_back(m);
    }
    for (const auto& m : in.mounts) mounts.push_back(m);
    spec["mounts"] = mounts;
  }
  spec["hostname"] = hostname;
  auto& linux_ = spec["linux"];
  linux_["cgroupsPath"] = cgroups_path(in.id);
  auto& resources = linux_["resources"];
  const Limits& l = in.limits;
  if (l.memory) resources["memory"]["limit"] = *l.memory;
  if (l.memory && l.memory_swap) resources["memory"]["swap"] = *l.memory_swap;
  if (l.cpu_quota) resources["cpu"]["quota"] = *l.cpu_quota;
  if (l.cpu_period) resources["cpu"]["period"] = *l.cpu_period;
  if (l.cpu_shares) resources["cpu"]["shares"] = *l.cpu_shares;
  if (l.pids) resources["pids"]["limit"] = *l.pids;
  nlohmann::json namespaces = nlohmann::json::array();
  for (const auto& ns : linux_["namespaces"]) {
    if (ns["type"] == "network") {
      if (o.network == "host") continue;
      if (!in.netns_path.empty()) {
        namespaces.push_back({{"type", "network"}, {"path", in.netns_path}});
        continue;
      }
    }
    namespaces.push_back(ns);
  }
  linux_["namespaces"] = namespaces;
  return spec;
}

void write_bundle(const std::string& dir, const nlohmann::json& spec) {
  graph::write_file_atomically(dir + "/config.json", spec.dump(2) + "\n");
}

}  // namespace exec
