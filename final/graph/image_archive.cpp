#include "graph/image_archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "error.hpp"
#include "fd.hpp"
#include "graph/digest.hpp"
#include "graph/driver.hpp"
#include "graph/layer_archive.hpp"
#include "graph/store.hpp"

namespace graph {

namespace fs = std::filesystem;
using nlohmann::json;

// ---- JSON shapes -------------------------------------------------------------------------------

namespace {

json parse_json(std::string_view text, std::string_view file) {
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded()) throw lab::UserError(fmt::format("{}: not valid JSON", file));
  return value;
}

const json& member(const json& object, const char* key, std::string_view file,
                   std::string_view where = {}) {
  if (!object.is_object() || !object.contains(key))
    throw lab::UserError(fmt::format("{}: {}{} is missing", file, where, key));
  return object[key];
}

std::string string_field(const json& object, const char* key, std::string_view file,
                         std::string_view where = {}) {
  const json& value = member(object, key, file, where);
  if (!value.is_string())
    throw lab::UserError(fmt::format("{}: {}{} must be a string", file, where, key));
  return value.get<std::string>();
}

std::string digest_field(const json& object, std::string_view file, std::string_view where) {
  std::string digest = string_field(object, "digest", file, where);
  if (!is_sha256_digest(digest))
    throw lab::UserError(fmt::format("{}: {}digest {} is not sha256:<64 hex digits>", file, where,
                                     json(digest).dump()));
  return digest;
}

Descriptor parse_descriptor(const json& value, std::string_view file, std::string_view where) {
  if (!value.is_object())
    throw lab::UserError(fmt::format("{}: {} must be an object", file,
                                     where.substr(0, where.size() - 1)));  // drop the '.'
  Descriptor d;
  d.media_type = string_field(value, "mediaType", file, where);
  d.digest = digest_field(value, file, where);
  const json& size = member(value, "size", file, where);
  if (!size.is_number_unsigned())
    throw lab::UserError(fmt::format("{}: {}size must be a whole number", file, where));
  d.size = size.get<uint64_t>();
  if (value.contains("annotations")) {
    const json& annotations = value["annotations"];
    if (!annotations.is_object())
      throw lab::UserError(fmt::format("{}: {}annotations must be an object", file, where));
    for (const auto& [key, text] : annotations.items()) {
      if (!text.is_string())
        throw lab::UserError(
            fmt::format("{}: {}annotations.{} must be a string", file, where, key));
      d.annotations[key] = text.get<std::string>();
    }
  }
  if (value.contains("platform") && value["platform"].is_object()) {
    d.platform_os = value["platform"].value("os", "");
    d.platform_architecture = value["platform"].value("architecture", "");
  }
  return d;
}

std::vector<std::string> string_array(const json& object, const char* key, std::string_view file,
                                      std::string_view where, bool optional) {
  std::vector<std::string> out;
  if (optional && (!object.contains(key) || object[key].is_null())) return out;
  const json& array = member(object, key, file, where);
  if (!array.is_array())
    throw lab::UserError(fmt::format("{}: {}{} must be an array", file, where, key));
  for (size_t i = 0; i < array.size(); ++i) {
    if (!array[i].is_string())
      throw lab::UserError(fmt::format("{}: {}{}[{}] must be a string", file, where, key, i));
    out.push_back(array[i].get<std::string>());
  }
  return out;
}

}  // namespace

LayerCompression layer_compression(std::string_view media_type) {
  if (media_type == kOciLayerType || media_type == kDockerLayerType) return LayerCompression::none;
  if (media_type == kOciLayerGzipType || media_type == kDockerLayerGzipType)
    return LayerCompression::gzip;
  if (media_type == kOciLayerZstdType) return LayerCompression::zstd;
  throw lab::UserError(
      fmt::format("layer media type {} is not one minidocker unpacks (a tar, plain, gzip or zstd)",
                  media_type));
}

std::vector<DockerManifestItem> parse_docker_manifest(std::string_view text,
                                                      std::string_view file) {
  json value = parse_json(text, file);
  if (!value.is_array())
    throw lab::UserError(fmt::format("{}: must be a JSON array of images (docker save)", file));
  if (value.empty()) throw lab::UserError(fmt::format("{}: lists no image", file));
  std::vector<DockerManifestItem> items;
  for (size_t i = 0; i < value.size(); ++i) {
    std::string where = fmt::format("[{}].", i);
    if (!value[i].is_object())
      throw lab::UserError(fmt::format("{}: [{}] must be an object", file, i));
    DockerManifestItem item;
    item.config = clean_member_name(string_field(value[i], "Config", file, where));
    item.repo_tags = string_array(value[i], "RepoTags", file, where, true);
    for (const std::string& layer : string_array(value[i], "Layers", file, where, false))
      item.layers.push_back(clean_member_name(layer));
    items.push_back(std::move(item));
  }
  return items;
}

std::vector<Descriptor> parse_image_index(std::string_view text, std::string_view file) {
  json value = parse_json(text, file);
  if (!value.is_object()) throw lab::UserError(fmt::format("{}: must be a JSON object", file));
  const json& version = member(value, "schemaVersion", file);
  if (version != 2) throw lab::UserError(fmt::format("{}: schemaVersion must be 2", file));
  const json& manifests = member(value, "manifests", file);
  if (!manifests.is_array())
    throw lab::UserError(fmt::format("{}: manifests must be an array", file));
  std::vector<Descriptor> out;
  for (size_t i = 0; i < manifests.size(); ++i)
    out.push_back(parse_descriptor(manifests[i], file, fmt::format("manifests[{}].", i)));
  return out;
}

void check_oci_layout(std::string_view text, std::string_view file) {
  json value = parse_json(text, file);
  if (!value.is_object() || !value.contains("imageLayoutVersion"))
    throw lab::UserError(fmt::format("{}: imageLayoutVersion is missing", file));
  if (value["imageLayoutVersion"] != "1.0.0")
    throw lab::UserError(fmt::format("{}: imageLayoutVersion {} is not 1.0.0", file,
                                     value["imageLayoutVersion"].dump()));
}

ImageManifest parse_image_manifest(std::string_view text, std::string_view file) {
  json value = parse_json(text, file);
  if (!value.is_object()) throw lab::UserError(fmt::format("{}: must be a JSON object", file));
  if (member(value, "schemaVersion", file) != 2)
    throw lab::UserError(fmt::format("{}: schemaVersion must be 2", file));
  ImageManifest m;
  // mediaType is optional in an OCI manifest (the descriptor pointing at it says it).
  m.media_type = value.contains("mediaType") ? string_field(value, "mediaType", file)
                                             : std::string(kOciManifestType);
  if (m.media_type != kOciManifestType && m.media_type != kDockerManifestType)
    throw lab::UserError(
        fmt::format("{}: media type {} is not an image manifest", file, m.media_type));
  m.config = parse_descriptor(member(value, "config", file), file, "config.");
  const json& layers = member(value, "layers", file);
  if (!layers.is_array()) throw lab::UserError(fmt::format("{}: layers must be an array", file));
  for (size_t i = 0; i < layers.size(); ++i)
    m.layers.push_back(parse_descriptor(layers[i], file, fmt::format("layers[{}].", i)));
  return m;
}

std::vector<std::string> parse_diff_ids(std::string_view config_json, std::string_view file) {
  json value = parse_json(config_json, file);
  if (!value.is_object()) throw lab::UserError(fmt::format("{}: must be a JSON object", file));
  const json& rootfs = member(value, "rootfs", file);
  if (!rootfs.is_object() || rootfs.value("type", "") != "layers")
    throw lab::UserError(fmt::format("{}: rootfs.type must be \"layers\"", file));
  std::vector<std::string> ids = string_array(rootfs, "diff_ids", file, "rootfs.", false);
  for (size_t i = 0; i < ids.size(); ++i)
    if (!is_sha256_digest(ids[i]))
      throw lab::UserError(fmt::format("{}: rootfs.diff_ids[{}] {} is not sha256:<64 hex digits>",
                                       file, i, json(ids[i]).dump()));
  return ids;
}

// ---- member names ------------------------------------------------------------------------------

std::string clean_member_name(std::string_view name) {
  std::string shown = json(std::string(name)).dump();
  if (name.empty()) throw lab::UserError("archive member with an empty name");
  if (name.front() == '/')
    throw lab::UserError(fmt::format("archive member {}: an absolute path; refused", shown));
  for (char c : name)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      throw lab::UserError(
          fmt::format("archive member {}: a control character in the name", shown));
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part == "..")
      throw lab::UserError(
          fmt::format("archive member {}: `..` leaves the archive; refused", shown));
    if (!part.empty() && part != ".") parts.push_back(part);
    start = end + 1;
  }
  if (parts.empty()) throw lab::UserError(fmt::format("archive member {}: names no file", shown));
  std::string out;
  for (auto part : parts) {
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

std::string resolve_member_link(std::string_view member_name, std::string_view target) {
  std::string shown = fmt::format("{} -> {}", member_name, target);
  if (target.empty() || target.front() == '/')
    throw lab::UserError(fmt::format("archive link {}: must be a relative path", shown));
  std::vector<std::string> parts;
  std::string base(member_name);
  if (auto slash = base.rfind('/'); slash != std::string::npos) {
    std::string_view dir(base.data(), slash);
    size_t start = 0;
    while (start <= dir.size()) {
      size_t end = dir.find('/', start);
      if (end == std::string_view::npos) end = dir.size();
      if (end > start) parts.emplace_back(dir.substr(start, end - start));
      start = end + 1;
    }
  }
  size_t start = 0;
  while (start <= target.size()) {
    size_t end = target.find('/', start);
    if (end == std::string_view::npos) end = target.size();
    std::string_view part = target.substr(start, end - start);
    if (part == "..") {
      if (parts.empty())
        throw lab::UserError(fmt::format("archive link {}: points outside the archive", shown));
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.emplace_back(part);
    }
    start = end + 1;
  }
  if (parts.empty()) throw lab::UserError(fmt::format("archive link {}: names no file", shown));
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : "/") + part;
  return clean_member_name(out);
}

// ---- references --------------------------------------------------------------------------------

std::string normalize_reference(std::string_view reference) {
  std::string_view text = reference;
  // Docker Hub's long spellings, as containerd and skopeo write them, shown as Docker shows them.
  for (std::string_view prefix :
       {"docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"}) {
    if (text.starts_with(prefix)) {
      text.remove_prefix(prefix.size());
      break;
    }
  }
  return normalize_tag(text);
}

std::string full_reference(std::string_view reference) {
  Reference ref = parse_reference(normalize_reference(reference));
  auto slash = ref.name.find('/');
  std::string first = ref.name.substr(0, slash);
  bool has_host = slash != std::string::npos &&
                  (first.find_first_of(".:") != std::string::npos || first == "localhost");
  if (has_host) return ref.str();
  return (slash == std::string::npos ? "docker.io/library/" : "docker.io/") + ref.str();
}

std::string reference_tag(std::string_view reference) { return parse_reference(reference).tag; }

std::string reference_repository(std::string_view reference) {
  return parse_reference(reference).name;
}

std::string name_from_annotations(const Descriptor& manifest) {
  if (auto it = manifest.annotations.find(std::string(kAnnotationImageName));
      it != manifest.annotations.end())
    return normalize_reference(it->second);
  auto it = manifest.annotations.find(std::string(kAnnotationRefName));
  if (it == manifest.annotations.end()) return "";
  // A bare tag ("latest") names no repository; skopeo and umoci may write a whole reference.
  if (it->second.find_first_of("/:") == std::string::npos) return "";
  return normalize_reference(it->second);
}

// ---- what save writes --------------------------------------------------------------------------

std::string docker_manifest_json(const std::vector<SavedImage>& images) {
  json out = json::array();
  for (const SavedImage& image : images) {
    json layers = json::array();
    for (const auto& diff_id : image.diff_ids)
      layers.push_back("blobs/sha256/" + digest_hex(diff_id));
    out.push_back({{"Config", "blobs/sha256/" + digest_hex(image.config_digest)},
                   {"RepoTags", image.tags},
                   {"Layers", layers}});
  }
  return out.dump() + "\n";
}

std::string repositories_json(const std::vector<SavedImage>& images) {
  json out = json::object();
  for (const SavedImage& image : images) {
    if (image.diff_ids.empty()) continue;
    for (const auto& tag : image.tags)
      out[reference_repository(tag)][reference_tag(tag)] = digest_hex(image.diff_ids.back());
  }
  return out.dump() + "\n";
}

std::string oci_index_json(const std::vector<SavedImage>& images) {
  json manifests = json::array();
  for (const SavedImage& image : images) {
    json descriptor = {{"mediaType", kOciManifestType},
                       {"digest", image.manifest_digest},
                       {"size", image.manifest_size}};
    if (image.tags.empty()) manifests.push_back(descriptor);
    for (const auto& tag : image.tags) {
      descriptor["annotations"] = {{kAnnotationImageName, full_reference(tag)},
                                   {kAnnotationRefName, reference_tag(tag)}};
      manifests.push_back(descriptor);
    }
  }
  return json{{"schemaVersion", 2}, {"mediaType", kOciIndexType}, {"manifests", manifests}}.dump() +
         "\n";
}

std::string oci_layout_json() { return R"({"imageLayoutVersion":"1.0.0"})"; }

// ---- load --------------------------------------------------------------------------------------

namespace {

struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

std::string archive_error(archive* a) {
  const char* text = archive_error_string(a);
  return text ? text : "unknown libarchive error";
}

bool is_hex64(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// One file of the outer archive, copied to the staging directory as it was read.
struct StagedFile {
  std::string path;
  std::string digest;  // sha256 of its bytes
  uint64_t size = 0;
};

// The outer archive, staged: every regular file by member name, and where links point.
struct StagedArchive {
  std::map<std::string, StagedFile> files;
  std::map<std::string, std::string> links;
  uint64_t json_limit = 0;

  // The file a member name stands for, through links (docker-archive's <id>/layer.tar symlinks).
  const StagedFile* find(std::string name) const {
    for (int hops = 0; hops < 16; ++hops) {
      if (auto file = files.find(name); file != files.end()) return &file->second;
      auto link = links.find(name);
      if (link == links.end()) return nullptr;
      name = link->second;
    }
    return nullptr;
  }
  const StagedFile& get(const std::string& name, std::string_view named_by) const {
    const StagedFile* file = find(name);
    if (!file)
      throw lab::UserError(
          fmt::format("{} names {}, which the archive does not hold", named_by, name));
    return *file;
  }
  // An OCI blob by digest, checked against the size its descriptor gives.
  const StagedFile& blob(const Descriptor& d, std::string_view named_by) const {
    const StagedFile& file = get("blobs/sha256/" + digest_hex(d.digest), named_by);
    if (file.size != d.size)
      throw lab::UserError(fmt::format("{}: blob {} has {} bytes, its descriptor says {}", named_by,
                                       d.digest, file.size, d.size));
    return file;
  }
  std::string read(const StagedFile& file, std::string_view name) const {
    if (file.size > json_limit)
      throw lab::UserError(
          fmt::format("{}: {} bytes is more than a manifest or config may have ({})", name,
                      file.size, json_limit));
    return lab::read_file(file.path);
  }
};

// Reads the outer tar from `fd` to its end, copying each regular file into `dir` while hashing
// it; a blobs/sha256/<hex> member must hash to its name.
StagedArchive stage_archive(int fd, const std::string& dir, const ArchiveLimits& limits,
                            const std::function<void(uint64_t)>& progress) {
  std::unique_ptr<archive, ArchiveReadFree> in(archive_read_new());
  archive_read_support_filter_all(in.get());  // `docker load` takes a .tar.gz too
  archive_read_support_format_tar(in.get());
  if (archive_read_open_fd(in.get(), fd, 1 << 20) != ARCHIVE_OK)
    throw lab::UserError(fmt::format("reading the image archive: {}", archive_error(in.get())));
  StagedArchive staged;
  staged.json_limit = limits.max_json_bytes;
  // Each member is hashed on the other core while it is written: two buffers in turn, so that
  // one is read into while the other is still being hashed.
  // (The buffers outlive the hasher, which may still be reading one when an error unwinds.)
  std::vector<char> buffers[2] = {std::vector<char>(1 << 20), std::vector<char>(1 << 20)};
  BackgroundSha256 hash;
  uint64_t members = 0, total = 0;
  for (;;) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(in.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN)
      throw lab::UserError(
          fmt::format("reading the image archive: {} (is it a tar?)", archive_error(in.get())));
    if (++members > limits.max_members)
      throw lab::UserError(
          fmt::format("the image archive has more than {} members; refused", limits.max_members));
    std::string raw = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    // `tar -C dir -c .` starts with "./": the archive's own top, nothing to stage.
    if (archive_entry_filetype(entry) == AE_IFDIR &&
        raw.find_first_not_of("./") == std::string::npos && !raw.empty() && raw.front() == '.')
      continue;
    std::string name = clean_member_name(raw);
    if (staged.files.contains(name) || staged.links.contains(name))
      throw lab::UserError(fmt::format("archive member {}: appears twice", name));
    if (const char* target = archive_entry_hardlink(entry)) {
      staged.links[name] = clean_member_name(target);  // tar hard links name a member
      continue;
    }
    switch (archive_entry_filetype(entry)) {
      case AE_IFDIR:
        continue;
      case AE_IFLNK:
        staged.links[name] = resolve_member_link(
            name, archive_entry_symlink(entry) ? archive_entry_symlink(entry) : "");
        continue;
      case AE_IFREG:
        break;
      default:
        throw lab::UserError(fmt::format(
            "archive member {}: neither a file, a directory nor a link; refused", name));
    }
    bool is_blob = name.starts_with("blobs/");
    if (is_blob && !(name.starts_with("blobs/sha256/") && is_hex64(name.substr(13))))
      throw lab::UserError(fmt::format(
          "archive member {}: blobs/ holds only sha256/<64 hex digits> here; refused", name));
    StagedFile file;
    file.path = fmt::format("{}/{}", dir, staged.files.size());
    lab::UniqueFd out = lab::open_fd(file.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    for (int turn = 0;; turn ^= 1) {
      std::vector<char>& buffer = buffers[turn];
      la_ssize_t n = archive_read_data(in.get(), buffer.data(), buffer.size());
      if (n < 0)
        throw lab::UserError(fmt::format("archive member {}: {}", name, archive_error(in.get())));
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
      if (total > limits.max_bytes)
        throw lab::UserError(
            fmt::format("the image archive holds more than {} bytes; refused", limits.max_bytes));
      hash.update(buffer.data(), static_cast<size_t>(n));
      write_all(out.get(), buffer.data(), static_cast<size_t>(n), file.path);
      if (progress) progress(static_cast<uint64_t>(archive_filter_bytes(in.get(), -1)));
    }
    // Staged files may become blobs by rename: load fsyncs them (in the background, while the
    // layers are unpacked) before any is renamed.
    file.size = hash.bytes();
    file.digest = hash.digest();
    if (is_blob && file.digest != "sha256:" + name.substr(13))
      throw lab::UserError(
          fmt::format("archive member {}: its content hashes to {}, not to its name; refused", name,
                      file.digest));
    staged.files.emplace(name, std::move(file));
  }
  if (progress) progress(static_cast<uint64_t>(archive_filter_bytes(in.get(), -1)));
  return staged;
}

// One image to load, checked against the staged archive before anything is published.
struct PlannedImage {
  std::string manifest_bytes;  // for Store::add_image
  std::string config_digest;
  std::vector<std::string> diff_ids;
  std::vector<Descriptor> layers;
  std::vector<const StagedFile*> blobs;  // config, layers (and the manifest, when staged)
  std::vector<std::string> tags;
};

void add_tag(PlannedImage& image, const std::string& tag) {
  if (std::find(image.tags.begin(), image.tags.end(), tag) == image.tags.end())
    image.tags.push_back(tag);
}

// The diff ids of the config, which must list one per layer.
std::vector<std::string> read_diff_ids(const StagedArchive& staged, const StagedFile& config,
                                       std::string_view name, size_t layers) {
  std::vector<std::string> ids = parse_diff_ids(staged.read(config, name), name);
  if (ids.size() != layers)
    throw lab::UserError(fmt::format("{}: {} diff ids for {} layers", name, ids.size(), layers));
  return ids;
}

std::string machine_architecture() {
  struct utsname u {};
  ::uname(&u);
  std::string_view machine = u.machine;
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine.starts_with("arm")) return "arm";
  if (machine == "i686" || machine == "i386") return "386";
  return std::string(machine);
}

// An image manifest named by an OCI descriptor (index.json's, or a nested index's).
PlannedImage plan_oci_manifest(const StagedArchive& staged, const Descriptor& d,
                               std::string_view named_by) {
  const StagedFile& file = staged.blob(d, named_by);
  std::string name = "blobs/sha256/" + digest_hex(d.digest);
  PlannedImage image;
  image.manifest_bytes = staged.read(file, name);
  ImageManifest manifest = parse_image_manifest(image.manifest_bytes, name);
  const StagedFile& config = staged.blob(manifest.config, name);
  image.config_digest = manifest.config.digest;
  image.diff_ids = read_diff_ids(staged, config, "blobs/sha256/" + digest_hex(config.digest),
                                 manifest.layers.size());
  image.blobs = {&file, &config};
  for (const Descriptor& layer : manifest.layers) {
    layer_compression(layer.media_type);  // refuses what we cannot unpack
    image.blobs.push_back(&staged.blob(layer, name));
    image.layers.push_back(layer);
  }
  return image;
}

std::vector<PlannedImage> plan_oci(const StagedArchive& staged) {
  const StagedFile* layout = staged.find("oci-layout");
  if (!layout)
    throw lab::UserError("index.json without oci-layout: not an OCI image layout; refused");
  check_oci_layout(staged.read(*layout, "oci-layout"));
  std::vector<PlannedImage> images;
  std::vector<Descriptor> index =
      parse_image_index(staged.read(staged.get("index.json", "the archive"), "index.json"));
  for (size_t i = 0; i < index.size(); ++i) {
    Descriptor d = index[i];
    std::string named_by = fmt::format("index.json manifests[{}]", i);
    if (d.media_type == kOciIndexType || d.media_type == kDockerManifestListType) {
      // A multi-platform image: the entry for this machine, as `docker load` picks it.
      std::string name = "blobs/sha256/" + digest_hex(d.digest);
      std::vector<Descriptor> nested =
          parse_image_index(staged.read(staged.blob(d, named_by), name), name);
      std::string arch = machine_architecture();
      auto it = std::find_if(nested.begin(), nested.end(), [&](const Descriptor& n) {
        return (n.platform_os.empty() || n.platform_os == "linux") &&
               (n.platform_architecture.empty() || n.platform_architecture == arch);
      });
      if (it == nested.end())
        throw lab::UserError(fmt::format("{}: no image for linux/{}", name, arch));
      Descriptor chosen = *it;
      chosen.annotations = d.annotations;  // the name is on the outer entry
      d = chosen;
      named_by = name;
    }
    if (d.media_type != kOciManifestType && d.media_type != kDockerManifestType)
      throw lab::UserError(
          fmt::format("{}: media type {} is not an image manifest", named_by, d.media_type));
    PlannedImage image = plan_oci_manifest(staged, d, named_by);
    if (std::string name = name_from_annotations(d); !name.empty()) add_tag(image, name);
    images.push_back(std::move(image));
  }
  return images;
}

// Layer members of a docker-save archive may be compressed (crane writes .tar.gz); their magic
// bytes say how.
const char* sniff_layer_media_type(const StagedFile& file) {
  unsigned char magic[4] = {};
  lab::UniqueFd fd = lab::open_fd(file.path, O_RDONLY | O_CLOEXEC);
  ssize_t n = lab::check(::read(fd.get(), magic, sizeof magic),
                         [&] { return fmt::format("read(\"{}\")", file.path); });
  if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) return kOciLayerGzipType;
  if (n == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
    return kOciLayerZstdType;
  return kOciLayerType;
}

// A docker-save entry: its config and layer files are named by path, and there is no manifest,
// so one is made, as Docker does on load: the config blob, and each layer as the bytes it came in.
PlannedImage plan_docker(const StagedArchive& staged, const DockerManifestItem& item, size_t i) {
  std::string named_by = fmt::format("manifest.json [{}]", i);
  PlannedImage image;
  const StagedFile& config = staged.get(item.config, named_by);
  image.config_digest = config.digest;
  image.diff_ids = read_diff_ids(staged, config, item.config, item.layers.size());
  image.blobs = {&config};
  json layers = json::array();
  for (const std::string& layer_name : item.layers) {
    const StagedFile& layer = staged.get(layer_name, named_by);
    Descriptor d{sniff_layer_media_type(layer), layer.digest, layer.size, {}, "", ""};
    layers.push_back({{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}});
    image.layers.push_back(d);
    image.blobs.push_back(&layer);
  }
  image.manifest_bytes = json{
      {"schemaVersion", 2},
      {"mediaType", kOciManifestType},
      {"config", {{"mediaType", kOciConfigType}, {"digest", config.digest}, {"size", config.size}}},
      {"layers", layers}}.dump();
  for (const std::string& tag : item.repo_tags) add_tag(image, normalize_reference(tag));
  return image;
}

// What a failed load published, removed again. Layers and blobs that were there before the load
// are never touched: another image may hold them.
class Rollback {
 public:
  explicit Rollback(Store& store) : store_(store) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(store.root() + "/layers", ec))
      layers_before_.insert(entry.path().filename().string());
  }
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;
  ~Rollback() {
    if (disarmed_) return;
    for (const std::string& digest : blobs_) ::unlink(store_.blob_path(digest).c_str());
    for (const std::string& diff_id : layers_) {
      std::string hex = digest_hex(diff_id);
      if (layers_before_.contains(hex)) continue;
      try {
        forget_layer(store_.root(), hex);
      } catch (const std::exception&) {
        // Removing the layer below takes its link with it; the l/ symlink then dangles, and the
        // driver removes dangling short names.
      }
      std::error_code ec;
      fs::remove_all(store_.root() + "/layers/" + hex, ec);
    }
  }
  void layer_added(const std::string& diff_id) { layers_.push_back(diff_id); }
  void blob_added(const std::string& digest) { blobs_.push_back(digest); }
  void disarm() { disarmed_ = true; }

 private:
  Store& store_;
  std::set<std::string> layers_before_;
  std::vector<std::string> layers_, blobs_;
  bool disarmed_ = false;
};

}  // namespace

std::vector<LoadedImage> load_image_archive(Store& store, int fd, const ArchiveLimits& limits,
                                            const std::function<void(uint64_t)>& progress) {
  StagingDir stage = store.staging();
  StagedArchive staged = stage_archive(fd, stage.path(), limits, progress);

  std::vector<PlannedImage> images;
  bool oci = staged.find("index.json") != nullptr;
  const StagedFile* docker_manifest = staged.find("manifest.json");
  if (!oci && !docker_manifest)
    throw lab::UserError(
        "not an image archive: it holds neither manifest.json (docker save) nor index.json "
        "(an OCI image layout)");
  if (oci) images = plan_oci(staged);
  if (docker_manifest) {
    // Docker 25 writes both: the images index.json listed come again here, with their names.
    std::vector<DockerManifestItem> items =
        parse_docker_manifest(staged.read(*docker_manifest, "manifest.json"));
    for (size_t i = 0; i < items.size(); ++i) {
      const StagedFile& config = staged.get(items[i].config, fmt::format("manifest.json [{}]", i));
      auto known = std::find_if(images.begin(), images.end(), [&](const PlannedImage& image) {
        return image.config_digest == config.digest;
      });
      if (known == images.end()) {
        images.push_back(plan_docker(staged, items[i], i));
      } else {
        for (const std::string& tag : items[i].repo_tags) add_tag(*known, normalize_reference(tag));
      }
    }
  }

  Rollback rollback(store);
  // The staged files go to disk in a second thread while the layers are unpacked: they may
  // become blobs by rename, and a blob's data must be on disk before its name is.
  std::vector<std::string> staged_paths;
  for (const auto& [name, file] : staged.files) staged_paths.push_back(file.path);
  BackgroundFsync to_disk(std::move(staged_paths));
  // Layers first: unpacking is where a hostile layer shows itself, before any blob is published.
  for (const PlannedImage& image : images) {
    for (size_t i = 0; i < image.layers.size(); ++i) {
      const std::string& diff_id = image.diff_ids[i];
      if (store.has_layer(diff_id)) continue;
      const StagedFile& blob = *image.blobs[image.blobs.size() - image.layers.size() + i];
      lab::UniqueFd in = lab::open_fd(blob.path, O_RDONLY | O_CLOEXEC);
      std::string got = store.add_layer(image.layers[i].digest, in.get());
      rollback.layer_added(got);
      if (got != diff_id)
        throw lab::UserError(
            fmt::format("layer {}: its tar hashes to {}, but the image config says {}; refused",
                        image.layers[i].digest, got, diff_id));
    }
  }
  to_disk.wait();
  // Then the blobs, renamed from staging (same file system): a layer is not copied twice.
  for (const PlannedImage& image : images) {
    for (const StagedFile* blob : image.blobs) {
      if (store.has_blob(blob->digest)) continue;
      std::string target = store.blob_path(blob->digest);
      lab::check(::rename(blob->path.c_str(), target.c_str()),
                 [&] { return fmt::format("rename(\"{}\", \"{}\")", blob->path, target); });
      rollback.blob_added(blob->digest);
    }
  }
  // Last the records and names: until now no image was visible.
  rollback.disarm();
  std::vector<LoadedImage> loaded;
  for (const PlannedImage& image : images) {
    std::string id = store.add_image(image.manifest_bytes);
    for (const std::string& tag : image.tags) store.tag(id, tag);
    loaded.push_back({id, image.tags});
  }
  return loaded;
}

// ---- save --------------------------------------------------------------------------------------

namespace {

// One file of the archive being written: a stored blob, a temp file or bytes.
struct OutFile {
  std::string name;
  uint64_t size = 0;
  std::string blob;    // a digest in the store, or
  lab::UniqueFd temp;  // a decompressed layer, or
  std::string bytes;   // JSON we made
};

class TarWriter {
 public:
  TarWriter(int fd, std::function<void(uint64_t, uint64_t)> progress, uint64_t total)
      : out_(archive_write_new()), progress_(std::move(progress)), total_(total) {
    // pax only where ustar cannot say it (sizes past 8 GiB): what tar and Docker write.
    archive_write_set_format_pax_restricted(out_.get());
    archive_write_set_bytes_in_last_block(out_.get(), 1);
    if (archive_write_open_fd(out_.get(), fd) != ARCHIVE_OK)
      throw lab::UserError(fmt::format("writing the archive: {}", archive_error(out_.get())));
  }

  void directory(const std::string& name) { header(name, AE_IFDIR, 0755, 0); }

  void file(const std::string& name, uint64_t size, int fd, const std::string& what) {
    header(name, AE_IFREG, 0644, size);
    std::vector<char> buffer(1 << 20);
    uint64_t left = size;
    while (left > 0) {
      ssize_t n = lab::check(::read(fd, buffer.data(), std::min<uint64_t>(left, buffer.size())),
                             [&] { return fmt::format("read({})", what); });
      if (n == 0) throw lab::UserError(fmt::format("{}: shorter than {} bytes", what, size));
      data(buffer.data(), static_cast<size_t>(n));
      left -= static_cast<uint64_t>(n);
    }
  }

  void file(const std::string& name, std::string_view bytes) {
    header(name, AE_IFREG, 0644, bytes.size());
    data(bytes.data(), bytes.size());
  }

  void close() {
    if (archive_write_close(out_.get()) != ARCHIVE_OK)
      throw lab::UserError(fmt::format("writing the archive: {}", archive_error(out_.get())));
  }

 private:
  void header(const std::string& name, unsigned type, int perm, uint64_t size) {
    std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new());
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_filetype(entry.get(), type);
    archive_entry_set_perm(entry.get(), static_cast<mode_t>(perm));
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(size));
    archive_entry_set_mtime(entry.get(), 0, 0);  // the same images give the same archive
    if (archive_write_header(out_.get(), entry.get()) != ARCHIVE_OK)
      throw lab::UserError(
          fmt::format("writing the archive, {}: {}", name, archive_error(out_.get())));
  }

  void data(const char* bytes, size_t size) {
    if (archive_write_data(out_.get(), bytes, size) != static_cast<la_ssize_t>(size))
      throw lab::UserError(fmt::format("writing the archive: {}", archive_error(out_.get())));
    written_ += size;
    if (progress_) progress_(written_, total_);
  }

  std::unique_ptr<archive, ArchiveWriteFree> out_;
  std::function<void(uint64_t, uint64_t)> progress_;
  uint64_t total_;
  uint64_t written_ = 0;
};

}  // namespace

void save_image_archive(const Store& store, const std::vector<std::string>& references, int fd,
                        const std::function<void(uint64_t, uint64_t)>& progress) {
  std::map<std::string, std::string> tags = store.tags();
  std::vector<SavedImage> images;
  for (const std::string& reference : references) {
    std::string id = store.resolve(reference);
    auto image = std::find_if(images.begin(), images.end(),
                              [&](const SavedImage& saved) { return saved.config_digest == id; });
    if (image == images.end()) {
      images.push_back({id, {}, {}, "", 0});
      image = images.end() - 1;
    }
    // Named by a tag, the image keeps that name in the archive; named by id, it has none.
    std::string tag;
    try {
      tag = normalize_reference(reference);
    } catch (const lab::UserError&) {
    }
    if (auto it = tags.find(tag);
        it != tags.end() && it->second == id &&
        std::find(image->tags.begin(), image->tags.end(), tag) == image->tags.end())
      image->tags.push_back(tag);
  }

  std::vector<OutFile> blobs;
  std::set<std::string> written;
  auto add_blob = [&](const std::string& digest) {
    if (!written.insert(digest).second) return;
    blobs.push_back(
        {"blobs/sha256/" + digest_hex(digest), store.blob_size(digest), digest, {}, {}});
  };
  for (SavedImage& saved : images) {
    Image image = store.image(saved.config_digest);
    // Docker's layers are uncompressed tars named by their diff id; a manifest naming the
    // compressed blobs is rewritten to name those (the image id, the config's digest, stays).
    bool manifest_fits = image.manifest.value("mediaType", "") == kOciManifestType;
    json layers = json::array();
    for (const LayerInfo& layer : image.layers) {
      saved.diff_ids.push_back(layer.diff_id);
      bool plain = layer_compression(layer.media_type) == LayerCompression::none &&
                   layer.blob_digest == layer.diff_id;
      manifest_fits = manifest_fits && plain && layer.media_type == kOciLayerType;
      uint64_t size = layer.blob_size;
      if (plain) {
        add_blob(layer.diff_id);
      } else if (written.insert(layer.diff_id).second) {
        std::string tmp = store.root() + "/tmp";
        lab::UniqueFd temp = lab::open_fd(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        lab::UniqueFd blob = store.open_blob(layer.blob_digest);
        std::string got = decompress_to(blob.get(), temp.get());
        if (got != layer.diff_id)
          throw lab::UserError(
              fmt::format("layer {}: uncompressed it hashes to {}, not to its "
                          "diff id {}; the store is damaged",
                          layer.blob_digest, got, layer.diff_id));
        size = static_cast<uint64_t>(lab::check(::lseek(temp.get(), 0, SEEK_END), "lseek"));
        lab::check(::lseek(temp.get(), 0, SEEK_SET), "lseek");
        blobs.push_back(
            {"blobs/sha256/" + digest_hex(layer.diff_id), size, "", std::move(temp), {}});
      } else {
        for (const OutFile& file : blobs)
          if (file.name == "blobs/sha256/" + digest_hex(layer.diff_id)) size = file.size;
      }
      layers.push_back({{"mediaType", kOciLayerType}, {"digest", layer.diff_id}, {"size", size}});
    }
    add_blob(saved.config_digest);
    std::string manifest = manifest_fits ? store.read_blob(image.manifest_digest)
                                         : json{{"schemaVersion", 2},
                                                {"mediaType", kOciManifestType},
                                                {"config",
                                                 {{"mediaType", kOciConfigType},
                                                  {"digest", saved.config_digest},
                                                  {"size", store.blob_size(saved.config_digest)}}},
                                                {"layers", layers}}
                                               .dump();
    saved.manifest_digest = sha256_digest(manifest);
    saved.manifest_size = manifest.size();
    if (written.insert(saved.manifest_digest).second)
      blobs.push_back({"blobs/sha256/" + digest_hex(saved.manifest_digest),
                       manifest.size(),
                       "",
                       {},
                       std::move(manifest)});
  }

  // The order `docker save` writes (its temp directory, walked by name): blobs, then the files.
  std::vector<std::pair<std::string, std::string>> files = {
      {"index.json", oci_index_json(images)},
      {"manifest.json", docker_manifest_json(images)},
      {"oci-layout", oci_layout_json()},
      {"repositories", repositories_json(images)}};
  uint64_t total = 0;
  for (const OutFile& file : blobs) total += file.size;
  for (const auto& [name, bytes] : files) total += bytes.size();
  TarWriter out(fd, progress, total);
  out.directory("blobs/");
  out.directory("blobs/sha256/");
  for (OutFile& file : blobs) {
    if (!file.blob.empty()) {
      lab::UniqueFd in = store.open_blob(file.blob);
      out.file(file.name, file.size, in.get(), store.blob_path(file.blob));
    } else if (file.temp) {
      out.file(file.name, file.size, file.temp.get(), "a decompressed layer");
    } else {
      out.file(file.name, file.bytes);
    }
  }
  for (const auto& [name, bytes] : files) out.file(name, bytes);
  out.close();
}

}  // namespace graph
