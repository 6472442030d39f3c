// client::add_container_words: the grammar of `run IMAGE [COMMAND] [ARG...]` and
// `exec CONTAINER COMMAND [ARG...]`. Options are read up to the first positional and not after
// it, as Docker's CLI reads them: every later word is the container's, even one that is an option
// of the verb (run's -c is --cpu-shares, -d is --detach, exec's -e is --env).
// lab::last_value_wins: an option given twice takes its last value, as pflag does.
// client::unknown_flag_error and unknown_flag_lines: pflag's words for a flag no verb has, with
// Docker's "See 'docker VERB --help'." line.
// client::read_flags: the command line as pflag reads it before CLI11 parses it (a letter's value
// after '=', a flag without its value, a value the flag refuses), and the value checks it runs:
// go_int64, go_bool, go_quoted, int_flag, nano_cpus_flag, mem_bytes_flag.
// client::argument_count_error, docker_args and arguments_refused: cobra's Args checks, with
// Docker 20.10's words (cli/required.go), for every verb as main.cpp declares them.
#include "cli.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
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
  std::string cpus;
  std::string memory;
  std::string workdir;
  std::string user;
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
    run->add_option("--cpu-shares,-c", p.cpu_shares, "relative CPU weight")
        ->transform(client::int_flag());
    run->add_option("--cpus", p.cpus, "CPUs")->check(client::nano_cpus_flag());
    run->add_option("--memory,-m", p.memory, "memory limit")->check(client::mem_bytes_flag());
    run->add_option("--env,-e", p.env, "KEY=VALUE")->allow_extra_args(false);
    run->add_option("--workdir,-w", p.workdir, "the working directory inside");
    run->add_option("--user,-u", p.user, "NAME|UID[:GROUP|GID]");
    run->add_flag("--detach,-d", p.detach, "in the background");
  }
  // As run_engine reads a command line: pflag's reading first, whose error is thrown as the lines
  // run_engine prints; then CLI11 parses what it left.
  void parse(const std::vector<std::string>& words) {
    client::FlagReading reading = client::read_flags(app, words);
    if (reading.error) throw FlagRefused(*reading.error);
    // CLI11 parses from the back.
    app.parse(std::vector<std::string>(reading.args.rbegin(), reading.args.rend()));
  }
  struct FlagRefused : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
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
  } catch (const Verbs::FlagRefused& e) {
    return e.what();
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

// Docker 20.10 (cli/cobra.go's FlagErrorFunc) adds the usage of a command that has subcommands:
// minidocker's own flags before the verb, a group's (image) before its verb. A verb's error is
// the two lines alone (the cases above).
TEST(UnknownFlag, ACommandWithVerbsAddsItsUsage) {
  Verbs v;
  auto usage_of = [](const CLI::App& command, const std::string& path) {
    std::string usage =
        command.get_formatter()->make_help(&command, path, CLI::AppFormatMode::Normal);
    while (!usage.empty() && usage.back() == '\n') usage.pop_back();
    return usage;
  };
  std::string root_usage = usage_of(v.app, "minidocker");
  EXPECT_NE(root_usage.find("Usage: minidocker [OPTIONS] SUBCOMMAND"), std::string::npos)
      << root_usage;
  // Before the verb, minidocker's own flags were being read.
  EXPECT_EQ(refusal_of({"--nosuch", "ps"}),
            "unknown flag: --nosuch\nSee 'minidocker --help'.\n\n" + root_usage);
  EXPECT_EQ(refusal_of({"--root"}),
            "flag needs an argument: --root\nSee 'minidocker --help'.\n\n" + root_usage);
  std::string image_usage = usage_of(*v.app.get_subcommand("image"), "minidocker image");
  EXPECT_NE(image_usage.find("Usage: minidocker image [OPTIONS]"), std::string::npos)
      << image_usage;
  EXPECT_EQ(refusal_of({"image", "--bogus", "ls"}),
            "unknown flag: --bogus\nSee 'minidocker image --help'.\n\n" + image_usage);
}

TEST(ContainerWords, HelpBeforeTheImageIsTheVerbs) {
  EXPECT_THROW(parse_run({"run", "--help"}), CLI::CallForHelp);
  EXPECT_THROW(parse_run({"run", "-d", "--help", "busybox"}), CLI::CallForHelp);
}

TEST(ContainerWords, TheImageIsStillRequired) {
  EXPECT_THROW(parse_run({"run", "-d"}), CLI::RequiredError);
}

// pflag reads a letter's value after '=' without the '=' (-c=2048 is 2048; CLI11 alone read
// "=2048"), a bool letter's too (-d=false); a value word is the flag's whatever it looks like.
TEST(PflagReading, ALettersValueAfterEquals) {
  struct Case {
    std::vector<std::string> argv;
    int cpu_shares;
    std::vector<std::string> env;
    bool detach;
    std::string workdir;
    std::string user;
  };
  const std::vector<Case> cases = {
      {{"run", "-c=2048", "busybox"}, 2048, {}, false, "", ""},
      {{"run", "-e=A=1", "-w=/tmp", "-u=0:0", "busybox"}, 0, {"A=1"}, false, "/tmp", "0:0"},
      {{"run", "-dc=512", "busybox"}, 512, {}, true, "", ""},
      {{"run", "-dc512", "busybox"}, 512, {}, true, "", ""},
      {{"run", "-c", "512", "-d=false", "busybox"}, 512, {}, false, "", ""},
      {{"run", "-d", "--detach=0", "busybox"}, 0, {}, false, "", ""},
      {{"run", "-d=T", "busybox"}, 0, {}, true, "", ""},
      // "==x" after the letter: the value is "=x". "-e=" alone is "=" (pflag wants a character
      // after '=' to read it as the separator); "--env=" is the empty value.
      {{"run", "-e==x", "-e=", "--env=", "busybox"}, 0, {"=x", "=", ""}, false, "", ""},
      // The word after a flag is its value, even one that looks like a flag.
      {{"run", "-c", "-5", "-u", "--detach", "busybox"}, -5, {}, false, "", "--detach"},
      // pflag's int is Go's: a base prefix and '_' between digits.
      {{"run", "-c", "0x400", "busybox"}, 1024, {}, false, "", ""},
      {{"run", "--cpu-shares=1_024", "busybox"}, 1024, {}, false, "", ""},
      // After the image, every word is the container's, '=' and all.
      {{"run", "busybox", "-c=1", "-d=x"}, 0, {}, false, "", ""},
  };
  for (const auto& c : cases) {
    std::string line;
    for (const std::string& w : c.argv) line += " " + w;
    Parsed p;
    ASSERT_NO_THROW(p = parse_run(c.argv)) << line;
    EXPECT_EQ(p.image, "busybox") << line;
    EXPECT_EQ(p.cpu_shares, c.cpu_shares) << line;
    EXPECT_EQ(p.env, c.env) << line;
    EXPECT_EQ(p.detach, c.detach) << line;
    EXPECT_EQ(p.workdir, c.workdir) << line;
    EXPECT_EQ(p.user, c.user) << line;
  }
  EXPECT_EQ(parse_run({"run", "busybox", "-c=1", "-d=x"}).command,
            (std::vector<std::string>{"-c=1", "-d=x"}));
  Verbs v;
  v.parse({"--root=/a", "--root", "", "run", "busybox"});
  EXPECT_EQ(v.p.root, "");
}

// The first flag pflag cannot take is the one error, in its words, with Docker's See line: a flag
// with no word left for its value, a value the flag refuses (quoted as Go's %q), before any error
// of CLI11's (the image missing) and before a later unknown flag.
TEST(PflagReading, TheFirstFlagItCannotTake) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"run", "--cpus"}, "flag needs an argument: --cpus\nSee 'minidocker run --help'."},
      {{"run", "-c"}, "flag needs an argument: 'c' in -c\nSee 'minidocker run --help'."},
      {{"run", "-dc"}, "flag needs an argument: 'c' in -c\nSee 'minidocker run --help'."},
      {{"run", "-d", "-u"}, "flag needs an argument: 'u' in -u\nSee 'minidocker run --help'."},
      {{"run", "--cpus", "abc", "busybox"},
       "invalid argument \"abc\" for \"--cpus\" flag: failed to parse abc as a rational number\n"
       "See 'minidocker run --help'."},
      // The image was --cpus's value, as pflag takes it.
      {{"run", "--cpus", "busybox"},
       "invalid argument \"busybox\" for \"--cpus\" flag: failed to parse busybox as a rational "
       "number\nSee 'minidocker run --help'."},
      {{"run", "--cpus="},
       "invalid argument \"\" for \"--cpus\" flag: failed to parse  as a rational number\n"
       "See 'minidocker run --help'."},
      {{"run", "--memory", "xyz", "busybox"},
       "invalid argument \"xyz\" for \"-m, --memory\" flag: invalid size: 'xyz'\n"
       "See 'minidocker run --help'."},
      {{"run", "-m", "--cpus", "1", "busybox"},
       "invalid argument \"--cpus\" for \"-m, --memory\" flag: invalid size: '--cpus'\n"
       "See 'minidocker run --help'."},
      {{"run", "-c", "notanumber", "busybox"},
       "invalid argument \"notanumber\" for \"-c, --cpu-shares\" flag: give a whole number\n"
       "See 'minidocker run --help'."},
      {{"run", "-dc=5x", "busybox"},
       "invalid argument \"5x\" for \"-c, --cpu-shares\" flag: give a whole number\n"
       "See 'minidocker run --help'."},
      {{"run", "-c=", "busybox"},
       "invalid argument \"=\" for \"-c, --cpu-shares\" flag: give a whole number\n"
       "See 'minidocker run --help'."},
      {{"run", "-d=x", "busybox"},
       "invalid argument \"x\" for \"-d, --detach\" flag: give true or false\n"
       "See 'minidocker run --help'."},
      {{"ps", "--all=yes"},
       "invalid argument \"yes\" for \"-a, --all\" flag: give true or false\n"
       "See 'minidocker ps --help'."},
      // In the order of the words: the first refused value, not a later one nor a later unknown
      // flag; an unknown flag first stays the error (unknown_flag_lines).
      {{"run", "--memory", "xyz", "--cpus", "abc", "busybox"},
       "invalid argument \"xyz\" for \"-m, --memory\" flag: invalid size: 'xyz'\n"
       "See 'minidocker run --help'."},
      {{"run", "--cpus", "abc", "--nosuch", "busybox"},
       "invalid argument \"abc\" for \"--cpus\" flag: failed to parse abc as a rational number\n"
       "See 'minidocker run --help'."},
      {{"run", "--cpus", "abc", "--memory"},
       "invalid argument \"abc\" for \"--cpus\" flag: failed to parse abc as a rational number\n"
       "See 'minidocker run --help'."},
      {{"run", "--nosuch", "--cpus", "abc", "busybox"},
       "unknown flag: --nosuch\nSee 'minidocker run --help'."},
      {{"run", "-m", "a\"b\t", "busybox"},
       "invalid argument \"a\\\"b\\t\" for \"-m, --memory\" flag: invalid size: 'a\"b\t'\n"
       "See 'minidocker run --help'."},
  };
  for (const auto& [argv, want] : cases) {
    std::string line;
    for (const std::string& w : argv) line += " " + w;
    EXPECT_EQ(refusal_of(argv), want) << line;
  }
}

TEST(PflagValues, GoParseIntBaseZero) {
  const std::vector<std::pair<std::string, std::optional<long long>>> cases = {
      {"0", 0},
      {"42", 42},
      {"-1", -1},
      {"+5", 5},
      {"0x1f", 31},
      {"0X1F", 31},
      {"017", 15},
      {"0o17", 15},
      {"0b101", 5},
      {"1_000", 1000},
      {"0x_1f", 31},
      {"0_1", 1},
      {"9223372036854775807", 9223372036854775807LL},
      {"-9223372036854775808", -9223372036854775807LL - 1},
      {"", std::nullopt},
      {"x", std::nullopt},
      {"1.5", std::nullopt},
      {" 1", std::nullopt},
      {"1 ", std::nullopt},
      {"1e3", std::nullopt},
      {"08", std::nullopt},
      {"0x", std::nullopt},
      {"0b2", std::nullopt},
      {"_1", std::nullopt},
      {"1_", std::nullopt},
      {"1__0", std::nullopt},
      {"+", std::nullopt},
      {"--1", std::nullopt},
      {"9223372036854775808", std::nullopt},
      {"-9223372036854775809", std::nullopt},
      {"99999999999999999999999", std::nullopt},
  };
  for (const auto& [text, want] : cases) EXPECT_EQ(client::go_int64(text), want) << text;
}

TEST(PflagValues, GoParseBool) {
  for (const char* yes : {"1", "t", "T", "TRUE", "true", "True"})
    EXPECT_EQ(client::go_bool(yes), true) << yes;
  for (const char* no : {"0", "f", "F", "FALSE", "false", "False"})
    EXPECT_EQ(client::go_bool(no), false) << no;
  for (const char* neither : {"", "yes", "on", "tRUE", "2", " true"})
    EXPECT_EQ(client::go_bool(neither), std::nullopt) << neither;
}

TEST(PflagValues, GoQuotedString) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"abc", R"("abc")"},
      {"", R"("")"},
      {"a\"b", R"("a\"b")"},
      {"it's", R"("it's")"},
      {"a\\b", R"("a\\b")"},
      {"\t\n", R"("\t\n")"},
      {"\x01\x7f", R"("\x01\x7f")"},
      {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
      {"\xe2\x82\xac", "\"\xe2\x82\xac\""},
      {"\xc2\x85", R"("\u0085")"},
      {"\xc2\xa0", R"("\u00a0")"},
      {"\xff", R"("\xff")"},
      {"\xc3", R"("\xc3")"},
  };
  for (const auto& [text, want] : cases) EXPECT_EQ(client::go_quoted(text), want) << text;
}

// The checks as CLI11 runs them: the int in plain decimal afterwards, Docker's reasons.
TEST(PflagValues, ValueChecks) {
  std::string text = "0x10";
  EXPECT_EQ(client::int_flag()(text), "");
  EXPECT_EQ(text, "16");
  text = "1.5";
  EXPECT_EQ(client::int_flag()(text), "give a whole number");
  text = "0.5";
  EXPECT_EQ(client::nano_cpus_flag()(text), "");
  text = "1/2";
  EXPECT_EQ(client::nano_cpus_flag()(text), "");
  text = "-1";  // taken here; the engine's range check refuses it, as Docker's daemon does
  EXPECT_EQ(client::nano_cpus_flag()(text), "");
  text = "half";
  EXPECT_EQ(client::nano_cpus_flag()(text), "failed to parse half as a rational number");
  text = "0.0000000001";
  EXPECT_EQ(client::nano_cpus_flag()(text), "value is too precise");
  text = "64m";
  EXPECT_EQ(client::mem_bytes_flag()(text), "");
  text = "64q";
  EXPECT_EQ(client::mem_bytes_flag()(text), "invalid size: '64q'");
  text = "-1";
  EXPECT_EQ(client::mem_swap_bytes_flag()(text), "");
  EXPECT_EQ(client::mem_bytes_flag()(text), "invalid size: '-1'");
}

}  // namespace

namespace {

// Docker 20.10's five checks (cli/required.go), each message whole.
TEST(ArgumentCount, DockersWordsForEachCheck) {
  const std::string use = "minidocker v [OPTIONS] X";
  auto lines = [&](const std::string& first) {
    return first + "\nSee 'minidocker v --help'.\n\nUsage:  " + use + "\n\nDo a thing";
  };
  struct Case {
    client::Arity arity;
    size_t given;
    std::optional<std::string> want;
  };
  const std::vector<Case> cases = {
      {client::kNoArgs, 0, std::nullopt},
      {client::kNoArgs, 1, lines("\"minidocker v\" accepts no arguments.")},
      {client::exactly(1), 1, std::nullopt},
      {client::exactly(1), 0, lines("\"minidocker v\" requires exactly 1 argument.")},
      {client::exactly(1), 2, lines("\"minidocker v\" requires exactly 1 argument.")},
      {client::exactly(2), 1, lines("\"minidocker v\" requires exactly 2 arguments.")},
      {client::at_least(1), 5, std::nullopt},
      {client::at_least(1), 0, lines("\"minidocker v\" requires at least 1 argument.")},
      {client::at_least(2), 1, lines("\"minidocker v\" requires at least 2 arguments.")},
      {client::at_least(0), 0, std::nullopt},
      {client::at_most(1), 0, std::nullopt},
      {client::at_most(1), 2, lines("\"minidocker v\" requires at most 1 argument.")},
      {client::between(1, 2), 2, std::nullopt},
      // The plural follows the upper bound, as in Docker's RequiresRangeArgs.
      {client::between(1, 2), 0,
       lines("\"minidocker v\" requires at least 1 and at most 2 arguments.")},
      {client::between(1, 2), 3,
       lines("\"minidocker v\" requires at least 1 and at most 2 arguments.")},
  };
  for (const auto& c : cases)
    EXPECT_EQ(client::argument_count_error("minidocker v", c.arity, c.given, use, "Do a thing"),
              c.want)
        << c.arity.min << ".." << (c.arity.max ? std::to_string(*c.arity.max) : "") << " given "
        << c.given;
}

// Every engine verb as main.cpp declares them (the daemon's own verb aside).
struct Engine {
  CLI::App app{"minidocker: the lessons combined into a small Docker", "minidocker"};
  client::EngineOptions options;
  std::function<int()> action;
  Engine() {
    lab::last_value_wins(app);
    app.require_subcommand(1);
    app.add_option("--root", options.root, "the engine's root");
    app.add_option("--host,-H", options.host, "unix:///PATH");
    app.add_flag("--explain", options.explain, "narrate");
    client::add_image_verbs(app, options, action);
    client::add_load_save_verbs(app, options, action);
    client::add_pull_push_verbs(app, options, action);
    client::add_container_verbs(app, options, action);
    client::add_attach_verbs(app, options, action);
    client::add_network_verbs(app, options, action);
    client::add_system_prune(app, options, action);
    client::add_ops_verbs(app, options, action);
    client::add_volume_verbs(app, options, action);
    client::add_file_verbs(app, options, action);
    client::add_commit_verbs(app, options, action);
    client::add_build_verbs(app, options, action);
    client::add_version_verbs(app, options, action);
  }
  // What run_engine prints before CLI11 parses: a flag error (exit 125), or the count's (exit 1).
  std::optional<std::string> refusal(const std::vector<std::string>& words) {
    client::FlagReading reading = client::read_flags(app, words);
    if (reading.error) return reading.error;
    return client::arguments_refused(reading);
  }
  // The first line of it, "" when the words are fine.
  std::string first_line(const std::vector<std::string>& words) {
    std::optional<std::string> lines = refusal(words);
    return lines ? lines->substr(0, lines->find('\n')) : "";
  }
};

std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// The arity Docker's CLI gives each verb (docker/cli 20.10, and the docker 28 client agrees):
// too few and too many words, and a count it takes.
TEST(ArgumentCount, EachVerbAsDockers) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"run", "\"minidocker run\" requires at least 1 argument."},
      {"run busybox", ""},
      {"create", "\"minidocker create\" requires at least 1 argument."},
      {"start", "\"minidocker start\" requires at least 1 argument."},
      {"ps x", "\"minidocker ps\" accepts no arguments."},
      {"ps -a", ""},
      {"container ls x", "\"minidocker container ls\" accepts no arguments."},
      {"container list x", "\"minidocker container ls\" accepts no arguments."},
      {"logs", "\"minidocker logs\" requires exactly 1 argument."},
      {"logs a b", "\"minidocker logs\" requires exactly 1 argument."},
      {"wait", "\"minidocker wait\" requires at least 1 argument."},
      {"stop -t 1", "\"minidocker stop\" requires at least 1 argument."},
      {"kill", "\"minidocker kill\" requires at least 1 argument."},
      {"rm", "\"minidocker rm\" requires at least 1 argument."},
      {"rm -f a b c", ""},
      {"container rm", "\"minidocker container rm\" requires at least 1 argument."},
      {"container remove", "\"minidocker container rm\" requires at least 1 argument."},
      {"inspect", "\"minidocker inspect\" requires at least 1 argument."},
      {"container inspect", "\"minidocker container inspect\" requires at least 1 argument."},
      {"port", "\"minidocker port\" requires at least 1 and at most 2 arguments."},
      {"port a 80 x", "\"minidocker port\" requires at least 1 and at most 2 arguments."},
      {"container prune x", "\"minidocker container prune\" accepts no arguments."},
      {"attach", "\"minidocker attach\" requires exactly 1 argument."},
      {"restart", "\"minidocker restart\" requires at least 1 argument."},
      {"exec c", "\"minidocker exec\" requires at least 2 arguments."},
      {"exec -it c sh", ""},
      {"container exec c", "\"minidocker container exec\" requires at least 2 arguments."},
      {"top", "\"minidocker top\" requires at least 1 argument."},
      {"top c -o pid", ""},
      {"stats", ""},
      {"pause", "\"minidocker pause\" requires at least 1 argument."},
      {"unpause", "\"minidocker unpause\" requires at least 1 argument."},
      {"rename a", "\"minidocker rename\" requires exactly 2 arguments."},
      {"cp a", "\"minidocker cp\" requires exactly 2 arguments."},
      {"diff", "\"minidocker diff\" requires exactly 1 argument."},
      {"commit", "\"minidocker commit\" requires at least 1 and at most 2 arguments."},
      {"commit c r x", "\"minidocker commit\" requires at least 1 and at most 2 arguments."},
      {"build", "\"minidocker build\" requires exactly 1 argument."},
      {"build -t x a b", "\"minidocker build\" requires exactly 1 argument."},
      {"images a b", "\"minidocker images\" requires at most 1 argument."},
      {"image ls a b", "\"minidocker image ls\" requires at most 1 argument."},
      {"image list a b", "\"minidocker image ls\" requires at most 1 argument."},
      {"tag a", "\"minidocker tag\" requires exactly 2 arguments."},
      {"tag a b c", "\"minidocker tag\" requires exactly 2 arguments."},
      {"rmi", "\"minidocker rmi\" requires at least 1 argument."},
      {"image rm", "\"minidocker image rm\" requires at least 1 argument."},
      {"history", "\"minidocker history\" requires exactly 1 argument."},
      {"image inspect", "\"minidocker image inspect\" requires at least 1 argument."},
      {"image prune x", "\"minidocker image prune\" accepts no arguments."},
      {"import", "\"minidocker import\" requires at least 1 argument."},
      {"import a b c", ""},
      {"load x", "\"minidocker load\" accepts no arguments."},
      {"save", "\"minidocker save\" requires at least 1 argument."},
      {"pull", "\"minidocker pull\" requires exactly 1 argument."},
      {"image push", "\"minidocker image push\" requires exactly 1 argument."},
      {"network create", "\"minidocker network create\" requires exactly 1 argument."},
      {"network ls x", "\"minidocker network ls\" accepts no arguments."},
      {"network rm", "\"minidocker network rm\" requires at least 1 argument."},
      {"network inspect", "\"minidocker network inspect\" requires at least 1 argument."},
      {"network connect x", "\"minidocker network connect\" requires exactly 2 arguments."},
      {"network disconnect -f x",
       "\"minidocker network disconnect\" requires exactly 2 arguments."},
      {"network prune x", "\"minidocker network prune\" accepts no arguments."},
      {"volume create a b", "\"minidocker volume create\" requires at most 1 argument."},
      {"volume create", ""},
      {"volume ls x", "\"minidocker volume ls\" accepts no arguments."},
      {"volume rm", "\"minidocker volume rm\" requires at least 1 argument."},
      {"volume inspect", "\"minidocker volume inspect\" requires at least 1 argument."},
      {"volume prune x", "\"minidocker volume prune\" accepts no arguments."},
      {"system df x", "\"minidocker system df\" accepts no arguments."},
      {"system prune x", "\"minidocker system prune\" accepts no arguments."},
      {"version x", "\"minidocker version\" accepts no arguments."},
      {"info x", "\"minidocker info\" accepts no arguments."},
      // minidocker's own flags before the verb are read first, and are not the verb's words.
      {"--root /tmp/r --explain ps", ""},
      {"--root /tmp/r tag a", "\"minidocker tag\" requires exactly 2 arguments."},
  };
  Engine engine;
  for (const auto& [line, want] : cases) EXPECT_EQ(engine.first_line(words_of(line)), want) << line;
}

// The words cobra hands the verb: after "--" every word, even one that looks like a flag; from
// run's or exec's first positional on every word; a flag's value is no argument.
TEST(ArgumentCount, TheWordsCobraCounts) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ps -- x", "\"minidocker ps\" accepts no arguments."},
      {"ps -a --", ""},
      {"rm --", "\"minidocker rm\" requires at least 1 argument."},
      {"rm -- -f", ""},
      {"tag -- a", "\"minidocker tag\" requires exactly 2 arguments."},
      {"logs --tail 5", "\"minidocker logs\" requires exactly 1 argument."},
      {"logs -n5 c", ""},
      {"run -d --name x", "\"minidocker run\" requires at least 1 argument."},
      {"run -- busybox", ""},
      {"exec -u root c", "\"minidocker exec\" requires at least 2 arguments."},
      // --help after the container is the command's: two words, no help asked.
      {"exec c --help", ""},
      {"exec c -- sh", ""},
  };
  Engine engine;
  for (const auto& [line, want] : cases) EXPECT_EQ(engine.first_line(words_of(line)), want) << line;
}

// The whole message: Docker's Use line after the command's path, the verb's Short last.
TEST(ArgumentCount, DockersLinesWhole) {
  Engine engine;
  EXPECT_EQ(engine.refusal({"run"}),
            "\"minidocker run\" requires at least 1 argument.\n"
            "See 'minidocker run --help'.\n\n"
            "Usage:  minidocker run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
            "Run a command in a new container");
  EXPECT_EQ(engine.refusal({"network", "connect", "x"}),
            "\"minidocker network connect\" requires exactly 2 arguments.\n"
            "See 'minidocker network connect --help'.\n\n"
            "Usage:  minidocker network connect [OPTIONS] NETWORK CONTAINER\n\n"
            "Connect a container to a network");
  EXPECT_EQ(engine.refusal({"cp", "a"}),
            "\"minidocker cp\" requires exactly 2 arguments.\n"
            "See 'minidocker cp --help'.\n\n"
            "Usage:  minidocker cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
            "\tminidocker cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH\n\n"
            "Copy files/folders between a container and the local filesystem");
}

// Flags first: a flag error is the error (exit 125) whatever the count; --help shows the help;
// a flag the verb does not have leaves the words uncounted, for CLI11 to report the flag.
TEST(ArgumentCount, FlagsComeFirst) {
  Engine engine;
  EXPECT_EQ(engine.refusal({"stop", "--time"}),
            "flag needs an argument: --time\nSee 'minidocker stop --help'.");
  EXPECT_EQ(engine.refusal({"ps", "--all=yes", "x"}),
            "invalid argument \"yes\" for \"-a, --all\" flag: give true or false\n"
            "See 'minidocker ps --help'.");
  EXPECT_EQ(engine.refusal({"run", "--help"}), std::nullopt);
  EXPECT_EQ(engine.refusal({"tag", "-h", "a"}), std::nullopt);
  EXPECT_EQ(engine.refusal({"ps", "--nosuch", "x"}), std::nullopt);
  EXPECT_EQ(engine.refusal({"rm", "-Z"}), std::nullopt);
}

// A word that names no verb: minidocker's own words, a group's usage (exit 1, as Docker 20.10).
TEST(ArgumentCount, AWordThatNamesNoVerb) {
  Engine engine;
  EXPECT_EQ(engine.refusal({"nosuch"}),
            "minidocker: 'nosuch' is not a minidocker command.\nSee 'minidocker --help'");
  std::optional<std::string> group = engine.refusal({"network", "x"});
  ASSERT_TRUE(group);
  EXPECT_TRUE(group->starts_with("\nManage networks\n")) << *group;
  EXPECT_NE(group->find("Connect a container to a network"), std::string::npos) << *group;
  EXPECT_EQ(engine.refusal({"network"}), std::nullopt);
}

// --help shows Docker's usage line for a declared verb.
TEST(ArgumentCount, HelpShowsDockersUsage) {
  Engine engine;
  EXPECT_THROW(engine.app.parse(std::vector<std::string>{"--help", "tag"}), CLI::CallForHelp);
  std::string help = engine.app.help();
  EXPECT_NE(help.find("Usage:  minidocker tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n"),
            std::string::npos)
      << help;
  EXPECT_TRUE(help.starts_with("Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE\n")) << help;
}

}  // namespace
