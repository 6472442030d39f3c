// final/runtime's pure logic: config.json parsing (what is honoured, what is refused and how it
// says so), container IDs, /proc/PID/stat start times, signal names, the program lookup.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "error.hpp"
#include "runtime/container.hpp"
#include "runtime/default_spec.hpp"
#include "runtime/spec.hpp"
#include "runtime/state.hpp"

namespace {

using nlohmann::json;

json minimal() {
  return json::parse(R"({
    "ociVersion": "1.0.2",
    "root": {"path": "rootfs"},
    "process": {"args": ["sh"], "cwd": "/"},
    "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}]}
  })");
}

std::string refusal(const json& config) {
  try {
    runtime::parse(config, "/bundle");
  } catch (const lab::UserError& e) {
    return e.what();
  }
  return "";
}

TEST(RuntimeSpec, MinimalConfigParses) {
  runtime::Spec spec = runtime::parse(minimal(), "/bundle");
  EXPECT_EQ(spec.rootfs.rootfs, "/bundle/rootfs");
  EXPECT_EQ(spec.process.args, std::vector<std::string>{"sh"});
  EXPECT_TRUE(spec.has_namespace("pid"));
  EXPECT_FALSE(spec.has_namespace("network"));
  EXPECT_FALSE(spec.process.capabilities.has_value());
}

TEST(RuntimeSpec, DefaultSpecParsesWithDockersDefaults) {
  runtime::Spec spec = runtime::parse(runtime::default_spec(), "/bundle");
  EXPECT_TRUE(spec.process.no_new_privileges);
  ASSERT_TRUE(spec.process.capabilities.has_value());
  EXPECT_EQ(spec.process.capabilities->bounding.size(), 14u);
  EXPECT_TRUE(spec.seccomp.has_value());
  EXPECT_EQ(spec.hostname, "minidocker");
  EXPECT_EQ(spec.namespaces.size(), 6u);
  EXPECT_FALSE(spec.process.terminal);
}

TEST(RuntimeSpec, FieldsAreHonoured) {
  json c = minimal();
  c["hostname"] = "box";
  c["linux"]["namespaces"].push_back({{"type", "uts"}});
  c["linux"]["namespaces"].push_back({{"type", "network"}, {"path", "/run/netns/x"}});
  c["process"]["user"] = {{"uid", 1000}, {"gid", 1001}, {"additionalGids", {5, 7}}};
  c["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"hard", 512}, {"soft", 256}}};
  c["linux"]["resources"] = {{"memory", {{"limit", 1 << 24}, {"swap", 1 << 24}}},
                             {"pids", {{"limit", 10}}},
                             {"cpu", {{"quota", 20000}, {"period", 100000}, {"shares", 512}}}};
  c["mounts"] = {{{"destination", "/data"},
                  {"type", "bind"},
                  {"source", "vol"},
                  {"options", {"rbind", "ro"}}}};
  c["annotations"] = {{"a", "b"}};
  runtime::Spec spec = runtime::parse(c, "/bundle");
  EXPECT_EQ(spec.hostname, "box");
  EXPECT_EQ(spec.find_namespace("network")->path, "/run/netns/x");
  EXPECT_EQ(spec.process.user.uid, 1000u);
  EXPECT_EQ(spec.process.user.additional_gids, (std::vector<gid_t>{5, 7}));
  EXPECT_EQ(spec.process.rlimits.at(0).soft, 256u);
  EXPECT_EQ(*spec.resources.memory_limit, 1 << 24);
  EXPECT_EQ(*spec.resources.pids_limit, 10);
  EXPECT_EQ(*spec.resources.cpu_shares, 512);
  EXPECT_EQ(spec.rootfs.mounts.at(0).source, "/bundle/vol");  // relative to the bundle
  EXPECT_EQ(spec.annotations.at("a"), "b");
}

TEST(RuntimeSpec, EmptyUnknownFieldsAreAcceptedFilledOnesRefusedByName) {
  json c = minimal();
  c["linux"]["mountLabel"] = "";
  c["process"]["apparmorProfile"] = "";
  c["linux"]["uidMappings"] = json::array();
  EXPECT_EQ(refusal(c), "");
  c["process"]["apparmorProfile"] = "docker-default";
  EXPECT_EQ(refusal(c), "config.json: process.apparmorProfile is not supported by minidocker");
}

struct RefusalCase {
  const char* name;
  std::function<void(json&)> change;
  const char* message;
};

class RuntimeSpecRefusals : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(RuntimeSpecRefusals, SaysWhatIsWrong) {
  json c = minimal();
  GetParam().change(c);
  EXPECT_EQ(refusal(c), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RuntimeSpecRefusals,
    ::testing::Values(
        RefusalCase{"no_root", [](json& c) { c.erase("root"); },
                    "config.json: root.path is missing: say where the container's root "
                    "filesystem is"},
        RefusalCase{"old_version", [](json& c) { c["ociVersion"] = "0.6.0"; },
                    "config.json: ociVersion \"0.6.0\" is not 1.x, the runtime spec minidocker "
                    "follows"},
        RefusalCase{"no_args", [](json& c) { c["process"]["args"] = json::array(); },
                    "config.json: process.args must name the program to run"},
        RefusalCase{"relative_cwd", [](json& c) { c["process"]["cwd"] = "tmp"; },
                    "config.json: process.cwd must be an absolute path, not \"tmp\""},
        RefusalCase{"args_not_strings",
                    [](json& c) {
                      c["process"]["args"] = {1, 2};
                    },
                    "config.json: process.args must be an array of strings"},
        RefusalCase{"unknown_namespace",
                    [](json& c) {
                      c["linux"]["namespaces"].push_back({{"type", "time2"}});
                    },
                    "config.json: linux.namespaces: unknown type \"time2\" (known: cgroup, ipc, "
                    "mount, network, pid, uts)"},
        RefusalCase{"user_namespace",
                    [](json& c) {
                      c["linux"]["namespaces"].push_back({{"type", "user"}});
                    },
                    "config.json: linux.namespaces: type \"user\" (rootless containers) is not "
                    "supported by minidocker; remove it and run as root"},
        RefusalCase{"twice",
                    [](json& c) {
                      c["linux"]["namespaces"].push_back({{"type", "pid"}});
                    },
                    "config.json: linux.namespaces: type \"pid\" is listed twice"},
        RefusalCase{"no_mount_namespace",
                    [](json& c) {
                      c["linux"]["namespaces"] = {{{"type", "pid"}}};
                    },
                    "config.json: linux.namespaces must hold a new mount namespace (type "
                    "\"mount\", no path): the root filesystem is set up in it, never in the "
                    "host's"},
        RefusalCase{"hostname_without_uts", [](json& c) { c["hostname"] = "x"; },
                    "config.json: hostname is set but linux.namespaces has no uts namespace: it "
                    "would rename the host"},
        RefusalCase{"intel_rdt",
                    [](json& c) {
                      c["linux"]["intelRdt"] = {{"closID", "x"}};
                    },
                    "config.json: linux.intelRdt is not supported by minidocker"},
        RefusalCase{
            "unknown_rlimit",
            [](json& c) {
              c["process"]["rlimits"] = {{{"type", "RLIMIT_NOPE"}, {"hard", 1}, {"soft", 1}}};
            },
            "config.json: process.rlimits: unknown type \"RLIMIT_NOPE\""},
        RefusalCase{"bad_device_type",
                    [](json& c) {
                      c["linux"]["resources"] = {{"devices", {{{"allow", false}, {"type", "x"}}}}};
                    },
                    "config.json: linux.resources.devices: type \"x\" is not a, c or b"},
        RefusalCase{"relative_hook",
                    [](json& c) {
                      c["hooks"] = {{"prestart", {{{"path", "hook.sh"}}}}};
                    },
                    "config.json: hooks.prestart: path \"hook.sh\" must be absolute"},
        RefusalCase{"not_an_object", [](json& c) { c["process"] = "sh"; },
                    "config.json: process must be an object"}),
    [](const ::testing::TestParamInfo<RefusalCase>& case_info) { return case_info.param.name; });

TEST(RuntimeState, ContainerIds) {
  EXPECT_EQ(runtime::state::validate_id("lab-rt_1.x+y"), "");
  EXPECT_NE(runtime::state::validate_id(""), "");
  EXPECT_NE(runtime::state::validate_id(".."), "");
  EXPECT_NE(runtime::state::validate_id("a/b"), "");
  EXPECT_NE(runtime::state::validate_id("a b"), "");
}

TEST(RuntimeState, StartTimeFromProcPidStat) {
  // The comm may hold spaces and ")": the fields start after the last ")".
  std::string stat =
      "4242 (we ird) name)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 "
      "2000000 100 18446744073709551615";
  EXPECT_EQ(runtime::state::parse_start_time(stat), 987654u);
  EXPECT_FALSE(runtime::state::is_zombie(stat));
  EXPECT_TRUE(runtime::state::is_zombie("7 (sh) Z 1 7 7 0"));
  EXPECT_EQ(runtime::state::parse_start_time("garbage"), 0u);
}

TEST(RuntimeState, OciStateJson) {
  runtime::state::State s;
  s.id = "c1";
  s.pid = 42;
  s.bundle = "/b";
  json j = runtime::state::to_oci_json(s, runtime::state::Status::stopped);
  EXPECT_EQ(j["status"], "stopped");
  EXPECT_EQ(j["pid"], 0);  // a stopped container's pid may belong to someone else by now
  EXPECT_TRUE(j["annotations"].is_object());
  EXPECT_EQ(runtime::state::to_oci_json(s, runtime::state::Status::running)["pid"], 42);
}

TEST(RuntimeKill, SignalNamesAndNumbers) {
  EXPECT_EQ(runtime::parse_signal("KILL"), 9);
  EXPECT_EQ(runtime::parse_signal("SIGKILL"), 9);
  EXPECT_EQ(runtime::parse_signal("sigterm"), 15);
  EXPECT_EQ(runtime::parse_signal("9"), 9);
  EXPECT_EQ(runtime::parse_signal("WINCH"), 28);
  EXPECT_EQ(runtime::parse_signal("0"), 0);
  EXPECT_EQ(runtime::parse_signal("999"), 0);
  EXPECT_EQ(runtime::parse_signal("NOPE"), 0);
  EXPECT_EQ(runtime::parse_signal("-9"), 0);
}

TEST(RuntimeSpec, ProgramLookupFollowsTheContainersPath) {
  auto exists = [](const std::string& p) { return p == "/usr/bin/sleep" || p == "/bin/sh"; };
  EXPECT_EQ(runtime::find_program("sleep", {"PATH=/bin:/usr/bin"}, exists), "/usr/bin/sleep");
  EXPECT_EQ(runtime::find_program("sh", {}, exists), "/bin/sh");  // runc's default PATH
  EXPECT_EQ(runtime::find_program("/x/y", {}, exists), "/x/y");   // a path is taken as it is
  EXPECT_THROW(runtime::find_program("nope", {"PATH=/bin"}, exists), lab::UserError);
}

}  // namespace
