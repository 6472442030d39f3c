// The daemon's routes for networks, volumes, container prune and system df: the jobs of
// `minidocker network ...` (final/network/driver.hpp, final/engine/networking.hpp), `volume ...`
// (final/engine/volumes.hpp), `container prune` and `system df`, answered with Docker's JSON.
#include <fmt/format.h>

#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "daemon/handlers.hpp"
#include "daemon/messages.hpp"
#include "engine/containers.hpp"
#include "engine/networking.hpp"
#include "engine/volumes.hpp"
#include "error.hpp"
#include "graph/driver.hpp"
#include "network/driver.hpp"

namespace api {

namespace {

using json = nlohmann::json;

engine::Paths paths_of(const Engine& engine) { return engine::paths_for(engine.root, false); }

network::Context network_of(const Engine& engine) {
  return engine::network_context(paths_of(engine));
}

Response no_content() {
  Response r;
  r.status = 204;
  return r;
}

// The body as a JSON object ("" is {}); 400 for anything else.
json body_object(const Request& request) {
  if (request.body.empty()) return json::object();
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    throw lab::UserError("invalid JSON body: expected an object");
  return body;
}

// A list's or a prune's filters: none is what these routes serve, besides `allowed` (keys whose
// meaning the caller handles); a clear 400 for the others rather than a list that ignores them.
json check_filters(const Request& request, const std::set<std::string>& allowed = {}) {
  json filters = query_json(request, "filters");
  for (const auto& [key, value] : filters.items())
    if (!allowed.contains(key))
      throw lab::UserError(fmt::format("the filter '{}' is not supported by this daemon", key));
  return filters;
}

// Docker's statuses for the network driver's errors: a missing network is 404 (the client then
// says "No such network: NAME"), a name taken 409, a predefined network or one with endpoints
// 403 (libnetwork's forbidden errors).
const std::vector<std::pair<std::string, int>> kNetworkStatuses = {
    {" not found", 404},
    {"already exists", 409},
    {"is a pre-defined network", 403},
    {"has active endpoints", 403},
};

// ---- networks --------------------------------------------------------------------------------

// GET /networks: every network as `network inspect` shows it (the client's `network ls` table
// takes Id, Name, Driver, Scope from them).
Response list_networks(const Engine& engine, const Request& request) {
  check_filters(request);
  json out = json::array();
  for (const network::Network& n : network::list_networks(network_of(engine)))
    out.push_back(network::inspect_json(n));
  return json_response(out);
}

Response inspect_network(const Engine& engine, const Request& request) {
  return with_statuses(kNetworkStatuses, [&] {
    return json_response(
        network::inspect_json(network::find_network(network_of(engine), request.params.at("id"))));
  });
}

// POST /networks/create {"Name", "Driver", "IPAM": {"Config": [{"Subnet"}]}, ...}: a bridge
// network (its bridge br-<id12> made in the daemon's network namespace); 201 {"Id", "Warning"}.
// What our driver cannot do (another driver, IPv6, internal, options, labels, a gateway or range
// of one's own) is refused by name rather than ignored.
Response create_network(const Engine& engine, const Request& request) {
  json body = body_object(request);
  std::string name = body.value("Name", "");
  if (name.empty()) throw lab::UserError("network name is required: Name");
  std::string driver = body.value("Driver", "");
  if (!driver.empty() && driver != "bridge")
    throw lab::UserError(
        fmt::format("plugin \"{}\" not found: only the bridge driver is supported", driver));
  for (const char* flag : {"EnableIPv6", "Internal", "Attachable", "Ingress", "ConfigOnly"})
    if (body.value(flag, false)) throw lab::UserError(fmt::format("{} is not supported", flag));
  for (const char* map : {"Options", "Labels"})
    if (body.contains(map) && body[map].is_object() && !body[map].empty())
      throw lab::UserError(fmt::format("network {} are not supported by this daemon", map));
  std::string subnet;
  json ipam = body.value("IPAM", json::object());
  json configs = ipam.is_object() ? ipam.value("Config", json::array()) : json::array();
  if (configs.is_array() && configs.size() > 1)
    throw lab::UserError("one IPAM config (one subnet) per network is supported");
  if (configs.is_array() && configs.size() == 1) {
    const json& config = configs[0];
    for (const char* key : {"IPRange", "Gateway"})
      if (!config.value(key, "").empty())
        throw lab::UserError(fmt::format("IPAM {} is not supported: only Subnet", key));
    subnet = config.value("Subnet", "");
  }
  return with_statuses(kNetworkStatuses, [&] {
    network::Network n = network::create_network(network_of(engine), name, subnet);
    return json_response({{"Id", n.id}, {"Warning", ""}}, 201);
  });
}

Response remove_network(const Engine& engine, const Request& request) {
  return with_statuses(kNetworkStatuses, [&] {
    network::remove_network(network_of(engine), request.params.at("id"));
    return no_content();
  });
}

// POST /networks/{id}/connect {"Container", "EndpointConfig"}: an address of the network's own
// choosing; a fixed address or aliases are refused.
Response connect_network(const Engine& engine, const Request& request) {
  json body = body_object(request);
  std::string container = body.value("Container", "");
  if (container.empty()) throw lab::UserError("Container is required");
  json endpoint = body.value("EndpointConfig", json::object());
  if (endpoint.is_object()) {
    json ipam = endpoint.value("IPAMConfig", json::object());
    if (ipam.is_object())
      for (const auto& [key, value] : ipam.items())
        if (!(value.is_null() || (value.is_string() && value.get<std::string>().empty()) ||
              (value.is_array() && value.empty())))
          throw lab::UserError(fmt::format("a fixed address ({}) is not supported", key));
    for (const char* key : {"Aliases", "Links"})
      if (endpoint.contains(key) && endpoint[key].is_array() && !endpoint[key].empty())
        throw lab::UserError(fmt::format("network {} are not supported by this daemon", key));
  }
  return with_statuses(kNetworkStatuses, [&] {
    engine::connect_to(paths_of(engine), request.params.at("id"), container);
    return Response{};
  });
}

Response disconnect_network(const Engine& engine, const Request& request) {
  json body = body_object(request);
  std::string container = body.value("Container", "");
  if (container.empty()) throw lab::UserError("Container is required");
  return with_statuses(kNetworkStatuses, [&] {
    engine::disconnect_from(paths_of(engine), request.params.at("id"), container);
    return Response{};
  });
}

Response prune_networks(const Engine& engine, const Request& request) {
  check_filters(request);
  std::vector<std::string> names = network::remove_unused_networks(network_of(engine));
  return json_response({{"NetworksDeleted", names}});
}

// ---- volumes ---------------------------------------------------------------------------------

const std::vector<std::pair<std::string, int>> kVolumeStatuses = {
    {": no such volume", 404},
    {"volume is in use", 409},
};

Response list_volumes(const Engine& engine, const Request& request) {
  check_filters(request);
  json volumes = json::array();
  for (const engine::Volume& v : engine::list_volumes(paths_of(engine)))
    volumes.push_back(engine::inspect_volume(v));
  return json_response({{"Volumes", volumes}, {"Warnings", json::array()}});
}

// POST /volumes/create {"Name", "Driver", "DriverOpts", "Labels"}: a local volume (a random
// name when none is given); 201 with it, as `volume inspect` shows it.
Response create_volume(const Engine& engine, const Request& request) {
  json body = body_object(request);
  std::string driver = body.value("Driver", "");
  if (!driver.empty() && driver != "local")
    throw lab::UserError(
        fmt::format("plugin \"{}\" not found: only the local driver is supported", driver));
  for (const char* map : {"DriverOpts", "Labels"})
    if (body.contains(map) && body[map].is_object() && !body[map].empty())
      throw lab::UserError(fmt::format("volume {} are not supported by this daemon", map));
  engine::Volume v = engine::create_volume(paths_of(engine), body.value("Name", ""));
  return json_response(engine::inspect_volume(v), 201);
}

Response inspect_volume(const Engine& engine, const Request& request) {
  return with_statuses(kVolumeStatuses, [&] {
    return json_response(
        engine::inspect_volume(engine::load_volume(paths_of(engine), request.params.at("name"))));
  });
}

// DELETE /volumes/{name}?force=: 204; force makes a missing volume no error (one in use stays
// a 409, as Docker's).
Response remove_volume(const Engine& engine, const Request& request) {
  bool force = query_bool(request, "force");
  return with_statuses(kVolumeStatuses, [&] {
    try {
      engine::remove_volume(paths_of(engine), request.params.at("name"));
    } catch (const lab::UserError& e) {
      if (!force || !std::string(e.what()).ends_with(": no such volume")) throw;
    }
    return no_content();
  });
}

// POST /volumes/prune: API 1.41 prunes every unused volume, named ones too (dockerd adds the
// filter all=true for clients older than 1.42, whose `volume prune` meant that); an explicit
// all=false keeps the named ones, as 1.42's default.
Response prune_volumes(const Engine& engine, const Request& request) {
  json filters = check_filters(request, {"all"});
  bool all = true;
  for (const std::string& value : filter_values(filters, "all")) {
    if (value == "false" || value == "0") {
      all = false;
    } else if (value != "true" && value != "1") {
      throw lab::UserError(fmt::format("invalid filter 'all={}'", value));
    }
  }
  uint64_t reclaimed = 0;
  std::vector<std::string> removed = engine::prune_volumes(paths_of(engine), all, reclaimed);
  return json_response({{"VolumesDeleted", removed}, {"SpaceReclaimed", reclaimed}});
}

// ---- containers ------------------------------------------------------------------------------

// POST /containers/prune: every container that is not running, as `container prune`.
Response prune_containers(const Engine& engine, const Request& request) {
  check_filters(request);
  engine::Paths paths = paths_of(engine);
  uint64_t reclaimed = 0;
  std::vector<std::string> deleted = engine::prune(paths, &reclaimed);
  return json_response({{"ContainersDeleted", deleted}, {"SpaceReclaimed", reclaimed}});
}

// ---- system df -------------------------------------------------------------------------------

// GET /system/df: `minidocker system df`'s facts (client::disk_usage_json, images.cpp), which
// the client sums into its table.
Response system_df(const Engine& engine, const Request&) {
  return json_response(client::disk_usage_json({engine.root, false, ""}));
}

}  // namespace

std::vector<Route> resource_routes(const Engine& engine) {
  auto with = [&engine](Response (*handler)(const Engine&, const Request&)) -> Handler {
    return [&engine, handler](const Request& request) { return handler(engine, request); };
  };
  return {
      {"GET", "/networks", with(list_networks)},
      {"POST", "/networks/create", with(create_network)},
      {"POST", "/networks/prune", with(prune_networks)},
      {"GET", "/networks/{id}", with(inspect_network)},
      {"DELETE", "/networks/{id}", with(remove_network)},
      {"POST", "/networks/{id}/connect", with(connect_network)},
      {"POST", "/networks/{id}/disconnect", with(disconnect_network)},
      {"GET", "/volumes", with(list_volumes)},
      {"POST", "/volumes/create", with(create_volume)},
      {"POST", "/volumes/prune", with(prune_volumes)},
      {"GET", "/volumes/{name}", with(inspect_volume)},
      {"DELETE", "/volumes/{name}", with(remove_volume)},
      {"POST", "/containers/prune", with(prune_containers)},
      {"GET", "/system/df", with(system_df)},
  };
}

}  // namespace api
