// The pure logic of terminals and attach: Docker's --detach-keys, the detach scanner the CLI runs
// over its input, and the attach socket's messages and addresses.
#include <gtest/gtest.h>

#include "client/attach.hpp"
#include "monitor/attach_protocol.hpp"

namespace {

TEST(TtyDetachKeys, ParsesDockersGrammar) {
  EXPECT_EQ(client::parse_detach_keys("ctrl-p,ctrl-q"), std::string("\x10\x11"));
  EXPECT_EQ(client::parse_detach_keys("ctrl-a"), std::string("\x01"));
  EXPECT_EQ(client::parse_detach_keys("ctrl-@,ctrl-[,ctrl-_"), std::string("\x00\x1b\x1f", 3));
  EXPECT_EQ(client::parse_detach_keys("a,b"), std::string("ab"));
  EXPECT_EQ(client::parse_detach_keys("ctrl-P,ctrl-Q"), std::string("\x10\x11"));
}

TEST(TtyDetachKeys, RefusesWhatDockerRefuses) {
  for (const char* bad : {"", "ctrl-", "ctrl-1", "ab", "ctrl-p,,ctrl-q", "alt-x", "ctrl-pq"})
    EXPECT_FALSE(client::parse_detach_keys(bad)) << bad;
}

TEST(TtyDetachScanner, PlainInputPassesThrough) {
  client::DetachScanner s("\x10\x11");
  bool detached = true;
  EXPECT_EQ(s.feed("ls -l\r", detached), "ls -l\r");
  EXPECT_FALSE(detached);
}

TEST(TtyDetachScanner, TheSequenceDetachesAndIsNotForwarded) {
  client::DetachScanner s("\x10\x11");
  bool detached = false;
  EXPECT_EQ(s.feed("ab\x10\x11z", detached), "ab");
  EXPECT_TRUE(detached);
}

TEST(TtyDetachScanner, ASequenceSplitAcrossReadsStillDetaches) {
  client::DetachScanner s("\x10\x11");
  bool detached = false;
  EXPECT_EQ(s.feed("x\x10", detached), "x");  // Ctrl-P held back: it may start the sequence
  EXPECT_FALSE(detached);
  EXPECT_EQ(s.feed("\x11", detached), "");
  EXPECT_TRUE(detached);
}

TEST(TtyDetachScanner, ABrokenSequenceIsForwardedAfterAll) {
  client::DetachScanner s("\x10\x11");
  bool detached = true;
  EXPECT_EQ(s.feed("\x10", detached), "");
  EXPECT_EQ(s.feed("k", detached), "\x10k");  // Ctrl-P then k: bash's previous-history, and k
  EXPECT_FALSE(detached);
  EXPECT_EQ(s.feed("\x10\x10\x11", detached), "\x10");  // the second Ctrl-P starts it again
  EXPECT_TRUE(detached);
}

TEST(TtyDetachScanner, NoKeysNeverDetaches) {
  client::DetachScanner s("");
  bool detached = true;
  EXPECT_EQ(s.feed("\x10\x11", detached), "\x10\x11");
  EXPECT_FALSE(detached);
}

TEST(TtyAttachProtocol, MessagesAreATypeByteAndAPayload) {
  EXPECT_EQ(attach::message(attach::kInput, "ls\r"), "ils\r");
  EXPECT_EQ(attach::message(attach::kEndOfInput), "e");
  EXPECT_EQ(attach::resize_message(24, 80), "w24 80");
}

TEST(TtyAttachProtocol, ParsesAResize) {
  unsigned rows = 0, cols = 0;
  EXPECT_TRUE(attach::parse_resize("24 80", rows, cols));
  EXPECT_EQ(rows, 24u);
  EXPECT_EQ(cols, 80u);
  EXPECT_FALSE(attach::parse_resize("24", rows, cols));
  EXPECT_FALSE(attach::parse_resize("24 80x", rows, cols));
  EXPECT_FALSE(attach::parse_resize("", rows, cols));
}

TEST(TtyAttachProtocol, ALongDirectoryGoesThroughProcSelfFd) {
  sockaddr_un addr;
  ASSERT_TRUE(attach::socket_address(7, "/short", "attach.sock", addr));
  EXPECT_STREQ(addr.sun_path, "/short/attach.sock");
  std::string long_dir = "/" + std::string(120, 'd');
  ASSERT_TRUE(attach::socket_address(7, long_dir, "attach.sock", addr));
  EXPECT_STREQ(addr.sun_path, "/proc/self/fd/7/attach.sock");
  EXPECT_FALSE(attach::socket_address(-1, long_dir, "attach.sock", addr));
}

}  // namespace
