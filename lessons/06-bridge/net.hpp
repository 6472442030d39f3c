// Container networking the way Docker's bridge driver does it: a bridge, one veth pair per
// container, addresses, a default route, all over rtnetlink (libnl-route-3), never by running `ip`.
//
// A network namespace has its own interfaces, addresses, routes, firewall and sysctls. A fresh
// one holds only a loopback device that is down. A veth pair is a virtual cable: what goes in one
// end comes out of the other, and the two ends may live in different namespaces. Put one end in
// the container (renamed eth0), plug the other into a bridge (a virtual switch) on the host, give
// the bridge the subnet's first address, and the bridge becomes the containers' default gateway.
// See network_namespaces(7), veth(4), rtnetlink(7), ip-link(8), bridge(8).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipv4.hpp"
#include "process.hpp"

struct nl_sock;

namespace net {

// --- pure logic: addresses and names (unit-tested) -----------------------------------------------

// IPv4 prefixes and their arithmetic live in common/ipv4.hpp (make doctor uses them too).
using lab::ipv4::Cidr;
using lab::ipv4::find_clash;
using lab::ipv4::host_address;
using lab::ipv4::netmask;
using lab::ipv4::overlaps;
using lab::ipv4::parse_cidr;
using lab::ipv4::to_string;
using lab::ipv4::with_prefix;

// "The internet" of the experiment: TEST-NET-2 (RFC 5737), reserved for documentation, so it
// never clashes with a real network. The containers' subnet must stay out of it.
inline constexpr std::string_view kOutsideSubnet = "198.51.100.0/24";

// Why `text` cannot be the containers' subnet ("" when it can): it must parse, be a network
// address (host bits zero), leave room for a gateway and two containers (/8 to /29), stay out
// of the special-purpose ranges no bridge can use (loopback, link-local, multicast, 0/8, 240/4)
// and out of the lesson's own "internet" kOutsideSubnet.
std::string validate_subnet(std::string_view text);

// Why `name` cannot be a network interface name ("" when it can): the kernel takes 1-15 bytes
// (IFNAMSIZ 16 with the NUL) and refuses "/", ":", whitespace, "." and "..".
std::string validate_link_name(std::string_view name);

// Why `name` cannot be the lesson's bridge ("" when it can): a valid link name that is lab0 or
// starts with "lab-", the names of what the lessons make (and `doctor --clean` removes). A
// name such as eth0 or lo belongs to the host, and the lesson never touches it.
std::string validate_bridge_name(std::string_view name);

// Whether `name` is one the lessons use for links: lab0 or lab-*.
bool is_lab_link_name(std::string_view name);

// --- the rtnetlink socket ------------------------------------------------------------------------

// A NETLINK_ROUTE socket, bound to the network namespace of the process that opened it: a
// socket keeps talking to that namespace even if its owner later moves (setns) elsewhere.
class Netlink {
 public:
  Netlink();  // nl_socket_alloc + nl_connect(NETLINK_ROUTE)
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;
  nl_sock* get() const { return sock_; }

 private:
  nl_sock* sock_ = nullptr;
};

// Throws lab::SyscallError naming `call` when a libnl function returned a negative NLE_ code.
void nl_check(int rc, const std::string& call);

// --- links ---------------------------------------------------------------------------------------

// Owns a link in the namespace it was made in and deletes it (RTM_DELLINK) when it goes away,
// like `ip link del NAME`. Deleting either end of a veth pair deletes both; a link inside a
// namespace also goes when the last process of that namespace exits.
class Link {
 public:
  Link() = default;
  Link(std::string name, int ifindex) : name_(std::move(name)), ifindex_(ifindex) {}
  Link(Link&& other) noexcept
      : name_(std::exchange(other.name_, {})), ifindex_(std::exchange(other.ifindex_, 0)) {}
  Link& operator=(Link&& other) noexcept;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;
  ~Link() { remove(); }

  int ifindex() const { return ifindex_; }
  void remove() noexcept;
  std::string release() {
    ifindex_ = 0;
    return std::exchange(name_, {});
  }

 private:
  std::string name_;
  int ifindex_ = 0;
};

// The interface index of `name` in the socket's namespace, or 0 if there is none.
int find_link(Netlink& nl, const std::string& name);

// ip link add NAME type bridge
Link create_bridge(Netlink& nl, const std::string& name);
// ip link add NAME type veth peer name PEER. Returns the end called NAME; its peer is owned by
// it (deleting one end deletes both).
Link create_veth_pair(Netlink& nl, const std::string& name, const std::string& peer);
// ip link add NAME type veth peer name PEER address MAC netns PATH: the peer is born inside the
// network namespace pinned at `netns_path` (IFLA_NET_NS_FD in the peer's attributes), with its
// MAC, and never moves. Moving a link to another namespace waits for the network stack's RCU
// readers (synchronize_net in dev_change_net_namespace): `ip link add` + `ip link set netns`
// took 22-24 ms here, the pair made this way 3 ms (5 runs each, the `ip` processes included).
Link create_veth_pair_into(Netlink& nl, const std::string& name, const std::string& peer,
                           const std::string& peer_mac, const std::string& netns_path);
// ip link set NAME master BRIDGE (plugs a port into the bridge)
void attach_to_bridge(Netlink& nl, int ifindex, int bridge_ifindex, const std::string& name,
                      const std::string& bridge);
// ip link set NAME up
void set_link_up(Netlink& nl, int ifindex, const std::string& name);
// ip link set NAME netns PID: moves the link into the network namespace of process `pid`
// (IFLA_NET_NS_PID). The link disappears from here and shows up there with the same name.
void move_link_to_netns(Netlink& nl, int ifindex, const std::string& name, pid_t pid);
// ip link set NAME netns PATH: the same, for a namespace known by a file (IFLA_NET_NS_FD): a
// pinned one, /run/netns/NAME or /proc/PID/ns/net, with no process needed in it.
void move_link_to_netns_file(Netlink& nl, int ifindex, const std::string& name,
                             const std::string& netns_path);
// ip link set NAME address MAC (e.g. "02:42:ac:12:00:02")
void set_link_mac(Netlink& nl, int ifindex, const std::string& name, const std::string& mac);
// ip link set OLD name NEW (the link must be down)
void rename_link(Netlink& nl, int ifindex, const std::string& old_name,
                 const std::string& new_name);
// ip addr add ADDRESS/PREFIX dev NAME
void add_address(Netlink& nl, int ifindex, const std::string& name, const std::string& cidr);
// ip route add default via GATEWAY dev NAME
void add_default_route(Netlink& nl, int ifindex, const std::string& name,
                       const std::string& gateway);
// ip route add|del DESTINATION via GATEWAY dev NAME (DESTINATION like "172.29.0.0/24")
void add_route(Netlink& nl, int ifindex, const std::string& name, const std::string& destination,
               const std::string& gateway);
void delete_route(Netlink& nl, int ifindex, const std::string& name, const std::string& destination,
                  const std::string& gateway);

// The IPv4 routes of the main table (ip -4 route), for the clash check.
std::vector<Cidr> main_table_routes(Netlink& nl);

// One line of `bridge link`: a port of the bridge and its operational state.
struct BridgePort {
  std::string name;
  std::string operstate;  // "up", "down", "lowerlayerdown" ...
};
// The links whose master is `bridge_ifindex` (what `brctl show` lists as interfaces).
std::vector<BridgePort> bridge_ports(Netlink& nl, int bridge_ifindex);

// In the child, in its new namespace: the veth end called `temp_name` becomes eth0 with
// `cidr`, lo and eth0 go up, and with a `gateway` the default route goes through it.
void configure_eth0_in_child(const std::string& temp_name, const std::string& cidr,
                             const std::string& gateway);
// The same with another name than eth0 (a second network's eth1).
void configure_interface_in_child(const std::string& temp_name, const std::string& new_name,
                                  const std::string& cidr, const std::string& gateway);

// --- looking around a namespace ------------------------------------------------------------------

// What a process sees of the network (if_nameindex(3), getifaddrs(3), /proc/self/ns/net), sent
// from a child to its parent in one message.
struct View {
  std::vector<std::string> interfaces;  // "lo", "eth0"
  std::vector<std::string> addresses;   // "eth0 172.29.0.2/24"
  std::string netns;                    // "net:[4026532290]"
  bool operator==(const View&) const = default;
};
View current_view();  // this process's view
std::string encode(const View& view);
View decode_view(std::string_view text);

// In the child playing "the internet": listen on `port`, call `listening()`, accept one HTTP
// request (waiting at most `timeout_ms`), answer "you came from ADDRESS" and return ADDRESS, the
// source address the connection arrived from. "" when nobody came.
std::string serve_one_request_in_child(int port, int timeout_ms,
                                       const std::function<void()>& listening);

// setns(open("/proc/PID/ns/net"), CLONE_NEWNET): the calling process joins that namespace.
void join_netns_of(pid_t pid);

// What a command printed (stdout and stderr) and how it ended.
struct CommandResult {
  lab::ExitStatus status;
  std::string output;
};
// nsenter -t PID -n ARGV...: runs `argv` in the network namespace of `pid` (0: the caller's own,
// no setns) and waits for it, at most `timeout_ms`; then it is killed (status.signal SIGKILL), as
// `timeout` would.
CommandResult run_in_netns(pid_t pid, const std::vector<std::string>& argv, int timeout_ms = 5000);
// The same, left running in the background (a server); its output is discarded.
lab::Child spawn_in_netns(pid_t pid, const std::vector<std::string>& argv);
// The argv as a shell would show it: "busybox ping -c 1 172.29.0.3".
std::string join_argv(const std::vector<std::string>& argv);

// ip netns attach NAME PID: bind-mounts /proc/PID/ns/net on /run/netns/NAME so the namespace
// outlives its processes and `ip netns exec NAME ...` finds it (for --keep).
void pin_netns(pid_t pid, const std::string& name);

// ip netns add, at any path: a new network namespace (a child unshares it and bind-mounts its
// /proc/self/ns/net on `path`, a new empty file), which then lives on with no process in it
// until unpin_netns. Throws if `path` exists.
void create_pinned_netns(const std::string& path);
// ip netns del: umount2(path, MNT_DETACH) and unlink(path). The namespace itself goes once
// nothing else holds it (a process, an open fd, another mount). Idempotent; false if there was
// nothing to remove.
bool unpin_netns(const std::string& path) noexcept;
// Runs `body` in a child that joined the namespace pinned at `path` (setns), and waits for it;
// its exception comes back as a UserError naming `step`. A netlink socket opened in `body`
// talks to that namespace.
void run_in_netns_file(const std::string& path, const std::string& step,
                       const std::function<void()>& body);

}  // namespace net
