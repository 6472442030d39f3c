// The container routes' pure half (final/daemon/routes_containers.cpp): Docker's request bodies
// turned into the engine's requests, and Docker's stream framing. No I/O here, so the unit tests
// check it table by table.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/containers.hpp"
#include "engine/files.hpp"
#include "engine/volumes.hpp"

namespace api {

// Docker's strslice: a JSON array of strings, or one string, or null.
std::vector<std::string> strings_of(const nlohmann::json& value);

// The client's environment is resolved by the client: "KEY=VALUE" comes as it is, and a "KEY"
// alone names a variable the client did not have. The engine would look a bare KEY up in its
// own environment, which here is the daemon's: such entries are dropped.
std::vector<std::string> client_env(const nlohmann::json& value);

// 1500000000 nano-CPUs -> "1.5", the --cpus text the engine parses.
std::string cpus_text(int64_t nano);

// POST /containers/create's body (Config + HostConfig) as the flags of `minidocker create` would
// give it: the same request, so the container is the same whichever way it was made. Throws
// lab::UserError for what the CLI refuses (Privileged) and what the engine cannot do (a restart
// policy).
engine::CreateRequest create_request(const nlohmann::json& body, const std::string& name);

// One of HostConfig.Mounts ({"Type", "Source", "Target", "ReadOnly", "BindOptions":
// {"Propagation"}, "VolumeOptions": {"NoCopy"}, "TmpfsOptions": {"SizeBytes", "Mode"}}) as the
// --mount flag that says the same (engine::parse_mount_spec reads it); and back, for the client.
// Mode is Go's os.FileMode: the sticky bit is 1<<20, not 01000.
std::string mount_flag(const nlohmann::json& mount);
nlohmann::json mount_json(const engine::MountSpec& mount);

// The other way, for our own client (`minidocker -H ... run`): the body Docker's CLI would send
// for these flags, so that create_request() on the daemon's side gives the same request back.
// -e KEY alone must be resolved by the caller (it is the client's environment); the limits go
// as numbers (--memory 64m is 67108864), so a value the CLI would refuse is refused here with
// its words; --mount goes as HostConfig.Mounts. --env-file must have been read by the caller
// (exec::resolve_env into env): lab::UserError otherwise.
nlohmann::json create_body(const engine::CreateRequest& request);

// "busybox" -> "busybox:latest": the reference as Docker's daemon names it in "No such image".
std::string with_default_tag(const std::string& ref);

// Docker's 8-byte header before each piece of output when stdout and stderr share a hijacked
// connection (no pty): [1 (stdout) or 2 (stderr), 0, 0, 0, the size as a big-endian uint32].
// `stream` is the monitor's '1' or '2' (monitor/attach_protocol.hpp).
std::string frame(char stream, std::string_view payload);

// Go's os.FileMode of a st_mode, which Docker's stat carries: the permission bits and Go's own
// type bits (ModeDir 1<<31, ModeSymlink 1<<27, ModeDevice 1<<26, ...), not the kernel's S_IFMT.
uint32_t go_file_mode(uint32_t st_mode);
// The X-Docker-Container-Path-Stat header of the archive routes (docker cp reads it before it
// copies): base64 of {"name", "size", "mode", "mtime", "linkTarget"}.
std::string path_stat_header(const engine::PathStat& stat);
// The same header read back by our client (cp through a daemon): what kind of path it is.
struct PathStatHeader {
  std::string name, link_target;
  bool is_dir = false, is_symlink = false;
  uint32_t permissions = 0;  // the kernel's 07777 bits (from Go's, whose setuid is 1<<23 ...)
};
std::optional<PathStatHeader> parse_path_stat_header(const std::string& header);

}  // namespace api
