#include "engine/commit.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>

#include "engine/dockerfile.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "graph/driver.hpp"
#include "graph/layer_archive.hpp"
#include "runtime/explain.hpp"

namespace engine {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The freezer on the container's cgroup (lesson 04's trees): cgroup v1's freezer.state takes
// FROZEN and reads FROZEN once every task has stopped; cgroup v2's cgroup.freeze takes 1 and
// cgroup.events then says "frozen 1". The container's files stay still while its upper dir is
// read. A container frozen before (docker pause) is left frozen.
class Freeze {
 public:
  Freeze(const std::string& id, const runtime::Explainer& explain) {
    std::string v1 = "/sys/fs/cgroup/freezer" + exec::cgroups_path(id);
    std::string v2 = "/sys/fs/cgroup" + exec::cgroups_path(id);
    std::string frozen_file, frozen_text;
    if (::access((v1 + "/freezer.state").c_str(), W_OK) == 0) {
      file_ = v1 + "/freezer.state";
      freeze_ = "FROZEN";
      thaw_ = "THAWED";
      frozen_file = file_;
      frozen_text = "FROZEN";
    } else if (::access((v2 + "/cgroup.freeze").c_str(), W_OK) == 0) {
      file_ = v2 + "/cgroup.freeze";
      freeze_ = "1";
      thaw_ = "0";
      frozen_file = v2 + "/cgroup.events";
      frozen_text = "frozen 1";
    } else {
      throw lab::UserError(
          "commit --pause: the container's cgroup has no freezer; commit with --pause=false");
    }
    if (lab::trim(lab::read_file(file_)) == freeze_) return;  // paused already: stays so
    explain.step("04", "freeze the container's cgroup while its layer is read",
                 fmt::format("echo {} > {}", freeze_, file_));
    lab::write_file(file_, freeze_);
    thaw_needed_ = true;
    for (int i = 0; i < 1500; ++i) {  // at most 30 s
      if (lab::read_file_or_empty(frozen_file).find(frozen_text) != std::string::npos) return;
      ::usleep(20000);
    }
    throw lab::UserError(fmt::format("{}: the container did not freeze in 30 s", file_));
  }
  ~Freeze() {
    if (!thaw_needed_) return;
    try {
      lab::write_file(file_, thaw_);
    } catch (...) {
    }
  }
  Freeze(const Freeze&) = delete;
  Freeze& operator=(const Freeze&) = delete;

 private:
  std::string file_, freeze_, thaw_;
  bool thaw_needed_ = false;
};

}  // namespace

std::string add_image(graph::Store& store, const NewImage& in, bool explain_on) {
  runtime::Explainer explain(explain_on);
  json config;
  json layers = json::array();
  if (in.parent.empty()) {
    config = {{"architecture", graph::go_architecture()},
              {"os", "linux"},
              {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}},
              {"history", json::array()}};
  } else {
    graph::Image parent = store.image(in.parent);
    config = parent.config;
    for (const graph::LayerInfo& layer : parent.layers)
      layers.push_back({{"mediaType", layer.media_type},
                        {"digest", layer.blob_digest},
                        {"size", layer.blob_size}});
    if (!config["history"].is_array()) config["history"] = json::array();
  }
  std::string created = graph::rfc3339_now();
  config["created"] = created;
  config["config"] = in.config.is_object() ? in.config : json::object();
  config.erase("container");
  config.erase("container_config");
  if (!in.author.empty()) config["author"] = in.author;
  json history = {{"created", created}, {"created_by", in.created_by}};
  if (!in.author.empty()) history["author"] = in.author;
  if (!in.comment.empty()) history["comment"] = in.comment;

  if (in.layer_dir) {
    graph::StagingDir stage = store.staging();
    std::string tar = stage.path() + "/layer.tar";
    lab::UniqueFd fd = lab::open_fd(tar, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    explain.step("05",
                 fmt::format("the rw layer {} as a layer tar (overlay's whiteouts become .wh. "
                             "files, opaque directories .wh..wh..opq)",
                             *in.layer_dir),
                 fmt::format("tar -c -C {} .", *in.layer_dir));
    graph::export_layer(*in.layer_dir, fd.get());
    lab::check(::lseek(fd.get(), 0, SEEK_SET), "lseek(layer.tar, 0)");
    std::string blob = store.put_blob(fd.get());
    lab::UniqueFd layer_fd = store.open_blob(blob);
    std::string diff_id = store.add_layer(blob, layer_fd.get());
    config["rootfs"]["diff_ids"].push_back(diff_id);
    layers.push_back(
        {{"mediaType", graph::kOciLayerType}, {"digest", blob}, {"size", store.blob_size(blob)}});
  } else {
    history["empty_layer"] = true;
  }
  config["history"].push_back(history);

  std::string config_bytes = config.dump();
  std::string config_digest = store.put_blob(config_bytes);
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", graph::kOciManifestType},
                   {"config",
                    {{"mediaType", graph::kOciConfigType},
                     {"digest", config_digest},
                     {"size", config_bytes.size()}}},
                   {"layers", layers}};
  return store.add_image(manifest.dump());
}

std::string commit(const Paths& p, const CommitRequest& r) {
  runtime::Explainer explain(p.explain);
  if (!r.reference.empty()) graph::normalize_tag(r.reference);  // refused before any work
  std::vector<dockerfile::Instruction> changes;
  for (const std::string& change : r.changes) {
    dockerfile::Instruction in = dockerfile::parse_line(change);
    if (!dockerfile::is_config_only(in.keyword))
      throw lab::UserError(fmt::format("{} is not a valid change command", in.keyword));
    changes.push_back(in);
  }
  std::string id = resolve(p, r.container);
  Container c = load(p, id);
  if (graph::choose_driver(p.root) != graph::DriverKind::overlay)
    throw lab::UserError(
        "commit needs the overlay driver: vfs keeps a whole copy, not the container's changes");

  std::optional<Freeze> freeze;
  if (c.status == "running" && r.pause) freeze.emplace(id, explain);

  // The config: the parent's, with what the container was run with, then the changes.
  graph::Store store(p.root);
  auto lock = store.lock(graph::LockMode::exclusive);
  graph::Image parent = store.image(c.image_id);
  json config = parent.config.value("config", json::object());
  if (!config.is_object()) config = json::object();
  for (const char* key : {"Cmd", "Env", "Entrypoint", "WorkingDir", "User"})
    if (c.config.contains(key)) config[key] = c.config[key];
  dockerfile::ConfigState state;
  for (const auto& change : changes) {
    dockerfile::apply_config(change, config, state, [&](const std::string& name) {
      return dockerfile::env_value(config["Env"], name);
    });
  }

  NewImage image;
  image.parent = c.image_id;
  image.layer_dir = graph::rw_layer_dir(p.root, graph::DriverKind::overlay, id);
  image.config = config;
  image.created_by = c.path;
  for (const std::string& arg : c.args) image.created_by += " " + arg;
  image.comment = r.message;
  image.author = r.author;
  explain.step("graph", fmt::format("commit container {}: its rw layer becomes a layer of a new "
                                    "image on top of {}",
                                    id.substr(0, 12), c.image_id.substr(7, 12)));
  std::string image_id = add_image(store, image, p.explain);
  if (!r.reference.empty()) store.tag(image_id, r.reference);
  return image_id;
}

}  // namespace engine
