#include "client/engine.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <iostream>
#include <set>

#include "cli.hpp"
#include "daemon/http_client.hpp"
#include "error.hpp"

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
        return fmt::format("{}\nSee '{} --help'.", unknown_flag_error(word), path);
    auto chosen = at->get_subcommands();
    if (chosen.empty()) return std::nullopt;
    at = chosen.front();
    path += " " + at->get_name();
  }
}

int run_engine(CLI::App& app, EngineOptions& options, const std::function<int()>& action, int argc,
               char** argv) {
  try {
    app.parse(argc, argv);
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
  return lab::run_guarded("minidocker", [&]() -> int {
    try {
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
