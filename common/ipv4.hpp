// IPv4 prefixes, as a bridge network needs them: parse "172.29.0.0/24", find the gateway and the
// containers' addresses, and check that a subnet does not clash with a route the host already has.
// Pure arithmetic, shared by the bridge lesson and make doctor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lab::ipv4 {

// The subnet the bridge lesson uses unless told otherwise (doctor checks that it is free).
inline constexpr std::string_view kLabSubnet = "172.29.0.0/24";

// An IPv4 prefix such as 172.29.0.0/24. `address` is in host byte order.
struct Cidr {
  uint32_t address = 0;
  int prefix = 0;
  bool operator==(const Cidr&) const = default;
};

std::string to_string(uint32_t address);  // 172.29.0.1
std::string to_string(const Cidr& cidr);  // 172.29.0.0/24
uint32_t netmask(int prefix);             // 24 -> 0xffffff00

// Parses "a.b.c.d/n". On failure returns nullopt and puts the reason in `why`.
std::optional<Cidr> parse_cidr(std::string_view text, std::string* why = nullptr);
// Two prefixes overlap exactly when one contains the other.
bool overlaps(const Cidr& a, const Cidr& b);
// The first route in `routes` that overlaps `subnet`, ignoring default routes (/0), which
// overlap everything and are what packets for other subnets should use anyway.
std::optional<Cidr> find_clash(const Cidr& subnet, const std::vector<Cidr>& routes);
// A special-purpose block of IPv4 (RFC 6890) that cannot hold a bridge network, and why.
struct SpecialRange {
  Cidr range;
  std::string_view what;  // "loopback", "link-local", ...
};
// The special-purpose block that `subnet` overlaps, if any: 0.0.0.0/8 ("this network"),
// 127.0.0.0/8 (loopback), 169.254.0.0/16 (link-local), 224.0.0.0/4 (multicast) and 240.0.0.0/4
// (reserved, with the broadcast address 255.255.255.255). Packets for these never go through a
// bridge's gateway the way a container's traffic must.
std::optional<SpecialRange> special_purpose_overlap(const Cidr& subnet);
// The n-th address in the subnet: 1 is the gateway (the bridge), 2, 3 ... the containers.
uint32_t host_address(const Cidr& subnet, uint32_t n);
// The address with the subnet's prefix: "172.29.0.2/24".
std::string with_prefix(uint32_t address, const Cidr& subnet);

// The destinations of /proc/net/route (the main table, as `ip -4 route` lists it). The kernel
// prints each address and mask as the hex of the raw network-order word.
std::vector<Cidr> parse_proc_net_route(std::string_view text);

}  // namespace lab::ipv4
