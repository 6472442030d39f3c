// The engine's networking glue (final/engine/networking.hpp): its pure parts.
#include "engine/networking.hpp"

#include <gtest/gtest.h>

TEST(EngineNetworking, ResolvConfDropsLoopbackServers) {
  std::string host =
      "# from the host\nsearch lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\n"
      "options edns0\n";
  EXPECT_EQ(engine::resolv_conf_for(host, false),
            "# from the host\nsearch lan\nnameserver 10.0.0.1\noptions edns0\n");
  // the host's own network: the host's file as it is
  EXPECT_EQ(engine::resolv_conf_for(host, true), host);
  // nothing left: Docker's fallback
  EXPECT_EQ(engine::resolv_conf_for("nameserver 127.0.0.53\nnameserver ::1\n", false),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  EXPECT_EQ(engine::resolv_conf_for("", false), "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
}

TEST(EngineNetworking, PortBindingsInDockersShape) {
  std::vector<network::PortMapping> ports;
  for (const char* spec : {"8080:80", "127.0.0.1:53:53/udp", "8081:80", "90", "7000-7009:91"})
    for (const network::PortMapping& m : network::parse_port_mappings(spec)) ports.push_back(m);
  // A random host port is "" as Docker records it (HostConfig), a range is kept as asked.
  EXPECT_EQ(engine::port_bindings(ports).dump(),
            R"({"53/udp":[{"HostIp":"127.0.0.1","HostPort":"53"}],)"
            R"("80/tcp":[{"HostIp":"","HostPort":"8080"},{"HostIp":"","HostPort":"8081"}],)"
            R"("90/tcp":[{"HostIp":"","HostPort":""}],)"
            R"("91/tcp":[{"HostIp":"","HostPort":"7000-7009"}]})");
  EXPECT_EQ(engine::port_bindings({}).dump(), "{}");
}

TEST(EngineNetworking, WhichModesTheDriverPins) {
  EXPECT_TRUE((engine::NetworkRequest{"bridge", "", {}}.pinned()));
  EXPECT_TRUE((engine::NetworkRequest{"app", "", {}}.pinned()));
  EXPECT_FALSE((engine::NetworkRequest{"none", "", {}}.pinned()));
  EXPECT_FALSE((engine::NetworkRequest{"host", "", {}}.pinned()));
  EXPECT_FALSE((engine::NetworkRequest{"container:abc", "abc", {}}.pinned()));
}
