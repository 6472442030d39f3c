// Image archives: `docker save` / `docker load` files, in both of their formats.
//
// An image archive is a tar holding one or more images. Two layouts exist:
//   docker-save (moby's image/tarexport): manifest.json, a list of
//       {"Config": "<path of the config>", "RepoTags": ["busybox:latest"], "Layers": [paths]}
//     where each layer path names an uncompressed tar (<id>/layer.tar in old Docker, <hex>.tar in
//     skopeo's, blobs/sha256/<diff id hex> in Docker 25's), plus `repositories` for Docker < 1.10.
//   OCI image layout (image-spec, image-layout.md): oci-layout {"imageLayoutVersion": "1.0.0"},
//     index.json (descriptors of manifests, named by annotations) and blobs/sha256/<hex>, every
//     file named by the sha256 of its bytes.
// Docker 25's `docker save` writes both in one tar, the layer blobs shared: the OCI manifests
// list the uncompressed layers under their diff ids, so manifest.json can name the same files.
// We write that combined form, and read any of them (skopeo's docker-archive: and oci-archive:,
// podman save in either format).
//
// The archive is untrusted input, as a layer is: member names are plain relative paths, every
// blob is hashed and compared with its name, and a JSON file that is not what its format says is
// refused with one line naming the file.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace graph {

// The media types store.hpp does not name already.
inline constexpr const char* kOciIndexType = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kDockerManifestListType =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kOciLayerZstdType = "application/vnd.oci.image.layer.v1.tar+zstd";

// The annotations that name a manifest in index.json: containerd (and Docker 25, podman) put the
// whole reference in the first, the image-spec's ref.name holds the tag alone as Docker writes it
// (skopeo and umoci write whatever name they were given there).
inline constexpr const char* kAnnotationImageName = "io.containerd.image.name";
inline constexpr const char* kAnnotationRefName = "org.opencontainers.image.ref.name";

enum class LayerCompression { none, gzip, zstd };
// The compression a layer media type says; throws lab::UserError for anything that is not a
// layer we can unpack (a foreign or encrypted layer, a config where a layer should be).
LayerCompression layer_compression(std::string_view media_type);

// A content descriptor (image-spec, descriptor.md), as much of it as we use.
struct Descriptor {
  std::string media_type;
  std::string digest;  // checked by is_sha256_digest
  uint64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::string platform_os, platform_architecture;  // index entries only; "" when not given
};

// An image manifest: OCI's or Docker's schema 2 (the same shape under other media types).
struct ImageManifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
};

// One entry of a docker-save manifest.json. Paths are member names, already checked.
struct DockerManifestItem {
  std::string config;
  std::vector<std::string> repo_tags;
  std::vector<std::string> layers;
};

// The parsers below take the bytes of a file and the file's name for their messages; each throws
// lab::UserError, one line: "manifest.json: Layers[2] must be a string".
std::vector<DockerManifestItem> parse_docker_manifest(std::string_view json,
                                                      std::string_view file = "manifest.json");
// The manifests an index.json (or a nested image index blob) lists.
std::vector<Descriptor> parse_image_index(std::string_view json,
                                          std::string_view file = "index.json");
// oci-layout must say imageLayoutVersion 1.0.0.
void check_oci_layout(std::string_view json, std::string_view file = "oci-layout");
ImageManifest parse_image_manifest(std::string_view json, std::string_view file);
// The config's rootfs.diff_ids (each a valid sha256 digest), bottom layer first.
std::vector<std::string> parse_diff_ids(std::string_view config_json, std::string_view file);

// A tar member's name made plain: "./a//b/" -> "a/b". Refuses (lab::UserError naming it) an
// absolute name, a `..` component, an empty name and control characters: the archive may not
// point outside itself.
std::string clean_member_name(std::string_view name);
// Where a symlink member points, as a member name: "x/layer.tar" -> "../y.tar" gives "y.tar".
// Refuses targets that leave the archive (absolute, or too many `..`).
std::string resolve_member_link(std::string_view member, std::string_view target);

// Image references as Docker shows them. normalize_reference("docker.io/library/busybox") is
// "busybox:latest", ("localhost/x:1") stays; full_reference("busybox:latest") is
// "docker.io/library/busybox:latest" (what containerd's annotation holds). Both refuse (UserError)
// what is not a reference: upper case in the name, a bad tag, a digest reference.
std::string normalize_reference(std::string_view reference);
std::string full_reference(std::string_view reference);
// The tag of a normalized reference ("busybox:1.36" -> "1.36") and the name without it.
std::string reference_tag(std::string_view reference);
std::string reference_repository(std::string_view reference);

// The names an index.json entry gives its manifest, normalized; "" when it has none we can use (a
// ref.name that is a bare tag names no repository, and Docker then loads the image untagged).
std::string name_from_annotations(const Descriptor& manifest);

// What save writes, as JSON text. One image of the archive:
struct SavedImage {
  std::string config_digest;          // the image id
  std::vector<std::string> tags;      // normalized references
  std::vector<std::string> diff_ids;  // the layers, uncompressed, bottom first
  std::string manifest_digest;        // of the manifest blob written for it
  uint64_t manifest_size = 0;
};
std::string docker_manifest_json(const std::vector<SavedImage>& images);
// {"busybox": {"latest": "<top diff id hex>"}}, as Docker 25 writes it.
std::string repositories_json(const std::vector<SavedImage>& images);
// One descriptor per tag (annotated with the full name and the tag), or one unnamed descriptor
// for an image saved by id.
std::string oci_index_json(const std::vector<SavedImage>& images);
std::string oci_layout_json();

// ---- load and save, on the store -------------------------------------------------------------

class Store;

struct LoadedImage {
  std::string id;                 // "sha256:<hex>" of the config: the image id
  std::vector<std::string> tags;  // normalized references it was given ("" none: Docker then
                                  // prints "Loaded image ID")
};

struct ArchiveLimits {
  uint64_t max_json_bytes = 16ULL << 20;  // manifest.json, index.json, a manifest, a config
  uint64_t max_members = 100'000;         // entries of the outer tar
  uint64_t max_bytes = 1ULL << 40;        // bytes of the outer tar (after decompression)
};

// Loads every image of the archive read from `fd` (a tar, maybe gzip/zstd compressed) into
// `store`, whose exclusive lock the caller holds. The outer tar is read once, entry by entry:
// each file goes to a staging directory under <root>/tmp as it is hashed (a layer is never held
// in memory), blobs/sha256/<hex> members are checked against their names as they end. Then the
// manifests are read, layers unpacked (Store::add_layer, each checked against the config's diff
// id), blobs published, and last the image records and tags. Any error removes what this load
// published (layers, blobs) and throws lab::UserError naming the member; a SIGKILL leaves only
// staging files, which the next writer's lock removes.
// `progress` is called with the bytes of the archive read so far.
std::vector<LoadedImage> load_image_archive(Store& store, int fd, const ArchiveLimits& limits = {},
                                            const std::function<void(uint64_t)>& progress = {});

// Writes the images `references` name (tags or ids; resolved with Store::resolve) to `fd` as one
// tar in the combined form Docker 25 writes: blobs/sha256/ with the layers uncompressed under
// their diff ids, each image's config and an OCI manifest; index.json and oci-layout; and
// manifest.json and repositories for docker-save readers. The caller holds the shared lock.
// `progress` gets (bytes written, bytes in all).
void save_image_archive(const Store& store, const std::vector<std::string>& references, int fd,
                        const std::function<void(uint64_t, uint64_t)>& progress = {});

}  // namespace graph
