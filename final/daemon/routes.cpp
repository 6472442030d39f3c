#include "daemon/routes.hpp"

#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "client/engine.hpp"
#include "daemon/handlers.hpp"
#include "engine/containers.hpp"
#include "engine/networking.hpp"
#include "error.hpp"
#include "graph/driver.hpp"
#include "host.hpp"

namespace api {

namespace {

using json = nlohmann::json;

std::string os_release_name() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("PRETTY_NAME=")) {
      std::string value = line.substr(12);
      if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
      return value;
    }
  return "Linux";
}

// ---- system ----------------------------------------------------------------------------------

// GET and HEAD /_ping: the client's first request; it reads the API version from the headers.
Response ping(const Request& request) {
  Response r;
  r.content_type = "text/plain; charset=utf-8";
  r.body = request.method == "HEAD" ? "" : "OK";
  r.headers = {{"Api-Version", kApiVersion},
               {"Docker-Experimental", "false"},
               {"Ostype", "linux"},
               {"Server", std::string("minidocker/") + kServerVersion + " (linux)"},
               {"Cache-Control", "no-cache, no-store, must-revalidate"},
               {"Pragma", "no-cache"}};
  return r;
}

Response version(const Request&) {
  utsname u{};
  ::uname(&u);
  json details = {{"ApiVersion", kApiVersion},
                  {"MinAPIVersion", kMinApiVersion},
                  {"Os", "linux"},
                  {"Arch", graph::go_architecture()},
                  {"KernelVersion", u.release}};
  return json_response({
      {"Platform", {{"Name", "minidocker"}}},
      {"Components",
       json::array({{{"Name", "Engine"}, {"Version", kServerVersion}, {"Details", details}}})},
      {"Version", kServerVersion},
      {"ApiVersion", kApiVersion},
      {"MinAPIVersion", kMinApiVersion},
      {"GitCommit", ""},
      {"GoVersion", "none (C++20)"},
      {"Os", "linux"},
      {"Arch", graph::go_architecture()},
      {"KernelVersion", u.release},
  });
}

Response info(const Engine& engine, const Request&) {
  engine::Paths paths = engine::paths_for(engine.root, false);
  int running = 0, paused = 0, stopped = 0;
  std::vector<engine::Container> containers = engine::list(paths);
  for (const engine::Container& c : containers) {
    if (c.status == "running" && c.paused) {
      ++paused;
    } else if (c.status == "running") {
      ++running;
    } else {
      ++stopped;
    }
  }
  size_t images = 0;
  {
    ReadStore read(engine);
    images = read.store->list_images().size();
  }
  utsname u{};
  ::uname(&u);
  struct sysinfo si {};
  ::sysinfo(&si);
  char hostname[256] = {};
  ::gethostname(hostname, sizeof hostname - 1);
  lab::host::CgroupMode mode = lab::host::detect_cgroups().mode;
  return json_response({
      {"ID", ""},
      {"Containers", containers.size()},
      {"ContainersRunning", running},
      {"ContainersPaused", paused},
      {"ContainersStopped", stopped},
      {"Images", images},
      {"Driver", graph::driver_name(graph::choose_driver(engine.root))},
      {"DriverStatus", json::array()},
      {"Plugins",
       {{"Volume", {"local"}}, {"Network", {"bridge", "host", "none"}}, {"Log", {"json-file"}}}},
      {"MemoryLimit", true},
      {"SwapLimit", false},
      {"CpuCfsPeriod", true},
      {"CpuCfsQuota", true},
      {"CPUShares", true},  // --cpu-shares
      {"PidsLimit", true},
      {"IPv4Forwarding", true},
      {"Debug", false},
      {"NFd", 0},
      {"NGoroutines", 0},
      {"SystemTime", graph::rfc3339_now()},
      {"LoggingDriver", "json-file"},
      {"CgroupDriver", "cgroupfs"},
      {"CgroupVersion", mode == lab::host::CgroupMode::v2 ? "2" : "1"},
      {"KernelVersion", u.release},
      {"OperatingSystem", os_release_name()},
      {"OSType", "linux"},
      {"Architecture", u.machine},
      {"NCPU", ::sysconf(_SC_NPROCESSORS_ONLN)},
      {"MemTotal", static_cast<uint64_t>(si.totalram) * si.mem_unit},
      {"Name", hostname},
      {"ServerVersion", kServerVersion},
      {"DockerRootDir", paths.root},
      {"Runtimes", {{"minirunc", {{"path", paths.minirunc}}}, {"runc", {{"path", "runc"}}}}},
      {"DefaultRuntime", "minirunc"},
      {"Swarm", {{"LocalNodeState", "inactive"}, {"ControlAvailable", false}}},
      {"LiveRestoreEnabled", false},
      {"Isolation", ""},
      {"InitBinary", "docker-init"},
      {"SecurityOptions", json::array({"name=seccomp,profile=default"})},
      {"Warnings", json::array()},
  });
}

// ---- containers ------------------------------------------------------------------------------

// GET /containers/json: what `docker ps` needs, one object per container, newest first.
Response list_containers(const Engine& engine, const Request& request) {
  if (auto f = request.query.find("filters"); f != request.query.end()) {
    json filters = json::parse(f->second, nullptr, false);
    if (!filters.is_object() || !filters.empty())
      throw lab::UserError("filters are not supported by this daemon yet: " + f->second);
  }
  bool all = query_bool(request, "all");
  long limit = -1;
  if (auto l = request.query.find("limit"); l != request.query.end() && !l->second.empty()) {
    char* end = nullptr;
    limit = std::strtol(l->second.c_str(), &end, 10);
    if (*end != '\0') throw lab::UserError("invalid limit: " + l->second);
    if (limit > 0) all = true;  // Docker: a limit lists stopped containers too
  }
  engine::Paths paths = engine::paths_for(engine.root, false);
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  json out = json::array();
  for (const engine::Container& c : engine::list(paths)) {
    if (!all && c.status != "running" && !c.restarting) continue;
    if (limit > 0 && out.size() >= static_cast<size_t>(limit)) break;
    std::string command = c.path;
    for (const std::string& a : c.args) command += " " + a;
    json ports = json::array();
    if (c.status == "running")
      for (const network::PortMapping& m : engine::published_ports(paths, c.id))
        ports.push_back({{"IP", m.host_ip.empty() ? "0.0.0.0" : m.host_ip},
                         {"PrivatePort", m.container_port},
                         {"PublicPort", m.host_port},
                         {"Type", m.protocol}});
    json labels = c.config.value("Labels", json::object());
    out.push_back({
        {"Id", c.id},
        {"Names", {c.name}},
        {"Image", c.image_name},
        {"ImageID", c.image_id},
        {"Command", command},
        {"Created", graph::parse_rfc3339(c.created)},
        {"Ports", ports},
        {"Labels", labels.is_object() ? labels : json::object()},
        {"State", c.paused ? "paused" : c.restarting ? "restarting" : c.status},
        {"Status", engine::status_text(c, now)},
        {"HostConfig", {{"NetworkMode", c.host_config.value("NetworkMode", "default")}}},
        {"Mounts", c.mounts},
    });
  }
  return json_response(out);
}

// GET /containers/{id}/json: `minidocker inspect`'s object (engine::inspect).
Response inspect_container(const Engine& engine, const Request& request) {
  engine::Paths paths = engine::paths_for(engine.root, false);
  const std::string& ref = request.params.at("id");
  return json_response(engine::inspect(paths, engine::load(paths, engine::resolve(paths, ref))));
}

// ---- images ----------------------------------------------------------------------------------

// GET /images/json: what `docker images` needs (the same images `minidocker images` lists).
Response list_images(const Engine& engine, const Request& request) {
  if (auto f = request.query.find("filters"); f != request.query.end()) {
    json filters = json::parse(f->second, nullptr, false);
    if (!filters.is_object() || !filters.empty())
      throw lab::UserError("filters are not supported by this daemon yet: " + f->second);
  }
  ReadStore read(engine);
  json out = json::array();
  for (const graph::Image& img : client::listed_images(*read.store, query_bool(request, "all"))) {
    json labels = img.config.value("config", json::object()).value("Labels", json::object());
    out.push_back({
        {"Id", img.id},
        {"ParentId", img.parent},
        {"RepoTags", img.repo_tags.empty() ? json({"<none>:<none>"}) : json(img.repo_tags)},
        {"RepoDigests", img.repo_digests},
        {"Created", img.created},
        {"Size", img.size},
        {"VirtualSize", img.size},
        {"SharedSize", -1},
        {"Labels", labels.is_object() ? labels : json::object()},
        {"Containers", -1},
    });
  }
  return json_response(out);
}

// GET /images/{name}/json: `minidocker image inspect`'s object.
Response inspect_image(const Engine& engine, const Request& request) {
  ReadStore read(engine);
  const std::string& name = request.params.at("name");
  auto id = read.store->find(name);
  if (!id) throw lab::UserError("No such image: " + name);
  return json_response(client::image_inspect_json(*read.store, read.store->image(*id)));
}

}  // namespace

std::vector<Route> engine_routes(const Engine& engine) {
  auto with = [&engine](Response (*handler)(const Engine&, const Request&)) -> Handler {
    return [&engine, handler](const Request& request) { return handler(engine, request); };
  };
  // method, pattern (Docker's), handler: the router tries them in this order.
  std::vector<Route> routes = {
      {"GET", "/_ping", ping},
      {"HEAD", "/_ping", ping},
      {"GET", "/version", version},
      {"GET", "/info", with(info)},
      {"GET", "/containers/json", with(list_containers)},
      {"GET", "/containers/{id}/json", with(inspect_container)},
      {"GET", "/images/json", with(list_images)},
      {"GET", "/images/{name*}/json", with(inspect_image)},
  };
  for (auto part : {container_routes, image_routes, resource_routes})
    for (Route& route : part(engine)) routes.push_back(std::move(route));
  return routes;
}

}  // namespace api
