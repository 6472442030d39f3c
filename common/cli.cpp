#include "cli.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdio>
#include <iostream>

#include "error.hpp"
#include "process.hpp"

namespace lab {

void add_output_options(CLI::App& app, OutputOptions& options) {
  app.add_flag("--json", options.json,
               "print the observed facts as one JSON object (for tests and scripts)");
  app.add_flag("--quiet,-q", options.quiet, "print only the verdict line");
}

void last_value_wins(CLI::App& app) {
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

std::optional<long long> whole_number(std::string_view text) {
  // from_chars alone would take a leading '-' and stop at the first non-digit; demanding digits
  // only and that it consumed the whole string leaves exactly the plain decimal numbers.
  if (text.empty()) return std::nullopt;
  for (char c : text)
    if (c < '0' || c > '9') return std::nullopt;
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;  // overflow
  return value;
}

CLI::Validator whole_number_option(std::function<std::string(long long)> validate,
                                   std::string unit) {
  return CLI::Validator(
      [validate = std::move(validate), unit = std::move(unit)](std::string& text) {
        std::optional<long long> value = whole_number(text);
        if (!value) return fmt::format("not a whole number of {}: '{}'", unit, text);
        if (std::string why = validate(*value); !why.empty()) return why;
        text = std::to_string(*value);
        return std::string();
      },
      "");
}

int parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return -1;
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
    std::string what = e.what();
    while (!what.empty() && what.back() == '\n') what.pop_back();
    fmt::print(stderr, "{}: {}; see {} --help\n", app.get_name(), what, app.get_name());
    return 2;
  }
}

int run_guarded(const std::string& program, const std::function<int()>& body) {
  install_interrupt_handlers();
  try {
    return body();
  } catch (const Interrupted& e) {
    std::cout.flush();
    fmt::print(stderr, "\n{}: {}\n", program, e.what());
    return 130;
  } catch (const std::exception& e) {
    std::cout.flush();
    fmt::print(stderr, "{}: {}\n", program, e.what());
    return 1;
  }
}

}  // namespace lab
