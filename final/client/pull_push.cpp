// pull and push: the notes' registry jobs ("search, pull, push") over the Registry HTTP API v2.
//
// pull NAME[:TAG]   GET the manifest (an index first picks linux/<this machine's arch>), GET
//                   the config, GET each layer blob the store lacks (under the store's shared
//                   lock: others read meanwhile), then under the exclusive lock unpack each layer
//                   once per diff id, publishing it only if that is the config's
//                   rootfs.diff_ids entry, and the image record and the tag, last, so a pull
//                   killed half-way leaves no image.
// push NAME[:TAG]   HEAD each layer and the config; upload only what the registry lacks; PUT the
//                   manifest, byte for byte the one the store holds, so its digest is the same
//                   on both sides. It only reads the store: the shared lock.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "client/engine.hpp"
#include "daemon/http_client.hpp"
#include "error.hpp"
#include "graph/digest.hpp"
#include "graph/store.hpp"
#include "registry/distribution.hpp"

namespace client {

namespace {

// "localhost:5000/lab/app:1" -> "localhost:5000/lab/app" (a repo digest's name: no tag, no
// digest; the colon of a registry's port is before the last '/').
std::string repository_of(const std::string& familiar) {
  std::string name = familiar.substr(0, familiar.find('@'));
  size_t colon = name.rfind(':'), slash = name.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash))
    name.resize(colon);
  return name;
}

using graph::LockMode;

std::string host_architecture() {
  struct utsname u {};
  ::uname(&u);
  std::string machine = u.machine;
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  return machine;
}

// The 12 hex digits Docker shows for a layer.
std::string short_digest(std::string_view digest) {
  auto colon = digest.find(':');
  return std::string(digest.substr(colon == std::string_view::npos ? 0 : colon + 1, 12));
}

// The events printed as `docker pull` and `docker push` print them: "id: status", one line
// each. On a terminal a layer's line is rewritten in place with the bytes moved so far (the
// progress bar); elsewhere only the final states. With quiet, nothing.
class PrintedEvents final : public TransferEvents {
 public:
  explicit PrintedEvents(bool quiet) : quiet_(quiet), terminal_(::isatty(STDOUT_FILENO) == 1) {}
  void status(const std::string& id, const std::string& text) override {
    if (quiet_) return;
    if (live_) std::cout << "\r\033[K";
    live_ = false;
    std::cout << (id.empty() ? "" : id + ": ") << text << '\n' << std::flush;
  }
  // "[=====>     ]  1.2MB/4.3MB".
  registry::Progress progress(const std::string& id, const std::string& verb) override {
    if (quiet_ || !terminal_) return {};
    return [this, id, verb](uint64_t done, uint64_t total) {
      constexpr int kWidth = 50;
      std::string bar;
      if (total > 0) {
        int filled =
            static_cast<int>(static_cast<double>(done) * kWidth / static_cast<double>(total));
        if (filled > kWidth) filled = kWidth;
        bar = "[" + std::string(static_cast<size_t>(filled), '=') + ">" +
              std::string(static_cast<size_t>(kWidth - filled), ' ') + "] ";
      }
      std::cout << "\r\033[K" << id << ": " << verb << " " << bar
                << graph::human_size(static_cast<double>(done))
                << (total > 0 ? "/" + graph::human_size(static_cast<double>(total)) : "")
                << std::flush;
      live_ = true;
    };
  }

 private:
  bool quiet_;
  bool terminal_;
  bool live_ = false;
};

bool is_index(std::string_view media_type) {
  return media_type == registry::kOciIndex || media_type == registry::kDockerManifestList;
}

nlohmann::json parse_json(std::string_view bytes, std::string_view what) {
  nlohmann::json json = nlohmann::json::parse(bytes, nullptr, false);
  if (json.is_discarded() || !json.is_object())
    throw lab::UserError(fmt::format("{}: not a JSON object", what));
  return json;
}

std::string descriptor_digest(const nlohmann::json& descriptor, std::string_view what) {
  std::string digest = descriptor.is_object() ? descriptor.value("digest", "") : "";
  if (!graph::is_sha256_digest(digest))
    throw lab::UserError(fmt::format("{}: no valid sha256 digest in its descriptor", what));
  return digest;
}

// From a multi-platform index, the manifest for linux on this machine's architecture.
std::string pick_platform(const nlohmann::json& index, std::string_view name) {
  std::string arch = host_architecture();
  if (index.contains("manifests") && index["manifests"].is_array()) {
    for (const auto& entry : index["manifests"]) {
      if (!entry.is_object() || !entry.contains("platform")) continue;
      const auto& platform = entry["platform"];
      if (platform.value("os", "") == "linux" && platform.value("architecture", "") == arch)
        return descriptor_digest(entry, name);
    }
  }
  throw lab::UserError(fmt::format(
      "no matching manifest for linux/{} in the manifest list entries of {}", arch, name));
}

// Downloads `digest` into the store unless it is there: a staging file first (the registry
// client hashes as it writes and refuses a mismatch), then renamed into the store's blobs.
void fetch_into_store(graph::Store& store, registry::Client& client, const std::string& repository,
                      const std::string& digest, const registry::Progress& progress) {
  graph::StagingDir stage = store.staging();
  std::string path = stage.path() + "/blob";
  lab::UniqueFd fd = lab::open_fd(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  client.fetch_blob(repository, digest, fd.get(), progress);
  store.adopt_blob(fd.get(), path, digest);
}

}  // namespace

std::string pull_image(const EngineOptions& options, const std::string& name,
                       TransferEvents& events) {
  registry::Reference ref = registry::parse_reference(name);
  std::string familiar = ref.familiar();
  auto store = open_store(options);
  Narration narration(options.explain);
  // The downloads under the shared lock, so `images`, `inspect` or a `run` (readers) go on
  // meanwhile, in the daemon as from other CLI processes; a blob may be published under it (see
  // put_blob). Then the exclusive lock, for the layers' unpacking and the image's record.
  std::optional<graph::StoreLock> lock;
  lock.emplace(store->lock(LockMode::shared));
  // A pull that fails once it has stored something (a layer refused, a blob missing from the
  // registry, Ctrl-C) removes again every blob and layer no image names, as rmi ends: a refused
  // image leaves nothing behind. Under the exclusive lock, taken as the pull unwinds.
  struct RemoveOnFailure {
    graph::Store& store;
    std::optional<graph::StoreLock>& lock;
    bool stored = false;
    int exceptions = std::uncaught_exceptions();
    ~RemoveOnFailure() {
      if (!stored || std::uncaught_exceptions() == exceptions) return;
      try {
        lock.reset();
        lock.emplace(store.lock(LockMode::exclusive));
        store.remove_unnamed();
      } catch (...) {  // the first error is the one to report; the next writer's sweep remains
      }
    }
  } remove_on_failure{*store, lock};
  registry::Client client(ref.domain);

  narration.step("",
                 fmt::format("GET {}/v2/{}/manifests/{}", client.base_url(), ref.repository,
                             ref.manifest_reference()),
                 fmt::format("curl -H 'Accept: {}' {}/v2/{}/manifests/{}", registry::kOciManifest,
                             client.base_url(), ref.repository, ref.manifest_reference()));
  registry::Manifest manifest = client.get_manifest(ref.repository, ref.manifest_reference());
  events.status(ref.digest.empty() ? ref.tag : ref.digest,
                fmt::format("Pulling from {}", ref.repository));
  // Docker names the image by the digest of what the tag points at, the index when there is one.
  std::string repo_digest = manifest.digest;
  if (is_index(manifest.media_type)) {
    std::string chosen = pick_platform(parse_json(manifest.bytes, "manifest index"), familiar);
    narration.step("", fmt::format("the index lists one manifest per platform: {} is linux/{}",
                                   chosen, host_architecture()));
    manifest = client.get_manifest(ref.repository, chosen);
    if (is_index(manifest.media_type))
      throw lab::UserError(fmt::format("{}: an index inside an index is not supported", familiar));
  }
  nlohmann::json json = parse_json(manifest.bytes, "image manifest");
  if (!json.contains("layers") || !json["layers"].is_array())
    throw lab::UserError(fmt::format("image manifest of {}: no layers array", familiar));
  std::string config_digest = descriptor_digest(json.value("config", nlohmann::json{}), "config");

  auto fetch_config = [&] {
    narration.step(
        "", fmt::format("GET /v2/{}/blobs/{} (the image config)", ref.repository, config_digest));
    remove_on_failure.stored = true;
    fetch_into_store(*store, client, ref.repository, config_digest, {});
  };
  if (!store->has_blob(config_digest)) fetch_config();
  nlohmann::json config = parse_json(store->read_blob(config_digest), "image config");
  const nlohmann::json diff_ids = config.contains("rootfs") && config["rootfs"].is_object()
                                      ? config["rootfs"].value("diff_ids", nlohmann::json::array())
                                      : nlohmann::json::array();
  const auto& layers = json["layers"];
  if (!diff_ids.is_array() || diff_ids.size() != layers.size())
    throw lab::UserError(fmt::format("image config of {}: {} diff ids for {} layers", familiar,
                                     diff_ids.is_array() ? diff_ids.size() : 0, layers.size()));

  struct Layer {
    std::string blob, diff_id, id;
    bool present = false;  // blob and unpacked layer both there before this pull
  };
  std::vector<Layer> wanted;
  for (size_t i = 0; i < layers.size(); ++i) {
    Layer l;
    l.blob = descriptor_digest(layers[i], fmt::format("layer {}", i + 1));
    l.diff_id = diff_ids[i].is_string() ? diff_ids[i].get<std::string>() : "";
    graph::digest_hex(l.diff_id, "diff id");
    l.id = short_digest(l.blob);
    wanted.push_back(l);
  }
  auto download = [&](const Layer& l) {
    events.status(l.id, "Pulling fs layer");
    narration.step("", fmt::format("GET /v2/{}/blobs/{}, sha256 checked as it arrives",
                                   ref.repository, l.blob));
    remove_on_failure.stored = true;
    fetch_into_store(*store, client, ref.repository, l.blob, events.progress(l.id, "Downloading"));
    events.status(l.id, "Download complete");
  };
  bool downloaded = !store->find(config_digest).has_value();
  for (Layer& l : wanted) {
    l.present = store->has_blob(l.blob) && store->has_layer(l.diff_id);
    if (l.present) {
      events.status(l.id, "Already exists");
      continue;
    }
    downloaded = true;
    if (!store->has_blob(l.blob)) download(l);
  }

  lock.reset();
  lock.emplace(store->lock(LockMode::exclusive));
  // An rmi or a prune may have taken the exclusive lock in between and swept the blobs no image
  // names yet, ours: those are fetched again, now that nobody else can.
  if (!store->has_blob(config_digest)) fetch_config();
  for (const Layer& l : wanted) {
    if (l.present && store->has_blob(l.blob) && store->has_layer(l.diff_id)) continue;
    if (!store->has_blob(l.blob)) download(l);
    if (!store->has_layer(l.diff_id)) {
      remove_on_failure.stored = true;
      // Unpacked into staging and checked before it is published: a layer that is not what the
      // config says leaves nothing in layers/.
      lab::UniqueFd fd = store->open_blob(l.blob);
      graph::Store::StagedLayer staged = store->stage_layer(l.blob);
      graph::UnpackResult unpacked = graph::unpack_layer(fd.get(), staged.diff, {}, {}, l.blob);
      if (unpacked.diff_id != l.diff_id)
        throw lab::UserError(
            fmt::format("layer {} unpacks to diff id {}, but the image config says {}; refused",
                        l.blob, unpacked.diff_id, l.diff_id));
      store->publish_layer(std::move(staged), unpacked);
    }
    events.status(l.id, "Pull complete");
  }

  std::string id = store->add_image(manifest.bytes);
  if (ref.digest.empty()) store->tag(id, familiar);
  store->add_repo_digest(id, repository_of(familiar) + "@" + repo_digest);
  events.status("", fmt::format("Digest: {}", repo_digest));
  events.status("", downloaded ? fmt::format("Status: Downloaded newer image for {}", familiar)
                               : fmt::format("Status: Image is up to date for {}", familiar));
  return ref.string();
}

PushResult push_image(const EngineOptions& options, const std::string& name,
                      TransferEvents& events) {
  registry::Reference ref = registry::parse_reference(name);
  if (!ref.digest.empty())
    throw lab::UserError(fmt::format("push takes NAME[:TAG], not a digest: {}", name));
  std::string familiar = ref.familiar();
  auto store = open_store(options);
  Narration narration(options.explain);
  // Pushing only reads the store; the shared lock keeps an rmi from removing blobs under us.
  std::optional<graph::StoreLock> lock;
  lock.emplace(store->lock(LockMode::shared));
  std::optional<std::string> id = store->find(familiar);
  if (!id) {
    throw lab::UserError(fmt::format("An image does not exist locally with the tag: {}",
                                     familiar.substr(0, familiar.rfind(':'))));
  }
  graph::Image image = store->image(*id);
  registry::Client client(ref.domain);
  events.status("", fmt::format("The push refers to repository [{}]",
                                ref.string().substr(0, ref.string().rfind(':'))));

  auto push_blob = [&](const std::string& digest, bool show) {
    std::string shown = short_digest(digest);
    narration.step(
        "", fmt::format("HEAD /v2/{}/blobs/{}", ref.repository, digest),
        fmt::format("curl -I {}/v2/{}/blobs/{}", client.base_url(), ref.repository, digest));
    if (client.blob_exists(ref.repository, digest)) {
      if (show) events.status(shown, "Layer already exists");
      return;
    }
    if (show) events.status(shown, "Preparing");
    lab::UniqueFd fd = store->open_blob(digest);
    narration.step(
        "", fmt::format("POST /v2/{}/blobs/uploads/, then PUT ?digest={}", ref.repository, digest));
    client.upload_blob(ref.repository, digest, fd.get(), store->blob_size(digest),
                       show ? events.progress(shown, "Pushing") : registry::Progress{});
    if (show) events.status(shown, "Pushed");
  };
  for (auto it = image.layers.rbegin(); it != image.layers.rend(); ++it)
    push_blob(it->blob_digest, true);
  push_blob(descriptor_digest(image.manifest.value("config", nlohmann::json{}), "config"), false);

  std::string manifest_bytes = store->read_blob(image.manifest_digest);
  std::string media_type = image.manifest.value("mediaType", std::string(graph::kOciManifestType));
  narration.step("",
                 fmt::format("PUT /v2/{}/manifests/{} ({})", ref.repository, ref.tag, media_type));
  std::string digest = client.put_manifest(ref.repository, ref.tag, manifest_bytes, media_type);
  // The registry's digest goes into the image's record, which takes the exclusive lock (an rmi
  // in between leaves nothing to record it in).
  lock.reset();
  lock.emplace(store->lock(LockMode::exclusive));
  try {
    store->add_repo_digest(image.id, repository_of(familiar) + "@" + digest);
  } catch (const lab::UserError&) {
    // the image was removed meanwhile
  }
  events.status("", fmt::format("{}: digest: {} size: {}", ref.tag, digest, manifest_bytes.size()));
  return {ref.string(), ref.tag, digest, manifest_bytes.size()};
}

namespace {

struct PullOptions {
  std::string name;
  bool quiet = false;
};

struct PushOptions {
  std::string name;
  bool quiet = false;
};

// Through -H: the daemon's progress JSON (daemon/messages.cpp, dockerd's shape), one message a
// line, turned back into the events the in-process job gives, so both print the same lines. An
// error message in the stream ends the verb as the in-process job's error would.
void remote_transfer(const EngineOptions& options, std::string_view method,
                     const std::string& target, TransferEvents& events) {
  api::DaemonClient client(options.host, options.explain);
  api::ResponseStream stream = client.open(method, target);
  std::map<std::string, registry::Progress> bars;
  api::read_messages(stream, [&](const nlohmann::json& m) {
    std::string id = m.value("id", ""), status = m.value("status", "");
    nlohmann::json detail = m.value("progressDetail", nlohmann::json::object());
    if (detail.is_object() && detail.contains("current")) {
      registry::Progress& bar = bars[id + "\n" + status];
      if (!bar) bar = events.progress(id, status);
      if (bar) bar(detail.value("current", uint64_t{0}), detail.value("total", uint64_t{0}));
    } else if (!status.empty()) {
      events.status(id, status);
    }
  });
}

int pull(const EngineOptions& options, const PullOptions& opt) {
  PrintedEvents events(opt.quiet);
  if (!options.host.empty()) {
    // The reference checked here first, as the in-process pull does: the same line for a bad
    // name, and the name to print at the end.
    std::string full = registry::parse_reference(opt.name).string();
    remote_transfer(options, "POST", "/images/create?fromImage=" + api::url_escape(opt.name),
                    events);
    std::cout << full << '\n';
    return 0;
  }
  std::cout << pull_image(options, opt.name, events) << '\n';
  return 0;
}

int push(const EngineOptions& options, const PushOptions& opt) {
  PrintedEvents events(opt.quiet);
  if (!options.host.empty()) {
    registry::Reference ref = registry::parse_reference(opt.name);
    if (!ref.digest.empty())
      throw lab::UserError(fmt::format("push takes NAME[:TAG], not a digest: {}", opt.name));
    remote_transfer(options, "POST", "/images/" + opt.name + "/push", events);
    if (opt.quiet) std::cout << ref.string() << '\n';
    return 0;
  }
  PushResult result = push_image(options, opt.name, events);
  if (opt.quiet) std::cout << result.reference << '\n';
  return 0;
}

}  // namespace

void add_pull_push_verbs(CLI::App& app, const EngineOptions& options,
                         std::function<int()>& action) {
  static PullOptions pull_options;
  auto* pull_cmd = app.add_subcommand("pull", "Pull an image or a repository from a registry");
  docker_args(pull_cmd, "[OPTIONS] NAME[:TAG|@DIGEST]", exactly(1));
  pull_cmd->add_option("name", pull_options.name, "NAME[:TAG|@DIGEST]")->required();
  pull_cmd->add_flag("--quiet,-q", pull_options.quiet, "print only the image's name");
  pull_cmd->callback([&] { action = [&] { return pull(options, pull_options); }; });

  static PushOptions push_options;
  auto* push_cmd = app.add_subcommand("push", "Push an image or a repository to a registry");
  docker_args(push_cmd, "[OPTIONS] NAME[:TAG]", exactly(1));
  push_cmd->add_option("name", push_options.name, "NAME[:TAG]")->required();
  push_cmd->add_flag("--quiet,-q", push_options.quiet, "print only the pushed name");
  push_cmd->callback([&] { action = [&] { return push(options, push_options); }; });

  // `image pull` and `image push`, as Docker has them too.
  CLI::App* image_cmd = nullptr;
  for (CLI::App* sub : app.get_subcommands([](CLI::App* a) { return a->get_name() == "image"; }))
    image_cmd = sub;
  if (image_cmd != nullptr) {
    auto* image_pull =
        image_cmd->add_subcommand("pull", "Pull an image or a repository from a registry");
    docker_args(image_pull, "[OPTIONS] NAME[:TAG|@DIGEST]", exactly(1));
    image_pull->add_option("name", pull_options.name, "NAME[:TAG|@DIGEST]")->required();
    image_pull->add_flag("--quiet,-q", pull_options.quiet, "print only the image's name");
    image_pull->callback([&] { action = [&] { return pull(options, pull_options); }; });
    auto* image_push =
        image_cmd->add_subcommand("push", "Push an image or a repository to a registry");
    docker_args(image_push, "[OPTIONS] NAME[:TAG]", exactly(1));
    image_push->add_option("name", push_options.name, "NAME[:TAG]")->required();
    image_push->add_flag("--quiet,-q", push_options.quiet, "print only the pushed name");
    image_push->callback([&] { action = [&] { return push(options, push_options); }; });
  }
}

}  // namespace client
