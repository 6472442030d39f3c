#include "network/driver.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <net/if.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <set>
#include <sstream>

#include "error.hpp"
#include "fd.hpp"
#include "firewall.hpp"
#include "graph/store.hpp"
#include "net.hpp"

namespace network {

namespace {

using json = nlohmann::json;

constexpr const char* kChain = "MINIDOCKER";
constexpr const char* kForwardChain = "MINIDOCKER-FORWARD";
constexpr const char* kBaseComment = "minidocker";

std::string container_comment(const std::string& id) { return "minidocker:" + id; }
std::string network_comment(const std::string& id) { return "minidocker:net:" + id.substr(0, 12); }

void explain(const Context& ctx, std::string_view call, std::string_view shell) {
  if (ctx.explain) ctx.explain("06", call, shell);
}

void mkdir_p(const std::string& path) {
  for (size_t at = 1; at != std::string::npos;) {
    at = path.find('/', at + 1);
    std::string level = path.substr(0, at);
    if (::mkdir(level.c_str(), 0755) != 0 && errno != EEXIST)
      lab::check(-1, [&] { return fmt::format("mkdir(\"{}\", 0755)", level); });
  }
}

std::string networks_dir(const Context& ctx) { return ctx.root + "/networks"; }

// flock(<root>/networks/lock, LOCK_EX) for the whole call.
class Lock {
 public:
  explicit Lock(const Context& ctx) {
    mkdir_p(networks_dir(ctx));
    mkdir_p(ctx.root + "/netns");
    std::string path = networks_dir(ctx) + "/lock";
    fd_ = lab::open_fd(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    while (::flock(fd_.get(), LOCK_EX) != 0) {
      if (errno != EINTR)
        lab::check(-1, [&] { return fmt::format("flock(\"{}\", LOCK_EX)", path); });
      lab::throw_if_interrupted();
    }
  }

 private:
  lab::UniqueFd fd_;
};

std::string random_id() {
  lab::UniqueFd f = lab::open_fd("/dev/urandom", O_RDONLY | O_CLOEXEC);
  unsigned char bytes[32];
  lab::check(::read(f.get(), bytes, sizeof bytes), "read(\"/dev/urandom\")");
  std::string out;
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

// ---- records ----

json to_json(const PortMapping& p) {
  return {{"HostIp", p.host_ip},
          {"HostPort", p.host_port},
          {"ContainerPort", p.container_port},
          {"Protocol", p.protocol}};
}

PortMapping port_from_json(const json& j) {
  return {j.value("HostIp", ""), j.value("HostPort", 0), j.value("ContainerPort", 0),
          j.value("Protocol", "tcp")};
}

json to_json(const Network& n) {
  json eps = json::object();
  for (const auto& [id, e] : n.endpoints) {
    json ports = json::array();
    for (const auto& p : e.ports) ports.push_back(to_json(p));
    eps[id] = {{"Name", e.container_name},  {"IPv4Address", e.address},
               {"MacAddress", e.mac},       {"Veth", e.veth},
               {"Interface", e.interface},  {"Ports", ports},
               {"HostsPath", e.hosts_path}, {"Hostname", e.hostname}};
  }
  return {{"Id", n.id},           {"Name", n.name},     {"Driver", n.driver},
          {"Bridge", n.bridge},   {"Subnet", n.subnet}, {"Gateway", n.gateway},
          {"Created", n.created}, {"Containers", eps}};
}

Network from_json(const json& j) {
  Network n{j.value("Id", ""),           j.value("Name", ""),
            j.value("Driver", "bridge"), j.value("Bridge", ""),
            j.value("Subnet", ""),       j.value("Gateway", ""),
            j.value("Created", ""),      {}};
  const json containers = j.value("Containers", json::object());
  for (const auto& [id, e] : containers.items()) {
    EndpointRecord r{id,
                     e.value("Name", ""),
                     e.value("IPv4Address", ""),
                     e.value("MacAddress", ""),
                     e.value("Veth", ""),
                     e.value("Interface", "eth0"),
                     {},
                     e.value("HostsPath", ""),
                     e.value("Hostname", "")};
    for (const auto& p : e.value("Ports", json::array())) r.ports.push_back(port_from_json(p));
    n.endpoints[id] = r;
  }
  return n;
}

std::string record_path(const Context& ctx, const std::string& id) {
  return fmt::format("{}/{}.json", networks_dir(ctx), id);
}

void save(const Context& ctx, const Network& n) {
  graph::write_file_atomically(record_path(ctx, n.id), to_json(n).dump(2) + "\n");
}

std::vector<Network> load_all(const Context& ctx) {
  std::vector<Network> out;
  DIR* d = ::opendir(networks_dir(ctx).c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (!name.ends_with(".json") || name.starts_with(".")) continue;
    // A record is written by rename, so it is whole or absent; one that does not parse was
    // edited by hand, and guessing would risk a second "bridge": say so and stop.
    std::string path = networks_dir(ctx) + "/" + name;
    try {
      out.push_back(from_json(json::parse(lab::read_file(path))));
    } catch (const json::exception& error) {
      ::closedir(d);
      throw lab::UserError(fmt::format("{}: not a network record: {}", path, error.what()));
    }
  }
  ::closedir(d);
  auto rank = [](const Network& n) {
    return n.name == "bridge" ? 0 : n.name == "host" ? 1 : n.name == "none" ? 2 : 3;
  };
  std::sort(out.begin(), out.end(), [&](const Network& a, const Network& b) {
    return std::pair(rank(a), a.name) < std::pair(rank(b), b.name);
  });
  return out;
}

std::vector<Cidr> subnets_of(const std::vector<Network>& all) {
  std::vector<Cidr> out;
  for (const auto& n : all)
    if (auto c = lab::ipv4::parse_cidr(n.subnet)) out.push_back(*c);
  return out;
}

std::vector<Cidr> routes_here() {
  net::Netlink nl;
  return net::main_table_routes(nl);
}

// The routes of this namespace that are not our own bridges' (a bridge with its address makes a
// route for its subnet, which must not count as a clash with itself).
std::vector<Cidr> foreign_routes(const std::vector<Network>& all) {
  std::vector<Cidr> ours = subnets_of(all), out;
  for (const Cidr& r : routes_here())
    if (std::find(ours.begin(), ours.end(), r) == ours.end()) out.push_back(r);
  return out;
}

// bridge, host and none exist from the first call on, as in Docker; the default bridge's subnet
// is picked then, its link made at its first connect.
std::vector<Network> load_with_predefined(const Context& ctx) {
  std::vector<Network> all = load_all(ctx);
  auto has = [&](const char* name) {
    return std::any_of(all.begin(), all.end(), [&](const Network& n) { return n.name == name; });
  };
  bool added = false;
  for (const char* name : {"bridge", "host", "none"}) {
    if (has(name)) continue;
    Network n;
    n.id = random_id();
    n.name = name;
    n.created = graph::rfc3339_now();
    n.driver = name == std::string("bridge") ? "bridge"
               : name == std::string("host") ? "host"
                                             : "null";
    if (n.driver == "bridge") {
      auto subnet = pick_subnet(default_pool(), foreign_routes(all), subnets_of(all));
      if (!subnet)
        throw lab::UserError("could not find an available, non-overlapping IPv4 address pool");
      n.bridge = kDefaultBridge;
      n.subnet = lab::ipv4::to_string(*subnet);
      n.gateway = lab::ipv4::to_string(gateway_of(*subnet));
    }
    save(ctx, n);
    all.push_back(n);
    added = true;
  }
  return added ? load_all(ctx) : all;
}

Network* lookup(std::vector<Network>& all, const std::string& key) {
  for (auto& n : all)
    if (n.name == key || n.id == key) return &n;
  Network* found = nullptr;
  for (auto& n : all)
    if (!key.empty() && n.id.starts_with(key)) {
      if (found) return nullptr;
      found = &n;
    }
  return found;
}

Network& lookup_or_throw(std::vector<Network>& all, const std::string& key) {
  Network* n = lookup(all, key);
  if (!n) throw lab::UserError(fmt::format("network {} not found", key));
  return *n;
}

// ---- the kernel side: lesson 06 ----

// What iptables holds now, read with one `iptables -S` per table: a chain or rule listed here
// exists, so the engine's every run on a bridge costs two iptables processes, not the thirteen
// `iptables -C` of one per rule (about 2.5 ms each). One not listed is checked with -C and made,
// as before: a listing that reads differently costs time, never a duplicate.
class Listing {
 public:
  Listing() {
    for (const char* table : {"filter", "nat"})
      for (std::string& line : net::listed_lines(table))
        lines_.insert(fmt::format("{} {}", table, line));
  }
  bool has(const net::Chain& c) const { return lines_.contains(c.table + " -N " + c.name); }
  bool has(const net::Rule& r, const std::string& comment) const {
    return lines_.contains(r.table + " " + net::rule_as_listed(r, comment));
  }

 private:
  std::set<std::string> lines_;
};

// Our chains and the jumps into them, once per namespace; and ip_forward on, for good.
void ensure_base(const Context& ctx, const Listing& listing) {
  std::string forward = lab::trim(lab::read_file("/proc/sys/net/ipv4/ip_forward"));
  if (forward != "1") {
    explain(ctx, "write(\"/proc/sys/net/ipv4/ip_forward\", \"1\")",
            "sysctl -w net.ipv4.ip_forward=1");
    lab::write_file("/proc/sys/net/ipv4/ip_forward", "1");
  }
  for (const net::Chain& c :
       std::vector<net::Chain>{{"filter", kChain}, {"filter", kForwardChain}, {"nat", kChain}}) {
    if (!listing.has(c)) net::ensure_chain(c);
  }
  std::vector<net::Rule> jumps = {
      {"filter", "FORWARD", {"-j", kForwardChain}, 1},
      {"nat", "PREROUTING", {"-m", "addrtype", "--dst-type", "LOCAL", "-j", kChain}, 0},
      {"nat", "OUTPUT", {"-m", "addrtype", "--dst-type", "LOCAL", "-j", kChain}, 0},
  };
  for (const auto& r : jumps) {
    if (listing.has(r, kBaseComment) || net::rule_exists(r, kBaseComment)) continue;
    explain(ctx,
            fmt::format("iptables {}", net::join_argv(net::iptables_args(r, true, kBaseComment))),
            "");
    net::ensure_rule(r, kBaseComment);
  }
}

std::vector<net::Rule> network_rules(const Network& n) {
  const std::string& br = n.bridge;
  // The -I 1 ones end up in the reverse order of this list: same-bridge, replies, published
  // ports, DROP; every bridge's "into" rules precede every bridge's "out" ACCEPT (appended).
  return {
      {"filter", kForwardChain, {"-o", br, "-j", "DROP"}, 1},
      {"filter", kForwardChain, {"-o", br, "-j", kChain}, 1},
      {"filter",
       kForwardChain,
       {"-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"},
       1},
      {"filter", kForwardChain, {"-i", br, "-o", br, "-j", "ACCEPT"}, 1},
      {"filter", kForwardChain, {"-i", br, "!", "-o", br, "-j", "ACCEPT"}, 0},
      {"nat", "POSTROUTING", {"-s", n.subnet, "!", "-o", br, "-j", "MASQUERADE"}, 0},
      {"nat",
       "POSTROUTING",
       {"-o", br, "-m", "addrtype", "--src-type", "LOCAL", "-j", "MASQUERADE"},
       0},
  };
}

// The bridge with its gateway address, up, route_localnet on, and the network's rules.
void ensure_bridge(const Context& ctx, const Network& n) {
  Listing listing;
  ensure_base(ctx, listing);
  net::Netlink nl;
  if (!net::find_link(nl, n.bridge)) {
    explain(ctx, fmt::format("rtnl_link_add(\"{}\", type bridge)", n.bridge),
            fmt::format("ip link add {} type bridge", n.bridge));
    net::Link bridge = net::create_bridge(nl, n.bridge);
    Cidr subnet = *lab::ipv4::parse_cidr(n.subnet);
    std::string address = lab::ipv4::with_prefix(gateway_of(subnet), subnet);
    explain(ctx, fmt::format("rtnl_addr_add(\"{}\", dev \"{}\"), IFF_UP", address, n.bridge),
            fmt::format("ip addr add {} dev {}; ip link set {} up", address, n.bridge, n.bridge));
    net::add_address(nl, bridge.ifindex(), n.bridge, address);
    net::set_link_up(nl, bridge.ifindex(), n.bridge);
    bridge.release();  // kept: the bridge outlives this call
  }
  std::string localnet = fmt::format("/proc/sys/net/ipv4/conf/{}/route_localnet", n.bridge);
  if (lab::trim(lab::read_file(localnet)) != "1") {
    explain(ctx, fmt::format("write(\"{}\", \"1\")", localnet),
            fmt::format("sysctl -w net.ipv4.conf.{}.route_localnet=1", n.bridge));
    lab::write_file(localnet, "1");
  }
  for (const auto& r : network_rules(n)) {
    if (listing.has(r, network_comment(n.id)) || net::rule_exists(r, network_comment(n.id)))
      continue;
    explain(ctx,
            fmt::format("iptables {}",
                        net::join_argv(net::iptables_args(r, true, network_comment(n.id)))),
            "");
    net::ensure_rule(r, network_comment(n.id));
  }
}

void remove_bridge(const Context& ctx, const Network& n) {
  for (const char* table : {"filter", "nat"})
    net::delete_rules_with_comment(table, network_comment(n.id));
  net::Netlink nl;
  if (int index = net::find_link(nl, n.bridge)) {
    explain(ctx, fmt::format("rtnl_link_delete(\"{}\")", n.bridge),
            fmt::format("ip link del {}", n.bridge));
    net::Link(n.bridge, index).remove();
  }
}

std::vector<net::Rule> port_rules(const Network& n, const std::string& address,
                                  const PortMapping& p) {
  std::vector<std::string> dnat;
  if (!p.host_ip.empty()) dnat = {"-d", p.host_ip + "/32"};
  dnat.insert(dnat.end(), {"!", "-i", n.bridge, "-p", p.protocol, "-m", p.protocol, "--dport",
                           std::to_string(p.host_port), "-j", "DNAT", "--to-destination",
                           fmt::format("{}:{}", address, p.container_port)});
  return {
      {"nat", kChain, dnat, 0},
      {"filter",
       kChain,
       {"-d", address + "/32", "!", "-i", n.bridge, "-o", n.bridge, "-p", p.protocol, "-m",
        p.protocol, "--dport", std::to_string(p.container_port), "-j", "ACCEPT"},
       0},
  };
}

void delete_container_rules(const std::string& container_id) {
  for (const char* table : {"filter", "nat"})
    net::delete_rules_with_comment(table, container_comment(container_id));
}

void delete_veth(const Context& ctx, const std::string& name) {
  net::Netlink nl;
  if (int index = net::find_link(nl, name)) {
    explain(ctx, fmt::format("rtnl_link_delete(\"{}\")", name),
            fmt::format("ip link del {}", name));
    net::Link(name, index).remove();
  }
}

std::vector<std::string> entries_for(const std::vector<Network>& all, const std::string& id) {
  std::vector<std::string> out;
  for (const auto& n : all) {
    auto self = n.endpoints.find(id);
    if (self == n.endpoints.end()) continue;
    const EndpointRecord& me = self->second;
    std::string names = me.hostname.empty() ? me.container_name : me.hostname;
    if (!me.hostname.empty() && !me.container_name.empty() && me.container_name != me.hostname)
      names += " " + me.container_name;
    out.push_back(fmt::format("{}\t{}", me.address, names));
    if (!n.user_defined()) continue;
    for (const auto& [peer_id, peer] : n.endpoints)
      if (peer_id != id && !peer.container_name.empty())
        out.push_back(fmt::format("{}\t{}", peer.address, peer.container_name));
  }
  return out;
}

// Rewrites the hosts file of every endpoint of `n` that has one (in place, as Docker rewrites a
// bind-mounted /etc/hosts: a rename would leave the container's mount on the old file).
void refresh_hosts(const std::vector<Network>& all, const Network& n) {
  for (const auto& [id, e] : n.endpoints) {
    if (e.hosts_path.empty()) continue;
    try {
      lab::create_file(e.hosts_path, hosts_file(entries_for(all, id)));
    } catch (const std::exception&) {
      // the container's files may be gone already; its own disconnect follows
    }
  }
}

// For the crash tests: MINIDOCKER_NETWORK_KILL_AT=STEP makes connect SIGKILL itself at STEP
// (netns, veth, attached, configured, rules), where a real crash could stop it.
void kill_point(const char* step) {
  const char* at = ::getenv("MINIDOCKER_NETWORK_KILL_AT");
  if (at && std::string_view(at) == step) ::raise(SIGKILL);
}

// The host's link names (if_nameindex(3)).
std::vector<std::string> link_names() {
  std::vector<std::string> out;
  if (struct if_nameindex* list = ::if_nameindex()) {
    for (struct if_nameindex* i = list; i->if_index != 0; ++i) out.emplace_back(i->if_name);
    ::if_freenameindex(list);
  }
  return out;
}

Endpoint to_endpoint(const Context& ctx, const Network& n, const EndpointRecord& e) {
  Cidr subnet = *lab::ipv4::parse_cidr(n.subnet);
  return {netns_path(ctx, e.container_id),
          n.name,
          n.id,
          e.address,
          subnet.prefix,
          n.gateway,
          e.mac,
          e.veth,
          e.interface,
          e.ports};
}

}  // namespace

// ---- networks ----

Network create_network(const Context& ctx, const std::string& name, const std::string& subnet) {
  if (std::string why = validate_network_name(name); !why.empty()) throw lab::UserError(why);
  std::optional<Cidr> wanted;
  if (!subnet.empty()) wanted = parse_subnet(subnet);
  Lock lock(ctx);
  std::vector<Network> all = load_with_predefined(ctx);
  if (lookup(all, name) && lookup(all, name)->name == name)
    throw lab::UserError(fmt::format("network with name {} already exists", name));
  if (wanted) {
    if (auto clash = find_overlap(*wanted, subnets_of(all)))
      throw lab::UserError(fmt::format("Pool overlaps with other one on this address space ({})",
                                       lab::ipv4::to_string(*clash)));
    if (auto clash = lab::ipv4::find_clash(*wanted, foreign_routes(all)))
      throw lab::UserError(fmt::format(
          "Pool overlaps with other one on this address space (the route {} of this host)",
          lab::ipv4::to_string(*clash)));
  } else {
    wanted = pick_subnet(default_pool(), foreign_routes(all), subnets_of(all));
    if (!wanted)
      throw lab::UserError("could not find an available, non-overlapping IPv4 address pool");
  }
  Network n;
  n.id = random_id();
  n.name = name;
  n.driver = "bridge";
  n.bridge = bridge_name_for(n.id);
  n.subnet = lab::ipv4::to_string(*wanted);
  n.gateway = lab::ipv4::to_string(gateway_of(*wanted));
  n.created = graph::rfc3339_now();
  try {
    ensure_bridge(ctx, n);
    save(ctx, n);
  } catch (...) {
    remove_bridge(ctx, n);
    throw;
  }
  return n;
}

std::vector<Network> list_networks(const Context& ctx) {
  Lock lock(ctx);
  return load_with_predefined(ctx);
}

Network find_network(const Context& ctx, const std::string& key) {
  Lock lock(ctx);
  std::vector<Network> all = load_with_predefined(ctx);
  return lookup_or_throw(all, key);
}

void remove_network(const Context& ctx, const std::string& key) {
  Lock lock(ctx);
  std::vector<Network> all = load_with_predefined(ctx);
  Network& n = lookup_or_throw(all, key);
  if (!n.user_defined())
    throw lab::UserError(fmt::format("{} is a pre-defined network and cannot be removed", n.name));
  if (!n.endpoints.empty())
    throw lab::UserError(fmt::format(
        "error while removing network: network {} id {} has active endpoints", n.name, n.id));
  remove_bridge(ctx, n);
  lab::check(::unlink(record_path(ctx, n.id).c_str()),
             [&] { return fmt::format("unlink(\"{}\")", record_path(ctx, n.id)); });
}

std::vector<std::string> remove_unused_networks(const Context& ctx) {
  std::vector<std::string> names;
  for (const Network& n : list_networks(ctx)) {
    if (!n.user_defined() || !n.endpoints.empty()) continue;
    try {
      remove_network(ctx, n.id);  // checks again under the lock: a connect may have come
      names.push_back(n.name);
    } catch (const lab::UserError&) {
    }
  }
  return names;
}

nlohmann::json inspect_json(const Network& n) {
  json containers = json::object();
  for (const auto& [id, e] : n.endpoints) {
    Cidr subnet = *lab::ipv4::parse_cidr(n.subnet);
    containers[id] = {{"Name", e.container_name},
                      {"EndpointID", e.veth},
                      {"MacAddress", e.mac},
                      {"IPv4Address", fmt::format("{}/{}", e.address, subnet.prefix)},
                      {"IPv6Address", ""}};
  }
  json config = json::array();
  if (!n.subnet.empty()) config.push_back({{"Subnet", n.subnet}, {"Gateway", n.gateway}});
  json options = json::object();
  if (!n.bridge.empty()) options["com.docker.network.bridge.name"] = n.bridge;
  return {{"Name", n.name},
          {"Id", n.id},
          {"Created", n.created},
          {"Scope", "local"},
          {"Driver", n.driver},
          {"EnableIPv6", false},
          {"IPAM", {{"Driver", "default"}, {"Options", json::object()}, {"Config", config}}},
          {"Internal", false},
          {"Attachable", false},
          {"Containers", containers},
          {"Options", options},
          {"Labels", json::object()}};
}

// ---- endpoints ----

std::string netns_path(const Context& ctx, const std::string& container_id) {
  return fmt::format("{}/netns/{}", ctx.root, container_id);
}

namespace {

// The kernel's ephemeral ports, where Docker's allocator takes a random host port from:
// "32768\t60999" by default; Docker's own fallback when the file cannot be read.
std::pair<int, int> ephemeral_ports() {
  std::string text = lab::read_file_or_empty("/proc/sys/net/ipv4/ip_local_port_range");
  int first = 0, last = 0;
  if (std::sscanf(text.c_str(), "%d %d", &first, &last) == 2 && first > 0 && last >= first &&
      last <= 65535)
    return {first, last};
  return {49153, 65535};
}

}  // namespace

Endpoint connect(const Context& ctx, const std::string& network, const std::string& container_id,
                 const std::string& container_name, const std::vector<PortMapping>& ports,
                 const std::string& hosts_path, const std::string& hostname) {
  if (container_id.empty() || container_id.find('/') != std::string::npos ||
      container_id.starts_with("."))
    throw lab::UserError(fmt::format("invalid container id \"{}\"", container_id));
  Lock lock(ctx);
  std::vector<Network> all = load_with_predefined(ctx);
  Network& n = lookup_or_throw(all, network);
  if (n.driver != "bridge")
    throw lab::UserError(fmt::format(
        "container cannot be disconnected from host network or connected to {} network", n.name));
  if (n.endpoints.contains(container_id))
    throw lab::UserError(fmt::format("endpoint with name {} already exists in network {}",
                                     container_name.empty() ? container_id : container_name,
                                     n.name));
  // The host ports: a fixed one must be free, a wanted one (`-p 80`, `-p 8000-8010:80`) is the
  // lowest free one of its range, as Docker's port allocator picks them; every network's
  // endpoints and this container's earlier -p count as taken.
  std::vector<PortMapping> taken, bound;
  for (const auto& other : all)
    for (const auto& [id, e] : other.endpoints)
      taken.insert(taken.end(), e.ports.begin(), e.ports.end());
  for (PortMapping p : ports) {
    std::string ip = p.host_ip.empty() ? "0.0.0.0" : p.host_ip;
    if (p.host_port == 0) {
      auto [first, last] = ephemeral_ports();
      auto port = pick_host_port(p, taken, first, last);
      if (!port && p.pick_first != 0)
        throw lab::UserError(fmt::format("Bind for {}:{}-{} failed: port is already allocated", ip,
                                         p.pick_first, p.pick_last));
      if (!port) throw lab::UserError("all ports are allocated");
      p.host_port = *port;
      p.pick_first = p.pick_last = 0;
    }
    for (const PortMapping& q : taken)
      if (conflicts(p, q))
        throw lab::UserError(
            fmt::format("Bind for {}:{} failed: port is already allocated", ip, p.host_port));
    taken.push_back(p);
    bound.push_back(p);
  }
  // The interface inside: eth0 on the container's first network, eth1 on its second ...
  int already = 0;
  for (const auto& other : all) already += other.endpoints.contains(container_id) ? 1 : 0;

  // IPAM: the lowest free address; the lease is the endpoint in the record, written last.
  Cidr subnet = *lab::ipv4::parse_cidr(n.subnet);
  std::set<uint32_t> used;
  for (const auto& [id, e] : n.endpoints)
    if (auto a = lab::ipv4::parse_cidr(e.address + "/32")) used.insert(a->address);
  auto address = next_free_address(subnet, used);
  if (!address)
    throw lab::UserError(fmt::format("no available IPv4 addresses on network {}", n.name));
  EndpointRecord e{container_id,
                   container_name,
                   lab::ipv4::to_string(*address),
                   mac_for(*address),
                   veth_name(n.id, container_id),
                   fmt::format("eth{}", already),
                   bound,
                   hosts_path,
                   hostname};
  const std::string peer = veth_peer_name(n.id, container_id);
  const std::string ns = netns_path(ctx, container_id);
  bool made_netns = false;
  try {
    ensure_bridge(ctx, n);
    if (::access(ns.c_str(), F_OK) != 0) {
      explain(ctx, "clone(CLONE_NEWNET), mount(\"/proc/self/ns/net\", MS_BIND)",
              fmt::format("touch {0}; unshare --net={0} true", ns));
      net::create_pinned_netns(ns);
      made_netns = true;
    }
    kill_point("netns");
    net::Netlink nl;
    // The container's end is born in its namespace (no move: a move waits for the network's RCU
    // readers, about 20 ms here; lesson 06 shows the classic add-then-move).
    explain(ctx,
            fmt::format("rtnl_link_add(\"{}\", type veth, peer \"{}\" address {} "
                        "IFLA_NET_NS_FD=open(\"{}\"))",
                        e.veth, peer, e.mac, ns),
            fmt::format("ip link add {} type veth peer name {} address {} netns {}", e.veth, peer,
                        e.mac, ns));
    net::Link veth = net::create_veth_pair_into(nl, e.veth, peer, e.mac, ns);
    kill_point("veth");
    explain(ctx,
            fmt::format("rtnl_link_change(\"{}\", IFLA_MASTER=\"{}\", IFF_UP)", e.veth, n.bridge),
            fmt::format("ip link set {} master {} up", e.veth, n.bridge));
    net::attach_to_bridge(nl, veth.ifindex(), net::find_link(nl, n.bridge), e.veth, n.bridge);
    net::set_link_up(nl, veth.ifindex(), e.veth);
    kill_point("attached");
    std::string cidr = lab::ipv4::with_prefix(*address, subnet);
    std::string gateway = already == 0 ? n.gateway : "";
    explain(ctx,
            fmt::format("[in {}] IFLA_IFNAME=\"{}\", rtnl_addr_add(\"{}\"), IFF_UP, default via {}",
                        ns, e.interface, cidr, n.gateway),
            fmt::format("nsenter --net={} sh -c 'ip link set {} name {}; ip addr add {} dev {}; "
                        "ip link set lo up; ip link set {} up; ip route add default via {}'",
                        ns, peer, e.interface, cidr, e.interface, e.interface, n.gateway));
    net::run_in_netns_file(ns, fmt::format("configuring {} in {}", e.interface, ns), [&] {
      net::configure_interface_in_child(peer, e.interface, cidr, gateway);
    });
    kill_point("configured");
    for (const PortMapping& p : bound)
      for (const net::Rule& r : port_rules(n, e.address, p)) {
        explain(ctx,
                fmt::format("iptables {}", net::join_argv(net::iptables_args(
                                               r, true, container_comment(container_id)))),
                "");
        net::ensure_rule(r, container_comment(container_id));
      }
    kill_point("rules");
    n.endpoints[container_id] = e;
    save(ctx, n);
    veth.release();
  } catch (...) {
    delete_container_rules(container_id);
    delete_veth(ctx, e.veth);
    if (made_netns) net::unpin_netns(ns);
    throw;
  }
  refresh_hosts(all, n);
  return to_endpoint(ctx, n, e);
}

bool disconnect(const Context& ctx, const std::string& container_id) {
  Lock lock(ctx);
  std::vector<Network> all = load_all(ctx);
  bool found = false;
  for (auto& n : all) {
    auto it = n.endpoints.find(container_id);
    if (it == n.endpoints.end()) continue;
    found = true;
    delete_veth(ctx, it->second.veth);
    n.endpoints.erase(it);
    save(ctx, n);
    refresh_hosts(all, n);
  }
  std::string ns = netns_path(ctx, container_id);
  bool pinned = ::access(ns.c_str(), F_OK) == 0;
  // Rules exist only beside an endpoint, or after a connect killed before it saved one: connect
  // pins the namespace first. A container without either (--network none, host, container:X)
  // has none, and is spared two `iptables -S` (about 5 ms).
  if (found || pinned) delete_container_rules(container_id);
  if (pinned)
    explain(ctx, fmt::format("umount2(\"{}\", MNT_DETACH), unlink", ns),
            fmt::format("umount {0}; rm {0}", ns));
  found = net::unpin_netns(ns) || found;
  return found;
}

void disconnect_one(const Context& ctx, const std::string& container_id,
                    const std::string& network) {
  Lock lock(ctx);
  std::vector<Network> all = load_with_predefined(ctx);
  Network& n = lookup_or_throw(all, network);
  auto it = n.endpoints.find(container_id);
  if (it == n.endpoints.end())
    throw lab::UserError(
        fmt::format("container {} is not connected to network {}", container_id, n.name));
  const EndpointRecord gone = it->second;
  delete_veth(ctx, gone.veth);
  if (!gone.ports.empty()) delete_container_rules(container_id);
  n.endpoints.erase(it);
  save(ctx, n);
  refresh_hosts(all, n);
  if (!gone.hosts_path.empty())
    lab::create_file(gone.hosts_path, hosts_file(entries_for(all, container_id)));
}

std::vector<std::string> hosts_entries(const Context& ctx, const std::string& container_id) {
  Lock lock(ctx);
  return entries_for(load_all(ctx), container_id);
}

std::vector<Endpoint> endpoints_of(const Context& ctx, const std::string& container_id) {
  Lock lock(ctx);
  std::vector<Endpoint> out;
  for (const auto& n : load_all(ctx))
    if (auto it = n.endpoints.find(container_id); it != n.endpoints.end())
      out.push_back(to_endpoint(ctx, n, it->second));
  return out;
}

std::vector<std::string> prune(const Context& ctx,
                               const std::function<bool(const std::string&)>& alive,
                               bool everything) {
  std::vector<std::string> gone;
  std::set<std::string> dead;
  {
    Lock lock(ctx);
    for (const auto& n : load_all(ctx))
      for (const auto& [id, e] : n.endpoints)
        if (everything || !alive(id)) dead.insert(id);
  }
  for (const auto& id : dead)
    if (disconnect(ctx, id)) gone.push_back(fmt::format("endpoint {}", id));
  Lock lock(ctx);
  std::vector<Network> all = load_all(ctx);
  std::set<std::string> live_ids, live_veths;
  for (const auto& n : all)
    for (const auto& [id, e] : n.endpoints) {
      live_ids.insert(id);
      live_veths.insert(e.veth);
    }
  // veths on our bridges that no record names: a connect killed before its record
  net::Netlink nl;
  for (const auto& n : all) {
    if (n.bridge.empty()) continue;
    int index = net::find_link(nl, n.bridge);
    if (!index) continue;
    for (const auto& port : net::bridge_ports(nl, index))
      if (!live_veths.contains(port.name)) {
        delete_veth(ctx, port.name);
        gone.push_back(fmt::format("link {}", port.name));
      }
  }
  // a pair made but not yet on a bridge: both ends still here, named vethXXXXXXX and ...p
  std::vector<std::string> links = link_names();
  std::set<std::string> here(links.begin(), links.end());
  for (const auto& name : links)
    if (name.size() == 11 && name.starts_with("veth") && here.contains(name + "p") &&
        !live_veths.contains(name) &&
        name.find_first_not_of("0123456789abcdef", 4) == std::string::npos) {
      delete_veth(ctx, name);
      gone.push_back(fmt::format("link {}", name));
    }
  // pinned namespaces with no endpoint
  if (DIR* d = ::opendir((ctx.root + "/netns").c_str())) {
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    ::closedir(d);
    for (const auto& name : names)
      if (!live_ids.contains(name) && net::unpin_netns(netns_path(ctx, name)))
        gone.push_back(fmt::format("netns {}", name));
  }
  // rules marked with an id no endpoint has
  std::set<std::string> stale;
  for (const char* table : {"filter", "nat"}) {
    std::string output;
    net::run_iptables({"-t", table, "-S"}, &output);
    std::istringstream in(output);
    for (std::string line; std::getline(in, line);) {
      size_t at = line.find(" --comment ");
      if (at == std::string::npos) continue;
      std::string mark = line.substr(at + 11);
      mark = mark.substr(0, mark.find(' '));
      if (mark.size() >= 2 && mark.front() == '"') mark = mark.substr(1, mark.size() - 2);
      if (!mark.starts_with("minidocker:")) continue;
      std::string id = mark.substr(std::string("minidocker:").size());
      if (!id.starts_with("net:") && !live_ids.contains(id)) stale.insert(id);
    }
  }
  for (const auto& id : stale) {
    delete_container_rules(id);
    gone.push_back(fmt::format("rules of {}", id));
  }
  if (everything) {
    for (const auto& n : all) {
      if (n.driver != "bridge") continue;
      remove_bridge(ctx, n);
      if (n.user_defined()) {
        ::unlink(record_path(ctx, n.id).c_str());
        gone.push_back(fmt::format("network {}", n.name));
      }
    }
    for (const char* table : {"filter", "nat"}) net::delete_rules_with_comment(table, kBaseComment);
    for (const auto& [table, chain] : std::vector<std::pair<std::string, std::string>>{
             {"filter", kChain}, {"filter", kForwardChain}, {"nat", kChain}}) {
      net::run_iptables({"-t", table, "-F", chain}, nullptr);
      net::run_iptables({"-t", table, "-X", chain}, nullptr);
    }
  }
  return gone;
}

}  // namespace network
