// What every lesson's main() shares: the output options and one-line error reporting.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "narrator.hpp"

namespace lab {

struct OutputOptions {
  bool json = false;
  bool quiet = false;
  OutputMode mode() const {
    return json ? OutputMode::json : quiet ? OutputMode::quiet : OutputMode::human;
  }
};

// Adds --json and --quiet with their help text.
void add_output_options(CLI::App& app, OutputOptions& options);

// A single-value option given twice takes its last value, as Go's flag packages do (pflag under
// Docker's CLI, the standard flag package under runc's urfave/cli): `-c 512 --cpu-shares=256` is
// 256, where CLI11's default refuses the second ("At Most 1 required but received 2"). A list
// option (a std::vector: -e, -v, --cap-add) still collects every value. Call it on the top App
// before any option or subcommand is added: CLI11 copies the defaults into each as it is made.
void last_value_wins(CLI::App& app);

// Parses the command line. --help prints and exits 0; a bad option prints one line
// "<program>: <what is wrong>; see <program> --help" and exits 2.
// Returns -1 when the program should go on, or the exit code to return.
int parse_command_line(CLI::App& app, int argc, char** argv);

// A whole number as a person types it in decimal: digits only, so "020000" is 20000 (not octal).
// Refused (nullopt): "", a sign ("+5", "-5"), spaces, "1e4", "0x5000", "20000abc", "1.5" and
// anything above the largest long long. std::stoll and CLI11's own conversion (strtoll with base
// 0) would read "1e4" as 1, "0x5000" as 20480 and "020000" as 8192.
std::optional<long long> whole_number(std::string_view text);

// For CLI11: `->transform(lab::whole_number_option(validate, "microseconds"))` on an option read
// into a long long. Refuses what whole_number refuses ("not a whole number of microseconds: 1e4"),
// then what `validate` refuses (its message, "" when it accepts), and hands CLI11 the number in
// plain decimal, so CLI11's conversion cannot read it differently.
CLI::Validator whole_number_option(std::function<std::string(long long)> validate,
                                   std::string unit);

// Runs a lesson: installs the Ctrl-C handlers, and turns any error into one line on stderr
// "<program>: <message>" with exit 1 (130 on Ctrl-C). Everything created is released by its owner
// object on the way out.
int run_guarded(const std::string& program, const std::function<int()>& body);

}  // namespace lab
