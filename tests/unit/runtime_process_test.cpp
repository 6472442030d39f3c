// final/runtime/spec: the fields podman sends that a bare `runtime spec` config has not
// (process.user.umask), and exec --process FILE's parsing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "error.hpp"
#include "fd.hpp"
#include "runtime/spec.hpp"

namespace {

using nlohmann::json;

// From text, as config.json is read: a JSON 0 is then unsigned, which uid and umask require.
json config_with_user(const char* user) {
  return {{"ociVersion", "1.0.2-dev"},
          {"root", {{"path", "rootfs"}}},
          {"process", {{"args", {"sh"}}, {"cwd", "/"}, {"user", json::parse(user)}}},
          {"linux", {{"namespaces", {{{"type", "mount"}}}}}}};
}

struct UmaskCase {
  const char* name;
  const char* user;             // JSON
  std::optional<mode_t> umask;  // when it parses
  const char* error;            // "" = parses
};

class Umask : public ::testing::TestWithParam<UmaskCase> {};

TEST_P(Umask, IsTakenOrRefusedByName) {
  const UmaskCase& c = GetParam();
  try {
    runtime::Spec spec = runtime::parse(config_with_user(c.user), "/bundle");
    EXPECT_STREQ(c.error, "");
    EXPECT_EQ(spec.process.umask, c.umask);
  } catch (const lab::UserError& e) {
    EXPECT_EQ(std::string(e.what()), c.error);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, Umask,
    ::testing::Values(UmaskCase{"absent", R"({"uid": 0, "gid": 0})", std::nullopt, ""},
                      // podman writes 18 (0022)
                      UmaskCase{"podman", R"({"uid": 0, "gid": 0, "umask": 18})", 022, ""},
                      UmaskCase{"zero", R"({"uid": 0, "gid": 0, "umask": 0})", 0, ""},
                      UmaskCase{"all", R"({"uid": 0, "gid": 0, "umask": 511})", 0777, ""},
                      UmaskCase{"too_big", R"({"uid": 0, "gid": 0, "umask": 512})", std::nullopt,
                                "config.json: process.user.umask 01000 is more than 0777"},
                      UmaskCase{
                          "negative", R"({"uid": 0, "gid": 0, "umask": -1})", std::nullopt,
                          "config.json: process.user.umask must be a whole number, 0 or more"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

class LoadProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "lab-spec-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  std::string write(const std::string& text) {
    path_ = dir_ + "/process.json";
    lab::create_file(path_, text, 0644);
    return path_;
  }
  std::string dir_, path_;
};

// What conmon hands to `exec --process FILE` for `podman exec -t web tty`.
TEST_F(LoadProcess, TakesThePodmanExecProcess) {
  std::string file = write(R"({"terminal":true,"user":{"uid":1000,"gid":100},
    "args":["tty"],"env":["PATH=/bin","TERM=xterm"],"cwd":"/tmp",
    "capabilities":{"bounding":["CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"]},
    "rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}]})");
  runtime::Process p = runtime::load_process(file);
  EXPECT_TRUE(p.terminal);
  EXPECT_EQ(p.user.uid, 1000u);
  EXPECT_EQ(p.user.gid, 100u);
  EXPECT_EQ(p.args, std::vector<std::string>{"tty"});
  EXPECT_EQ(p.cwd, "/tmp");
  ASSERT_TRUE(p.capabilities.has_value());
  EXPECT_EQ(p.capabilities->bounding, std::vector<std::string>{"CAP_KILL"});
  ASSERT_EQ(p.rlimits.size(), 1u);
  EXPECT_EQ(p.rlimits[0].type, "RLIMIT_NOFILE");
}

TEST_F(LoadProcess, ErrorsNameTheFileAndTheField) {
  std::string file = write(R"({"args":[],"cwd":"/"})");
  try {
    runtime::load_process(file);
    FAIL() << "empty args were taken";
  } catch (const lab::UserError& e) {
    EXPECT_EQ(std::string(e.what()), file + ": process.args must name the program to run");
  }
  file = write(R"({"args":["sh"],"cwd":"/","selinuxLabel":"system_u:system_r:container_t"})");
  try {
    runtime::load_process(file);
    FAIL() << "an unknown field was taken";
  } catch (const lab::UserError& e) {
    EXPECT_EQ(std::string(e.what()),
              file + ": process.selinuxLabel is not supported by minidocker");
  }
  file = write("{not json");
  EXPECT_THROW(runtime::load_process(file), lab::UserError);
}

}  // namespace
