#include "engine/build.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <glob.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>

#include "engine/commit.hpp"
#include "engine/dockerfile.hpp"
#include "engine/volumes.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "graph/digest.hpp"
#include "graph/driver.hpp"
#include "graph/layer_archive.hpp"
#include "graph/store.hpp"
#include "mount.hpp"
#include "path_in_root.hpp"
#include "runtime/explain.hpp"

namespace engine {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string short_id(const std::string& image_id) { return image_id.substr(7, 12); }

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  lab::check(::getrandom(raw.data(), raw.size(), 0), "getrandom");
  std::string out;
  for (unsigned char b : raw) out += fmt::format("{:02x}", b);
  return out;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

// ---- the build context -------------------------------------------------------------------------

// A source of COPY/ADD: its path on the host, inside the context (never outside: `..` and
// symlinks that leave it are refused, as Docker's context is all the daemon has).
struct Source {
  std::string host_path;
  std::string name;  // its base name
  struct stat st {};
};

std::vector<Source> find_sources(const std::string& context, const std::string& pattern,
                                 const std::string& keyword) {
  std::string canonical_context = fs::canonical(context).string();
  std::string joined =
      (fs::path(canonical_context) / fs::path(pattern).relative_path()).lexically_normal().string();
  std::vector<std::string> matches;
  if (pattern.find_first_of("*?[") != std::string::npos) {
    glob_t g{};
    if (::glob(joined.c_str(), 0, nullptr, &g) == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
    ::globfree(&g);
    if (matches.empty())
      throw lab::UserError(fmt::format("{} failed: no source files were specified", keyword));
  } else {
    matches.push_back(joined);
  }
  std::vector<Source> out;
  for (const std::string& m : matches) {
    std::error_code ec;
    fs::path real = fs::weakly_canonical(m, ec);
    std::string r = real.string();
    if (ec || (r != canonical_context && !r.starts_with(canonical_context + "/")))
      throw lab::UserError(
          fmt::format("{} failed: forbidden path outside the build context: {}", keyword, pattern));
    Source s;
    s.host_path = r;
    s.name = fs::path(m).filename().string();
    if (::stat(r.c_str(), &s.st) == -1)
      throw lab::UserError(
          fmt::format("{} failed: file not found in build context: stat {}: file does not exist",
                      keyword, pattern));
    out.push_back(s);
  }
  return out;
}

// What the cache compares for COPY and ADD: the files' names, types, modes and bytes (not their
// times, as Docker's content hash).
void hash_tree(graph::Sha256& hash, const std::string& path, const std::string& rel) {
  struct stat st {};
  lab::check(::lstat(path.c_str(), &st), [&] { return fmt::format("lstat({})", path); });
  hash.update(fmt::format("{}\0{:o}\0{}\0", rel, st.st_mode, st.st_size));
  if (S_ISLNK(st.st_mode)) {
    hash.update(fs::read_symlink(path).string());
  } else if (S_ISREG(st.st_mode)) {
    lab::UniqueFd fd = lab::open_fd(path, O_RDONLY | O_CLOEXEC);
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) hash.update(buf, static_cast<size_t>(n));
  } else if (S_ISDIR(st.st_mode)) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    for (const auto& n : names) hash_tree(hash, path + "/" + n, rel + "/" + n);
  }
}

// ---- copying into a rootfs ---------------------------------------------------------------------

lab::UniqueFd open_dir_at(int dirfd, const std::string& name) {
  return lab::UniqueFd(lab::check(
      ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
      [&] { return fmt::format("openat({}, O_DIRECTORY|O_NOFOLLOW)", lab::quote(name)); }));
}

// The directory `path` inside the rootfs (made with its parents, symlinks resolved inside it),
// opened for *at calls.
lab::UniqueFd dir_in_root(int root_fd, const std::string& path) {
  lab::UniqueFd opath = lab::mkdir_all_in_root(root_fd, path, 0755);
  return lab::open_fd(lab::proc_fd_name(opath.get()), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

void set_owner_and_times(int dirfd, const std::string& name, const struct stat& st, uid_t uid,
                         gid_t gid) {
  lab::check(::fchownat(dirfd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW),
             [&] { return fmt::format("fchownat({}, {}:{})", lab::quote(name), uid, gid); });
  if (!S_ISLNK(st.st_mode))
    lab::check(::fchmodat(dirfd, name.c_str(), st.st_mode & 07777, 0),
               [&] { return fmt::format("fchmodat({}, {:o})", lab::quote(name), st.st_mode); });
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  lab::check(::utimensat(dirfd, name.c_str(), times, AT_SYMLINK_NOFOLLOW),
             [&] { return fmt::format("utimensat({})", lab::quote(name)); });
}

// Copies the host's `path` to `name` in `dirfd` (a directory of the container's rootfs): a
// directory with everything below it, a file, a symlink as a symlink. What is in the way (not a
// directory where a directory goes) is replaced. Owner uid:gid, modes and mtimes kept.
void copy_entry(const std::string& path, int dirfd, const std::string& name, uid_t uid, gid_t gid) {
  struct stat st {};
  lab::check(::lstat(path.c_str(), &st), [&] { return fmt::format("lstat({})", path); });
  struct stat old {};
  bool exists = ::fstatat(dirfd, name.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0;
  if (S_ISDIR(st.st_mode)) {
    if (exists && !S_ISDIR(old.st_mode)) {
      lab::check(::unlinkat(dirfd, name.c_str(), 0), "unlinkat(" + name + ")");
      exists = false;
    }
    if (!exists)
      lab::check(::mkdirat(dirfd, name.c_str(), 0700), [&] { return "mkdirat(" + name + ")"; });
    lab::UniqueFd sub = open_dir_at(dirfd, name);
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    for (const auto& n : names) copy_entry(path + "/" + n, sub.get(), n, uid, gid);
    set_owner_and_times(dirfd, name, st, uid, gid);
    return;
  }
  if (exists) {
    if (S_ISDIR(old.st_mode))
      throw lab::UserError(fmt::format("cannot copy file {} over the directory {}", path, name));
    lab::check(::unlinkat(dirfd, name.c_str(), 0), [&] { return "unlinkat(" + name + ")"; });
  }
  if (S_ISLNK(st.st_mode)) {
    std::string target = fs::read_symlink(path).string();
    lab::check(::symlinkat(target.c_str(), dirfd, name.c_str()),
               [&] { return fmt::format("symlinkat({}, {})", target, name); });
  } else if (S_ISREG(st.st_mode)) {
    lab::UniqueFd in = lab::open_fd(path, O_RDONLY | O_CLOEXEC);
    lab::UniqueFd out(lab::check(
        ::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600),
        [&] { return fmt::format("openat({}, O_CREAT|O_EXCL)", lab::quote(name)); }));
    for (off_t left = st.st_size; left > 0;) {
      ssize_t n = lab::check(::sendfile(out.get(), in.get(), nullptr, static_cast<size_t>(left)),
                             [&] { return fmt::format("sendfile({})", path); });
      if (n == 0) break;
      left -= n;
    }
  } else {
    return;  // sockets, fifos and devices do not travel in a build context
  }
  set_owner_and_times(dirfd, name, st, uid, gid);
}

// A tar (plain or compressed, libarchive's detection) that ADD unpacks: its first bytes say so.
bool is_archive(const std::string& path) {
  unsigned char magic[512] = {};
  lab::UniqueFd fd = lab::open_fd(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = ::read(fd.get(), magic, sizeof magic);
  if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) return true;                      // gzip
  if (n >= 3 && magic[0] == 'B' && magic[1] == 'Z' && magic[2] == 'h') return true;     // bzip2
  if (n >= 6 && magic[0] == 0xfd && magic[1] == '7' && magic[2] == 'z') return true;    // xz
  if (n >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f) return true;  // zstd
  return n >= 262 && std::string_view(reinterpret_cast<char*>(magic) + 257, 5) == "ustar";
}

// The rootfs of an image mounted by the graph driver for COPY and ADD: no container, no runtime,
// only the overlay; unmounted and removed when it goes away.
class ScratchRootfs {
 public:
  ScratchRootfs(const Paths& p, const std::vector<std::string>& layers,
                const runtime::Explainer& explain)
      : root_(p.root), id_("build-" + random_hex(16)), explain_(explain) {
    // volatile: the scratch rw layer is read once (committed) and thrown away, never remounted.
    graph::RootfsRequest request{id_, layers, "buildkitsandbox", true};
    rootfs_ = graph::prepare_rootfs(root_, graph::DriverKind::overlay, request, &explain_);
  }
  ~ScratchRootfs() {
    try {
      graph::remove_rootfs(root_, graph::DriverKind::overlay, id_, &explain_);
    } catch (...) {
    }
  }
  ScratchRootfs(const ScratchRootfs&) = delete;
  ScratchRootfs& operator=(const ScratchRootfs&) = delete;
  const std::string& rootfs() const { return rootfs_; }
  std::string upper() const { return graph::rw_layer_dir(root_, graph::DriverKind::overlay, id_); }

 private:
  std::string root_, id_, rootfs_;
  const runtime::Explainer& explain_;
};

// A RUN's container, removed (force) with its anonymous volumes (an image's VOLUMEs) when it
// goes away, as `rm -f -v`: nothing stays after a step, failed or not.
class BuildContainer {
 public:
  BuildContainer(const Paths& p, std::string id) : paths_(p), id_(std::move(id)) {}
  ~BuildContainer() {
    try {
      std::vector<std::string> volumes = anonymous_volumes(paths_, load(paths_, id_).mounts);
      remove(paths_, id_, true);
      for (const std::string& volume : volumes) remove_volume(paths_, volume);
    } catch (...) {
    }
  }
  BuildContainer(const BuildContainer&) = delete;
  BuildContainer& operator=(const BuildContainer&) = delete;
  const std::string& id() const { return id_; }

 private:
  const Paths& paths_;
  std::string id_;
};

// Prints the json log's new lines from `offset` (the container's stdout and stderr, as the
// legacy builder streams them); returns the new offset.
size_t print_log(const std::string& path, size_t offset, std::string& pending, std::ostream& out) {
  std::string text = lab::read_file_or_empty(path);
  if (text.size() <= offset) return offset;
  pending += text.substr(offset);
  size_t start = 0;
  for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    json entry = json::parse(pending.substr(start, nl - start), nullptr, false);
    if (entry.is_object()) out << entry.value("log", "");
  }
  pending.erase(0, start);
  out.flush();
  return text.size();
}

// ---- the builder -------------------------------------------------------------------------------

class Builder {
 public:
  Builder(const Paths& p, const BuildRequest& r, std::ostream& out)
      : p_(p), r_(r), out_(out), explain_(p.explain), store_(p.root) {}

  std::string run(const std::vector<dockerfile::Instruction>& all);

 private:
  std::optional<std::string> lookup(const std::string& name) const {
    if (auto v = dockerfile::env_value(config_.value("Env", json()), name)) return v;
    if (auto it = args_.find(name); it != args_.end() && it->second) return it->second;
    return std::nullopt;
  }
  dockerfile::Lookup lookup_fn() const {
    return [this](const std::string& n) { return lookup(n); };
  }
  // The build args in effect, "KEY=VALUE" (sorted): RUN's environment and part of its key.
  std::vector<std::string> args_in_effect() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : args_)
      if (v) out.push_back(k + "=" + *v);
    return out;
  }
  std::string cache_file(const std::string& created_by, const std::string& extra) const {
    json key = {{"parent", image_},
                {"created_by", created_by},
                {"args", args_in_effect()},
                {"extra", extra}};
    return p_.root + "/build-cache/" + graph::digest_hex(graph::sha256_digest(key.dump()));
  }
  // The cached image of this step, if any (and still in the store).
  std::optional<std::string> cached(const std::string& file) {
    if (r_.no_cache) return std::nullopt;
    std::string id = lab::trim(lab::read_file_or_empty(file));
    if (id.empty()) return std::nullopt;
    auto lock = store_.lock(graph::LockMode::shared);
    if (!store_.find(id)) return std::nullopt;
    return id;
  }
  void use(const std::string& id, bool from_cache) {
    image_ = id;
    {
      auto lock = store_.lock(graph::LockMode::shared);
      config_ = store_.image(id).config.value("config", json::object());
    }
    if (!config_.is_object()) config_ = json::object();
    if (from_cache) say(" ---> Using cache");
    say(" ---> " + short_id(id));
  }
  void commit_step(const std::optional<std::string>& layer_dir, const std::string& created_by,
                   const std::string& file) {
    NewImage image{image_, layer_dir, config_, created_by, "", author_};
    std::string id;
    {
      auto lock = store_.lock(graph::LockMode::exclusive);
      id = add_image(store_, image, p_.explain);
      fs::create_directories(p_.root + "/build-cache");
      graph::write_file_atomically(file, id + "\n");
    }
    use(id, false);
  }
  std::vector<std::string> layers_of_image() {
    std::vector<std::string> out;
    if (image_.empty()) return out;
    auto lock = store_.lock(graph::LockMode::shared);
    for (const auto& l : store_.image(image_).layers) out.push_back(l.diff_id.substr(7));
    return out;
  }
  void say(const std::string& line) {
    if (!r_.quiet) out_ << line << '\n' << std::flush;
  }
  std::string workdir() const {
    std::string w = config_.value("WorkingDir", "");
    return w.empty() ? "/" : w;
  }

  void from(const dockerfile::Instruction& in);
  void run_step(const dockerfile::Instruction& in);
  void copy_step(const dockerfile::Instruction& in);

  const Paths& p_;
  const BuildRequest& r_;
  std::ostream& out_;
  runtime::Explainer explain_;
  graph::Store store_;
  std::string image_;  // "" after FROM scratch
  json config_ = json::object();
  dockerfile::ConfigState state_;
  std::map<std::string, std::optional<std::string>> args_;       // ARGs declared in this stage
  std::map<std::string, std::optional<std::string>> meta_args_;  // ARGs before FROM
  std::set<std::string> used_args_;
  std::string author_;
  bool have_from_ = false;
};

void Builder::from(const dockerfile::Instruction& in) {
  if (have_from_)
    throw lab::UserError(
        fmt::format("Dockerfile line {}: a second FROM (multi-stage builds) is "
                    "not supported by this build",
                    in.line));
  have_from_ = true;
  auto meta = [this](const std::string& n) -> std::optional<std::string> {
    if (auto it = meta_args_.find(n); it != meta_args_.end()) return it->second;
    return std::nullopt;
  };
  std::vector<std::string> w = dockerfile::words(in.arguments, meta);
  if (w.size() != 1 && !(w.size() == 3 && (w[1] == "AS" || w[1] == "as")))
    throw lab::UserError(fmt::format("FROM requires either one or three arguments"));
  if (w[0] == "scratch") {
    image_.clear();
    config_ = json::object();
    return;
  }
  std::string id;
  {
    auto lock = store_.lock(graph::LockMode::shared);
    id = store_.resolve(w[0]);
  }
  use(id, false);
}

void Builder::run_step(const dockerfile::Instruction& in) {
  std::vector<std::string> command =
      in.json_args ? *in.json_args : dockerfile::shell_form(in.arguments);
  if (command.empty()) throw lab::UserError("RUN: an empty command");
  std::vector<std::string> args = args_in_effect();
  std::string created_by = join(command, " ");
  if (!args.empty())
    created_by = fmt::format("|{} {} {}", args.size(), join(args, " "), created_by);
  std::string file = cache_file(created_by, "");
  if (auto hit = cached(file)) return use(*hit, true);
  if (image_.empty())
    throw lab::UserError("RUN in an empty image (FROM scratch): there is no /bin/sh to run it");

  CreateRequest request;
  request.image = image_;
  request.options.network = "none";
  request.options.entrypoint = command.front();
  request.options.command.assign(command.begin() + 1, command.end());
  request.options.env = args;
  explain_.step("engine", fmt::format("RUN: a container of image {} runs {}", short_id(image_),
                                      join(command, " ")));
  BuildContainer container(p_, create(p_, request));
  say(" ---> Running in " + container.id().substr(0, 12));
  start(p_, container.id());
  std::string log = p_.root + "/containers/" + container.id() + "/" + container.id() + "-json.log";
  size_t offset = 0;
  std::string pending;
  std::ostream& sink = out_;
  std::ostringstream discard;
  std::ostream& to = r_.quiet ? static_cast<std::ostream&>(discard) : sink;
  while (!wait_exit(p_, container.id(), 100)) offset = print_log(log, offset, pending, to);
  print_log(log, offset, pending, to);
  int code = load(p_, container.id()).exit_code;
  if (code != 0)
    throw BuildFailure(
        fmt::format("The command '{}' returned a non-zero code: {}", join(command, " "), code),
        code);
  say("Removing intermediate container " + container.id().substr(0, 12));
  commit_step(graph::rw_layer_dir(p_.root, graph::DriverKind::overlay, container.id()), created_by,
              file);
}

void Builder::copy_step(const dockerfile::Instruction& in) {
  const std::string& k = in.keyword;
  std::vector<std::string> items =
      in.json_args ? *in.json_args : dockerfile::words(in.arguments, lookup_fn());
  if (in.json_args)
    for (auto& item : items) item = dockerfile::expand(item, lookup_fn());
  if (items.size() < 2) throw lab::UserError(fmt::format("{} requires at least two arguments", k));
  std::string dest = items.back();
  items.pop_back();
  std::vector<Source> sources;
  for (const std::string& pattern : items) {
    if (pattern.find("://") != std::string::npos)
      throw lab::UserError(
          k == "ADD" ? fmt::format("ADD from a URL is not supported by this build: {}", pattern)
                     : fmt::format("source can't be a URL for COPY: {}", pattern));
    for (Source& s : find_sources(r_.context, pattern, k)) sources.push_back(std::move(s));
  }
  graph::Sha256 hash;
  for (const Source& s : sources) hash_tree(hash, s.host_path, s.name);
  std::string kind = sources.size() > 1 ? "multi" : S_ISDIR(sources[0].st.st_mode) ? "dir" : "file";
  std::string target = fs::path(dest).is_absolute()
                           ? dest
                           : (fs::path(workdir()) / dest).lexically_normal().string();
  if (dest.ends_with("/") && !target.ends_with("/")) target += "/";
  std::string created_by = fmt::format("/bin/sh -c #(nop) {} {}:{} in {} ", k, kind,
                                       graph::digest_hex(hash.digest()), target);
  std::string chown = in.flags.contains("chown") ? in.flags.at("chown") : "";
  std::string file = cache_file(created_by, chown);
  if (auto hit = cached(file)) return use(*hit, true);

  ScratchRootfs scratch(p_, layers_of_image(), explain_);
  lab::UniqueFd root_fd = lab::open_root(scratch.rootfs());
  uid_t uid = 0;
  gid_t gid = 0;
  if (!chown.empty()) {
    auto read_in_root = [&](const char* path) {
      lab::UniqueFd fd = lab::open_in_root_if_exists(root_fd.get(), path, O_RDONLY | O_CLOEXEC);
      return fd ? lab::read_file_or_empty(lab::proc_fd_name(fd.get())) : std::string();
    };
    exec::User user = exec::resolve_user(dockerfile::expand(chown, lookup_fn()),
                                         read_in_root("/etc/passwd"), read_in_root("/etc/group"));
    uid = user.uid;
    gid = user.gid;
  }
  explain_.step("05",
                fmt::format("{}: the context's files into the image's rootfs {} (an overlay: "
                            "they land in its upper dir)",
                            k, scratch.rootfs()),
                fmt::format("cp -a ... {}{}", scratch.rootfs(), target));
  // Into a directory: the destination ends with '/', there are several sources, or it is one.
  lab::UniqueFd existing =
      lab::open_in_root_if_exists(root_fd.get(), target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  bool into_dir = target.ends_with("/") || sources.size() > 1 || existing;
  for (const Source& s : sources) {
    if (S_ISDIR(s.st.st_mode)) {
      lab::UniqueFd dir = dir_in_root(root_fd.get(), target);
      for (const auto& e : fs::directory_iterator(s.host_path))
        copy_entry(e.path().string(), dir.get(), e.path().filename(), uid, gid);
    } else if (k == "ADD" && is_archive(s.host_path)) {
      // ADD unpacks a local archive into the destination directory.
      lab::TempDir unpacked("/tmp/minidocker-add-");
      lab::UniqueFd tar = lab::open_fd(s.host_path, O_RDONLY | O_CLOEXEC);
      graph::unpack_layer(tar.get(), unpacked.path());
      lab::UniqueFd dir = dir_in_root(root_fd.get(), target);
      for (const auto& e : fs::directory_iterator(unpacked.path()))
        copy_entry(e.path().string(), dir.get(), e.path().filename(), uid, gid);
    } else if (into_dir) {
      lab::UniqueFd dir = dir_in_root(root_fd.get(), target);
      copy_entry(s.host_path, dir.get(), s.name, uid, gid);
    } else {
      fs::path t(target);
      lab::UniqueFd dir = dir_in_root(root_fd.get(), t.parent_path().string());
      copy_entry(s.host_path, dir.get(), t.filename().string(), uid, gid);
    }
  }
  commit_step(scratch.upper(), created_by, file);
}

std::string Builder::run(const std::vector<dockerfile::Instruction>& all) {
  // ARGs before the first FROM are for FROM only (Docker's "meta args"); they are not steps.
  size_t first = 0;
  for (; first < all.size() && all[first].keyword == "ARG"; ++first) {
    for (auto& [k, v] : dockerfile::key_values(all[first].arguments)) {
      meta_args_[k] = r_.build_args.contains(k) ? std::optional(r_.build_args.at(k)) : v;
      if (r_.build_args.contains(k)) used_args_.insert(k);
    }
  }
  if (first == all.size() || all[first].keyword != "FROM")
    throw lab::UserError(fmt::format("Dockerfile line {}: the first instruction must be FROM",
                                     first < all.size() ? all[first].line : 1));
  size_t total = all.size() - first;
  for (size_t i = first; i < all.size(); ++i) {
    const dockerfile::Instruction& in = all[i];
    say(fmt::format("Step {}/{} : {}", i - first + 1, total, in.original));
    const std::string& k = in.keyword;
    if (k == "FROM") {
      from(in);
    } else if (k == "RUN") {
      run_step(in);
    } else if (k == "COPY" || k == "ADD") {
      copy_step(in);
    } else if (k == "ONBUILD" || k == "HEALTHCHECK" || k == "SHELL") {
      throw lab::UserError(
          fmt::format("Dockerfile line {}: {} is not supported by this build", in.line, k));
    } else {
      std::string created_by;
      if (k == "ARG") {
        std::string text = "ARG";
        for (auto& [name, value] : dockerfile::key_values(in.arguments, lookup_fn())) {
          std::optional<std::string> v = value;
          if (r_.build_args.contains(name)) {
            v = r_.build_args.at(name);
            used_args_.insert(name);
          } else if (!v && meta_args_.contains(name)) {
            v = meta_args_.at(name);
          }
          args_[name] = v;
          text += " " + name + (value ? "=" + *value : "");
        }
        created_by = "/bin/sh -c #(nop)  " + text;
      } else if (k == "MAINTAINER") {
        author_ = dockerfile::expand(in.arguments, lookup_fn());
        created_by = "/bin/sh -c #(nop)  MAINTAINER " + author_;
      } else {
        created_by = dockerfile::apply_config(in, config_, state_, lookup_fn());
      }
      std::string file = cache_file(created_by, "");
      if (auto hit = cached(file)) {
        use(*hit, true);
      } else if (k == "WORKDIR") {
        // Docker makes the directory: a layer when it was missing, an empty one otherwise (the
        // runtime's chdir into process.cwd needs it before any RUN).
        ScratchRootfs scratch(p_, layers_of_image(), explain_);
        lab::UniqueFd root_fd = lab::open_root(scratch.rootfs());
        lab::mkdir_all_in_root(root_fd.get(), workdir(), 0755);
        bool made = !fs::is_empty(scratch.upper());
        commit_step(made ? std::optional(scratch.upper()) : std::nullopt, created_by, file);
      } else {
        commit_step(std::nullopt, created_by, file);
      }
    }
  }
  if (image_.empty()) throw lab::UserError("No image was generated. Is your Dockerfile empty?");
  std::vector<std::string> unused;
  for (const auto& [k, v] : r_.build_args)
    if (!used_args_.contains(k)) unused.push_back(k);
  if (!unused.empty())
    say(fmt::format("[Warning] One or more build-args [{}] were not consumed", join(unused, " ")));
  say("Successfully built " + short_id(image_));
  if (!r_.tags.empty()) {
    auto lock = store_.lock(graph::LockMode::exclusive);
    for (const std::string& tag : r_.tags) {
      store_.tag(image_, tag);
      say("Successfully tagged " + graph::normalize_tag(tag));
    }
  }
  return image_;
}

}  // namespace

std::string check_build_request(const BuildRequest& r) {
  for (const std::string& tag : r.tags) graph::normalize_tag(tag);  // refused before any work
  struct stat st {};
  if (::stat(r.context.c_str(), &st) == -1 || !S_ISDIR(st.st_mode))
    throw lab::UserError(
        fmt::format("unable to prepare context: path \"{}\" not found", r.context));
  std::string dockerfile = r.dockerfile.empty() ? r.context + "/Dockerfile" : r.dockerfile;
  if (::access(dockerfile.c_str(), R_OK) == -1 || ::stat(dockerfile.c_str(), &st) == -1 ||
      S_ISDIR(st.st_mode))
    throw lab::UserError(fmt::format("Cannot locate specified Dockerfile: {}", dockerfile));
  return dockerfile;
}

std::string build(const Paths& p, const BuildRequest& r, std::ostream& out) {
  std::string dockerfile = check_build_request(r);
  std::string text;
  try {
    text = lab::read_file(dockerfile);
  } catch (const std::exception&) {
    throw lab::UserError(fmt::format("Cannot locate specified Dockerfile: {}", dockerfile));
  }
  if (graph::choose_driver(p.root) != graph::DriverKind::overlay)
    throw lab::UserError("build needs the overlay driver: its steps are overlay upper dirs");
  std::vector<dockerfile::Instruction> instructions = dockerfile::parse(text);
  Builder builder(p, r, out);
  return builder.run(instructions);
}

}  // namespace engine
