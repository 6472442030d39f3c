// Lesson 06: a docker0 of our own (bridge, veth pairs, NAT, port mapping, network modes).
//
// What it shows: Docker's bridge network is made of ordinary kernel objects. A bridge (lab0, a
// virtual switch) holds the gateway address of a private subnet; each container is a process in
// its own network namespace whose eth0 is one end of a veth pair, the other end plugged into the
// bridge. The containers reach each other and the gateway; MASQUERADE makes their connections to
// "the internet" leave from the host's address; DNAT publishes a container port (-p 8080:80),
// for connections to the host's own addresses only (from outside, and from the host itself);
// a port that is not published stays unreachable from outside. The rules are Docker's, in chains
// called LAB-DOCKER and LAB-DOCKER-USER. The other network modes are just other namespace
// choices: none, host, container.
//
// The calls, in order (all over rtnetlink with libnl, never by running `ip`):
// clang-format off
//   parent: rtnl_route_alloc_cache             is the subnet free?  ip -4 route
//   parent: rtnl_link_add(type bridge)         + address, up        ip link add lab0 type bridge
//   parent: clone(CLONE_NEWNET|CLONE_NEWUTS)   two containers       unshare -nu
//   parent: rtnl_link_add(type veth)           + IFLA_MASTER, up    ip link add ... type veth
//   parent: rtnl_link_change(IFLA_NET_NS_PID)  peer into the child  ip link set X netns PID
//   child:  rename to eth0, address, up, default route via the bridge
//   parent: busybox ping in each namespace (setns)
//   parent: ip_forward=1 (old value saved in /run/lab/sysctl), iptables -N LAB-DOCKER, FORWARD,
//           nat PREROUTING/OUTPUT --dst-type LOCAL, MASQUERADE, DNAT + ACCEPT of the port
// clang-format on
// Man pages: network_namespaces(7), veth(4), rtnetlink(7), ip-link(8), bridge(8), iptables(8),
// iptables-extensions(8) (MASQUERADE, DNAT, addrtype, conntrack), setns(2).
//
// Run it:  make && ./bridge (as root)  (--mode none|host|container|bridge, --keep, --shell, --help)
// Look for: the bridge's ports, four pings that got replies, the rules iptables -S lists, "you
// came from 198.51.100.1" (the host's address, not the container's), the page served through
// port 8080 to the outside and to the host, lab-c2's unpublished port dropped, each mode's view.

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "cli.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "firewall.hpp"
#include "host.hpp"
#include "mount.hpp"
#include "narrator.hpp"
#include "net.hpp"
#include "process.hpp"

namespace {

using net::kOutsideSubnet;  // "the internet": 198.51.100.0/24
constexpr int kOutsidePort = 9000;
constexpr int kHostPort = 8080;
constexpr int kContainerPort = 80;

struct Options {
  std::string bridge = "lab0";
  std::string subnet{lab::ipv4::kLabSubnet};
  std::string mode = "all";
  bool keep = false;
  bool shell = false;
  lab::OutputOptions output;
};

bool wants(const Options& opt, std::string_view mode) {
  return opt.mode == "all" || opt.mode == mode;
}

// --- the child's side: a container (or "the internet") in new network and UTS namespaces -------

struct ChildPlan {
  std::string hostname;   // lab-c1, lab-c2, lab-outside
  std::string temp_name;  // the veth peer's name until it becomes eth0
  std::string cidr;       // eth0's address
  std::string gateway;    // "" for no default route
};

// Waits for its veth end, makes it eth0, reports what it sees; then does what the parent asks
// until told to exit or the parent goes:
//   "serve PORT"                 answer one HTTP request on PORT with the address it came from
//   "route add|del CIDR GATEWAY" ip route add|del CIDR via GATEWAY dev eth0
int container_main(const ChildPlan& plan, lab::Channel& channel) noexcept {
  try {
    lab::check(::sethostname(plan.hostname.data(), plan.hostname.size()),
               [&] { return fmt::format("sethostname(\"{}\")", plan.hostname); });
    for (;;) {
      std::string msg = channel.receive();
      std::vector<std::string> words;
      for (size_t at = 0; at < msg.size();) {
        size_t end = std::min(msg.find(' ', at), msg.size());
        words.push_back(msg.substr(at, end - at));
        at = end + 1;
      }
      if (msg == "configure") {
        net::configure_eth0_in_child(plan.temp_name, plan.cidr, plan.gateway);
        channel.send_ok();
        channel.send(net::encode(net::current_view()));
      } else if (words.size() == 2 && words[0] == "serve") {
        std::string from =
            net::serve_one_request_in_child(std::stoi(words[1]), 5000, [&] { channel.send_ok(); });
        channel.send(from);
      } else if (words.size() == 4 && words[0] == "route") {
        net::Netlink nl;  // opened here: it talks to this child's namespace
        int eth0 = net::find_link(nl, "eth0");
        if (words[1] == "add")
          net::add_route(nl, eth0, "eth0", words[2], words[3]);
        else
          net::delete_route(nl, eth0, "eth0", words[2], words[3]);
        channel.send_ok();
      } else {
        return 0;  // "exit", or the parent closed its end
      }
    }
  } catch (const std::exception& e) {
    channel.report_error(e.what());
  }
  return 1;
}

// A process that only looks: it reports its view of the network and exits. For the none and
// host modes it is cloned with or without CLONE_NEWNET; for container mode it first joins
// another container's namespace, as `docker run --network container:ID` does.
int look_main(pid_t join_pid, lab::Channel& channel) noexcept {
  try {
    if (join_pid > 0) net::join_netns_of(join_pid);
    channel.send_ok();
    channel.send(net::encode(net::current_view()));
    return 0;
  } catch (const std::exception& e) {
    channel.report_error(e.what());
  }
  return 1;
}

// --- the parent's side ---------------------------------------------------------------------------

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Container {
  ChildPlan plan;
  lab::Child child;
  std::optional<lab::Channel> channel;  // the parent's end
  net::Link veth;                       // the host's end; owns the pair
  std::string host_end;
  std::string address;  // without prefix
  net::View view;
};

Container start_container(ChildPlan plan, unsigned long flags) {
  Container c;
  c.plan = std::move(plan);
  auto [parent_end, child_end] = lab::Channel::make_pair();
  c.child = lab::clone_child(flags, [&, p = c.plan] {
    parent_end.close();
    return container_main(p, child_end);
  });
  child_end.close();
  c.channel.emplace(std::move(parent_end));
  return c;
}

std::string describe_view(const net::View& v) {
  return fmt::format(
      "sees {} ({})", fmt::join(v.interfaces, ", "),
      v.addresses.empty() ? "no IPv4 address" : fmt::format("{}", fmt::join(v.addresses, ", ")));
}

net::View look(unsigned long flags, pid_t join_pid) {
  auto [parent_end, child_end] = lab::Channel::make_pair();
  lab::Child child = lab::clone_child(flags, [&] {
    parent_end.close();
    return look_main(join_pid, child_end);
  });
  child_end.close();
  parent_end.expect_ok("looking at the network from the child");
  net::View v = net::decode_view(parent_end.receive());
  child.wait();
  return v;
}

std::vector<std::string> busybox(std::initializer_list<std::string> args) {
  std::vector<std::string> argv = {lab::host::default_rootfs() + "/bin/busybox"};
  argv.insert(argv.end(), args);
  return argv;
}

// busybox wget has no timeout of its own; run_in_netns stops it after 5 s.
std::vector<std::string> wget(const std::string& url) {
  return busybox({"wget", "-q", "-O", "-", url});
}

// What an earlier run that could not clean up (SIGKILL, a power cut, or --keep) left here under
// the lesson's names: the links this run would make, rules with the lab-bridge comment, LAB-
// chains, a saved ip_forward. Such a run would fail half-way, so it is refused up front.
std::vector<std::string> leftovers(net::Netlink& nl, const std::string& bridge,
                                   bool with_iptables) {
  std::vector<std::string> found;
  if (net::find_link(nl, bridge)) found.push_back(fmt::format("a link called {}", bridge));
  for (const char* name :
       {"lab-veth1", "lab-veth1c", "lab-veth2", "lab-veth2c", "lab-out", "lab-outc"})
    if (name != bridge && net::find_link(nl, name))
      found.push_back(fmt::format("a link called {}", name));
  if (with_iptables) {
    size_t rules = 0;
    for (const char* table : {"filter", "nat"}) {
      for (const auto& line : net::listed_lab_rules(table)) {
        if (line.starts_with("-N "))
          found.push_back(fmt::format("the {} chain {}", table, line.substr(3)));
        else
          ++rules;
      }
    }
    if (rules)
      found.push_back(fmt::format("{} iptables rule(s) marked {}", rules, net::kRuleComment));
  }
  for (const char* name : {"lab-c1", "lab-c2", "lab-outside"})
    if (::access(fmt::format("/run/netns/{}", name).c_str(), F_OK) == 0)
      found.push_back(fmt::format("the pinned namespace /run/netns/{}", name));
  std::string saved = net::saved_sysctl_path("net.ipv4.ip_forward");
  if (::access(saved.c_str(), F_OK) == 0)
    found.push_back(fmt::format("the saved ip_forward {}", saved));
  return found;
}

int steps_for(const std::string& mode) {
  if (mode == "none" || mode == "host") return 1;
  if (mode == "container") return 7;
  if (mode == "bridge") return 16;
  return 19;  // all
}

int run(const Options& opt) {
  lab::host::require_root("./bridge");
  const bool need_bridge = opt.mode != "none" && opt.mode != "host";
  if (need_bridge) lab::host::require_rootfs(lab::host::default_rootfs());  // busybox ping, httpd
  const bool need_nat = wants(opt, "bridge");
  if (need_nat) lab::host::require(lab::host::check_command("iptables", "iptables"));

  lab::Narrator say("bridge", opt.output.mode(), steps_for(opt.mode));
  const net::Cidr subnet = *net::parse_cidr(opt.subnet);
  const net::Cidr outside = *net::parse_cidr(kOutsideSubnet);
  const std::string gateway = net::to_string(net::host_address(subnet, 1));
  // Ctrl-C sets a flag; blocking waits notice it at once, and each step checks it before it
  // starts, so a signal that lands between two netlink calls is not lost either.
  auto step = [&](std::string_view call, std::string_view shell) {
    lab::throw_if_interrupted();
    say.step(call, shell);
  };
  nlohmann::json timings = nlohmann::json::object();
  bool held = true;
  std::vector<std::string> failures;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) {
      held = false;
      failures.push_back(what);
    }
    return ok;
  };

  // Everything below is owned by locals: on any error or Ctrl-C the destructors undo it in
  // reverse order (rules, ip_forward, servers, veths, containers, the bridge).
  net::Netlink nl;
  net::Link bridge;
  std::vector<Container> containers;
  std::optional<Container> world;
  std::optional<net::Sysctl> ip_forward;
  std::vector<net::IptablesChain> chains;
  std::vector<net::IptablesRule> rules;
  lab::Child httpd, httpd2;
  std::optional<lab::TempDir> www;

  if (need_bridge) {
    // Checked before anything is made or narrated: leftovers and clashes are the host's state,
    // not a failed step. Leftovers first: a stale lab0 also shows up as a route.
    std::vector<std::string> left = leftovers(nl, opt.bridge, need_nat);
    if (!left.empty())
      throw lab::UserError(fmt::format(
          "an earlier run (killed, or --keep) left {} here; remove what the lessons left with: "
          "doctor/doctor --clean",
          fmt::join(left, ", ")));
    std::vector<net::Cidr> routes = net::main_table_routes(nl);
    for (const net::Cidr& ours : {subnet, outside}) {
      if (auto clash = net::find_clash(ours, routes))
        throw lab::UserError(fmt::format(
            "the subnet {} overlaps the route {} on this host; choose another with --subnet",
            net::to_string(ours), net::to_string(*clash)));
    }
    say.heading(fmt::format("bridge network {} on {}", opt.subnet, opt.bridge));
    // ---- 1. the subnet must be free ----
    step("rtnl_route_alloc_cache(AF_INET)", "ip -4 route");
    say.say(fmt::format("{} route(s) here; none overlaps {} or {}", routes.size(), opt.subnet,
                        kOutsideSubnet));

    // ---- 2. the bridge, with the gateway address ----
    step(fmt::format("rtnl_link_add(\"{}\", type bridge)", opt.bridge),
         fmt::format("ip link add {} type bridge", opt.bridge));
    auto t0 = Clock::now();
    bridge = net::create_bridge(nl, opt.bridge);
    timings["create bridge"] = ms_since(t0);
    net::add_address(nl, bridge.ifindex(), opt.bridge,
                     net::with_prefix(net::host_address(subnet, 1), subnet));
    net::set_link_up(nl, bridge.ifindex(), opt.bridge);
    say.say(
        fmt::format("{} is up with {}: the containers' default gateway, as docker0 has 172.17.0.1",
                    opt.bridge, net::with_prefix(net::host_address(subnet, 1), subnet)));
    say.fact("bridge", opt.bridge);
    say.fact("subnet", opt.subnet);
    say.fact("gateway", gateway);

    // ---- 3. two containers ----
    const unsigned long flags = CLONE_NEWNET | CLONE_NEWUTS | SIGCHLD;
    step(fmt::format("clone({}) x2", lab::clone_flags_to_string(flags)),
         "unshare -nu sleep infinity &");
    for (uint32_t i = 1; i <= 2; ++i) {
      ChildPlan plan{fmt::format("lab-c{}", i), fmt::format("lab-veth{}c", i),
                     net::with_prefix(net::host_address(subnet, i + 1), subnet), gateway};
      containers.push_back(start_container(std::move(plan), flags));
      containers.back().address = net::to_string(net::host_address(subnet, i + 1));
      containers.back().host_end = fmt::format("lab-veth{}", i);
    }
    say.say(fmt::format("{} is pid {}, {} is pid {}; each has only a loopback device, down",
                        containers[0].plan.hostname, containers[0].child.pid(),
                        containers[1].plan.hostname, containers[1].child.pid()));

    // ---- 4. one veth pair per container, the host's end on the bridge ----
    step("rtnl_link_add(\"lab-veth1\", type veth, peer \"lab-veth1c\")",
         "ip link add lab-veth1 type veth peer name lab-veth1c");
    for (auto& c : containers) {
      t0 = Clock::now();
      c.veth = net::create_veth_pair(nl, c.host_end, c.plan.temp_name);
      if (!timings.contains("create veth pair")) timings["create veth pair"] = ms_since(t0);
      net::attach_to_bridge(nl, c.veth.ifindex(), bridge.ifindex(), c.host_end, opt.bridge);
      net::set_link_up(nl, c.veth.ifindex(), c.host_end);
    }
    say.say(
        fmt::format("lab-veth1 <-> lab-veth1c and lab-veth2 <-> lab-veth2c; IFLA_MASTER={} makes "
                    "lab-veth1 and lab-veth2 its ports (ip link set lab-veth1 master {} up)",
                    opt.bridge, opt.bridge));

    // ---- 5. the peers move into the containers ----
    step(fmt::format("rtnl_link_change(\"lab-veth1c\", IFLA_NET_NS_PID={})",
                     containers[0].child.pid()),
         fmt::format("ip link set lab-veth1c netns {}", containers[0].child.pid()));
    for (auto& c : containers) {
      t0 = Clock::now();
      net::move_link_to_netns(nl, net::find_link(nl, c.plan.temp_name), c.plan.temp_name,
                              c.child.pid());
      if (!timings.contains("move veth into namespace"))
        timings["move veth into namespace"] = ms_since(t0);
    }
    say.say(fmt::format("lab-veth1c is gone from here: it now lives in pid {}'s network namespace",
                        containers[0].child.pid()));

    // ---- 6. inside: eth0, its address, the default route ----
    step(fmt::format("[in the child] IFLA_IFNAME=\"eth0\", rtnl_addr_add(\"{}\")",
                     containers[0].plan.cidr),
         fmt::format("ip addr add {} dev eth0", containers[0].plan.cidr));
    say.say(
        fmt::format("each child renames its end eth0, adds its address, sets lo and eth0 up, and "
                    "routes everything else via {}",
                    gateway));
    nlohmann::json jcontainers = nlohmann::json::array();
    for (auto& c : containers) {
      t0 = Clock::now();
      c.channel->send("configure");
      c.channel->expect_ok(fmt::format("configuring eth0 in {}", c.plan.hostname));
      if (!timings.contains("addresses and route")) timings["addresses and route"] = ms_since(t0);
      c.view = net::decode_view(c.channel->receive());
      say.say(fmt::format("{} {}", c.plan.hostname, describe_view(c.view)));
      expect(
          std::count(c.view.addresses.begin(), c.view.addresses.end(), "eth0 " + c.plan.cidr) == 1,
          c.plan.hostname + " has no eth0 " + c.plan.cidr);
      jcontainers.push_back({{"name", c.plan.hostname},
                             {"pid", c.child.pid()},
                             {"address", c.address},
                             {"netns", c.view.netns},
                             {"interfaces", c.view.interfaces},
                             {"addresses", c.view.addresses},
                             {"veth", c.host_end}});
    }
    say.fact("containers", jcontainers);
  }

  if (wants(opt, "bridge")) {
    // ---- 7. what `bridge link` shows ----
    step(fmt::format("rtnl_link_alloc_cache(), links with IFLA_MASTER={}", opt.bridge),
         fmt::format("bridge link   (or brctl show {})", opt.bridge));
    nlohmann::json jports = nlohmann::json::array();
    std::vector<std::string> port_names;
    for (const auto& p : net::bridge_ports(nl, bridge.ifindex())) {
      say.say(fmt::format("{}: master {} state {}", p.name, opt.bridge, p.operstate));
      jports.push_back({{"name", p.name}, {"state", p.operstate}});
      port_names.push_back(p.name);
    }
    std::sort(port_names.begin(), port_names.end());
    expect(port_names == std::vector<std::string>{"lab-veth1", "lab-veth2"},
           "the bridge's ports are not lab-veth1 and lab-veth2");
    say.fact("bridge_ports", jports);

    // ---- 8. pings ----
    step("[in each container] busybox ping -c 1 ...",
         fmt::format("nsenter -t {} -n ping -c 1 {}", containers[0].child.pid(),
                     containers[1].address));
    nlohmann::json jpings = nlohmann::json::array();
    for (size_t i = 0; i < containers.size(); ++i) {
      const auto& c = containers[i];
      for (const std::string& to : {containers[1 - i].address, gateway}) {
        auto t0 = Clock::now();
        auto r = net::run_in_netns(c.child.pid(), busybox({"ping", "-c", "1", "-W", "2", to}));
        if (!timings.contains("first ping")) timings["first ping"] = ms_since(t0);
        bool ok = r.status.ok();
        expect(ok, fmt::format("{} could not ping {}", c.plan.hostname, to));
        say.say(fmt::format("{} -> {:<12} {}", c.plan.hostname, to, ok ? "reply" : "no reply"));
        jpings.push_back({{"from", c.plan.hostname}, {"to", to}, {"ok", ok}});
      }
    }
    say.fact("pings", jpings);

    // ---- 9. "the internet": another namespace, joined to the host by its own veth ----
    say.heading("Docker's rules: MASQUERADE out, DNAT in (-p 8080:80), nothing unpublished in");
    const std::string host_outside = net::to_string(net::host_address(outside, 1));
    const std::string world_address = net::to_string(net::host_address(outside, 2));
    step("clone(CLONE_NEWNET|CLONE_NEWUTS), rtnl_link_add(\"lab-out\", type veth)",
         "ip netns add lab-outside; ip link add lab-out type veth peer name lab-outc ...");
    world = start_container(ChildPlan{"lab-outside", "lab-outc",
                                      net::with_prefix(net::host_address(outside, 2), outside), ""},
                            CLONE_NEWNET | CLONE_NEWUTS | SIGCHLD);
    world->host_end = "lab-out";
    world->veth = net::create_veth_pair(nl, "lab-out", "lab-outc");
    net::add_address(nl, world->veth.ifindex(), "lab-out",
                     net::with_prefix(net::host_address(outside, 1), outside));
    net::set_link_up(nl, world->veth.ifindex(), "lab-out");
    net::move_link_to_netns(nl, net::find_link(nl, "lab-outc"), "lab-outc", world->child.pid());
    world->channel->send("configure");
    world->channel->expect_ok("configuring eth0 in lab-outside");
    world->view = net::decode_view(world->channel->receive());
    expect(std::count(world->view.addresses.begin(), world->view.addresses.end(),
                      "eth0 " + world->plan.cidr) == 1,
           "lab-outside has no eth0 " + world->plan.cidr);
    say.say(fmt::format("lab-outside (pid {}) {}; the host's end lab-out has {}; no route to {}",
                        world->child.pid(), describe_view(world->view), host_outside, opt.subnet));
    say.fact("outside", {{"name", world->plan.hostname},
                         {"pid", world->child.pid()},
                         {"netns", world->view.netns},
                         {"interfaces", world->view.interfaces},
                         {"addresses", world->view.addresses}});

    // ---- 10. forwarding and Docker's rules ----
    step("write(\"/proc/sys/net/ipv4/ip_forward\", \"1\"), iptables -N LAB-DOCKER, -A/-I ...",
         "sysctl -w net.ipv4.ip_forward=1; iptables -N LAB-DOCKER; iptables -I FORWARD ...");
    ip_forward.emplace("net.ipv4.ip_forward", "1");
    say.fact("ip_forward_before", ip_forward->old_value());
    say.fact("ip_forward_saved", ip_forward->saved_path());
    for (const net::Chain& c : net::docker_chains()) chains.emplace_back(c);
    for (net::Rule& r : net::bridge_network_rules(opt.subnet, opt.bridge))
      rules.emplace_back(std::move(r));
    for (net::Rule& r :
         net::published_port_rules(opt.bridge, kHostPort, containers[0].address, kContainerPort))
      rules.emplace_back(std::move(r));
    say.say(fmt::format(
        "ip_forward {} -> 1 (in this network namespace only; the old value is kept in {} until "
        "it is put back); iptables -S now lists:",
        ip_forward->old_value(), ip_forward->saved_path()));
    std::vector<net::Rule> added;
    for (const auto& r : rules) added.push_back(r.rule());
    nlohmann::json jlisted = nlohmann::json::object();
    for (const std::string table : {"filter", "nat"}) {
      std::vector<std::string> listed = net::listed_lab_rules(table);
      say.say(fmt::format("  -t {}", table));
      for (const auto& l : listed) say.say("    " + l);
      jlisted[table] = listed;
      // Each chain made once, each rule listed once, and in each chain in the order intended:
      // LAB-DOCKER-USER first in FORWARD, the published port's ACCEPT before LAB-DOCKER's DROP.
      for (const auto& c : chains)
        if (c.chain().table == table)
          expect(
              std::count(listed.begin(), listed.end(), "-N " + c.chain().name) == 1,
              fmt::format("iptables -t {} -S does not list the chain {}", table, c.chain().name));
      std::vector<std::string> chain_names;
      for (const auto& r : added)
        if (r.table == table &&
            std::find(chain_names.begin(), chain_names.end(), r.chain) == chain_names.end())
          chain_names.push_back(r.chain);
      for (const auto& chain : chain_names) {
        std::vector<std::string> got;
        for (const auto& l : listed)
          if (l.starts_with("-A " + chain + " ")) got.push_back(l);
        auto want = net::listed_order(added, table, chain);
        expect(got == want, fmt::format("iptables -t {} -S {} does not list \"{}\"", table, chain,
                                        fmt::join(want, "\", \"")));
      }
    }
    say.fact("iptables_rules", jlisted);

    // ---- 11. MASQUERADE: the container's connection leaves from the host's address ----
    std::string url = fmt::format("http://{}:{}/", world_address, kOutsidePort);
    step(fmt::format("[in lab-c1] busybox wget {}", url),
         fmt::format("nsenter -t {} -n wget -qO- {}", containers[0].child.pid(), url));
    world->channel->send(fmt::format("serve {}", kOutsidePort));
    world->channel->expect_ok("starting the server in lab-outside");
    auto fetched = net::run_in_netns(containers[0].child.pid(), wget(url));
    std::string seen_from = world->channel->receive_reply("server in lab-outside");
    say.say(fmt::format("the server answered: \"{}\"", lab::trim(fetched.output)));
    bool masq =
        expect(seen_from == host_outside,
               fmt::format("the server saw {} instead of the host's {}", seen_from, host_outside));
    say.say(
        fmt::format("it saw {}: {}", seen_from.empty() ? "nobody" : seen_from,
                    masq ? fmt::format("the host's address, not {} (MASQUERADE rewrote the source)",
                                       containers[0].address)
                         : "not the host's address"));
    say.fact("masquerade", {{"server", url},
                            {"seen_from", seen_from},
                            {"container", containers[0].address},
                            {"host_outside", host_outside},
                            {"held", masq}});

    // ---- 12. port mapping: outside -> host:8080 -> lab-c1:80 ----
    std::string page = fmt::format("hello from {} ({}:{})", containers[0].plan.hostname,
                                   containers[0].address, kContainerPort);
    std::string page2 = fmt::format("hello from {} ({}:{})", containers[1].plan.hostname,
                                    containers[1].address, kContainerPort);
    www.emplace("/tmp/lab-bridge-www-");
    for (const auto& [dir, body] : {std::pair{"c1", page}, std::pair{"c2", page2}}) {
      lab::check(::mkdir((www->path() + "/" + dir).c_str(), 0755), "mkdir(www)");
      lab::create_file(fmt::format("{}/{}/index.html", www->path(), dir), body + "\n");
    }
    std::string mapped = fmt::format("http://{}:{}/", host_outside, kHostPort);
    step(fmt::format("[in lab-c1] busybox httpd -p {}; [in lab-outside] busybox wget {}",
                     kContainerPort, mapped),
         fmt::format("docker run -p {}:{} ...; curl {}", kHostPort, kContainerPort, mapped));
    httpd = net::spawn_in_netns(
        containers[0].child.pid(),
        busybox({"httpd", "-f", "-p", std::to_string(kContainerPort), "-h", www->path() + "/c1"}));
    net::CommandResult got;
    for (int attempt = 0; attempt < 30; ++attempt) {  // until httpd listens
      got = net::run_in_netns(world->child.pid(), wget(mapped));
      if (got.status.ok()) break;
      lab::sleep_ms(100);
    }
    bool mapped_ok = expect(got.status.ok() && lab::trim(got.output) == page,
                            fmt::format("{} did not give container one's page", mapped));
    say.say(
        fmt::format("lab-outside got: \"{}\" {}", lab::trim(got.output),
                    mapped_ok ? "(DNAT in nat LAB-DOCKER sent it to the container)" : "(wrong)"));
    say.fact("port_mapping", {{"url", mapped},
                              {"page", lab::trim(got.output)},
                              {"expected", page},
                              {"held", mapped_ok}});

    // ---- 13. the host's own connection to its published port: nat OUTPUT ----
    step(fmt::format("[on the host] busybox wget {}", mapped), fmt::format("curl {}", mapped));
    net::CommandResult own = net::run_in_netns(0, wget(mapped));
    bool own_ok = expect(own.status.ok() && lab::trim(own.output) == page,
                         fmt::format("the host's own wget {} did not get lab-c1's page", mapped));
    say.say(fmt::format(
        "the host got: \"{}\" {}", lab::trim(own.output),
        own_ok ? "(its own packets never pass PREROUTING: nat OUTPUT sent them to LAB-DOCKER)"
               : "(wrong)"));
    say.fact("host_to_published",
             {{"url", mapped}, {"page", lab::trim(own.output)}, {"held", own_ok}});

    // ---- 14. a container's connection to another server's port 8080 is not DNATed ----
    std::string elsewhere = fmt::format("http://{}:{}/", world_address, kHostPort);
    step(fmt::format("[in lab-c2] busybox wget {}", elsewhere),
         fmt::format("nsenter -t {} -n wget -qO- {}", containers[1].child.pid(), elsewhere));
    world->channel->send(fmt::format("serve {}", kHostPort));
    world->channel->expect_ok("starting a server on port 8080 in lab-outside");
    auto answer = net::run_in_netns(containers[1].child.pid(), wget(elsewhere));
    std::string elsewhere_from = world->channel->receive_reply("server in lab-outside");
    bool elsewhere_ok =
        expect(answer.status.ok() && elsewhere_from == host_outside,
               fmt::format("lab-c2's wget {} did not reach lab-outside's own server", elsewhere));
    say.say(fmt::format(
        "lab-c2 got: \"{}\" {}", lab::trim(answer.output),
        elsewhere_ok ? fmt::format("from lab-outside's own server: {} is not the host's, and "
                                   "DNAT is only for --dst-type LOCAL",
                                   world_address)
                     : "(not lab-outside's server)"));
    say.fact("container_to_elsewhere", {{"url", elsewhere},
                                        {"answer", lab::trim(answer.output)},
                                        {"seen_from", elsewhere_from},
                                        {"held", elsewhere_ok}});

    // ---- 15. an unpublished port is not reachable from outside ----
    std::string unpublished = fmt::format("http://{}:{}/", containers[1].address, kContainerPort);
    step(fmt::format("[in lab-c2] busybox httpd -p {}; [in lab-outside] ip route add {} via {}; "
                     "busybox wget {}",
                     kContainerPort, opt.subnet, host_outside, unpublished),
         fmt::format("docker run ... (no -p); curl {}", unpublished));
    httpd2 = net::spawn_in_netns(
        containers[1].child.pid(),
        busybox({"httpd", "-f", "-p", std::to_string(kContainerPort), "-h", www->path() + "/c2"}));
    net::CommandResult inside;
    for (int attempt = 0; attempt < 30; ++attempt) {  // until httpd listens
      inside = net::run_in_netns(containers[0].child.pid(), wget(unpublished));
      if (inside.status.ok()) break;
      lab::sleep_ms(100);
    }
    bool inside_ok = expect(inside.status.ok() && lab::trim(inside.output) == page2,
                            fmt::format("lab-c1 did not get lab-c2's page from {}", unpublished));
    // "The internet" is given a route to the subnet through the host, as a machine next to the
    // host could add: only the firewall stands between it and lab-c2 now.
    const net::Rule drop = net::isolation_rule(opt.bridge);
    world->channel->send(fmt::format("route add {} {}", opt.subnet, host_outside));
    world->channel->expect_ok("adding a route in lab-outside");
    long long before = net::rule_packets(drop);
    auto from_outside = net::run_in_netns(world->child.pid(), wget(unpublished), 2000);
    long long dropped = net::rule_packets(drop) - before;
    world->channel->send(fmt::format("route del {} {}", opt.subnet, host_outside));
    world->channel->expect_ok("deleting the route in lab-outside");
    bool blocked = expect(!from_outside.status.ok() && dropped > 0,
                          fmt::format("lab-outside reached lab-c2's unpublished {}", unpublished));
    say.say(fmt::format(
        "lab-c1 got: \"{}\" (container to container over the bridge; the DROP is only for ! -i {})",
        lab::trim(inside.output), opt.bridge));
    say.say(fmt::format(
        "lab-outside got {}: {}", from_outside.status.ok() ? "the page" : "nothing",
        blocked ? fmt::format("LAB-DOCKER's DROP (! -i {} -o {}) counted its packets; port {} of "
                              "lab-c2 is not published",
                              opt.bridge, opt.bridge, kContainerPort)
                : "port 80 of lab-c2 is not published, yet it was reachable"));
    say.fact("unpublished", {{"url", unpublished},
                             {"inside_page", lab::trim(inside.output)},
                             {"from_outside_ok", from_outside.status.ok()},
                             {"dropped", dropped},
                             {"held", inside_ok && blocked}});

    if (opt.shell) {
      say.say(fmt::format(
          "a shell here, in the lesson's network namespace, with {}, the containers and the rules "
          "in place: try iptables -S, bridge link, nsenter -t $C1 -n ip addr (C1={}, C2={}, "
          "OUTSIDE={}); exit it to remove everything",
          opt.bridge, containers[0].child.pid(), containers[1].child.pid(), world->child.pid()));
      lab::Child shell = lab::clone_child(SIGCHLD, [&] {
        ::setenv("C1", std::to_string(containers[0].child.pid()).c_str(), 1);
        ::setenv("C2", std::to_string(containers[1].child.pid()).c_str(), 1);
        ::setenv("OUTSIDE", std::to_string(world->child.pid()).c_str(), 1);
        ::setenv("BUSYBOX", (lab::host::default_rootfs() + "/bin/busybox").c_str(), 1);
        ::setenv("PS1", "lab-bridge# ", 1);
        ::execl("/bin/sh", "sh", static_cast<char*>(nullptr));
        return 127;
      });
      shell.wait_foreground();
    }

    // ---- 16. the rules go away (or stay, with --keep) ----
    if (opt.keep) {
      step("(--keep) the rules stay", "iptables -S; iptables -t nat -S");
      say.say("they are removed by the commands printed at the end");
    } else {
      step("iptables -D ..., iptables -X LAB-DOCKER ..., ip_forward restored",
           "iptables -D FORWARD ...; iptables -X LAB-DOCKER; sysctl -w net.ipv4.ip_forward=0");
      for (auto r = rules.rbegin(); r != rules.rend(); ++r) r->remove();
      for (auto& c : chains) c.remove();
      ip_forward->restore();
      std::vector<std::string> left = net::listed_lab_rules("filter");
      for (const auto& l : net::listed_lab_rules("nat")) left.push_back(l);
      std::string fwd = lab::trim(lab::read_file("/proc/sys/net/ipv4/ip_forward"));
      bool saved_gone = ::access(ip_forward->saved_path().c_str(), F_OK) != 0;
      expect(left.empty(), "some lab-bridge rules or LAB- chains are still listed");
      expect(fwd == ip_forward->old_value(),
             fmt::format("ip_forward is {}, not {} as before", fwd, ip_forward->old_value()));
      expect(saved_gone, ip_forward->saved_path() + " is still there");
      say.say(fmt::format(
          "iptables -S lists {} lab-bridge rule(s) or LAB- chain(s); ip_forward is {} again; the "
          "saved value is {}",
          left.size(), fwd, saved_gone ? "removed" : "still there"));
      say.fact("rules_left", left);
    }
  }

  // ---- the other network modes ----
  nlohmann::json modes = nlohmann::json::object();
  if (opt.mode != "bridge") say.heading("network modes");
  if (wants(opt, "none")) {
    step(fmt::format("clone({})   --network none",
                     lab::clone_flags_to_string(CLONE_NEWNET | CLONE_NEWUTS | SIGCHLD)),
         "docker run --network none busybox ip link");
    net::View v = look(CLONE_NEWNET | CLONE_NEWUTS | SIGCHLD, 0);
    // Under `unshare -n` this program's own namespace holds only lo too, so the interface list
    // alone would not tell a new namespace from ours: the ns/net link must differ as well.
    const std::string here = lab::namespace_link(0, "net");
    bool own =
        expect(v.netns != here, "--network none stayed in the lesson's own namespace " + here);
    bool only_lo =
        expect(v.interfaces == std::vector<std::string>{"lo"}, "--network none saw more than lo");
    bool ok = own && only_lo;
    say.say(fmt::format("none: {}, namespace {} (ours is {}) - {}", describe_view(v), v.netns, here,
                        ok ? "only a loopback, no way out" : "unexpected"));
    modes["none"] = {
        {"interfaces", v.interfaces}, {"netns", v.netns}, {"host_netns", here}, {"held", ok}};
  }
  if (wants(opt, "host")) {
    step(fmt::format("clone({})   --network host",
                     lab::clone_flags_to_string(CLONE_NEWUTS | SIGCHLD)),
         "docker run --network host busybox ip link");
    net::View v = look(CLONE_NEWUTS | SIGCHLD, 0);
    net::View here = net::current_view();
    bool ok = expect(v == here, "--network host did not see the host's interfaces");
    say.say(fmt::format("host: {} interfaces, the same as the host's ({})", v.interfaces.size(),
                        ok ? "no CLONE_NEWNET: the host's namespace " + v.netns : "differs"));
    modes["host"] = {
        {"interfaces", v.interfaces}, {"netns", v.netns}, {"host_netns", here.netns}, {"held", ok}};
  }
  if (wants(opt, "container")) {
    const Container& first = containers[0];
    step(fmt::format(
             "clone(CLONE_NEWUTS|SIGCHLD), setns(/proc/{}/ns/net)   --network container:lab-c1",
             first.child.pid()),
         fmt::format("nsenter -t {} -n ip addr", first.child.pid()));
    net::View v = look(CLONE_NEWUTS | SIGCHLD, first.child.pid());
    bool ok =
        expect(v.netns == first.view.netns && std::count(v.addresses.begin(), v.addresses.end(),
                                                         "eth0 " + first.plan.cidr) == 1,
               "--network container did not share lab-c1's eth0");
    say.say(fmt::format("container: {}, namespace {} = lab-c1's", describe_view(v), v.netns));
    modes["container"] = {{"interfaces", v.interfaces},
                          {"addresses", v.addresses},
                          {"netns", v.netns},
                          {"joined", first.view.netns},
                          {"held", ok}};
  }
  if (!modes.empty()) say.fact("modes", modes);
  say.fact("timings_ms", timings);
  say.fact("kept", opt.keep);

  if (opt.keep && need_bridge) {
    // The namespaces outlive their processes only when pinned by a bind mount, like `ip netns`.
    std::vector<std::string> names;
    for (auto& c : containers) {
      net::pin_netns(c.child.pid(), c.plan.hostname);
      names.push_back(c.plan.hostname);
    }
    if (world) {
      net::pin_netns(world->child.pid(), "lab-outside");
      names.push_back("lab-outside");
    }
    bridge.release();
    for (auto& c : containers) c.veth.release();
    if (world) world->veth.release();
    for (auto& r : rules) r.release();
    for (auto& c : chains) c.release();
    if (ip_forward) ip_forward->release();
    if (opt.output.mode() == lab::OutputMode::human) {
      say.say(fmt::format("kept: try  ip netns exec lab-c1 ping -c1 {}", gateway));
      say.say("remove it all with (or with doctor/doctor --clean, which finds all of it):");
      // Deleting the host's end of a veth deletes both ends at once; a namespace given up with
      // `ip netns del` is torn down later, by a kernel worker, so its veths would linger a while.
      std::vector<std::string> links = {opt.bridge};
      for (auto& c : containers) links.push_back(c.host_end);
      if (world) links.push_back(world->host_end);
      say.say(fmt::format("  ip link del {}", fmt::join(links, "; ip link del ")));
      say.say(fmt::format("  ip netns del {}", fmt::join(names, "; ip netns del ")));
      // Rules first, newest first; a chain can go (-X) only once nothing jumps to it.
      for (auto r = rules.rbegin(); r != rules.rend(); ++r)
        say.say("  iptables " + net::join_argv(net::iptables_args(r->rule(), false)));
      for (auto& c : chains)
        say.say(fmt::format("  iptables -t {} -X {}", c.chain().table, c.chain().name));
      if (ip_forward)
        say.say(fmt::format("  sysctl -w net.ipv4.ip_forward={}; rm {}", ip_forward->old_value(),
                            ip_forward->saved_path()));
    }
  }

  std::string what;
  if (!held) {
    what = fmt::format("{}", fmt::join(failures, "; "));
  } else if (opt.mode == "none") {
    what = "--network none: a new network namespace holds only lo";
  } else if (opt.mode == "host") {
    what = "--network host: without CLONE_NEWNET the process sees the host's interfaces";
  } else if (opt.mode == "container") {
    what = "--network container: the second process joined lab-c1's namespace and sees its eth0";
  } else {
    what = fmt::format(
        "containers {} and {} on {} reach each other and the gateway; MASQUERADE hid lab-c1 "
        "behind {}; port {} reached lab-c1:{} from outside and from the host itself; lab-c2 "
        "reached another server's port {}; lab-c2's unpublished port {} was dropped from outside",
        containers[0].address, containers[1].address, opt.bridge,
        net::to_string(net::host_address(outside, 1)), kHostPort, kContainerPort, kHostPort,
        kContainerPort);
    if (opt.mode == "all") what += "; none, host and container modes showed their views";
  }
  return say.verdict(held, what) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{
      "Lesson 06: a docker0 of our own. Makes a bridge with the gateway address of a private "
      "subnet, two containers (network + UTS namespaces) each with a veth pair (eth0 inside, the "
      "other end on the bridge), checks they ping each other and the gateway, adds Docker's "
      "iptables rules (chains LAB-DOCKER and LAB-DOCKER-USER) and shows MASQUERADE, a published "
      "port, and an unpublished one, against an \"outside\" namespace, then the "
      "none/host/container network modes. Removes everything it made on every path, unless "
      "--keep.",
      "bridge"};
  app.add_option("--bridge", opt.bridge,
                 "name of the bridge to create: lab0 or lab-NAME (1-15 bytes, no '/', ':' or "
                 "spaces); the host's own links are never touched")
      ->capture_default_str()
      ->check([](const std::string& s) { return net::validate_bridge_name(s); });
  app.add_option("--subnet", opt.subnet,
                 "the containers' private subnet: a network address with a prefix from /8 to /29 "
                 "(host bits zero, e.g. 10.88.0.0/24); the bridge gets its first address; refused "
                 "if it is loopback, link-local, multicast or reserved, overlaps the lesson's "
                 "\"internet\" 198.51.100.0/24, or overlaps a route here")
      ->capture_default_str()
      ->check([](const std::string& s) { return net::validate_subnet(s); });
  app.add_option("--mode", opt.mode,
                 "which network modes to show: all, bridge, none, host, container")
      ->capture_default_str()
      ->check(CLI::IsMember({"all", "bridge", "none", "host", "container"}));
  app.add_flag(
      "--keep", opt.keep,
      "leave the bridge, namespaces (as lab-c1, lab-c2, lab-outside in ip netns) and rules in "
      "place for exploring, and print how to remove them");
  app.add_flag("--shell", opt.shell,
               "before removing anything, open a shell in the lesson's network namespace with the "
               "bridge, the containers ($C1, $C2, $OUTSIDE are their pids, for nsenter -t; "
               "$BUSYBOX has wget, nc, httpd) and the rules in place; exit it to go on (needs "
               "--mode all or bridge)");
  lab::add_output_options(app, opt.output);
  app.final_callback([&] {
    if (opt.shell && opt.mode != "all" && opt.mode != "bridge")
      throw CLI::ValidationError("--shell", "needs the bridge network: --mode all or bridge");
  });
  if (int rc = lab::parse_command_line(app, argc, argv); rc >= 0) return rc;
  return lab::run_guarded("bridge", [&] { return run(opt); });
}
