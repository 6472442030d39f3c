// common/process: the parent-child channel carries values exactly, one message each.
#include "process.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "error.hpp"

namespace {

TEST(Channel, ValuesComeBackExactlyOneMessageEach) {
  auto [a, b] = lab::Channel::make_pair();
  const std::string values[] = {"lab",
                                "a\nb",
                                "tab\there",
                                "error:not an error",
                                std::string("\xff\x01", 2),
                                "ok",
                                std::string(100000, 'x')};
  for (const auto& v : values) a.send(v);
  for (const auto& v : values) EXPECT_EQ(b.receive_reply("reading"), v);
}

TEST(Channel, AnEmptyValueIsNotTheEnd) {
  auto [a, b] = lab::Channel::make_pair();
  a.send("");
  a.close();
  lab::Channel::Message m = b.receive_message();
  EXPECT_EQ(m.kind, lab::Channel::Kind::value);
  EXPECT_EQ(m.text, "");
  EXPECT_EQ(b.receive_message().kind, lab::Channel::Kind::closed);
}

TEST(Channel, OkErrorAndClosedAreTold) {
  auto [a, b] = lab::Channel::make_pair();
  a.send_ok();
  a.send_error("mount(...): Permission denied");
  a.send("error:a value");
  b.expect_ok("step");
  try {
    b.receive_reply("mounting");
    FAIL() << "an error message must throw";
  } catch (const lab::UserError& e) {
    EXPECT_STREQ(e.what(), "mounting: mount(...): Permission denied");
  }
  EXPECT_EQ(b.receive_reply("step"), "error:a value");
  a.close();
  EXPECT_EQ(b.receive(), "");
  EXPECT_THROW(b.receive_reply("step"), lab::UserError);
}

TEST(CloneChild, TheChildRunsTheBodyAndItsCodeIsTheExitCode) {
  auto [a, b] = lab::Channel::make_pair();
  lab::Child child = lab::clone_child(SIGCHLD, [&] {
    a.close();
    b.send(std::to_string(::getppid()));
    return 7;
  });
  b.close();
  EXPECT_EQ(a.receive_reply("child"), std::to_string(::getpid()));
  lab::ExitStatus s = child.wait();
  EXPECT_EQ(s.code, 7);
}

}  // namespace
