// The image verbs: import, images, tag, rmi, history, image inspect, image prune, system df.
// Each is also a client of the daemon (-H): the facts come from its routes (final/daemon/
// routes*.cpp) instead of the store, and the same code prints them.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "client/engine.hpp"
#include "daemon/http_client.hpp"
#include "engine/containers.hpp"
#include "engine/volumes.hpp"
#include "error.hpp"
#include "graph/digest.hpp"
#include "graph/driver.hpp"
#include "graph/layer_archive.hpp"

namespace client {

namespace {

using graph::LockMode;

// The width of a cell as a terminal shows it (UTF-8 continuation bytes take no column).
size_t display_width(std::string_view text) {
  size_t width = 0;
  for (char c : text)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;
  return width;
}

// Docker's tables: text/tabwriter with minwidth 10, padding 3; the last column is not padded.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows)
    for (size_t i = 0; i + 1 < row.size(); ++i) {
      if (widths.size() <= i) widths.resize(i + 1, 0);
      widths[i] = std::max(widths[i], std::max<size_t>(10, display_width(row[i]) + 3));
    }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - display_width(row[i]), ' ');
    }
    std::cout << line << '\n';
  }
}

std::string short_id(const std::string& id, bool no_trunc) {
  if (no_trunc) return id;
  return id.substr(id.find(':') + 1, 12);
}

std::string created_since(int64_t created) {
  if (created == 0) return "N/A";
  return graph::human_duration(static_cast<int64_t>(std::time(nullptr)) - created) + " ago";
}

// Docker's stringutils.Ellipsis: at most `max` characters, the last one "…" when cut.
std::string ellipsis(const std::string& text, size_t max) {
  if (display_width(text) <= max) return text;
  std::string out;
  size_t width = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    bool starts_char = (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    if (starts_char && ++width > max - 1) break;
    out += text[i];
  }
  return out + "…";
}

// The layer's media type from its first bytes: gzip and zstd have magic numbers, a tar has none.
std::string layer_media_type(int fd) {
  unsigned char magic[4] = {};
  ssize_t n = ::pread(fd, magic, sizeof magic, 0);
  if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) return graph::kOciLayerGzipType;
  if (n == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
    return "application/vnd.oci.image.layer.v1.tar+zstd";
  return graph::kOciLayerType;
}

// ---- import ----------------------------------------------------------------------------------

struct ImportOptions {
  std::string source;
  std::string name;
  std::string message;
};

// A directory as the layer tar Docker would have been given: written to `fd`, which is then
// rewound to be read.
void export_directory(const std::string& dir, int fd, const Narration& narration) {
  narration.step("05",
                 fmt::format("export {} as a layer tar (overlay whiteouts become .wh. files)", dir),
                 fmt::format("tar -c -C {} .", dir));
  graph::export_layer(dir, fd);
  lab::check(::lseek(fd, 0, SEEK_SET), [&] { return fmt::format("lseek(the tar of {}, 0)", dir); });
}

int import_verb(const EngineOptions& options, const ImportOptions& opt) {
  if (!opt.name.empty()) graph::normalize_tag(opt.name);  // refused before any work
  if (opt.source.find("://") != std::string::npos)
    throw lab::UserError(fmt::format("import from a URL is not supported: {}", opt.source));
  std::string comment = opt.message.empty() ? "Imported from " + opt.source : opt.message;
  Narration narration(options.explain);
  struct stat st {};
  if (opt.source != "-" && ::stat(opt.source.c_str(), &st) == -1)
    throw lab::UserError(fmt::format("{}: {}", opt.source, std::strerror(errno)));

  if (!options.host.empty()) {
    // The layer tar is the body of POST /images/create?fromSrc=-, as `docker import` sends it;
    // a directory is made into that tar here first, in an unnamed file of TMPDIR.
    lab::UniqueFd owned;
    int fd = STDIN_FILENO;
    if (opt.source != "-") {
      if (S_ISDIR(st.st_mode)) {
        const char* tmp = std::getenv("TMPDIR");
        std::string dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
        owned = lab::open_fd(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        export_directory(opt.source, owned.get(), narration);
      } else {
        owned = lab::open_fd(opt.source, O_RDONLY | O_CLOEXEC);
      }
      fd = owned.get();
    }
    std::string target = "/images/create?fromSrc=-&message=" + api::url_escape(comment);
    if (!opt.name.empty()) target += "&repo=" + api::url_escape(opt.name);
    api::ResponseStream stream = api::DaemonClient(options.host, options.explain)
                                     .upload("POST", target, "application/x-tar", fd);
    // {"status": "<image id>"}, as dockerd answers.
    api::read_messages(stream, [](const nlohmann::json& m) {
      if (m.contains("status")) std::cout << m.value("status", "") << '\n';
    });
    return 0;
  }

  auto store = open_store(options);
  auto lock = store->lock(LockMode::exclusive);
  lab::UniqueFd owned;
  int fd = STDIN_FILENO;
  std::optional<graph::StagingDir> stage;
  if (opt.source != "-") {
    if (S_ISDIR(st.st_mode)) {
      // A directory becomes the tar Docker would have been given, then takes the tar's path.
      stage.emplace(store->staging());
      owned =
          lab::open_fd(stage->path() + "/layer.tar", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      export_directory(opt.source, owned.get(), narration);
    } else {
      owned = lab::open_fd(opt.source, O_RDONLY | O_CLOEXEC);
    }
    fd = owned.get();
  }
  std::cout << import_image(*store, fd, opt.name, comment) << '\n';
  return 0;
}

// ---- images ----------------------------------------------------------------------------------

struct ListOptions {
  bool quiet = false, all = false, no_trunc = false, digests = false;
  std::string repository;
};

// The images table (or -q's ids) of `listed`: the store's in-process, GET /images/json's through a
// daemon.
void print_images(const std::vector<graph::Image>& listed, const ListOptions& opt) {
  std::optional<graph::Reference> filter;
  if (!opt.repository.empty()) {
    filter = graph::parse_reference(opt.repository);
    if (opt.repository.find(':', opt.repository.rfind('/') + 1) == std::string::npos)
      filter->tag.clear();  // "busybox" lists every tag of busybox
  }
  std::vector<std::vector<std::string>> rows = {
      {"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}};
  if (opt.digests) rows[0].insert(rows[0].begin() + 2, "DIGEST");
  const size_t id_column = opt.digests ? 3 : 2;
  for (const graph::Image& img : listed) {
    // Docker's CLI (cli/command/formatter/image.go): one row per tag, and with --digests one per
    // tag and digest of the same repository; a repository known only by a digest (a pull by
    // digest, an untagged push) is a row of its own, its tag <none>.
    std::vector<std::pair<std::string, std::vector<std::string>>> digests_of;  // in their order
    for (const std::string& d : img.repo_digests) {
      size_t at = d.find('@');
      if (at == std::string::npos) continue;
      auto it = std::find_if(digests_of.begin(), digests_of.end(),
                             [&](const auto& e) { return e.first == d.substr(0, at); });
      if (it == digests_of.end()) it = digests_of.insert(digests_of.end(), {d.substr(0, at), {}});
      it->second.push_back(d.substr(at + 1));
    }
    std::vector<std::array<std::string, 3>> names;  // repository, tag, digest
    for (const std::string& tag : img.repo_tags) {
      graph::Reference ref = graph::parse_reference(tag);
      if (filter && (ref.name != filter->name || (!filter->tag.empty() && ref.tag != filter->tag)))
        continue;
      auto it = std::find_if(digests_of.begin(), digests_of.end(),
                             [&](const auto& e) { return e.first == ref.name; });
      if (it == digests_of.end() || !opt.digests) {
        names.push_back({ref.name, ref.tag, "<none>"});
      } else {
        for (const std::string& digest : it->second) names.push_back({ref.name, ref.tag, digest});
      }
    }
    for (const auto& [repo, digests] : digests_of) {
      bool tagged = std::any_of(img.repo_tags.begin(), img.repo_tags.end(), [&](const auto& t) {
        return graph::parse_reference(t).name == repo;
      });
      if (tagged || (filter && (repo != filter->name || !filter->tag.empty()))) continue;
      if (!opt.digests) {
        names.push_back({repo, "<none>", "<none>"});
      } else {
        for (const std::string& digest : digests) names.push_back({repo, "<none>", digest});
      }
    }
    if (img.repo_tags.empty() && img.repo_digests.empty() && !filter)
      names.push_back({"<none>", "<none>", "<none>"});
    for (const auto& [name, tag, digest] : names) {
      rows.push_back({name, tag, short_id(img.id, opt.no_trunc), created_since(img.created),
                      graph::human_size(static_cast<double>(img.size))});
      if (opt.digests) rows.back().insert(rows.back().begin() + 2, digest);
    }
  }
  if (opt.quiet) {
    for (size_t i = 1; i < rows.size(); ++i) std::cout << rows[i][id_column] << '\n';
  } else {
    print_table(rows);
  }
}

int list_images(const EngineOptions& options, const ListOptions& opt) {
  if (!options.host.empty()) {
    api::DaemonClient daemon(options.host, options.explain);
    std::vector<graph::Image> listed;
    for (const nlohmann::json& j : nlohmann::json::parse(
             daemon.checked("GET", fmt::format("/images/json?all={}", opt.all ? 1 : 0)).body)) {
      graph::Image img;
      img.id = j["Id"];
      for (const std::string& tag : j.value("RepoTags", std::vector<std::string>{}))
        if (tag != "<none>:<none>") img.repo_tags.push_back(tag);
      for (const std::string& digest : j.value("RepoDigests", std::vector<std::string>{}))
        if (digest != "<none>@<none>") img.repo_digests.push_back(digest);
      img.created = j.value("Created", int64_t{0});
      img.size = j.value("Size", uint64_t{0});
      listed.push_back(std::move(img));
    }
    print_images(listed, opt);
    return 0;
  }
  auto store = open_store(options);
  auto lock = store->lock(LockMode::shared);
  print_images(listed_images(*store, opt.all), opt);
  return 0;
}

// ---- tag and rmi -----------------------------------------------------------------------------

int tag_image(const EngineOptions& options, const std::string& source, const std::string& target) {
  graph::normalize_tag(target);
  if (!options.host.empty()) {
    // Docker's CLI splits the target at its tag's colon (after the last slash: a registry's
    // port is not a tag): POST /images/SOURCE/tag?repo=NAME&tag=TAG.
    size_t colon = target.rfind(':'), slash = target.rfind('/');
    if (colon != std::string::npos && slash != std::string::npos && colon < slash)
      colon = std::string::npos;
    std::string repo = target.substr(0, colon);
    std::string tag = colon == std::string::npos ? "" : target.substr(colon + 1);
    api::DaemonClient(options.host, options.explain)
        .checked("POST", fmt::format("/images/{}/tag?repo={}&tag={}", source, api::url_escape(repo),
                                     api::url_escape(tag)));
    return 0;
  }
  auto store = open_store(options);
  auto lock = store->lock(LockMode::exclusive);
  store->tag(store->resolve(source), target);
  return 0;
}

// After an image is deleted, Docker's prune of its parents (moby's imageDeleteHelper with prune):
// each parent that has no tag, no other child and no container goes too ("Deleted: <id>", then
// its layers no other image has); the first one that stays ends the walk quietly, but one a
// container uses is reported, as Docker's conflict.
void prune_parents(graph::Store& store, std::string parent,
                   std::vector<std::pair<std::string, std::string>>& done) {
  while (!parent.empty() && store.find(parent)) {
    graph::Image img = store.image(parent);
    if (!img.repo_tags.empty() || !store.children(parent).empty()) return;
    std::vector<std::string> users = store.containers_using(parent);
    if (!users.empty())
      throw lab::UserError(fmt::format(
          "conflict: unable to delete {} (must be forced) - image is being used by container {}",
          short_id(parent, false), users.front().substr(0, 12)));
    graph::RemoveResult result = store.remove_image(parent);
    for (const std::string& deleted : result.deleted) done.emplace_back("Deleted", deleted);
    parent = img.parent;
  }
}

}  // namespace

// rmi of one reference, Docker's rules: a name of an image with more names only untags; an id of
// an image with several names, or of one a container uses, needs -f; -f on an image a container
// uses untags it and keeps it (the container still needs its layers). An image others are made
// on (its children: build steps, commits) is never deleted: by its id that is a conflict even
// with -f, by its last name it is only untagged and stays as their intermediate. A deleted
// image's untagged parents go with it unless `prune` is false (--no-prune).
void remove_image(graph::Store& store, const std::string& ref, bool force, bool prune,
                  std::vector<std::pair<std::string, std::string>>& done) {
  std::string id = store.resolve(ref);
  graph::Image img = store.image(id);
  std::string by_name;
  try {
    std::string key = graph::normalize_tag(ref);
    auto tags = store.tags();
    if (auto it = tags.find(key); it != tags.end() && it->second == id) by_name = key;
  } catch (const lab::UserError&) {
    // An id or id prefix, not a name.
  }
  if (!by_name.empty() && img.repo_tags.size() > 1) {
    store.untag(by_name);
    done.emplace_back("Untagged", by_name);
    return;
  }
  std::string short_form = short_id(id, false);
  if (by_name.empty() && img.repo_tags.size() > 1 && !force)
    throw lab::UserError(fmt::format(
        "conflict: unable to delete {} (must be forced) - image is referenced in multiple "
        "repositories",
        short_form));
  bool has_children = !store.children(id).empty();
  if (by_name.empty() && has_children)
    throw lab::UserError(fmt::format(
        "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
        short_form));
  std::vector<std::string> users = store.containers_using(id);
  if (!users.empty()) {
    if (!force) {
      if (!by_name.empty())
        throw lab::UserError(fmt::format(
            "conflict: unable to remove repository reference \"{}\" (must force) - container {} "
            "is using its referenced image {}",
            ref, users.front().substr(0, 12), short_form));
      throw lab::UserError(fmt::format(
          "conflict: unable to delete {} (must be forced) - image is being used by container {}",
          short_form, users.front().substr(0, 12)));
    }
    for (const std::string& tag : img.repo_tags) {
      store.untag(tag);
      done.emplace_back("Untagged", tag);
    }
    return;
  }
  if (has_children) {
    store.untag(by_name);
    done.emplace_back("Untagged", by_name);
    return;
  }
  graph::RemoveResult result = store.remove_image(id);
  for (const std::string& tag : result.untagged) done.emplace_back("Untagged", tag);
  for (const std::string& deleted : result.deleted) done.emplace_back("Deleted", deleted);
  if (prune) prune_parents(store, img.parent, done);
}

namespace {

int remove_images(const EngineOptions& options, const std::vector<std::string>& refs, bool force,
                  bool prune) {
  if (!options.host.empty()) {
    // DELETE /images/REF answers with what it did: [{"Untagged": ...}, {"Deleted": ...}].
    api::DaemonClient daemon(options.host, options.explain);
    int rc = 0;
    for (const std::string& ref : refs) {
      try {
        auto done = nlohmann::json::parse(
            daemon
                .checked("DELETE", fmt::format("/images/{}?force={}&noprune={}", ref, force ? 1 : 0,
                                               prune ? 0 : 1))
                .body);
        for (const auto& entry : done)
          for (const auto& [what, name] : entry.items())
            std::cout << what << ": " << name.get<std::string>() << '\n';
      } catch (const lab::UserError& e) {
        rc = report_user_error(e.what());
      }
    }
    return rc;
  }
  auto store = open_store(options);
  auto lock = store->lock(LockMode::exclusive);
  int rc = 0;
  // As Docker: every image is tried; each failure is one line, and the exit code says one failed.
  for (const std::string& ref : refs) {
    std::vector<std::pair<std::string, std::string>> done;
    std::string error;
    try {
      remove_image(*store, ref, force, prune, done);
    } catch (const lab::UserError& e) {
      error = e.what();
    }
    for (const auto& [what, name] : done) std::cout << what << ": " << name << '\n';
    if (!error.empty()) rc = report_user_error(error);
  }
  return rc;
}

// ---- history ---------------------------------------------------------------------------------

// The history table of `rows` (the store's in-process, GET /images/{name}/history's through a
// daemon).
void print_history(const std::vector<HistoryRow>& rows, bool no_trunc, bool quiet) {
  std::vector<std::vector<std::string>> table = {
      {"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"}};
  for (const HistoryRow& row : rows) {
    std::string created_by = row.created_by;
    std::replace(created_by.begin(), created_by.end(), '\t', ' ');
    table.push_back({row.image == "<missing>" ? row.image : short_id(row.image, no_trunc),
                     created_since(row.created), no_trunc ? created_by : ellipsis(created_by, 45),
                     graph::human_size(static_cast<double>(row.size)), row.comment});
  }
  if (quiet) {
    for (size_t i = 1; i < table.size(); ++i) std::cout << table[i][0] << '\n';
  } else {
    print_table(table);
  }
}

int history(const EngineOptions& options, const std::string& ref, bool no_trunc, bool quiet) {
  if (!options.host.empty()) {
    api::DaemonClient daemon(options.host, options.explain);
    std::vector<HistoryRow> rows;
    for (const nlohmann::json& j :
         nlohmann::json::parse(daemon.checked("GET", "/images/" + ref + "/history").body)) {
      HistoryRow row;
      row.image = j.value("Id", "");
      row.created = j.value("Created", int64_t{0});
      row.created_by = j.value("CreatedBy", "");
      row.comment = j.value("Comment", "");
      row.size = j.value("Size", uint64_t{0});
      rows.push_back(std::move(row));
    }
    print_history(rows, no_trunc, quiet);
    return 0;
  }
  auto store = open_store(options);
  auto lock = store->lock(LockMode::shared);
  print_history(image_history(*store, store->image(store->resolve(ref))), no_trunc, quiet);
  return 0;
}

// ---- image inspect ---------------------------------------------------------------------------

nlohmann::json inspect_json(const graph::Store& store, const graph::Image& img) {
  nlohmann::json diff_ids = nlohmann::json::array();
  for (const auto& layer : img.layers) diff_ids.push_back(layer.diff_id);
  std::string comment;
  if (auto h = img.config.value("history", nlohmann::json::array()); !h.empty())
    comment = h.back().value("comment", "");
  graph::DriverKind kind = graph::choose_driver(store.root());
  nlohmann::json data = nullptr;
  if (kind == graph::DriverKind::overlay && !img.layers.empty()) {
    // overlay2's view of an image: its top layer as the upper dir, the others as lowers.
    std::string lower;
    for (size_t i = img.layers.size() - 1; i-- > 0;)
      lower += (lower.empty() ? "" : ":") + store.layer_dir(img.layers[i].diff_id);
    data = {{"UpperDir", store.layer_dir(img.layers.back().diff_id)}};
    if (!lower.empty()) data["LowerDir"] = lower;
  }
  return {
      {"Id", img.id},
      {"RepoTags", img.repo_tags},
      {"RepoDigests", img.repo_digests},
      {"Parent", img.parent},
      {"Comment", comment},
      {"Created", img.config.value("created", "")},
      {"Author", img.config.value("author", "")},
      {"Config", img.config.value("config", nlohmann::json::object())},
      {"Architecture", img.config.value("architecture", "")},
      {"Os", img.config.value("os", "")},
      {"Size", img.size},
      {"GraphDriver", {{"Name", graph::driver_name(kind)}, {"Data", data}}},
      {"RootFS", {{"Type", "layers"}, {"Layers", diff_ids}}},
      {"Metadata", {{"ManifestDigest", img.manifest_digest}}},
  };
}

int inspect(const EngineOptions& options, const std::vector<std::string>& refs) {
  nlohmann::json out = nlohmann::json::array();
  std::vector<std::string> missing;
  if (!options.host.empty()) {
    // One GET /images/{name}/json per name, as Docker's CLI asks; a 404 is a missing one.
    api::DaemonClient daemon(options.host, options.explain);
    for (const std::string& ref : refs) {
      api::ClientReply reply = daemon.call("GET", "/images/" + ref + "/json");
      if (reply.status == 404) {
        missing.push_back(ref);
        continue;
      }
      api::throw_if_refused(reply);
      out.push_back(nlohmann::json::parse(reply.body));
    }
  } else {
    auto store = open_store(options);
    auto lock = store->lock(LockMode::shared);
    for (const std::string& ref : refs) {
      if (auto id = store->find(ref)) {
        out.push_back(inspect_json(*store, store->image(*id)));
      } else {
        missing.push_back(ref);
      }
    }
  }
  // Docker prints what it found (possibly []) and then one error line per missing name.
  std::cout << out.dump(4) << '\n';
  for (const std::string& ref : missing) report_user_error("No such image: " + ref);
  return missing.empty() ? 0 : 1;
}

// ---- image prune and system df ---------------------------------------------------------------

int prune(const EngineOptions& options, bool all, bool force) {
  if (!force) {
    std::cout << (all ? "WARNING! This will remove all images without at least one container "
                        "associated to them."
                      : "WARNING! This will remove all dangling images.")
              << "\nAre you sure you want to continue? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y") return 0;
  }
  graph::RemoveResult result;
  if (!options.host.empty()) {
    // -a is the filter dangling=false, as Docker's CLI sends it.
    std::string target = "/images/prune";
    if (all) target += "?filters=" + api::url_escape(R"({"dangling":["false"]})");
    nlohmann::json reply = nlohmann::json::parse(
        api::DaemonClient(options.host, options.explain).checked("POST", target).body);
    if (reply["ImagesDeleted"].is_array())
      for (const nlohmann::json& entry : reply["ImagesDeleted"]) {
        if (entry.contains("Untagged")) result.untagged.push_back(entry["Untagged"]);
        if (entry.contains("Deleted")) result.deleted.push_back(entry["Deleted"]);
      }
    result.reclaimed = reply.value("SpaceReclaimed", uint64_t{0});
  } else {
    auto store = open_store(options);
    auto lock = store->lock(LockMode::exclusive);
    result = store->prune(all);
  }
  if (!result.untagged.empty() || !result.deleted.empty()) {
    std::cout << "Deleted Images:\n";
    for (const std::string& tag : result.untagged) std::cout << "untagged: " << tag << '\n';
    for (const std::string& id : result.deleted) std::cout << "deleted: " << id << '\n';
    std::cout << '\n';
  }
  std::cout << "Total reclaimed space: "
            << graph::human_size(static_cast<double>(result.reclaimed), 4) << '\n';
  return 0;
}

// Docker's CLI sums GET /system/df's facts into its table (cli/command/formatter/disk_usage.go):
// an image is active when a container uses it, and what it holds alone (Size - SharedSize) is
// not reclaimable; a container is active when running or paused, its rw layer reclaimable when
// not; a volume is active when a container mounts it.
int system_df(const EngineOptions& options) {
  nlohmann::json df =
      options.host.empty()
          ? disk_usage_json(options)
          : nlohmann::json::parse(
                api::DaemonClient(options.host, options.explain).checked("GET", "/system/df").body);
  auto size_cell = [](uint64_t size) { return graph::human_size(static_cast<double>(size), 4); };
  auto reclaimable = [&](uint64_t reclaim, uint64_t total) {
    std::string text = size_cell(reclaim);
    if (total > 0) text += fmt::format(" ({}%)", reclaim * 100 / total);
    return text;
  };
  auto array = [&](const char* key) {
    return df.contains(key) && df[key].is_array() ? df[key] : nlohmann::json::array();
  };
  uint64_t layers = df.value("LayersSize", uint64_t{0}), used = 0;
  int active_images = 0;
  for (const nlohmann::json& img : array("Images"))
    if (img.value("Containers", 0) > 0) {
      ++active_images;
      used += img.value("Size", uint64_t{0}) - img.value("SharedSize", uint64_t{0});
    }
  uint64_t rw = 0, rw_reclaimable = 0;
  int running = 0;
  for (const nlohmann::json& c : array("Containers")) {
    std::string state = c.value("State", "");
    uint64_t size = c.value("SizeRw", uint64_t{0});
    rw += size;
    if (state == "running" || state == "paused" || state == "restarting") {
      ++running;
    } else {
      rw_reclaimable += size;
    }
  }
  uint64_t volumes = 0, volumes_reclaimable = 0;
  int mounted = 0;
  for (const nlohmann::json& v : array("Volumes")) {
    nlohmann::json usage = v.value("UsageData", nlohmann::json::object());
    uint64_t size = usage.value("Size", uint64_t{0});
    volumes += size;
    if (usage.value("RefCount", 0) > 0) {
      ++mounted;
    } else {
      volumes_reclaimable += size;
    }
  }
  print_table({
      {"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"},
      {"Images", std::to_string(array("Images").size()), std::to_string(active_images),
       size_cell(layers), reclaimable(layers - std::min(used, layers), layers)},
      {"Containers", std::to_string(array("Containers").size()), std::to_string(running),
       size_cell(rw), reclaimable(rw_reclaimable, rw)},
      {"Local Volumes", std::to_string(array("Volumes").size()), std::to_string(mounted),
       size_cell(volumes), reclaimable(volumes_reclaimable, volumes)},
      // Our build cache is the images' parent chain (routes_images.cpp): nothing of its own.
      {"Build Cache", "0", "0", "0B", "0B"},
  });
  return 0;
}

}  // namespace

std::string import_image(graph::Store& store, int fd, const std::string& name,
                         const std::string& comment) {
  if (!name.empty()) graph::normalize_tag(name);  // refused before any work
  // The blob is copied into staging (hashed on the way) and goes to disk in the background
  // while its layer is unpacked from it; it is renamed into blobs/ once both are done.
  graph::StagingDir stage = store.staging();
  const std::string staged = stage.path() + "/blob";
  lab::UniqueFd blob_fd = lab::open_fd(staged, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  const std::string blob = graph::copy_and_hash(fd, blob_fd.get(), staged);
  graph::BackgroundFsync to_disk({staged});
  lab::UniqueFd layer_fd = lab::open_fd(staged, O_RDONLY | O_CLOEXEC);
  std::string media_type = layer_media_type(layer_fd.get());
  std::string diff_id = store.add_layer(blob, layer_fd.get());
  to_disk.wait();
  store.adopt_blob(blob_fd.get(), staged, blob);

  std::string created = graph::rfc3339_now();
  nlohmann::json history = {
      {"created", created}, {"created_by", "minidocker import"}, {"comment", comment}};
  nlohmann::json config = {
      {"architecture", graph::go_architecture()},
      {"os", "linux"},
      {"created", created},
      {"config", nlohmann::json::object()},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id}}}},
      {"history", {history}},
  };
  std::string config_bytes = config.dump();
  std::string config_digest = store.put_blob(config_bytes);
  nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", graph::kOciManifestType},
      {"config",
       {{"mediaType", graph::kOciConfigType},
        {"digest", config_digest},
        {"size", config_bytes.size()}}},
      {"layers", {{{"mediaType", media_type}, {"digest", blob}, {"size", store.blob_size(blob)}}}},
  };
  std::string id = store.add_image(manifest.dump());
  if (!name.empty()) store.tag(id, name);
  return id;
}

std::vector<HistoryRow> image_history(const graph::Store& store, const graph::Image& img) {
  std::vector<HistoryRow> rows;  // oldest first, reversed at the end
  size_t layer = 0;
  const auto& entries = img.config.value("history", nlohmann::json::array());
  for (const auto& entry : entries) {
    HistoryRow row;
    if (!entry.value("empty_layer", false) && layer < img.layers.size())
      row.size = img.layers[layer++].size;
    row.created = graph::parse_rfc3339(entry.value("created", ""));
    row.created_by = entry.value("created_by", "");
    row.comment = entry.value("comment", "");
    rows.push_back(row);
  }
  // An image without history (some builders omit it): one row per layer.
  for (; layer < img.layers.size(); ++layer) {
    HistoryRow row;
    row.size = img.layers[layer].size;
    rows.push_back(row);
  }
  std::reverse(rows.begin(), rows.end());
  // The IMAGE column, as Docker fills it: the image on the newest row, then its parent, the
  // parent's parent... (a build's step images), one row each; "<missing>" past the last one here.
  std::string id = img.id;
  for (HistoryRow& row : rows) {
    if (id.empty() || !store.find(id)) {
      row.image = "<missing>";
      id.clear();
      continue;
    }
    graph::Image image = id == img.id ? img : store.image(id);
    row.image = id;
    row.tags = image.repo_tags;
    id = image.parent;
  }
  return rows;
}

std::vector<graph::Image> listed_images(const graph::Store& store, bool all) {
  std::vector<graph::Image> images = store.list_images();
  // An untagged image another is made on (a build step's, a commit's parent) is an intermediate
  // image: only -a lists it. An untagged one without children is dangling: always listed.
  std::set<std::string> parents;
  for (const graph::Image& img : images)
    if (!img.parent.empty()) parents.insert(img.parent);
  std::erase_if(images, [&](const graph::Image& img) {
    return img.repo_tags.empty() && !all && parents.count(img.id);
  });
  return images;
}

nlohmann::json disk_usage_json(const EngineOptions& options) {
  using json = nlohmann::json;
  engine::Paths paths = engine::paths_for(options.root, options.explain);
  std::vector<engine::Container> containers = engine::list(paths);
  json images = json::array();
  uint64_t layers_size = 0;
  {
    auto store = open_store(options);
    auto lock = store->lock(LockMode::shared);
    std::vector<graph::Image> all = store->list_images();
    std::map<std::string, int> layer_users;
    for (const graph::Image& img : all)
      for (const graph::LayerInfo& layer : img.layers) ++layer_users[layer.diff_id];
    layers_size = store->disk_usage().images_size;
    for (const graph::Image& img : all) {
      uint64_t shared = 0;
      for (const graph::LayerInfo& layer : img.layers)
        if (layer_users[layer.diff_id] > 1) shared += layer.size;
      json labels = img.config.value("config", json::object()).value("Labels", json::object());
      images.push_back({{"Id", img.id},
                        {"ParentId", img.parent},
                        {"RepoTags", img.repo_tags},
                        {"RepoDigests", img.repo_digests},
                        {"Created", img.created},
                        {"Size", img.size},
                        {"SharedSize", shared},
                        {"VirtualSize", img.size},
                        {"Labels", labels.is_object() ? labels : json::object()},
                        {"Containers", store->containers_using(img.id).size()}});
    }
  }
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  graph::DriverKind driver = graph::choose_driver(options.root);
  json listed = json::array();
  for (const engine::Container& c : containers) {
    std::string command = c.path;
    for (const std::string& a : c.args) command += " " + a;
    uint64_t size_rw = graph::tree_size(graph::rw_layer_dir(options.root, driver, c.id));
    listed.push_back({{"Id", c.id},
                      {"Names", {c.name}},
                      {"Image", c.image_name},
                      {"ImageID", c.image_id},
                      {"Command", command},
                      {"Created", graph::parse_rfc3339(c.created)},
                      {"State", c.paused ? "paused" : c.status},
                      {"Status", engine::status_text(c, now)},
                      {"SizeRw", size_rw},
                      {"SizeRootFs", size_rw},
                      {"Labels", json::object()},
                      {"Mounts", c.mounts}});
  }
  json volumes = json::array();
  for (const engine::Volume& v : engine::list_volumes(paths)) {
    json entry = engine::inspect_volume(v);
    entry["UsageData"] = {{"Size", graph::tree_size(v.mountpoint)},
                          {"RefCount", engine::containers_using(paths, v.name).size()}};
    volumes.push_back(entry);
  }
  return {{"LayersSize", layers_size},
          {"Images", images},
          {"Containers", listed},
          {"Volumes", volumes},
          {"BuildCache", json::array()}};
}

nlohmann::json image_inspect_json(const graph::Store& store, const graph::Image& image) {
  return inspect_json(store, image);
}

void add_image_verbs(CLI::App& app, const EngineOptions& options, std::function<int()>& action) {
  static ImportOptions import_options;
  auto* import_cmd = app.add_subcommand(
      "import", "Import the contents from a tarball to create a filesystem image");
  docker_args(import_cmd, "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]", at_least(1));
  import_cmd
      ->add_option("file", import_options.source, "a tar (plain, gzip or zstd), a directory, or -")
      ->required();
  import_cmd->add_option("repository", import_options.name, "NAME[:TAG] for the image");
  // Docker's CLI asks for at least one word and reads two: the rest are taken and not used.
  static std::vector<std::string> import_unused;
  import_cmd->add_option("unused", import_unused)->group("");
  import_cmd->add_option("--message,-m", import_options.message,
                         "the comment of the image's history entry");
  import_cmd->callback([&] { action = [&] { return import_verb(options, import_options); }; });

  static ListOptions list_options;
  auto add_list_flags = [&](CLI::App* cmd) {
    docker_args(cmd, "[OPTIONS] [REPOSITORY[:TAG]]", at_most(1));
    cmd->add_option("repository", list_options.repository, "only images of NAME[:TAG]");
    cmd->add_flag("--quiet,-q", list_options.quiet, "image IDs only");
    cmd->add_flag("--all,-a", list_options.all,
                  "also intermediate images (untagged build steps and commit parents)");
    cmd->add_flag("--no-trunc", list_options.no_trunc, "full image IDs");
    cmd->add_flag("--digests", list_options.digests, "a DIGEST column (RepoDigests: pull, push)");
    cmd->callback([&] { action = [&] { return list_images(options, list_options); }; });
  };
  add_list_flags(app.add_subcommand("images", "List images"));

  static std::string tag_source, tag_target;
  auto* tag_cmd =
      app.add_subcommand("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE");
  docker_args(tag_cmd, "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", exactly(2));
  tag_cmd->add_option("source", tag_source, "IMAGE[:TAG] or ID")->required();
  tag_cmd->add_option("target", tag_target, "NAME[:TAG]")->required();
  tag_cmd->callback([&] { action = [&] { return tag_image(options, tag_source, tag_target); }; });

  static std::vector<std::string> rmi_refs;
  static bool rmi_force = false, rmi_no_prune = false;
  auto add_rmi = [&](CLI::App* cmd) {
    docker_args(cmd, "[OPTIONS] IMAGE [IMAGE...]", at_least(1));
    cmd->add_option("image", rmi_refs, "IMAGE[:TAG] or ID")->required();
    cmd->add_flag("--force,-f", rmi_force, "also an image a container uses (it is then untagged)");
    cmd->add_flag("--no-prune", rmi_no_prune, "do not delete untagged parents");
    cmd->callback([&] {
      action = [&] { return remove_images(options, rmi_refs, rmi_force, !rmi_no_prune); };
    });
  };
  add_rmi(app.add_subcommand("rmi", "Remove one or more images"));

  static std::string history_ref;
  static bool history_no_trunc = false, history_quiet = false;
  auto* history_cmd = app.add_subcommand("history", "Show the history of an image");
  docker_args(history_cmd, "[OPTIONS] IMAGE", exactly(1));
  history_cmd->add_option("image", history_ref, "IMAGE[:TAG] or ID")->required();
  history_cmd->add_flag("--no-trunc", history_no_trunc, "do not shorten the output");
  history_cmd->add_flag("--quiet,-q", history_quiet, "image IDs only");
  history_cmd->callback([&] {
    action = [&] { return history(options, history_ref, history_no_trunc, history_quiet); };
  });

  auto* image_cmd = app.add_subcommand("image", "Manage images");
  image_cmd->require_subcommand(1);
  add_list_flags(image_cmd->add_subcommand("ls", "List images")->alias("list"));
  add_rmi(image_cmd->add_subcommand("rm", "Remove one or more images")->alias("remove"));
  static std::vector<std::string> inspect_refs;
  auto* inspect_cmd =
      image_cmd->add_subcommand("inspect", "Display detailed information on one or more images");
  docker_args(inspect_cmd, "[OPTIONS] IMAGE [IMAGE...]", at_least(1));
  inspect_cmd->add_option("image", inspect_refs, "IMAGE[:TAG] or ID")->required();
  inspect_cmd->callback([&] { action = [&] { return inspect(options, inspect_refs); }; });
  static bool prune_all = false, prune_force = false;
  auto* prune_cmd = image_cmd->add_subcommand("prune", "Remove unused images");
  docker_args(prune_cmd, "[OPTIONS]", kNoArgs);
  prune_cmd->add_flag("--all,-a", prune_all, "every image no container uses, not only dangling");
  prune_cmd->add_flag("--force,-f", prune_force, "do not ask");
  prune_cmd->callback([&] { action = [&] { return prune(options, prune_all, prune_force); }; });

  auto* system_cmd = app.add_subcommand("system", "Manage Docker");
  system_cmd->require_subcommand(1);
  auto* df_cmd = system_cmd->add_subcommand("df", "Show minidocker disk usage");
  docker_args(df_cmd, "[OPTIONS]", kNoArgs);
  df_cmd->callback([&] { action = [&] { return system_df(options); }; });
}

}  // namespace client
