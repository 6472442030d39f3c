// The daemon's routes for images: pull and import (POST /images/create), push, tag, rmi, history,
// load, save, image prune, commit and build. Each calls the job its CLI verb calls
// (final/client/images.cpp, load_save.cpp, pull_push.cpp; final/engine/build.cpp, commit.cpp)
// and answers as dockerd does: a JSON document, or for the long jobs (pull, push, build) Docker's
// progress JSON streamed as the job goes (messages.hpp), or save's tar itself.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "daemon/handlers.hpp"
#include "daemon/messages.hpp"
#include "engine/build.hpp"
#include "engine/commit.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "graph/image_archive.hpp"
#include "graph/layer_archive.hpp"
#include "mount.hpp"
#include "registry/distribution.hpp"

namespace api {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The image store with its exclusive lock, for a request that writes (tag, rmi, load, import).
struct WriteStore {
  explicit WriteStore(const Engine& engine)
      : store(client::open_store({engine.root, false, ""})),
        lock(store->lock(graph::LockMode::exclusive)) {}
  std::unique_ptr<graph::Store> store;
  graph::StoreLock lock;
};

// A body of JSON messages answered at once (load, import: short jobs done under the request).
Response json_lines(const std::vector<json>& messages) {
  Response r;
  for (const json& m : messages) r.body += m.dump() + "\r\n";
  return r;
}

// Runs a streamed job: its failure becomes the stream's last message, as dockerd's. A client
// that has gone ends it quietly, also while that message is sent: the docker client leaves as
// soon as it has read an error, before the chunk's closing CRLF.
void run_streamed(JsonMessages& messages, const std::function<void()>& job) {
  try {
    try {
      job();
    } catch (const ClientGone&) {
      throw;
    } catch (const engine::BuildFailure& e) {
      messages.error(e.what(), e.code);
    } catch (const engine::RunError& e) {
      messages.error(e.what(), e.code);
    } catch (const std::exception& e) {
      messages.error(e.what());
    }
  } catch (const ClientGone&) {
  }
}

// "busybox" and tag "1.36" -> "busybox:1.36"; a tag that is a digest gives "busybox@sha256:...",
// as the client splits a reference into fromImage and tag.
std::string join_reference(const std::string& name, const std::string& tag) {
  if (tag.empty()) return name;
  return name + (tag.starts_with("sha256:") ? "@" : ":") + tag;
}

// The image `name` names, or dockerd's 404: "No such image: busybox:latest" (a name gets its
// default tag in the message, as the daemon normalizes it; an id prefix stays as given).
std::string resolve_image(const graph::Store& store, const std::string& name) {
  if (auto id = store.find(name)) return *id;
  std::string shown = name;
  try {
    shown = graph::normalize_tag(name);
  } catch (const lab::UserError&) {
  }
  throw lab::UserError("No such image: " + shown);
}

// ---- pull and import -------------------------------------------------------------------------

// POST /images/create?fromImage=NAME&tag=TAG: `docker pull`, its progress streamed. The
// X-Registry-Auth header the client sends is not read: our registry client speaks only to
// registries that need no credentials (anonymous bearer tokens, as Docker Hub's public images).
Response pull(const Engine& engine, const Request& request) {
  std::string name = join_reference(request.query.at("fromImage"),
                                    request.query.contains("tag") ? request.query.at("tag") : "");
  registry::parse_reference(name);  // "invalid reference format": a 400 before any stream
  Response r;
  r.stream = [root = engine.root, name](Connection& connection) {
    JsonMessages messages(connection);
    run_streamed(messages, [&] {
      JsonTransferEvents events(messages);
      client::pull_image({root, false, ""}, name, events);
    });
  };
  return r;
}

// POST /images/create?fromSrc=-&repo=NAME&tag=TAG&message=TEXT: `docker import`, the layer tar
// in the body. The answer is {"status": "<image id>"}.
Response import(const Engine& engine, const Request& request) {
  const std::string& source = request.query.at("fromSrc");
  if (source != "-")
    throw lab::UserError(fmt::format("import from a URL is not supported: {}", source));
  if (!query_all(request, "changes").empty())
    throw lab::UserError("import with --change is not supported by this daemon");
  auto value = [&](const char* key) {
    auto it = request.query.find(key);
    return it == request.query.end() ? std::string() : it->second;
  };
  std::string name = value("repo").empty() ? "" : join_reference(value("repo"), value("tag"));
  std::string message = value("message");
  WriteStore write(engine);
  BodyPipe body(request.body);
  std::string id = client::import_image(*write.store, body.fd(), name,
                                        message.empty() ? "Imported from -" : message);
  return json_lines({{{"status", id}}});
}

Response create_image(const Engine& engine, const Request& request) {
  if (request.query.contains("fromSrc")) return import(engine, request);
  if (request.query.contains("fromImage")) return pull(engine, request);
  throw lab::UserError("fromImage or fromSrc is required");
}

// ---- push ------------------------------------------------------------------------------------

// POST /images/{name}/push?tag=TAG: `docker push`, its progress streamed, then Docker's aux
// message with the manifest's digest and size.
Response push(const Engine& engine, const Request& request) {
  std::string name = join_reference(request.params.at("name"),
                                    request.query.contains("tag") ? request.query.at("tag") : "");
  registry::parse_reference(name);
  Response r;
  r.stream = [root = engine.root, name](Connection& connection) {
    JsonMessages messages(connection);
    run_streamed(messages, [&] {
      JsonTransferEvents events(messages);
      client::PushResult pushed = client::push_image({root, false, ""}, name, events);
      messages.send(
          {{"progressDetail", nlohmann::ordered_json::object()},
           {"aux", {{"Tag", pushed.tag}, {"Digest", pushed.digest}, {"Size", pushed.size}}}});
    });
  };
  return r;
}

// ---- tag, rmi, history -----------------------------------------------------------------------

// POST /images/{name}/tag?repo=NAME&tag=TAG: 201, no body.
Response tag(const Engine& engine, const Request& request) {
  auto repo = request.query.find("repo");
  if (repo == request.query.end() || repo->second.empty())
    throw lab::UserError("repository name must have at least one component");
  std::string target =
      join_reference(repo->second, request.query.contains("tag") ? request.query.at("tag") : "");
  graph::normalize_tag(target);
  WriteStore write(engine);
  write.store->tag(resolve_image(*write.store, request.params.at("name")), target);
  Response r;
  r.status = 201;
  return r;
}

// DELETE /images/{name}?force=&noprune=: what was untagged and deleted, in order; Docker's
// conflicts (an image a container uses, one with several names asked for by id, one with
// children) are 409.
Response remove(const Engine& engine, const Request& request) {
  return with_statuses({{"conflict: ", 409}}, [&] {
    WriteStore write(engine);
    std::vector<std::pair<std::string, std::string>> done;
    client::remove_image(*write.store, request.params.at("name"), query_bool(request, "force"),
                         !query_bool(request, "noprune"), done);
    json out = json::array();
    for (const auto& [what, name] : done) out.push_back({{what, name}});
    return json_response(out);
  });
}

// GET /images/{name}/history: newest first; Id "<missing>" where no image of the store is.
Response history(const Engine& engine, const Request& request) {
  ReadStore read(engine);
  std::string id = resolve_image(*read.store, request.params.at("name"));
  json out = json::array();
  for (const client::HistoryRow& row : client::image_history(*read.store, read.store->image(id)))
    out.push_back({{"Id", row.image},
                   {"Created", row.created},
                   {"CreatedBy", row.created_by},
                   {"Tags", row.tags.empty() ? json(nullptr) : json(row.tags)},
                   {"Size", row.size},
                   {"Comment", row.comment}});
  return json_response(out);
}

// ---- load and save ---------------------------------------------------------------------------

// POST /images/load?quiet=: the archive is the body (docker save's or an OCI layout, maybe
// compressed). One {"stream": "Loaded image: NAME\n"} per name, as dockerd; no progress bar,
// quiet or not (the job runs before the answer: the body is all here already).
Response load(const Engine& engine, const Request& request) {
  query_bool(request, "quiet");  // checked, as dockerd does
  WriteStore write(engine);
  BodyPipe body(request.body);
  std::vector<json> lines;
  for (const graph::LoadedImage& image : graph::load_image_archive(*write.store, body.fd())) {
    if (image.tags.empty()) lines.push_back({{"stream", "Loaded image ID: " + image.id + "\n"}});
    for (const std::string& tag : image.tags)
      lines.push_back({{"stream", "Loaded image: " + tag + "\n"}});
  }
  return json_lines(lines);
}

// GET /images/get?names=A&names=B and GET /images/{name}/get: the docker-save tar, written
// straight to the socket as it is made (no Content-Length: the end of the connection ends it).
// The names are checked first, so a missing one is a 404, not a broken tar.
Response save(const Engine& engine, const std::vector<std::string>& names) {
  if (names.empty()) throw lab::UserError("no images to save: names= is required");
  auto read = std::make_shared<ReadStore>(engine);
  for (const std::string& name : names) resolve_image(*read->store, name);
  Response r;
  r.content_type = "application/x-tar";
  r.raw = true;
  r.stream = [read, names](Connection& connection) {
    SigpipeBlocked blocked;
    try {
      graph::save_image_archive(*read->store, names, connection.fd());
    } catch (const std::exception&) {
      // The client sees a tar cut short: the status line went before the first byte (dockerd
      // can do no better).
    }
  };
  return r;
}

Response save_names(const Engine& engine, const Request& request) {
  return save(engine, query_all(request, "names"));
}

Response save_one(const Engine& engine, const Request& request) {
  return save(engine, {request.params.at("name")});
}

// POST /images/prune?filters={"dangling":["false"]}: dangling images, or with dangling=false
// (`image prune -a`) every image no container uses.
Response prune(const Engine& engine, const Request& request) {
  json filters = query_json(request, "filters");
  bool all = false;
  for (const auto& filter : filters.items()) {
    const std::string& key = filter.key();
    std::vector<std::string> given = filter_values(filters, key);
    if (key != "dangling" || given.size() != 1)
      throw lab::UserError(
          fmt::format("invalid filter '{}': only dangling=true|false is supported", key));
    if (given[0] == "false" || given[0] == "0") {
      all = true;
    } else if (given[0] != "true" && given[0] != "1") {
      throw lab::UserError(fmt::format("invalid filter 'dangling={}'", given[0]));
    }
  }
  WriteStore write(engine);
  graph::RemoveResult result = write.store->prune(all);
  json deleted = json::array();
  for (const std::string& tag : result.untagged) deleted.push_back({{"Untagged", tag}});
  for (const std::string& id : result.deleted) deleted.push_back({{"Deleted", id}});
  return json_response({{"ImagesDeleted", deleted.empty() ? json(nullptr) : deleted},
                        {"SpaceReclaimed", result.reclaimed}});
}

// ---- commit and build ------------------------------------------------------------------------

// POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=: 201 {"Id": ...}. The body
// may hold a container config to merge (docker-py sends one); only an empty one is accepted,
// the --change instructions say the same things.
Response commit(const Engine& engine, const Request& request) {
  if (!request.body.empty()) {
    json config = json::parse(request.body, nullptr, false);
    if (config.is_discarded()) throw lab::UserError("invalid JSON in the body of POST /commit");
    if (!config.is_null() && !(config.is_object() && config.empty()))
      throw lab::UserError(
          "a container config in the body of POST /commit is not supported by this daemon: "
          "use changes= (docker commit --change)");
  }
  auto value = [&](const char* key) {
    auto it = request.query.find(key);
    return it == request.query.end() ? std::string() : it->second;
  };
  engine::CommitRequest commit;
  commit.container = value("container");
  if (commit.container.empty()) throw lab::UserError("container= is required");
  commit.reference = value("repo").empty() ? "" : join_reference(value("repo"), value("tag"));
  commit.message = value("comment");
  commit.author = value("author");
  commit.changes = query_all(request, "changes");
  // Docker pauses unless told pause=0 (an absent pause is true, since API 1.13).
  commit.pause = value("pause").empty() || query_bool(request, "pause");
  std::string id = engine::commit(engine::paths_for(engine.root, false), commit);
  return json_response({{"Id", id}}, 201);
}

// A member of the build context by its path in the tar, resolved inside the context (a symlink
// may not lead out of it: its bytes are all the daemon was given).
std::string path_in_context(const std::string& context, const std::string& relative) {
  fs::path joined = (fs::path(context) / fs::path(relative).relative_path()).lexically_normal();
  std::error_code ec;
  fs::path real = fs::weakly_canonical(joined, ec);
  std::string base = fs::canonical(context).string();
  if (ec || !real.string().starts_with(base + "/") || !fs::is_regular_file(real))
    throw lab::UserError(fmt::format("Cannot locate specified Dockerfile: {}", relative));
  return real.string();
}

// POST /build?t=&dockerfile=&q=&nocache=&buildargs=&labels=&rm=: the classic builder (the docker
// client's without DOCKER_BUILDKIT=1). The body is the context as a tar (the client has applied
// .dockerignore); it is unpacked under the engine root, built by engine::build as the CLI's
// `build DIR` does, and removed. The builder's lines go out as {"stream": ...} as it writes
// them, then {"aux": {"ID": ...}}; a failing step ends the stream with its errorDetail.
// POST /build/prune (`docker builder prune`, and the last step of `docker system prune`): our
// build cache is no store of its own but the images' parent chain (a step's image is the cache
// of that step), which `image prune` and `rmi` clear; there is nothing else to delete.
Response prune_build_cache(const Engine&, const Request&) {
  return json_response({{"CachesDeleted", nlohmann::json::array()}, {"SpaceReclaimed", 0}});
}

Response build(const Engine& engine, const Request& request) {
  auto value = [&](const char* key) {
    auto it = request.query.find(key);
    return it == request.query.end() ? std::string() : it->second;
  };
  if (!value("remote").empty())
    throw lab::UserError("a remote build context (a URL) is not supported by this daemon");
  if (!value("target").empty())
    throw lab::UserError("--target: multi-stage builds are not supported by this daemon");
  // rm (default true) removes each RUN's container after a successful step; forcerm also after
  // a failed one. Our builder always removes them, which is what rm=1&forcerm=1 asks for.
  if (request.query.contains("rm") && !query_bool(request, "rm"))
    throw lab::UserError("--rm=false (keeping intermediate containers) is not supported");

  engine::BuildRequest r;
  r.tags = query_all(request, "t");
  for (const std::string& tag : r.tags) graph::normalize_tag(tag);
  r.no_cache = query_bool(request, "nocache");
  r.quiet = query_bool(request, "q");
  json build_args = query_json(request, "buildargs");
  for (const auto& [key, v] : build_args.items())
    if (v.is_string()) r.build_args[key] = v.get<std::string>();  // null: KEY unset, skipped

  // The context: unpacked as a layer is (libarchive, every path kept inside the directory; a file
  // named .wh.NAME would become a whiteout, which no context of Docker's holds either).
  auto dir = std::make_shared<lab::TempDir>(engine.root + "/build-context-");
  r.context = dir->path() + "/context";
  fs::create_directory(r.context);
  {
    BodyPipe body(request.body);
    graph::unpack_layer(body.fd(), r.context);
  }
  std::string dockerfile = value("dockerfile").empty() ? "Dockerfile" : value("dockerfile");
  r.dockerfile = path_in_context(r.context, dockerfile);
  // --label KEY=VALUE: Docker's classic builder adds one LABEL instruction at the end of the
  // Dockerfile (a step of its own); so do we, on a copy outside the context.
  json labels = query_json(request, "labels");
  if (!labels.empty()) {
    std::string text = lab::read_file(r.dockerfile) + "\nLABEL";
    for (const auto& [key, v] : labels.items())
      text += " " + json(key).dump() + "=" + json(v.is_string() ? v.get<std::string>() : "").dump();
    r.dockerfile = dir->path() + "/Dockerfile";
    lab::create_file(r.dockerfile, text + "\n");
  }

  Response response;
  response.stream = [root = engine.root, r, dir](Connection& connection) {
    JsonMessages messages(connection);
    JsonStreamBuf buf(messages);
    std::ostream out(&buf);
    out.exceptions(std::ios::badbit);  // a client gone ends the build (ClientGone)
    run_streamed(messages, [&] {
      std::string id;
      try {
        id = engine::build(engine::paths_for(root, false), r, out);
      } catch (const ClientGone&) {
        throw;
      } catch (...) {
        out.flush();  // what the step printed before it failed, then its error
        throw;
      }
      out.flush();
      messages.send({{"aux", {{"ID", id}}}});
      if (r.quiet) messages.stream(id + "\n");
    });
  };
  return response;
}

}  // namespace

std::vector<Route> image_routes(const Engine& engine) {
  auto with = [&engine](Response (*handler)(const Engine&, const Request&)) -> Handler {
    return [&engine, handler](const Request& request) { return handler(engine, request); };
  };
  return {
      {"POST", "/images/create", with(create_image)},
      {"POST", "/images/load", with(load)},
      {"GET", "/images/get", with(save_names)},
      {"POST", "/images/prune", with(prune)},
      {"GET", "/images/{name*}/history", with(history)},
      {"GET", "/images/{name*}/get", with(save_one)},
      {"POST", "/images/{name*}/push", with(push)},
      {"POST", "/images/{name*}/tag", with(tag)},
      {"DELETE", "/images/{name*}", with(remove)},
      {"POST", "/commit", with(commit)},
      {"POST", "/build", with(build)},
      {"POST", "/build/prune", with(prune_build_cache)},
  };
}

}  // namespace api
