// final/network's pure logic: Docker's -p grammar, names, subnets and IPAM arithmetic.
#include <gtest/gtest.h>

#include "error.hpp"
#include "network/config.hpp"

namespace {

using network::PortMapping;

TEST(PortMapping, ParsesDockersGrammar) {
  struct Case {
    const char* spec;
    std::vector<PortMapping> want;
  } cases[] = {
      {"8080:80", {{"", 8080, 80, "tcp"}}},
      {"8080:80/tcp", {{"", 8080, 80, "tcp"}}},
      {"5353:53/udp", {{"", 5353, 53, "udp"}}},
      {"127.0.0.1:8080:80", {{"127.0.0.1", 8080, 80, "tcp"}}},
      {"0.0.0.0:8080:80", {{"", 8080, 80, "tcp"}}},
      {"10.1.2.3:1:65535/udp", {{"10.1.2.3", 1, 65535, "udp"}}},
      // a range: one mapping per container port
      {"8080-8082:80-82", {{"", 8080, 80, "tcp"}, {"", 8081, 81, "tcp"}, {"", 8082, 82, "tcp"}}},
      // no host port: connect() picks one among the ephemeral ports
      {"80", {{"", 0, 80, "tcp"}}},
      {":80", {{"", 0, 80, "tcp"}}},
      {"127.0.0.1::53/udp", {{"127.0.0.1", 0, 53, "udp"}}},
      {"80-81", {{"", 0, 80, "tcp"}, {"", 0, 81, "tcp"}}},
      // one container port, a host range: one port of the range
      {"8000-8010:80", {{"", 0, 80, "tcp", 8000, 8010}}},
  };
  for (const auto& c : cases) EXPECT_EQ(network::parse_port_mappings(c.spec), c.want) << c.spec;
}

TEST(PortMapping, RefusesWithDockersWords) {
  struct Case {
    const char* spec;
    const char* starts;
  } cases[] = {
      {"", "invalid port format"},
      {"1:2:3:4", "invalid port format"},
      {"8080:abc", "Invalid containerPort: abc"},
      {"8080:0", "Invalid containerPort: 0"},
      {"8080:70000", "Invalid containerPort: 70000"},
      {"8080:81-80", "Invalid containerPort: 81-80"},
      {"x:80", "Invalid hostPort: x"},
      {"1.2.3:8080:80", "Invalid ip address: 1.2.3"},
      {"8080:80/sctpx", "Invalid proto: sctpx"},
      {"8080-8081:80-82",
       "Invalid ranges specified for container and host Ports: 80-82 and 8080-8081"},
  };
  for (const auto& c : cases) {
    try {
      network::parse_port_mappings(c.spec);
      ADD_FAILURE() << c.spec << " was accepted";
    } catch (const lab::UserError& e) {
      EXPECT_TRUE(std::string(e.what()).starts_with(c.starts)) << c.spec << ": " << e.what();
    }
  }
}

TEST(PortMapping, PicksTheLowestFreeHostPort) {
  std::vector<PortMapping> taken = {{"", 32768, 80, "tcp"}, {"", 32769, 80, "udp"}};
  // tcp 32768 is taken; udp 32768 is not
  EXPECT_EQ(network::pick_host_port({"", 0, 80, "tcp"}, taken, 32768, 60999), 32769);
  EXPECT_EQ(network::pick_host_port({"", 0, 53, "udp"}, taken, 32768, 60999), 32768);
  // a range of its own
  EXPECT_EQ(network::pick_host_port({"", 0, 80, "tcp", 8000, 8001}, {{"", 8000, 1, "tcp"}}, 1, 2),
            8001);
  EXPECT_EQ(network::pick_host_port({"", 0, 80, "tcp", 8000, 8000}, {{"", 8000, 1, "tcp"}}, 1, 2),
            std::nullopt);
  EXPECT_EQ(network::host_port_text({"", 0, 80, "tcp"}), "");
  EXPECT_EQ(network::host_port_text({"", 0, 80, "tcp", 8000, 8010}), "8000-8010");
  EXPECT_EQ(network::host_port_text({"", 8080, 80, "tcp"}), "8080");
}

TEST(PortMapping, DescribesAndConflicts) {
  EXPECT_EQ(network::describe({"", 8080, 80, "tcp"}), "0.0.0.0:8080->80/tcp");
  EXPECT_EQ(network::describe({"127.0.0.1", 53, 53, "udp"}), "127.0.0.1:53->53/udp");
  EXPECT_TRUE(network::conflicts({"", 8080, 80, "tcp"}, {"127.0.0.1", 8080, 81, "tcp"}));
  EXPECT_FALSE(network::conflicts({"", 8080, 80, "tcp"}, {"", 8080, 80, "udp"}));
  EXPECT_FALSE(network::conflicts({"10.0.0.1", 8080, 80, "tcp"}, {"10.0.0.2", 8080, 80, "tcp"}));
  EXPECT_FALSE(network::conflicts({"", 8080, 80, "tcp"}, {"", 8081, 80, "tcp"}));
}

TEST(NetworkName, DockersCharacters) {
  EXPECT_EQ(network::validate_network_name("web-net_1.x"), "");
  EXPECT_NE(network::validate_network_name(""), "");
  EXPECT_NE(network::validate_network_name("-x"), "");
  EXPECT_NE(network::validate_network_name("a/b"), "");
  EXPECT_NE(network::validate_network_name("a b"), "");
  EXPECT_EQ(network::validate_network_name("bridge"), "network with name bridge already exists");
  EXPECT_NE(network::validate_network_name("none"), "");
}

TEST(Subnet, ParsesAndRefuses) {
  EXPECT_EQ(network::parse_subnet("10.88.0.0/24"), (lab::ipv4::Cidr{0x0a580000, 24}));
  for (const char* bad : {"10.88.0.1/24", "10.0.0.0/7", "10.0.0.0/30", "127.0.0.0/16",
                          "169.254.0.0/16", "224.0.0.0/8", "x", "10.0.0.0"})
    EXPECT_THROW(network::parse_subnet(bad), lab::UserError) << bad;
}

lab::ipv4::Cidr cidr(const char* text) { return *lab::ipv4::parse_cidr(text); }

TEST(Subnet, PicksTheFirstFreeOfThePool) {
  auto pool = network::default_pool();
  ASSERT_EQ(pool.size(), 14u + 16u);
  EXPECT_EQ(lab::ipv4::to_string(pool.front()), "172.18.0.0/16");
  EXPECT_EQ(lab::ipv4::to_string(pool[14]), "192.168.0.0/20");
  EXPECT_EQ(network::pick_subnet(pool, {}, {}), cidr("172.18.0.0/16"));
  // a default route overlaps everything and is ignored; a host route inside 172.18 is not
  EXPECT_EQ(network::pick_subnet(pool, {cidr("0.0.0.0/0"), cidr("172.18.5.0/24")}, {}),
            cidr("172.19.0.0/16"));
  EXPECT_EQ(network::pick_subnet(pool, {cidr("172.16.0.0/12")}, {cidr("192.168.0.0/20")}),
            cidr("192.168.16.0/20"));
  EXPECT_EQ(network::pick_subnet({cidr("10.0.0.0/8")}, {cidr("10.1.0.0/16")}, {}), std::nullopt);
  EXPECT_EQ(network::find_overlap(cidr("172.18.1.0/24"), {cidr("172.18.0.0/16")}),
            cidr("172.18.0.0/16"));
}

TEST(Ipam, GatewayIsOneContainersFromTwo) {
  auto s = cidr("172.18.0.0/16");
  EXPECT_EQ(lab::ipv4::to_string(network::gateway_of(s)), "172.18.0.1");
  EXPECT_EQ(network::next_free_address(s, {}), cidr("172.18.0.2/32").address);
  std::set<uint32_t> used = {cidr("172.18.0.2/32").address, cidr("172.18.0.4/32").address};
  EXPECT_EQ(network::next_free_address(s, used), cidr("172.18.0.3/32").address);
  // a /29 holds the gateway and five containers (.2-.6); .7 is the broadcast address
  auto small = cidr("10.0.0.0/29");
  std::set<uint32_t> taken;
  for (int i = 0; i < 5; ++i) {
    auto a = network::next_free_address(small, taken);
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, small.address + 2 + static_cast<uint32_t>(i));
    taken.insert(*a);
  }
  EXPECT_EQ(network::next_free_address(small, taken), std::nullopt);
}

TEST(Names, MacVethBridge) {
  EXPECT_EQ(network::mac_for(cidr("172.18.0.2/32").address), "02:42:ac:12:00:02");
  std::string v = network::veth_name("netid", "c1");
  EXPECT_EQ(v.size(), 11u);
  EXPECT_TRUE(v.starts_with("veth"));
  EXPECT_EQ(v, network::veth_name("netid", "c1"));
  EXPECT_NE(v, network::veth_name("netid", "c2"));
  EXPECT_EQ(network::veth_peer_name("netid", "c1"), v + "p");
  EXPECT_EQ(network::bridge_name_for("0123456789abcdef"), "br-0123456789ab");
}

TEST(Hosts, LocalhostThenEntries) {
  std::string f = network::hosts_file({"172.18.0.2\tweb"});
  EXPECT_TRUE(f.starts_with("127.0.0.1\tlocalhost\n"));
  EXPECT_TRUE(f.ends_with("\n172.18.0.2\tweb\n"));
}

}  // namespace
