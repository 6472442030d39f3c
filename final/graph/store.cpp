#include "graph/store.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "error.hpp"
#include "graph/digest.hpp"
#include "graph/driver.hpp"

namespace graph {

namespace fs = std::filesystem;

namespace {

bool is_hex(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

void make_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == -1 && errno != EEXIST)
    lab::check(-1, [&] { return fmt::format("mkdir(\"{}\", 0{:o})", path, mode); });
}

void fsync_path(const std::string& path) {
  lab::UniqueFd fd = lab::open_fd(path, O_RDONLY | O_CLOEXEC);
  lab::check(::fsync(fd.get()), [&] { return fmt::format("fsync(\"{}\")", path); });
}

// Removes a tree that may be large: renamed into tmp/ first, so it disappears from its place in
// one rename(2) and a kill half-way through leaves only tmp/ garbage.
void remove_tree_via(const std::string& path, const std::string& tmp_dir) {
  std::string target =
      fmt::format("{}/rm-{}-{}", tmp_dir, fs::path(path).filename().string(), ::getpid());
  lab::check(::rename(path.c_str(), target.c_str()),
             [&] { return fmt::format("rename(\"{}\", \"{}\")", path, target); });
  std::error_code ec;
  fs::remove_all(target, ec);
}

std::string id_hex(std::string_view image_id) { return digest_hex(image_id, "image id"); }

}  // namespace

void write_all(int fd, const char* data, size_t size, std::string_view what) {
  while (size > 0) {
    ssize_t n = lab::check(::write(fd, data, size),
                           [&] { return fmt::format("write({}, {} bytes)", what, size); });
    data += n;
    size -= static_cast<size_t>(n);
  }
}

uint64_t tree_size(const std::string& dir) {
  uint64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == -1 || S_ISDIR(st.st_mode)) continue;
    if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
    total += static_cast<uint64_t>(st.st_size);
  }
  return total;
}

// ---- references --------------------------------------------------------------------------------

std::string Reference::str() const {
  return digest.empty() ? name + ":" + tag : name + "@" + digest;
}

Reference parse_reference(std::string_view text) {
  Reference ref;
  std::string rest(text);
  if (auto at = rest.find('@'); at != std::string::npos) {
    ref.digest = rest.substr(at + 1);
    rest.resize(at);
    if (!is_sha256_digest(ref.digest))
      throw lab::UserError(fmt::format("invalid reference format: {}", text));
  }
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    ref.tag = rest.substr(colon + 1);
    rest.resize(colon);
    bool ok = !ref.tag.empty() && ref.tag.size() <= 128 && ref.tag[0] != '.' && ref.tag[0] != '-';
    for (char c : ref.tag)
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
    if (!ok) throw lab::UserError(fmt::format("invalid reference format: {}", text));
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  if (rest.empty()) throw lab::UserError(fmt::format("invalid reference format: {}", text));
  // The first component may be a registry host ("localhost:5000", "Registry.example"); the
  // repository path after it must be lower case, as Docker's grammar says.
  size_t path_start = 0;
  if (auto first = rest.find('/'); first != std::string::npos) {
    std::string_view host(rest.data(), first);
    if (host.find_first_of(".:") != std::string_view::npos || host == "localhost")
      path_start = first + 1;
  }
  std::string_view path(rest.data() + path_start, rest.size() - path_start);
  if (path.empty() || path.front() == '/' || path.back() == '/' ||
      path.find("//") != std::string_view::npos)
    throw lab::UserError(fmt::format("invalid reference format: {}", text));
  for (char c : path) {
    if (c >= 'A' && c <= 'Z')
      throw lab::UserError(
          fmt::format("invalid reference format: repository name ({}) must be lowercase", rest));
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
          c == '/'))
      throw lab::UserError(fmt::format("invalid reference format: {}", text));
  }
  for (size_t i = 0; i < path.size(); ++i) {
    bool separator = path[i] == '.' || path[i] == '_' || path[i] == '-';
    bool at_edge = i == 0 || i + 1 == path.size() || path[i - 1] == '/' || path[i + 1] == '/';
    if (separator && at_edge)
      throw lab::UserError(fmt::format("invalid reference format: {}", text));
  }
  ref.name = rest;
  return ref;
}

std::string normalize_tag(std::string_view text) {
  Reference ref = parse_reference(text);
  if (!ref.digest.empty())
    throw lab::UserError(fmt::format("{}: a tag cannot name a digest (name:tag only)", text));
  return ref.str();
}

std::optional<std::string> resolve_reference(std::string_view ref,
                                             const std::vector<std::string>& ids,
                                             const std::map<std::string, std::string>& tags) {
  std::string_view hex = ref;
  bool algorithm = hex.substr(0, 7) == "sha256:";
  if (algorithm) hex.remove_prefix(7);
  // A name:tag first (Docker refuses 64 hex digits as a name, so a full id never is one).
  if (!algorithm && !(hex.size() == 64 && is_hex(hex))) {
    try {
      Reference parsed = parse_reference(ref);
      if (parsed.digest.empty()) {
        if (auto it = tags.find(parsed.str()); it != tags.end()) return it->second;
      }
    } catch (const lab::UserError&) {
      // Not a valid name; it may still be an id prefix.
    }
  }
  if (!is_hex(hex) || hex.size() > 64) return std::nullopt;
  // An explicit tag ("abc:latest") is a name, never an id prefix.
  std::optional<std::string> found;
  for (const std::string& id : ids) {
    if (std::string_view(id).substr(7, hex.size()) != hex) continue;
    if (found)
      throw lab::UserError(fmt::format("multiple IDs found with provided prefix: {}", ref));
    found = id;
  }
  return found;
}

// ---- locks and staging
// ---------------------------------------------------------------------------

StoreLock::StoreLock(const Store& store, LockMode mode) : store_(&store), mode_(mode) {
  std::string path = store.root() + "/lock";
  fd_ = lab::open_fd(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  int op = mode == LockMode::exclusive ? LOCK_EX : LOCK_SH;
  // flock waits for the other command; a signal (Ctrl-C) interrupts it with EINTR.
  lab::check(::flock(fd_.get(), op), [&] {
    return fmt::format("flock(\"{}\", {})", path, op == LOCK_EX ? "LOCK_EX" : "LOCK_SH");
  });
  if (mode == LockMode::exclusive) {
    // Nobody else writes now: whatever tmp/ holds was left by a killed command.
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(store.root() + "/tmp", ec))
      fs::remove_all(entry.path(), ec);
    ++store.exclusive_holders_;
  } else {
    ++store.shared_holders_;
  }
}

StoreLock::StoreLock(StoreLock&& other) noexcept
    : store_(std::exchange(other.store_, nullptr)), fd_(std::move(other.fd_)), mode_(other.mode_) {}

StoreLock::~StoreLock() {
  if (!store_) return;
  if (mode_ == LockMode::exclusive) {
    --store_->exclusive_holders_;
  } else {
    --store_->shared_holders_;
  }
}

StagingDir::StagingDir(const std::string& tmp_dir) {
  std::string pattern = tmp_dir + "/stage-XXXXXX";
  lab::check(::mkdtemp(pattern.data()) == nullptr ? -1 : 0,
             [&] { return fmt::format("mkdtemp(\"{}\")", pattern); });
  path_ = pattern;
}

StagingDir::~StagingDir() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

// ---- the store
// -----------------------------------------------------------------------------------

Store::Store(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  std::error_code ec;
  fs::create_directories(root_, ec);
  for (const char* dir : {"", "/tmp", "/blobs", "/blobs/sha256", "/layers", "/images"})
    make_dir(root_ + dir, 0700);
}

Store::~Store() = default;

void Store::require(LockMode mode) const {
  bool held = mode == LockMode::exclusive ? exclusive_holders_ > 0
                                          : exclusive_holders_ + shared_holders_ > 0;
  if (!held)
    throw std::logic_error(fmt::format("store {}: used without its {} lock", root_,
                                       mode == LockMode::exclusive ? "exclusive" : "shared"));
}

void Store::explain(std::string_view lesson, std::string_view call, std::string_view shell) const {
  if (explain_) explain_(lesson, call, shell);
}

StagingDir Store::staging() const {
  // The shared lock is enough: tmp/ is cleared by whoever takes the exclusive lock, which waits
  // for every shared holder.
  require(LockMode::shared);
  return StagingDir(root_ + "/tmp");
}

std::string Store::blob_path(std::string_view digest) const {
  return root_ + "/blobs/sha256/" + digest_hex(digest, "blob digest");
}

bool Store::has_blob(std::string_view digest) const {
  return is_sha256_digest(digest) && path_exists(blob_path(digest));
}

lab::UniqueFd Store::open_blob(std::string_view digest) const {
  require(LockMode::shared);
  if (!has_blob(digest)) throw lab::UserError(fmt::format("blob {} is not in the store", digest));
  return lab::open_fd(blob_path(digest), O_RDONLY | O_CLOEXEC);
}

std::string Store::read_blob(std::string_view digest) const {
  open_blob(digest);  // the checks and the error for a missing blob
  return lab::read_file(blob_path(digest));
}

uint64_t Store::blob_size(std::string_view digest) const {
  struct stat st {};
  std::string path = blob_path(digest);
  lab::check(::stat(path.c_str(), &st), [&] { return fmt::format("stat(\"{}\")", path); });
  return static_cast<uint64_t>(st.st_size);
}

namespace {

// A temp file under tmp/, unlinked unless published.
struct TempFile {
  std::string path;
  lab::UniqueFd fd;
  explicit TempFile(const std::string& tmp_dir) : path(tmp_dir + "/blob-XXXXXX") {
    fd.reset(lab::check(::mkostemp(path.data(), O_CLOEXEC),
                        [&] { return fmt::format("mkostemp(\"{}\")", path); }));
  }
  ~TempFile() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

}  // namespace

std::string copy_and_hash(int from, int to, const std::string& to_path, uint64_t* size) {
  // Two buffers in turn: one is read into while the other is still being hashed. (They
  // outlive the hasher, which may still be reading one when an error unwinds.)
  std::vector<char> buffers[2] = {std::vector<char>(1 << 20), std::vector<char>(1 << 20)};
  BackgroundSha256 hash;
  for (int turn = 0;; turn ^= 1) {
    std::vector<char>& buffer = buffers[turn];
    ssize_t n = lab::check(::read(from, buffer.data(), buffer.size()),
                           [&] { return fmt::format("read(fd {}) of a blob", from); });
    if (n == 0) break;
    hash.update(buffer.data(), static_cast<size_t>(n));
    write_all(to, buffer.data(), static_cast<size_t>(n), to_path);
  }
  if (size != nullptr) *size += hash.bytes();
  return hash.digest();
}

BackgroundFsync::BackgroundFsync(std::vector<std::string> paths) {
  thread_ = start_signal_free_thread([this, paths = std::move(paths)] {
    try {
      for (const std::string& path : paths) {
        lab::UniqueFd fd = lab::open_fd(path, O_RDONLY | O_CLOEXEC);
        lab::check(::fsync(fd.get()), [&] { return fmt::format("fsync(\"{}\")", path); });
      }
    } catch (...) {
      error_ = std::current_exception();
    }
  });
}

BackgroundFsync::~BackgroundFsync() {
  if (thread_.joinable()) thread_.join();
}

void BackgroundFsync::wait() {
  if (thread_.joinable()) thread_.join();
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void Writeback::wrote(uint64_t bytes) {
  written_ += bytes;
  if (written_ - started_ < kStep) return;
  // Advice only: if it fails, the fsync does all the waiting, as before.
  ::sync_file_range(fd_, static_cast<off64_t>(started_), static_cast<off64_t>(written_ - started_),
                    SYNC_FILE_RANGE_WRITE);
  started_ = written_;
}

std::string Store::put_blob(int fd, std::optional<std::string> expected) {
  require(LockMode::shared);  // see store.hpp: a blob may be published under the shared lock
  if (expected) digest_hex(*expected, "expected digest");
  TempFile temp(root_ + "/tmp");
  uint64_t size = 0;
  std::string digest = copy_and_hash(fd, temp.fd.get(), temp.path, &size);
  explain("", fmt::format("sha256 of {} bytes = {}", size, digest), "sha256sum");
  if (expected && *expected != digest)
    throw lab::UserError(
        fmt::format("blob {}: its content hashes to {}; refused", *expected, digest));
  if (has_blob(digest)) return digest;  // content-addressed: the same bytes are there already
  // fsync before rename: after a crash the name never points at a file whose data was lost.
  lab::check(::fsync(temp.fd.get()), [&] { return fmt::format("fsync(\"{}\")", temp.path); });
  std::string target = blob_path(digest);
  lab::check(::rename(temp.path.c_str(), target.c_str()),
             [&] { return fmt::format("rename(\"{}\", \"{}\")", temp.path, target); });
  temp.path.clear();
  explain("", fmt::format("rename(tmp, \"blobs/sha256/{}\")", digest_hex(digest)),
          "mv tmp/blob blobs/sha256/HEX");
  return digest;
}

std::string Store::put_blob(std::string_view bytes, std::optional<std::string> expected) {
  require(LockMode::exclusive);
  std::string digest = sha256_digest(bytes);
  explain("", fmt::format("sha256 of {} bytes = {}", bytes.size(), digest), "sha256sum");
  if (expected && *expected != digest)
    throw lab::UserError(
        fmt::format("blob {}: its content hashes to {}; refused", *expected, digest));
  if (has_blob(digest)) return digest;
  TempFile temp(root_ + "/tmp");
  write_all(temp.fd.get(), bytes.data(), bytes.size(), temp.path);
  lab::check(::fsync(temp.fd.get()), [&] { return fmt::format("fsync(\"{}\")", temp.path); });
  std::string target = blob_path(digest);
  lab::check(::rename(temp.path.c_str(), target.c_str()),
             [&] { return fmt::format("rename(\"{}\", \"{}\")", temp.path, target); });
  temp.path.clear();
  return digest;
}

void Store::adopt_blob(int fd, const std::string& path, std::string_view digest) {
  require(LockMode::shared);
  digest_hex(digest, "blob digest");
  struct stat st {};
  lab::check(::fstat(fd, &st), [&] { return fmt::format("fstat(\"{}\")", path); });
  explain("", fmt::format("sha256 of {} bytes = {} (hashed as they were written)", st.st_size, digest),
          "sha256sum");
  if (has_blob(digest)) return;
  // fsync before rename, as put_blob: after a crash the name never points at lost data.
  lab::check(::fsync(fd), [&] { return fmt::format("fsync(\"{}\")", path); });
  std::string target = blob_path(digest);
  lab::check(::rename(path.c_str(), target.c_str()),
             [&] { return fmt::format("rename(\"{}\", \"{}\")", path, target); });
  explain("", fmt::format("rename(\"{}\", \"blobs/sha256/{}\")", path, digest_hex(digest)),
          fmt::format("mv {} {}", path, target));
}

std::string Store::layer_dir(std::string_view diff_id) const {
  return root_ + "/layers/" + digest_hex(diff_id, "diff id") + "/diff";
}

bool Store::has_layer(std::string_view diff_id) const {
  return is_sha256_digest(diff_id) && path_exists(layer_dir(diff_id));
}

uint64_t Store::layer_size(std::string_view diff_id) const {
  std::string path = root_ + "/layers/" + digest_hex(diff_id, "diff id") + "/size";
  std::string text = lab::trim(lab::read_file_or_empty(path));
  if (text.empty()) return tree_size(layer_dir(diff_id));
  return std::strtoull(text.c_str(), nullptr, 10);
}

std::string Store::add_layer(std::string_view blob_digest, int fd, const Progress& progress) {
  require(LockMode::exclusive);
  StagedLayer staged = stage_layer(blob_digest);
  UnpackResult result = unpack_layer(fd, staged.diff, {}, progress, blob_digest);
  publish_layer(std::move(staged), result);
  return result.diff_id;
}

Store::StagedLayer Store::stage_layer(std::string_view blob_digest) const {
  require(LockMode::shared);
  digest_hex(blob_digest, "layer digest");
  StagedLayer staged{staging(), {}};
  staged.diff = staged.stage.path() + "/diff";
  make_dir(staged.diff, 0755);
  explain("05",
          fmt::format("unpack layer {} into {} (overlay's lower format: whiteouts become 0:0 "
                      "character devices, opaque directories the trusted.overlay.opaque xattr)",
                      std::string(blob_digest).substr(0, 19), staged.diff),
          fmt::format("tar -x -C {}", staged.diff));
  return staged;
}

bool Store::publish_layer(StagedLayer staged, const UnpackResult& result) {
  require(LockMode::exclusive);
  const StagingDir& stage = staged.stage;
  std::string hex = digest_hex(result.diff_id, "diff id");
  explain("", fmt::format("sha256 of the uncompressed tar = {} (the diff id)", result.diff_id),
          "zcat LAYER | sha256sum");
  std::string target = root_ + "/layers/" + hex;
  if (path_exists(target + "/diff")) {
    explain("", fmt::format("layers/{} is already unpacked: this copy is discarded", hex));
    return false;  // `stage` goes away with its copy
  }
  if (path_exists(target)) remove_tree_via(target, root_ + "/tmp");  // a crash's leftover
  lab::create_file(stage.path() + "/size", fmt::format("{}\n", tree_size(staged.diff)));
  lab::check(::rename(stage.path().c_str(), target.c_str()),
             [&] { return fmt::format("rename(\"{}\", \"{}\")", stage.path(), target); });
  fsync_path(root_ + "/layers");
  explain("", fmt::format("rename(\"{}\", \"layers/{}\")", stage.path(), hex),
          fmt::format("mv {} {}", stage.path(), target));
  register_layer(root_, hex);
  return true;
}

std::vector<std::string> Store::image_ids() const {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_ + "/images", ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() == 64 + 5 && name.ends_with(".json") && is_hex(name.substr(0, 64)))
      ids.push_back("sha256:" + name.substr(0, 64));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::string Store::add_image(std::string_view manifest_bytes, std::string_view parent) {
  require(LockMode::exclusive);
  nlohmann::json manifest = nlohmann::json::parse(manifest_bytes, nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object())
    throw lab::UserError("image manifest: not a JSON object");
  if (manifest.value("schemaVersion", 0) != 2)
    throw lab::UserError("image manifest: schemaVersion must be 2");
  if (manifest.contains("mediaType") && manifest["mediaType"] != kOciManifestType &&
      manifest["mediaType"] != kDockerManifestType)
    throw lab::UserError(fmt::format("image manifest: media type {} is not an image manifest",
                                     manifest["mediaType"].dump()));
  if (!manifest.contains("config") || !manifest["config"].is_object() ||
      !manifest["config"].contains("digest") || !manifest["config"]["digest"].is_string())
    throw lab::UserError("image manifest: no config descriptor");
  if (!manifest.contains("layers") || !manifest["layers"].is_array())
    throw lab::UserError("image manifest: no layers array");
  std::string config_digest = manifest["config"]["digest"];
  if (!has_blob(config_digest))
    throw lab::UserError(fmt::format("image config {} is not in the store", config_digest));
  nlohmann::json config = nlohmann::json::parse(read_blob(config_digest), nullptr, false);
  if (config.is_discarded() || !config.is_object() || !config.contains("rootfs") ||
      !config["rootfs"].contains("diff_ids") || !config["rootfs"]["diff_ids"].is_array())
    throw lab::UserError(fmt::format("image config {}: no rootfs.diff_ids", config_digest));
  const auto& diff_ids = config["rootfs"]["diff_ids"];
  const auto& layers = manifest["layers"];
  if (diff_ids.size() != layers.size())
    throw lab::UserError(fmt::format("image config {}: {} diff ids for {} layers", config_digest,
                                     diff_ids.size(), layers.size()));
  for (size_t i = 0; i < layers.size(); ++i) {
    std::string blob = layers[i].value("digest", "");
    if (!has_blob(blob)) throw lab::UserError(fmt::format("layer {} is not in the store", blob));
    std::string diff_id = diff_ids[i].is_string() ? diff_ids[i].get<std::string>() : "";
    if (!has_layer(diff_id))
      throw lab::UserError(fmt::format("layer {} (diff id {}) is not unpacked", blob, diff_id));
  }
  if (!parent.empty() && !path_exists(root_ + "/images/" + id_hex(parent) + ".json"))
    throw lab::UserError(fmt::format("parent image {} is not in the store", parent));
  std::string manifest_digest = put_blob(manifest_bytes);
  std::string hex = id_hex(config_digest);
  nlohmann::json record = {{"manifest", manifest_digest}};
  std::string kept = parent.empty() ? parent_of(config_digest) : std::string(parent);
  if (!kept.empty()) record["parent"] = kept;
  nlohmann::json before = nlohmann::json::parse(
      lab::read_file_or_empty(root_ + "/images/" + hex + ".json"), nullptr, false);
  if (before.is_object() && before.contains("repo_digests") && before["repo_digests"].is_array())
    record["repo_digests"] = before["repo_digests"];
  write_file_atomically(root_ + "/images/" + hex + ".json", record.dump() + "\n");
  explain("", fmt::format("image {}: record images/{}.json written by rename", config_digest, hex),
          fmt::format("echo '{}' > images/{}.json", record.dump(), hex));
  return config_digest;
}

std::map<std::string, std::string> Store::tags() const {
  std::map<std::string, std::string> tags;
  std::string text = lab::read_file_or_empty(root_ + "/repositories.json");
  if (text.empty()) return tags;
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object())
    throw lab::UserError(fmt::format("{}/repositories.json: not a JSON object", root_));
  for (const auto& [name, id] : json.items())
    if (id.is_string()) tags[name] = id.get<std::string>();
  return tags;
}

void Store::write_tags(const std::map<std::string, std::string>& tags) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [name, id] : tags) json[name] = id;
  write_file_atomically(root_ + "/repositories.json", json.dump(2) + "\n");
}

void Store::tag(std::string_view image_id, std::string_view ref) {
  require(LockMode::exclusive);
  std::string key = normalize_tag(ref);
  if (!path_exists(root_ + "/images/" + id_hex(image_id) + ".json"))
    throw lab::UserError(fmt::format("No such image: {}", image_id));
  auto tags = this->tags();
  tags[key] = std::string(image_id);
  write_tags(tags);
}

void Store::add_repo_digest(std::string_view image_id, std::string_view repo_digest) {
  require(LockMode::exclusive);
  std::string path = root_ + "/images/" + id_hex(image_id) + ".json";
  nlohmann::json record = nlohmann::json::parse(lab::read_file_or_empty(path), nullptr, false);
  if (!record.is_object()) throw lab::UserError(fmt::format("No such image: {}", image_id));
  std::set<std::string> digests;
  if (record.contains("repo_digests") && record["repo_digests"].is_array())
    for (const auto& d : record["repo_digests"])
      if (d.is_string()) digests.insert(d.get<std::string>());
  if (!digests.insert(std::string(repo_digest)).second) return;
  record["repo_digests"] = digests;
  write_file_atomically(path, record.dump() + "\n");
}

bool Store::untag(std::string_view ref) {
  require(LockMode::exclusive);
  auto tags = this->tags();
  if (tags.erase(normalize_tag(ref)) == 0) return false;
  write_tags(tags);
  return true;
}

std::optional<std::string> Store::find(std::string_view ref) const {
  require(LockMode::shared);
  std::vector<std::string> ids = image_ids();
  if (auto at = ref.find('@'); at != std::string_view::npos) {
    Reference parsed = parse_reference(ref);
    for (const std::string& id : ids) {
      Image img = image(id);
      if (img.manifest_digest != parsed.digest) continue;
      for (const std::string& tag : img.repo_tags)
        if (parse_reference(tag).name == parsed.name) return id;
    }
    return std::nullopt;
  }
  return resolve_reference(ref, ids, tags());
}

std::string Store::resolve(std::string_view ref) const {
  if (auto id = find(ref)) return *id;
  throw lab::UserError(fmt::format("No such image: {}", ref));
}

std::string Store::parent_of(std::string_view image_id) const {
  std::string text = lab::read_file_or_empty(root_ + "/images/" + id_hex(image_id) + ".json");
  nlohmann::json record = nlohmann::json::parse(text, nullptr, false);
  if (record.is_object() && record.contains("parent") && record["parent"].is_string())
    return record["parent"];
  return "";
}

std::vector<std::string> Store::children(std::string_view image_id) const {
  require(LockMode::shared);
  std::vector<std::string> out;
  for (const std::string& id : image_ids())
    if (parent_of(id) == image_id) out.push_back(id);
  return out;
}

Image Store::image(std::string_view image_id) const {
  require(LockMode::shared);
  Image img;
  img.id = image_id;
  std::string record_path = root_ + "/images/" + id_hex(image_id) + ".json";
  std::string text = lab::read_file_or_empty(record_path);
  if (text.empty()) throw lab::UserError(fmt::format("No such image: {}", image_id));
  nlohmann::json record = nlohmann::json::parse(text, nullptr, false);
  if (record.is_discarded() || !record.contains("manifest") || !record["manifest"].is_string())
    throw lab::UserError(fmt::format("{}: not an image record", record_path));
  img.manifest_digest = record["manifest"];
  if (record.contains("parent") && record["parent"].is_string()) img.parent = record["parent"];
  if (record.contains("repo_digests") && record["repo_digests"].is_array())
    for (const auto& d : record["repo_digests"])
      if (d.is_string()) img.repo_digests.push_back(d.get<std::string>());
  img.manifest = nlohmann::json::parse(read_blob(img.manifest_digest));
  img.config = nlohmann::json::parse(read_blob(img.id));
  const auto& layers = img.manifest["layers"];
  const auto& diff_ids = img.config["rootfs"]["diff_ids"];
  for (size_t i = 0; i < layers.size() && i < diff_ids.size(); ++i) {
    LayerInfo layer;
    layer.blob_digest = layers[i].value("digest", "");
    layer.media_type = layers[i].value("mediaType", "");
    layer.blob_size = layers[i].value("size", uint64_t{0});
    layer.diff_id = diff_ids[i].get<std::string>();
    layer.size = layer_size(layer.diff_id);
    img.size += layer.size;
    img.layers.push_back(std::move(layer));
  }
  for (const auto& [name, id] : tags())
    if (id == image_id) img.repo_tags.push_back(name);
  if (img.config.contains("created") && img.config["created"].is_string())
    img.created = parse_rfc3339(img.config["created"].get<std::string>());
  return img;
}

std::vector<Image> Store::list_images() const {
  std::vector<Image> images;
  for (const std::string& id : image_ids()) images.push_back(image(id));
  std::stable_sort(images.begin(), images.end(),
                   [](const Image& a, const Image& b) { return a.created > b.created; });
  return images;
}

std::vector<std::string> Store::containers_using(std::string_view image_id) const {
  std::vector<std::string> users;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_ + "/containers", ec)) {
    std::string named = lab::trim(lab::read_file_or_empty(entry.path().string() + "/image"));
    if (named.empty()) continue;
    if (named.find(':') == std::string::npos) named = "sha256:" + named;
    if (named == image_id) users.push_back(entry.path().filename().string());
  }
  std::sort(users.begin(), users.end());
  return users;
}

int Store::count_containers() const {
  int count = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_ + "/containers", ec))
    if (entry.is_directory(ec)) ++count;
  return count;
}

RemoveResult Store::remove_unnamed() {
  require(LockMode::exclusive);
  RemoveResult result;
  sweep(result);
  return result;
}

void Store::sweep(RemoveResult& result) {
  std::set<std::string> blobs, layers;
  for (const std::string& id : image_ids()) {
    // A record that cannot be read stops the sweep: nothing is removed on a guess.
    Image img = image(id);
    blobs.insert(digest_hex(img.manifest_digest));
    blobs.insert(digest_hex(img.id));
    for (const LayerInfo& layer : img.layers) {
      blobs.insert(digest_hex(layer.blob_digest));
      layers.insert(digest_hex(layer.diff_id));
    }
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_ + "/blobs/sha256", ec)) {
    std::string hex = entry.path().filename().string();
    if (blobs.count(hex)) continue;
    result.reclaimed += blob_size("sha256:" + hex);
    std::string path = entry.path().string();
    lab::check(::unlink(path.c_str()), [&] { return fmt::format("unlink(\"{}\")", path); });
  }
  for (const auto& entry : fs::directory_iterator(root_ + "/layers", ec)) {
    std::string hex = entry.path().filename().string();
    if (hex.size() != 64 || !is_hex(hex) || layers.count(hex)) continue;
    result.reclaimed += layer_size("sha256:" + hex);
    forget_layer(root_, hex);
    explain("", fmt::format("layer {} is used by no image: removed", hex),
            fmt::format("rm -rf layers/{}", hex));
    remove_tree_via(entry.path().string(), root_ + "/tmp");
    result.deleted.push_back("sha256:" + hex);
  }
}

RemoveResult Store::remove_image(std::string_view image_id) {
  require(LockMode::exclusive);
  RemoveResult result;
  std::string record = root_ + "/images/" + id_hex(image_id) + ".json";
  if (!path_exists(record)) throw lab::UserError(fmt::format("No such image: {}", image_id));
  // Tags first, then the record: a kill in between leaves a whole image without a name.
  auto tags = this->tags();
  for (auto it = tags.begin(); it != tags.end();) {
    if (it->second == image_id) {
      result.untagged.push_back(it->first);
      it = tags.erase(it);
    } else {
      ++it;
    }
  }
  if (!result.untagged.empty()) write_tags(tags);
  lab::check(::unlink(record.c_str()), [&] { return fmt::format("unlink(\"{}\")", record); });
  result.deleted.push_back(std::string(image_id));
  sweep(result);
  return result;
}

RemoveResult Store::prune(bool all) {
  require(LockMode::exclusive);
  RemoveResult result;
  auto tags = this->tags();
  std::map<std::string, std::string> parents;  // every image -> its parent ("" for none)
  for (const std::string& id : image_ids()) parents[id] = parent_of(id);
  // Until nothing more goes: an image goes when no container uses it, no remaining image has it
  // as its parent, and (without `all`) it has no tag. So a dangling image takes its untagged
  // parents with it, as Docker's prune (ImageDelete with prune of the parents) does, and an
  // intermediate of a kept image stays.
  for (bool removed = true; removed;) {
    removed = false;
    std::set<std::string> with_child;
    for (const auto& [id, parent] : parents)
      if (!parent.empty()) with_child.insert(parent);
    for (auto image = parents.begin(); image != parents.end();) {
      const std::string& id = image->first;
      bool tagged = std::any_of(tags.begin(), tags.end(),
                                [&](const auto& entry) { return entry.second == id; });
      if (with_child.count(id) || (!all && tagged) || !containers_using(id).empty()) {
        ++image;
        continue;
      }
      for (auto it = tags.begin(); it != tags.end();) {
        if (it->second == id) {
          result.untagged.push_back(it->first);
          it = tags.erase(it);
        } else {
          ++it;
        }
      }
      if (tagged) write_tags(tags);
      std::string record = root_ + "/images/" + id_hex(id) + ".json";
      lab::check(::unlink(record.c_str()), [&] { return fmt::format("unlink(\"{}\")", record); });
      result.deleted.push_back(id);
      image = parents.erase(image);
      removed = true;
    }
  }
  sweep(result);
  return result;
}

DiskUsage Store::disk_usage() const {
  require(LockMode::shared);
  DiskUsage usage;
  std::map<std::string, uint64_t> sizes;
  std::set<std::string> active_layers;
  for (const Image& img : list_images()) {
    ++usage.images;
    bool active = !containers_using(img.id).empty();
    if (active) ++usage.active_images;
    for (const LayerInfo& layer : img.layers) {
      sizes[layer.diff_id] = layer.size;
      if (active) active_layers.insert(layer.diff_id);
    }
  }
  for (const auto& [diff_id, size] : sizes) {
    usage.images_size += size;
    if (!active_layers.count(diff_id)) usage.reclaimable_size += size;
  }
  usage.containers = count_containers();
  return usage;
}

// ---- files and formats
// ---------------------------------------------------------------------------

void write_file_atomically(const std::string& path, std::string_view content) {
  std::string temp = path + ".tmp-XXXXXX";
  lab::UniqueFd fd(lab::check(::mkostemp(temp.data(), O_CLOEXEC),
                              [&] { return fmt::format("mkostemp(\"{}\")", temp); }));
  try {
    write_all(fd.get(), content.data(), content.size(), temp);
    lab::check(::fchmod(fd.get(), 0644), [&] { return fmt::format("fchmod(\"{}\")", temp); });
    lab::check(::fsync(fd.get()), [&] { return fmt::format("fsync(\"{}\")", temp); });
    lab::check(::rename(temp.c_str(), path.c_str()),
               [&] { return fmt::format("rename(\"{}\", \"{}\")", temp, path); });
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
}

std::string human_size(double bytes, int precision) {
  static const char* const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  size_t unit = 0;
  while (bytes >= 1000.0 && unit + 1 < std::size(units)) {
    bytes /= 1000.0;
    ++unit;
  }
  // Go's %.*g: the same shortest form as C's, so "4.26MB", "1e+03kB" at the edge, as Docker.
  char number[64];
  std::snprintf(number, sizeof number, "%.*g", precision, bytes);
  return std::string(number) + units[unit];
}

std::string human_duration(int64_t seconds) {
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return fmt::format("{} seconds", seconds);
  int64_t minutes = seconds / 60;
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return fmt::format("{} minutes", minutes);
  auto hours = static_cast<int64_t>(static_cast<double>(seconds) / 3600.0 + 0.5);
  if (hours == 1) return "About an hour";
  if (hours < 48) return fmt::format("{} hours", hours);
  if (hours < 24 * 7 * 2) return fmt::format("{} days", hours / 24);
  if (hours < 24 * 30 * 2) return fmt::format("{} weeks", hours / 24 / 7);
  if (hours < 24 * 365 * 2) return fmt::format("{} months", hours / 24 / 30);
  return fmt::format("{} years", seconds / 3600 / 24 / 365);
}

std::string go_architecture() {
  struct utsname u {};
  ::uname(&u);
  std::string machine = u.machine;
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine == "i686" || machine == "i386") return "386";
  if (machine.starts_with("armv")) return "arm";
  return machine;
}

std::string rfc3339_now() {
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  struct tm utc {};
  ::gmtime_r(&now.tv_sec, &utc);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:09}Z", text, now.tv_nsec);
}

int64_t parse_rfc3339(std::string_view text) {
  std::string s(text);
  struct tm utc {};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &utc.tm_year, &utc.tm_mon, &utc.tm_mday,
                  &utc.tm_hour, &utc.tm_min, &utc.tm_sec, &consumed) != 6)
    return 0;
  utc.tm_year -= 1900;
  utc.tm_mon -= 1;
  int64_t seconds = ::timegm(&utc);
  size_t pos = static_cast<size_t>(consumed);
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
  }
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int hh = 0, mm = 0;
    if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d", &hh, &mm) != 2) return 0;
    int64_t offset = hh * 3600 + mm * 60;
    seconds += s[pos] == '+' ? -offset : offset;
  } else if (pos >= s.size() || (s[pos] != 'Z' && s[pos] != 'z')) {
    return 0;
  }
  return seconds;
}

}  // namespace graph
