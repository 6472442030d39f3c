// minirunc: the runtime alone, under runc's command line (`minirunc [global flags] VERB ...`),
// for the engine and for tools such as podman that call `RUNTIME create --bundle DIR ... ID`.
//
// The same verbs are `minidocker runtime VERB`, but the engine calls the runtime three times per
// container (create, start, delete): this static program of the runtime's own code starts in
// about a millisecond, where minidocker, which loads its shared libraries (archives, crypto,
// netlink...), takes about seven. runc is apart from dockerd for the same reason.
#include "runtime/command_line.hpp"

int main(int argc, char** argv) { return runtime::main("minirunc", argc, argv); }
