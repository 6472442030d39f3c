// linux.seccomp, compiled once. libseccomp needs some 15 ms to turn Docker's default profile
// (about 350 system call names for 3 architectures) into BPF: half of what a container's start
// cost before this cache. The program depends only on the profile, on libseccomp (its system
// call tables) and on the kernel (libseccomp's API level says which actions it may emit), so the
// first create with a profile compiles it and keeps the program under the runtime's root; the
// next ones read it back and hand it to seccomp(2) themselves. crun and podman keep such caches.
//
//   <root>/@seccomp-cache/<16 hex digits>.bpf   (no container ID has an "@": runc's rule)
//
// A file holds its whole key (not only a hash of it) before the program: a file of another
// profile, libseccomp or kernel, a truncated one, or a hash collision is a miss, never a wrong
// filter. The files are written next to their name and renamed, so a reader sees none or all.
#pragma once

#include <linux/filter.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runtime::seccomp_cache {

// What the program depends on, as text: libseccomp's version and API level, the kernel's
// release, and the profile (nlohmann's dump: object keys sorted, so equal JSON gives equal text).
std::string key(const nlohmann::json& seccomp);

// Pure: the file for a key and its program, and back. decode() gives nullopt unless the file
// holds exactly this key and a program of 1 to BPF_MAXINSNS whole instructions.
std::string encode(const std::string& key, const std::vector<sock_filter>& program);
std::optional<std::vector<sock_filter>> decode(std::string_view file, const std::string& key);

// The file a key goes to under `root`.
std::string path(const std::string& root, const std::string& key);

// The BPF program of `seccomp` (already validated by the spec's parser): from the cache when it
// holds this key, otherwise compiled with libseccomp (errors as lab::seccomp::compile's) and
// stored for the next container.
std::vector<sock_filter> program(const std::string& root, const nlohmann::json& seccomp);

}  // namespace runtime::seccomp_cache
