// client::add_container_words: the grammar of `run IMAGE [COMMAND] [ARG...]` and
// `exec CONTAINER COMMAND [ARG...]`. Options are read up to the first positional and not after
// it, as Docker's CLI reads them: every later word is the container's, even one that is an option
// of the verb (run's -c is --cpu-shares, -d is --detach, exec's -e is --env).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/engine.hpp"

namespace {

// A verb shaped as run is declared (client/containers.cpp), under a root that requires one verb,
// with a sibling verb whose name could be taken for a subcommand.
struct Parsed {
  std::string image;
  int cpu_shares = 0;
  std::vector<std::string> env;
  bool detach = false;
  std::vector<std::string> command;
  std::vector<std::string> set_aside;  // what run's refuse_unknown_flag sees
};

Parsed parse_run(std::vector<std::string> words) {
  CLI::App app{"test", "minidocker"};
  app.require_subcommand(1);
  app.add_subcommand("ps", "a sibling verb");
  Parsed p;
  auto* run = app.add_subcommand("run", "the verb under test");
  run->add_option("image", p.image, "IMAGE")->required();
  client::add_container_words(run, "command", p.command, "[COMMAND] [ARG...]");
  run->allow_extras();
  run->add_option("--cpu-shares,-c", p.cpu_shares, "relative CPU weight");
  run->add_option("--env,-e", p.env, "KEY=VALUE")->allow_extra_args(false);
  run->add_flag("--detach,-d", p.detach, "in the background");
  std::vector<std::string> reversed(words.rbegin(), words.rend());  // CLI11 parses from the back
  app.parse(reversed);
  p.set_aside = run->remaining();
  return p;
}

TEST(ContainerWords, EverythingAfterTheImageIsTheContainers) {
  struct Case {
    std::vector<std::string> argv;
    std::string image;
    int cpu_shares;
    std::vector<std::string> env;
    bool detach;
    std::vector<std::string> command;
  };
  const std::vector<Case> cases = {
      // The reported bug: -c right after the image was read as --cpu-shares.
      {{"run", "-d", "busybox", "-c", "echo hi"}, "busybox", 0, {}, true, {"-c", "echo hi"}},
      {{"run", "busybox", "sh", "-c", "echo hi"}, "busybox", 0, {}, false, {"sh", "-c", "echo hi"}},
      {{"run", "busybox", "-d"}, "busybox", 0, {}, false, {"-d"}},
      {{"run", "busybox", "--help"}, "busybox", 0, {}, false, {"--help"}},
      {{"run", "busybox", "-e", "A=1"}, "busybox", 0, {}, false, {"-e", "A=1"}},
      {{"run", "busybox", "-it"}, "busybox", 0, {}, false, {"-it"}},
      // "--" after the image is a word of the command too (pflag keeps it, past its first
      // positional); before the image it only ends our options.
      {{"run", "busybox", "--", "-x"}, "busybox", 0, {}, false, {"--", "-x"}},
      {{"run", "-d", "--", "busybox", "-x"}, "busybox", 0, {}, true, {"-x"}},
      // A word that names a verb is the container's command, not a second verb.
      {{"run", "busybox", "ps", "-ef"}, "busybox", 0, {}, false, {"ps", "-ef"}},
      // Options before the image are the verb's, in every spelling.
      {{"run", "-e", "A=1", "--cpu-shares", "512", "busybox", "sh", "-c", "echo $A"},
       "busybox",
       512,
       {"A=1"},
       false,
       {"sh", "-c", "echo $A"}},
      {{"run", "-d", "-c", "512", "-e", "A=1", "-e", "B=2", "busybox", "-c", "256"},
       "busybox",
       512,
       {"A=1", "B=2"},
       true,
       {"-c", "256"}},
      {{"run", "-dc", "512", "busybox"}, "busybox", 512, {}, true, {}},
      {{"run", "--cpu-shares=512", "busybox", "--cpu-shares=1"},
       "busybox",
       512,
       {},
       false,
       {"--cpu-shares=1"}},
  };
  for (const auto& c : cases) {
    std::string line;
    for (const std::string& w : c.argv) line += " " + w;
    Parsed p = parse_run(c.argv);
    EXPECT_EQ(p.image, c.image) << line;
    EXPECT_EQ(p.cpu_shares, c.cpu_shares) << line;
    EXPECT_EQ(p.env, c.env) << line;
    EXPECT_EQ(p.detach, c.detach) << line;
    EXPECT_EQ(p.command, c.command) << line;
    for (const std::string& w : p.set_aside) EXPECT_EQ(w, "--") << line;
  }
}

// An option that is not the verb's, before the image, is set aside for the verb to refuse; it is
// never taken for the image or the command.
TEST(ContainerWords, AnUnknownOptionBeforeTheImageIsSetAside) {
  Parsed p = parse_run({"run", "--nosuch", "busybox", "--nosuch"});
  EXPECT_EQ(p.image, "busybox");
  EXPECT_EQ(p.command, std::vector<std::string>{"--nosuch"});
  EXPECT_EQ(p.set_aside, std::vector<std::string>{"--nosuch"});
}

TEST(ContainerWords, HelpBeforeTheImageIsTheVerbs) {
  EXPECT_THROW(parse_run({"run", "--help"}), CLI::CallForHelp);
  EXPECT_THROW(parse_run({"run", "-d", "--help", "busybox"}), CLI::CallForHelp);
}

TEST(ContainerWords, TheImageIsStillRequired) {
  EXPECT_THROW(parse_run({"run", "-d"}), CLI::RequiredError);
}

}  // namespace
