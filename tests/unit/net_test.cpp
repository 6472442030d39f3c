// Lesson 06's pure logic: subnets, route clashes, interface names, iptables rule text, views.
#include "net.hpp"

#include <gtest/gtest.h>

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
      {net::masquerade_rule("172.29.0.0/24", "lab0"),
       "-A POSTROUTING -s 172.29.0.0/24 ! -o lab0 -m comment --comment lab-bridge -j MASQUERADE",
       "-t nat -A POSTROUTING -s 172.29.0.0/24 ! -o lab0 -m comment --comment lab-bridge -j "
       "MASQUERADE"},
      {net::port_mapping_rule(8080, "172.29.0.2", 80),
       "-A PREROUTING -p tcp -m tcp --dport 8080 -m comment --comment lab-bridge -j DNAT "
       "--to-destination 172.29.0.2:80",
       "-t nat -A PREROUTING -p tcp -m tcp --dport 8080 -m comment --comment lab-bridge -j DNAT "
       "--to-destination 172.29.0.2:80"},
      {net::forward_rule("172.29.0.0/24", true),
       "-A FORWARD -d 172.29.0.0/24 -m comment --comment lab-bridge -j ACCEPT",
       "-t filter -I FORWARD -d 172.29.0.0/24 -m comment --comment lab-bridge -j ACCEPT"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(net::rule_as_listed(c.rule), c.listed);
    EXPECT_EQ(net::join_argv(net::iptables_args(c.rule, true)), c.add);
    std::string del = net::join_argv(net::iptables_args(c.rule, false));
    EXPECT_NE(del.find(" -D " + c.rule.chain + " "), std::string::npos) << del;
  }
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
  for (const auto& c : cases) EXPECT_EQ(net::trim(c.in), c.out) << "'" << c.in << "'";
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
