#include "engine/volumes.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "engine/tree_tar.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "graph/store.hpp"
#include "mount.hpp"
#include "path_in_root.hpp"
#include "runtime/explain.hpp"

namespace engine {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kAnonymousLabel = "com.docker.volume.anonymous";

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t at = s.find(sep, start);
    parts.emplace_back(s.substr(start, at == std::string_view::npos ? s.npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return parts;
}

// path.Clean for absolute paths: "//a/./b/" -> "/a/b" (".." kept lexically resolved).
std::string clean(const std::string& p) {
  std::string out = fs::path(p).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

bool is_propagation(const std::string& w) {
  return w == "private" || w == "rprivate" || w == "shared" || w == "rshared" || w == "slave" ||
         w == "rslave";
}

// Docker's ValidMountMode: comma-separated words, at most one of each kind.
bool valid_mode(const std::string& mode) {
  if (mode.empty()) return true;
  int rw = 0, label = 0, propagation = 0, copy = 0;
  for (const std::string& w : split(mode, ',')) {
    if (w == "rw" || w == "ro")
      ++rw;
    else if (w == "z" || w == "Z")
      ++label;
    else if (is_propagation(w))
      ++propagation;
    else if (w == "nocopy" || w == "copy")
      ++copy;
    else
      return false;
  }
  return rw <= 1 && label <= 1 && propagation <= 1 && copy <= 1;
}

std::string mount_config_error(const std::string& type, const std::string& why) {
  return fmt::format("invalid mount config for type \"{}\": {}", type, why);
}

// The checks Docker's validateMountConfig makes of every kind (the destination).
std::string destination_error(const MountSpec& m) {
  if (m.destination.empty()) return mount_config_error(m.type, "field Target must not be empty");
  if (m.destination.front() != '/')
    return mount_config_error(
        m.type, fmt::format("invalid mount path: '{}' mount path must be absolute", m.destination));
  if (clean(m.destination) == "/")
    return mount_config_error(m.type, "invalid specification: destination can't be '/'");
  return "";
}

std::string volume_name_error(const std::string& name) {
  return fmt::format(
      "create {0}: \"{0}\" includes invalid characters for a local volume name, only "
      "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use "
      "absolute path",
      name);
}

std::string random_hex64() {
  unsigned char bytes[32];
  lab::check(::getrandom(bytes, sizeof bytes, 0), "getrandom(32)");
  std::string out;
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

std::string volumes_dir(const Paths& p) { return p.root + "/volumes"; }
std::string volume_dir(const Paths& p, const std::string& name) {
  return volumes_dir(p) + "/" + name;
}

// flock(2) on <root>/volumes.lock: volumes are made and removed one at a time.
lab::UniqueFd lock_volumes(const Paths& p) {
  fs::create_directories(volumes_dir(p));
  lab::UniqueFd fd = lab::open_fd(p.root + "/volumes.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  lab::check(::flock(fd.get(), LOCK_EX), "flock(volumes.lock, LOCK_EX)");
  return fd;
}

Volume create_volume_locked(const Paths& p, const std::string& name, bool anonymous,
                            bool* made = nullptr) {
  std::string dir = volume_dir(p, name);
  if (made) *made = false;
  if (!fs::exists(dir + "/volume.json")) {
    fs::create_directories(dir + "/_data");
    ::chmod((dir + "/_data").c_str(), 0755);
    json meta = {{"CreatedAt", graph::rfc3339_now()},
                 {"Labels", anonymous ? json{{kAnonymousLabel, ""}} : json()}};
    graph::write_file_atomically(dir + "/volume.json", meta.dump() + "\n");
    if (made) *made = true;
  }
  return load_volume(p, name);
}

uint64_t tree_bytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode))
      total += static_cast<uint64_t>(st.st_size);
  }
  return total;
}

json read_json(const std::string& path) {
  std::string text = lab::read_file_or_empty(path);
  if (text.empty()) return json();
  return json::parse(text, nullptr, false);
}

bool directory_is_empty(const std::string& dir) {
  std::error_code ec;
  return fs::is_empty(dir, ec) && !ec;
}

}  // namespace

// ---- pure logic ------------------------------------------------------------------------------

bool valid_volume_name(std::string_view name) {
  if (name.size() < 2 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

MountSpec parse_volume_spec(std::string_view raw) {
  const std::string spec(raw);
  const std::string invalid = fmt::format("invalid volume specification: '{}'", spec);
  std::vector<std::string> f = split(raw, ':');
  if (f.size() > 3 || f[0].empty()) throw lab::UserError(invalid);
  MountSpec m;
  if (f.size() == 1) {
    m.destination = f[0];
  } else {
    // "/foo:rw" is not a volume: a volume has no mode without a destination.
    if (f.size() == 2 && !f[1].empty() && valid_mode(f[1])) throw lab::UserError(invalid);
    m.source = f[0];
    m.destination = f[1];
    if (f.size() == 3) m.mode = f[2];
  }
  if (!valid_mode(m.mode)) throw lab::UserError(fmt::format("invalid mode: {}", m.mode));
  m.type = !m.source.empty() && m.source.front() == '/' ? "bind" : "volume";
  for (const std::string& w : split(m.mode, ',')) {
    if (w == "ro") m.read_only = true;
    if (w == "nocopy") m.nocopy = true;
    if (is_propagation(w)) m.propagation = w;
  }
  if (std::string why = destination_error(m); !why.empty())
    throw lab::UserError(invalid + ": " + why);
  m.destination = clean(m.destination);
  if (m.type == "bind") {
    m.source = clean(m.source);
    if (m.propagation.empty()) m.propagation = "rprivate";
  } else if (!m.source.empty() && !valid_volume_name(m.source)) {
    throw lab::UserError(volume_name_error(m.source));
  }
  return m;
}

MountSpec parse_tmpfs_spec(std::string_view raw) {
  MountSpec m;
  m.type = "tmpfs";
  size_t colon = raw.find(':');
  m.destination = std::string(raw.substr(0, colon));
  if (colon != std::string_view::npos) m.tmpfs_data = std::string(raw.substr(colon + 1));
  if (std::string why = destination_error(m); !why.empty()) throw lab::UserError(why);
  m.destination = clean(m.destination);
  for (const std::string& w : tmpfs_options(m.tmpfs_data))
    if (w == "ro") m.read_only = true;
  return m;
}

std::vector<std::string> tmpfs_options(std::string_view data) {
  // Docker's MergeTmpfsOptions over its defaults: each flag word has a kind (exec and noexec
  // are one kind), each data word its key; read from the end, the last of a kind wins.
  static const std::map<std::string, std::string> kFlagKind = {{"ro", "rdonly"},
                                                               {"rw", "rdonly"},
                                                               {"suid", "nosuid"},
                                                               {"nosuid", "nosuid"},
                                                               {"dev", "nodev"},
                                                               {"nodev", "nodev"},
                                                               {"exec", "noexec"},
                                                               {"noexec", "noexec"},
                                                               {"sync", "sync"},
                                                               {"async", "sync"},
                                                               {"dirsync", "dirsync"},
                                                               {"mand", "mand"},
                                                               {"nomand", "mand"},
                                                               {"atime", "noatime"},
                                                               {"noatime", "noatime"},
                                                               {"diratime", "nodiratime"},
                                                               {"nodiratime", "nodiratime"},
                                                               {"relatime", "relatime"},
                                                               {"norelatime", "relatime"},
                                                               {"strictatime", "strictatime"},
                                                               {"nostrictatime", "strictatime"},
                                                               {"private", "propagation"},
                                                               {"rprivate", "propagation"},
                                                               {"shared", "propagation"},
                                                               {"rshared", "propagation"},
                                                               {"slave", "propagation"},
                                                               {"rslave", "propagation"},
                                                               {"unbindable", "propagation"},
                                                               {"runbindable", "propagation"}};
  static const std::set<std::string> kDataKeys = {"size",      "mode",      "uid", "gid",
                                                  "nr_inodes", "nr_blocks", "mpol"};
  std::vector<std::string> options = {"noexec", "nosuid", "nodev", "rprivate"};
  if (!data.empty())
    for (const std::string& w : split(data, ',')) options.push_back(w);
  std::vector<std::string> merged;
  std::set<std::string> seen;
  for (auto it = options.rbegin(); it != options.rend(); ++it) {
    const std::string& w = *it;
    if (w == "defaults") continue;
    std::string kind;
    if (auto flag = kFlagKind.find(w); flag != kFlagKind.end()) {
      kind = flag->second;
    } else {
      size_t eq = w.find('=');
      if (eq == std::string::npos || !kDataKeys.contains(w.substr(0, eq))) {
        // Go's %q of the split word: ["x"] or ["key" "value"].
        std::string shown = eq == std::string::npos
                                ? fmt::format("[\"{}\"]", w)
                                : fmt::format("[\"{}\" \"{}\"]", w.substr(0, eq), w.substr(eq + 1));
        throw lab::UserError(fmt::format("Invalid tmpfs option {}", shown));
      }
      kind = "=" + w.substr(0, eq);
    }
    if (seen.insert(kind).second) merged.insert(merged.begin(), w);
  }
  return merged;
}

MountSpec parse_mount_spec(std::string_view raw) {
  MountSpec m;
  m.type = "volume";
  m.from_mount_flag = true;
  std::string tmpfs_size, tmpfs_mode;
  for (const std::string& field : split(raw, ',')) {
    size_t eq = field.find('=');
    std::string key = field.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : field.substr(eq + 1);
    std::transform(key.begin(), key.end(), key.begin(),
                   [](char c) { return static_cast<char>(std::tolower(c)); });
    auto boolean = [&] {
      if (eq == std::string::npos || value == "true" || value == "1") return true;
      if (value == "false" || value == "0") return false;
      throw lab::UserError(
          fmt::format("invalid value for {}: {} (give true or false)", key, value));
    };
    if (key == "readonly" || key == "ro") {
      m.read_only = boolean();
      continue;
    }
    if (key == "volume-nocopy") {
      m.nocopy = boolean();
      continue;
    }
    if (eq == std::string::npos)
      throw lab::UserError(fmt::format("invalid field '{}' must be a key=value pair", field));
    if (key == "type") {
      m.type = value;
      if (value != "bind" && value != "volume" && value != "tmpfs")
        throw lab::UserError(fmt::format("invalid mount type: {} (bind, volume or tmpfs)", value));
    } else if (key == "source" || key == "src") {
      m.source = value;
    } else if (key == "target" || key == "destination" || key == "dst") {
      m.destination = value;
    } else if (key == "bind-propagation") {
      if (!is_propagation(value))
        throw lab::UserError(fmt::format("invalid value for {}: {}", key, value));
      m.propagation = value;
    } else if (key == "tmpfs-size") {
      tmpfs_size = std::to_string(exec::parse_memory(value));
    } else if (key == "tmpfs-mode") {
      if (value.empty() || value.find_first_not_of("01234567") != std::string::npos)
        throw lab::UserError(fmt::format("invalid value for {}: {}", key, value));
      tmpfs_mode = value;
    } else {
      throw lab::UserError(fmt::format("unexpected key '{}' in '{}'", key, field));
    }
  }
  if (std::string why = destination_error(m); !why.empty()) throw lab::UserError(why);
  m.destination = clean(m.destination);
  if (m.type == "bind") {
    if (m.source.empty())
      throw lab::UserError(mount_config_error("bind", "field Source must not be empty"));
    if (m.source.front() != '/')
      throw lab::UserError(mount_config_error(
          "bind", fmt::format("invalid mount path: '{}' mount path must be absolute", m.source)));
    m.source = clean(m.source);
    if (m.propagation.empty()) m.propagation = "rprivate";
  } else if (m.type == "volume") {
    if (!m.source.empty() && !valid_volume_name(m.source))
      throw lab::UserError(volume_name_error(m.source));
  } else {
    if (!m.source.empty())
      throw lab::UserError(mount_config_error("tmpfs", "field Source must not be specified"));
    std::vector<std::string> words;
    if (m.read_only) words.push_back("ro");
    if (!tmpfs_size.empty()) words.push_back("size=" + tmpfs_size);
    if (!tmpfs_mode.empty()) words.push_back("mode=" + tmpfs_mode);
    m.tmpfs_data = fmt::format("{}", fmt::join(words, ","));
  }
  if (m.type != "bind" && !m.propagation.empty())
    throw lab::UserError(fmt::format("bind-propagation is for type=bind, not {}", m.type));
  return m;
}

std::vector<MountSpec> container_mounts(const exec::RunOptions& o, const json& image_config,
                                        const std::function<std::string()>& random_name) {
  std::vector<MountSpec> mounts;
  for (const std::string& v : o.volumes) mounts.push_back(parse_volume_spec(v));
  for (const std::string& t : o.tmpfs) mounts.push_back(parse_tmpfs_spec(t));
  for (const std::string& m : o.mounts) mounts.push_back(parse_mount_spec(m));
  std::set<std::string> destinations;
  for (const MountSpec& m : mounts)
    if (!destinations.insert(m.destination).second)
      throw lab::UserError(fmt::format("Duplicate mount point: {}", m.destination));
  // The image's VOLUMEs: an anonymous volume each, unless the user mounted something there.
  if (const json* volumes = image_config.is_object() && image_config.contains("Volumes") &&
                                    image_config["Volumes"].is_object()
                                ? &image_config["Volumes"]
                                : nullptr) {
    for (const auto& [path, _] : volumes->items()) {
      if (path.empty() || path.front() != '/') continue;
      std::string destination = clean(path);
      if (destination == "/" || !destinations.insert(destination).second) continue;
      MountSpec m;
      m.type = "volume";
      m.destination = destination;
      mounts.push_back(m);
    }
  }
  for (MountSpec& m : mounts)
    if (m.type == "volume" && m.source.empty()) {
      m.source = random_name();
      m.anonymous = true;
    }
  return mounts;
}

// ---- the volume store ------------------------------------------------------------------------

bool Volume::anonymous() const { return labels.is_object() && labels.contains(kAnonymousLabel); }

Volume create_volume(const Paths& p, const std::string& name, bool anonymous) {
  std::string chosen = name.empty() ? random_hex64() : name;
  if (!valid_volume_name(chosen)) throw lab::UserError(volume_name_error(chosen));
  lab::UniqueFd lock = lock_volumes(p);
  return create_volume_locked(p, chosen, anonymous);
}

Volume load_volume(const Paths& p, const std::string& name) {
  json meta = valid_volume_name(name) ? read_json(volume_dir(p, name) + "/volume.json") : json();
  if (!meta.is_object()) throw lab::UserError(fmt::format("get {}: no such volume", name));
  Volume v;
  v.name = name;
  v.mountpoint = volume_dir(p, name) + "/_data";
  v.created = meta.value("CreatedAt", "");
  v.labels = meta.value("Labels", json());
  return v;
}

std::vector<Volume> list_volumes(const Paths& p) {
  std::vector<Volume> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(volumes_dir(p), ec)) {
    try {
      out.push_back(load_volume(p, entry.path().filename().string()));
    } catch (const lab::UserError&) {
      // half made or half removed
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Volume& a, const Volume& b) { return a.name < b.name; });
  return out;
}

json inspect_volume(const Volume& v) {
  return {{"CreatedAt", v.created}, {"Driver", "local"},
          {"Labels", v.labels},     {"Mountpoint", v.mountpoint},
          {"Name", v.name},         {"Options", nullptr},
          {"Scope", "local"}};
}

std::vector<std::string> containers_using(const Paths& p, const std::string& name) {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(p.root + "/containers", ec)) {
    json record = read_json(entry.path().string() + "/config.v2.json");
    if (!record.is_object()) continue;
    for (const auto& m : record.value("Mounts", json::array()))
      if (m.value("Type", "") == "volume" && m.value("Name", "") == name) {
        ids.push_back(entry.path().filename().string());
        break;
      }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

void remove_volume(const Paths& p, const std::string& name) {
  lab::UniqueFd lock = lock_volumes(p);
  load_volume(p, name);  // "no such volume"
  std::vector<std::string> users = containers_using(p, name);
  if (!users.empty())
    throw lab::UserError(
        fmt::format("remove {}: volume is in use - [{}]", name, fmt::join(users, ", ")));
  // volume.json goes first: a removal cut short leaves a directory no listing shows.
  fs::remove(volume_dir(p, name) + "/volume.json");
  lab::remove_tree_without_crossing_mounts(volume_dir(p, name));
}

std::vector<std::string> prune_volumes(const Paths& p, bool all, uint64_t& reclaimed) {
  std::vector<std::string> removed;
  reclaimed = 0;
  for (const Volume& v : list_volumes(p)) {
    if (!all && !v.anonymous()) continue;
    uint64_t bytes = tree_bytes(v.mountpoint);
    try {
      remove_volume(p, v.name);
    } catch (const lab::UserError&) {
      continue;  // in use
    }
    removed.push_back(v.name);
    reclaimed += bytes;
  }
  return removed;
}

// ---- a container's mounts --------------------------------------------------------------------

json inspect_mounts(const Paths& p, const std::vector<MountSpec>& mounts) {
  json out = json::array();
  for (const MountSpec& m : mounts) {
    if (m.type == "tmpfs") {
      if (!m.from_mount_flag) continue;  // --tmpfs shows in HostConfig.Tmpfs only, as Docker
      out.push_back({{"Type", "tmpfs"},
                     {"Source", ""},
                     {"Destination", m.destination},
                     {"Mode", ""},
                     {"RW", !m.read_only},
                     {"Propagation", ""}});
    } else if (m.type == "bind") {
      out.push_back({{"Type", "bind"},
                     {"Source", m.source},
                     {"Destination", m.destination},
                     {"Mode", m.mode},
                     {"RW", !m.read_only},
                     {"Propagation", m.propagation}});
    } else {
      out.push_back({{"Type", "volume"},
                     {"Name", m.source},
                     {"Source", volume_dir(p, m.source) + "/_data"},
                     {"Destination", m.destination},
                     {"Driver", "local"},
                     {"Mode", m.mode.empty() ? "z" : m.mode},
                     {"RW", !m.read_only},
                     {"Propagation", ""}});
    }
  }
  return out;
}

void record_host_config(const exec::RunOptions& o, json& host_config) {
  json binds = json::array();
  for (const std::string& v : o.volumes)
    if (v.find(':') != std::string::npos) binds.push_back(v);  // "-v /ctr" is Config.Volumes
  host_config["Binds"] = binds.empty() ? json() : binds;
  json tmpfs = json::object();
  for (const std::string& t : o.tmpfs) {
    size_t colon = t.find(':');
    tmpfs[clean(t.substr(0, colon))] = colon == std::string::npos ? "" : t.substr(colon + 1);
  }
  host_config["Tmpfs"] = tmpfs.empty() ? json() : tmpfs;
  json mounts = json::array();
  for (const std::string& raw : o.mounts) {
    MountSpec m = parse_mount_spec(raw);
    json one = {{"Type", m.type}, {"Source", m.source}, {"Target", m.destination}};
    if (m.read_only) one["ReadOnly"] = true;
    mounts.push_back(one);
  }
  if (!mounts.empty()) host_config["Mounts"] = mounts;
}

json prepare_mounts(const Paths& p, const std::vector<MountSpec>& mounts, const std::string& rootfs,
                    const runtime::Explainer& explain) {
  std::vector<std::pair<size_t, json>> out;  // (depth, mount)
  lab::UniqueFd lock;
  for (const MountSpec& m : mounts) {
    json mount = {{"destination", m.destination}};
    std::vector<std::string> options;
    if (m.type == "tmpfs") {
      mount["type"] = "tmpfs";
      mount["source"] = "tmpfs";
      options = tmpfs_options(m.tmpfs_data);
      explain.step("03", fmt::format("a tmpfs at {} ({})", m.destination, fmt::join(options, ",")),
                   fmt::format("mount -t tmpfs -o {} tmpfs ROOTFS{}", fmt::join(options, ","),
                               m.destination));
    } else {
      std::string source = m.source;
      if (m.type == "bind") {
        if (!fs::exists(source)) {
          if (m.from_mount_flag)
            throw lab::UserError(mount_config_error(
                "bind", fmt::format("bind source path does not exist: {}", source)));
          explain.step("engine", fmt::format("the bind source {} is missing: made", source),
                       fmt::format("mkdir -p {}", source));
          fs::create_directories(source);
        }
      } else {
        if (!lock) lock = lock_volumes(p);
        bool made = false;
        Volume v = create_volume_locked(p, m.source, m.anonymous, &made);
        source = v.mountpoint;
        if (made)
          explain.step("engine", fmt::format("volume {} made", m.source),
                       fmt::format("mkdir -p {}", source));
        // Docker's copy-up: an empty volume first takes what the image has at the destination.
        if (!m.nocopy && directory_is_empty(source)) {
          lab::UniqueFd root = lab::open_root(rootfs);
          lab::UniqueFd at = lab::open_in_root_if_exists(root.get(), m.destination, O_PATH);
          struct stat st {};
          if (at && ::fstat(at.get(), &st) == 0 && S_ISDIR(st.st_mode)) {
            explain.step("engine",
                         fmt::format("copy the image's {} into the empty volume", m.destination),
                         fmt::format("cp -a ROOTFS{}/. {}", m.destination, source));
            copy_tree_via_tar(at.get(), "", source);
            ::fchmod(lab::open_fd(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC).get(),
                     st.st_mode & 07777);
          }
        }
      }
      mount["type"] = "bind";
      mount["source"] = source;
      options = {"rbind", m.propagation.empty() ? "rprivate" : m.propagation};
      if (m.read_only) options.push_back("ro");
      explain.step(
          "03",
          fmt::format("{} {} on {}{}", m.type == "bind" ? "bind mount" : "volume", source,
                      m.destination, m.read_only ? " (read-only)" : ""),
          fmt::format("mount --rbind {} ROOTFS{}{}", source, m.destination,
                      m.read_only ? " && mount -o remount,bind,ro ROOTFS" + m.destination : ""));
    }
    mount["options"] = options;
    size_t depth = static_cast<size_t>(std::count(m.destination.begin(), m.destination.end(), '/'));
    out.emplace_back(depth, mount);
  }
  // Shallowest first (Docker sorts mounts so): /data before /data/cache.
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  json result = json::array();
  for (auto& [_, mount] : out) result.push_back(mount);
  return result;
}

std::vector<std::string> anonymous_volumes(const Paths& p, const json& mounts) {
  std::vector<std::string> names;
  if (!mounts.is_array()) return names;
  for (const auto& m : mounts) {
    if (m.value("Type", "") != "volume") continue;
    try {
      if (load_volume(p, m.value("Name", "")).anonymous()) names.push_back(m.value("Name", ""));
    } catch (const lab::UserError&) {
      // already gone
    }
  }
  return names;
}

}  // namespace engine
