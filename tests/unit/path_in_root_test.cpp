// common/path_in_root: symlinks inside a rootfs resolve inside it, whatever they say; and
// common/mount's TempDir never deletes through a mount still attached below it.
#include "path_in_root.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "error.hpp"
#include "fd.hpp"
#include "mount.hpp"
#include "process.hpp"

namespace {

namespace fs = std::filesystem;

struct Root {
  lab::TempDir dir{"/tmp/lab-pathroot-"};
  std::string root = fs::canonical(dir.path()).string();
  lab::UniqueFd fd = lab::open_root(root);
};

struct ResolveCase {
  const char* link;       // a symlink made at ROOT/link ...
  const char* points_to;  // ... pointing here
  const char* lookup;     // what is then resolved
  const char* expected;   // where it must land, relative to ROOT ("" = ROOT itself)
};

class ResolveInRoot : public ::testing::TestWithParam<ResolveCase> {};

TEST_P(ResolveInRoot, StaysInsideTheRoot) {
  const ResolveCase& c = GetParam();
  Root r;
  fs::create_directories(r.root + "/etc/sub");
  fs::create_directories(r.root + "/data");
  fs::create_symlink(c.points_to, r.root + "/" + c.link);
  const std::string expected = std::string(c.expected).empty() ? r.root : r.root + "/" + c.expected;
  EXPECT_EQ(lab::resolve_in_root(r.root, c.lookup), expected) << c.link << " -> " << c.points_to;
}

INSTANTIATE_TEST_SUITE_P(
    Symlinks, ResolveInRoot,
    ::testing::Values(ResolveCase{"rootlink", "/", "/rootlink", ""},
                      ResolveCase{"rootlink", "/", "/rootlink/etc", "etc"},
                      ResolveCase{"up", "../../..", "/up", ""},
                      ResolveCase{"up", "../../../../../..", "/up/data", "data"},
                      ResolveCase{"hostetc", "/etc", "/hostetc/sub", "etc/sub"},
                      ResolveCase{"rel", "etc/sub/../../data", "rel", "data"},
                      ResolveCase{"dots", "/data", "/../../../dots", "data"}));

TEST(PathInRoot, MkdirAllFollowsLinksInsideTheRoot) {
  Root r;
  fs::create_symlink("../../..", r.root + "/up");
  lab::UniqueFd made = lab::mkdir_all_in_root(r.fd.get(), "/up/vol/inner");
  EXPECT_EQ(lab::fd_path(made.get()), r.root + "/vol/inner");
  EXPECT_TRUE(fs::is_directory(r.root + "/vol/inner"));
  // Making it again finds what is there.
  EXPECT_EQ(lab::fd_path(lab::mkdir_all_in_root(r.fd.get(), "vol//inner/").get()),
            r.root + "/vol/inner");
}

TEST(PathInRoot, CreateFileMakesAnEmptyFileAndItsParents) {
  Root r;
  fs::create_symlink("/", r.root + "/rootlink");
  lab::UniqueFd f = lab::create_file_in_root(r.fd.get(), "/rootlink/etc/hosts", 0644);
  EXPECT_EQ(lab::fd_path(f.get()), r.root + "/etc/hosts");
  EXPECT_TRUE(fs::is_regular_file(r.root + "/etc/hosts"));
  EXPECT_EQ(fs::file_size(r.root + "/etc/hosts"), 0u);
}

TEST(PathInRoot, ADanglingLinkInTheWayIsAnErrorNotAnEscape) {
  Root r;
  lab::TempDir outside("/tmp/lab-pathroot-outside-");
  const std::string victim = outside.path() + "/made-here";
  // An absolute link: on the host it points outside; in the root it points to a missing path.
  fs::create_symlink(victim, r.root + "/dangling");
  EXPECT_THROW(lab::mkdir_all_in_root(r.fd.get(), "/dangling"), lab::SyscallError);
  EXPECT_THROW(lab::create_file_in_root(r.fd.get(), "/dangling"), lab::SyscallError);
  EXPECT_FALSE(fs::exists(victim));
}

TEST(PathInRoot, MissingPathsAreReported) {
  Root r;
  EXPECT_FALSE(lab::open_in_root_if_exists(r.fd.get(), "/no/such", O_PATH));
  try {
    lab::resolve_in_root(r.root, "/no/such");
    FAIL() << "resolved a missing path";
  } catch (const lab::SyscallError& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("RESOLVE_IN_ROOT"), std::string::npos) << e.what();
  }
}

TEST(PathInRoot, JoinInRootIsLexical) {
  EXPECT_EQ(lab::join_in_root("/r", "a//b/./c/"), "/r/a/b/c");
  EXPECT_EQ(lab::join_in_root("/r/", "/"), "/r");
  EXPECT_EQ(lab::join_in_root("/", "/dev/null"), "/dev/null");
}

TEST(TempDir, RemovesItsTreeWithoutMounts) {
  std::string path;
  {
    lab::TempDir d("/tmp/lab-tempdir-");
    path = d.path();
    fs::create_directories(path + "/a/b");
    lab::create_file(path + "/a/b/f", "x");
    fs::create_symlink("/etc", path + "/a/etc-link");  // removed, never followed
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(fs::exists("/etc/passwd"));
}

// Root only: a volume bound inside a TempDir must keep its files when the TempDir goes. Runs in a
// child in a private mount namespace, so nothing it mounts is seen by the host.
TEST(TempDir, NeverDeletesThroughAMount) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount";
  lab::TempDir volume("/tmp/lab-tempdir-volume-");
  lab::create_file(volume.path() + "/precious", "keep me");
  lab::Child child = lab::clone_child(CLONE_NEWNS | SIGCHLD, [&] {
    try {
      lab::mount_fs(nullptr, "/", nullptr, MS_REC | MS_PRIVATE);
      std::string dir;
      {
        lab::TempDir d("/tmp/lab-tempdir-");
        dir = d.path();
        fs::create_directories(dir + "/rootfs/data");
        fs::create_directories(dir + "/scratch");
        lab::mount_fs(volume.path().c_str(), dir + "/rootfs/data", nullptr, MS_BIND);
        lab::mount_fs("tmpfs", dir + "/scratch", "tmpfs", 0);
      }
      if (::access((volume.path() + "/precious").c_str(), F_OK) != 0) return 10;
      if (::access(dir.c_str(), F_OK) == 0) return 11;  // the mounts were detached, all went
      // The TempDir itself a mount point, twice over: detached, never emptied.
      {
        lab::TempDir d("/tmp/lab-tempdir-");
        dir = d.path();
        lab::mount_fs(volume.path().c_str(), dir, nullptr, MS_BIND);
        lab::mount_fs(volume.path().c_str(), dir, nullptr, MS_BIND);  // two deep
      }
      if (::access((volume.path() + "/precious").c_str(), F_OK) != 0) return 12;
      return 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 20;
    }
  });
  EXPECT_EQ(child.wait().shell_code(), 0);
  EXPECT_EQ(lab::read_file(volume.path() + "/precious"), "keep me");
}

}  // namespace
