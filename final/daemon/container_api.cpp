#include "daemon/container_api.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <set>

#include "engine/restart.hpp"
#include "engine/volumes.hpp"
#include "error.hpp"
#include "exec/bundle.hpp"
#include "monitor/attach_protocol.hpp"
#include "network/config.hpp"

namespace api {

using json = nlohmann::json;

namespace {

// "ro,size=1024,mode=1777" -> its words.
std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  for (size_t start = 0; start < text.size();) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) words.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return words;
}

}  // namespace

std::vector<std::string> strings_of(const json& value) {
  if (value.is_string()) return {value.get<std::string>()};
  std::vector<std::string> out;
  if (value.is_array())
    for (const json& v : value)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::vector<std::string> client_env(const json& value) {
  std::vector<std::string> env;
  for (const std::string& e : strings_of(value))
    if (e.find('=') != std::string::npos) env.push_back(e);
  return env;
}

std::string cpus_text(int64_t nano) {
  std::string text = fmt::format("{}.{:09}", nano / 1000000000, nano % 1000000000);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

std::string mount_flag(const json& m) {
  if (!m.is_object()) throw lab::UserError("HostConfig.Mounts: each mount is an object");
  std::string spec = "type=" + m.value("Type", "volume");
  if (!m.value("Source", "").empty()) spec += ",source=" + m.value("Source", "");
  spec += ",target=" + m.value("Target", "");
  if (m.value("ReadOnly", false)) spec += ",readonly";
  json bind = m.value("BindOptions", json());
  if (bind.is_object() && !bind.value("Propagation", "").empty())
    spec += ",bind-propagation=" + bind.value("Propagation", "");
  json volume = m.value("VolumeOptions", json());
  if (volume.is_object() && volume.value("NoCopy", false)) spec += ",volume-nocopy";
  json tmpfs = m.value("TmpfsOptions", json());
  if (tmpfs.is_object()) {
    if (int64_t size = tmpfs.value("SizeBytes", int64_t{0}); size > 0)
      spec += fmt::format(",tmpfs-size={}", size);
    // Go's os.FileMode: the permission bits, and ModeSticky (1<<20) for the 01000 bit.
    if (uint32_t mode = tmpfs.value("Mode", uint32_t{0}); mode != 0)
      spec += fmt::format(",tmpfs-mode={:o}", (mode & 0777) | ((mode & (1u << 20)) ? 01000 : 0));
  }
  return spec;
}

json mount_json(const engine::MountSpec& m) {
  json out = {{"Type", m.type}, {"Source", m.source}, {"Target", m.destination}};
  if (m.read_only) out["ReadOnly"] = true;
  // A bind's propagation is "rprivate" unless given: sent only when it was.
  if (m.type == "bind" && m.propagation != "rprivate")
    out["BindOptions"] = {{"Propagation", m.propagation}};
  if (m.nocopy) out["VolumeOptions"] = {{"NoCopy", true}};
  if (m.type == "tmpfs") {
    json options = json::object();
    for (const std::string& word : split_words(m.tmpfs_data)) {
      if (word.starts_with("size=")) options["SizeBytes"] = std::stoll(word.substr(5));
      if (word.starts_with("mode=")) {
        uint32_t mode = static_cast<uint32_t>(std::stoul(word.substr(5), nullptr, 8));
        options["Mode"] = (mode & 0777) | ((mode & 01000) ? (1u << 20) : 0);
      }
    }
    if (!options.empty()) out["TmpfsOptions"] = options;
  }
  return out;
}

engine::CreateRequest create_request(const json& body, const std::string& name) {
  engine::CreateRequest r;
  exec::RunOptions& o = r.options;
  const json& host = body.contains("HostConfig") && body["HostConfig"].is_object()
                         ? body["HostConfig"]
                         : json::object();
  if (host.value("Privileged", false)) throw lab::UserError(engine::kPrivilegedRefused);
  if (host.contains("RestartPolicy") && host["RestartPolicy"].is_object()) {
    // Back to --restart's text; the engine's create checks it with Docker's words.
    engine::RestartPolicy policy = engine::restart_policy_of(host);
    if (policy.name != "no" || policy.maximum_retry_count != 0)
      r.restart = policy.maximum_retry_count == 0
                      ? policy.name
                      : fmt::format("{}:{}", policy.name, policy.maximum_retry_count);
  }
  r.name = name;
  r.image = body.value("Image", "");
  if (r.image.empty()) throw lab::UserError("Config.Image is required");
  o.command = strings_of(body.value("Cmd", json()));
  // Entrypoint [] or null: the image's. [""]: none (the image's Cmd dropped too, as Docker's
  // `--entrypoint ""`). [PROGRAM, ARGS...]: the engine takes one program, as --entrypoint does;
  // its arguments go before the command, which gives the same process.
  if (json e = body.value("Entrypoint", json()); !strings_of(e).empty()) {
    std::vector<std::string> entrypoint = strings_of(e);
    o.entrypoint = entrypoint.front();
    o.command.insert(o.command.begin(), entrypoint.begin() + 1, entrypoint.end());
  }
  o.env = client_env(body.value("Env", json()));
  o.workdir = body.value("WorkingDir", "");
  o.user = body.value("User", "");
  o.hostname = body.value("Hostname", "");
  o.tty = body.value("Tty", false);
  o.interactive = body.value("OpenStdin", false);
  if (json labels = body.value("Labels", json()); labels.is_object())
    for (const auto& [key, value] : labels.items())
      if (value.is_string()) r.labels[key] = value.get<std::string>();
  // -v HOST:CTR and NAME:CTR come as Binds; -v /CTR (an anonymous volume) as Config.Volumes.
  o.volumes = strings_of(host.value("Binds", json()));
  // A Config.Volumes path that a bind, a mount or a tmpfs also names is theirs (docker-py sends
  // both for volumes={...}; dockerd's mounts win over the anonymous volume, as here).
  std::set<std::string> named;
  for (const std::string& spec : o.volumes) {
    try {
      named.insert(engine::parse_volume_spec(spec).destination);
    } catch (const lab::UserError&) {
      // a bad -v: the engine says so when it creates the container
    }
  }
  if (json mounts = host.value("Mounts", json()); mounts.is_array())
    for (const json& m : mounts) named.insert(m.value("Target", ""));
  if (json tmpfs = host.value("Tmpfs", json()); tmpfs.is_object())
    for (const auto& [target, ignored] : tmpfs.items()) named.insert(target);
  if (json volumes = body.value("Volumes", json()); volumes.is_object())
    for (const auto& [target, ignored] : volumes.items())
      if (!named.contains(target)) o.volumes.push_back(target);
  if (json mounts = host.value("Mounts", json()); mounts.is_array())
    for (const json& m : mounts) o.mounts.push_back(mount_flag(m));
  if (json tmpfs = host.value("Tmpfs", json()); tmpfs.is_object())
    for (const auto& [target, options] : tmpfs.items()) {
      std::string text = options.is_string() ? options.get<std::string>() : "";
      o.tmpfs.push_back(text.empty() ? target : target + ":" + text);
    }
  // Limits: the numbers as the CLI's flags would have typed them (0 and null: not given).
  auto number = [&](const char* key) -> int64_t {
    const json& v = host.contains(key) ? host[key] : json();
    return v.is_number_integer() ? v.get<int64_t>() : 0;
  };
  if (int64_t memory = number("Memory"); memory > 0) o.memory = std::to_string(memory);
  if (int64_t swap = number("MemorySwap"); swap != 0) o.memory_swap = std::to_string(swap);
  if (int64_t shares = number("CpuShares"); shares != 0) o.cpu_shares = std::to_string(shares);
  if (int64_t nano = number("NanoCpus"); nano > 0) o.cpus = cpus_text(nano);
  // --cpu-quota/--cpu-period (which our CLI lacks): the same share of a CPU as --cpus, which the
  // engine writes as a quota of a 100 ms period.
  if (int64_t quota = number("CpuQuota"); quota > 0 && o.cpus.empty()) {
    int64_t period = number("CpuPeriod") > 0 ? number("CpuPeriod") : 100000;
    o.cpus = cpus_text(quota * 1000000000 / period);
  }
  if (int64_t pids = number("PidsLimit"); pids != 0) o.pids_limit = std::to_string(pids);
  std::string network = host.value("NetworkMode", "");
  o.network = network.empty() || network == "default" ? "bridge" : network;
  if (json bindings = host.value("PortBindings", json()); bindings.is_object())
    for (const auto& [port, list] : bindings.items()) {
      if (!list.is_array() || list.empty()) {
        r.publish.push_back(port);
        continue;
      }
      for (const json& b : list) {
        std::string ip = b.value("HostIp", ""), host_port = b.value("HostPort", "");
        std::string spec = host_port.empty() ? port : host_port + ":" + port;
        r.publish.push_back(ip.empty() ? spec : ip + ":" + spec);
      }
    }
  r.auto_remove = host.value("AutoRemove", false);
  o.read_only = host.value("ReadonlyRootfs", false);
  o.cap_add = strings_of(host.value("CapAdd", json()));
  o.cap_drop = strings_of(host.value("CapDrop", json()));
  o.init = host.value("Init", json()) == true;
  r.runtime = host.value("Runtime", "");
  if (r.runtime == "minirunc" || r.runtime == "minidocker") r.runtime.clear();  // ours
  return r;
}

json create_body(const engine::CreateRequest& r) {
  const exec::RunOptions& o = r.options;
  // Docker's CLI reads --env-file itself and sends the lines as Env: the caller resolves them
  // (exec::resolve_env, as for -e KEY), so none is left here.
  if (!o.env_files.empty())
    throw lab::UserError("--env-file is the client's to read: resolve it into Env first");
  json body = {{"Image", r.image},
               {"Env", o.env},
               {"WorkingDir", o.workdir},
               {"User", o.user},
               {"Hostname", o.hostname},
               {"Tty", o.tty},
               {"OpenStdin", o.interactive},
               {"StdinOnce", o.interactive},
               {"AttachStdin", o.interactive},
               {"AttachStdout", true},
               {"AttachStderr", true},
               {"Labels", r.labels}};
  body["Cmd"] = o.command.empty() ? json() : json(o.command);
  if (o.entrypoint) body["Entrypoint"] = json::array({*o.entrypoint});
  json host = {{"NetworkMode", o.network},      {"AutoRemove", r.auto_remove},
               {"ReadonlyRootfs", o.read_only}, {"CapAdd", o.cap_add},
               {"CapDrop", o.cap_drop},         {"Init", o.init},
               {"Binds", json::array()},        {"PortBindings", json::object()}};
  if (!r.restart.empty())
    host["RestartPolicy"] = engine::restart_policy_json(engine::parse_restart_policy(r.restart));
  // -v /CTR alone is an anonymous volume: Config.Volumes, as Docker's CLI sends it.
  json volumes = json::object();
  for (const std::string& v : o.volumes) {
    if (v.find(':') == std::string::npos)
      volumes[v] = json::object();
    else
      host["Binds"].push_back(v);
  }
  if (!volumes.empty()) body["Volumes"] = volumes;
  if (!o.tmpfs.empty()) {
    json tmpfs = json::object();
    for (const std::string& t : o.tmpfs) {
      size_t colon = t.find(':');
      tmpfs[t.substr(0, colon)] = colon == std::string::npos ? "" : t.substr(colon + 1);
    }
    host["Tmpfs"] = tmpfs;
  }
  // The CLI's checks and words first (this host's CPUs: the daemon's, on its unix socket).
  exec::Limits limits = exec::parse_limits(o, ::sysconf(_SC_NPROCESSORS_ONLN));
  if (limits.memory) host["Memory"] = *limits.memory;
  if (!o.memory_swap.empty())
    host["MemorySwap"] = o.memory_swap == "-1" ? int64_t{-1} : exec::parse_memory(o.memory_swap);
  if (!o.cpus.empty()) host["NanoCpus"] = exec::parse_nano_cpus(o.cpus);
  if (limits.cpu_shares) host["CpuShares"] = *limits.cpu_shares;
  if (!o.pids_limit.empty()) host["PidsLimit"] = std::strtoll(o.pids_limit.c_str(), nullptr, 10);
  for (const std::string& spec : r.publish)
    for (const network::PortMapping& m : network::parse_port_mappings(spec))
      host["PortBindings"][fmt::format("{}/{}", m.container_port, m.protocol)].push_back(
          {{"HostIp", m.host_ip}, {"HostPort", network::host_port_text(m)}});
  // --mount as HostConfig.Mounts, parsed (and so refused) with the CLI's own words first.
  for (const std::string& spec : o.mounts) {
    if (!host.contains("Mounts")) host["Mounts"] = json::array();
    host["Mounts"].push_back(mount_json(engine::parse_mount_spec(spec)));
  }
  if (!r.runtime.empty()) host["Runtime"] = r.runtime;
  body["HostConfig"] = host;
  return body;
}

std::string with_default_tag(const std::string& ref) {
  size_t slash = ref.rfind('/');
  std::string last = slash == std::string::npos ? ref : ref.substr(slash + 1);
  if (last.find(':') != std::string::npos || ref.find('@') != std::string::npos) return ref;
  return ref + ":latest";
}

std::string frame(char stream, std::string_view payload) {
  uint32_t size = static_cast<uint32_t>(payload.size());
  std::string out = {stream == attach::kStderr ? '\2' : '\1',
                     '\0',
                     '\0',
                     '\0',
                     static_cast<char>(size >> 24),
                     static_cast<char>((size >> 16) & 0xff),
                     static_cast<char>((size >> 8) & 0xff),
                     static_cast<char>(size & 0xff)};
  out.append(payload);
  return out;
}

uint32_t go_file_mode(uint32_t st_mode) {
  uint32_t mode = st_mode & 0777;
  const struct {
    uint32_t kernel, go;
  } types[] = {{S_IFDIR, 1u << 31},                 // ModeDir
               {S_IFLNK, 1u << 27},                 // ModeSymlink
               {S_IFBLK, 1u << 26},                 // ModeDevice
               {S_IFCHR, (1u << 26) | (1u << 21)},  // ModeDevice | ModeCharDevice
               {S_IFIFO, 1u << 25},                 // ModeNamedPipe
               {S_IFSOCK, 1u << 24}};               // ModeSocket
  for (const auto& type : types)
    if ((st_mode & S_IFMT) == type.kernel) mode |= type.go;
  if (st_mode & S_ISUID) mode |= 1u << 23;
  if (st_mode & S_ISGID) mode |= 1u << 22;
  if (st_mode & S_ISVTX) mode |= 1u << 20;
  return mode;
}

std::string path_stat_header(const engine::PathStat& stat) {
  time_t seconds = static_cast<time_t>(stat.mtime_ns / 1000000000);
  struct tm utc {};
  ::gmtime_r(&seconds, &utc);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string mtime = fmt::format("{}.{:09}Z", text, stat.mtime_ns % 1000000000);
  std::string body = json{
      {"name", stat.name},
      {"size", stat.size},
      {"mode", go_file_mode(stat.mode)},
      {"mtime", mtime},
      {"linkTarget",
       stat.link_target}}.dump();
  std::string out(4 * ((body.size() + 2) / 3) + 1, '\0');
  int n = ::EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(body.data()),
                            static_cast<int>(body.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<PathStatHeader> parse_path_stat_header(const std::string& header) {
  std::string text(3 * (header.size() / 4) + 3, '\0');
  int n = ::EVP_DecodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                            reinterpret_cast<const unsigned char*>(header.data()),
                            static_cast<int>(header.size()));
  if (n < 0) return std::nullopt;
  text.resize(static_cast<size_t>(n));
  while (!text.empty() && text.back() == '\0') text.pop_back();  // the padding's bytes
  json stat = json::parse(text, nullptr, false);
  if (!stat.is_object()) return std::nullopt;
  PathStatHeader out;
  out.name = stat.value("name", "");
  uint32_t mode = stat.value("mode", uint32_t{0});
  out.is_dir = (mode & (1u << 31)) != 0;
  out.is_symlink = (mode & (1u << 27)) != 0;
  out.link_target = stat.value("linkTarget", "");
  out.permissions = (mode & 0777) | ((mode & (1u << 23)) ? 04000 : 0) |
                    ((mode & (1u << 22)) ? 02000 : 0) | ((mode & (1u << 20)) ? 01000 : 0);
  return out;
}

}  // namespace api
