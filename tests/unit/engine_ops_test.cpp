// The pure logic of exec, top and stats (final/engine/ops.cpp): PATH look-up, Docker's
// parsePSOutput, the cgroup v1 and v2 files stats reads, Docker's CPU % and its units, and the
// paused status text.
#include <gtest/gtest.h>

#include <set>

#include "engine/ops.hpp"
#include "error.hpp"
#include "graph/store.hpp"

namespace {

TEST(EngineOps, FindOnPathTakesTheFirstDirectoryThatHasIt) {
  std::set<std::string> files = {"/bin/sh", "/usr/bin/env", "/bin/env"};
  auto exists = [&](const std::string& f) { return files.count(f) > 0; };
  EXPECT_EQ(engine::find_on_path("env", "/usr/bin:/bin", exists), "/usr/bin/env");
  EXPECT_EQ(engine::find_on_path("sh", "/usr/bin:/bin", exists), "/bin/sh");
  EXPECT_EQ(engine::find_on_path("nosuch", "/usr/bin:/bin", exists), std::nullopt);
  EXPECT_EQ(engine::find_on_path("/bin/sh", "", exists), "/bin/sh");
  EXPECT_EQ(engine::find_on_path("/bin/nosuch", "/bin", exists), std::nullopt);
}

TEST(EngineOps, PsOutputKeepsTheContainersRowsAndTheCommandsSpaces) {
  const char* ps =
      "UID          PID    PPID  C STIME TTY          TIME CMD\n"
      "root           1       0  0 03:00 ?        00:00:01 /sbin/init splash\n"
      "root         812     800  0 03:01 ?        00:00:00 sh -c sleep 1000 & wait\n"
      "root         815     812  0 03:01 ?        00:00:00 sleep 1000\n";
  engine::PsTable t = engine::filter_ps_output(ps, {812, 815});
  ASSERT_EQ(t.titles.size(), 8u);
  EXPECT_EQ(t.titles[1], "PID");
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][1], "812");
  EXPECT_EQ(t.rows[0][7], "sh -c sleep 1000 & wait");
  EXPECT_EQ(t.rows[1][7], "sleep 1000");
  EXPECT_THROW(engine::filter_ps_output("USER COMMAND\nroot x\n", {1}), lab::UserError);
}

TEST(EngineOps, CgroupV1Files) {
  EXPECT_EQ(engine::parse_keyed("cache 4096\nrss 8192\ntotal_inactive_file 1024\n",
                                "total_inactive_file"),
            1024u);
  EXPECT_EQ(engine::parse_keyed("cache 4096\n", "rss"), std::nullopt);
  // v1's "no limit" is a huge number: the host's memory is shown instead.
  EXPECT_EQ(engine::parse_limit("9223372036854771712\n", 8ULL << 30), std::nullopt);
  EXPECT_EQ(engine::parse_limit("67108864\n", 8ULL << 30), 67108864u);
  auto [r, w] = engine::parse_blkio_v1(
      "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\n"
      "8:16 Read 1000\n8:16 Write 0\nTotal 13288\n");
  EXPECT_EQ(r, 5096u);
  EXPECT_EQ(w, 8192u);
}

TEST(EngineOps, CgroupV2Files) {
  EXPECT_EQ(engine::parse_keyed("usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n", "usage_usec"),
            1500u);
  EXPECT_EQ(engine::parse_keyed("anon 8192\ninactive_file 4096\nactive_file 0\n", "inactive_file"),
            4096u);
  EXPECT_EQ(engine::parse_limit("max\n", 8ULL << 30), std::nullopt);
  EXPECT_EQ(engine::parse_limit("67108864\n", 8ULL << 30), 67108864u);
  auto [r, w] = engine::parse_io_stat_v2(
      "8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n"
      "253:0 rbytes=100 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
  EXPECT_EQ(r, 4196u);
  EXPECT_EQ(w, 512u);
}

TEST(EngineOps, NetDevSumsEveryInterfaceButLo) {
  const char* dev =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
      "drop fifo colls carrier compressed\n"
      "    lo:    1000      10    0    0    0     0          0         0     1000      10    0    "
      "0    0     0       0          0\n"
      "  eth0:    5000      50    0    0    0     0          0         0      700       7    0    "
      "0    0     0       0          0\n";
  auto [rx, tx] = engine::parse_net_dev(dev);
  EXPECT_EQ(rx, 5000u);
  EXPECT_EQ(tx, 700u);
}

TEST(EngineOps, ProcStatAndCpuPercentAsDocker) {
  // 100 ticks a second: 10 ms a tick.
  EXPECT_EQ(engine::parse_proc_stat_cpu_ns("cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 5 0 5 40\n", 100),
            100u * 10000000u);
  engine::Sample a, b;
  a.cpu_usage_ns = 0;
  a.system_usage_ns = 0;
  b.cpu_usage_ns = 500;
  b.system_usage_ns = 2000;  // all CPUs together
  EXPECT_DOUBLE_EQ(engine::cpu_percent(a, b, 2), 50.0);
  EXPECT_DOUBLE_EQ(engine::cpu_percent(b, b, 2), 0.0);
}

TEST(EngineOps, DockersUnits) {
  EXPECT_EQ(engine::bytes_size(0), "0B");
  EXPECT_EQ(engine::bytes_size(576 * 1024), "576KiB");
  EXPECT_EQ(engine::bytes_size(5.629 * 1024 * 1024), "5.629MiB");
  EXPECT_EQ(engine::bytes_size(64.0 * 1024 * 1024), "64MiB");
  EXPECT_EQ(engine::human_size(0), "0B");
  EXPECT_EQ(engine::human_size(916), "916B");
  EXPECT_EQ(engine::human_size(147000), "147kB");
  EXPECT_EQ(engine::human_size(1234567), "1.23MB");
}

TEST(EngineOps, PausedStatusText) {
  engine::Container c;
  c.status = "running";
  c.started_at = "2026-01-01T00:00:00Z";
  c.paused = true;
  EXPECT_EQ(engine::status_text(c, graph::parse_rfc3339(c.started_at) + 3),
            "Up 3 seconds (Paused)");
  c.paused = false;
  EXPECT_EQ(engine::status_text(c, graph::parse_rfc3339(c.started_at) + 3), "Up 3 seconds");
}

}  // namespace
