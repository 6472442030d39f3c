// Volumes' pure logic: -v specs as Docker's Linux parser reads them, --tmpfs options as Docker
// merges them, --mount's CSV, a container's list of mounts (the image's VOLUMEs included), and
// the tar copy that cp and the volume copy-up use.
#include "engine/volumes.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "engine/tree_tar.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "mount.hpp"

namespace {

using nlohmann::json;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const lab::UserError& e) {
    return e.what();
  }
  return "";
}

TEST(Volumes, VolumeSpecs) {
  struct Case {
    const char* spec;
    const char* type;
    const char* source;
    const char* destination;
    bool read_only;
  } cases[] = {
      {"/host:/ctr", "bind", "/host", "/ctr", false},
      {"/host/:/ctr/:ro", "bind", "/host", "/ctr", true},
      {"/h:/c:rw", "bind", "/h", "/c", false},
      {"/h:/c:ro,rshared", "bind", "/h", "/c", true},
      {"data:/var/lib/x", "volume", "data", "/var/lib/x", false},
      {"data:/x:ro,nocopy", "volume", "data", "/x", true},
      {"/anon", "volume", "", "/anon", false},
      {"//a/./b", "volume", "", "/a/b", false},
  };
  for (const auto& c : cases) {
    engine::MountSpec m = engine::parse_volume_spec(c.spec);
    EXPECT_EQ(m.type, c.type) << c.spec;
    EXPECT_EQ(m.source, c.source) << c.spec;
    EXPECT_EQ(m.destination, c.destination) << c.spec;
    EXPECT_EQ(m.read_only, c.read_only) << c.spec;
  }
  EXPECT_EQ(engine::parse_volume_spec("/h:/c:ro,rshared").propagation, "rshared");
  EXPECT_EQ(engine::parse_volume_spec("/h:/c").propagation, "rprivate");
  EXPECT_TRUE(engine::parse_volume_spec("v1:/c:nocopy").nocopy);
}

TEST(Volumes, BadVolumeSpecsGetDockersWords) {
  EXPECT_EQ(error_of([] { engine::parse_volume_spec("./x:/data"); }),
            "create ./x: \"./x\" includes invalid characters for a local volume name, only "
            "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, "
            "use absolute path");
  EXPECT_EQ(error_of([] { engine::parse_volume_spec("a:b:c:d"); }),
            "invalid volume specification: 'a:b:c:d'");
  EXPECT_EQ(error_of([] { engine::parse_volume_spec("/foo:rw"); }),
            "invalid volume specification: '/foo:rw'");
  EXPECT_EQ(error_of([] { engine::parse_volume_spec("/h:/c:xyz"); }), "invalid mode: xyz");
  EXPECT_EQ(error_of([] { engine::parse_volume_spec("/h:/c:ro,rw"); }), "invalid mode: ro,rw");
  EXPECT_EQ(error_of([] { engine::parse_volume_spec("/h:/"); }),
            "invalid volume specification: '/h:/': invalid mount config for type \"bind\": "
            "invalid specification: destination can't be '/'");
  EXPECT_EQ(error_of([] { engine::parse_volume_spec("ctr"); }),
            "invalid volume specification: 'ctr': invalid mount config for type \"volume\": "
            "invalid mount path: 'ctr' mount path must be absolute");
  EXPECT_NE(error_of([] { engine::parse_volume_spec(":/c"); }), "");
  EXPECT_NE(error_of([] { engine::parse_volume_spec("a:/c"); }), "");  // one character: no name
}

TEST(Volumes, VolumeNames) {
  for (const char* good : {"ab", "my-vol", "v.1_x", "0abc"})
    EXPECT_TRUE(engine::valid_volume_name(good)) << good;
  for (const char* bad : {"", "a", "-ab", ".ab", "a/b", "a b", "..", "_x"})
    EXPECT_FALSE(engine::valid_volume_name(bad)) << bad;
}

TEST(Volumes, TmpfsOptionsMergeAsDocker) {
  using V = std::vector<std::string>;
  EXPECT_EQ(engine::tmpfs_options(""), (V{"noexec", "nosuid", "nodev", "rprivate"}));
  EXPECT_EQ(engine::tmpfs_options("size=64m"),
            (V{"noexec", "nosuid", "nodev", "rprivate", "size=64m"}));
  // A later word of the same kind wins: exec over noexec, the last size=.
  EXPECT_EQ(engine::tmpfs_options("exec,size=1m,size=2m"),
            (V{"nosuid", "nodev", "rprivate", "exec", "size=2m"}));
  EXPECT_EQ(engine::tmpfs_options("ro,mode=1777,defaults"),
            (V{"noexec", "nosuid", "nodev", "rprivate", "ro", "mode=1777"}));
  EXPECT_EQ(error_of([] { engine::tmpfs_options("bogus"); }), "Invalid tmpfs option [\"bogus\"]");
  EXPECT_EQ(error_of([] { engine::tmpfs_options("a=b"); }), "Invalid tmpfs option [\"a\" \"b\"]");
}

TEST(Volumes, TmpfsSpecs) {
  engine::MountSpec m = engine::parse_tmpfs_spec("/run:rw,size=1m");
  EXPECT_EQ(m.type, "tmpfs");
  EXPECT_EQ(m.destination, "/run");
  EXPECT_EQ(m.tmpfs_data, "rw,size=1m");
  EXPECT_FALSE(m.read_only);
  EXPECT_TRUE(engine::parse_tmpfs_spec("/r:ro").read_only);
  EXPECT_THROW(engine::parse_tmpfs_spec("run"), lab::UserError);
  EXPECT_THROW(engine::parse_tmpfs_spec("/"), lab::UserError);
  EXPECT_THROW(engine::parse_tmpfs_spec("/r:what"), lab::UserError);
}

TEST(Volumes, MountFlagCsv) {
  engine::MountSpec b = engine::parse_mount_spec("type=bind,source=/h,target=/c,readonly");
  EXPECT_EQ(b.type, "bind");
  EXPECT_EQ(b.source, "/h");
  EXPECT_EQ(b.destination, "/c");
  EXPECT_TRUE(b.read_only);
  EXPECT_TRUE(b.from_mount_flag);
  engine::MountSpec v = engine::parse_mount_spec("src=data,dst=/d");  // type defaults to volume
  EXPECT_EQ(v.type, "volume");
  EXPECT_EQ(v.source, "data");
  engine::MountSpec t = engine::parse_mount_spec("type=tmpfs,destination=/t,tmpfs-size=1m");
  EXPECT_EQ(t.tmpfs_data, "size=1048576");
  EXPECT_THROW(engine::parse_mount_spec("type=bind,target=/c"), lab::UserError);
  EXPECT_THROW(engine::parse_mount_spec("type=bind,source=rel,target=/c"), lab::UserError);
  EXPECT_THROW(engine::parse_mount_spec("type=nfs,target=/c"), lab::UserError);
  EXPECT_THROW(engine::parse_mount_spec("type=volume,target=/c,color=red"), lab::UserError);
  EXPECT_THROW(engine::parse_mount_spec("type=tmpfs,source=x,target=/c"), lab::UserError);
}

TEST(Volumes, ContainerMountsTakeTheImagesVolumes) {
  exec::RunOptions o;
  o.volumes = {"/h:/data", "/anon"};
  o.tmpfs = {"/run"};
  json image = {{"Volumes", {{"/data", json::object()}, {"/var/log", json::object()}}}};
  int n = 0;
  auto names = [&] { return "anon" + std::to_string(++n); };
  std::vector<engine::MountSpec> mounts = engine::container_mounts(o, image, names);
  ASSERT_EQ(mounts.size(), 4u);  // /data is the user's bind, not a second volume
  EXPECT_EQ(mounts[1].source, "anon1");
  EXPECT_TRUE(mounts[1].anonymous);
  EXPECT_EQ(mounts[3].destination, "/var/log");
  EXPECT_EQ(mounts[3].source, "anon2");
  o.tmpfs = {"/data"};
  EXPECT_EQ(error_of([&] { engine::container_mounts(o, json::object(), names); }),
            "Duplicate mount point: /data");
}

}  // namespace

namespace {

// cp's and the volume copy-up's tar: what comes out on the other side, and a symlink to /
// stays a symlink (never followed out of the tree).
TEST(TreeTar, CopiesTreesFilesAndLinksAsThemselves) {
  lab::TempDir from("/tmp/lab-treetar-from-"), to("/tmp/lab-treetar-to-");
  const std::string& f = from.path();
  std::filesystem::create_directories(f + "/src/sub");
  lab::create_file(f + "/src/a", "a\n");
  lab::create_file(f + "/src/sub/b", "b\n");
  ASSERT_EQ(::symlink("/", (f + "/src/escape").c_str()), 0);
  lab::UniqueFd src = lab::open_fd(f + "/src", O_PATH | O_CLOEXEC);
  engine::copy_tree_via_tar(src.get(), "named", to.path());
  EXPECT_EQ(lab::read_file(to.path() + "/named/a"), "a\n");
  EXPECT_EQ(lab::read_file(to.path() + "/named/sub/b"), "b\n");
  EXPECT_EQ(std::filesystem::read_symlink(to.path() + "/named/escape"), "/");
  engine::copy_tree_via_tar(src.get(), "", to.path());  // the contents only
  EXPECT_EQ(lab::read_file(to.path() + "/a"), "a\n");
  lab::UniqueFd file = lab::open_fd(f + "/src/sub/b", O_PATH | O_CLOEXEC);
  engine::copy_tree_via_tar(file.get(), "renamed", to.path());
  EXPECT_EQ(lab::read_file(to.path() + "/renamed"), "b\n");
  lab::UniqueFd link = lab::open_fd(f + "/src/escape", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  engine::copy_tree_via_tar(link.get(), "link", to.path());
  EXPECT_EQ(std::filesystem::read_symlink(to.path() + "/link"), "/");
}

}  // namespace
