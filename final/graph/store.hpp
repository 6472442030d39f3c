// The graph: a content-addressed store of images under the engine's root.
//
//   <root>/lock                      flock(2): exclusive for writers, shared for readers
//   <root>/tmp/                      staging on the same filesystem, so rename(2) publishes
//                                    atomically; whatever is here when a writer takes the lock
//                                    was left by a killed command, and is removed
//   <root>/blobs/sha256/<hex>        manifests, configs and layer blobs, exactly as received
//   <root>/layers/<diff id hex>/diff each layer unpacked once (overlay's lower-layer format),
//                          /size     its size as Docker counts it (file bytes, links once)
//   <root>/images/<image id hex>.json {"manifest": "sha256:...", "parent": "sha256:...",
//                                    "repo_digests": ["repo@sha256:..."]}: the
//                                    parent only for an image build or commit made on top of
//                                    another (moby's imagedb/metadata/sha256/<id>/parent)
//   <root>/repositories.json         {"busybox:latest": "sha256:<image id>", ...}
//   <root>/containers/<id>/image     the image a container was made from (issue 9)
//
// An image id is the sha256 of its config blob, as Docker's. Nothing on disk is reference
// counted: which blobs and layers are in use is computed from the image records each time, so a
// command killed at any point leaves at worst tmp/ garbage or files no record names, never a
// record that names something missing (a record is written last, by rename).
//
// Locking: every method that writes needs the exclusive lock held through this Store object
// (lock(LockMode::exclusive)), readers the shared one; a whole command (import, load, rmi)
// holds one lock from start to end, so no other writer sees its blobs before its record exists.
// One exception: put_blob(fd) (and staging()) need only the shared lock, so that pull downloads
// while `images` and `run` read. A blob is content-addressed and renamed into place whole (a
// reader sees it all or not at all; two pulls of one digest write the same bytes), and only a
// sweep removes one, under the exclusive lock: pull then takes that lock for the layers and the
// record, and fetches again a blob swept in between.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "fd.hpp"
#include "graph/layer_archive.hpp"

namespace graph {

inline constexpr const char* kDefaultStoreRoot = "/var/lib/minidocker";

inline constexpr const char* kOciManifestType = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciConfigType = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kOciLayerType = "application/vnd.oci.image.layer.v1.tar";
inline constexpr const char* kOciLayerGzipType = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* kDockerManifestType =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerConfigType = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kDockerLayerType = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr const char* kDockerLayerGzipType =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";

enum class LockMode { shared, exclusive };

// ---- image references: pure logic ------------------------------------------------------------

// A reference split as Docker reads it: "localhost:5000/app:v1" is name "localhost:5000/app", tag
// "v1"; "busybox" gets tag "latest"; "app@sha256:..." has a digest and no tag.
struct Reference {
  std::string name;
  std::string tag;          // "" when a digest is given
  std::string digest;       // "sha256:..." or ""
  std::string str() const;  // "name:tag" or "name@digest"
};
// Throws lab::UserError for what Docker refuses: upper case in the name, an empty component, a
// tag longer than 128 characters or with characters outside [A-Za-z0-9_.-].
Reference parse_reference(std::string_view text);
// "name:tag" with the default tag added: the key of repositories.json.
std::string normalize_tag(std::string_view text);

// Which image `ref` names, among `ids` (every image id, "sha256:<hex>") and `tags` (name:tag ->
// id), the way Docker looks it up: a tag first, then "sha256:<hex>" or a full id, then a unique
// prefix of an id (one hex digit is enough). nullopt if nothing matches; throws lab::UserError when
// a prefix matches more than one image.
std::optional<std::string> resolve_reference(std::string_view ref,
                                             const std::vector<std::string>& ids,
                                             const std::map<std::string, std::string>& tags);

// ---- the store -------------------------------------------------------------------------------

struct LayerInfo {
  std::string blob_digest;  // the manifest's descriptor: the bytes as stored
  std::string media_type;
  uint64_t blob_size = 0;
  std::string diff_id;  // the uncompressed tar's digest (config rootfs.diff_ids)
  uint64_t size = 0;    // unpacked size, as Docker counts it
};

struct Image {
  std::string id;               // "sha256:<hex>" of the config blob
  std::string manifest_digest;  // "sha256:..." of the manifest blob
  nlohmann::json manifest;
  nlohmann::json config;
  std::vector<LayerInfo> layers;       // bottom first
  std::vector<std::string> repo_tags;  // "name:tag", sorted
  int64_t created = 0;                 // config "created", seconds since the epoch (0 if none)
  uint64_t size = 0;                   // sum of the layers' unpacked sizes
  std::string parent;  // the image build or commit made it on top of ("" for none): `inspect`'s
                       // Parent; an untagged image that is a parent is an intermediate
  // "repo@sha256:..." for each registry manifest it was pulled from or pushed as (`inspect`'s
  // RepoDigests), sorted.
  std::vector<std::string> repo_digests;
};

struct RemoveResult {
  std::vector<std::string> untagged;  // "name:tag"
  std::vector<std::string> deleted;   // the image id, then the diff ids of layers removed
  uint64_t reclaimed = 0;             // bytes of blobs and layers removed
};

struct DiskUsage {
  int images = 0, active_images = 0;
  uint64_t images_size = 0;       // every layer once, plus blobs
  uint64_t reclaimable_size = 0;  // what `image prune -a` would free
  int containers = 0;
};

class Store;

// flock(2) on <root>/lock, released when it goes away. The exclusive lock also clears tmp/.
class StoreLock {
 public:
  StoreLock(const Store& store, LockMode mode);
  StoreLock(StoreLock&&) noexcept;
  StoreLock& operator=(StoreLock&&) = delete;
  StoreLock(const StoreLock&) = delete;
  ~StoreLock();
  LockMode mode() const { return mode_; }

 private:
  const Store* store_;
  lab::UniqueFd fd_;
  LockMode mode_;
};

// A directory under <root>/tmp, removed (recursively) when it goes away unless released.
class StagingDir {
 public:
  explicit StagingDir(const std::string& tmp_dir);
  StagingDir(StagingDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;
  ~StagingDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Copies `from` to its end into `to` (named `to_path` in errors), hashing on the other core as
// it goes (BackgroundSha256); returns the digest and adds the byte count to `*size` when given.
std::string copy_and_hash(int from, int to, const std::string& to_path, uint64_t* size = nullptr);

// fsync(2) of files in a second thread, while the caller goes on: a blob's disk writes (a
// 100 MiB layer: about 150 ms of this machine's disk) overlap the unpacking of its layer instead
// of coming before it. wait() before any of them is renamed into place (a name must never point
// at data a crash would lose); it rethrows the first failure. The destructor waits too.
class BackgroundFsync {
 public:
  explicit BackgroundFsync(std::vector<std::string> paths);
  ~BackgroundFsync();
  BackgroundFsync(const BackgroundFsync&) = delete;
  BackgroundFsync& operator=(const BackgroundFsync&) = delete;
  void wait();

 private:
  std::thread thread_;
  std::exception_ptr error_;
};

// Starts the disk writes of a file as it is written, a few MiB at a time, without waiting for
// them (sync_file_range(SYNC_FILE_RANGE_WRITE)), for a download, whose bytes come slower than
// the disk takes them: the fsync before the blob's rename then finds most of it on disk already
// (for a 100 MiB layer that fsync alone took 50 ms). Call wrote(n) after each write.
class Writeback {
 public:
  explicit Writeback(int fd) : fd_(fd) {}
  void wrote(uint64_t bytes);

 private:
  static constexpr uint64_t kStep = 4 << 20;
  int fd_;
  uint64_t written_ = 0;  // bytes written so far, from offset 0
  uint64_t started_ = 0;  // bytes whose writeback has been started
};

// Called with a line of --explain narration: (lesson or "", call, shell equivalent).
using Explain = std::function<void(std::string_view, std::string_view, std::string_view)>;

class Store {
 public:
  // Creates <root> and its directories when missing (root only; mode 0700 as Docker's).
  explicit Store(std::string root = kDefaultStoreRoot);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& root() const { return root_; }
  void set_explain(Explain explain) { explain_ = std::move(explain); }

  // Takes the lock; the store's methods check that one is held at the mode they need.
  StoreLock lock(LockMode mode) const { return StoreLock(*this, mode); }

  // A fresh staging directory (shared lock is enough: only an exclusive taker clears tmp/).
  StagingDir staging() const;

  // ---- blobs (exclusive lock to write, shared to read; put_blob(fd), pull's, needs only the
  // shared lock: see the top of this file)
  // Copies fd to its end into tmp/, hashing as it goes, fsyncs, checks `expected` (when given;
  // a mismatch throws lab::UserError and nothing stays), then renames it to blobs/sha256/<hex>.
  std::string put_blob(int fd, std::optional<std::string> expected = std::nullopt);
  std::string put_blob(std::string_view bytes, std::optional<std::string> expected = std::nullopt);
  // The file at `path` (open as `fd`, in a staging dir of this store) whose bytes the caller
  // hashed to `digest` as it wrote them, as the registry client does: fsynced and renamed into
  // blobs/, not copied and hashed a second time. Shared lock, as put_blob(fd).
  void adopt_blob(int fd, const std::string& path, std::string_view digest);
  bool has_blob(std::string_view digest) const;
  lab::UniqueFd open_blob(std::string_view digest) const;  // O_RDONLY; UserError if missing
  std::string read_blob(std::string_view digest) const;    // a small blob (manifest, config)
  uint64_t blob_size(std::string_view digest) const;
  std::string blob_path(std::string_view digest) const;

  // ---- layers
  // Unpacks the layer blob read from `fd` into tmp/ and renames it to layers/<diff hex>; when
  // that diff id is already unpacked the new copy is discarded. Registers the layer with the
  // graph driver. Returns the diff id. `fd` holds bytes already checked to hash to
  // `blob_digest` (open_blob(blob_digest), or a file hashed as it was staged): they are not
  // hashed again (a sha256 pass costs about what the unpacking's writes do).
  // The same in two steps, for a caller that checks the layer before it is published (pull:
  // its diff id against the config's): stage_layer makes the directory to unpack into
  // (tmp/stage-*/diff, narrated), the caller runs unpack_layer into `diff`, then publish_layer
  // renames it into layers/ and registers it; false when that diff id was there already (this
  // copy is dropped). A StagedLayer dropped unpublished takes its directory with it.
  struct StagedLayer {
    StagingDir stage;
    std::string diff;  // stage/diff: unpack here
  };
  std::string add_layer(std::string_view blob_digest, int fd, const Progress& progress = {});
  StagedLayer stage_layer(std::string_view blob_digest) const;
  bool publish_layer(StagedLayer staged, const UnpackResult& result);
  bool has_layer(std::string_view diff_id) const;
  std::string layer_dir(std::string_view diff_id) const;  // <root>/layers/<hex>/diff
  uint64_t layer_size(std::string_view diff_id) const;

  // ---- images
  // Publishes an image whose manifest blob, config blob and every layer blob are stored and whose
  // layers are unpacked (the manifest is stored here too). Throws lab::UserError naming what is
  // missing. Writes images/<id hex>.json by rename, with `parent` (an image id, for build and
  // commit) when given; an image already stored keeps the parent it has. Returns the image id.
  std::string add_image(std::string_view manifest_bytes, std::string_view parent = {});
  // Points "name:tag" (default tag latest) at `image_id`, moving it off any other image.
  void tag(std::string_view image_id, std::string_view ref);
  // Records "repo@sha256:..." in the image's record (pull and push do, as dockerd's reference
  // store does); kept when the image is added again, gone with the image.
  void add_repo_digest(std::string_view image_id, std::string_view repo_digest);
  // Removes a tag; false if there was none.
  bool untag(std::string_view ref);
  // The image id `ref` names (see resolve_reference); UserError "No such image: REF" otherwise.
  std::string resolve(std::string_view ref) const;
  std::optional<std::string> find(std::string_view ref) const;
  std::vector<Image> list_images() const;  // newest first
  Image image(std::string_view image_id) const;
  std::map<std::string, std::string> tags() const;  // "name:tag" -> image id
  // The images whose parent is `image_id` (moby's imageStore.Children), sorted.
  std::vector<std::string> children(std::string_view image_id) const;

  // The containers (ids) made from `image_id`: those whose <root>/containers/<id>/image names it.
  // The one rule for "in use", shared by rmi, prune and system df.
  std::vector<std::string> containers_using(std::string_view image_id) const;
  int count_containers() const;

  // Removes the record, its tags, and every blob and layer no remaining image uses (also those a
  // killed command left).
  RemoveResult remove_image(std::string_view image_id);
  // Removes dangling images (no tag and no child) with their parents that thereby become
  // dangling, or with `all` every image no container uses and no kept image has as its parent
  // (as Docker's image prune: an intermediate of a kept image stays); then any blob or layer no
  // record names.
  RemoveResult prune(bool all);
  DiskUsage disk_usage() const;
  // Removes every blob and layer no image record names, as rmi and prune end: what a refused or
  // failed pull had stored (exclusive lock).
  RemoveResult remove_unnamed();

 private:
  friend class StoreLock;
  void require(LockMode mode) const;
  void explain(std::string_view lesson, std::string_view call, std::string_view shell = {}) const;
  std::vector<std::string> image_ids() const;
  std::string parent_of(std::string_view image_id) const;  // from the record; "" for none
  void write_tags(const std::map<std::string, std::string>& tags);
  // Every blob and layer no image record names is removed; returns their bytes and diff ids.
  void sweep(RemoveResult& result);

  std::string root_;
  Explain explain_;
  mutable int shared_holders_ = 0;
  mutable int exclusive_holders_ = 0;
};

// write(2) until all `size` bytes are written; the error names `what` (a path, a pipe).
void write_all(int fd, const char* data, size_t size, std::string_view what);

// Writes `content` to `path` atomically: a temp file beside it, fsync, rename(2).
void write_file_atomically(const std::string& path, std::string_view content);

// The size of a tree as Docker's overlay2 driver reports a layer (pkg/directory): every entry but
// directories, st_size each, a hard-linked inode once. Also a container's rw layer and a volume's
// size in `system df`.
uint64_t tree_size(const std::string& dir);

// Docker's units: human_size(4260000) == "4.26MB" (go-units HumanSizeWithPrecision, powers of
// 1000; `docker images` shows 3 digits, `docker system df` 4); human_duration(120) == "2 minutes"
// (go-units HumanDuration).
std::string human_size(double bytes, int precision = 3);
std::string human_duration(int64_t seconds);
// RFC 3339 with nanoseconds as Docker writes "created" ("2024-01-02T03:04:05.123456789Z"), and
// back to seconds since the epoch (0 when it cannot be read).
std::string rfc3339_now();
// The platform as an image config spells it: Go's GOARCH names (amd64, arm64, 386, arm).
std::string go_architecture();
int64_t parse_rfc3339(std::string_view text);

}  // namespace graph
