// The Dockerfile parser and its config-only instructions (final/engine/dockerfile.hpp): Docker's
// grammar (continuations, comments, the escape directive, exec and shell forms, flags), variable
// substitution, KEY=VALUE words, and what CMD, ENTRYPOINT, ENV, WORKDIR, EXPOSE... do to a config.
#include "engine/dockerfile.hpp"

#include <gtest/gtest.h>

#include "error.hpp"

namespace {

using engine::dockerfile::Instruction;
using nlohmann::json;
namespace df = engine::dockerfile;

df::Lookup table(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    if (auto it = vars.find(name); it != vars.end()) return it->second;
    return std::nullopt;
  };
}

TEST(Dockerfile, ParsesInstructionsCommentsAndContinuations) {
  auto out = df::parse(
      "# syntax=docker/dockerfile:1\n"
      "# a comment\n"
      "from busybox\n"
      "\n"
      "RUN echo a && \\\n"
      "# a comment inside is dropped\n"
      "    echo b\n"
      "COPY --chown=1000:1000 a b /dst/\n"
      "CMD [\"cat\", \"/x\"]\r\n"
      "ENTRYPOINT [not json\n");
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].keyword, "FROM");
  EXPECT_EQ(out[0].arguments, "busybox");
  EXPECT_EQ(out[0].line, 3);
  EXPECT_EQ(out[1].keyword, "RUN");
  EXPECT_EQ(out[1].original, "RUN echo a &&     echo b");
  EXPECT_EQ(out[1].line, 5);
  EXPECT_FALSE(out[1].json_args);
  EXPECT_EQ(out[2].flags.at("chown"), "1000:1000");
  EXPECT_EQ(out[2].arguments, "a b /dst/");
  ASSERT_TRUE(out[3].json_args);
  EXPECT_EQ(*out[3].json_args, (std::vector<std::string>{"cat", "/x"}));
  EXPECT_FALSE(out[4].json_args);  // not JSON: the shell form, as Docker falls back
}

TEST(Dockerfile, EscapeDirectiveChangesTheContinuationCharacter) {
  auto out = df::parse("# escape=`\nFROM x\nRUN dir c:\\ `\n  /w\n");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].original, "RUN dir c:\\   /w");
}

TEST(Dockerfile, RefusesWithDockersWords) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"", "file with no instructions"},
      {"# only a comment\n", "file with no instructions"},
      {"FROM x\nFOO bar\n", "Dockerfile parse error line 2: unknown instruction: FOO"},
      {"FROM x\nRUN\n", "Dockerfile parse error line 2: RUN requires at least one argument"},
      {"FROM x\nCOPY --chmod=7 a b\n", "Dockerfile parse error line 2: Unknown flag: chmod"},
  };
  for (const auto& c : cases) {
    try {
      df::parse(c.text);
      ADD_FAILURE() << c.text;
    } catch (const lab::UserError& e) {
      EXPECT_EQ(std::string(e.what()), c.message) << c.text;
    }
  }
  EXPECT_THROW(df::parse("FROM x\nCOPY --from=build /a /b\n"), lab::UserError);
}

TEST(Dockerfile, ExpandsVariablesAsDockersLexer) {
  auto vars = table({{"A", "1"}, {"EMPTY", ""}, {"NAME", "world"}});
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {{"$A", "1"},
               {"${A}x", "1x"},
               {"${UNSET:-def}", "def"},
               {"${EMPTY:-def}", "def"},
               {"${A:+alt}", "alt"},
               {"${UNSET:+alt}", ""},
               {"'$A'", "$A"},
               {"\"$A b\"", "1 b"},
               {"\\$A", "$A"},
               {"$", "$"},
               {"hello ${NAME}", "hello world"}};
  for (const auto& c : cases) EXPECT_EQ(df::expand(c.in, vars), c.out) << c.in;
  EXPECT_THROW(df::expand("${A", vars), lab::UserError);
  EXPECT_EQ(df::words("a 'b c'  \"d $A\"", vars), (std::vector<std::string>{"a", "b c", "d 1"}));
}

TEST(Dockerfile, KeyValuesInBothForms) {
  auto kv = df::key_values("A=1 B=\"two words\" C");
  ASSERT_EQ(kv.size(), 3u);
  EXPECT_EQ(kv[0].first, "A");
  EXPECT_EQ(*kv[0].second, "1");
  EXPECT_EQ(*kv[1].second, "two words");
  EXPECT_FALSE(kv[2].second);
  auto legacy = df::key_values("KEY value with spaces");
  ASSERT_EQ(legacy.size(), 1u);
  EXPECT_EQ(legacy[0].first, "KEY");
  EXPECT_EQ(*legacy[0].second, "value with spaces");
}

TEST(Dockerfile, ConfigOnlyInstructionsChangeTheConfig) {
  json config = {{"Env", {"PATH=/bin"}}, {"Cmd", {"sh"}}};
  df::ConfigState state;
  auto lookup = [&](const std::string& n) { return df::env_value(config["Env"], n); };
  auto apply = [&](const char* line) {
    return df::apply_config(df::parse_line(line), config, state, lookup);
  };
  // ENTRYPOINT before any CMD of this Dockerfile clears the inherited Cmd.
  EXPECT_EQ(apply("ENTRYPOINT [\"/bin/echo\"]"), "/bin/sh -c #(nop)  ENTRYPOINT [\"/bin/echo\"]");
  EXPECT_TRUE(config["Cmd"].is_null());
  EXPECT_EQ(apply("CMD echo hi"), "/bin/sh -c #(nop)  CMD [\"/bin/sh\" \"-c\" \"echo hi\"]");
  EXPECT_EQ(config["Cmd"], json({"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(apply("ENV PATH=/usr/bin:$PATH B=2"), "/bin/sh -c #(nop)  ENV PATH=/usr/bin:/bin B=2");
  EXPECT_EQ(config["Env"], json({"PATH=/usr/bin:/bin", "B=2"}));
  EXPECT_EQ(apply("WORKDIR /app"), "/bin/sh -c #(nop) WORKDIR /app");
  apply("WORKDIR sub/../src/");
  EXPECT_EQ(config["WorkingDir"], "/app/src");
  apply("USER nobody");
  EXPECT_EQ(config["User"], "nobody");
  apply("LABEL a=b \"c d\"=e");
  EXPECT_EQ(config["Labels"], json({{"a", "b"}, {"c d", "e"}}));
  EXPECT_EQ(apply("EXPOSE 80 53/UDP 8000-8001"),
            "/bin/sh -c #(nop)  EXPOSE 80/tcp 53/udp 8000/tcp 8001/tcp");
  EXPECT_TRUE(config["ExposedPorts"].contains("8001/tcp"));
  apply("VOLUME [\"/data\", \"/logs\"]");
  EXPECT_TRUE(config["Volumes"].contains("/logs"));
  EXPECT_THROW(apply("EXPOSE 99999"), lab::UserError);
  EXPECT_THROW(apply("RUN true"), lab::UserError);
  EXPECT_THROW(apply("ENV ="), lab::UserError);
  EXPECT_TRUE(df::is_config_only("CMD"));
  EXPECT_FALSE(df::is_config_only("RUN"));
}

}  // namespace
