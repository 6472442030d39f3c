#include "network/config.hpp"

#include <fmt/format.h>

#include <charconv>

#include "error.hpp"

namespace network {

namespace {

std::optional<int> parse_port(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (value < 1 || value > 65535) return std::nullopt;
  return value;
}

bool is_ipv4(std::string_view text) {
  return lab::ipv4::parse_cidr(fmt::format("{}/32", text)).has_value();
}

}  // namespace

namespace {

// "80" or "8000-8010" (Docker's nat.ParsePortRange); nullopt for anything else.
std::optional<std::pair<int, int>> parse_port_range(std::string_view text) {
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    auto p = parse_port(text);
    if (!p) return std::nullopt;
    return std::pair{*p, *p};
  }
  auto first = parse_port(text.substr(0, dash)), last = parse_port(text.substr(dash + 1));
  if (!first || !last || *last < *first) return std::nullopt;
  return std::pair{*first, *last};
}

}  // namespace

std::vector<PortMapping> parse_port_mappings(std::string_view spec) {
  PortMapping m;
  std::string_view rest = spec;
  if (size_t slash = rest.rfind('/'); slash != std::string_view::npos) {
    std::string proto(rest.substr(slash + 1));
    if (proto != "tcp" && proto != "udp")
      throw lab::UserError(fmt::format("Invalid proto: {}", proto));
    m.protocol = proto;
    rest = rest.substr(0, slash);
  }
  std::vector<std::string_view> parts;
  for (size_t at = 0;;) {
    size_t colon = rest.find(':', at);
    parts.push_back(rest.substr(at, colon == std::string_view::npos ? colon : colon - at));
    if (colon == std::string_view::npos) break;
    at = colon + 1;
  }
  if (rest.empty() || parts.size() > 3)
    throw lab::UserError(fmt::format("invalid port format: \"{}\"", spec));
  std::string_view host = parts.size() >= 2 ? parts[parts.size() - 2] : "",
                   container = parts.back();
  if (parts.size() == 3) {
    if (!is_ipv4(parts[0])) throw lab::UserError(fmt::format("Invalid ip address: {}", parts[0]));
    if (parts[0] != "0.0.0.0") m.host_ip = parts[0];
  }
  auto c = parse_port_range(container);
  if (!c) throw lab::UserError(fmt::format("Invalid containerPort: {}", container));
  // No host port ("80", ":80", "127.0.0.1::80"): connect() picks one.
  std::optional<std::pair<int, int>> h;
  if (!host.empty()) {
    h = parse_port_range(host);
    if (!h) throw lab::UserError(fmt::format("Invalid hostPort: {}", host));
    if (h->second - h->first != c->second - c->first && c->first != c->second)
      throw lab::UserError(fmt::format(
          "Invalid ranges specified for container and host Ports: {} and {}", container, host));
  }
  std::vector<PortMapping> out;
  for (int port = c->first; port <= c->second; ++port) {
    PortMapping one = m;
    one.container_port = port;
    if (h && h->first == h->second) {
      one.host_port = h->first;
    } else if (h && c->first == c->second) {
      one.pick_first = h->first;  // one container port, a host range: one port of it
      one.pick_last = h->second;
    } else if (h) {
      one.host_port = h->first + (port - c->first);
    }
    out.push_back(one);
  }
  return out;
}

std::optional<int> pick_host_port(const PortMapping& wanted, const std::vector<PortMapping>& taken,
                                  int ephemeral_first, int ephemeral_last) {
  int first = wanted.pick_first ? wanted.pick_first : ephemeral_first;
  int last = wanted.pick_first ? wanted.pick_last : ephemeral_last;
  for (int port = first; port <= last; ++port) {
    PortMapping candidate = wanted;
    candidate.host_port = port;
    bool free = true;
    for (const PortMapping& t : taken) free = free && !conflicts(candidate, t);
    if (free) return port;
  }
  return std::nullopt;
}

std::string host_port_text(const PortMapping& m) {
  if (m.host_port != 0) return std::to_string(m.host_port);
  if (m.pick_first != 0) return fmt::format("{}-{}", m.pick_first, m.pick_last);
  return "";
}

std::string describe(const PortMapping& m) {
  return fmt::format("{}:{}->{}/{}", m.host_ip.empty() ? "0.0.0.0" : m.host_ip, m.host_port,
                     m.container_port, m.protocol);
}

bool conflicts(const PortMapping& a, const PortMapping& b) {
  return a.protocol == b.protocol && a.host_port == b.host_port &&
         (a.host_ip.empty() || b.host_ip.empty() || a.host_ip == b.host_ip);
}

std::string validate_network_name(std::string_view name) {
  if (name.empty()) return "network name is empty";
  auto ok_first = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!ok_first(name[0]))
    return fmt::format("invalid network name \"{}\": it must start with a letter or digit", name);
  for (char c : name)
    if (!ok_first(c) && c != '_' && c != '.' && c != '-')
      return fmt::format("invalid network name \"{}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                         name);
  if (name.size() > 64) return fmt::format("invalid network name \"{}\": too long", name);
  if (name == "bridge" || name == "host" || name == "none")
    return fmt::format("network with name {} already exists", name);
  return "";
}

Cidr parse_subnet(std::string_view text) {
  std::string why;
  auto cidr = lab::ipv4::parse_cidr(text, &why);
  if (!cidr) throw lab::UserError(fmt::format("invalid subnet {}: {}", text, why));
  if (cidr->prefix < 8 || cidr->prefix > 29)
    throw lab::UserError(fmt::format(
        "invalid subnet {}: use a prefix from /8 to /29 (a gateway and containers)", text));
  uint32_t network = cidr->address & lab::ipv4::netmask(cidr->prefix);
  if (network != cidr->address)
    throw lab::UserError(fmt::format("invalid subnet {}: not a network address; did you mean {}?",
                                     text, lab::ipv4::to_string(Cidr{network, cidr->prefix})));
  if (auto special = lab::ipv4::special_purpose_overlap(*cidr))
    throw lab::UserError(fmt::format("invalid subnet {}: it lies in {} ({})", text,
                                     lab::ipv4::to_string(special->range), special->what));
  return *cidr;
}

std::vector<Cidr> default_pool() {
  std::vector<Cidr> pool;
  for (uint32_t b = 18; b <= 31; ++b) pool.push_back(Cidr{(172u << 24) | (b << 16), 16});
  for (uint32_t c = 0; c < 256; c += 16)
    pool.push_back(Cidr{(192u << 24) | (168u << 16) | (c << 8), 20});
  return pool;
}

std::optional<Cidr> find_overlap(const Cidr& subnet, const std::vector<Cidr>& taken) {
  for (const Cidr& t : taken)
    if (lab::ipv4::overlaps(subnet, t)) return t;
  return std::nullopt;
}

std::optional<Cidr> pick_subnet(const std::vector<Cidr>& pool, const std::vector<Cidr>& routes,
                                const std::vector<Cidr>& taken) {
  for (const Cidr& candidate : pool)
    if (!lab::ipv4::find_clash(candidate, routes) && !find_overlap(candidate, taken))
      return candidate;
  return std::nullopt;
}

uint32_t gateway_of(const Cidr& subnet) { return lab::ipv4::host_address(subnet, 1); }

std::optional<uint32_t> next_free_address(const Cidr& subnet, const std::set<uint32_t>& used) {
  uint32_t network = subnet.address & lab::ipv4::netmask(subnet.prefix);
  uint32_t broadcast = network | ~lab::ipv4::netmask(subnet.prefix);
  for (uint32_t a = network + 2; a < broadcast; ++a)
    if (!used.contains(a)) return a;
  return std::nullopt;
}

std::string mac_for(uint32_t a) {
  return fmt::format("02:42:{:02x}:{:02x}:{:02x}:{:02x}", (a >> 24) & 0xff, (a >> 16) & 0xff,
                     (a >> 8) & 0xff, a & 0xff);
}

namespace {
// FNV-1a, 32 bits: a stable short hash, not a secret.
uint32_t fnv1a(std::string_view a, std::string_view b) {
  uint32_t h = 2166136261u;
  for (std::string_view part : {a, std::string_view("/"), b})
    for (char c : part) {
      h ^= static_cast<unsigned char>(c);
      h *= 16777619u;
    }
  return h;
}
}  // namespace

std::string veth_name(std::string_view network_id, std::string_view container_id) {
  return fmt::format("veth{:07x}", fnv1a(network_id, container_id) & 0xfffffff);
}

std::string veth_peer_name(std::string_view network_id, std::string_view container_id) {
  return veth_name(network_id, container_id) + "p";
}

std::string bridge_name_for(std::string_view network_id) {
  return fmt::format("br-{}", network_id.substr(0, 12));
}

std::string hosts_file(const std::vector<std::string>& entries) {
  std::string out =
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
      "ff02::2\tip6-allrouters\n";
  for (const auto& e : entries) out += e + "\n";
  return out;
}

}  // namespace network
