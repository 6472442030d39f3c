#include "engine/commit.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>

#include "engine/dockerfile.hpp"
#include "engine/ops.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "graph/driver.hpp"
#include "graph/layer_archive.hpp"
#include "runtime/explain.hpp"

namespace engine {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Docker's commit --pause (the default): the container is paused for as long as its upper dir is
// read, so its files stand still, through the same path as `minidocker pause` (engine::pause:
// `<runtime> pause ID`, which freezes the cgroup, v1 freezer.state or v2 cgroup.freeze, and
// State.Paused): runc's containers too. One paused before is left paused.
class PauseDuring {
 public:
  PauseDuring(const Paths& p, const std::string& id) : paths_(p), id_(id) { pause(p, id); }
  ~PauseDuring() {
    try {
      unpause(paths_, id_);
    } catch (...) {
    }
  }
  PauseDuring(const PauseDuring&) = delete;
  PauseDuring& operator=(const PauseDuring&) = delete;

 private:
  const Paths& paths_;
  std::string id_;
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
  return store.add_image(manifest.dump(), in.parent);
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

  std::optional<PauseDuring> paused;
  if (c.status == "running" && !c.paused && r.pause) {
    paused.emplace(p, id);
    kill_point("commit-paused");
  }

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
