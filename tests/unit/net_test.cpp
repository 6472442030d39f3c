// Lesson 06's pure logic: subnets, route clashes, interface names, iptables rule text, views.
#include "net.hpp"

#include <gtest/gtest.h>

#include "fd.hpp"
#include "firewall.hpp"

namespace {

TEST(NetCidr, Parse) {
  struct Case {
    std::string text;
    bool ok;
    std::string back;  // to_string of the result
  } cases[] = {
      {"172.29.0.0/24", true, "172.29.0.0/24"},
      {"10.0.0.0/8", true, "10.0.0.0/8"},
      {"0.0.0.0/0", true, "0.0.0.0/0"},
      {"192.168.1.7/32", true, "192.168.1.7/32"},
      {"172.29.0.0", false, ""},
      {"172.29.0.0/", false, ""},
      {"172.29.0.0/33", false, ""},
      {"172.29.0.0/2x", false, ""},
      {"172.29.0/24", false, ""},
      {"300.1.1.1/24", false, ""},
      {"", false, ""},
  };
  for (const auto& c : cases) {
    std::string why;
    auto got = net::parse_cidr(c.text, &why);
    EXPECT_EQ(got.has_value(), c.ok) << c.text;
    if (got)
      EXPECT_EQ(net::to_string(*got), c.back);
    else
      EXPECT_FALSE(why.empty()) << c.text;
  }
}

TEST(NetCidr, ValidateSubnet) {
  struct Case {
    std::string text;
    std::string error_part;  // "" when valid
  } cases[] = {
      {"172.29.0.0/24", ""},
      {"10.8.0.0/16", ""},
      {"192.168.50.0/29", ""},
      {"172.29.0.5/24", "did you mean 172.29.0.0/24?"},
      {"172.29.0.0/30", "/30 does not fit"},
      {"10.0.0.0/7", "/7 does not fit"},
      {"nonsense", "has no /PREFIX"},
      // special-purpose ranges: no bridge network can live there
      {"127.0.0.0/24", "lies in 127.0.0.0/8 (loopback"},
      {"127.0.0.0/8", "lies in 127.0.0.0/8 (loopback"},
      {"169.254.1.0/24", "lies in 169.254.0.0/16 (link-local"},
      {"224.1.0.0/16", "lies in 224.0.0.0/4 (multicast"},
      {"239.255.0.0/24", "(multicast"},
      {"240.0.0.0/24", "lies in 240.0.0.0/4 (reserved"},
      {"255.255.255.0/24", "(reserved"},
      {"0.0.0.0/8", "lies in 0.0.0.0/8"},
      {"0.1.0.0/16", "lies in 0.0.0.0/8"},
      // the lesson's own "internet"
      {"198.51.100.0/24", "the lesson's own \"internet\""},
      {"198.51.0.0/16", "overlaps 198.51.100.0/24"},
      {"198.51.100.128/25", "overlaps 198.51.100.0/24"},
      {"198.51.101.0/24", ""},
      {"100.64.0.0/24", ""},
      {"126.255.255.0/24", ""},
      {"128.0.0.0/24", ""},
      {"223.255.255.0/24", ""},
  };
  for (const auto& c : cases) {
    std::string got = net::validate_subnet(c.text);
    if (c.error_part.empty())
      EXPECT_EQ(got, "") << c.text;
    else
      EXPECT_NE(got.find(c.error_part), std::string::npos) << c.text << ": " << got;
  }
}

TEST(NetCidr, OverlapsAndClash) {
  auto p = [](const char* s) { return *net::parse_cidr(s); };
  struct Case {
    const char* a;
    const char* b;
    bool overlap;
  } cases[] = {
      {"172.29.0.0/24", "172.29.0.0/24", true},    {"172.29.0.0/24", "172.29.0.0/16", true},
      {"172.29.0.0/16", "172.29.5.0/24", true},    {"172.29.0.0/24", "172.29.1.0/24", false},
      {"10.0.0.0/8", "172.29.0.0/24", false},      {"172.29.0.0/24", "172.29.0.128/25", true},
      {"172.29.0.0/25", "172.29.0.128/25", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(net::overlaps(p(c.a), p(c.b)), c.overlap) << c.a << " " << c.b;
    EXPECT_EQ(net::overlaps(p(c.b), p(c.a)), c.overlap) << c.b << " " << c.a;
  }
  std::vector<net::Cidr> routes = {p("0.0.0.0/0"), p("10.0.2.0/24"), p("172.17.0.0/16")};
  EXPECT_FALSE(net::find_clash(p("172.29.0.0/24"), routes)) << "a default route is no clash";
  EXPECT_EQ(net::to_string(*net::find_clash(p("172.17.3.0/24"), routes)), "172.17.0.0/16");
  EXPECT_EQ(net::to_string(*net::find_clash(p("10.0.0.0/16"), routes)), "10.0.2.0/24");
  EXPECT_FALSE(net::find_clash(p("172.29.0.0/24"), {}));
}

TEST(NetCidr, Addresses) {
  auto s = *net::parse_cidr("172.29.0.0/24");
  EXPECT_EQ(net::to_string(net::host_address(s, 1)), "172.29.0.1");
  EXPECT_EQ(net::to_string(net::host_address(s, 3)), "172.29.0.3");
  EXPECT_EQ(net::with_prefix(net::host_address(s, 2), s), "172.29.0.2/24");
  EXPECT_EQ(net::netmask(24), 0xffffff00u);
  EXPECT_EQ(net::netmask(0), 0u);
  EXPECT_EQ(net::netmask(32), 0xffffffffu);
}

TEST(NetLinkName, BridgeMustBeALabName) {
  struct Case {
    std::string name;
    bool ok;
  } cases[] = {
      {"lab0", true},  {"lab-test0", true}, {"lab-br1", true}, {"eth0", false},
      {"lo", false},   {"docker0", false},  {"lab1", false},   {"labrador", false},
      {"LAB0", false}, {"lab-", true},      {"", false},       {"lab-abcdefghijkl", false},
  };
  for (const auto& c : cases)
    EXPECT_EQ(net::validate_bridge_name(c.name).empty(), c.ok) << "'" << c.name << "'";
  EXPECT_NE(net::validate_bridge_name("eth0").find("\"eth0\" is not a lab name"),
            std::string::npos);
  EXPECT_EQ(net::validate_bridge_name("eth0").find("ip link del"), std::string::npos);
}

TEST(NetLinkName, Validation) {
  struct Case {
    std::string name;
    bool ok;
  } cases[] = {
      {"lab0", true},
      {"docker0", true},
      {std::string(15, 'b'), true},
      {std::string(16, 'b'), false},
      {"", false},
      {"lab/0", false},
      {"lab 0", false},
      {"lab:0", false},
      {".", false},
      {"..", false},
      {"lab-br.1", true},
      {"a\tb", false},
  };
  for (const auto& c : cases)
    EXPECT_EQ(net::validate_link_name(c.name).empty(), c.ok) << "'" << c.name << "'";
  EXPECT_EQ(net::validate_link_name(std::string(16, 'b')),
            "\"bbbbbbbbbbbbbbbb\" is 16 bytes; interface names are at most 15 (IFNAMSIZ)");
}

TEST(NetFirewall, RulesAsIptablesListsThem) {
  struct Case {
    net::Rule rule;
    std::string listed;
    std::string add;
  } cases[] = {
      {net::bridge_network_rules("172.29.0.0/24", "lab0").back(),
       "-A POSTROUTING -s 172.29.0.0/24 ! -o lab0 -m comment --comment lab-bridge -j MASQUERADE",
       "-t nat -A POSTROUTING -s 172.29.0.0/24 ! -o lab0 -m comment --comment lab-bridge -j "
       "MASQUERADE"},
      {net::published_port_rules("lab0", 8080, "172.29.0.2", 80)[0],
       "-A LAB-DOCKER ! -i lab0 -p tcp -m tcp --dport 8080 -m comment --comment lab-bridge -j DNAT "
       "--to-destination 172.29.0.2:80",
       "-t nat -A LAB-DOCKER ! -i lab0 -p tcp -m tcp --dport 8080 -m comment --comment lab-bridge "
       "-j DNAT --to-destination 172.29.0.2:80"},
      {net::published_port_rules("lab0", 8080, "172.29.0.2", 80)[1],
       "-A LAB-DOCKER -d 172.29.0.2/32 ! -i lab0 -o lab0 -p tcp -m tcp --dport 80 -m comment "
       "--comment lab-bridge -j ACCEPT",
       "-t filter -I LAB-DOCKER 1 -d 172.29.0.2/32 ! -i lab0 -o lab0 -p tcp -m tcp --dport 80 -m "
       "comment --comment lab-bridge -j ACCEPT"},
      {net::isolation_rule("lab0"),
       "-A LAB-DOCKER ! -i lab0 -o lab0 -m comment --comment lab-bridge -j DROP",
       "-t filter -A LAB-DOCKER ! -i lab0 -o lab0 -m comment --comment lab-bridge -j DROP"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(net::rule_as_listed(c.rule), c.listed);
    EXPECT_EQ(net::join_argv(net::iptables_args(c.rule, true)), c.add);
    std::string del = net::join_argv(net::iptables_args(c.rule, false));
    EXPECT_NE(del.find(" -D " + c.rule.chain + " "), std::string::npos) << del;
    EXPECT_EQ(del.find(" 1 "), std::string::npos) << "-D takes no position: " << del;
  }
}

// Docker's layout under lab names: what `iptables -S` shows on a host with docker0 and
// `docker run -p 8080:80`, with DOCKER -> LAB-DOCKER and docker0 -> lab0.
TEST(NetFirewall, DockersLayout) {
  std::vector<net::Rule> rules = net::bridge_network_rules("172.29.0.0/24", "lab0");
  for (auto& r : net::published_port_rules("lab0", 8080, "172.29.0.2", 80)) rules.push_back(r);
  auto strip = [](std::vector<std::string> lines) {
    for (auto& l : lines) {
      auto at = l.find(" -m comment --comment lab-bridge");
      EXPECT_NE(at, std::string::npos) << l;
      l.erase(at, std::string(" -m comment --comment lab-bridge").size());
    }
    return lines;
  };
  EXPECT_EQ(strip(net::listed_order(rules, "filter", "FORWARD")),
            (std::vector<std::string>{
                "-A FORWARD -j LAB-DOCKER-USER",
                "-A FORWARD -o lab0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                "-A FORWARD -o lab0 -j LAB-DOCKER",
                "-A FORWARD -i lab0 ! -o lab0 -j ACCEPT",
                "-A FORWARD -i lab0 -o lab0 -j ACCEPT",
            }));
  EXPECT_EQ(strip(net::listed_order(rules, "filter", "LAB-DOCKER")),
            (std::vector<std::string>{
                "-A LAB-DOCKER -d 172.29.0.2/32 ! -i lab0 -o lab0 -p tcp -m tcp --dport 80 -j "
                "ACCEPT",
                "-A LAB-DOCKER ! -i lab0 -o lab0 -j DROP",
            }));
  EXPECT_EQ(strip(net::listed_order(rules, "filter", "LAB-DOCKER-USER")),
            (std::vector<std::string>{"-A LAB-DOCKER-USER -j RETURN"}));
  EXPECT_EQ(strip(net::listed_order(rules, "nat", "PREROUTING")),
            (std::vector<std::string>{"-A PREROUTING -m addrtype --dst-type LOCAL -j LAB-DOCKER"}));
  EXPECT_EQ(strip(net::listed_order(rules, "nat", "OUTPUT")),
            (std::vector<std::string>{
                "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j LAB-DOCKER"}));
  EXPECT_EQ(strip(net::listed_order(rules, "nat", "LAB-DOCKER")),
            (std::vector<std::string>{"-A LAB-DOCKER ! -i lab0 -p tcp -m tcp --dport 8080 -j DNAT "
                                      "--to-destination 172.29.0.2:80"}));
  EXPECT_EQ(strip(net::listed_order(rules, "nat", "POSTROUTING")),
            (std::vector<std::string>{"-A POSTROUTING -s 172.29.0.0/24 ! -o lab0 -j MASQUERADE"}));
  // every chain the rules use is Docker's under a LAB- name, or a built-in one
  for (const auto& r : rules)
    EXPECT_TRUE(r.chain.starts_with("LAB-DOCKER") || r.chain == "FORWARD" ||
                r.chain == "PREROUTING" || r.chain == "OUTPUT" || r.chain == "POSTROUTING")
        << r.chain;
  auto chains = net::docker_chains();
  ASSERT_EQ(chains.size(), 3u);
  for (const auto& c : chains) EXPECT_TRUE(c.name.starts_with("LAB-")) << c.name;
}

TEST(NetText, JoinArgvAndTrim) {
  EXPECT_EQ(net::join_argv({"busybox", "ping", "-c", "1", "172.29.0.3"}),
            "busybox ping -c 1 172.29.0.3");
  EXPECT_EQ(net::join_argv({}), "");
  struct Case {
    std::string in;
    std::string out;
  } cases[] = {
      {"0\n", "0"},
      {"you came from 198.51.100.1\r\n", "you came from 198.51.100.1"},
      {"a b  \n\n", "a b"},
      {"  lead\n", "  lead"},
      {"", ""},
      {"\n", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(lab::trim(c.in), c.out) << "'" << c.in << "'";
}

TEST(NetView, EncodeDecodeRoundTrip) {
  std::vector<net::View> views = {
      {{"lo"}, {}, "net:[4026531840]"},
      {{"lo", "eth0"}, {"eth0 172.29.0.2/24"}, "net:[4026532290]"},
      {{"lo", "lab0", "lab-veth1"}, {"lab0 172.29.0.1/24", "lab-veth1 10.0.0.1/8"}, "net:[1]"},
  };
  for (const auto& v : views) EXPECT_EQ(net::decode_view(net::encode(v)), v) << net::encode(v);
  EXPECT_EQ(net::encode(views[1]), "lo,eth0;eth0 172.29.0.2/24;net:[4026532290]");
}

}  // namespace
