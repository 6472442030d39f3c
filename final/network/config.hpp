// The network driver's pure logic: Docker's `-p` grammar, network names and subnets, and the
// arithmetic of address management (IPAM). No kernel calls here: tests/unit/network_test.cpp
// checks each function against a table.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ipv4.hpp"

namespace network {

using lab::ipv4::Cidr;

// One `-p [IP:]HOST:CTR[/tcp|/udp]`: packets to HOST (on IP, or on every local address when
// host_ip is empty) go to CTR in the container.
struct PortMapping {
  std::string host_ip;  // "" for all local addresses (Docker's 0.0.0.0)
  int host_port = 0;
  int container_port = 0;
  std::string protocol = "tcp";  // "tcp" or "udp"
  bool operator==(const PortMapping&) const = default;
};

// Parses one -p value the way Docker's CLI does, or throws lab::UserError with Docker's words:
// "invalid port format: ...", "Invalid hostPort: x", "Invalid containerPort: x",
// "Invalid ip address: x", "Invalid proto: x". A port range (8080-8081:80-81) and a -p without a
// host port (a random one, `-p 80`) are refused: we publish one fixed port per -p.
PortMapping parse_port_mapping(std::string_view spec);
// "0.0.0.0:8080->80/tcp", as `docker ps` and `docker port` show a mapping.
std::string describe(const PortMapping& mapping);
// Whether two mappings want the same host port (same protocol, and the same or an "all" IP).
bool conflicts(const PortMapping& a, const PortMapping& b);

// Why `name` cannot name a network ("" when it can): Docker's [a-zA-Z0-9][a-zA-Z0-9_.-]*, and
// not one of the predefined bridge, host and none.
std::string validate_network_name(std::string_view name);

// Parses a user's --subnet, or throws lab::UserError: "invalid subnet x: ...". It must be a
// network address (host bits zero), /8 to /29, outside loopback, link-local, multicast, 0/8,
// 240/4.
Cidr parse_subnet(std::string_view text);

// The pool a network's subnet is taken from when none is given, in order, as Docker's default
// address pools: 172.18.0.0/16 ... 172.31.0.0/16 (172.17 is Docker's own docker0), then
// 192.168.0.0/20, 192.168.16.0/20 ... 192.168.240.0/20.
std::vector<Cidr> default_pool();
// The first subnet of `pool` that overlaps neither a route of `routes` (default routes left out)
// nor a subnet of `taken` (the other networks); nullopt when none is free.
std::optional<Cidr> pick_subnet(const std::vector<Cidr>& pool, const std::vector<Cidr>& routes,
                                const std::vector<Cidr>& taken);
// The first subnet of `taken` that overlaps `subnet`, if any.
std::optional<Cidr> find_overlap(const Cidr& subnet, const std::vector<Cidr>& taken);

// IPAM: the gateway is host 1 (the bridge); containers get the lowest free address from host 2
// up to the last before the broadcast address. nullopt when the subnet is full.
uint32_t gateway_of(const Cidr& subnet);
std::optional<uint32_t> next_free_address(const Cidr& subnet, const std::set<uint32_t>& used);

// Docker's MAC for an address: 02:42 and the four bytes of the IPv4 address, so a container's
// MAC says which address it has (172.18.0.2 -> 02:42:ac:12:00:02).
std::string mac_for(uint32_t address);
// The host end of a container's veth pair: "veth" and 7 hex digits of a hash of the network and
// container ids (stable, so a crashed connect's leftover can be recognised), and its peer's
// temporary name before it becomes eth0 in the container: the same with a "p" at the end.
std::string veth_name(std::string_view network_id, std::string_view container_id);
std::string veth_peer_name(std::string_view network_id, std::string_view container_id);
// The bridge of a user-defined network: "br-" and the first 12 hex digits of its id.
std::string bridge_name_for(std::string_view network_id);

// /etc/hosts: localhost lines, then one "ADDRESS\tNAME" line per entry.
std::string hosts_file(const std::vector<std::string>& entries);

}  // namespace network
