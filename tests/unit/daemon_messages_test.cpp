// What the daemon's image and resource routes share (final/daemon/messages.hpp): a query key
// given more than once, JSON in a query value, Docker's status for an engine error, the JSON
// message stream (pull, push, build), build's output as {"stream"} messages, and the body read
// through a pipe.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/messages.hpp"
#include "error.hpp"

namespace {

using nlohmann::json;

// A client that keeps what it was sent; `open_for` writes succeed, then it "goes away".
class FakeConnection final : public api::Connection {
 public:
  explicit FakeConnection(size_t open_for = SIZE_MAX) : open_for_(open_for) {}
  bool write(std::string_view data) override {
    if (writes.size() >= open_for_) return false;
    writes.emplace_back(data);
    return true;
  }
  int fd() const override { return -1; }
  std::string take_buffered() override { return {}; }
  std::vector<std::string> writes;

 private:
  size_t open_for_;
};

api::Request with_target(const std::string& target) {
  api::Request r;
  r.target = target;
  return r;
}

TEST(DaemonMessages, QueryAllKeepsEveryValueInOrder) {
  struct Case {
    const char* target;
    const char* key;
    std::vector<std::string> values;
  } cases[] = {
      {"/images/get?names=busybox&names=app%3Av1", "names", {"busybox", "app:v1"}},
      {"/build?t=a&q=1&t=b%2Fc:v2", "t", {"a", "b/c:v2"}},
      {"/commit?changes=CMD+%5B%22sh%22%5D&changes=ENV+A%3D1",
       "changes",
       {"CMD [\"sh\"]", "ENV A=1"}},
      {"/build?t=", "t", {""}},
      {"/build?tt=x&xt=y", "t", {}},
      {"/build", "t", {}},
  };
  for (const auto& c : cases)
    EXPECT_EQ(api::query_all(with_target(c.target), c.key), c.values) << c.target;
}

TEST(DaemonMessages, QueryJsonIsAnObjectOrA400) {
  api::Request r;
  r.query = {{"labels", "{\"a\":\"b\"}"}, {"empty", ""}, {"null", "null"}, {"list", "[1]"}};
  EXPECT_EQ(api::query_json(r, "labels"), json({{"a", "b"}}));
  EXPECT_EQ(api::query_json(r, "empty"), json::object());
  EXPECT_EQ(api::query_json(r, "null"), json::object());
  EXPECT_EQ(api::query_json(r, "absent"), json::object());
  EXPECT_THROW(api::query_json(r, "list"), lab::UserError);
}

TEST(DaemonMessages, FilterValuesReadBothOfDockersForms) {
  json filters = json::parse(
      R"({"dangling": {"true": true, "false": false}, "all": ["1"], "label": ["a", "b"]})");
  EXPECT_EQ(api::filter_values(filters, "dangling"), std::vector<std::string>{"true"});
  EXPECT_EQ(api::filter_values(filters, "all"), std::vector<std::string>{"1"});
  EXPECT_EQ(api::filter_values(filters, "label"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(api::filter_values(filters, "until").empty());
  EXPECT_TRUE(api::filter_values(json::object(), "all").empty());
}

TEST(DaemonMessages, WithStatusesMapsPhrasesAndPassesTheRest) {
  std::vector<std::pair<std::string, int>> rules = {{"conflict: ", 409}, {"in use", 409}};
  api::Response r = api::with_statuses(rules, []() -> api::Response {
    throw lab::UserError("conflict: unable to delete abc (must be forced)");
  });
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(json::parse(r.body)["message"], "conflict: unable to delete abc (must be forced)");
  EXPECT_THROW(
      api::with_statuses(rules, []() -> api::Response { throw lab::UserError("No such image"); }),
      lab::UserError);
  EXPECT_EQ(api::with_statuses(rules, [] { return api::Response{}; }).status, 200);
}

TEST(DaemonMessages, MessagesAreDockersJsonLinesInDockersKeyOrder) {
  FakeConnection c;
  api::JsonMessages messages(c);
  messages.status("v1", "Pulling from lab/busybox");
  messages.status("", "Digest: sha256:abc");
  messages.stream("Step 1/2 : FROM busybox\n");
  messages.error("The command 'false' returned a non-zero code: 3", 3);
  messages.error("manifest unknown");
  ASSERT_EQ(c.writes.size(), 5u);
  EXPECT_EQ(c.writes[0],
            "{\"status\":\"Pulling from lab/busybox\",\"progressDetail\":{},\"id\":\"v1\"}\r\n");
  EXPECT_EQ(c.writes[1], "{\"status\":\"Digest: sha256:abc\"}\r\n");
  EXPECT_EQ(c.writes[2], "{\"stream\":\"Step 1/2 : FROM busybox\\n\"}\r\n");
  EXPECT_EQ(c.writes[3],
            "{\"errorDetail\":{\"code\":3,\"message\":\"The command 'false' returned a non-zero "
            "code: 3\"},\"error\":\"The command 'false' returned a non-zero code: 3\"}\r\n");
  EXPECT_EQ(c.writes[4],
            "{\"errorDetail\":{\"message\":\"manifest unknown\"},\"error\":\"manifest "
            "unknown\"}\r\n");
}

TEST(DaemonMessages, AClientGoneEndsTheJob) {
  FakeConnection c(1);
  api::JsonMessages messages(c);
  messages.stream("one\n");
  EXPECT_THROW(messages.stream("two\n"), api::ClientGone);
}

TEST(DaemonMessages, BytesThatAreNotUtf8DoNotBreakTheStream) {
  FakeConnection c;
  api::JsonMessages messages(c);
  messages.stream(std::string("bad \xff byte\n"));
  ASSERT_EQ(c.writes.size(), 1u);
  EXPECT_EQ(json::parse(c.writes[0])["stream"], "bad \xEF\xBF\xBD byte\n");
}

TEST(DaemonMessages, ProgressIsSentAtMostAHundredTimesAndAlwaysAtTheEnd) {
  FakeConnection c;
  api::JsonMessages messages(c);
  api::JsonTransferEvents events(messages);
  registry::Progress progress = events.progress("a3ed95caeb02", "Downloading");
  constexpr uint64_t total = 10'000;
  for (uint64_t done = 0; done <= total; done += 7) progress(done, total);
  progress(total, total);
  EXPECT_LE(c.writes.size(), 102u);
  EXPECT_GE(c.writes.size(), 50u);
  json last = json::parse(c.writes.back());
  EXPECT_EQ(last["status"], "Downloading");
  EXPECT_EQ(last["id"], "a3ed95caeb02");
  EXPECT_EQ(last["progressDetail"], json({{"current", total}, {"total", total}}));
}

TEST(DaemonMessages, BuildOutputIsOneStreamMessagePerFlush) {
  FakeConnection c;
  api::JsonMessages messages(c);
  api::JsonStreamBuf buf(messages);
  std::ostream out(&buf);
  out.exceptions(std::ios::badbit);
  out << "Step 1/2 : FROM busybox" << '\n' << std::flush;
  out << "part one, ";
  EXPECT_EQ(c.writes.size(), 1u);  // not flushed yet
  out << "part two\n" << std::flush;
  out << std::flush;  // nothing pending: nothing sent
  ASSERT_EQ(c.writes.size(), 2u);
  EXPECT_EQ(json::parse(c.writes[0])["stream"], "Step 1/2 : FROM busybox\n");
  EXPECT_EQ(json::parse(c.writes[1])["stream"], "part one, part two\n");
  // A long run of output without a flush goes out in 64 KiB pieces.
  out << std::string(200 * 1024, 'x');
  EXPECT_EQ(c.writes.size(), 3u);
}

TEST(DaemonMessages, TheStreamThrowsWhenTheClientHasGone) {
  FakeConnection c(0);
  api::JsonMessages messages(c);
  api::JsonStreamBuf buf(messages);
  std::ostream out(&buf);
  out.exceptions(std::ios::badbit);
  EXPECT_THROW(out << "lost\n" << std::flush, api::ClientGone);
}

TEST(DaemonMessages, TheBodyIsReadThroughAPipe) {
  std::string body(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 31);
  {
    api::BodyPipe pipe(body);
    std::string got;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(pipe.fd(), buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
    EXPECT_EQ(got, body);
  }
  // A job that stops reading early: the writer ends with EPIPE (SIGPIPE blocked in its thread),
  // and the pipe's destructor returns.
  {
    api::BodyPipe pipe(body);
    char buf[16];
    EXPECT_EQ(::read(pipe.fd(), buf, sizeof buf), 16);
  }
  SUCCEED();
}

}  // namespace
