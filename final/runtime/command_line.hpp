// The runtime's command line: runc's verbs and global flags (runc(8)).
#pragma once

#include <string>

namespace runtime {

// `minirunc [global flags] VERB ...`: runc's grammar; `program` names us in messages.
int main(const std::string& program, int argc, char** argv);

// `minidocker runtime VERB ...` (and, later, the engine's verbs).
int minidocker_main(int argc, char** argv);

}  // namespace runtime
