// What every lesson's main() shares: the output options and one-line error reporting.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

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

// Parses the command line. --help prints and exits 0; a bad option prints one line
// "<program>: <what is wrong>; see <program> --help" and exits 2.
// Returns -1 when the program should go on, or the exit code to return.
int parse_command_line(CLI::App& app, int argc, char** argv);

// Runs a lesson: installs the Ctrl-C handlers, and turns any error into one line on stderr
// "<program>: <message>" with exit 1 (130 on Ctrl-C). Everything created is released by its owner
// object on the way out.
int run_guarded(const std::string& program, const std::function<int()>& body);

}  // namespace lab
