#include "narrator.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

namespace lab {

namespace {
constexpr size_t kShellColumn = 52;  // where "~ shell command" starts, when the call is short
constexpr std::string_view kIndent = "      ";
}  // namespace

Narrator::Narrator(std::string lesson, OutputMode mode, int total_steps, std::ostream& out,
                   bool colour)
    : lesson_(std::move(lesson)), mode_(mode), total_(total_steps), out_(out), colour_(colour) {}

Narrator::Narrator(std::string lesson, OutputMode mode, int total_steps)
    : Narrator(std::move(lesson), mode, total_steps, std::cout, colour_wanted(STDOUT_FILENO)) {}

bool Narrator::colour_wanted(int fd) {
  const char* no_colour = std::getenv("NO_COLOR");
  if (no_colour && *no_colour) return false;
  return ::isatty(fd) == 1;
}

std::string Narrator::paint(std::string_view text, std::string_view sgr) const {
  if (!colour_) return std::string(text);
  return fmt::format("\033[{}m{}\033[0m", sgr, text);
}

void Narrator::heading(std::string_view title) {
  if (!human()) return;
  out_ << '\n' << paint(fmt::format("== {} ==", title), "1") << '\n';
}

void Narrator::step(std::string_view call, std::string_view shell) {
  ++step_;
  if (!human()) return;
  print_step(fmt::format("[{}/{}] ", step_, total_), call, shell);
}

void Narrator::labelled_step(std::string_view label, std::string_view call,
                             std::string_view shell) {
  if (!human()) return;
  print_step(fmt::format("[{}] ", label), call, shell);
}

void Narrator::print_step(std::string_view head, std::string_view call, std::string_view shell) {
  std::string line = paint(head, "1;36") + paint(call, "1");
  if (!shell.empty()) {
    size_t used = head.size() + call.size();
    size_t pad = used < kShellColumn ? kShellColumn - used : 2;
    line += std::string(pad, ' ') + paint(fmt::format("~ {}", shell), "2");
  }
  out_ << line << '\n' << std::flush;
}

void Narrator::say(std::string_view line) {
  if (!human()) return;
  out_ << kIndent << line << '\n' << std::flush;
}

void Narrator::fact(const std::string& key, nlohmann::json value) {
  facts_[key] = std::move(value);
}

bool Narrator::verdict(bool held, std::string_view what) {
  switch (mode_) {
    case OutputMode::silent:
      break;
    case OutputMode::json: {
      nlohmann::json all = facts_;
      all["lesson"] = lesson_;
      all["held"] = held;
      all["verdict"] = std::string(what);
      // A fact may hold bytes that are not UTF-8 (a hostname may be any bytes): they become
      // U+FFFD instead of an exception; a lesson that needs the exact bytes adds them as hex.
      out_ << all.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n'
           << std::flush;
      break;
    }
    case OutputMode::human:
    case OutputMode::quiet:
      out_ << (held ? paint("verdict: HELD", "1;32") : paint("verdict: NOT HELD", "1;31")) << " - "
           << what << '\n'
           << std::flush;
      break;
  }
  return held;
}

}  // namespace lab
