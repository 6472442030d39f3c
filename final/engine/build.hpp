// build: a Dockerfile becomes an image, one instruction at a time, as Docker's legacy builder
// does it (the notes' "each instruction is a container whose changes are committed").
//
// Every step ends with an image (untagged until the last): FROM names the first; RUN runs its
// command in a container made from the current image by the engine's own create/start/wait
// (network none), and commits its rw layer through engine::add_image (commit.cpp); COPY and ADD
// mount the current image's rootfs through the graph driver, copy the context's files in, and
// commit that rw layer; every other instruction changes only the config and adds an
// "empty layer" history row. A step whose parent image, history text (which for COPY and ADD
// names the sha256 of the files copied) and build args are those of an earlier step reuses that
// step's image: <root>/build-cache/<sha256 of the key> holds its id ("---> Using cache").
#pragma once

#include <map>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/containers.hpp"

namespace engine {

struct BuildRequest {
  std::string context;                            // DIR
  std::string dockerfile;                         // -f; "" is DIR/Dockerfile
  std::vector<std::string> tags;                  // -t NAME[:TAG], repeatable
  std::map<std::string, std::string> build_args;  // --build-arg KEY=VALUE
  bool no_cache = false;
  bool quiet = false;  // -q: only the id, at the end
};

// A step that failed the way Docker reports without "Error: " ("The command '/bin/sh -c false'
// returned a non-zero code: 1"); the CLI exits 1, the daemon sends `code` (the command's exit
// code) in its errorDetail, as dockerd does, and the docker client exits with it.
struct BuildFailure : std::runtime_error {
  BuildFailure(const std::string& what, int code_) : std::runtime_error(what), code(code_) {}
  int code;
};

// What build refuses before any work, in its words (a bad -t, a context that is no directory,
// "Cannot locate specified Dockerfile: PATH"); returns the Dockerfile's path. The CLI's client
// checks the same before it sends a context to a daemon.
std::string check_build_request(const BuildRequest& request);

// Runs the build, writing the legacy builder's lines to `out` ("Step 2/5 : RUN ...",
// " ---> Using cache", " ---> <12 hex>", "Successfully built <12 hex>", "Successfully tagged
// NAME:TAG"); with quiet, nothing. Returns the image id ("sha256:<hex>").
std::string build(const Paths& paths, const BuildRequest& request, std::ostream& out);

}  // namespace engine
