// common/seccomp and final/runtime/seccomp_default: the OCI linux.seccomp object's validation,
// the filter compile, and (in forked children, no root needed thanks to no_new_privs) what a
// loaded filter really does to mkdir, unshare, mount, keyctl, clone3 and a busybox shell.
#include "seccomp.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "capabilities.hpp"
#include "in_child.hpp"
#include "mount.hpp"
#include "process_limits.hpp"
#include "runtime/seccomp_default.hpp"

namespace {

using nlohmann::json;

json deny_mkdir() {
  return json::parse(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
  })");
}

TEST(SeccompValidate, TheReasonNamesWhatIsWrong) {
  struct Row {
    const char* spec;
    const char* reason;
  };
  const Row table[] = {
      {R"({"defaultAction": "SCMP_ACT_ALLOW"})", ""},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "flags": [],
           "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_KILL_PROCESS"},
                        {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                         "args": [{"index": 0, "value": 2114060288, "valueTwo": 0,
                                   "op": "SCMP_CMP_MASKED_EQ"}]},
                        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]})",
       ""},
      // Go writes nil slices as null.
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": null, "flags": null,
           "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": null,
                         "errnoRet": null}]})",
       ""},
      {R"([])", "linux.seccomp must be an object"},
      {R"({})", "linux.seccomp.defaultAction is required"},
      {R"({"defaultAction": "SCMP_ACT_DENY"})",
       "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_DENY\""},
      {R"({"defaultAction": "SCMP_ACT_NOTIFY"})",
       "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not supported (it needs a seccomp "
       "listener process; use SCMP_ACT_ERRNO or SCMP_ACT_TRACE)"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1})",
       "linux.seccomp.defaultAction: errnoRet is only valid with SCMP_ACT_ERRNO or "
       "SCMP_ACT_TRACE, not SCMP_ACT_ALLOW"},
      {R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1})",
       "linux.seccomp.defaultAction: errnoRet must be a non-negative integer"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]})",
       "linux.seccomp.architectures: unknown architecture \"SCMP_ARCH_Z80\""},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/l.sock"})",
       "linux.seccomp.listenerPath is not supported (no seccomp notify listener)"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]})",
       "linux.seccomp.flags [\"SECCOMP_FILTER_FLAG_LOG\"] are not supported"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "archMap": []})",
       "unknown key \"archMap\" in linux.seccomp"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": []}]})",
       "linux.seccomp.syscalls[0].names must be a non-empty array of system call names"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"]}]})",
       "linux.seccomp.syscalls[0].action is required"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                         "includes": {"caps": ["CAP_SYS_ADMIN"]}}]})",
       "linux.seccomp.syscalls[0]: unknown key \"includes\""},
      {R"({"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
                        {"names": ["rmdir"], "action": "SCMP_ACT_NOTIFY"}]})",
       "linux.seccomp.syscalls[1]: SCMP_ACT_NOTIFY is not supported (it needs a seccomp listener "
       "process; use SCMP_ACT_ERRNO or SCMP_ACT_TRACE)"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                         "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]})",
       "linux.seccomp.syscalls[0].args[0]: index 6 is not an argument (system calls take 6: "
       "0..5)"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_APPROX"}]}]})",
       "linux.seccomp.syscalls[0].args[0]: unknown op \"SCMP_CMP_APPROX\""},
      {R"({"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                         "args": [{"index": 0, "value": "1", "op": "SCMP_CMP_EQ"}]}]})",
       "linux.seccomp.syscalls[0].args[0].value must be a non-negative integer"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_LOG", "errnoRet": 1}]})",
       "linux.seccomp.syscalls[0]: errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, "
       "not SCMP_ACT_LOG"},
  };
  for (const auto& row : table)
    EXPECT_EQ(lab::seccomp::validate(json::parse(row.spec)), row.reason) << row.spec;
}

TEST(SeccompValidate, EveryOciActionArchitectureAndOpIsKnown) {
  for (const char* a :
       {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG"})
    EXPECT_EQ(lab::seccomp::validate({{"defaultAction", a}}), "") << a;
  for (const char* arch :
       {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
        "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
        "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
        "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64"})
    EXPECT_NE(lab::seccomp::arch_value(arch), 0u) << arch;
  const std::pair<const char*, scmp_compare> ops[] = {{"SCMP_CMP_NE", SCMP_CMP_NE},
                                                      {"SCMP_CMP_LT", SCMP_CMP_LT},
                                                      {"SCMP_CMP_LE", SCMP_CMP_LE},
                                                      {"SCMP_CMP_EQ", SCMP_CMP_EQ},
                                                      {"SCMP_CMP_GE", SCMP_CMP_GE},
                                                      {"SCMP_CMP_GT", SCMP_CMP_GT},
                                                      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
  for (const auto& [name, op] : ops) EXPECT_EQ(lab::seccomp::op_value(name), op) << name;
}

TEST(SeccompActions, ValuesAndTheirNames) {
  struct Row {
    const char* name;
    json errno_ret;
    uint32_t value;
    const char* text;
  };
  const Row table[] = {
      {"SCMP_ACT_ERRNO", nullptr, SCMP_ACT_ERRNO(EPERM), "ERRNO(1)"},
      {"SCMP_ACT_ERRNO", 38, SCMP_ACT_ERRNO(38), "ERRNO(38)"},
      {"SCMP_ACT_TRACE", nullptr, SCMP_ACT_TRACE(EPERM), "TRACE(1)"},
      {"SCMP_ACT_KILL", nullptr, SCMP_ACT_KILL_THREAD, "KILL_THREAD"},
      {"SCMP_ACT_KILL_THREAD", nullptr, SCMP_ACT_KILL_THREAD, "KILL_THREAD"},
      {"SCMP_ACT_KILL_PROCESS", nullptr, SCMP_ACT_KILL_PROCESS, "KILL_PROCESS"},
      {"SCMP_ACT_TRAP", nullptr, SCMP_ACT_TRAP, "TRAP"},
      {"SCMP_ACT_LOG", nullptr, SCMP_ACT_LOG, "LOG"},
      {"SCMP_ACT_ALLOW", nullptr, SCMP_ACT_ALLOW, "ALLOW"},
  };
  for (const auto& row : table) {
    uint32_t v = lab::seccomp::action_value(row.name, row.errno_ret);
    EXPECT_EQ(v, row.value) << row.name;
    EXPECT_EQ(lab::seccomp::action_to_string(v), row.text) << row.name;
  }
  EXPECT_THROW(lab::seccomp::action_value("SCMP_ACT_NOTIFY"), lab::UserError);
}

TEST(SeccompCompile, NamesLibseccompDoesNotKnowAreSkippedAndListed) {
  json spec = json::parse(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "no_such_call", "_llseek", "no_such_call"],
                  "action": "SCMP_ACT_ERRNO"}]
  })");
  EXPECT_EQ(lab::seccomp::unknown_syscalls(spec), std::vector<std::string>{"no_such_call"});
  lab::seccomp::Filter f = lab::seccomp::compile(spec);
  EXPECT_EQ(f.rules_added, 2);  // mkdir, and _llseek (for the i386 table if it were added)
  EXPECT_EQ(f.rules_skipped, 2);
}

TEST(SeccompCompile, RulesWithTheDefaultActionAreSkipped) {
  json spec = json::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
                 {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2},
                 {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]
  })");
  lab::seccomp::Filter f = lab::seccomp::compile(spec);
  EXPECT_EQ(f.rules_added, 2);
  EXPECT_EQ(f.rules_skipped, 1);
  std::string pfc = lab::seccomp::export_pfc(f);
  EXPECT_NE(pfc.find("ERRNO(2)"), std::string::npos) << pfc;
}

TEST(SeccompCompile, TwoComparisonsOfOneArgumentBecomeTwoRules) {
  json spec = json::parse(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                  "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                           {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["socket"], "action": "SCMP_ACT_ERRNO",
                  "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"},
                           {"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]}]
  })");
  lab::seccomp::Filter f = lab::seccomp::compile(spec);
  EXPECT_EQ(f.rules_added, 3);
}

TEST(SeccompCompile, AnInvalidObjectIsAUserError) {
  try {
    lab::seccomp::compile({{"defaultAction", "SCMP_ACT_NOTIFY"}});
    FAIL() << "SCMP_ACT_NOTIFY must be refused";
  } catch (const lab::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("SCMP_ACT_NOTIFY is not supported"), std::string::npos);
  }
}

TEST(SeccompCompile, LibseccompsRefusalNamesTheCall) {
  // errno values stop at 4095 (MAX_ERRNO); libseccomp refuses a larger one with EINVAL.
  json spec = json::parse(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}]
  })");
  try {
    lab::seccomp::compile(spec);
    FAIL() << "libseccomp accepted errno 5000";
  } catch (const lab::SyscallError& e) {
    EXPECT_EQ(e.call(), "seccomp_rule_add(ERRNO(5000), \"mkdir\", 0)");
    EXPECT_EQ(e.code().value(), EINVAL);
  }
}

// --- the default profile -----------------------------------------------------------------

TEST(DockerDefaultSeccomp, ValidatesAndCompiles) {
  json profile = runtime::docker_default_seccomp();
  EXPECT_EQ(lab::seccomp::validate(profile), "");
  EXPECT_EQ(profile["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(profile["defaultErrnoRet"], 1);
  EXPECT_EQ(profile["architectures"], json({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  std::vector<std::string> unknown = lab::seccomp::unknown_syscalls(profile);
  // Names newer than this libseccomp are skipped at compile time (and so denied). Say which.
  std::string list;
  for (const auto& n : unknown) list += n + " ";
  RecordProperty("unknown_syscalls", list);
  std::cout << "[ info     ] libseccomp " << seccomp_version()->major << '.'
            << seccomp_version()->minor << '.' << seccomp_version()->micro << " does not know "
            << unknown.size() << " of the profile's names: " << list << '\n';
  lab::seccomp::Filter f = lab::seccomp::compile(profile);
  EXPECT_GT(f.rules_added, 300);
  EXPECT_EQ(static_cast<size_t>(f.rules_skipped), unknown.size());
}

TEST(DockerDefaultSeccomp, CapabilitiesDecideTheConditionalRules) {
  auto names_allowed = [](const json& profile) {
    std::vector<std::string> out;
    for (const auto& rule : profile["syscalls"]) {
      if (rule["action"] == "SCMP_ACT_ALLOW" && !rule.contains("args"))
        for (const auto& n : rule["names"]) out.push_back(n.get<std::string>());
    }
    return out;
  };
  auto has = [](const std::vector<std::string>& v, const char* name) {
    return std::find(v.begin(), v.end(), name) != v.end();
  };
  auto plain = names_allowed(runtime::docker_default_seccomp());
  for (const char* denied :
       {"mount", "umount2", "unshare", "setns", "bpf", "keyctl", "add_key", "reboot", "init_module",
        "settimeofday", "open_by_handle_at", "clone", "clone3", "kcmp", "syslog"})
    EXPECT_FALSE(has(plain, denied)) << denied;
  for (const char* allowed : {"chroot", "mkdir", "execve", "ptrace", "arch_prctl", "fork"})
    EXPECT_TRUE(has(plain, allowed)) << allowed;

  auto caps = lab::caps::docker_default();
  caps.push_back("CAP_SYS_ADMIN");
  json admin = runtime::docker_default_seccomp(caps);
  auto with_admin = names_allowed(admin);
  for (const char* allowed : {"mount", "unshare", "setns", "clone", "clone3"})
    EXPECT_TRUE(has(with_admin, allowed)) << allowed;
  for (const auto& rule : admin["syscalls"])
    EXPECT_NE(rule["names"][0], "clone3") << "clone3's ENOSYS rule is for non-admins: " << rule;
  EXPECT_EQ(lab::seccomp::validate(admin), "");
  EXPECT_NO_THROW(lab::seccomp::compile(admin));
}

// --- loaded filters, in forked children ---------------------------------------------------

TEST(SeccompInChild, MkdirDeniedWithEperm) {
  lab::TempDir dir("/tmp/lab-seccomp-");
  lab::seccomp::Filter filter = lab::seccomp::compile(deny_mkdir());
  std::string target = dir.path() + "/denied";
  std::string problem = lab_test::in_child([&] {
    lab::limits::set_no_new_privileges_in_child();  // lets a filter load without CAP_SYS_ADMIN
    lab::seccomp::load_in_child(filter);
    long rc = ::syscall(SYS_mkdir, target.c_str(), 0755);
    if (rc != -1 || errno != EPERM) return fmt::format("mkdir returned {} errno {}", rc, errno);
    rc = ::syscall(SYS_mkdirat, AT_FDCWD, target.c_str(), 0755);
    if (rc != -1 || errno != EPERM) return fmt::format("mkdirat returned {} errno {}", rc, errno);
    if (::syscall(SYS_getpid) <= 0) return std::string("getpid was denied too");
    return std::string();
  });
  EXPECT_EQ(problem, "");
  struct stat st {};
  EXPECT_NE(::stat(target.c_str(), &st), 0) << "the directory must not exist";
}

TEST(SeccompInChild, ErrnoRetIsTheErrnoSeen) {
  json spec = deny_mkdir();
  spec["syscalls"][0]["errnoRet"] = ENOSPC;
  lab::seccomp::Filter filter = lab::seccomp::compile(spec);
  lab::TempDir dir("/tmp/lab-seccomp-");
  std::string target = dir.path() + "/denied";
  std::string problem = lab_test::in_child([&] {
    lab::limits::set_no_new_privileges_in_child();
    lab::seccomp::load_in_child(filter);
    long rc = ::syscall(SYS_mkdir, target.c_str(), 0755);
    return rc == -1 && errno == ENOSPC ? std::string()
                                       : fmt::format("mkdir returned {} errno {}", rc, errno);
  });
  EXPECT_EQ(problem, "");
}

TEST(SeccompInChild, LoadingWithoutNoNewPrivsNeedsCapSysAdmin) {
  lab::seccomp::Filter filter = lab::seccomp::compile(deny_mkdir());
  std::string problem = lab_test::in_child([&] {
    lab::caps::apply_in_child({.effective = {}, .permitted = {}});  // no capabilities at all
    try {
      lab::seccomp::load_in_child(filter);
    } catch (const lab::SyscallError& e) {
      std::string what = e.what();
      return e.code().value() == EACCES && what.find("no_new_privs") != std::string::npos
                 ? std::string()
                 : what;
    }
    return std::string("the filter loaded without no_new_privs or CAP_SYS_ADMIN");
  });
  EXPECT_EQ(problem, "");
}

TEST(DockerDefaultSeccompInChild, NamespacesMountsAndKeysAreDenied) {
  lab::seccomp::Filter filter = lab::seccomp::compile(runtime::docker_default_seccomp());
  std::string problem = lab_test::in_child([&] {
    lab::limits::set_no_new_privileges_in_child();
    lab::seccomp::load_in_child(filter);
    std::string out;
    auto expect_errno = [&](const char* what, long rc, int want) {
      if (rc != -1 || errno != want)
        out += fmt::format("{} returned {} errno {} (wanted {}); ", what, rc, errno, want);
    };
    expect_errno("unshare(CLONE_NEWNS)", ::syscall(SYS_unshare, CLONE_NEWNS), EPERM);
    expect_errno("mount", ::syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, nullptr), EPERM);
    expect_errno("umount2", ::syscall(SYS_umount2, "/tmp", MNT_DETACH), EPERM);
    expect_errno("keyctl", ::syscall(SYS_keyctl, 0, 0, 0, 0, 0), EPERM);
    expect_errno("add_key", ::syscall(SYS_add_key, "user", "lab", "x", 1, 0), EPERM);
    expect_errno("setns", ::syscall(SYS_setns, 0, 0), EPERM);
    expect_errno("clone(CLONE_NEWUSER)", ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0),
                 EPERM);
    expect_errno("clone3", ::syscall(SYS_clone3, nullptr, 0), ENOSYS);
    expect_errno("socket(AF_VSOCK)", ::syscall(SYS_socket, 40, SOCK_STREAM, 0), EPERM);
    expect_errno("personality(READ_IMPLIES_EXEC)", ::syscall(SYS_personality, READ_IMPLIES_EXEC),
                 EPERM);
    if (::syscall(SYS_personality, 0xffffffffUL) == -1) out += "personality(query) denied; ";
    // Plain fork (clone without CLONE_NEW*) is allowed.
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(3);
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 3)
      out += fmt::format("fork under the profile failed (errno {}); ", errno);
    return out;
  });
  EXPECT_EQ(problem, "");
}

TEST(DockerDefaultSeccompInChild, BusyboxShellRunsUnderIt) {
  std::string busybox = std::string(LAB_PROJECT_DIR) + "/build/rootfs/bin/busybox";
  if (::access(busybox.c_str(), X_OK) != 0) GTEST_SKIP() << "no busybox rootfs (make rootfs)";
  lab::TempDir dir("/tmp/lab-seccomp-");
  lab::seccomp::Filter filter = lab::seccomp::compile(runtime::docker_default_seccomp());
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string script = fmt::format(
      "cd {} && mkdir made && ls && echo hi > made/f && cat made/f && rm -r made && "
      "if {} unshare -m true 2>/dev/null; then echo unshare-worked; fi; "
      "if {} mount -t tmpfs none . 2>/dev/null; then echo mount-worked; fi; echo end",
      dir.path(), busybox, busybox);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      lab::limits::set_no_new_privileges_in_child();
      lab::seccomp::load_in_child(filter);
      ::execl(busybox.c_str(), "sh", "-c", script.c_str(), nullptr);
    } catch (...) {
    }
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[256];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_EQ(out, "made\nhi\nend\n");
}

}  // namespace
