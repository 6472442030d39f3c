// The graph driver: short layer names, the overlay option string of a container, choosing a
// driver, and (as root, each in a forked child with its own private mount namespace, so no mount
// outlives the test) a container's rootfs built from hand-made layers with overlay and with vfs.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "error.hpp"
#include "fd.hpp"
#include "graph/driver.hpp"
#include "host.hpp"
#include "in_child.hpp"
#include "mount.hpp"
#include "overlay.hpp"
#include "runtime/explain.hpp"

namespace {

namespace fs = std::filesystem;

// A fake diff id: 64 hex digits that say which test layer it is.
std::string layer_hex(int n) { return fmt::format("{:064x}", 0xd1ff0000 + n); }
const std::string kContainer(64, 'c');

// MINIDOCKER_STORAGE_DRIVER set for one scope, then restored.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_.empty())
      ::unsetenv(name_);
    else
      ::setenv(name_, old_.c_str(), 1);
  }

 private:
  const char* name_;
  std::string old_;
};

TEST(GraphShortId, TwentySixCharactersOfBase32AllDifferent) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    const std::string id = graph::new_short_id();
    ASSERT_EQ(id.size(), 26u) << id;
    for (char c : id) ASSERT_TRUE((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) << id;
    ASSERT_TRUE(graph::is_short_id(id)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 2000u);
  for (const char* bad :
       {"", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXY",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ2", "ABCDEFGHIJKLMNOPQRSTUVWXY/", "ABCDEFGHIJKLMNOPQRSTUVWXY1"})
    EXPECT_FALSE(graph::is_short_id(bad)) << bad;
}

TEST(GraphOptions, ContainerLayersRelativeToTheLayersDirectory) {
  const auto layers = graph::container_layers({"INIT", "TOP", "BOTTOM"}, "web");
  EXPECT_EQ(overlay::mount_options(layers),
            "lowerdir=l/INIT:l/TOP:l/BOTTOM,upperdir=../containers/web/diff,"
            "workdir=../containers/web/work");
}

TEST(GraphOptions, OneHundredThirtyLayersFitOnePageOnlyWithShortLinks) {
  std::vector<std::string> shorts;
  overlay::Layers full{{},
                       "/var/lib/minidocker/containers/" + kContainer + "/diff",
                       "/var/lib/minidocker/containers/" + kContainer + "/work"};
  for (int i = 0; i < 131; ++i) {  // 130 image layers and the init layer
    shorts.push_back(graph::new_short_id());
    full.lowerdirs.push_back("/var/lib/minidocker/layers/" + layer_hex(i) + "/diff");
  }
  const std::string options = overlay::mount_options(graph::container_layers(shorts, kContainer));
  EXPECT_LE(options.size(), overlay::kMaxOptionBytes);
  EXPECT_GT(options.size(), 3500u);  // it really holds 131 layers
  EXPECT_THROW(overlay::mount_options(full), std::invalid_argument);
}

TEST(GraphDriverChoice, EnvironmentOverridesAndABadValueIsOneLine) {
  {
    ScopedEnv env("MINIDOCKER_STORAGE_DRIVER", "vfs");
    EXPECT_EQ(graph::choose_driver("/var/lib/minidocker"), graph::DriverKind::vfs);
  }
  {
    ScopedEnv env("MINIDOCKER_STORAGE_DRIVER", "bogus");
    try {
      graph::choose_driver("/var/lib/minidocker");
      FAIL() << "bogus was accepted";
    } catch (const lab::UserError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("MINIDOCKER_STORAGE_DRIVER=bogus"), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
  EXPECT_STREQ(graph::driver_name(graph::DriverKind::overlay), "overlay");
  EXPECT_STREQ(graph::driver_name(graph::DriverKind::vfs), "vfs");
}

TEST(GraphNames, IdsThatWouldLeaveTheStoreAreRefused) {
  lab::TempDir root("/var/tmp/lab-graph-names-");
  for (const char* id : {"", "..", ".", "a/b", "../x", "a b"})
    EXPECT_THROW(graph::prepare_rootfs(root.path(), graph::DriverKind::vfs, {id, {}, "h"}),
                 lab::UserError)
        << id;
  EXPECT_THROW(graph::register_layer(root.path(), "../../etc"), lab::UserError);
  EXPECT_THROW(graph::forget_layer(root.path(), "ABC"), lab::UserError);
  EXPECT_TRUE(overlay::list_dir(root.path()).empty());
}

// --- as root -------------------------------------------------------------------------------------

bool have_root() {
  if (::geteuid() == 0) return true;
  return false;
}
#define REQUIRE_ROOT()                                                         \
  do {                                                                         \
    if (!have_root()) {                                                        \
      if (std::getenv("CI")) FAIL() << "needs root, and CI must not skip it";  \
      GTEST_SKIP() << "needs root (mounts, whiteout devices, trusted xattrs)"; \
    }                                                                          \
  } while (0)

void write(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  lab::create_file(path, content, 0644);
}

std::string slurp(const std::string& path) { return lab::read_file_or_empty(path); }

// Three layers as the store unpacks them, bottom first:
//   0: /a/file, /keep/x, /opq/old, /etc/hosts ("image hosts"), /bin/sh -> busybox, hardlinks
//   1: a whiteout over /a/file; /keep/y
//   2: /opq made opaque with only /opq/new
// and a store root holding them. Returns the layers' diff ids, bottom first.
std::vector<std::string> make_three_layers(const std::string& root) {
  std::vector<std::string> ids = {layer_hex(0), layer_hex(1), layer_hex(2)};
  const std::string l0 = root + "/layers/" + ids[0] + "/diff";
  const std::string l1 = root + "/layers/" + ids[1] + "/diff";
  const std::string l2 = root + "/layers/" + ids[2] + "/diff";
  write(l0 + "/a/file", "bottom");
  write(l0 + "/keep/x", "x");
  write(l0 + "/opq/old", "old");
  write(l0 + "/etc/hosts", "image hosts");
  write(l0 + "/bin/busybox", "#!");
  lab::check(::chown((l0 + "/bin/busybox").c_str(), 12, 34), "chown");
  lab::check(::chmod((l0 + "/bin/busybox").c_str(), 04755), "chmod");  // after: chown clears it
  fs::create_symlink("busybox", l0 + "/bin/sh");
  fs::create_hard_link(l0 + "/bin/busybox", l0 + "/bin/ls");
  fs::create_directories(l1 + "/a");
  lab::check(::mknod((l1 + "/a/file").c_str(), S_IFCHR | 0, makedev(0, 0)), "mknod whiteout");
  write(l1 + "/keep/y", "y");
  write(l2 + "/opq/new", "new");
  lab::check(::lsetxattr((l2 + "/opq").c_str(), overlay::kOpaqueXattr, "y", 1, 0), "lsetxattr");
  for (const auto& id : ids) graph::register_layer(root, id);
  return ids;
}

// What a rootfs shows of the three layers; "" when it is right.
std::string check_three_layer_view(const std::string& rootfs) {
  std::string wrong;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) wrong += what + "; ";
  };
  expect(!overlay::lstat_path(rootfs + "/a/file"), "/a/file survived its whiteout");
  expect(fs::is_directory(rootfs + "/a"), "/a is gone");
  expect(slurp(rootfs + "/keep/x") == "x" && slurp(rootfs + "/keep/y") == "y",
         "/keep does not merge x and y");
  expect(overlay::list_dir(rootfs + "/opq") == std::vector<std::string>{"new"},
         "opaque /opq shows more than its own new");
  expect(slurp(rootfs + "/etc/hosts").empty(), "/etc/hosts is not the init layer's empty stub");
  expect(slurp(rootfs + "/etc/hostname") == "box\n", "/etc/hostname does not say box");
  expect(fs::is_directory(rootfs + "/proc") && fs::is_directory(rootfs + "/sys") &&
             fs::is_directory(rootfs + "/dev/shm") && fs::is_regular_file(rootfs + "/dev/console"),
         "init layer mount points missing");
  expect(fs::read_symlink(rootfs + "/bin/sh") == "busybox", "/bin/sh is not a symlink to busybox");
  const auto bb = overlay::lstat_path(rootfs + "/bin/busybox");
  expect(bb && (bb->st_mode & 07777) == 04755 && bb->st_uid == 12 && bb->st_gid == 34,
         "/bin/busybox lost its mode or owner");
  const auto ls = overlay::lstat_path(rootfs + "/bin/ls");
  expect(bb && ls && bb->st_ino == ls->st_ino, "/bin/ls is not a hardlink of /bin/busybox");
  return wrong;
}

std::string mount_count_under(const std::string& dir) {
  int n = 0;
  for (const auto& m : lab::read_mountinfo())
    if (m.mount_point.starts_with(dir)) ++n;
  return n ? fmt::format("{} mounts left under {}; ", n, dir) : "";
}

// The body in a child with a private mount namespace: its mounts die with it whatever happens.
std::string in_private_child(const std::function<std::string()>& body) {
  return lab_test::in_child([&] {
    overlay::unshare_private_mount_namespace();
    return body();
  });
}

TEST(GraphDriverOverlay, WhiteoutsOpaqueDirsAndWritesLandInDiff) {
  REQUIRE_ROOT();
  if (!lab::host::kernel_has_filesystem("overlay")) {
    if (std::getenv("CI")) FAIL() << "no overlay in this kernel";
    GTEST_SKIP() << "no overlay in this kernel";
  }
  lab::TempDir root("/var/tmp/lab-graph-ovl-");
  EXPECT_EQ(in_private_child([&] {
              const auto ids = make_three_layers(root.path());
              const std::string merged = graph::prepare_rootfs(
                  root.path(), graph::DriverKind::overlay, {kContainer, ids, "box"});
              std::string wrong;
              if (merged != root.path() + "/containers/" + kContainer + "/merged")
                wrong += "merged is at " + merged + "; ";
              const auto mounts = lab::read_mountinfo();
              const auto* m = lab::find_mount(mounts, merged);
              if (!m || m->fstype != "overlay") return wrong + "merged is not an overlay mount";
              // The lowerdir chain as the kernel keeps it: init first, then top..bottom.
              const auto chain = overlay::split_lowerdir(m->super_option("lowerdir"));
              if (chain.size() != 4)
                wrong +=
                    "lowerdir has " + std::to_string(chain.size()) + ": " + m->super_options + "; ";
              for (size_t i = 1; i < chain.size() && chain.size() == 4; ++i) {
                const std::string link = slurp(root.path() + "/layers/" + ids[3 - i] + "/link");
                if (chain[i] != "l/" + lab::trim(link)) wrong += chain[i] + " out of order; ";
              }
              wrong += check_three_layer_view(merged);
              write(merged + "/keep/z", "written");
              const std::string diff =
                  graph::rw_layer_dir(root.path(), graph::DriverKind::overlay, kContainer);
              if (slurp(diff + "/keep/z") != "written") wrong += "the write is not in diff/; ";
              if (overlay::lstat_path(root.path() + "/layers/" + ids[0] + "/diff/keep/z"))
                wrong += "the write reached a lower layer; ";
              graph::remove_rootfs(root.path(), graph::DriverKind::overlay, kContainer);
              wrong += mount_count_under(root.path());
              if (overlay::lstat_path(root.path() + "/containers/" + kContainer))
                wrong += "containers/<id> is still there; ";
              // Only the three image layers keep a short link; the init layer's went.
              if (overlay::list_dir(root.path() + "/layers/l").size() != 3)
                wrong += "l/ does not hold exactly the 3 layer links; ";
              graph::remove_rootfs(root.path(), graph::DriverKind::overlay, kContainer);
              return wrong;
            }),
            "");
}

TEST(GraphDriverOverlay, ExplainShowsTheMountAndItsShellEquivalent) {
  REQUIRE_ROOT();
  if (!lab::host::kernel_has_filesystem("overlay")) {
    if (std::getenv("CI")) FAIL() << "no overlay in this kernel";
    GTEST_SKIP() << "no overlay in this kernel";
  }
  lab::TempDir root("/var/tmp/lab-graph-explain-");
  EXPECT_EQ(in_private_child([&] {
              write(root.path() + "/layers/" + layer_hex(0) + "/diff/f", "f");
              std::ostringstream told;
              std::streambuf* saved = std::cerr.rdbuf(told.rdbuf());
              {
                const runtime::Explainer explain(true);
                graph::prepare_rootfs(root.path(), graph::DriverKind::overlay,
                                      {kContainer, {layer_hex(0)}, "h"}, &explain);
                graph::remove_rootfs(root.path(), graph::DriverKind::overlay, kContainer, &explain);
              }
              std::cerr.rdbuf(saved);
              std::string wrong;
              for (const std::string& part :
                   std::vector<std::string>{"[lesson 05]", "mount(\"overlay\"",
                                            "mount -t overlay overlay -o lowerdir=l/",
                                            ",upperdir=../containers/" + kContainer + "/diff",
                                            "cd " + root.path() + "/layers", "umount -l "})
                if (told.str().find(part) == std::string::npos) wrong += "no " + part + "; ";
              return wrong.empty() ? "" : wrong + "in: " + told.str();
            }),
            "");
}

TEST(GraphDriverOverlay, OneHundredThirtyLayersMount) {
  REQUIRE_ROOT();
  if (!lab::host::kernel_has_filesystem("overlay")) {
    if (std::getenv("CI")) FAIL() << "no overlay in this kernel";
    GTEST_SKIP() << "no overlay in this kernel";
  }
  lab::TempDir root("/var/tmp/lab-graph-130-");
  EXPECT_EQ(in_private_child([&] {
              std::vector<std::string> ids;
              for (int i = 0; i < 130; ++i) {
                ids.push_back(layer_hex(i));
                write(root.path() + "/layers/" + ids.back() + "/diff/layer" + std::to_string(i),
                      std::to_string(i));
                write(root.path() + "/layers/" + ids.back() + "/diff/top", std::to_string(i));
              }
              const std::string merged = graph::prepare_rootfs(
                  root.path(), graph::DriverKind::overlay, {kContainer, ids, "many"});
              std::string wrong;
              if (slurp(merged + "/layer0") != "0" || slurp(merged + "/layer129") != "129")
                wrong += "the bottom or top layer is not visible; ";
              if (slurp(merged + "/top") != "129") wrong += "/top is not the top layer's; ";
              graph::remove_rootfs(root.path(), graph::DriverKind::overlay, kContainer);
              return wrong + mount_count_under(root.path());
            }),
            "");
}

TEST(GraphDriverVfs, SameViewAsOverlayAndRemovedWhole) {
  REQUIRE_ROOT();
  lab::TempDir root("/var/tmp/lab-graph-vfs-");
  EXPECT_EQ(in_private_child([&] {
              const auto ids = make_three_layers(root.path());
              const std::string rootfs = graph::prepare_rootfs(root.path(), graph::DriverKind::vfs,
                                                               {kContainer, ids, "box"});
              const std::string dir = root.path() + "/containers/" + kContainer;
              std::string wrong = check_three_layer_view(rootfs);
              if (rootfs != dir + "/diff") wrong += "the vfs rootfs is " + rootfs + "; ";
              if (fs::read_symlink(dir + "/merged") != "diff") wrong += "merged is not -> diff; ";
              if (!overlay::read_opaque_xattr(rootfs + "/opq").empty())
                wrong += "the opaque xattr was copied; ";
              if (lab::host::kernel_has_filesystem("overlay")) {
                // The same layers through overlay show the same tree.
                const std::string other = "overlay-twin";
                const std::string merged = graph::prepare_rootfs(
                    root.path(), graph::DriverKind::overlay, {other, ids, "box"});
                if (overlay::list_tree(merged) != overlay::list_tree(rootfs))
                  wrong += "vfs and overlay trees differ; ";
                graph::remove_rootfs(root.path(), graph::DriverKind::overlay, other);
              }
              graph::remove_rootfs(root.path(), graph::DriverKind::vfs, kContainer);
              if (overlay::lstat_path(dir)) wrong += "containers/<id> is still there; ";
              if (!overlay::list_dir(root.path() + "/tmp").empty()) wrong += "tmp/ not empty; ";
              return wrong + mount_count_under(root.path());
            }),
            "");
}

TEST(GraphDriver, AMissingLayerLeavesNothingAndSaysOneLine) {
  REQUIRE_ROOT();
  lab::TempDir root("/var/tmp/lab-graph-missing-");
  EXPECT_EQ(
      in_private_child([&] {
        auto ids = make_three_layers(root.path());
        ids.insert(ids.begin() + 1, layer_hex(99));  // never unpacked
        std::string wrong;
        for (auto kind : {graph::DriverKind::overlay, graph::DriverKind::vfs}) {
          try {
            graph::prepare_rootfs(root.path(), kind, {kContainer, ids, "box"});
            wrong += "a missing layer was accepted; ";
          } catch (const std::exception& e) {
            const std::string what = e.what();
            if (what.find(layer_hex(99)) == std::string::npos ||
                what.find('\n') != std::string::npos)
              wrong += "unclear: " + what + "; ";
          }
          if (overlay::lstat_path(root.path() + "/containers/" + kContainer))
            wrong += "containers/<id> was left; ";
        }
        // A failure after the rename into containers/: 203 layers do not fit mount(2)'s page
        // even with short links; everything made so far must go.
        ids.erase(ids.begin() + 1);
        for (int i = 100; i < 300; ++i) {
          ids.push_back(layer_hex(i));
          write(root.path() + "/layers/" + ids.back() + "/diff/f", "f");
        }
        try {
          graph::prepare_rootfs(root.path(), graph::DriverKind::overlay, {kContainer, ids, "box"});
          wrong += "203 layers mounted; ";
        } catch (const std::exception& e) {
          const std::string what = e.what();
          if (what.find("one page") == std::string::npos || what.find('\n') != std::string::npos)
            wrong += "unclear: " + what + "; ";
        }
        if (overlay::lstat_path(root.path() + "/containers/" + kContainer))
          wrong += "containers/<id> was left after a failed mount; ";
        // The 203 image layers keep their links; the init layer's went.
        if (overlay::list_dir(root.path() + "/layers/l").size() != ids.size())
          wrong += "the init layer's link was left; ";
        if (!overlay::list_dir(root.path() + "/tmp").empty()) wrong += "tmp/ not empty; ";
        return wrong + mount_count_under(root.path());
      }),
      "");
}

TEST(GraphDriver, RegisterAndForgetAreIdempotent) {
  REQUIRE_ROOT();
  lab::TempDir root("/var/tmp/lab-graph-links-");
  const std::string hex = layer_hex(7);
  const std::string layer = root.path() + "/layers/" + hex;
  write(layer + "/diff/f", "f");
  graph::register_layer(root.path(), hex);
  const std::string id = lab::trim(slurp(layer + "/link"));
  ASSERT_TRUE(graph::is_short_id(id)) << id;
  EXPECT_EQ(fs::read_symlink(root.path() + "/layers/l/" + id), "../" + hex + "/diff");
  EXPECT_EQ(slurp(root.path() + "/layers/l/" + id + "/f"), "f");
  graph::register_layer(root.path(), hex);
  EXPECT_EQ(lab::trim(slurp(layer + "/link")), id);
  // A link that points elsewhere (a crash, a hand edit) is replaced by a new name.
  fs::remove(root.path() + "/layers/l/" + id);
  fs::create_symlink("../nowhere", root.path() + "/layers/l/" + id);
  graph::register_layer(root.path(), hex);
  const std::string renamed = lab::trim(slurp(layer + "/link"));
  EXPECT_NE(renamed, id);
  EXPECT_EQ(slurp(root.path() + "/layers/l/" + renamed + "/f"), "f");
  fs::remove(root.path() + "/layers/l/" + id);
  // A crash that lost the symlink: registering again puts it back under the same name.
  fs::remove(root.path() + "/layers/l/" + renamed);
  graph::register_layer(root.path(), hex);
  EXPECT_EQ(fs::read_symlink(root.path() + "/layers/l/" + renamed), "../" + hex + "/diff");
  graph::forget_layer(root.path(), hex);
  graph::forget_layer(root.path(), hex);
  EXPECT_TRUE(overlay::list_dir(root.path() + "/layers/l").empty());
  EXPECT_FALSE(overlay::lstat_path(layer + "/link"));
  EXPECT_EQ(slurp(layer + "/diff/f"), "f");  // the layer itself is the store's to remove
  EXPECT_THROW(graph::register_layer(root.path(), layer_hex(8)), std::runtime_error);
}

TEST(GraphDriver, RemoveNeverDeletesAcrossAMountPoint) {
  REQUIRE_ROOT();
  lab::TempDir root("/var/tmp/lab-graph-cross-");
  lab::TempDir outside("/var/tmp/lab-graph-outside-");
  write(outside.path() + "/precious", "keep me");
  EXPECT_EQ(in_private_child([&] {
              write(root.path() + "/layers/" + layer_hex(0) + "/diff/f", "f");
              const std::string rootfs = graph::prepare_rootfs(root.path(), graph::DriverKind::vfs,
                                                               {kContainer, {layer_hex(0)}, "h"});
              // A bind mount inside the rootfs (a volume), and a symlink out of it.
              fs::create_directories(rootfs + "/vol");
              lab::mount_fs(outside.path().c_str(), rootfs + "/vol", nullptr, MS_BIND);
              fs::create_symlink(outside.path(), rootfs + "/escape");
              graph::remove_rootfs(root.path(), graph::DriverKind::vfs, kContainer);
              std::string wrong = mount_count_under(root.path());
              if (overlay::lstat_path(root.path() + "/containers/" + kContainer))
                wrong += "containers/<id> is still there; ";
              return wrong;
            }),
            "");
  EXPECT_EQ(slurp(outside.path() + "/precious"), "keep me");
}

}  // namespace
