// `runtime spec`: a config.json to start from, with Docker's defaults rather than runc's bare
// ones: Docker's capability set, its masked and read-only /proc paths, no_new_privs, and its
// default seccomp profile (see seccomp_default.hpp for what it holds).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace runtime {

nlohmann::json default_spec();

// Writes <bundle>/config.json; refused if one is there already (as runc does).
void write_default_spec(const std::string& bundle);

}  // namespace runtime
