// The engine's pure logic: Docker's sizes and CPUs, env files and merges, users from /etc/passwd,
// the process Docker would run, the bundle's config.json, status strings, names, exit codes, and
// the monitor's json-file log lines.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/containers.hpp"
#include "error.hpp"
#include "exec/bundle.hpp"
#include "graph/store.hpp"
#include "monitor/json_log.hpp"

namespace {

using nlohmann::json;

TEST(ExecBundle, ParseMemoryAsDocker) {
  struct Case {
    const char* text;
    int64_t bytes;
  } cases[] = {{"100", 100},      {"1k", 1024},        {"64m", 64 << 20},    {"64M", 64 << 20},
               {"1g", 1LL << 30}, {"1.5g", 3LL << 29}, {"512mb", 512 << 20}, {"2b", 2}};
  for (const auto& c : cases) EXPECT_EQ(exec::parse_memory(c.text), c.bytes) << c.text;
  for (const char* bad : {"", "m", "-1m", "12x", "1..2m", "abc"})
    EXPECT_THROW(exec::parse_memory(bad), lab::UserError) << bad;
}

// Docker's opts.NanoCPUs: big.Rat's decimals and fractions, whole nano-CPUs only; the range is
// parse_limits's.
TEST(ExecBundle, ParseNanoCpusAsDocker) {
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"0.5", 500000000},
      {"1/2", 500000000},
      {".5", 500000000},
      {"5.", 5000000000},
      {"1e-1", 100000000},
      {"+2", 2000000000},
      {"-1", -1000000000},
      {"-1/4", -250000000},
      {"0.000000001", 1},
      {"1.50000000000", 1500000000},
      {"0", 0},
      {"00.10", 100000000},
      {"1e30", INT64_MAX},
  };
  for (const auto& [text, nano] : cases) EXPECT_EQ(exec::parse_nano_cpus(text), nano) << text;
  for (const char* bad :
       {"", "x", ".", "1/0", "1/-2", "1e", " 1", "1 ", "inf", "nan", "0x1", "1,5", "--1"}) {
    try {
      exec::parse_nano_cpus(bad);
      ADD_FAILURE() << bad;
    } catch (const lab::UserError& e) {
      EXPECT_EQ(e.what(), fmt::format("failed to parse {} as a rational number", bad));
    }
  }
  for (const char* fine_grained : {"0.0000000001", "1/3", "1e-10"}) {
    try {
      exec::parse_nano_cpus(fine_grained);
      ADD_FAILURE() << fine_grained;
    } catch (const lab::UserError& e) {
      EXPECT_STREQ(e.what(), "value is too precise");
    }
  }
}

TEST(ExecBundle, LimitsFollowDockersChecks) {
  exec::RunOptions o;
  o.memory = "1k";
  EXPECT_THROW(exec::parse_limits(o, 2), lab::UserError);
  o.memory = "64m";
  o.memory_swap = "32m";
  EXPECT_THROW(exec::parse_limits(o, 2), lab::UserError);
  o.memory_swap = "-1";
  EXPECT_EQ(exec::parse_limits(o, 2).memory_swap, -1);
  exec::RunOptions cpus;
  cpus.cpus = "0.5";
  exec::Limits l = exec::parse_limits(cpus, 2);
  EXPECT_EQ(l.cpu_quota, 50000);
  EXPECT_EQ(l.cpu_period, 100000);
  for (const char* bad : {"0", "3", "0.001", "x", "-1"}) {
    cpus.cpus = bad;
    EXPECT_THROW(exec::parse_limits(cpus, 2), lab::UserError) << bad;
  }
  exec::RunOptions swap_alone;
  swap_alone.memory_swap = "10m";
  EXPECT_THROW(exec::parse_limits(swap_alone, 2), lab::UserError);
  exec::RunOptions pids;
  pids.pids_limit = "-1";
  EXPECT_FALSE(exec::parse_limits(pids, 2).pids);
  pids.pids_limit = "10";
  EXPECT_EQ(exec::parse_limits(pids, 2).pids, 10);
  exec::RunOptions shares;
  shares.cpu_shares = "1";
  EXPECT_THROW(exec::parse_limits(shares, 2), lab::UserError);
}

TEST(ExecBundle, EnvFileAndMerge) {
  auto lookup = [](const char* key) -> const char* {
    return std::string(key) == "HOME" ? "/root" : nullptr;
  };
  EXPECT_EQ(exec::env_file_line("A=b=c\n", lookup), "A=b=c");
  EXPECT_EQ(exec::env_file_line("# comment", lookup), std::nullopt);
  EXPECT_EQ(exec::env_file_line("   ", lookup), std::nullopt);
  EXPECT_EQ(exec::env_file_line("HOME", lookup), "HOME=/root");
  EXPECT_EQ(exec::env_file_line("UNSET", lookup), std::nullopt);
  EXPECT_THROW(exec::env_file_line("=x", lookup), lab::UserError);
  auto merged = exec::merge_env({"PATH=/bin", "A=1"}, {"A=2", "B=3", "HOME", "UNSET"}, lookup);
  EXPECT_EQ(merged, (std::vector<std::string>{"PATH=/bin", "A=2", "B=3", "HOME=/root"}));
}

TEST(ExecBundle, UsersFromTheRootfs) {
  const char* passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n";
  const char* group = "root:x:0:\nnogroup:x:65534:\nstaff:x:50:\n";
  auto u = exec::resolve_user("nobody", passwd, group);
  EXPECT_EQ(u.uid, 65534u);
  EXPECT_EQ(u.gid, 65534u);
  u = exec::resolve_user("1000:1000", passwd, group);
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 1000u);
  u = exec::resolve_user("nobody:staff", passwd, group);
  EXPECT_EQ(u.gid, 50u);
  u = exec::resolve_user("", passwd, group);
  EXPECT_EQ(u.uid, 0u);
  EXPECT_THROW(exec::resolve_user("alice", passwd, group), lab::UserError);
  EXPECT_THROW(exec::resolve_user("root:nosuch", passwd, group), lab::UserError);
  EXPECT_THROW(exec::resolve_user("a:b:c", passwd, group), lab::UserError);
}

TEST(ExecBundle, ProcessArgsAsDocker) {
  json image = {{"Entrypoint", {"/entry"}}, {"Cmd", {"default"}}};
  exec::RunOptions o;
  EXPECT_EQ(exec::process_args(image, o), (std::vector<std::string>{"/entry", "default"}));
  o.command = {"given"};
  EXPECT_EQ(exec::process_args(image, o), (std::vector<std::string>{"/entry", "given"}));
  o.entrypoint = "/other";
  o.command.clear();
  EXPECT_EQ(exec::process_args(image, o), (std::vector<std::string>{"/other"}));
  o.entrypoint = "";
  o.command = {"sh"};
  EXPECT_EQ(exec::process_args(image, o), (std::vector<std::string>{"sh"}));
  EXPECT_TRUE(exec::process_args(json::object(), exec::RunOptions{}).empty());
}

TEST(ExecBundle, SpecFromImageConfigAndOptions) {
  exec::BundleInput in;
  in.id = std::string(64, 'a');
  in.rootfs = "/var/lib/minidocker/containers/x/merged";
  in.image_config = {{"Cmd", {"sh"}}, {"Env", {"PATH=/opt/bin", "IMG=1"}}, {"WorkingDir", "/srv"}};
  in.options.env = {"IMG=2", "X=y"};
  in.options.network = "none";
  in.options.read_only = true;
  in.options.cap_drop = {"chown"};
  in.options.cap_add = {"NET_ADMIN"};
  in.user = {1000, 1000, {}};
  in.limits.memory = 64 << 20;
  in.limits.cpu_quota = 50000;
  in.limits.cpu_period = 100000;
  in.limits.pids = 10;
  json spec = exec::make_spec(in);
  EXPECT_EQ(spec["process"]["args"], json({"sh"}));
  EXPECT_EQ(spec["process"]["env"],
            json({"PATH=/opt/bin", "HOSTNAME=aaaaaaaaaaaa", "IMG=2", "X=y"}));
  EXPECT_EQ(spec["process"]["cwd"], "/srv");
  EXPECT_EQ(spec["process"]["user"]["uid"], 1000);
  EXPECT_EQ(spec["hostname"], "aaaaaaaaaaaa");
  EXPECT_EQ(spec["root"]["path"], in.rootfs);
  EXPECT_EQ(spec["root"]["readonly"], true);
  EXPECT_EQ(spec["linux"]["cgroupsPath"], "/minidocker/" + in.id);
  EXPECT_EQ(spec["linux"]["resources"]["memory"]["limit"], 64 << 20);
  EXPECT_EQ(spec["linux"]["resources"]["cpu"]["quota"], 50000);
  EXPECT_EQ(spec["linux"]["resources"]["pids"]["limit"], 10);
  const auto& caps = spec["process"]["capabilities"]["bounding"];
  EXPECT_EQ(std::count(caps.begin(), caps.end(), "CAP_CHOWN"), 0);
  EXPECT_EQ(std::count(caps.begin(), caps.end(), "CAP_NET_ADMIN"), 1);
  bool has_netns = false;
  for (const auto& ns : spec["linux"]["namespaces"]) has_netns |= ns["type"] == "network";
  EXPECT_TRUE(has_netns);
  in.options.network = "host";
  has_netns = false;
  json host = exec::make_spec(in);  // (a temporary would die before the loop's body)
  for (const auto& ns : host["linux"]["namespaces"]) has_netns |= ns["type"] == "network";
  EXPECT_FALSE(has_netns);
  in.options.network = "bridge";
  in.netns_path = "/run/netns/x";
  bool joined = false;
  json joining = exec::make_spec(in);
  for (const auto& ns : joining["linux"]["namespaces"])
    joined |= ns["type"] == "network" && ns.value("path", "") == "/run/netns/x";
  EXPECT_TRUE(joined);
  in.options.cap_add = {"NOPE"};
  EXPECT_THROW(exec::make_spec(in), lab::UserError);
  in.options.cap_add.clear();
  in.options.workdir = "relative";
  EXPECT_THROW(exec::make_spec(in), lab::UserError);
}

TEST(Engine, StatusStringsAsDockersPs) {
  engine::Container c;
  EXPECT_EQ(engine::status_text(c, 0), "Created");
  c.status = "running";
  c.started_at = "2024-01-02T03:04:05.5Z";
  int64_t start = graph::parse_rfc3339(c.started_at);
  EXPECT_EQ(engine::status_text(c, start + 3), "Up 3 seconds");
  EXPECT_EQ(engine::status_text(c, start), "Up Less than a second");
  EXPECT_EQ(engine::status_text(c, start + 120), "Up 2 minutes");
  c.status = "exited";
  c.exit_code = 137;
  c.finished_at = c.started_at;
  EXPECT_EQ(engine::status_text(c, start + 2), "Exited (137) 2 seconds ago");
}

TEST(Engine, NamesAsDockers) {
  for (uint64_t r : {0ULL, 1ULL, 12345ULL, ~0ULL}) {
    std::string name = engine::random_name(r);
    EXPECT_NE(name, "boring_wozniak");
    EXPECT_NE(name.find('_'), std::string::npos) << name;
    EXPECT_TRUE(engine::valid_name(name)) << name;
  }
  EXPECT_TRUE(engine::valid_name("web-1.a_b"));
  EXPECT_FALSE(engine::valid_name("-x"));
  EXPECT_FALSE(engine::valid_name("a b"));
  EXPECT_FALSE(engine::valid_name(""));
}

TEST(Engine, CreateFailureCodes) {
  EXPECT_EQ(engine::create_failure_code("executable file \"x\" not found in $PATH"), 127);
  EXPECT_EQ(engine::create_failure_code("exec: \"/etc\": permission denied"), 126);
  EXPECT_EQ(engine::create_failure_code("mount: invalid argument"), 125);
}

TEST(MonitorLog, JsonFileLines) {
  EXPECT_EQ(monitor::json_escape("a\"b\\c\n<&>\x01"), "a\\\"b\\\\c\\n\\u003c\\u0026\\u003e\\u0001");
  timespec ts{1704164645, 123000000};
  EXPECT_EQ(monitor::rfc3339_nano(ts), "2024-01-02T03:04:05.123Z");
  ts.tv_nsec = 0;
  EXPECT_EQ(monitor::rfc3339_nano(ts), "2024-01-02T03:04:05Z");
  std::string buffer = "one\ntwo\nthr";
  std::string out = monitor::take_entries(buffer, "stdout", "T", false);
  EXPECT_EQ(out,
            "{\"log\":\"one\\n\",\"stream\":\"stdout\",\"time\":\"T\"}\n"
            "{\"log\":\"two\\n\",\"stream\":\"stdout\",\"time\":\"T\"}\n");
  EXPECT_EQ(buffer, "thr");
  out = monitor::take_entries(buffer, "stderr", "T", true);
  EXPECT_EQ(out, "{\"log\":\"thr\",\"stream\":\"stderr\",\"time\":\"T\"}\n");
  EXPECT_TRUE(buffer.empty());
  std::string big(20000, 'x');
  EXPECT_FALSE(monitor::take_entries(big, "stdout", "T", false).empty());
  EXPECT_TRUE(big.empty());
}

}  // namespace
