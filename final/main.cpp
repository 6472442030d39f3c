// minidocker: the lessons combined into a small Docker (see README.md beside this file).
//
// One binary with modes, as Docker's client and daemon were one executable in the notes:
//   minidocker runtime <verb> ...   the OCI runtime (our libcontainer): create, start, state, ...
//   minirunc <verb> ...             the same runtime under runc's own command line, for tools
//                                   such as podman that call `RUNTIME [global flags] create ...`
// The name we are called by picks the grammar, as busybox does.

#include <cstring>
#include <string_view>

#include "runtime/command_line.hpp"

int main(int argc, char** argv) {
  std::string_view called = argv[0];
  if (auto slash = called.rfind('/'); slash != std::string_view::npos) {
    called.remove_prefix(slash + 1);
  }
  if (called == "minirunc") return runtime::main("minirunc", argc, argv);
  return runtime::minidocker_main(argc, argv);
}
