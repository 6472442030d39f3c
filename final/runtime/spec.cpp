#include "spec.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "error.hpp"
#include "fd.hpp"
#include "seccomp.hpp"

namespace runtime {

using nlohmann::json;

namespace {

[[noreturn]] void refuse(const std::string& what) {
  throw lab::UserError(fmt::format("config.json: {}", what));
}

// An object of config.json whose keys are taken one by one; whatever is left at the end is a
// field we do not implement, and refused by its path, unless it is empty (null, "", [], {}, 0,
// false: tools such as podman write empty fields we have nothing to do for).
class Object {
 public:
  Object(const json& j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j_.is_object()) refuse(fmt::format("{} must be an object", path_));
  }
  const json* take(const std::string& key) {
    taken_.insert(key);
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  std::string path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  std::string string(const std::string& key, std::string fallback = {}) {
    const json* v = take(key);
    if (!v) return fallback;
    if (!v->is_string()) refuse(fmt::format("{} must be a string", path(key)));
    return v->get<std::string>();
  }
  bool boolean(const std::string& key) {
    const json* v = take(key);
    if (!v) return false;
    if (!v->is_boolean()) refuse(fmt::format("{} must be true or false", path(key)));
    return v->get<bool>();
  }
  std::optional<long long> integer(const std::string& key) {
    const json* v = take(key);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) refuse(fmt::format("{} must be a whole number", path(key)));
    return v->get<long long>();
  }
  std::optional<unsigned long long> unsigned_integer(const std::string& key) {
    const json* v = take(key);
    if (!v) return std::nullopt;
    // (A parsed "0" is unsigned in nlohmann-json, a 0 built in C++ is a signed integer.)
    if (!v->is_number_integer() || (!v->is_number_unsigned() && v->get<long long>() < 0))
      refuse(fmt::format("{} must be a whole number, 0 or more", path(key)));
    return v->get<unsigned long long>();
  }
  std::vector<std::string> strings(const std::string& key) {
    const json* v = take(key);
    std::vector<std::string> out;
    if (!v) return out;
    if (!v->is_array()) refuse(fmt::format("{} must be an array of strings", path(key)));
    for (const json& s : *v) {
      if (!s.is_string()) refuse(fmt::format("{} must be an array of strings", path(key)));
      out.push_back(s.get<std::string>());
    }
    return out;
  }
  const json* array(const std::string& key) {
    const json* v = take(key);
    if (v && !v->is_array()) refuse(fmt::format("{} must be an array", path(key)));
    return v;
  }
  // Call when every known key has been taken.
  void refuse_the_rest() const {
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (taken_.count(it.key())) continue;
      const json& v = it.value();
      bool empty = v.is_null() || (v.is_string() && v.get<std::string>().empty()) ||
                   ((v.is_array() || v.is_object()) && v.empty()) ||
                   (v.is_boolean() && !v.get<bool>()) ||
                   (v.is_number_integer() && v.get<long long>() == 0);
      if (!empty) refuse(fmt::format("{} is not supported by minidocker", path(it.key())));
    }
  }
  const std::string& own_path() const { return path_; }

 private:
  const json& j_;
  std::string path_;
  std::set<std::string> taken_;
};

lab::caps::Sets parse_capabilities(Object o) {
  lab::caps::Sets sets;
  sets.bounding = o.strings("bounding");
  sets.effective = o.strings("effective");
  sets.permitted = o.strings("permitted");
  sets.inheritable = o.strings("inheritable");
  sets.ambient = o.strings("ambient");
  o.refuse_the_rest();
  if (std::string why = lab::caps::validate(sets); !why.empty()) refuse(why);
  return sets;
}

Process parse_process(Object o) {
  Process p;
  p.terminal = o.boolean("terminal");
  if (const json* size = o.take("consoleSize")) {
    Object s(*size, o.path("consoleSize"));
    auto height = s.unsigned_integer("height"), width = s.unsigned_integer("width");
    s.refuse_the_rest();
    p.console_size = {static_cast<unsigned>(height.value_or(0)),
                      static_cast<unsigned>(width.value_or(0))};
  }
  if (const json* user = o.take("user")) {
    Object u(*user, o.path("user"));
    p.user.uid = static_cast<uid_t>(u.unsigned_integer("uid").value_or(0));
    p.user.gid = static_cast<gid_t>(u.unsigned_integer("gid").value_or(0));
    if (const json* gids = u.array("additionalGids")) {
      for (const json& g : *gids) {
        if (!g.is_number_integer() || g.get<long long>() < 0)
          refuse(u.path("additionalGids") + " must hold gids");
        p.user.additional_gids.push_back(g.get<gid_t>());
      }
    }
    if (auto umask = u.unsigned_integer("umask")) {
      if (*umask > 0777) refuse(fmt::format("{} {:#o} is more than 0777", u.path("umask"), *umask));
      p.umask = static_cast<mode_t>(*umask);
    }
    u.refuse_the_rest();
  }
  p.args = o.strings("args");
  if (p.args.empty()) refuse("process.args must name the program to run");
  p.env = o.strings("env");
  p.cwd = o.string("cwd", "/");
  if (p.cwd.empty() || p.cwd[0] != '/')
    refuse(fmt::format("process.cwd must be an absolute path, not \"{}\"", p.cwd));
  if (const json* caps = o.take("capabilities"))
    p.capabilities = parse_capabilities(Object(*caps, o.path("capabilities")));
  if (const json* rlimits = o.array("rlimits")) {
    for (const json& r : *rlimits) {
      Object ro(r, o.path("rlimits[]"));
      lab::limits::Rlimit limit;
      limit.type = ro.string("type");
      if (!lab::limits::rlimit_resource(limit.type))
        refuse(fmt::format("process.rlimits: unknown type \"{}\"", limit.type));
      limit.hard = ro.unsigned_integer("hard").value_or(0);
      limit.soft = ro.unsigned_integer("soft").value_or(0);
      ro.refuse_the_rest();
      p.rlimits.push_back(limit);
    }
  }
  p.no_new_privileges = o.boolean("noNewPrivileges");
  if (auto adj = o.integer("oomScoreAdj")) {
    if (std::string why = lab::limits::validate_oom_score_adj(*adj); !why.empty())
      refuse("process.oomScoreAdj: " + why);
    p.oom_score_adj = static_cast<int>(*adj);
  }
  o.refuse_the_rest();
  return p;
}

void parse_resources(Object o, cgroups::Resources& r) {
  if (const json* devices = o.array("devices")) {
    for (const json& d : *devices) {
      Object dev(d, o.path("devices[]"));
      cgroups::DeviceRule rule;
      rule.allow = dev.boolean("allow");
      std::string type = dev.string("type", "a");
      if (type != "a" && type != "c" && type != "b")
        refuse(fmt::format("linux.resources.devices: type \"{}\" is not a, c or b", type));
      rule.type = type[0];
      rule.major = dev.integer("major").value_or(-1);
      rule.minor = dev.integer("minor").value_or(-1);
      rule.access = dev.string("access", "rwm");
      dev.refuse_the_rest();
      r.devices.push_back(rule);
    }
  }
  if (const json* memory = o.take("memory")) {
    Object m(*memory, o.path("memory"));
    r.memory_limit = m.integer("limit");
    r.memory_swap = m.integer("swap");
    m.refuse_the_rest();
  }
  if (const json* cpu = o.take("cpu")) {
    Object c(*cpu, o.path("cpu"));
    if (auto shares = c.unsigned_integer("shares")) r.cpu_shares = static_cast<long long>(*shares);
    r.cpu_quota = c.integer("quota");
    if (auto period = c.unsigned_integer("period")) r.cpu_period = static_cast<long long>(*period);
    c.refuse_the_rest();
  }
  if (const json* pids = o.take("pids")) {
    Object p(*pids, o.path("pids"));
    r.pids_limit = p.integer("limit");
    p.refuse_the_rest();
  }
  o.refuse_the_rest();
  if (std::string why = cgroups::validate(r); !why.empty()) refuse("linux.resources: " + why);
}

const std::set<std::string> kNamespaceTypes = {"pid", "network", "mount", "ipc", "uts", "cgroup"};

void parse_linux(Object o, Spec& spec) {
  std::set<std::string> seen;
  if (const json* namespaces = o.array("namespaces")) {
    for (const json& n : *namespaces) {
      Object no(n, o.path("namespaces[]"));
      Namespace ns{no.string("type"), no.string("path")};
      no.refuse_the_rest();
      if (ns.type == "user")
        refuse(
            "linux.namespaces: type \"user\" (rootless containers) is not supported by "
            "minidocker; remove it and run as root");
      if (ns.type == "time")
        refuse("linux.namespaces: type \"time\" is not supported by minidocker");
      if (!kNamespaceTypes.count(ns.type))
        refuse(fmt::format("linux.namespaces: unknown type \"{}\" (known: {})", ns.type,
                           fmt::join(kNamespaceTypes, ", ")));
      if (!seen.insert(ns.type).second)
        refuse(fmt::format("linux.namespaces: type \"{}\" is listed twice", ns.type));
      if (!ns.path.empty() && ns.path[0] != '/')
        refuse(
            fmt::format("linux.namespaces: the {} path \"{}\" must be absolute", ns.type, ns.path));
      spec.namespaces.push_back(ns);
    }
  }
  if (const json* devices = o.array("devices")) {
    for (const json& d : *devices) {
      Object dev(d, o.path("devices[]"));
      mounts::Device device;
      device.path = dev.string("path");
      std::string type = dev.string("type");
      if (type.size() != 1)
        refuse(fmt::format("linux.devices: type \"{}\" is not c, b, u or p", type));
      device.type = type[0];
      device.major = dev.integer("major").value_or(0);
      device.minor = dev.integer("minor").value_or(0);
      device.file_mode = static_cast<unsigned>(dev.unsigned_integer("fileMode").value_or(0666));
      device.uid = static_cast<uid_t>(dev.unsigned_integer("uid").value_or(0));
      device.gid = static_cast<gid_t>(dev.unsigned_integer("gid").value_or(0));
      dev.refuse_the_rest();
      spec.rootfs.devices.push_back(device);
    }
  }
  spec.cgroups_path = o.string("cgroupsPath");
  if (const json* resources = o.take("resources"))
    parse_resources(Object(*resources, o.path("resources")), spec.resources);
  if (const json* sysctl = o.take("sysctl")) {
    if (!sysctl->is_object()) refuse("linux.sysctl must be an object");
    for (auto it = sysctl->begin(); it != sysctl->end(); ++it) {
      if (!it->is_string()) refuse(fmt::format("linux.sysctl.{} must be a string", it.key()));
      spec.rootfs.sysctl[it.key()] = it->get<std::string>();
    }
  }
  if (const json* seccomp = o.take("seccomp")) {
    if (std::string why = lab::seccomp::validate(*seccomp); !why.empty())
      refuse("linux.seccomp: " + why);
    spec.seccomp = *seccomp;
  }
  spec.rootfs.rootfs_propagation = o.string("rootfsPropagation");
  spec.rootfs.masked_paths = o.strings("maskedPaths");
  spec.rootfs.readonly_paths = o.strings("readonlyPaths");
  o.refuse_the_rest();
}

std::vector<Hook> parse_hook_list(Object& hooks, const std::string& key) {
  std::vector<Hook> out;
  if (const json* list = hooks.array(key)) {
    for (const json& h : *list) {
      Object ho(h, hooks.path(key + "[]"));
      Hook hook;
      hook.path = ho.string("path");
      if (hook.path.empty() || hook.path[0] != '/')
        refuse(fmt::format("hooks.{}: path \"{}\" must be absolute", key, hook.path));
      hook.args = ho.strings("args");
      hook.env = ho.strings("env");
      if (auto t = ho.integer("timeout")) {
        if (*t <= 0) refuse(fmt::format("hooks.{}: timeout must be more than 0", key));
        hook.timeout_seconds = static_cast<int>(*t);
      }
      ho.refuse_the_rest();
      out.push_back(std::move(hook));
    }
  }
  return out;
}

Hooks parse_hooks(Object o) {
  Hooks h;
  h.prestart = parse_hook_list(o, "prestart");
  h.create_runtime = parse_hook_list(o, "createRuntime");
  h.create_container = parse_hook_list(o, "createContainer");
  h.start_container = parse_hook_list(o, "startContainer");
  h.poststart = parse_hook_list(o, "poststart");
  h.poststop = parse_hook_list(o, "poststop");
  o.refuse_the_rest();
  return h;
}

}  // namespace

bool Spec::has_namespace(const std::string& type) const { return find_namespace(type) != nullptr; }

const Namespace* Spec::find_namespace(const std::string& type) const {
  for (const Namespace& ns : namespaces)
    if (ns.type == type) return &ns;
  return nullptr;
}

Spec parse(const json& config, const std::string& bundle) {
  Object o(config, "");
  Spec spec;
  spec.bundle = bundle;
  spec.oci_version = o.string("ociVersion");
  if (spec.oci_version.rfind("1.", 0) != 0)
    refuse(fmt::format("ociVersion \"{}\" is not 1.x, the runtime spec minidocker follows",
                       spec.oci_version));
  const json* root = o.take("root");
  if (!root) refuse("root.path is missing: say where the container's root filesystem is");
  Object ro(*root, "root");
  std::string root_path = ro.string("path");
  if (root_path.empty()) refuse("root.path is empty");
  spec.rootfs.rootfs = root_path[0] == '/' ? root_path : bundle + "/" + root_path;
  spec.rootfs.readonly = ro.boolean("readonly");
  ro.refuse_the_rest();
  const json* process = o.take("process");
  if (!process) refuse("process is missing: say which program the container runs");
  spec.process = parse_process(Object(*process, "process"));
  spec.hostname = o.string("hostname");
  spec.domainname = o.string("domainname");
  if (const json* mount_list = o.array("mounts")) {
    for (const json& m : *mount_list) {
      Object mo(m, "mounts[]");
      mounts::MountEntry entry;
      entry.destination = mo.string("destination");
      entry.type = mo.string("type");
      entry.source = mo.string("source");
      entry.options = mo.strings("options");
      mo.refuse_the_rest();
      // A relative bind source is relative to the bundle (runtime-spec config.md, mounts).
      if (!entry.source.empty() && entry.source[0] != '/' &&
          (entry.type == "bind" || entry.type.empty()))
        entry.source = bundle + "/" + entry.source;
      spec.rootfs.mounts.push_back(std::move(entry));
    }
  }
  if (const json* hooks = o.take("hooks")) spec.hooks = parse_hooks(Object(*hooks, "hooks"));
  if (const json* annotations = o.take("annotations")) {
    if (!annotations->is_object()) refuse("annotations must be an object");
    for (auto it = annotations->begin(); it != annotations->end(); ++it) {
      if (!it->is_string()) refuse(fmt::format("annotations.{} must be a string", it.key()));
      spec.annotations[it.key()] = it->get<std::string>();
    }
  }
  if (const json* linux = o.take("linux")) parse_linux(Object(*linux, "linux"), spec);
  o.refuse_the_rest();
  if (const Namespace* mnt = spec.find_namespace("mount"); !mnt || !mnt->path.empty())
    refuse(
        "linux.namespaces must hold a new mount namespace (type \"mount\", no path): the "
        "root filesystem is set up in it, never in the host's");
  if (!spec.hostname.empty() && !spec.has_namespace("uts"))
    refuse("hostname is set but linux.namespaces has no uts namespace: it would rename the host");
  spec.rootfs.cgroup_namespace = spec.has_namespace("cgroup");
  if (std::string why = mounts::validate(spec.rootfs); !why.empty()) refuse(why);
  return spec;
}

Spec load_bundle(const std::string& bundle_arg) {
  char resolved[PATH_MAX];
  if (!::realpath(bundle_arg.c_str(), resolved))
    throw lab::UserError(fmt::format("bundle \"{}\": {}; give the directory that holds config.json",
                                     bundle_arg, std::strerror(errno)));
  std::string bundle = resolved;
  std::string text;
  try {
    text = lab::read_file(bundle + "/config.json");
  } catch (const std::exception& e) {
    throw lab::UserError(
        fmt::format("{}; make one with `minidocker runtime spec` in {}", e.what(), bundle));
  }
  json config = json::parse(text, nullptr, false);
  if (config.is_discarded())
    throw lab::UserError(fmt::format("{}/config.json is not valid JSON", bundle));
  Spec spec = parse(config, bundle);
  struct stat st {};
  if (::stat(spec.rootfs.rootfs.c_str(), &st) == -1 || !S_ISDIR(st.st_mode))
    throw lab::UserError(fmt::format(
        "root.path \"{}\" is not a directory; put the container's files there (for example "
        "cp -a build/rootfs {}/rootfs)",
        spec.rootfs.rootfs, bundle));
  char real_root[PATH_MAX];
  if (::realpath(spec.rootfs.rootfs.c_str(), real_root)) spec.rootfs.rootfs = real_root;
  return spec;
}

Process load_process(const std::string& path) {
  json j = json::parse(lab::read_file(path), nullptr, false);
  if (j.is_discarded()) throw lab::UserError(fmt::format("{} is not valid JSON", path));
  try {
    return parse_process(Object(j, "process"));
  } catch (const lab::UserError& e) {
    std::string message = e.what();
    const std::string prefix = "config.json: ";
    if (message.rfind(prefix, 0) == 0) message = message.substr(prefix.size());
    throw lab::UserError(fmt::format("{}: {}", path, message));
  }
}

std::string find_program(const std::string& program, const std::vector<std::string>& env,
                         const std::function<bool(const std::string&)>& is_executable) {
  if (program.find('/') != std::string::npos) return program;
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const std::string& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + program;
    if (is_executable(candidate)) return candidate;
    start = end + 1;
  }
  throw lab::UserError(
      fmt::format("executable file \"{}\" not found in $PATH ({})", program, path));
}

}  // namespace runtime
