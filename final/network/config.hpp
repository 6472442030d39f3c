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

// One published port, `-p [IP:]HOST:CTR[/tcp|/udp]`: packets to HOST (on IP, or on every local
// address when host_ip is empty) go to CTR in the container.
struct PortMapping {
  std::string host_ip;  // "" for all local addresses (Docker's 0.0.0.0)
  int host_port = 0;    // 0 until connect() picks one (`-p 80`, `-p 8000-8010:80`)
  int container_port = 0;
  std::string protocol = "tcp";  // "tcp" or "udp"
  // With host_port 0, where connect() picks it: a `-p 8000-8010:80` range, or 0 and 0 for the
  // kernel's ephemeral ports (/proc/sys/net/ipv4/ip_local_port_range), as Docker's allocator.
  int pick_first = 0, pick_last = 0;
  bool operator==(const PortMapping&) const = default;
};

// Parses one -p value the way Docker's CLI does (nat.ParsePortSpec), or throws lab::UserError
// with Docker's words: "invalid port format: ...", "Invalid hostPort: x", "Invalid
// containerPort: x", "Invalid ip address: x", "Invalid proto: x", "Invalid ranges specified for
// container and host Ports: ...". One mapping per container port: `-p 8080-8081:80-81` is two;
// `-p 80` and `-p 127.0.0.1::80` leave the host port to connect() (host_port 0), and so does
// `-p 8000-8010:80` (one port of that range).
std::vector<PortMapping> parse_port_mappings(std::string_view spec);
// The host port a connect() picks for `wanted` (host_port 0): the lowest in its range (or in
// [ephemeral_first, ephemeral_last]) that conflicts with none of `taken`; nullopt when every
// one does.
std::optional<int> pick_host_port(const PortMapping& wanted, const std::vector<PortMapping>& taken,
                                  int ephemeral_first, int ephemeral_last);
// HostConfig.PortBindings' HostPort as Docker writes it: "8080", "" for a random port,
// "8000-8010" for one from a range.
std::string host_port_text(const PortMapping& mapping);
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
