// The Dockerfile: its grammar (moby's buildkit/frontend/dockerfile/parser, the subset the legacy
// builder reads) and what its config-only instructions do to an image's config. Pure logic: no
// file is touched here; build.cpp runs the instructions, commit.cpp applies `commit -c`.
//
// The grammar, as Docker's parser reads it:
//   - parser directives first: `# escape=\`` (or `\`) picks the line-continuation character,
//     `# syntax=...` is read and ignored; a directive after any other line is a comment;
//   - a line ending in the escape character continues on the next one; comment lines and empty
//     lines inside a continuation are dropped;
//   - `INSTRUCTION arguments`, the keyword case-insensitive; `--flag=value` words right after
//     COPY and ADD (only --chown here);
//   - RUN, CMD and ENTRYPOINT take a JSON array (exec form) or a string (shell form, run by
//     /bin/sh -c); ENV, LABEL and ARG take KEY=VALUE words (quotes and escapes as a shell's).
// Variables ($VAR, ${VAR}, ${VAR:-default}, ${VAR:+alternative}) are replaced in the arguments of
// ADD, COPY, ENV, EXPOSE, FROM, LABEL, USER, VOLUME and WORKDIR, from ENV and ARG; RUN's shell
// sees them itself.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace engine::dockerfile {

struct Instruction {
  std::string keyword;    // upper case: FROM, RUN, COPY, ...
  std::string original;   // the instruction as written, continuations joined ("Step 2/5 : ...")
  std::string arguments;  // what follows the keyword and its flags, trimmed
  std::map<std::string, std::string> flags;  // --chown=1000:1000 -> {"chown", "1000:1000"}
  // RUN, CMD, ENTRYPOINT (and VOLUME, COPY, ADD): the JSON array when written as one.
  std::optional<std::vector<std::string>> json_args;
  int line = 0;  // where it starts, 1-based
};

// Parses a whole Dockerfile. Throws lab::UserError with Docker's words: "Dockerfile parse error
// line N: unknown instruction: FOO", "file with no instructions", "... requires at least one
// argument", and for what this build does not do (multi-stage, ONBUILD, HEALTHCHECK, heredocs).
std::vector<Instruction> parse(std::string_view text);

// One instruction of `commit --change` (a single line, no continuation).
Instruction parse_line(std::string_view text);

// A variable's value, or nullopt when it is not set.
using Lookup = std::function<std::optional<std::string>(const std::string&)>;

// $VAR, ${VAR}, ${VAR:-word}, ${VAR:+word}; `\$` is a literal dollar (the escape character
// given). An unset variable is "". Throws lab::UserError for an unterminated ${.
std::string expand(std::string_view word, const Lookup& lookup, char escape = '\\');

// "A=1 B=\"two words\" C" (ENV, LABEL, ARG): words split as a shell does, quotes removed, each
// split at its first '='. The legacy form "KEY value with spaces" (one pair) is accepted when the
// first word has no '='. A word without '=' in the modern form gives {"C", nullopt} (only ARG
// allows that). Variables are expanded with `lookup` when given.
std::vector<std::pair<std::string, std::optional<std::string>>> key_values(
    std::string_view arguments, const Lookup& lookup = nullptr, char escape = '\\');

// Shell-like words ("a 'b c'" -> {"a", "b c"}), variables expanded when `lookup` is given.
std::vector<std::string> words(std::string_view arguments, const Lookup& lookup = nullptr,
                               char escape = '\\');

// The state a build carries besides the image: whether CMD was set in this Dockerfile (an
// ENTRYPOINT then keeps it; otherwise ENTRYPOINT clears the inherited CMD, as Docker does).
struct ConfigState {
  bool cmd_set = false;
};

// Applies a config-only instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME,
// STOPSIGNAL) to an image's "config" object. `lookup` sees ARG and the config's ENV. Returns the
// history text Docker's legacy builder records after "/bin/sh -c #(nop) " ("CMD [\"sh\"]" with
// its two spaces, "WORKDIR /app"). Throws lab::UserError for anything else.
std::string apply_config(const Instruction& instruction, nlohmann::json& config, ConfigState& state,
                         const Lookup& lookup);
bool is_config_only(std::string_view keyword);

// The value of KEY in an Env list ("KEY=VALUE" strings), or nullopt.
std::optional<std::string> env_value(const nlohmann::json& env, const std::string& key);
// Sets KEY=VALUE in an Env list, replacing KEY in place (or appending).
void set_env(nlohmann::json& env, const std::string& key, const std::string& value);

// The shell-form command Docker runs: {"/bin/sh", "-c", text}.
std::vector<std::string> shell_form(const std::string& text);

}  // namespace engine::dockerfile
