// The network driver (the notes' networkdriver): bridge networks, their addresses, a network
// namespace per container wired to a bridge by a veth pair, NAT and published ports. The engine
// calls it; `minidocker network ...` calls it too. Every kernel step is lesson 06's (net::,
// firewall rules), narrated with that label under --explain.
//
// On disk, under the engine root (--root, default /var/lib/minidocker):
//   networks/lock            flock(2), exclusive around every call below: two connects never
//                            see the same free address, a create never the same subnet
//   networks/<id>.json       one record per network, written atomically (temp file + rename);
//                            its "Containers" are the endpoints, and so the address leases
//   netns/<container id>     the container's network namespace, pinned (a bind mount of the
//                            nsfs file, as `ip netns add` does under /run/netns); the engine
//                            hands this path to the runtime (linux.namespaces[].path)
//
// In the network namespace of the caller (the host), lesson 06's layout under MINIDOCKER names:
//   filter FORWARD -> MINIDOCKER-FORWARD: per bridge, same-bridge traffic, replies
//          (RELATED,ESTABLISHED), the published ports (MINIDOCKER), then DROP for everything
//          else into the bridge; new connections out of a bridge are accepted
//   nat PREROUTING/OUTPUT --dst-type LOCAL -> MINIDOCKER: the DNAT of each published port
//   nat POSTROUTING: MASQUERADE of each subnet, and of the host's own 127.0.0.1 towards a
//          bridge (with route_localnet=1 on it: published ports answer on 127.0.0.1 without a
//          userland proxy, as Docker does with --userland-proxy=false)
//   net.ipv4.ip_forward=1, left on (Docker does the same).
// Comments: "minidocker" (the jumps into our chains), "minidocker:net:<id12>" (a network's
// rules), "minidocker:<container id>" (a container's published ports). Rules are found again by
// their comment alone, so a crash between two steps leaves nothing prune cannot find.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "network/config.hpp"

namespace network {

inline constexpr const char* kDefaultNetwork = "bridge";
inline constexpr const char* kDefaultBridge = "minidocker0";

// --explain: (lesson, call, shell), e.g. ("06", "rtnl_link_add(...)", "ip link add ...").
using Explain =
    std::function<void(std::string_view lesson, std::string_view call, std::string_view shell)>;

struct Context {
  std::string root;  // the engine root
  Explain explain;   // may be empty
};

// A container on a network, as the record keeps it.
struct EndpointRecord {
  std::string container_id;
  std::string container_name;
  std::string address;    // 172.18.0.2
  std::string mac;        // 02:42:ac:12:00:02
  std::string veth;       // the host end: vethXXXXXXX
  std::string interface;  // eth0 inside
  std::vector<PortMapping> ports;
  std::string hosts_path;  // "" or the container's /etc/hosts (on the host side) we keep
  std::string hostname;    // its own line in that file: "ADDRESS\tHOSTNAME NAME"
};

struct Network {
  std::string id;                                   // 64 hex digits
  std::string name;                                 // bridge, host, none, or the user's
  std::string driver;                               // "bridge", "host", "null"
  std::string bridge;                               // minidocker0, br-<id12>; "" for host and none
  std::string subnet;                               // 172.18.0.0/16; "" for host and none
  std::string gateway;                              // 172.18.0.1
  std::string created;                              // RFC 3339
  std::map<std::string, EndpointRecord> endpoints;  // by container id
  bool user_defined() const { return name != "bridge" && name != "host" && name != "none"; }
};

// What connect made: what the engine needs for the runtime, /etc/hosts and `inspect`.
struct Endpoint {
  std::string netns_path;  // <root>/netns/<container id>: for linux.namespaces[type=network]
  std::string network;     // the network's name
  std::string network_id;
  std::string ip;  // 172.18.0.2
  int prefix = 0;  // 16
  std::string gateway;
  std::string mac;
  std::string veth;       // the host end's name
  std::string interface;  // eth0 (eth1 for a second network)
  std::vector<PortMapping> ports;
};

// ---- networks ----------------------------------------------------------------------------------

// network create NAME [--subnet CIDR]: a record and its bridge br-<id12> with the gateway
// address, up, and its rules. Without a subnet, the first free one of default_pool() (free: no
// route of this namespace and no other network overlaps it). Errors (lab::UserError): a bad or
// taken name, a bad subnet, an overlapping one ("Pool overlaps with other one on this address
// space", Docker's words).
Network create_network(const Context& ctx, const std::string& name, const std::string& subnet);
// Every network, bridge/host/none first (their records are made on first use: the default
// bridge's record and subnet then, its link at its first connect), then the user's by name.
std::vector<Network> list_networks(const Context& ctx);
// By name, full id or a unique id prefix; throws lab::UserError "network NAME not found".
Network find_network(const Context& ctx, const std::string& name_or_id);
// network rm: refuses the predefined ones and a network with endpoints ("error while removing
// network: network NAME id ID has active endpoints"); removes rules, bridge, record.
void remove_network(const Context& ctx, const std::string& name_or_id);
// network prune: every user-defined network with no endpoint; returns their names.
std::vector<std::string> remove_unused_networks(const Context& ctx);
// Docker's `network inspect` JSON for one network (Name, Id, Created, Scope, Driver, IPAM,
// Containers, Options, Labels).
nlohmann::json inspect_json(const Network& network);

// ---- endpoints ---------------------------------------------------------------------------------

// Connects a container to a network (name or id; "bridge" is made when first needed): pins its
// network namespace at <root>/netns/<id> unless it exists, leases an address, creates the veth
// pair, plugs the host end into the bridge, moves the peer in as eth0 (eth1... on a further
// network) with the address, lo up and the default route (on the first network only), and
// publishes `ports`. With `hosts_path`, that file (the container's /etc/hosts as the host sees
// it) is written now and rewritten whenever a peer connects or disconnects. Everything made is
// undone if a step fails. Errors: unknown network, "host"/"none" (not endpoints), a container
// already on the network, a host port another container publishes ("Bind for 0.0.0.0:8080
// failed: port is already allocated"), a full subnet.
Endpoint connect(const Context& ctx, const std::string& network, const std::string& container_id,
                 const std::string& container_name, const std::vector<PortMapping>& ports,
                 const std::string& hosts_path = "", const std::string& hostname = "");
// Removes what connect made for the container on every network: the veth pair, the rules
// marked with its id, the address leases (peers' hosts files rewritten), the pinned namespace.
// Idempotent: false when there was nothing to remove.
bool disconnect(const Context& ctx, const std::string& container_id);
// `network disconnect NETWORK CONTAINER`: removes the container's endpoint on that one network
// (its veth, its lease, and its published ports if they were on it); the namespace stays, with
// lo and any other network. Throws lab::UserError when the container is not on it (Docker's
// "container ID is not connected to network NAME").
void disconnect_one(const Context& ctx, const std::string& container_id,
                    const std::string& network);
// The container's /etc/hosts entries ("172.18.0.2\tweb"): its own address and name on each of
// its networks, and on user-defined networks every peer on it now (the default bridge, as
// Docker's, gives no names of others). Peers that come later are only seen where connect was
// given a hosts_path (we have no embedded DNS server, as Docker has).
std::vector<std::string> hosts_entries(const Context& ctx, const std::string& container_id);
// The container's endpoints, one per network it is on.
std::vector<Endpoint> endpoints_of(const Context& ctx, const std::string& container_id);
std::string netns_path(const Context& ctx, const std::string& container_id);

// Recovery after a crash: disconnects every endpoint whose container `alive` says is gone, then
// removes what no record names (veths on our bridges, namespaces under <root>/netns, rules
// marked with an id no endpoint has). With `everything`, also every user network, the default
// bridge's link, our chains and jumps (ip_forward stays on). Returns lines saying what went.
std::vector<std::string> prune(const Context& ctx,
                               const std::function<bool(const std::string&)>& alive,
                               bool everything);

}  // namespace network
