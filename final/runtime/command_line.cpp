#include "command_line.hpp"

#include <CLI/CLI.hpp>

#include "cli.hpp"

namespace runtime {

int main(const std::string& program, int argc, char** argv) {
  CLI::App app{"minirunc: an OCI runtime built from the lessons"};
  app.require_subcommand(1);
  return lab::parse_command_line(app, argc, argv) < 0 ? 0 : 2;
  (void)program;
}

int minidocker_main(int argc, char** argv) { return main("minidocker", argc, argv); }

}  // namespace runtime
