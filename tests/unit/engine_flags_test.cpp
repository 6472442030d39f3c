// Docker's defaults and flags that depend on the host (final/engine/flags.hpp): the swap that
// --memory allows, Docker's fallback without swap accounting, and --init's spec.
#include <gtest/gtest.h>

#include "engine/flags.hpp"
#include "error.hpp"
#include "exec/bundle.hpp"

namespace {

constexpr int64_t MiB = 1 << 20;

TEST(EngineFlags, MemoryAloneAllowsAsMuchSwapAgain) {
  struct Case {
    const char* memory;
    const char* swap;
    std::optional<int64_t> want;  // memory plus swap
  } cases[] = {
      {"64m", "", 128 * MiB},    // Docker's default: twice the memory
      {"64m", "0", 128 * MiB},   // 0 is "not given"
      {"64m", "96m", 96 * MiB},  // as given
      {"64m", "64m", 64 * MiB},  // no swap at all
      {"64m", "-1", -1},         // unlimited swap
      {"", "-1", -1},            // allowed alone, as Docker's (nothing to limit)
      {"", "", std::nullopt},    // nothing
  };
  for (const auto& c : cases) {
    exec::RunOptions o;
    o.memory = c.memory;
    o.memory_swap = c.swap;
    EXPECT_EQ(exec::parse_limits(o, 2).memory_swap, c.want) << c.memory << " " << c.swap;
  }
}

TEST(EngineFlags, SwapRefusedWithDockersWords) {
  exec::RunOptions below;
  below.memory = "64m";
  below.memory_swap = "32m";
  try {
    exec::parse_limits(below, 2);
    FAIL() << "32m below 64m was taken";
  } catch (const lab::UserError& e) {
    EXPECT_STREQ(e.what(),
                 "Minimum memoryswap limit should be larger than memory limit, see usage");
  }
  exec::RunOptions alone;
  alone.memory_swap = "64m";
  EXPECT_THROW(exec::parse_limits(alone, 2), lab::UserError);
}

TEST(EngineFlags, SpecCarriesTheSwapOnlyWithAMemoryLimit) {
  exec::BundleInput in;
  in.id = std::string(64, 'a');
  in.rootfs = "/r";
  in.image_config = {{"Cmd", {"sh"}}};
  in.options.memory = "64m";
  in.limits = exec::parse_limits(in.options, 2);
  nlohmann::json spec = exec::make_spec(in);
  EXPECT_EQ(spec["linux"]["resources"]["memory"]["limit"], 64 * MiB);
  EXPECT_EQ(spec["linux"]["resources"]["memory"]["swap"], 128 * MiB);
  in.options = {};
  in.options.memory_swap = "-1";
  in.limits = exec::parse_limits(in.options, 2);
  spec = exec::make_spec(in);
  EXPECT_FALSE(spec["linux"]["resources"].contains("memory"));
}

TEST(EngineFlags, NoSwapAccountingMeansUnlimitedSwapAsDocker) {
  exec::Limits l;
  l.memory = 64 * MiB;
  l.memory_swap = 128 * MiB;
  EXPECT_EQ(engine::adapt_swap(l, true).memory_swap, 128 * MiB);
  testing::internal::CaptureStderr();
  EXPECT_EQ(engine::adapt_swap(l, false).memory_swap, -1);
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "WARNING: Your kernel does not support swap limit capabilities or the cgroup is not "
            "mounted. Memory limited without swap.\n");
}

TEST(EngineFlags, InitIsBoundReadOnlyAndRunsTheCommand) {
  nlohmann::json spec = {{"process", {{"args", {"sh", "-c", "exit 3"}}}},
                         {"mounts", nlohmann::json::array()}};
  engine::add_init(spec, "/usr/bin/tini-static");
  EXPECT_EQ(spec["process"]["args"],
            nlohmann::json({"/sbin/docker-init", "--", "sh", "-c", "exit 3"}));
  ASSERT_EQ(spec["mounts"].size(), 1u);
  EXPECT_EQ(spec["mounts"][0]["destination"], "/sbin/docker-init");
  EXPECT_EQ(spec["mounts"][0]["source"], "/usr/bin/tini-static");
  EXPECT_EQ(spec["mounts"][0]["type"], "bind");
  EXPECT_EQ(spec["mounts"][0]["options"], nlohmann::json({"bind", "ro"}));
}

}  // namespace
