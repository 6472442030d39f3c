#include "client/engine.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <iostream>
#include <set>

#include "cli.hpp"
#include "daemon/http_client.hpp"
#include "graph/lazy_libs.hpp"
#include "error.hpp"
#include "exec/bundle.hpp"

namespace client {

Narration::Narration(bool on)
    : narrator_(std::make_unique<lab::Narrator>(
          "minidocker", on ? lab::OutputMode::human : lab::OutputMode::silent, 0, std::cerr,
          lab::Narrator::colour_wanted(2))) {}

void Narration::step(std::string_view lesson, std::string_view call, std::string_view shell) const {
  std::string label = lesson.empty() ? std::string("graph") : "lesson " + std::string(lesson);
  narrator_->labelled_step(label, call, shell);
}

std::unique_ptr<graph::Store> open_store(const EngineOptions& options) {
  auto store = std::make_unique<graph::Store>(options.root);
  if (options.explain) {
    auto narration = std::make_shared<Narration>(true);
    store->set_explain(
        [narration](std::string_view lesson, std::string_view call, std::string_view shell) {
          narration->step(lesson, call, shell);
        });
  }
  return store;
}

int report_user_error(const std::string& message) {
  std::cout.flush();
  fmt::print(stderr, "Error: {}\n", message);
  return 1;
}

CLI::Option* add_container_words(CLI::App* verb, const std::string& name,
                                 std::vector<std::string>& words, const std::string& description) {
  verb->positionals_at_end();
  return verb->add_option(name, words, description);
}

namespace {

// Go's %q of one byte widened to a rune, as pflag prints the letter of a shorthand flag: 'Z',
// '\'', '\t', '\x01', and a byte above 0x7f as the Latin-1 character of that number ('\u0085',
// or 'Ã' for the first byte of "é": pflag looks at bytes, not at UTF-8 characters).
std::string go_quoted_byte(unsigned char c) {
  switch (c) {
    case '\'':
      return R"('\'')";
    case '\\':
      return R"('\\')";
    case '\a':
      return R"('\a')";
    case '\b':
      return R"('\b')";
    case '\f':
      return R"('\f')";
    case '\n':
      return R"('\n')";
    case '\r':
      return R"('\r')";
    case '\t':
      return R"('\t')";
    case '\v':
      return R"('\v')";
    default:
      break;
  }
  if (c < 0x20 || c == 0x7f) return fmt::format("'\\x{:02x}'", c);
  if (c < 0x7f) return fmt::format("'{}'", static_cast<char>(c));
  // U+0080..U+00A0 and the soft hyphen U+00AD are not printable to Go (strconv.IsPrint).
  if (c <= 0xa0 || c == 0xad) return fmt::format("'\\u{:04x}'", c);
  return fmt::format("'{}{}'", static_cast<char>(0xc0 | (c >> 6)),
                     static_cast<char>(0x80 | (c & 0x3f)));
}

// "images" or "image ls": the verb as the user typed it, for "See 'minidocker VERB --help'."
std::string chosen_verb(const CLI::App& app) {
  std::string verb;
  const CLI::App* at = &app;
  for (;;) {
    auto chosen = at->get_subcommands();
    if (chosen.empty()) break;
    at = chosen.front();
    verb += (verb.empty() ? "" : " ") + at->get_name();
  }
  return verb;
}

// The verbs our CLI can ask a daemon for (-H); the others are refused with -H, not run here.
bool served_through_daemon(const std::string& verb) {
  static const std::set<std::string> served = {"create",
                                               "run",
                                               "ps",
                                               "container ls",
                                               "container list",
                                               "inspect",
                                               "container inspect",
                                               "start",
                                               "stop",
                                               "kill",
                                               "rm",
                                               "container rm",
                                               "container remove",
                                               "logs",
                                               "images",
                                               "image ls",
                                               "image list",
                                               "tag",
                                               "rmi",
                                               "image rm",
                                               "image remove",
                                               "exec",
                                               "container exec",
                                               "pull",
                                               "image pull",
                                               "push",
                                               "image push",
                                               "attach",
                                               "restart",
                                               "wait",
                                               "pause",
                                               "container pause",
                                               "unpause",
                                               "container unpause",
                                               "top",
                                               "container top",
                                               "stats",
                                               "container stats",
                                               "rename",
                                               "container rename",
                                               "port",
                                               "cp",
                                               "diff",
                                               "container prune",
                                               "network create",
                                               "network ls",
                                               "network list",
                                               "network rm",
                                               "network remove",
                                               "network inspect",
                                               "network connect",
                                               "network disconnect",
                                               "network prune",
                                               "volume create",
                                               "volume ls",
                                               "volume list",
                                               "volume rm",
                                               "volume remove",
                                               "volume inspect",
                                               "volume prune",
                                               "system prune",
                                               "build",
                                               "load",
                                               "save",
                                               "import",
                                               "history",
                                               "image inspect",
                                               "image prune",
                                               "commit",
                                               "system df",
                                               "version",
                                               "info"};
  return served.count(verb) > 0;
}

}  // namespace

bool has_verbs(const CLI::App& command) {
  // CLI11 keeps option groups as nameless subcommands: only named ones are commands.
  return !command.get_subcommands([](const CLI::App* verb) { return !verb->get_name().empty(); })
              .empty();
}

namespace {

// cobra's UsageString of a command, here CLI11's help of it, without its last newlines.
std::string usage_of(const CLI::App& command, const std::string& path) {
  // The formatter, not command.help(): after a parse, help() shows the chosen verb's instead.
  std::string usage =
      command.get_formatter()->make_help(&command, path, CLI::AppFormatMode::Normal);
  while (!usage.empty() && usage.back() == '\n') usage.pop_back();
  return usage;
}

}  // namespace

std::string flag_error_lines(const CLI::App& command, const std::string& path,
                             std::string_view error) {
  std::string lines = fmt::format("{}\nSee '{} --help'.", error, path);
  if (!has_verbs(command)) return lines;
  return lines + "\n\n" + usage_of(command, path);
}

std::optional<std::string> unknown_command_lines(const CLI::App& command, const std::string& path,
                                                 const std::vector<std::string>& words) {
  if (words.empty()) return std::nullopt;
  // docker itself (cmd/docker/docker.go's noArgs), then a group (cli/required.go's NoArgs for a
  // command with subcommands: a blank line and its usage).
  if (command.get_parent() == nullptr)
    return fmt::format("{0}: '{1}' is not a {0} command.\nSee '{0} --help'", path, words.front());
  return "\n" + usage_of(command, path);
}

namespace {

// A verb's Docker grammar travels with it as its help formatter, which prints cobra's usage line
// in --help; run_engine finds it there again to check the count of words.
class DockerUsage : public CLI::Formatter {
 public:
  DockerUsage(std::string use, Arity args) : use_(std::move(use)), args_(args) {}

  // cobra's UseLine: the command's path, then its Use after the name (Docker's CLI turns off
  // cobra's " [flags]" suffix: DisableFlagsInUseLine).
  std::string use_line(const std::string& path) const {
    return use_.empty() ? path : path + " " + use_;
  }
  const Arity& args() const { return args_; }

  std::string make_usage(const CLI::App*, std::string name) const override {
    return fmt::format("Usage:  {}\n", use_line(name));
  }

 private:
  std::string use_;
  Arity args_;
};

std::string arguments_word(size_t n) { return n == 1 ? "argument" : "arguments"; }

}  // namespace

void docker_args(CLI::App* verb, std::string use, Arity args) {
  verb->formatter(std::make_shared<DockerUsage>(std::move(use), args));
}

std::optional<std::string> argument_count_error(const std::string& path, const Arity& arity,
                                                size_t given, std::string_view use_line,
                                                std::string_view short_text) {
  if (given >= arity.min && (!arity.max || given <= *arity.max)) return std::nullopt;
  // cobra's CommandPath in Go's %q: Docker's command paths need no escapes.
  std::string quoted = "\"" + path + "\"";
  std::string problem;
  if (arity.max == 0u)
    problem = quoted + " accepts no arguments.";
  else if (arity.max == arity.min)
    problem =
        fmt::format("{} requires exactly {} {}.", quoted, arity.min, arguments_word(arity.min));
  else if (!arity.max)
    problem =
        fmt::format("{} requires at least {} {}.", quoted, arity.min, arguments_word(arity.min));
  else if (arity.min == 0)
    problem =
        fmt::format("{} requires at most {} {}.", quoted, *arity.max, arguments_word(*arity.max));
  else  // RequiresRangeArgs pluralizes by the upper bound: "at least 1 and at most 2 arguments"
    problem = fmt::format("{} requires at least {} and at most {} {}.", quoted, arity.min,
                          *arity.max, arguments_word(*arity.max));
  return fmt::format("{}\nSee '{} --help'.\n\nUsage:  {}\n\n{}", problem, path, use_line,
                     short_text);
}

std::optional<std::string> argument_count_lines(const CLI::App& verb, const std::string& path,
                                                size_t given) {
  auto usage = std::dynamic_pointer_cast<DockerUsage>(verb.get_formatter());
  if (!usage) return std::nullopt;
  return argument_count_error(path, usage->args(), given, usage->use_line(path),
                              verb.get_description());
}

std::string unknown_flag_error(std::string_view word) {
  if (word.starts_with("--")) {
    std::string_view name = word.substr(2);
    if (name.empty() || name[0] == '-' || name[0] == '=')
      return fmt::format("bad flag syntax: {}", word);
    return fmt::format("unknown flag: --{}", name.substr(0, name.find('=')));
  }
  std::string_view shorthands = word.substr(1);
  return fmt::format("unknown shorthand flag: {} in -{}",
                     go_quoted_byte(static_cast<unsigned char>(shorthands[0])), shorthands);
}

std::optional<std::string> unknown_flag_lines(const CLI::App& app) {
  // CLI11 keeps what it could not place with the App that was reading when it met it: minidocker
  // itself before the verb, the verb (or `image` then `ls`) after it. Docker's CLI names the
  // command whose flags were being read in its "See" line.
  std::string path = app.get_name();
  for (const CLI::App* at = &app;;) {
    for (const std::string& word : at->remaining())
      if (word.size() > 1 && word[0] == '-' && word != "--")
        return flag_error_lines(*at, path, unknown_flag_error(word));
    auto chosen = at->get_subcommands();
    if (chosen.empty()) return std::nullopt;
    at = chosen.front();
    path += " " + at->get_name();
  }
}

std::string go_quoted(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      // The same escapes as a quoted byte, but in double quotes: ' is itself, " is escaped.
      std::string quoted = go_quoted_byte(c);
      out += c == '"' ? "\\\"" : c == '\'' ? "'" : quoted.substr(1, quoted.size() - 2);
      continue;
    }
    // A UTF-8 character is copied whole; Go escapes the C1 controls U+0080..U+009F, the no-break
    // space U+00A0 and the soft hyphen U+00AD as unprintable. A byte that starts no character
    // (or whose character is cut short) is \xNN.
    size_t length = c >= 0xc2 && c <= 0xdf   ? 2
                    : c >= 0xe0 && c <= 0xef ? 3
                    : c >= 0xf0 && c <= 0xf4 ? 4
                                             : 0;
    bool whole = length > 0 && i + length <= text.size();
    for (size_t k = 1; whole && k < length; ++k)
      whole = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    if (!whole) {
      out += fmt::format("\\x{:02x}", c);
      continue;
    }
    auto second = static_cast<unsigned char>(text[i + 1]);
    if (c == 0xc2 && (second <= 0xa0 || second == 0xad))
      out += fmt::format("\\u{:04x}", second);
    else
      out += text.substr(i, length);
    i += length - 1;
  }
  return out + "\"";
}

std::optional<long long> go_int64(std::string_view text) {
  // strconv.ParseInt with base 0: the sign, then ParseUint on the rest, which takes the base from
  // its prefix; base 0 also allows '_' between digits (underscoreOK decides where).
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  unsigned base = 10;
  bool prefix_letter = false;
  if (s[0] == '0') {
    char letter =
        s.size() >= 3 ? static_cast<char>(std::tolower(static_cast<unsigned char>(s[1]))) : 0;
    base = letter == 'x' ? 16 : letter == 'b' ? 2 : 8;
    prefix_letter = letter == 'x' || letter == 'b' || letter == 'o';
    s.remove_prefix(prefix_letter ? 2 : 1);
  }
  unsigned long long value = 0;
  // A '_' must stand between two digits, the prefix counting as one ("0x_1f" is 31).
  char saw = prefix_letter || base == 8 ? '0' : '^';
  for (char c : s) {
    if (c == '_') {
      if (saw != '0') return std::nullopt;
      saw = '_';
      continue;
    }
    unsigned digit = c >= '0' && c <= '9'   ? static_cast<unsigned>(c - '0')
                     : c >= 'a' && c <= 'z' ? static_cast<unsigned>(c - 'a' + 10)
                     : c >= 'A' && c <= 'Z' ? static_cast<unsigned>(c - 'A' + 10)
                                            : 99;
    if (digit >= base) return std::nullopt;
    if (value > (~0ULL - digit) / base) return std::nullopt;
    value = value * base + digit;
    saw = '0';
  }
  if (saw == '_') return std::nullopt;
  // -9223372036854775808 fits, +9223372036854775808 does not.
  if (value > (negative ? 1ULL << 63 : (1ULL << 63) - 1)) return std::nullopt;
  return negative ? static_cast<long long>(0 - value) : static_cast<long long>(value);
}

std::optional<bool> go_bool(std::string_view text) {
  for (std::string_view yes : {"1", "t", "T", "TRUE", "true", "True"})
    if (text == yes) return true;
  for (std::string_view no : {"0", "f", "F", "FALSE", "false", "False"})
    if (text == no) return false;
  return std::nullopt;
}

CLI::Validator int_flag() {
  return CLI::Validator(
      [](std::string& text) {
        std::optional<long long> value = go_int64(text);
        if (!value) return std::string("give a whole number");
        text = std::to_string(*value);
        return std::string();
      },
      "");
}

namespace {

// A check that refuses what one of exec's parsers refuses, with its words as the reason.
template <class Parse>
CLI::Validator refused_as(Parse parse) {
  return CLI::Validator(
      [parse](std::string& text) {
        try {
          parse(text);
        } catch (const lab::UserError& e) {
          return std::string(e.what());
        }
        return std::string();
      },
      "");
}

}  // namespace

// Docker's reasons (opts.NanoCPUs).
CLI::Validator nano_cpus_flag() {
  return refused_as([](const std::string& text) { exec::parse_nano_cpus(text); });
}

// "invalid size: 'xyz'", go-units' words, as Docker's.
CLI::Validator mem_bytes_flag() {
  return refused_as([](const std::string& text) { exec::parse_memory(text); });
}

CLI::Validator mem_swap_bytes_flag() {
  CLI::Validator size = mem_bytes_flag();
  return CLI::Validator(
      [size](std::string& text) { return text == "-1" ? std::string() : size(text); }, "");
}

namespace {

bool is_bool_flag(const CLI::Option& option) { return option.get_items_expected_max() == 0; }

// pflag's name of a flag in "invalid argument": "-c, --cpu-shares" when it has a letter.
std::string pflag_name(const CLI::Option& option) {
  std::string name;
  if (!option.get_snames().empty()) name = "-" + option.get_snames().front();
  if (!option.get_lnames().empty())
    name += (name.empty() ? "--" : ", --") + option.get_lnames().front();
  return name;
}

// What the option's CLI11 validators say of `value`, in their order: "" when all take it.
std::string refusal_of_value(CLI::Option& option, std::string value) {
  for (int index = 0;; ++index) {
    CLI::Validator* check = nullptr;
    try {
      check = option.get_validator(index);
    } catch (const CLI::OptionNotFound&) {
      return "";
    }
    std::string why;
    try {
      why = (*check)(value);
    } catch (const CLI::ValidationError& e) {
      why = e.what();
    }
    if (!why.empty()) return why;
  }
}

std::string invalid_argument(std::string_view value, const CLI::Option& option,
                             std::string_view why) {
  return fmt::format("invalid argument {} for \"{}\" flag: {}", go_quoted(value),
                     pflag_name(option), why);
}

CLI::App* subcommand_named(CLI::App& app, const std::string& word) {
  auto named = app.get_subcommands([&](CLI::App* verb) { return verb->check_name(word); });
  return named.empty() ? nullptr : named.front();
}

}  // namespace

FlagReading read_flags(CLI::App& app, const std::vector<std::string>& args) {
  FlagReading reading;
  reading.command = app.get_name();
  CLI::App* at = &app;
  std::vector<std::string> arguments;
  bool help = false;
  auto counted = [&](CLI::App* verb) {
    reading.verb = verb;
    if (!help) reading.arguments = arguments;
    return reading;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    // The rest as they are: the last `positionals` of them are the verb's arguments, as cobra
    // takes them (every word after "--"; every word from a verb's first positional on when its
    // flags end there); nullopt where pflag would stop at a flag it does not know.
    auto as_they_are = [&](std::optional<size_t> positionals) {
      reading.args.insert(reading.args.end(), args.begin() + static_cast<std::ptrdiff_t>(i),
                          args.end());
      if (!positionals) {
        reading.verb = at;
        return reading;
      }
      arguments.insert(arguments.end(), args.end() - static_cast<std::ptrdiff_t>(*positionals),
                       args.end());
      return counted(at);
    };
    auto unknown = [&] { return as_they_are(std::nullopt); };
    // cobra shows the help for --help (-h) and checks no count of words then.
    auto is_help = [&](const CLI::Option* option) {
      return option == at->get_help_ptr() || option == at->get_help_all_ptr();
    };
    auto refused = [&](std::string_view error) {
      reading.error = flag_error_lines(*at, reading.command, error);
      return reading;
    };
    if (word == "--") return as_they_are(args.size() - i - 1);
    if (word.size() < 2 || word[0] != '-') {
      if (CLI::App* verb = subcommand_named(*at, word)) {
        at = verb;
        reading.command += " " + verb->get_name();
        arguments.clear();
      } else if (at->get_positionals_at_end() || at->get_prefix_command()) {
        return as_they_are(args.size() - i);
      } else {
        arguments.push_back(word);
      }
      reading.args.push_back(word);
      continue;
    }
    if (word.starts_with("--")) {
      size_t equals = word.find('=');
      std::string name = word.substr(0, equals);
      CLI::Option* option = at->get_option_no_throw(name);
      if (option == nullptr) return unknown();
      help = help || is_help(option);
      std::optional<std::string> value;
      if (equals != std::string::npos) value = word.substr(equals + 1);
      if (is_bool_flag(*option)) {
        if (!value) {
          reading.args.push_back(word);
          continue;
        }
        std::optional<bool> on = go_bool(*value);
        if (!on) return refused(invalid_argument(*value, *option, "give true or false"));
        reading.args.push_back(name + (*on ? "=true" : "=false"));
        continue;
      }
      if (!value) {
        if (i + 1 == args.size()) return refused("flag needs an argument: " + word);
        value = args[++i];
      }
      if (std::string why = refusal_of_value(*option, *value); !why.empty())
        return refused(invalid_argument(*value, *option, why));
      // The value as a word of its own: CLI11 takes the word after an option whatever it is
      // ("", "-5", "--memory"), as pflag does, where `--cpus=` would make it take the next one.
      reading.args.push_back(name);
      reading.args.push_back(*value);
      continue;
    }
    // A cluster of letters, -dit or -c512 or -c=512 (pflag's parseSingleShortArg): plain flags
    // until a letter that takes a value, which takes the rest of the word ("=" after the letter
    // left out) or else the next word.
    std::vector<std::string> read;
    for (size_t at_letter = 1; at_letter < word.size(); ++at_letter) {
      char letter = word[at_letter];
      CLI::Option* option = at->get_option_no_throw(std::string{'-', letter});
      // Letters read so far were plain flags, which CLI11 reads the same from the whole word.
      if (option == nullptr) return unknown();
      help = help || is_help(option);
      std::string_view after = std::string_view(word).substr(at_letter + 1);
      bool after_equals = after.size() > 1 && after[0] == '=';
      if (is_bool_flag(*option)) {
        if (!after_equals) {
          read.push_back({'-', letter});
          continue;
        }
        std::string value(after.substr(1));
        std::optional<bool> on = go_bool(value);
        if (!on) return refused(invalid_argument(value, *option, "give true or false"));
        if (option->get_lnames().empty()) return unknown();
        read.push_back("--" + option->get_lnames().front() + (*on ? "=true" : "=false"));
        break;
      }
      std::string value;
      if (after_equals)
        value = after.substr(1);
      else if (!after.empty())
        value = after;
      else if (i + 1 < args.size())
        value = args[++i];
      else
        return refused(fmt::format("flag needs an argument: {} in -{}",
                                   go_quoted_byte(static_cast<unsigned char>(letter)),
                                   word.substr(at_letter)));
      if (std::string why = refusal_of_value(*option, value); !why.empty())
        return refused(invalid_argument(value, *option, why));
      read.push_back({'-', letter});
      read.push_back(value);
      break;
    }
    reading.args.insert(reading.args.end(), read.begin(), read.end());
  }
  return counted(at);
}

std::optional<std::string> arguments_refused(const FlagReading& reading) {
  if (reading.error || !reading.verb || !reading.arguments) return std::nullopt;
  if (has_verbs(*reading.verb))
    return unknown_command_lines(*reading.verb, reading.command, *reading.arguments);
  return argument_count_lines(*reading.verb, reading.command, reading.arguments->size());
}

int run_engine(CLI::App& app, EngineOptions& options, const std::function<int()>& action, int argc,
               char** argv) {
  // pflag's reading first: its errors come before any of CLI11's, in the order of the words.
  FlagReading reading = read_flags(app, std::vector<std::string>(argv + 1, argv + argc));
  if (reading.error) {
    fmt::print(stderr, "{}\n", *reading.error);
    return 125;
  }
  // Then cobra's count of the verb's words (its Args), with Docker's lines and exit 1, before
  // CLI11 reads a positional and long before anything is created.
  if (std::optional<std::string> lines = arguments_refused(reading)) {
    fmt::print(stderr, "{}\n", *lines);
    return 1;
  }
  try {
    app.parse(std::vector<std::string>(reading.args.rbegin(), reading.args.rend()));
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion& e) {
    std::cout << e.what() << '\n';
    return 0;
  } catch (const CLI::ParseError& e) {
    // A flag the verb does not have comes first, whatever else CLI11 then found wrong (an image
    // missing after `run --nosuch`): pflag refuses it as it reads the flags, before cobra counts
    // the verb's arguments.
    if (std::optional<std::string> lines = unknown_flag_lines(app)) {
      fmt::print(stderr, "{}\n", *lines);
      return 125;
    }
    // Docker's CLI: the problem, then where to read about the verb, exit 125.
    std::string what = e.what();
    while (!what.empty() && what.back() == '\n') what.pop_back();
    std::string verb = chosen_verb(app);
    fmt::print(stderr, "minidocker: {}\nSee 'minidocker{}{} --help'.\n", what,
               verb.empty() ? "" : " ", verb);
    return 125;
  }
  if (options.host.empty())
    if (const char* env = std::getenv("DOCKER_HOST")) options.host = env;
  std::string verb = chosen_verb(app);
  if (!options.host.empty() && verb != "daemon" && !served_through_daemon(verb)) {
    fmt::print(stderr,
               "minidocker -H: {} is not available through a daemon yet; run it without -H\n",
               verb);
    return 1;
  }
  // The verbs that unpack, pack or hash load libarchive and libcrypto before they start (see
  // graph/lazy_libs.hpp); the others never load them.
  static const std::set<std::string> archive_verbs = {
      "import", "load", "save", "pull", "push", "commit", "cp", "build", "diff", "export",
      "image import", "image load", "image save", "image pull", "image push", "image build",
      "container commit", "container cp", "container diff", "container export", "daemon"};
  return lab::run_guarded("minidocker", [&]() -> int {
    try {
      if (options.host.empty() && archive_verbs.contains(verb)) graph::load_lazy_libraries();
      return action ? action() : 0;
    } catch (const lab::UserError& e) {
      return report_user_error(e.what());
    } catch (const api::DaemonUnreachable& e) {
      std::cout.flush();
      fmt::print(stderr, "{}\n", e.what());
      return 1;
    }
  });
}

}  // namespace client
