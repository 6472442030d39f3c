// Pure logic of lesson 05: overlay option strings and their escaping, the lowerdir chain read
// back from mountinfo, aufs branch strings, whiteout and opaque detection, work dir checks.
#include "overlay.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <stdexcept>

#include "fd.hpp"
#include "mount.hpp"

namespace {

TEST(OverlayEscape, BackslashColonAndCommaAreEscaped) {
  struct Case {
    const char* path;
    const char* escaped;
  } cases[] = {
      {"A", "A"},
      {"/tmp/lab-overlay-1/A", "/tmp/lab-overlay-1/A"},
      {"a:b", "a\\:b"},
      {"a,b", "a\\,b"},
      {"a\\b", "a\\\\b"},
      {"with space", "with space"},
      {":,\\", "\\:\\,\\\\"},
      {"", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(overlay::escape_path(c.path), c.escaped) << c.path;
}

TEST(OverlayOptions, BuiltFromLayers) {
  struct Case {
    overlay::Layers layers;
    const char* options;
  } cases[] = {
      {{{"A", "B"}, "upper", "work"}, "lowerdir=A:B,upperdir=upper,workdir=work"},
      {{{"A"}, "upper", "work"}, "lowerdir=A,upperdir=upper,workdir=work"},
      {{{"A", "B"}, "", ""}, "lowerdir=A:B"},
      {{{"layers/init", "layers/app", "/rootfs"}, "layers/rw/diff", "layers/rw/work"},
       "lowerdir=layers/init:layers/app:/rootfs,upperdir=layers/rw/diff,workdir=layers/rw/work"},
      {{{"x:y", "p,q"}, "u\\v", "w"}, "lowerdir=x\\:y:p\\,q,upperdir=u\\\\v,workdir=w"},
  };
  for (const auto& c : cases) EXPECT_EQ(overlay::mount_options(c.layers), c.options);
}

TEST(OverlayOptions, ImpossibleLayoutsAreRefused) {
  struct Case {
    overlay::Layers layers;
    const char* problem_part;
  } cases[] = {
      {{{}, "upper", "work"}, "no lowerdir"},
      {{{"A", ""}, "upper", "work"}, "empty lowerdir"},
      {{{"A"}, "upper", ""}, "give both or neither"},
      {{{"A"}, "", "work"}, "give both or neither"},
      {{{"A"}, "", ""}, "at least 2 lowerdirs"},
  };
  for (const auto& c : cases) {
    EXPECT_NE(overlay::validate_layers(c.layers).find(c.problem_part), std::string::npos)
        << c.problem_part;
    EXPECT_THROW(overlay::mount_options(c.layers), std::invalid_argument);
  }
  EXPECT_EQ(overlay::validate_layers({{"A", "B"}, "upper", "work"}), "");
}

TEST(OverlayOptions, MustFitInOnePage) {
  overlay::Layers big{{}, "upper", "work"};
  for (int i = 0; i < 200; ++i) big.lowerdirs.push_back(std::string(30, 'l'));
  try {
    overlay::mount_options(big);
    FAIL() << "a 6 KiB option string was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("one page"), std::string::npos);
  }
  overlay::Layers fits{{std::string(4000, 'l')}, "u", "w"};
  EXPECT_NO_THROW(overlay::mount_options(fits));
}

TEST(OverlayLowerdir, ChainReadBackFromMountinfo) {
  struct Case {
    const char* mountinfo_value;
    std::vector<std::string> chain;
  } cases[] = {
      {"A:B", {"A", "B"}},
      {"layers/init:layers/app:/work/main/build/rootfs",
       {"layers/init", "layers/app", "/work/main/build/rootfs"}},
      {"/only", {"/only"}},
      // as this kernel prints lowerdir=x\,y:x\:y:A (',' and '\' as octal)
      {"x\\134\\054y:x\\134:y:A", {"x,y", "x:y", "A"}},
      {"with\\040space:B", {"with space", "B"}},
      {"A::B", {"A", "B"}},  // "::" marks data-only layers
      {"", {}},
  };
  for (const auto& c : cases)
    EXPECT_EQ(overlay::split_lowerdir(c.mountinfo_value), c.chain) << c.mountinfo_value;
}

TEST(OverlayLowerdir, RoundTripThroughEscaping) {
  // What we escape for mount(2) and the kernel prints back (octal for ',' and '\') splits into
  // the same paths.
  for (const std::vector<std::string>& chain :
       std::vector<std::vector<std::string>>{{"A", "B"}, {"a:b", "c"}, {"/tmp/x:y", "/tmp/z"}}) {
    std::string joined;
    for (const auto& p : chain) joined += (joined.empty() ? "" : ":") + overlay::escape_path(p);
    EXPECT_EQ(overlay::split_lowerdir(joined), chain) << joined;
  }
}

TEST(OverlayAufs, BranchOptions) {
  EXPECT_EQ(overlay::aufs_options({"A", "B"}, "ro"), "br=A=ro:B=ro");
  EXPECT_EQ(overlay::aufs_options({"/x"}, "rw"), "br=/x=rw");
}

TEST(OverlayWhiteout, CharacterDeviceZeroZeroOnly) {
  struct Case {
    mode_t mode;
    dev_t rdev;
    bool whiteout;
  } cases[] = {
      {S_IFCHR | 0000, makedev(0, 0), true},  {S_IFCHR | 0644, makedev(0, 0), true},
      {S_IFCHR | 0666, makedev(1, 3), false},  // /dev/null
      {S_IFCHR | 0666, makedev(0, 1), false}, {S_IFBLK | 0660, makedev(0, 0), false},
      {S_IFREG | 0644, makedev(0, 0), false}, {S_IFDIR | 0755, makedev(0, 0), false},
      {S_IFLNK | 0777, makedev(0, 0), false},
  };
  for (const auto& c : cases) EXPECT_EQ(overlay::is_whiteout(c.mode, c.rdev), c.whiteout) << c.mode;
  struct stat st {};
  st.st_mode = S_IFCHR;
  st.st_rdev = makedev(0, 0);
  EXPECT_TRUE(overlay::is_whiteout(st));
}

TEST(OverlayOpaque, OnlyYMeansOpaque) {
  struct Case {
    const char* value;
    bool opaque;
  } cases[] = {{"y", true}, {"", false}, {"n", false}, {"x", false}, {"Y", false}, {"yes", false}};
  for (const auto& c : cases) EXPECT_EQ(overlay::is_opaque(c.value), c.opaque) << c.value;
}

TEST(OverlayWorkDir, EmptyOrCreatableOnly) {
  namespace fs = std::filesystem;
  lab::TempDir dir("/tmp/lab-ovunit-");
  const std::string base = dir.path();
  fs::create_directory(base + "/full");
  lab::create_file(base + "/full/file", "");
  fs::create_directory(base + "/empty");
  struct Case {
    std::string path;
    const char* problem_part;  // "" when the dir is fine
  } cases[] = {
      {base + "/empty", ""},
      {base + "/empty/", ""},
      {base + "/new", ""},
      {base + "/new/", ""},  // the parent of "new/" is base, not "new" itself
      {base + "/new//", ""},
      {base + "/full", "is not empty"},
      {base + "/full/file", "is not a directory"},
      {base + "/missing/new", "cannot be made"},
      {base + "/missing/new/", "cannot be made"},
      {"", "empty"},
  };
  for (const auto& c : cases) {
    std::string problem = overlay::check_work_dir(c.path);
    if (*c.problem_part == '\0')
      EXPECT_EQ(problem, "") << c.path;
    else
      EXPECT_NE(problem.find(c.problem_part), std::string::npos) << c.path << ": " << problem;
  }
  EXPECT_FALSE(fs::exists(base + "/new"));  // looking never creates
}

}  // namespace
