// The engine's side of networking: what `--network`, `-p` and `--hostname` ask for, turned into
// calls to the network driver (final/network/driver.hpp) and into the three files Docker binds
// into every container:
//   <root>/containers/<id>/hosts        /etc/hosts: localhost, the container's own address and
//                                       name, and its peers' on a user-defined network (the
//                                       driver rewrites it in place as peers come and go)
//   <root>/containers/<id>/hostname     /etc/hostname
//   <root>/containers/<id>/resolv.conf  /etc/resolv.conf: the host's, without loopback servers
//                                       (they would mean the container's own lo)
// bound over the init layer's stubs as the last mounts of config.json, as dockerd does.
//
// Modes: bridge (the default, minidocker0) or a user network's name: a namespace pinned by the
// driver, joined by the runtime through its path; none: the runtime makes a new namespace with
// only lo; host: no network namespace at all; container:NAME: the other container's namespace
// and its three files (so the same hostname, as Docker does).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/containers.hpp"
#include "network/config.hpp"
#include "network/driver.hpp"

namespace runtime {
class Explainer;
}

namespace engine {

struct NetworkRequest {
  std::string mode;    // "bridge", "none", "host", "container:<id>", or a user network's name
  std::string joined;  // container:NAME: that container's id
  std::vector<network::PortMapping> ports;
  bool pinned() const;  // bridge or a user network: the driver pins a namespace
};

// Checks --network, -p and --hostname before anything is made (lab::UserError, Docker's words):
// an unknown network, a container: that is not running, -p or --hostname with container:.
NetworkRequest check_network(const Paths& p, const std::string& mode,
                             const std::vector<std::string>& publish, const std::string& hostname);
// The hostname Docker gives: --hostname, the joined container's, the host's (host mode), or the
// id's first 12 characters.
std::string hostname_for(const Paths& p, const NetworkRequest& n, const std::string& id,
                         const std::string& wanted);

// Writes the three files and, for bridge and user networks, connects the container (lesson 06:
// a pinned namespace, a veth pair, an address, the published ports). Returns the namespace path
// for the runtime's linux.namespaces ("" for none and host).
std::string connect_container(const Paths& p, const NetworkRequest& n, const std::string& id,
                              const std::string& name, const std::string& hostname,
                              const runtime::Explainer& explain);
// The bind mounts of /etc/resolv.conf, /etc/hostname and /etc/hosts for config.json.
nlohmann::json etc_mounts(const Paths& p, const NetworkRequest& n, const std::string& id);
// Everything connect_container made (idempotent): endpoints, rules, the pinned namespace.
void disconnect_container(const Paths& p, const std::string& id);

// `network connect NETWORK CONTAINER` / `network disconnect NETWORK CONTAINER`.
void connect_to(const Paths& p, const std::string& network, const std::string& ref);
void disconnect_from(const Paths& p, const std::string& network, const std::string& ref);

// What was published, from the driver's records (empty for a container without a network).
std::vector<network::PortMapping> published_ports(const Paths& p, const std::string& id);
// Docker's HostConfig.PortBindings: {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}.
nlohmann::json port_bindings(const std::vector<network::PortMapping>& ports);
// Docker's NetworkSettings for inspect (Networks, Ports, IPAddress, SandboxKey ...).
nlohmann::json network_settings(const Paths& p, const Container& c);

network::Context network_context(const Paths& p);

// ---- pure logic ------------------------------------------------------------------------------
// The host's resolv.conf as a container on its own network gets it: loopback nameservers
// dropped (inside, 127.0.0.53 would be the container's own lo); with none left, Docker's
// fallback 8.8.8.8 and 8.8.4.4. With the host's network, unchanged.
std::string resolv_conf_for(const std::string& host_text, bool host_network);

}  // namespace engine
