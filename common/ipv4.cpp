#include "ipv4.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <bit>
#include <sstream>

namespace lab::ipv4 {

std::string to_string(uint32_t a) {
  return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

std::string to_string(const Cidr& c) {
  return fmt::format("{}/{}", to_string(c.address), c.prefix);
}

uint32_t netmask(int prefix) {
  if (prefix <= 0) return 0;
  if (prefix >= 32) return 0xffffffffu;
  return ~((uint32_t{1} << (32 - prefix)) - 1);
}

std::optional<Cidr> parse_cidr(std::string_view text, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<Cidr> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  size_t slash = text.find('/');
  if (slash == std::string_view::npos)
    return fail(fmt::format("\"{}\" has no /PREFIX; write it like 172.29.0.0/24", text));
  std::string addr(text.substr(0, slash));
  std::string_view len = text.substr(slash + 1);
  in_addr in{};
  if (::inet_pton(AF_INET, addr.c_str(), &in) != 1)
    return fail(fmt::format("\"{}\" is not an IPv4 address", addr));
  if (len.empty() || len.size() > 2 ||
      len.find_first_not_of("0123456789") != std::string_view::npos)
    return fail(fmt::format("\"{}\" is not a prefix length (0-32)", len));
  int prefix = std::stoi(std::string(len));
  if (prefix > 32) return fail(fmt::format("prefix /{} is longer than 32 bits", prefix));
  return Cidr{ntohl(in.s_addr), prefix};
}

bool overlaps(const Cidr& a, const Cidr& b) {
  int shorter = a.prefix < b.prefix ? a.prefix : b.prefix;
  uint32_t mask = netmask(shorter);
  return (a.address & mask) == (b.address & mask);
}

std::optional<Cidr> find_clash(const Cidr& subnet, const std::vector<Cidr>& routes) {
  for (const auto& r : routes)
    if (r.prefix > 0 && overlaps(subnet, r)) return r;
  return std::nullopt;
}

std::optional<SpecialRange> special_purpose_overlap(const Cidr& subnet) {
  static const SpecialRange ranges[] = {
      {{0x00000000u, 8}, "\"this network\", never a destination"},
      {{0x7f000000u, 8}, "loopback: it never leaves the host"},
      {{0xa9fe0000u, 16}, "link-local: never routed"},
      {{0xe0000000u, 4}, "multicast"},
      {{0xf0000000u, 4}, "reserved, with the broadcast address 255.255.255.255"},
  };
  for (const auto& r : ranges)
    if (overlaps(subnet, r.range)) return r;
  return std::nullopt;
}

uint32_t host_address(const Cidr& subnet, uint32_t n) {
  return (subnet.address & netmask(subnet.prefix)) + n;
}

std::string with_prefix(uint32_t address, const Cidr& subnet) {
  return fmt::format("{}/{}", to_string(address), subnet.prefix);
}

std::vector<Cidr> parse_proc_net_route(std::string_view text) {
  // Iface  Destination  Gateway  Flags  RefCnt  Use  Metric  Mask ...
  // eth0   0000FEA9     00000000 0001   0       0    0       0000FFFF
  std::vector<Cidr> routes;
  std::istringstream in{std::string(text)};
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string iface, destination, gateway, flags, refcnt, use, metric, mask;
    if (!(fields >> iface >> destination >> gateway >> flags >> refcnt >> use >> metric >> mask))
      continue;
    uint32_t dst = ntohl(static_cast<uint32_t>(std::stoul(destination, nullptr, 16)));
    uint32_t msk = ntohl(static_cast<uint32_t>(std::stoul(mask, nullptr, 16)));
    routes.push_back(Cidr{dst, std::popcount(msk)});
  }
  return routes;
}

}  // namespace lab::ipv4
