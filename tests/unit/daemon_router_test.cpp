// The daemon's router (final/daemon/router.hpp): Docker's path patterns, the /v1.41 prefix, the
// query string, and the answers for what no route serves (404 page not found, 405, 400).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "daemon/router.hpp"
#include "daemon/server.hpp"
#include "error.hpp"

namespace {

using api::Request;
using api::Response;
using nlohmann::json;

TEST(DaemonRouter, StripsDockersVersionPrefixOnly) {
  struct Case {
    const char* path;
    const char* stripped;
  } cases[] = {{"/v1.41/containers/json", "/containers/json"},
               {"/v1.24/_ping", "/_ping"},
               {"/containers/json", "/containers/json"},
               {"/v1/containers/json", "/v1/containers/json"},  // no dot: not a version
               {"/vx.1/info", "/vx.1/info"},
               {"/v1.41", "/v1.41"},
               {"/volumes", "/volumes"}};
  for (const auto& c : cases) EXPECT_EQ(api::strip_version(c.path), c.stripped) << c.path;
}

TEST(DaemonRouter, ParsesHostsAsDockersDashH) {
  api::HostAddress a = api::parse_host("unix:///run/minidocker.sock");
  EXPECT_FALSE(a.tcp);
  EXPECT_EQ(a.path, "/run/minidocker.sock");
  a = api::parse_host("tcp://127.0.0.1:2375");
  EXPECT_TRUE(a.tcp);
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, "2375");
  a = api::parse_host("tcp://localhost");  // Docker's port for plain HTTP when none is given
  EXPECT_EQ(a.host, "localhost");
  EXPECT_EQ(a.port, "2375");
  EXPECT_EQ(api::parse_host("tcp://example.com:80/").port, "80");
  for (const char* bad : {"unix://relative", "unix://", "tcp://", "tcp://:2375",
                          "tcp://h:", "tcp://h:0", "tcp://h:65536", "tcp://h:12x",
                          "tcp://[::1]:2375", "fd://", "ssh://h", "/run/minidocker.sock"})
    EXPECT_THROW(api::parse_host(bad), lab::UserError) << bad;
}

TEST(DaemonRouter, MatchesPatternsAsDockersMux) {
  auto m = api::match("/containers/{id}/json", "/containers/web/json");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->at("id"), "web");
  EXPECT_FALSE(api::match("/containers/{id}/json", "/containers/json"));
  EXPECT_FALSE(api::match("/containers/{id}/json", "/containers//json"));
  EXPECT_FALSE(api::match("/containers/{id}/json", "/containers/a/b/json"));
  EXPECT_FALSE(api::match("/containers/json", "/containers/json/x"));
  // {name*}: an image name with slashes and a registry port, as "{name:.*}" in Docker's router.
  m = api::match("/images/{name*}/json", "/images/localhost:5000/app/web:v1/json");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->at("name"), "localhost:5000/app/web:v1");
  EXPECT_FALSE(api::match("/images/{name*}/json", "/images/json"));
}

TEST(DaemonRouter, DecodesQueryAndPath) {
  auto q = api::parse_query("all=1&limit=3&filters=%7B%22a%22%3A1%7D&flag&x=a+b");
  EXPECT_EQ(q.at("all"), "1");
  EXPECT_EQ(q.at("limit"), "3");
  EXPECT_EQ(q.at("filters"), R"({"a":1})");
  EXPECT_EQ(q.at("flag"), "");
  EXPECT_EQ(q.at("x"), "a b");
  EXPECT_EQ(api::percent_decode("a%2Fb+c", false), "a/b+c");
  EXPECT_FALSE(api::percent_decode("%zz", false));
  EXPECT_FALSE(api::percent_decode("abc%2", false));
}

TEST(DaemonRouter, ComparesApiVersionsNumerically) {
  EXPECT_TRUE(api::version_less("1.9", "1.41"));
  EXPECT_FALSE(api::version_less("1.41", "1.41"));
  EXPECT_TRUE(api::version_less("1.41", "1.42"));
  EXPECT_TRUE(api::version_less("1.41", "2.0"));
}

api::Router test_router() {
  return api::Router({
      {"GET", "/containers/{id}/json",
       [](const Request& r) {
         if (r.params.at("id") == "missing") throw lab::UserError("No such container: missing");
         if (r.params.at("id") == "bad") throw lab::UserError("invalid reference format");
         if (r.params.at("id") == "boom") throw std::runtime_error("disk on fire");
         bool all = api::query_bool(r, "all");
         Response out;
         out.body = json{{"id", r.params.at("id")}, {"all", all}, {"path", r.path}}.dump();
         return out;
       }},
      {"DELETE", "/containers/{id}",
       [](const Request&) {
         Response r;
         r.status = 204;
         r.content_type = "";
         return r;
       }},
  });
}

Response get(const api::Router& router, const std::string& method, const std::string& target) {
  Request request;
  request.method = method;
  request.target = target;
  return router.dispatch(request);
}

TEST(DaemonRouter, DispatchesWithAndWithoutVersion) {
  api::Router router = test_router();
  for (const char* target : {"/containers/web/json?all=true", "/v1.41/containers/web/json?all=1"}) {
    Response r = get(router, "GET", target);
    EXPECT_EQ(r.status, 200) << target;
    json body = json::parse(r.body);
    EXPECT_EQ(body["id"], "web");
    EXPECT_EQ(body["all"], true);
    EXPECT_EQ(body["path"], "/containers/web/json");
  }
}

TEST(DaemonRouter, AnswersErrorsAsDocker) {
  api::Router router = test_router();
  struct Case {
    const char* method;
    const char* target;
    int status;
    const char* message;
  } cases[] = {
      {"GET", "/nothing/here", 404, "page not found"},
      {"GET", "/v1.41/images/json", 404, "page not found"},
      // /containers/json is DELETE /containers/{id} with id "json": the path exists.
      {"GET", "/v1.41/containers/json", 405, "method not allowed"},
      {"POST", "/containers/web/json", 405, "method not allowed"},
      {"GET", "/containers/missing/json", 404, "No such container: missing"},
      {"GET", "/containers/bad/json", 400, "invalid reference format"},
      {"GET", "/containers/web/json?all=maybe", 400, "invalid boolean value for all: maybe"},
      {"GET", "/containers/boom/json", 500, "disk on fire"},
      {"GET", "/v1.99/containers/web/json", 400,
       "client version 1.99 is too new. Maximum supported API version is 1.41"},
      {"GET", "/containers/%zz/json", 400, "invalid URL escape in /containers/%zz/json"},
  };
  for (const auto& c : cases) {
    Response r = get(router, c.method, c.target);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target;
    EXPECT_EQ(r.content_type, "application/json") << c.target;
    EXPECT_EQ(json::parse(r.body), json({{"message", c.message}})) << c.target;
  }
  EXPECT_EQ(get(router, "DELETE", "/v1.41/containers/web").status, 204);
}

}  // namespace
