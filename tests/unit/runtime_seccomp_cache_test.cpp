// final/runtime/seccomp_cache and common/seccomp's export_bpf / load_bpf_in_child: a profile is
// compiled once, its BPF kept under the runtime's root, and the program read back must judge
// system calls exactly as the libseccomp filter it came from (checked in forked children).
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "fd.hpp"
#include "in_child.hpp"
#include "mount.hpp"
#include "process_limits.hpp"
#include "runtime/seccomp_cache.hpp"
#include "runtime/seccomp_default.hpp"
#include "seccomp.hpp"

namespace {

using nlohmann::json;

json deny_mkdir() {
  return json::parse(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
  })");
}

// A one-instruction program: "return ALLOW" for every call.
std::vector<sock_filter> allow_all() { return {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)}; }

bool same(const std::vector<sock_filter>& a, const std::vector<sock_filter>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(sock_filter)) == 0);
}

}  // namespace

TEST(SeccompCacheFile, DecodeTakesOnlyItsOwnKeyAndWholeInstructions) {
  const std::vector<sock_filter> program = allow_all();
  const std::string file = runtime::seccomp_cache::encode("key", program);
  struct Case {
    const char* what;
    std::string file;
    std::string key;
    bool hit;
  };
  const Case cases[] = {
      {"the same key", file, "key", true},
      {"another key", file, "kez", false},
      {"a key this one starts with", file, "ke", false},
      {"a key that starts with this one", file, "key2", false},
      {"half an instruction more", file + "abcd", "key", false},
      {"the last instruction cut", file.substr(0, file.size() - 1), "key", false},
      {"no program", runtime::seccomp_cache::encode("key", {}), "key", false},
      {"an empty file", "", "key", false},
      {"too long a program",
       runtime::seccomp_cache::encode("key", std::vector<sock_filter>(BPF_MAXINSNS + 1)), "key",
       false},
  };
  for (const Case& c : cases) {
    auto decoded = runtime::seccomp_cache::decode(c.file, c.key);
    EXPECT_EQ(decoded.has_value(), c.hit) << c.what;
    if (decoded && c.hit) {
      EXPECT_TRUE(same(*decoded, program)) << c.what;
    }
  }
}

TEST(SeccompCacheFile, TheKeyIsTheProfileNotItsSpelling) {
  json a = json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []})");
  json b = json::parse(R"({"syscalls": [], "defaultAction": "SCMP_ACT_ALLOW"})");
  json c = json::parse(R"({"defaultAction": "SCMP_ACT_LOG", "syscalls": []})");
  EXPECT_EQ(runtime::seccomp_cache::key(a), runtime::seccomp_cache::key(b));
  EXPECT_NE(runtime::seccomp_cache::key(a), runtime::seccomp_cache::key(c));
  EXPECT_NE(runtime::seccomp_cache::key(a).find("libseccomp "), std::string::npos);
  EXPECT_NE(runtime::seccomp_cache::key(a).find("kernel "), std::string::npos);
}

TEST(SeccompCache, CompiledOnceThenReadBack) {
  lab::TempDir root("/tmp/lab-seccomp-cache-");
  const json profile = deny_mkdir();
  const std::string key = runtime::seccomp_cache::key(profile);
  const std::string file = runtime::seccomp_cache::path(root.path(), key);

  const std::vector<sock_filter> compiled = runtime::seccomp_cache::program(root.path(), profile);
  EXPECT_TRUE(same(compiled, lab::seccomp::export_bpf(lab::seccomp::compile(profile))));
  auto stored = runtime::seccomp_cache::decode(lab::read_file(file), key);
  ASSERT_TRUE(stored.has_value()) << file;
  EXPECT_TRUE(same(*stored, compiled));
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600U);

  // The next call reads the file: a program put there under the same key is what it returns.
  lab::create_file(file, runtime::seccomp_cache::encode(key, allow_all()), 0600);
  EXPECT_TRUE(same(runtime::seccomp_cache::program(root.path(), profile), allow_all()));

  // A damaged file is a miss: compiled again, and the file mended.
  lab::create_file(file, "minidocker seccomp bpf 1\ngarbage", 0600);
  EXPECT_TRUE(same(runtime::seccomp_cache::program(root.path(), profile), compiled));
  stored = runtime::seccomp_cache::decode(lab::read_file(file), key);
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(same(*stored, compiled));
}

TEST(SeccompBpfInChild, TheExportedProgramDeniesWhatTheFilterDenies) {
  lab::TempDir dir("/tmp/lab-seccomp-");
  const std::vector<sock_filter> program =
      lab::seccomp::export_bpf(lab::seccomp::compile(deny_mkdir()));
  std::string target = dir.path() + "/denied";
  std::string problem = lab_test::in_child([&] {
    lab::limits::set_no_new_privileges_in_child();
    lab::seccomp::load_bpf_in_child(program);
    long rc = ::syscall(SYS_mkdirat, AT_FDCWD, target.c_str(), 0755);
    if (rc != -1 || errno != EPERM) return fmt::format("mkdirat returned {} errno {}", rc, errno);
    if (::syscall(SYS_getpid) <= 0) return std::string("getpid was denied too");
    return std::string();
  });
  EXPECT_EQ(problem, "");
  struct stat st {};
  EXPECT_NE(::stat(target.c_str(), &st), 0) << "the directory must not exist";
}

TEST(SeccompBpfInChild, DockersDefaultFromTheCacheDeniesUnshare) {
  lab::TempDir root("/tmp/lab-seccomp-cache-");
  const json profile = runtime::docker_default_seccomp();
  runtime::seccomp_cache::program(root.path(), profile);  // compiled and stored
  const std::vector<sock_filter> program = runtime::seccomp_cache::program(root.path(), profile);
  std::string problem = lab_test::in_child([&] {
    lab::limits::set_no_new_privileges_in_child();
    lab::seccomp::load_bpf_in_child(program);
    long rc = ::syscall(SYS_unshare, CLONE_NEWNS);
    if (rc != -1 || errno != EPERM) return fmt::format("unshare returned {} errno {}", rc, errno);
    if (::syscall(SYS_getpid) <= 0) return std::string("getpid was denied");
    return std::string();
  });
  EXPECT_EQ(problem, "");
}

TEST(SeccompBpfInChild, RefusalsNameTheCall) {
  std::string problem = lab_test::in_child([&] {
    try {
      lab::seccomp::load_bpf_in_child({});
      return std::string("an empty program loaded");
    } catch (const lab::UserError& e) {
      if (std::string(e.what()).find("1 to 4096") == std::string::npos)
        return std::string(e.what());
    }
    lab::caps::apply_in_child({.effective = {}, .permitted = {}});  // no CAP_SYS_ADMIN
    try {
      lab::seccomp::load_bpf_in_child(allow_all());
    } catch (const lab::SyscallError& e) {
      std::string what = e.what();
      return e.code().value() == EACCES &&
                     what.find("SECCOMP_SET_MODE_FILTER") != std::string::npos &&
                     what.find("no_new_privs") != std::string::npos
                 ? std::string()
                 : what;
    }
    return std::string("the program loaded without no_new_privs or CAP_SYS_ADMIN");
  });
  EXPECT_EQ(problem, "");
}
