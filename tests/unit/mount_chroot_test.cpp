// Lesson 03's pure logic: reading ELF headers, ld.so.conf, resolving libraries like ld.so does,
// and the small helpers the story uses.
#include "mount_chroot.hpp"

#include <elf.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "ldd.hpp"

namespace {

struct FakeElf {
  bool is_64bit = true;
  std::uint16_t machine = EM_X86_64;
  std::string interpreter;
  std::vector<std::string> needed;
  std::string rpath, runpath, soname;
};

template <typename T>
void put(std::string& image, size_t offset, const T& value) {
  if (image.size() < offset + sizeof(T)) image.resize(offset + sizeof(T));
  std::memcpy(image.data() + offset, &value, sizeof(T));
}

// A minimal ELF image as a linker would lay it out: header, program headers (INTERP, LOAD,
// DYNAMIC), a string table and a dynamic section, all inside one PT_LOAD at a non-zero address.
template <typename Ehdr, typename Phdr, typename Dyn>
std::string build_elf(const FakeElf& f, unsigned char elf_class) {
  constexpr size_t kStrtab = 512, kDynamic = 1024, kInterp = 2048;
  constexpr std::uint64_t kBase = 0x400000;
  std::string image(4096, '\0');
  std::string strtab(1, '\0');
  auto add_string = [&](const std::string& s) {
    size_t at = strtab.size();
    strtab += s;
    strtab += '\0';
    return at;
  };
  std::vector<Dyn> dyn;
  auto add_dyn = [&](std::int64_t tag, std::uint64_t val) {
    Dyn d{};
    d.d_tag = static_cast<decltype(d.d_tag)>(tag);
    d.d_un.d_val = static_cast<decltype(d.d_un.d_val)>(val);
    dyn.push_back(d);
  };
  for (const auto& n : f.needed) add_dyn(DT_NEEDED, add_string(n));
  if (!f.soname.empty()) add_dyn(DT_SONAME, add_string(f.soname));
  if (!f.rpath.empty()) add_dyn(DT_RPATH, add_string(f.rpath));
  if (!f.runpath.empty()) add_dyn(DT_RUNPATH, add_string(f.runpath));
  add_dyn(DT_STRTAB, kBase + kStrtab);
  add_dyn(DT_STRSZ, strtab.size());
  add_dyn(DT_NULL, 0);
  image.replace(kStrtab, strtab.size(), strtab);
  for (size_t i = 0; i < dyn.size(); ++i) put(image, kDynamic + i * sizeof(Dyn), dyn[i]);
  image.replace(kInterp, f.interpreter.size() + 1, f.interpreter.c_str(), f.interpreter.size() + 1);

  std::vector<Phdr> phdrs;
  Phdr load{};
  load.p_type = PT_LOAD;
  load.p_offset = 0;
  load.p_vaddr = kBase;
  load.p_filesz = static_cast<decltype(load.p_filesz)>(image.size());
  Phdr dynamic{};
  dynamic.p_type = PT_DYNAMIC;
  dynamic.p_offset = kDynamic;
  dynamic.p_filesz = static_cast<decltype(dynamic.p_filesz)>(dyn.size() * sizeof(Dyn));
  if (!f.interpreter.empty()) {
    Phdr interp{};
    interp.p_type = PT_INTERP;
    interp.p_offset = kInterp;
    interp.p_filesz = static_cast<decltype(interp.p_filesz)>(f.interpreter.size() + 1);
    phdrs.push_back(interp);
  }
  phdrs.push_back(load);
  phdrs.push_back(dynamic);

  Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = elf_class;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = f.interpreter.empty() ? ET_DYN : ET_EXEC;
  eh.e_machine = f.machine;
  eh.e_phoff = sizeof(Ehdr);
  eh.e_phentsize = sizeof(Phdr);
  eh.e_phnum = static_cast<decltype(eh.e_phnum)>(phdrs.size());
  put(image, 0, eh);
  for (size_t i = 0; i < phdrs.size(); ++i) put(image, sizeof(Ehdr) + i * sizeof(Phdr), phdrs[i]);
  return image;
}

std::string build_elf(const FakeElf& f) {
  return f.is_64bit ? build_elf<Elf64_Ehdr, Elf64_Phdr, Elf64_Dyn>(f, ELFCLASS64)
                    : build_elf<Elf32_Ehdr, Elf32_Phdr, Elf32_Dyn>(f, ELFCLASS32);
}

TEST(Elf, ParsesWhatTheLoaderReads) {
  struct Case {
    const char* what;
    FakeElf elf;
  } cases[] = {
      {"a program",
       {true,
        EM_X86_64,
        "/lib64/ld-linux-x86-64.so.2",
        {"libtinfo.so.6", "libc.so.6"},
        "",
        "",
        ""}},
      {"a library", {true, EM_X86_64, "", {"ld-linux-x86-64.so.2"}, "", "", "libc.so.6"}},
      {"rpath and runpath",
       {true, EM_X86_64, "/lib/ld.so", {"libx.so"}, "/opt/a:/opt/b", "$ORIGIN/../lib", ""}},
      {"a 32-bit program", {false, EM_386, "/lib/ld-linux.so.2", {"libc.so.6"}, "", "", ""}},
      {"an aarch64 library", {true, EM_AARCH64, "", {}, "", "", "libz.so.1"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    ldd::ElfInfo got = ldd::parse_elf(build_elf(c.elf));
    EXPECT_EQ(got.is_64bit, c.elf.is_64bit);
    EXPECT_EQ(got.machine, c.elf.machine);
    EXPECT_EQ(got.interpreter, c.elf.interpreter);
    EXPECT_EQ(got.needed, c.elf.needed);
    EXPECT_EQ(got.soname, c.elf.soname);
  }
  ldd::ElfInfo paths = ldd::parse_elf(build_elf(cases[2].elf));
  EXPECT_EQ(paths.rpath, (std::vector<std::string>{"/opt/a", "/opt/b"}));
  EXPECT_EQ(paths.runpath, (std::vector<std::string>{"$ORIGIN/../lib"}));
}

TEST(Elf, RefusesWhatIsNotElf) {
  std::string good = build_elf({true, EM_X86_64, "/lib/ld.so", {"libc.so.6"}, "", "", ""});
  struct Case {
    const char* what;
    std::string image;
  } cases[] = {
      {"empty", ""},
      {"a script", "#!/bin/sh\necho hi\n"},
      {"truncated after the header", good.substr(0, 70)},
      {"bad class",
       [&] {
         auto s = good;
         s[EI_CLASS] = 7;
         return s;
       }()},
      {"big endian",
       [&] {
         auto s = good;
         s[EI_DATA] = ELFDATA2MSB;
         return s;
       }()},
  };
  for (const auto& c : cases)
    EXPECT_THROW(ldd::parse_elf(c.image), std::invalid_argument) << c.what;
}

TEST(LdSoConf, ParsesDirectoriesAndIncludes) {
  struct Case {
    std::string text;
    std::vector<ldd::ConfLine> want;
  } cases[] = {
      {"include /etc/ld.so.conf.d/*.conf\n", {{true, "/etc/ld.so.conf.d/*.conf"}}},
      {"# libc default configuration\n/usr/local/lib\n", {{false, "/usr/local/lib"}}},
      {"/lib/x86_64-linux-gnu   # multiarch\n\n  /usr/lib/x86_64-linux-gnu/\n",
       {{false, "/lib/x86_64-linux-gnu"}, {false, "/usr/lib/x86_64-linux-gnu"}}},
      {"hwcap 0 nosegneg\n/opt/lib=libc6\n", {{false, "/opt/lib"}}},
      {"include a.conf b.conf\n", {{true, "a.conf"}, {true, "b.conf"}}},
      {"", {}},
  };
  for (const auto& c : cases) EXPECT_EQ(ldd::parse_ld_so_conf(c.text), c.want) << c.text;
}

TEST(LdSoConf, ExpandsOrigin) {
  struct Case {
    const char* dir;
    const char* origin;
    const char* want;
  } cases[] = {
      {"$ORIGIN/../lib", "/opt/app/bin", "/opt/app/bin/../lib"},
      {"${ORIGIN}/lib", "/opt/app", "/opt/app/lib"},
      {"/usr/lib", "/opt/app", "/usr/lib"},
      {"$ORIGIN:$ORIGIN", "/x", "/x:/x"},
  };
  for (const auto& c : cases) EXPECT_EQ(ldd::expand_origin(c.dir, c.origin), c.want) << c.dir;
}

// A fake file system of ELF files for resolve().
struct FakeFs {
  std::map<std::string, ldd::ElfInfo> files;
  ldd::Inspect inspect() const {
    return [this](const std::string& path) -> std::optional<ldd::ElfInfo> {
      auto it = files.find(path);
      if (it == files.end()) return std::nullopt;
      return it->second;
    };
  }
};

ldd::ElfInfo lib(std::string soname, std::vector<std::string> needed = {}, bool is_64bit = true) {
  ldd::ElfInfo e;
  e.is_64bit = is_64bit;
  e.machine = is_64bit ? EM_X86_64 : EM_386;
  e.soname = std::move(soname);
  e.needed = std::move(needed);
  return e;
}

ldd::ElfInfo program(std::vector<std::string> needed) {
  ldd::ElfInfo e = lib("", std::move(needed));
  e.interpreter = "/lib64/ld-linux-x86-64.so.2";
  return e;
}

FakeFs debian_like() {
  FakeFs fs;
  fs.files["/bin/bash"] = program({"libtinfo.so.6", "libc.so.6"});
  fs.files["/bin/ls"] = program({"libselinux.so.1", "libc.so.6"});
  fs.files["/lib64/ld-linux-x86-64.so.2"] = lib("ld-linux-x86-64.so.2");
  fs.files["/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"] = lib("ld-linux-x86-64.so.2");
  fs.files["/lib/x86_64-linux-gnu/libc.so.6"] = lib("libc.so.6", {"ld-linux-x86-64.so.2"});
  fs.files["/lib/x86_64-linux-gnu/libtinfo.so.6"] = lib("libtinfo.so.6", {"libc.so.6"});
  fs.files["/lib/x86_64-linux-gnu/libselinux.so.1"] =
      lib("libselinux.so.1", {"libpcre2-8.so.0", "libc.so.6"});
  fs.files["/lib/x86_64-linux-gnu/libpcre2-8.so.0"] = lib("libpcre2-8.so.0", {"libc.so.6"});
  fs.files["/lib32/libc.so.6"] = lib("libc.so.6", {}, false);
  return fs;
}

TEST(Resolve, FindsWhatLddFinds) {
  FakeFs fs = debian_like();
  const ldd::SearchPath search{{"/usr/local/lib", "/lib/x86_64-linux-gnu"}, {"/lib", "/usr/lib"}};
  struct Case {
    std::vector<std::string> programs;
    std::vector<std::string> want;
  } cases[] = {
      {{"/bin/bash"},
       {"/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libtinfo.so.6",
        "/lib/x86_64-linux-gnu/libc.so.6"}},
      {{"/bin/bash", "/bin/ls"},
       {"/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/libtinfo.so.6",
        "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libselinux.so.1",
        "/lib/x86_64-linux-gnu/libpcre2-8.so.0"}},
  };
  for (const auto& c : cases) {
    ldd::Resolution got = ldd::resolve(c.programs, search, fs.inspect());
    // libc's own DT_NEEDED "ld-linux-x86-64.so.2" is the loader, already loaded by its soname:
    // it must not appear a second time from /lib/x86_64-linux-gnu.
    EXPECT_EQ(got.all(), c.want);
    EXPECT_TRUE(got.missing.empty());
  }
}

TEST(Resolve, SearchOrder) {
  FakeFs base = debian_like();
  struct Case {
    const char* what;
    ldd::ElfInfo prog;
    std::map<std::string, ldd::ElfInfo> extra;
    std::vector<std::string> conf_dirs;
    std::string want_libfoo;  // "" = missing
  } cases[] = {
      {"ld.so.conf directories in order",
       program({"libfoo.so"}),
       {{"/opt/b/libfoo.so", lib("libfoo.so")}, {"/opt/a/libfoo.so", lib("libfoo.so")}},
       {"/opt/a", "/opt/b"},
       "/opt/a/libfoo.so"},
      {"a 32-bit library of the same name is skipped",
       program({"libfoo.so"}),
       {{"/opt/a/libfoo.so", lib("libfoo.so", {}, false)}, {"/opt/b/libfoo.so", lib("libfoo.so")}},
       {"/opt/a", "/opt/b"},
       "/opt/b/libfoo.so"},
      {"DT_RUNPATH before ld.so.conf",
       [] {
         auto p = program({"libfoo.so"});
         p.runpath = {"/opt/run"};
         return p;
       }(),
       {{"/opt/run/libfoo.so", lib("libfoo.so")}, {"/opt/a/libfoo.so", lib("libfoo.so")}},
       {"/opt/a"},
       "/opt/run/libfoo.so"},
      {"$ORIGIN in DT_RUNPATH",
       [] {
         auto p = program({"libfoo.so"});
         p.runpath = {"$ORIGIN/../lib"};
         return p;
       }(),
       {{"/bin/../lib/libfoo.so", lib("libfoo.so")}},
       {},
       "/bin/../lib/libfoo.so"},
      {"DT_RPATH before ld.so.conf",
       [] {
         auto p = program({"libfoo.so"});
         p.rpath = {"/opt/r"};
         return p;
       }(),
       {{"/opt/r/libfoo.so", lib("libfoo.so")}, {"/opt/a/libfoo.so", lib("libfoo.so")}},
       {"/opt/a"},
       "/opt/r/libfoo.so"},
      {"DT_RPATH is ignored when DT_RUNPATH is present",
       [] {
         auto p = program({"libfoo.so"});
         p.rpath = {"/opt/r"};
         p.runpath = {"/opt/run"};
         return p;
       }(),
       {{"/opt/r/libfoo.so", lib("libfoo.so")}, {"/opt/run/libfoo.so", lib("libfoo.so")}},
       {},
       "/opt/run/libfoo.so"},
      {"default directories last",
       program({"libfoo.so"}),
       {{"/usr/lib/libfoo.so", lib("libfoo.so")}},
       {"/opt/a"},
       "/usr/lib/libfoo.so"},
      {"missing", program({"libfoo.so"}), {}, {"/opt/a"}, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    FakeFs fs = base;
    fs.files["/bin/prog"] = c.prog;
    for (const auto& [path, info] : c.extra) fs.files[path] = info;
    ldd::SearchPath search{c.conf_dirs, {"/lib", "/usr/lib"}};
    ldd::Resolution got = ldd::resolve({"/bin/prog"}, search, fs.inspect());
    if (c.want_libfoo.empty()) {
      EXPECT_EQ(got.missing, std::vector<std::string>{"libfoo.so"});
    } else {
      EXPECT_EQ(got.libraries, std::vector<std::string>{c.want_libfoo});
    }
  }
}

TEST(Resolve, RpathOfTheLoadingObjectIsInherited) {
  FakeFs fs = debian_like();
  auto prog = program({"liba.so"});
  prog.rpath = {"/opt/r"};
  fs.files["/bin/prog"] = prog;
  fs.files["/opt/r/liba.so"] = lib("liba.so", {"libb.so"});
  fs.files["/opt/r/libb.so"] = lib("libb.so");
  ldd::Resolution got = ldd::resolve({"/bin/prog"}, {{}, {"/lib"}}, fs.inspect());
  EXPECT_EQ(got.libraries, (std::vector<std::string>{"/opt/r/liba.so", "/opt/r/libb.so"}));
}

TEST(MountHelpers, MountsUnder) {
  std::vector<lab::MountInfo> mounts(4);
  mounts[0].mount_point = "/";
  mounts[1].mount_point = "/tmp/lab-rootfs-x/data";
  mounts[2].mount_point = "/tmp/lab-rootfs-xy";
  mounts[3].mount_point = "/tmp/lab-rootfs-x";
  struct Case {
    const char* dir;
    std::vector<std::string> want;
  } cases[] = {
      {"/tmp/lab-rootfs-x", {"/tmp/lab-rootfs-x/data", "/tmp/lab-rootfs-x"}},
      {"/tmp/lab-rootfs-x/", {"/tmp/lab-rootfs-x/data", "/tmp/lab-rootfs-x"}},
      {"/tmp/lab-rootfs-x/data", {"/tmp/lab-rootfs-x/data"}},
      {"/srv", {}},
  };
  for (const auto& c : cases) EXPECT_EQ(mountns::mounts_under(mounts, c.dir), c.want) << c.dir;
}

TEST(MountHelpers, SplitLinesAndRootSwitch) {
  EXPECT_EQ(mountns::split_lines("bin\ndata\nlib\nlib64\n"),
            (std::vector<std::string>{"bin", "data", "lib", "lib64"}));
  EXPECT_EQ(mountns::split_lines(""), std::vector<std::string>{});
  EXPECT_EQ(mountns::split_lines("a\n\nb"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(mountns::parse_root_switch("chroot"), mountns::RootSwitch::chroot);
  EXPECT_EQ(mountns::parse_root_switch("pivot_root"), mountns::RootSwitch::pivot_root);
  EXPECT_EQ(mountns::parse_root_switch("pivot-root"), std::nullopt);
  EXPECT_EQ(mountns::to_string(mountns::RootSwitch::pivot_root), "pivot_root");
}

// run_and_capture is how the story runs `ls /` inside: stdout comes back, and a program that
// fails or cannot be run (exit 127, as when a library is missing) is an error, not empty output.
TEST(MountHelpers, RunAndCaptureReturnsStdoutAndRefusesFailures) {
  EXPECT_EQ(mountns::run_and_capture({"/bin/sh", "-c", "echo bin; echo data"}), "bin\ndata\n");
  EXPECT_EQ(mountns::run_and_capture({"/bin/sh", "-c", "echo $PATH $HOME"}), "/bin /\n");
  try {
    mountns::run_and_capture({"/bin/sh", "-c", "exit 3"});
    ADD_FAILURE() << "exit 3 did not throw";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("exited 3"), std::string::npos) << e.what();
  }
  try {
    mountns::run_and_capture({"/nonexistent/lab-prog"});
    ADD_FAILURE() << "a missing program did not throw";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("exited 127"), std::string::npos) << e.what();
  }
}

TEST(MountHelpers, RootfsDirMustBeEmptyAndExist) {
  EXPECT_NE(mountns::validate_empty_dir("/nonexistent/lab-nowhere"), "");
  EXPECT_NE(mountns::validate_empty_dir("/proc/self/status"), "");
  EXPECT_NE(mountns::validate_empty_dir("/usr"), "");  // has content: never copy over it
}

// A directory that cannot be looked at is not called noexec: the step that uses it says why.
// (A real noexec mount is in tests/03-mount-chroot.bats, in a throwaway mount namespace.)
TEST(MountHelpers, ExecProblemOnlyForNoexec) {
  EXPECT_EQ(mountns::exec_problem("/nonexistent/lab-nowhere"), "");
}

// The rootfs goes where mktemp(1) would put it: $TMPDIR when set and not empty, else /tmp.
TEST(MountHelpers, TempDirBaseHonoursTmpdir) {
  const char* saved = std::getenv("TMPDIR");
  const std::string old = saved ? saved : "";
  ::setenv("TMPDIR", "/var/tmp", 1);
  EXPECT_EQ(mountns::temp_dir_base(), "/var/tmp");
  ::setenv("TMPDIR", "", 1);
  EXPECT_EQ(mountns::temp_dir_base(), "/tmp");
  ::unsetenv("TMPDIR");
  EXPECT_EQ(mountns::temp_dir_base(), "/tmp");
  if (saved) ::setenv("TMPDIR", old.c_str(), 1);
}

// The checked copy keeps the bytes and the permission bits (bash must stay executable), and a
// source that cannot be opened is an error naming it.
TEST(MountHelpers, CopyRegularFileKeepsBytesAndMode) {
  char dir_template[] = "/tmp/lab-unit-copy-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::filesystem::path dir = dir_template;
  mountns::copy_regular_file("/bin/sh", (dir / "sh").string());
  EXPECT_EQ(std::filesystem::file_size(dir / "sh"), std::filesystem::file_size("/bin/sh"));
  EXPECT_EQ(std::filesystem::status(dir / "sh").permissions(),
            std::filesystem::status("/bin/sh").permissions());
  try {
    mountns::copy_regular_file("/nonexistent/lab-file", (dir / "x").string());
    ADD_FAILURE() << "a missing source did not throw";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/lab-file"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
