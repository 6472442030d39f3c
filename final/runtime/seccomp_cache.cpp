#include "runtime/seccomp_cache.hpp"

#include <fmt/format.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "error.hpp"
#include "fd.hpp"
#include "seccomp.hpp"

namespace runtime::seccomp_cache {

namespace {

constexpr std::string_view kMagic = "minidocker seccomp bpf 1\n";

// The header every file starts with: the magic, the key's length, the key.
std::string header(const std::string& key) {
  return fmt::format("{}{}\n{}", kMagic, key.size(), key);
}

}  // namespace

std::string key(const nlohmann::json& seccomp) {
  const scmp_version* v = seccomp_version();
  struct utsname u {};
  lab::check(::uname(&u), "uname()");
  return fmt::format("libseccomp {}.{}.{} api {}\nkernel {}\n{}", v->major, v->minor, v->micro,
                     seccomp_api_get(), u.release, seccomp.dump());
}

std::string encode(const std::string& key, const std::vector<sock_filter>& program) {
  std::string out = header(key);
  out.append(reinterpret_cast<const char*>(program.data()), program.size() * sizeof(sock_filter));
  return out;
}

std::optional<std::vector<sock_filter>> decode(std::string_view file, const std::string& key) {
  std::string head = header(key);
  if (!file.starts_with(head)) return std::nullopt;
  std::string_view body = file.substr(head.size());
  if (body.empty() || body.size() % sizeof(sock_filter) != 0 ||
      body.size() / sizeof(sock_filter) > BPF_MAXINSNS)
    return std::nullopt;
  std::vector<sock_filter> program(body.size() / sizeof(sock_filter));
  std::memcpy(program.data(), body.data(), body.size());
  return program;
}

std::string path(const std::string& root, const std::string& key) {
  // std::hash only picks the file; decode() compares the whole key.
  return fmt::format("{}/@seccomp-cache/{:016x}.bpf", root, std::hash<std::string>{}(key));
}

std::vector<sock_filter> program(const std::string& root, const nlohmann::json& seccomp) {
  const std::string k = key(seccomp);
  const std::string file = path(root, k);
  if (auto cached = decode(lab::read_file_or_empty(file), k)) return *std::move(cached);

  std::vector<sock_filter> compiled = lab::seccomp::export_bpf(lab::seccomp::compile(seccomp));
  std::string dir = root + "/@seccomp-cache";
  if (::mkdir(dir.c_str(), 0700) == -1 && errno != EEXIST)
    lab::check(-1, [&] { return fmt::format("mkdir(\"{}\", 0700)", dir); });
  // Two creates may compile the same profile at once: each writes its own file, and the last
  // rename wins with the same content.
  std::string tmp = fmt::format("{}.{}.tmp", file, ::getpid());
  try {
    lab::create_file(tmp, encode(k, compiled), 0600);
    lab::check(::rename(tmp.c_str(), file.c_str()),
               [&] { return fmt::format("rename(\"{}\", \"{}\")", tmp, file); });
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  return compiled;
}

}  // namespace runtime::seccomp_cache
