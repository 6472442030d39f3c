// Docker's restart manager as final/engine/restart.cpp has it: --restart's grammar and the
// daemon's words for a bad policy, the back-off, and when to restart.
#include <gtest/gtest.h>

#include "engine/restart.hpp"
#include "error.hpp"

namespace {

std::string refusal(const std::string& typed) {
  try {
    engine::parse_restart_policy(typed);
  } catch (const lab::UserError& e) {
    return e.what();
  }
  return "";
}

TEST(EngineRestart, ParsesDockersPolicies) {
  EXPECT_EQ(engine::parse_restart_policy("").name, "no");
  EXPECT_EQ(engine::parse_restart_policy("no").name, "no");
  EXPECT_EQ(engine::parse_restart_policy("unless-stopped").name, "unless-stopped");
  engine::RestartPolicy p = engine::parse_restart_policy("on-failure:5");
  EXPECT_EQ(p.name, "on-failure");
  EXPECT_EQ(p.maximum_retry_count, 5);
  EXPECT_EQ(engine::restart_policy_json(p),
            nlohmann::json::parse(R"({"Name":"on-failure","MaximumRetryCount":5})"));
  nlohmann::json host = {{"RestartPolicy", engine::restart_policy_json(p)}};
  EXPECT_EQ(engine::restart_policy_of(host).maximum_retry_count, 5);
  EXPECT_EQ(engine::restart_policy_of(nlohmann::json::object()).name, "no");
}

TEST(EngineRestart, RefusesWithTheDaemonsWords) {
  EXPECT_EQ(refusal("sometimes"), "invalid restart policy 'sometimes'");
  EXPECT_EQ(refusal("always:2"), "maximum retry count cannot be used with restart policy 'always'");
  EXPECT_EQ(refusal("on-failure:-1"), "maximum retry count cannot be negative");
  for (const char* bad : {"on-failure:", "on-failure:x", "on-failure:1x", "on-failure:+1"})
    EXPECT_EQ(refusal(bad), "invalid restart policy format: maximum retry count must be an integer")
        << bad;
}

TEST(EngineRestart, BackOffDoublesUpToAMinuteAndStartsOverAfterTenSeconds) {
  EXPECT_EQ(engine::next_backoff_ms(0, 0), 100);
  EXPECT_EQ(engine::next_backoff_ms(100, 0), 200);
  EXPECT_EQ(engine::next_backoff_ms(200, 9), 400);
  EXPECT_EQ(engine::next_backoff_ms(51200, 0), 60000);
  EXPECT_EQ(engine::next_backoff_ms(60000, 0), 60000);
  EXPECT_EQ(engine::next_backoff_ms(60000, 10), 100);
}

TEST(EngineRestart, DecidesAsDockersRestartManager) {
  auto policy = [](const char* typed) { return engine::parse_restart_policy(typed); };
  EXPECT_FALSE(engine::should_restart(policy("no"), 1, 0));
  EXPECT_TRUE(engine::should_restart(policy("always"), 0, 100));
  EXPECT_TRUE(engine::should_restart(policy("unless-stopped"), 0, 0));
  EXPECT_FALSE(engine::should_restart(policy("on-failure"), 0, 0));
  EXPECT_TRUE(engine::should_restart(policy("on-failure"), 1, 1000));
  EXPECT_TRUE(engine::should_restart(policy("on-failure:2"), 1, 1));
  EXPECT_FALSE(engine::should_restart(policy("on-failure:2"), 1, 2));
}

}  // namespace
