#include "net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <memory>

#include "error.hpp"
#include "fd.hpp"
#include "mount.hpp"

namespace net {

// --- pure logic ----------------------------------------------------------------------------------

std::string validate_subnet(std::string_view text) {
  std::string why;
  auto cidr = parse_cidr(text, &why);
  if (!cidr) return why;
  if (cidr->prefix < 8 || cidr->prefix > 29)
    return fmt::format(
        "/{} does not fit: use a prefix from /8 to /29 (room for a gateway and two "
        "containers)",
        cidr->prefix);
  uint32_t network = cidr->address & netmask(cidr->prefix);
  if (network != cidr->address)
    return fmt::format("{} is not a network address; did you mean {}?", text,
                       to_string(Cidr{network, cidr->prefix}));
  if (auto special = lab::ipv4::special_purpose_overlap(*cidr))
    return fmt::format(
        "{} lies in {} ({}), which no bridge network can use; choose a private range such as "
        "10.88.0.0/24",
        text, to_string(special->range), special->what);
  if (overlaps(*cidr, *parse_cidr(kOutsideSubnet)))
    return fmt::format(
        "{} overlaps {}, the lesson's own \"internet\" (lab-outside); choose another, such as "
        "10.88.0.0/24",
        text, kOutsideSubnet);
  return "";
}

std::string validate_link_name(std::string_view name) {
  if (name.empty()) return "the name is empty; give 1-15 bytes";
  if (name.size() > 15)
    return fmt::format("\"{}\" is {} bytes; interface names are at most 15 (IFNAMSIZ)", name,
                       name.size());
  if (name == "." || name == "..") return fmt::format("\"{}\" is not allowed as a name", name);
  for (char c : name) {
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
        c == '\f')
      return fmt::format("\"{}\" holds {}; interface names cannot contain '/', ':' or spaces", name,
                         c == '/' || c == ':' ? fmt::format("'{}'", c) : "a space");
  }
  return "";
}

bool is_lab_link_name(std::string_view name) { return name == "lab0" || name.starts_with("lab-"); }

std::string validate_bridge_name(std::string_view name) {
  if (std::string why = validate_link_name(name); !why.empty()) return why;
  if (!is_lab_link_name(name))
    return fmt::format(
        "\"{}\" is not a lab name; the lesson makes only links called lab0 or lab-..., and never "
        "touches the host's own (choose e.g. lab-br1)",
        name);
  return "";
}

// --- netlink -------------------------------------------------------------------------------------

namespace {

// libnl returns its own NLE_ codes; map the common ones back to the errno the kernel sent, so
// messages and hints read the same as for any other syscall.
int nle_to_errno(int nle) {
  switch (nle) {
    case NLE_PERM:
      return EPERM;
    case NLE_NOACCESS:
      return EACCES;
    case NLE_EXIST:
      return EEXIST;
    case NLE_OBJ_NOTFOUND:
      return ENOENT;
    case NLE_NODEV:
      return ENODEV;
    case NLE_BUSY:
      return EBUSY;
    case NLE_INVAL:
      return EINVAL;
    case NLE_RANGE:
      return ERANGE;
    case NLE_NOMEM:
      return ENOMEM;
    case NLE_OPNOTSUPP:
      return EOPNOTSUPP;
    case NLE_AF_NOSUPPORT:
      return EAFNOSUPPORT;
    case NLE_AGAIN:
      return EAGAIN;
    case NLE_INTR:
      return EINTR;
    default:
      return EIO;
  }
}

struct LinkDeleter {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
using LinkPtr = std::unique_ptr<rtnl_link, LinkDeleter>;
struct AddrDeleter {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
using AddrPtr = std::unique_ptr<nl_addr, AddrDeleter>;
struct CacheDeleter {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using CachePtr = std::unique_ptr<nl_cache, CacheDeleter>;

LinkPtr new_link() {
  LinkPtr l(rtnl_link_alloc());
  if (!l) throw std::bad_alloc();
  return l;
}

AddrPtr parse_addr(const std::string& text) {
  nl_addr* a = nullptr;
  nl_check(nl_addr_parse(text.c_str(), AF_INET, &a), fmt::format("nl_addr_parse(\"{}\")", text));
  return AddrPtr(a);
}

// RTM_NEWLINK on an existing link (ifindex), with only the attributes set in `change`.
void change_link(Netlink& nl, int ifindex, rtnl_link* change, const std::string& call) {
  LinkPtr orig = new_link();
  rtnl_link_set_ifindex(orig.get(), ifindex);
  nl_check(rtnl_link_change(nl.get(), orig.get(), change, 0), call);
}

}  // namespace

void nl_check(int rc, const std::string& call) {
  if (rc >= 0) return;
  throw lab::SyscallError(nle_to_errno(-rc), call);
}

Netlink::Netlink() {
  sock_ = nl_socket_alloc();
  if (!sock_) throw std::bad_alloc();
  int rc = nl_connect(sock_, NETLINK_ROUTE);
  if (rc < 0) {
    nl_socket_free(sock_);
    sock_ = nullptr;
    nl_check(rc, "nl_connect(NETLINK_ROUTE)");
  }
}

Netlink::~Netlink() {
  if (sock_) nl_socket_free(sock_);
}

Link& Link::operator=(Link&& other) noexcept {
  if (this != &other) {
    remove();
    name_ = std::exchange(other.name_, {});
    ifindex_ = std::exchange(other.ifindex_, 0);
  }
  return *this;
}

void Link::remove() noexcept {
  if (ifindex_ <= 0) return;
  try {
    Netlink nl;
    LinkPtr l = new_link();
    rtnl_link_set_ifindex(l.get(), ifindex_);
    // ENODEV is fine: a veth goes by itself when its peer's namespace dies.
    rtnl_link_delete(nl.get(), l.get());
  } catch (...) {
  }
  ifindex_ = 0;
  name_.clear();
}

int find_link(Netlink& nl, const std::string& name) {
  rtnl_link* l = nullptr;
  if (rtnl_link_get_kernel(nl.get(), 0, name.c_str(), &l) < 0) return 0;
  LinkPtr owned(l);
  return rtnl_link_get_ifindex(l);
}

Link create_bridge(Netlink& nl, const std::string& name) {
  LinkPtr br(rtnl_link_bridge_alloc());
  if (!br) throw std::bad_alloc();
  rtnl_link_set_name(br.get(), name.c_str());
  nl_check(rtnl_link_add(nl.get(), br.get(), NLM_F_CREATE | NLM_F_EXCL),
           fmt::format("rtnl_link_add(\"{}\", type bridge, NLM_F_CREATE|NLM_F_EXCL)", name));
  return Link(name, find_link(nl, name));
}

Link create_veth_pair(Netlink& nl, const std::string& name, const std::string& peer) {
  LinkPtr veth(rtnl_link_veth_alloc());
  if (!veth) throw std::bad_alloc();
  rtnl_link_set_name(veth.get(), name.c_str());
  rtnl_link* peer_link = rtnl_link_veth_get_peer(veth.get());
  rtnl_link_set_name(peer_link, peer.c_str());
  rtnl_link_put(peer_link);
  nl_check(rtnl_link_add(nl.get(), veth.get(), NLM_F_CREATE | NLM_F_EXCL),
           fmt::format("rtnl_link_add(\"{}\", type veth, peer \"{}\", NLM_F_CREATE|NLM_F_EXCL)",
                       name, peer));
  return Link(name, find_link(nl, name));
}

Link create_veth_pair_into(Netlink& nl, const std::string& name, const std::string& peer,
                           const std::string& peer_mac, const std::string& netns_path) {
  lab::UniqueFd ns = lab::open_fd(netns_path, O_RDONLY | O_CLOEXEC);
  nl_addr* raw = nullptr;
  nl_check(nl_addr_parse(peer_mac.c_str(), AF_LLC, &raw),
           fmt::format("nl_addr_parse(\"{}\")", peer_mac));
  AddrPtr lladdr(raw);
  LinkPtr veth(rtnl_link_veth_alloc());
  if (!veth) throw std::bad_alloc();
  rtnl_link_set_name(veth.get(), name.c_str());
  rtnl_link* peer_link = rtnl_link_veth_get_peer(veth.get());
  rtnl_link_set_name(peer_link, peer.c_str());
  rtnl_link_set_addr(peer_link, lladdr.get());
  rtnl_link_set_ns_fd(peer_link, ns.get());
  rtnl_link_put(peer_link);
  nl_check(rtnl_link_add(nl.get(), veth.get(), NLM_F_CREATE | NLM_F_EXCL),
           fmt::format("rtnl_link_add(\"{}\", type veth, peer \"{}\" address {} "
                       "IFLA_NET_NS_FD=open(\"{}\"), NLM_F_CREATE|NLM_F_EXCL)",
                       name, peer, peer_mac, netns_path));
  return Link(name, find_link(nl, name));
}

void attach_to_bridge(Netlink& nl, int ifindex, int bridge_ifindex, const std::string& name,
                      const std::string& bridge) {
  LinkPtr change = new_link();
  rtnl_link_set_master(change.get(), bridge_ifindex);
  change_link(nl, ifindex, change.get(),
              fmt::format("rtnl_link_change(\"{}\", IFLA_MASTER=\"{}\")", name, bridge));
}

void set_link_up(Netlink& nl, int ifindex, const std::string& name) {
  LinkPtr change = new_link();
  rtnl_link_set_flags(change.get(), IFF_UP);
  change_link(nl, ifindex, change.get(), fmt::format("rtnl_link_change(\"{}\", IFF_UP)", name));
}

void move_link_to_netns(Netlink& nl, int ifindex, const std::string& name, pid_t pid) {
  LinkPtr change = new_link();
  rtnl_link_set_ns_pid(change.get(), pid);
  change_link(nl, ifindex, change.get(),
              fmt::format("rtnl_link_change(\"{}\", IFLA_NET_NS_PID={})", name, pid));
}

void move_link_to_netns_file(Netlink& nl, int ifindex, const std::string& name,
                             const std::string& netns_path) {
  lab::UniqueFd ns = lab::open_fd(netns_path, O_RDONLY | O_CLOEXEC);
  LinkPtr change = new_link();
  rtnl_link_set_ns_fd(change.get(), ns.get());
  change_link(
      nl, ifindex, change.get(),
      fmt::format("rtnl_link_change(\"{}\", IFLA_NET_NS_FD=open(\"{}\"))", name, netns_path));
}

void set_link_mac(Netlink& nl, int ifindex, const std::string& name, const std::string& mac) {
  nl_addr* raw = nullptr;
  nl_check(nl_addr_parse(mac.c_str(), AF_LLC, &raw), fmt::format("nl_addr_parse(\"{}\")", mac));
  AddrPtr lladdr(raw);
  LinkPtr change = new_link();
  rtnl_link_set_addr(change.get(), lladdr.get());
  change_link(nl, ifindex, change.get(),
              fmt::format("rtnl_link_change(\"{}\", IFLA_ADDRESS={})", name, mac));
}

void rename_link(Netlink& nl, int ifindex, const std::string& old_name,
                 const std::string& new_name) {
  LinkPtr change = new_link();
  rtnl_link_set_name(change.get(), new_name.c_str());
  change_link(nl, ifindex, change.get(),
              fmt::format("rtnl_link_change(\"{}\", IFLA_IFNAME=\"{}\")", old_name, new_name));
}

void add_address(Netlink& nl, int ifindex, const std::string& name, const std::string& cidr) {
  AddrPtr local = parse_addr(cidr);
  std::unique_ptr<rtnl_addr, void (*)(rtnl_addr*)> addr(rtnl_addr_alloc(), rtnl_addr_put);
  if (!addr) throw std::bad_alloc();
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  nl_check(rtnl_addr_set_local(addr.get(), local.get()), "rtnl_addr_set_local");
  rtnl_addr_set_prefixlen(addr.get(), static_cast<int>(nl_addr_get_prefixlen(local.get())));
  nl_check(rtnl_addr_add(nl.get(), addr.get(), 0),
           fmt::format("rtnl_addr_add(\"{}\", dev \"{}\")", cidr, name));
}

namespace {

using RoutePtr = std::unique_ptr<rtnl_route, void (*)(rtnl_route*)>;

// A route to `destination` via `gateway` on link `ifindex`, ready for rtnl_route_add/delete.
RoutePtr via_route(int ifindex, const std::string& destination, const std::string& gateway) {
  RoutePtr route(rtnl_route_alloc(), rtnl_route_put);
  if (!route) throw std::bad_alloc();
  rtnl_route_set_family(route.get(), AF_INET);
  AddrPtr dst = parse_addr(destination);
  nl_check(rtnl_route_set_dst(route.get(), dst.get()), "rtnl_route_set_dst");
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (!nh) throw std::bad_alloc();
  AddrPtr gw = parse_addr(gateway);
  rtnl_route_nh_set_gateway(nh, gw.get());
  rtnl_route_nh_set_ifindex(nh, ifindex);
  rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh from here on
  return route;
}

}  // namespace

void add_default_route(Netlink& nl, int ifindex, const std::string& name,
                       const std::string& gateway) {
  RoutePtr route = via_route(ifindex, "0.0.0.0/0", gateway);
  nl_check(rtnl_route_add(nl.get(), route.get(), NLM_F_CREATE | NLM_F_EXCL),
           fmt::format("rtnl_route_add(default via \"{}\", dev \"{}\")", gateway, name));
}

void add_route(Netlink& nl, int ifindex, const std::string& name, const std::string& destination,
               const std::string& gateway) {
  RoutePtr route = via_route(ifindex, destination, gateway);
  nl_check(
      rtnl_route_add(nl.get(), route.get(), NLM_F_CREATE | NLM_F_EXCL),
      fmt::format("rtnl_route_add(\"{}\" via \"{}\", dev \"{}\")", destination, gateway, name));
}

void delete_route(Netlink& nl, int ifindex, const std::string& name, const std::string& destination,
                  const std::string& gateway) {
  RoutePtr route = via_route(ifindex, destination, gateway);
  nl_check(
      rtnl_route_delete(nl.get(), route.get(), 0),
      fmt::format("rtnl_route_delete(\"{}\" via \"{}\", dev \"{}\")", destination, gateway, name));
}

std::vector<Cidr> main_table_routes(Netlink& nl) {
  nl_cache* raw = nullptr;
  nl_check(rtnl_route_alloc_cache(nl.get(), AF_INET, 0, &raw), "rtnl_route_alloc_cache(AF_INET)");
  CachePtr cache(raw);
  std::vector<Cidr> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN) continue;
    nl_addr* dst = rtnl_route_get_dst(r);
    if (!dst || nl_addr_get_len(dst) != 4) continue;
    uint32_t be = 0;
    std::memcpy(&be, nl_addr_get_binary_addr(dst), 4);
    out.push_back(Cidr{ntohl(be), static_cast<int>(nl_addr_get_prefixlen(dst))});
  }
  return out;
}

std::vector<BridgePort> bridge_ports(Netlink& nl, int bridge_ifindex) {
  nl_cache* raw = nullptr;
  nl_check(rtnl_link_alloc_cache(nl.get(), AF_UNSPEC, &raw), "rtnl_link_alloc_cache(AF_UNSPEC)");
  CachePtr cache(raw);
  std::vector<BridgePort> out;
  for (nl_object* o = nl_cache_get_first(raw); o; o = nl_cache_get_next(o)) {
    auto* l = reinterpret_cast<rtnl_link*>(o);
    if (rtnl_link_get_master(l) != bridge_ifindex) continue;
    char state[32];
    rtnl_link_operstate2str(rtnl_link_get_operstate(l), state, sizeof state);
    out.push_back({rtnl_link_get_name(l), state});
  }
  return out;
}

void configure_eth0_in_child(const std::string& temp_name, const std::string& cidr,
                             const std::string& gateway) {
  configure_interface_in_child(temp_name, "eth0", cidr, gateway);
}

void configure_interface_in_child(const std::string& temp_name, const std::string& new_name,
                                  const std::string& cidr, const std::string& gateway) {
  Netlink nl;  // opened here, in the child: it talks to the child's namespace
  int lo = find_link(nl, "lo");
  if (lo) set_link_up(nl, lo, "lo");
  int eth = find_link(nl, temp_name);
  if (!eth)
    throw lab::UserError(fmt::format("\"{}\" did not arrive in the new namespace", temp_name));
  rename_link(nl, eth, temp_name, new_name);
  add_address(nl, eth, new_name, cidr);
  set_link_up(nl, eth, new_name);
  if (!gateway.empty()) add_default_route(nl, eth, new_name, gateway);
}

// --- looking around ------------------------------------------------------------------------------

namespace {

// The interface names this process sees (if_nameindex(3)), in index order: "lo", "eth0".
std::vector<std::string> interface_names() {
  struct if_nameindex* list = ::if_nameindex();
  if (!list) lab::check(-1, "if_nameindex()");
  std::vector<std::string> out;
  for (struct if_nameindex* i = list; i->if_index != 0; ++i) out.emplace_back(i->if_name);
  ::if_freenameindex(list);
  return out;
}

// "eth0 172.29.0.2/24" for each IPv4 address this process sees (getifaddrs(3)), lo left out.
std::vector<std::string> ipv4_addresses() {
  ifaddrs* list = nullptr;
  lab::check(::getifaddrs(&list), "getifaddrs()");
  std::vector<std::string> out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    if (std::string_view(i->ifa_name) == "lo") continue;
    uint32_t a = ntohl(reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr);
    uint32_t m =
        i->ifa_netmask ? ntohl(reinterpret_cast<sockaddr_in*>(i->ifa_netmask)->sin_addr.s_addr) : 0;
    int prefix = std::popcount(m);
    out.push_back(fmt::format("{} {}/{}", i->ifa_name, to_string(a), prefix));
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace

View current_view() {
  return View{interface_names(), ipv4_addresses(), lab::namespace_link(0, "net")};
}

namespace {
std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t at = text.find(sep);
    out.emplace_back(text.substr(0, at));
    if (at == std::string_view::npos) break;
    text.remove_prefix(at + 1);
  }
  return out;
}
}  // namespace

// interfaces;addresses;netns with ',' between items (none of them can hold ';' or ',').
std::string encode(const View& v) {
  return fmt::format("{};{};{}", fmt::join(v.interfaces, ","), fmt::join(v.addresses, ","),
                     v.netns);
}

View decode_view(std::string_view text) {
  auto parts = split(text, ';');
  parts.resize(3);
  return View{split(parts[0], ','), split(parts[1], ','), parts[2]};
}

std::string serve_one_request_in_child(int port, int timeout_ms,
                                       const std::function<void()>& listening) {
  lab::UniqueFd sock(
      lab::check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket(AF_INET, SOCK_STREAM)"));
  int one = 1;
  lab::check(::setsockopt(sock.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one),
             "setsockopt(SO_REUSEADDR)");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  lab::check(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr),
             [&] { return fmt::format("bind(0.0.0.0:{})", port); });
  lab::check(::listen(sock.get(), 4), "listen()");
  listening();
  pollfd p{sock.get(), POLLIN, 0};
  if (lab::check(::poll(&p, 1, timeout_ms), "poll()") == 0) return "";
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  lab::UniqueFd conn(lab::check(
      ::accept4(sock.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC), "accept()"));
  std::string from = to_string(ntohl(peer.sin_addr.s_addr));
  char buf[2048];
  [[maybe_unused]] ssize_t n = ::recv(conn.get(), buf, sizeof buf, 0);  // the request; any will do
  std::string reply = fmt::format(
      "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
      "you came from {}\n",
      from);
  lab::check(::send(conn.get(), reply.data(), reply.size(), MSG_NOSIGNAL), "send()");
  return from;
}

void join_netns_of(pid_t pid) {
  std::string path = fmt::format("/proc/{}/ns/net", pid);
  lab::UniqueFd fd = lab::open_fd(path, O_RDONLY | O_CLOEXEC);
  lab::check(::setns(fd.get(), CLONE_NEWNET),
             [&] { return fmt::format("setns(open(\"{}\"), CLONE_NEWNET)", path); });
}

std::string join_argv(const std::vector<std::string>& argv) {
  return fmt::format("{}", fmt::join(argv, " "));
}

namespace {

// The child of run_in_netns/spawn_in_netns: join the namespace (pid 0: stay in this one), point
// stdout and stderr at `out_fd`, exec. Runs in a cloned child, so it never returns normally.
int exec_in_netns(pid_t pid, const std::vector<std::string>& argv, int out_fd) noexcept {
  try {
    if (pid > 0) join_netns_of(pid);
    lab::UniqueFd null = lab::open_fd("/dev/null", O_RDONLY);
    ::dup2(null.get(), STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(out_fd, STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    lab::check(-1, [&] { return fmt::format("execv(\"{}\")", argv[0]); });
  } catch (const std::exception& e) {
    std::string line = fmt::format("{}\n", e.what());
    [[maybe_unused]] ssize_t n = ::write(out_fd, line.data(), line.size());
  }
  return 127;
}

}  // namespace

CommandResult run_in_netns(pid_t pid, const std::vector<std::string>& argv, int timeout_ms) {
  lab::throw_if_interrupted();
  int fds[2];
  lab::check(::pipe2(fds, O_CLOEXEC), "pipe2(O_CLOEXEC)");
  lab::UniqueFd read_end(fds[0]), write_end(fds[1]);
  lab::Child child = lab::clone_child(SIGCHLD, [&] {
    // dup2 clears O_CLOEXEC on the copies, so only stdout/stderr survive the exec.
    return exec_in_netns(pid, argv, write_end.get());
  });
  write_end.reset();
  CommandResult result;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    pollfd p{read_end.get(), POLLIN, 0};
    int ready = left > 0 ? ::poll(&p, 1, static_cast<int>(left)) : 0;
    if (ready == 0) {  // too slow: stop it, as `timeout` would
      child.kill_and_reap();
      result.status.signal = SIGKILL;
      result.output += fmt::format("(killed after {} ms)\n", timeout_ms);
      return result;
    }
    if (ready < 0) {
      if (errno == EINTR) {
        lab::throw_if_interrupted();
        continue;
      }
      lab::check(ready, "poll(pipe)");
    }
    ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n > 0) {
      result.output.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) {
      lab::throw_if_interrupted();
      continue;
    }
    lab::check(n, "read(pipe)");
  }
  result.status = child.wait();
  return result;
}

lab::Child spawn_in_netns(pid_t pid, const std::vector<std::string>& argv) {
  lab::UniqueFd null = lab::open_fd("/dev/null", O_WRONLY | O_CLOEXEC);
  return lab::clone_child(SIGCHLD, [&] { return exec_in_netns(pid, argv, null.get()); });
}

void pin_netns(pid_t pid, const std::string& name) {
  ::mkdir("/run/netns", 0755);  // may exist already
  std::string target = "/run/netns/" + name;
  lab::UniqueFd file = lab::open_fd(target, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  std::string source = fmt::format("/proc/{}/ns/net", pid);
  lab::mount_fs(source.c_str(), target, nullptr, MS_BIND);
}

void create_pinned_netns(const std::string& path) {
  // The file first (O_EXCL: two callers cannot pin onto the same one), then the child.
  lab::open_fd(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  auto [parent_end, child_end] = lab::Channel::make_pair();
  lab::Child child = lab::clone_child(CLONE_NEWNET | SIGCHLD, [&]() noexcept {
    parent_end.close();
    try {
      // Still in the caller's mount namespace: the bind mount is seen by everyone there.
      lab::mount_fs("/proc/self/ns/net", path, nullptr, MS_BIND);
      child_end.send_ok();
      return 0;
    } catch (const std::exception& e) {
      child_end.report_error(e.what());
    }
    return 1;
  });
  child_end.close();
  try {
    parent_end.expect_ok(fmt::format("pinning a new network namespace on {}", path));
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
  child.wait();
}

bool unpin_netns(const std::string& path) noexcept {
  bool mounted = ::umount2(path.c_str(), MNT_DETACH) == 0;
  bool existed = ::unlink(path.c_str()) == 0;
  return mounted || existed;
}

void run_in_netns_file(const std::string& path, const std::string& step,
                       const std::function<void()>& body) {
  lab::UniqueFd ns = lab::open_fd(path, O_RDONLY | O_CLOEXEC);
  auto [parent_end, child_end] = lab::Channel::make_pair();
  lab::Child child = lab::clone_child(SIGCHLD, [&]() noexcept {
    parent_end.close();
    try {
      lab::check(::setns(ns.get(), CLONE_NEWNET),
                 [&] { return fmt::format("setns(open(\"{}\"), CLONE_NEWNET)", path); });
      body();
      child_end.send_ok();
      return 0;
    } catch (const std::exception& e) {
      child_end.report_error(e.what());
    }
    return 1;
  });
  child_end.close();
  parent_end.expect_ok(step);
  child.wait();
}

}  // namespace net
