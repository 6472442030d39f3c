// The engine's side of networking (networking.hpp): the network driver called with what the
// user typed, and the /etc files every container gets.
#include "engine/networking.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "error.hpp"
#include "fd.hpp"
#include "graph/store.hpp"
#include "runtime/explain.hpp"
#include "uts.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace engine {

namespace {

std::string dir_of(const Paths& p, const std::string& id) { return p.root + "/containers/" + id; }

// The files whose paths a container's /etc binds: its own, or the joined container's.
std::string files_dir(const Paths& p, const NetworkRequest& n, const std::string& id) {
  return dir_of(p, n.joined.empty() ? id : n.joined);
}

}  // namespace

std::string resolv_conf_for(const std::string& host_text, bool host_network) {
  if (host_network) return host_text;
  std::istringstream in(host_text);
  std::string out;
  bool any = false;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string key, value;
    words >> key >> value;
    if (key == "nameserver") {
      if (value.starts_with("127.") || value == "::1") continue;
      any = true;
    }
    out += line + "\n";
  }
  if (!any) out += "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";
  return out;
}


bool NetworkRequest::pinned() const {
  return mode != "none" && mode != "host" && !mode.starts_with("container:");
}

network::Context network_context(const Paths& p) {
  network::Context ctx{p.root, {}};
  if (p.explain) {
    auto explain = std::make_shared<runtime::Explainer>(true);
    ctx.explain = [explain](std::string_view lesson, std::string_view call,
                            std::string_view shell) { explain->step(lesson, call, shell); };
  }
  return ctx;
}

NetworkRequest check_network(const Paths& p, const std::string& mode,
                             const std::vector<std::string>& publish, const std::string& hostname) {
  NetworkRequest n{mode.empty() ? "bridge" : mode, "", {}};
  for (const std::string& spec : publish)
    for (const network::PortMapping& m : network::parse_port_mappings(spec)) n.ports.push_back(m);
  if (n.mode.starts_with("container:")) {
    if (!n.ports.empty())
      throw lab::UserError(
          "conflicting options: port publishing and the container type network mode");
    if (!hostname.empty())
      throw lab::UserError("conflicting options: hostname and the network mode");
    std::string ref = n.mode.substr(10);
    if (ref.empty()) throw lab::UserError("invalid container format container:<name|id>");
    n.joined = resolve(p, ref);
    Container other = load(p, n.joined);
    if (other.status != "running")
      throw lab::UserError(fmt::format("cannot join network of a non running container: {}",
                                       other.id));
    n.mode = "container:" + n.joined;
  } else if (n.mode == "host") {
    // Docker: "WARNING: Published ports are discarded when using host network mode".
    if (!n.ports.empty())
      fmt::print(stderr, "WARNING: Published ports are discarded when using host network mode\n");
    n.ports.clear();
  } else if (n.mode != "none") {
    network::Network found = network::find_network(network_context(p), n.mode);
    if (found.driver == "null") n.mode = "none";
    if (found.driver == "host") n.mode = "host";
  }
  return n;
}

std::string hostname_for(const Paths& p, const NetworkRequest& n, const std::string& id,
                         const std::string& wanted) {
  if (!n.joined.empty()) return load(p, n.joined).config.value("Hostname", "");
  if (!wanted.empty()) return wanted;
  if (n.mode == "host") return uts::current_hostname();
  return id.substr(0, 12);
}

std::string connect_container(const Paths& p, const NetworkRequest& n, const std::string& id,
                              const std::string& name, const std::string& hostname,
                              const runtime::Explainer& explain) {
  const std::string dir = dir_of(p, id);
  if (!n.joined.empty()) {
    explain.step("06", fmt::format("network container:{}: join its network namespace",
                                   n.joined.substr(0, 12)),
                 "nsenter --net=/proc/PID/ns/net");
    std::string pinned = network::netns_path(network_context(p), n.joined);
    if (::access(pinned.c_str(), F_OK) == 0) return pinned;
    return fmt::format("/proc/{}/ns/net", load(p, n.joined).pid);
  }
  lab::create_file(dir + "/hostname", hostname + "\n", 0644);
  lab::create_file(dir + "/resolv.conf",
                   resolv_conf_for(lab::read_file_or_empty("/etc/resolv.conf"), n.mode == "host"),
                   0644);
  if (n.mode == "host") {
    explain.step("06", "network host: no network namespace: the host's own");
    lab::create_file(dir + "/hosts", lab::read_file_or_empty("/etc/hosts"), 0644);
    return "";
  }
  // Until connect writes the container's lines (and for none): localhost only.
  lab::create_file(dir + "/hosts", network::hosts_file({}), 0644);
  if (n.mode == "none") {
    explain.step("06", "network none: a new network namespace with only lo",
                 "unshare --net (made by the runtime)");
    return "";
  }
  network::Endpoint e =
      network::connect(network_context(p), n.mode, id, name, n.ports, dir + "/hosts", hostname);
  explain.step("06", fmt::format("{} on {}: {}/{} via {}, namespace pinned at {}", e.interface,
                                 e.network, e.ip, e.prefix, e.gateway, e.netns_path));
  return e.netns_path;
}

json etc_mounts(const Paths& p, const NetworkRequest& n, const std::string& id) {
  json mounts = json::array();
  const std::string dir = files_dir(p, n, id);
  for (const char* file : {"resolv.conf", "hostname", "hosts"})
    mounts.push_back({{"destination", fmt::format("/etc/{}", file)},
                      {"type", "bind"},
                      {"source", fmt::format("{}/{}", dir, file)},
                      {"options", {"rbind", "rprivate"}}});
  return mounts;
}

void disconnect_container(const Paths& p, const std::string& id) {
  network::disconnect(network_context(p), id);
}

void connect_to(const Paths& p, const std::string& net, const std::string& ref) {
  std::string id = resolve(p, ref);
  Container c = load(p, id);
  std::string mode = c.host_config.value("NetworkMode", "");
  NetworkRequest current{mode, "", {}};
  if (!current.pinned())
    throw lab::UserError(fmt::format(
        "container {} is on network {}: only a container on a bridge network can join another",
        c.name.substr(1), mode));
  network::connect(network_context(p), net, id, c.name.substr(1), {},
                   dir_of(p, id) + "/hosts", c.config.value("Hostname", ""));
}

void disconnect_from(const Paths& p, const std::string& net, const std::string& ref) {
  std::string id = resolve(p, ref);
  network::disconnect_one(network_context(p), id, net);
}

std::vector<network::PortMapping> published_ports(const Paths& p, const std::string& id) {
  std::vector<network::PortMapping> out;
  for (const network::Endpoint& e : network::endpoints_of(network_context(p), id))
    out.insert(out.end(), e.ports.begin(), e.ports.end());
  return out;
}

json port_bindings(const std::vector<network::PortMapping>& ports) {
  json out = json::object();
  for (const auto& m : ports) {
    std::string key = fmt::format("{}/{}", m.container_port, m.protocol);
    if (!out.contains(key)) out[key] = json::array();
    out[key].push_back({{"HostIp", m.host_ip}, {"HostPort", network::host_port_text(m)}});
  }
  return out;
}

json network_settings(const Paths& p, const Container& c) {
  std::vector<network::Endpoint> endpoints = network::endpoints_of(network_context(p), c.id);
  json networks = json::object();
  std::vector<network::PortMapping> ports;
  for (const network::Endpoint& e : endpoints) {
    networks[e.network] = {{"NetworkID", e.network_id},
                           {"EndpointID", c.id},
                           {"Gateway", e.gateway},
                           {"IPAddress", e.ip},
                           {"IPPrefixLen", e.prefix},
                           {"MacAddress", e.mac},
                           {"Aliases", json()}};
    ports.insert(ports.end(), e.ports.begin(), e.ports.end());
  }
  // What is bound, as Docker shows it here (`docker port` reads it): all addresses are 0.0.0.0;
  // HostConfig.PortBindings keeps the "" that was asked for.
  for (network::PortMapping& m : ports)
    if (m.host_ip.empty()) m.host_ip = "0.0.0.0";
  std::string mode = c.host_config.value("NetworkMode", "");
  if (mode == "none" || mode == "host") networks[mode] = {{"IPAddress", ""}, {"Gateway", ""}};
  json bridge = networks.contains("bridge") ? networks["bridge"] : json::object();
  bool running = c.status == "running";
  return {{"Bridge", ""},
          {"SandboxKey", endpoints.empty() ? "" : endpoints.front().netns_path},
          {"Ports", running ? port_bindings(ports) : json::object()},
          {"IPAddress", bridge.value("IPAddress", "")},
          {"IPPrefixLen", bridge.value("IPPrefixLen", 0)},
          {"Gateway", bridge.value("Gateway", "")},
          {"MacAddress", bridge.value("MacAddress", "")},
          {"Networks", networks}};
}

}  // namespace engine
