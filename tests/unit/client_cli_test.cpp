// client::add_container_words: the grammar of `run IMAGE [COMMAND] [ARG...]` and
// `exec CONTAINER COMMAND [ARG...]`. Options are read up to the first positional and not after
// it, as Docker's CLI reads them: every later word is the container's, even one that is an option
// of the verb (run's -c is --cpu-shares, -d is --detach, exec's -e is --env).
// lab::last_value_wins: an option given twice takes its last value, as pflag does.
// client::unknown_flag_error and unknown_flag_lines: pflag's words for a flag no verb has, with
// Docker's "See 'docker VERB --help'." line.
#include "cli.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "client/engine.hpp"

namespace {

// A verb shaped as run is declared (client/containers.cpp), under a root that requires one verb
// and reads --root, as main.cpp declares them, with a sibling verb whose name could be taken for
// a subcommand and an `image ls` group.
struct Parsed {
  std::string root;
  std::string image;
  int cpu_shares = 0;
  std::vector<std::string> env;
  bool detach = false;
  bool all = false;
  std::vector<std::string> command;
  std::vector<std::string> set_aside;  // what CLI11 could not place, run's
};

struct Verbs {
  CLI::App app{"test", "minidocker"};
  CLI::App* run = nullptr;
  Parsed p;
  Verbs() {
    lab::last_value_wins(app);
    app.require_subcommand(1);
    app.add_option("--root", p.root, "the engine's root");
    app.add_subcommand("ps", "a sibling verb")->add_flag("--all,-a", p.all, "every container");
    app.add_subcommand("image", "a group")->add_subcommand("ls", "its verb");
    run = app.add_subcommand("run", "the verb under test");
    run->add_option("image", p.image, "IMAGE")->required();
    client::add_container_words(run, "command", p.command, "[COMMAND] [ARG...]");
    run->add_option("--cpu-shares,-c", p.cpu_shares, "relative CPU weight");
    run->add_option("--env,-e", p.env, "KEY=VALUE")->allow_extra_args(false);
    run->add_flag("--detach,-d", p.detach, "in the background");
  }
  void parse(const std::vector<std::string>& words) {
    std::vector<std::string> reversed(words.rbegin(), words.rend());  // CLI11 parses from the back
    app.parse(reversed);
  }
};

Parsed parse_run(const std::vector<std::string>& words) {
  Verbs v;
  v.parse(words);
  v.p.set_aside = v.run->remaining();
  return v.p;
}

// What run_engine prints for a command line CLI11 refused, when a flag is to blame.
std::optional<std::string> refusal_of(const std::vector<std::string>& words) {
  Verbs v;
  try {
    v.parse(words);
  } catch (const CLI::ParseError&) {
    return client::unknown_flag_lines(v.app);
  }
  ADD_FAILURE() << "parsed";
  return std::nullopt;
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

// An option that is not the verb's, before the image, is refused with pflag's words; after the
// image it is the container's.
TEST(ContainerWords, AnUnknownOptionBeforeTheImageIsRefused) {
  EXPECT_EQ(refusal_of({"run", "--nosuch", "busybox", "--nosuch"}),
            "unknown flag: --nosuch\nSee 'minidocker run --help'.");
  Parsed p = parse_run({"run", "busybox", "--nosuch"});
  EXPECT_EQ(p.command, std::vector<std::string>{"--nosuch"});
}

// pflag: a single-value flag given twice keeps the last value, in any spelling; a list flag
// (pflag's stringArray, CLI11's vector) keeps every value in order.
TEST(LastValueWins, SingleValuesTakeTheLastListsCollectAll) {
  struct Case {
    std::vector<std::string> argv;
    int cpu_shares;
    std::vector<std::string> env;
    std::string root;
  };
  const std::vector<Case> cases = {
      {{"run", "-c", "512", "--cpu-shares=256", "busybox"}, 256, {}, ""},
      {{"run", "--cpu-shares", "256", "-c", "512", "busybox"}, 512, {}, ""},
      {{"run", "-c512", "-c", "1024", "--cpu-shares=2048", "busybox"}, 2048, {}, ""},
      {{"run", "-e", "A=1", "-e", "B=2", "--env=A=3", "busybox"}, 0, {"A=1", "B=2", "A=3"}, ""},
      {{"run", "-c", "2", "-e", "A=1", "-c", "3", "-e", "B=2", "busybox", "-c", "4"},
       3,
       {"A=1", "B=2"},
       ""},
      {{"--root", "/a", "--root=/b", "run", "busybox"}, 0, {}, "/b"},
  };
  for (const auto& c : cases) {
    std::string line;
    for (const std::string& w : c.argv) line += " " + w;
    Parsed p;
    ASSERT_NO_THROW(p = parse_run(c.argv)) << line;
    EXPECT_EQ(p.cpu_shares, c.cpu_shares) << line;
    EXPECT_EQ(p.env, c.env) << line;
    EXPECT_EQ(p.root, c.root) << line;
    EXPECT_EQ(p.image, "busybox") << line;
  }
}

// pflag's messages (flag.go: parseLongArg, parseSingleShortArg): the long name without its
// value; the unknown letter quoted as Go's %q quotes a byte, then the cluster from that letter on.
TEST(UnknownFlag, PflagsWords) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--nosuch", "unknown flag: --nosuch"},
      {"--nosuch=1", "unknown flag: --nosuch"},
      {"--no-such=a=b", "unknown flag: --no-such"},
      {"-Z", "unknown shorthand flag: 'Z' in -Z"},
      {"-Zx", "unknown shorthand flag: 'Z' in -Zx"},
      {"-Z=1", "unknown shorthand flag: 'Z' in -Z=1"},
      {"-5", "unknown shorthand flag: '5' in -5"},
      {"---x", "bad flag syntax: ---x"},
      {"--=x", "bad flag syntax: --=x"},
      {"-'", R"(unknown shorthand flag: '\'' in -')"},
      {"-\\", R"(unknown shorthand flag: '\\' in -\)"},
      {"-\t", "unknown shorthand flag: '\\t' in -\t"},
      {"-\x01", "unknown shorthand flag: '\\x01' in -\x01"},
      {"-\x7f", "unknown shorthand flag: '\\x7f' in -\x7f"},
      {"-\x85", "unknown shorthand flag: '\\u0085' in -\x85"},
      // "é" is two bytes, C3 A9: pflag quotes the first as the rune U+00C3.
      {"-\xc3\xa9", "unknown shorthand flag: '\xc3\x83' in -\xc3\xa9"},
  };
  for (const auto& [word, want] : cases) EXPECT_EQ(client::unknown_flag_error(word), want) << word;
}

// Docker's lines for every verb: the first unknown flag, and the command whose flags were read.
TEST(UnknownFlag, DockersLinesNameTheVerb) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"ps", "--nosuch"}, "unknown flag: --nosuch\nSee 'minidocker ps --help'."},
      {{"ps", "-a", "--nosuch=1", "-a"}, "unknown flag: --nosuch\nSee 'minidocker ps --help'."},
      {{"ps", "-aZ"}, "unknown shorthand flag: 'Z' in -Z\nSee 'minidocker ps --help'."},
      {{"image", "ls", "--bogus"}, "unknown flag: --bogus\nSee 'minidocker image ls --help'."},
      {{"run", "-iZ", "busybox"},
       "unknown shorthand flag: 'i' in -iZ\nSee 'minidocker run --help'."},
      {{"run", "-dZx", "busybox"},
       "unknown shorthand flag: 'Z' in -Zx\nSee 'minidocker run --help'."},
      // The image missing too: pflag stops at the flag before cobra counts the arguments.
      {{"run", "--nosuch"}, "unknown flag: --nosuch\nSee 'minidocker run --help'."},
      {{"run", "--nosuch", "-Y", "busybox"},
       "unknown flag: --nosuch\nSee 'minidocker run --help'."},
      // Before the verb, minidocker's own flags were being read.
      {{"--nosuch", "ps"}, "unknown flag: --nosuch\nSee 'minidocker --help'."},
  };
  for (const auto& [argv, want] : cases) {
    std::string line;
    for (const std::string& w : argv) line += " " + w;
    EXPECT_EQ(refusal_of(argv), want) << line;
  }
  // A word that is no flag keeps CLI11's own message (run_engine's "minidocker: ..." line).
  EXPECT_EQ(refusal_of({"ps", "extra"}), std::nullopt);
  EXPECT_EQ(refusal_of({"run"}), std::nullopt);
}

TEST(ContainerWords, HelpBeforeTheImageIsTheVerbs) {
  EXPECT_THROW(parse_run({"run", "--help"}), CLI::CallForHelp);
  EXPECT_THROW(parse_run({"run", "-d", "--help", "busybox"}), CLI::CallForHelp);
}

TEST(ContainerWords, TheImageIsStillRequired) {
  EXPECT_THROW(parse_run({"run", "-d"}), CLI::RequiredError);
}

}  // namespace
