// final/graph: sha256 digests, and layer tars unpacked safely (malicious entries refused or kept
// inside the layer), whiteouts turned into overlay's spelling and back, digests of what was read.
// The fixture tars are written here with libarchive's write API.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "error.hpp"
#include "fd.hpp"
#include "graph/digest.hpp"
#include "graph/layer_archive.hpp"
#include "mount.hpp"
#include "overlay.hpp"

namespace {

namespace fs = std::filesystem;

// --- digests -------------------------------------------------------------------------------------

TEST(GraphDigest, KnownSha256Vectors) {
  struct Case {
    std::string input;
    const char* digest;
  } cases[] = {
      {"", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {std::string(1000000, 'a'),
       "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  for (const auto& c : cases) EXPECT_EQ(graph::sha256_digest(c.input), c.digest);
}

TEST(GraphDigest, UpdatesInPiecesEqualOneUpdate) {
  graph::Sha256 sha;
  sha.update("ab");
  sha.update("");
  sha.update("c");
  EXPECT_EQ(sha.bytes(), 3u);
  EXPECT_EQ(sha.digest(), graph::sha256_digest("abc"));
  EXPECT_THROW(sha.update("more"), std::logic_error);
}

TEST(GraphDigest, OnlySha256WithLowerCaseHexIsADigest) {
  const std::string hex64(64, 'a');
  struct Case {
    std::string digest;
    bool valid;
  } cases[] = {
      {"sha256:" + hex64, true},
      {"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
      {"sha256:" + std::string(64, 'A'), false},
      {"sha256:" + hex64.substr(1), false},
      {"sha256:" + hex64 + "a", false},
      {"sha512:" + hex64, false},
      {"SHA256:" + hex64, false},
      {hex64, false},
      {"sha256:" + hex64.substr(1) + "g", false},
      {"sha256:../../" + hex64.substr(6), false},
      {"", false},
      {"sha256:", false},
  };
  for (const auto& c : cases) EXPECT_EQ(graph::is_sha256_digest(c.digest), c.valid) << c.digest;
}

TEST(GraphDigest, HexOfAValidDigestAndOneLineForABadOne) {
  const std::string hex64(64, 'b');
  EXPECT_EQ(graph::digest_hex("sha256:" + hex64), hex64);
  try {
    graph::digest_hex("sha256:../etc", "layer digest");
    FAIL() << "digest_hex accepted a path";
  } catch (const lab::UserError& e) {
    EXPECT_EQ(std::string(e.what()),
              "invalid layer digest \"sha256:../etc\": expected sha256: and 64 lower-case hex "
              "digits");
  }
}

// --- fixture tars --------------------------------------------------------------------------------

struct Entry {
  std::string path;
  mode_t type = AE_IFREG;
  std::string content;  // a file's bytes, a symlink's target
  std::string hardlink = {};
  mode_t perm = 0644;
  std::map<std::string, std::string> xattrs = {};
  dev_t rdev = 0;
};

la_ssize_t append_to_string(struct archive*, void* out, const void* buffer, size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buffer), size);
  return static_cast<la_ssize_t>(size);
}

enum class Compression { kNone, kGzip, kZstd };

std::string make_tar(const std::vector<Entry>& entries,
                     Compression compression = Compression::kNone) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (compression == Compression::kGzip) archive_write_add_filter_gzip(a);
  if (compression == Compression::kZstd) archive_write_add_filter_zstd(a);
  // No padding to 10 KiB records after the compressor: the gzip file ends where its stream ends,
  // and the plain tar is byte for byte what the gzip holds.
  archive_write_set_bytes_in_last_block(a, 1);
  EXPECT_EQ(archive_write_open2(a, &out, nullptr, append_to_string, nullptr, nullptr), ARCHIVE_OK);
  for (const auto& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.path.c_str());
    archive_entry_set_filetype(entry, e.type);
    archive_entry_set_perm(entry, e.perm);
    archive_entry_set_mtime(entry, 1700000000, 0);
    archive_entry_set_uid(entry, 1000);
    archive_entry_set_gid(entry, 1001);
    for (const auto& [name, value] : e.xattrs)
      archive_entry_xattr_add_entry(entry, name.c_str(), value.data(), value.size());
    if (e.type == AE_IFLNK) archive_entry_set_symlink(entry, e.content.c_str());
    if (e.type == AE_IFCHR || e.type == AE_IFBLK) archive_entry_set_rdev(entry, e.rdev);
    if (!e.hardlink.empty()) archive_entry_set_hardlink(entry, e.hardlink.c_str());
    const bool has_data = e.type == AE_IFREG && e.hardlink.empty();
    archive_entry_set_size(entry, has_data ? static_cast<la_int64_t>(e.content.size()) : 0);
    EXPECT_EQ(archive_write_header(a, entry), ARCHIVE_OK) << archive_error_string(a);
    if (has_data && !e.content.empty()) {
      EXPECT_EQ(archive_write_data(a, e.content.data(), e.content.size()),
                static_cast<la_ssize_t>(e.content.size()));
    }
    archive_entry_free(entry);
  }
  EXPECT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
  return out;
}

Entry dir(std::string path) { return {std::move(path), AE_IFDIR, "", "", 0755}; }
Entry file(std::string path, std::string content = "data") {
  return {std::move(path), AE_IFREG, std::move(content)};
}
Entry symlink(std::string path, std::string target) {
  return {std::move(path), AE_IFLNK, std::move(target), "", 0777};
}
Entry hardlink(std::string path, std::string target) {
  return {std::move(path), AE_IFREG, "", std::move(target)};
}

// A scratch directory: the layer in <base>/layer, and <base> itself as "the host" next to it,
// where an escaping entry would land.
struct Scratch {
  lab::TempDir base{"/tmp/lab-graph-archive-"};
  std::string layer = base.path() + "/layer";
  Scratch() { fs::create_directory(layer); }
  // A layer may hold read-only directories (0555): without root, TempDir could not empty them.
  ~Scratch() {
    std::error_code ignored;
    for (const auto& e : fs::recursive_directory_iterator(layer, ignored))
      if (e.is_directory() && !e.is_symlink())
        fs::permissions(e.path(), fs::perms::owner_all, fs::perm_options::add, ignored);
  }
  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string path = base.path() + "/" + name;
    lab::create_file(path, bytes);
    return path;
  }
  graph::UnpackResult unpack(const std::string& bytes, const graph::UnpackLimits& limits = {}) {
    const std::string path = write("input.tar", bytes);
    lab::UniqueFd fd = lab::open_fd(path, O_RDONLY | O_CLOEXEC);
    return graph::unpack_layer(fd.get(), layer, limits);
  }
  // The error text of an unpack that must fail, "" if it succeeded.
  std::string unpack_error(const std::string& bytes, const graph::UnpackLimits& limits = {}) {
    try {
      unpack(bytes, limits);
    } catch (const lab::UserError& e) {
      return e.what();
    }
    return "";
  }
  bool in_layer(const std::string& path) const {
    return overlay::lstat_path(layer + "/" + path).has_value();
  }
  // Everything below <base> that is neither the layer nor the input nor something the test
  // made itself: where an escape would show.
  std::vector<std::string> outside_layer() const {
    std::vector<std::string> out;
    for (const auto& name : overlay::list_dir(base.path()))
      if (name != "layer" && name != "input.tar" && name != "host-file") out.push_back(name);
    return out;
  }
};

std::string read(const std::string& path) { return lab::read_file(path); }

// --- malicious archives --------------------------------------------------------------------------

TEST(GraphUnpack, EscapingEntriesAreRefusedWithOneLine) {
  struct Case {
    const char* name;
    std::vector<Entry> entries;
    const char* error;
  } cases[] = {
      {"dot-dot", {file("../escape")}, "layer entry ../escape climbs out of the layer; refused"},
      {"dot-dot-deep",
       {file("a/b/../../../escape")},
       "layer entry a/b/../../../escape climbs out of the layer; refused"},
      {"absolute-dot-dot",
       {file("/../escape")},
       "layer entry /../escape climbs out of the layer; refused"},
      {"hardlink-dot-dot",
       {hardlink("x", "../host-file")},
       "layer entry x (a hardlink to ../host-file) climbs out of the layer; refused"},
      {"whiteout-dot-dot", {file(".wh..")}, "layer entry .wh.. is not a whiteout of a plain file"},
      {"whiteout-dot", {file("a/.wh..")}, "layer entry a/.wh.. is not a whiteout of a plain file"},
      {"whiteout-empty", {file(".wh.")}, "layer entry .wh. is not a whiteout of a plain file"},
      {"whiteout-of-whiteout",
       {file(".wh..wh.plnk")},
       "layer entry .wh..wh.plnk is not a whiteout of a plain file"},
      {"whiteout-dir-dot-dot",
       {file(".wh.../x")},
       "layer entry .wh.../x has a whiteout (.wh...) as a directory; refused"},
      {"whiteout-dir", {file("a/.wh.b/c")}, "layer entry a/.wh.b/c has a whiteout (.wh.b) as a"},
  };
  for (const auto& c : cases) {
    Scratch scratch;
    scratch.write("host-file", "host");
    const std::string error = scratch.unpack_error(make_tar(c.entries));
    EXPECT_TRUE(error.starts_with(c.error)) << c.name << ": " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << c.name;
    EXPECT_EQ(scratch.outside_layer(), std::vector<std::string>{}) << c.name;
    EXPECT_EQ(read(scratch.base.path() + "/host-file"), "host") << c.name;
  }
}

// Paths through symlinks in the layer are resolved with the layer as "/": they are kept inside,
// as Docker and containerd keep them.
TEST(GraphUnpack, EntriesThroughSymlinksStayInsideTheLayer) {
  struct Case {
    const char* name;
    std::vector<Entry> entries;
    std::string written;  // where the file must be, relative to the layer
  } cases[] = {
      {"absolute", {file("/abs/file")}, "abs/file"},
      {"dot-dot-inside", {file("a/../b")}, "b"},
      {"symlink-to-root", {symlink("root", "/"), file("root/escape")}, "escape"},
      {"symlink-to-parent", {symlink("up", ".."), file("up/escape")}, "escape"},
      {"symlink-to-grandparent", {symlink("up", "../../"), file("up/escape")}, "escape"},
      {"symlink-chain",
       {symlink("a", "b/../.."), dir("b"), symlink("b/c", "../../a/.."), file("b/c/escape")},
       "escape"},
  };
  for (const auto& c : cases) {
    Scratch scratch;
    const auto result = scratch.unpack(make_tar(c.entries));
    EXPECT_EQ(result.entries, c.entries.size()) << c.name;
    EXPECT_EQ(read(scratch.layer + "/" + c.written), "data") << c.name;
    EXPECT_EQ(scratch.outside_layer(), std::vector<std::string>{}) << c.name;
  }
}

// The same through an absolute path that names the host's scratch directory: it is made inside.
TEST(GraphUnpack, SymlinkToRootThenHostPathLandsInsideTheLayer) {
  Scratch scratch;
  const std::string host_path = scratch.base.path() + "/escape";
  scratch.unpack(make_tar({symlink("root", "/"), file("root" + host_path)}));
  EXPECT_FALSE(overlay::lstat_path(host_path).has_value());
  EXPECT_EQ(read(scratch.layer + host_path), "data");
}

TEST(GraphUnpack, HardlinksToHostFilesAreRefused) {
  Scratch scratch;
  const std::string host_file = scratch.write("host-file", "host");
  struct Case {
    const char* name;
    std::vector<Entry> entries;
  } cases[] = {
      {"host-absolute", {hardlink("x", host_file)}},
      {"etc-passwd", {hardlink("passwd", "/etc/passwd")}},
      {"through-symlink", {symlink("etc", "/etc"), hardlink("passwd", "etc/passwd")}},
      {"through-symlink-up", {symlink("up", "../.."), hardlink("x", "up" + host_file)}},
  };
  struct stat passwd_before {};
  ASSERT_EQ(::stat("/etc/passwd", &passwd_before), 0);
  for (const auto& c : cases) {
    fs::remove_all(scratch.layer);
    fs::create_directory(scratch.layer);
    const std::string error = scratch.unpack_error(make_tar(c.entries));
    EXPECT_NE(error.find("which is not a file earlier in the layer; refused"), std::string::npos)
        << c.name << ": " << error;
    struct stat st {};
    ASSERT_EQ(::stat(host_file.c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 1u) << c.name;
    ASSERT_EQ(::stat("/etc/passwd", &st), 0);
    EXPECT_EQ(st.st_nlink, passwd_before.st_nlink) << c.name;
  }
  EXPECT_EQ(scratch.outside_layer(), std::vector<std::string>{});
}

TEST(GraphUnpack, HardlinkInsideTheLayerSharesTheInode) {
  Scratch scratch;
  scratch.unpack(make_tar({file("a", "same"), hardlink("b", "a"), hardlink("c", "/a")}));
  struct stat a {
  }, b{}, c{};
  ASSERT_EQ(::lstat((scratch.layer + "/a").c_str(), &a), 0);
  ASSERT_EQ(::lstat((scratch.layer + "/b").c_str(), &b), 0);
  ASSERT_EQ(::lstat((scratch.layer + "/c").c_str(), &c), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_ino, c.st_ino);
  EXPECT_EQ(a.st_nlink, 3u);
}

TEST(GraphUnpack, LimitsGiveOneLine) {
  std::vector<Entry> bomb;
  for (int i = 0; i < 200; ++i) bomb.push_back(file(fmt::format("f{}", i), "x"));
  struct Case {
    const char* name;
    std::vector<Entry> entries;
    graph::UnpackLimits limits;
    const char* error;
  } cases[] = {
      {"entries", bomb, {1 << 20, 100}, "layer exceeds 100 entries"},
      {"bytes",
       {file("big", std::string(10000, 'z'))},
       {4096, 100},
       "layer exceeds 4096 bytes of file content (at entry big)"},
      {"bytes-summed",
       {file("a", std::string(3000, 'z')), file("b", std::string(3000, 'z'))},
       {4096, 100},
       "layer exceeds 4096 bytes of file content (at entry b)"},
  };
  for (const auto& c : cases) {
    Scratch scratch;
    EXPECT_EQ(scratch.unpack_error(make_tar(c.entries), c.limits), c.error) << c.name;
    EXPECT_EQ(scratch.outside_layer(), std::vector<std::string>{}) << c.name;
  }
  {
    // Zeros after the end of the archive count too: a small tar cannot hide a gzip bomb there.
    Scratch scratch;
    const graph::UnpackLimits limits{4096, 1};
    const uint64_t bound = limits.max_bytes + limits.max_entries * 16384 + (1 << 20);
    EXPECT_EQ(scratch.unpack_error(make_tar({file("a")}) + std::string(bound, '\0'), limits),
              fmt::format("cannot read the layer after its last entry: its uncompressed tar "
                          "exceeds {} bytes",
                          bound));
  }
  // At the limits exactly, the same layers unpack.
  Scratch scratch;
  EXPECT_EQ(scratch.unpack(make_tar(bomb), {1 << 20, 200}).entries, 200u);
}

TEST(GraphUnpack, BrokenArchivesNameLibarchivesError) {
  const std::string gzip = make_tar({file("a", std::string(100000, 'q'))}, Compression::kGzip);
  const std::string plain = make_tar({file("a", std::string(100000, 'q'))});
  struct Case {
    const char* name;
    std::string bytes;
    const char* why;  // libarchive's words, or ours
  } cases[] = {
      {"truncated-gzip", gzip.substr(0, gzip.size() / 2), "truncated gzip input"},
      {"truncated-tar", plain.substr(0, 700), "Truncated tar archive"},
      {"not-a-tar", std::string(2000, 'x'), "Unrecognized archive format"},
      {"empty", "", "it is empty"},
  };
  for (const auto& c : cases) {
    Scratch scratch;
    const std::string error = scratch.unpack_error(c.bytes);
    EXPECT_TRUE(error.starts_with("cannot read the layer")) << c.name << ": " << error;
    EXPECT_NE(error.find(c.why), std::string::npos) << c.name << ": " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << c.name;
  }
}

TEST(GraphUnpack, DevicesAreMadeByRootOnly) {
  Scratch scratch;
  const std::string tar = make_tar({{"null", AE_IFCHR, "", "", 0666, {}, ::makedev(1, 3)}});
  if (::geteuid() != 0) {
    EXPECT_EQ(scratch.unpack_error(tar),
              "layer entry null is a device node; only root may make one; refused");
    return;
  }
  scratch.unpack(tar);
  struct stat st {};
  ASSERT_EQ(::lstat((scratch.layer + "/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, ::makedev(1, 3));
}

// --- tar semantics and metadata ------------------------------------------------------------------

TEST(GraphUnpack, ALaterEntryReplacesAnEarlierOne) {
  Scratch scratch;
  const std::string host_target = scratch.base.path() + "/escape";
  scratch.unpack(make_tar({
      file("f", "first"), file("f", "second"),              // file over file
      dir("d"), file("d/inner"), file("d", "now a file"),   // file over directory
      file("e"), dir("e"), file("e/inner", "in e"),         // directory over file
      dir("k"), file("k/keep", "kept"), dir("k"),           // directory over directory keeps
      symlink("l", host_target), file("l", "not through"),  // file over symlink, not through it
  }));
  EXPECT_EQ(read(scratch.layer + "/f"), "second");
  EXPECT_EQ(read(scratch.layer + "/d"), "now a file");
  EXPECT_EQ(read(scratch.layer + "/e/inner"), "in e");
  EXPECT_EQ(read(scratch.layer + "/k/keep"), "kept");
  EXPECT_EQ(read(scratch.layer + "/l"), "not through");
  EXPECT_FALSE(overlay::lstat_path(host_target).has_value());
}

TEST(GraphUnpack, ModesOwnersTimesAndXattrsAreKept) {
  Scratch scratch;
  Entry setuid = file("bin/su", "#!");
  setuid.perm = 04755;
  Entry capable = file("bin/ping", "#!");
  // VFS_CAP_REVISION_2 with CAP_NET_RAW (13) effective and permitted: what setcap writes.
  const std::string cap(
      "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
  capable.xattrs = {{"security.capability", cap}, {"user.note", "hello"}};
  Entry readonly_dir = dir("ro");
  readonly_dir.perm = 0555;
  scratch.unpack(make_tar({dir("bin"), setuid, capable, readonly_dir, file("ro/inside")}));
  struct stat st {};
  ASSERT_EQ(::lstat((scratch.layer + "/bin/su").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  if (::geteuid() == 0) {
    EXPECT_EQ(st.st_uid, 1000u);
    EXPECT_EQ(st.st_gid, 1001u);
  }
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  ASSERT_EQ(::lstat((scratch.layer + "/ro").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);  // set after ro/inside was made in it
  char value[64] = {};
  const std::string ping = scratch.layer + "/bin/ping";
  ASSERT_EQ(::lgetxattr(ping.c_str(), "user.note", value, sizeof value), 5) << strerror(errno);
  EXPECT_EQ(std::string(value, 5), "hello");
  if (::geteuid() == 0) {
    ASSERT_EQ(::lgetxattr(ping.c_str(), "security.capability", value, sizeof value), 20);
    EXPECT_EQ(std::string(value, 20), cap);
  }
}

TEST(GraphUnpack, OverlayXattrsInTheArchiveAreDropped) {
  Scratch scratch;
  Entry sneaky = dir("d");
  sneaky.xattrs = {{"trusted.overlay.opaque", "y"}, {"trusted.overlay.redirect", "/etc"}};
  scratch.unpack(make_tar({sneaky}));
  EXPECT_EQ(overlay::read_opaque_xattr(scratch.layer + "/d"), "");
}

// --- whiteouts -----------------------------------------------------------------------------------

TEST(GraphUnpack, WhiteoutsBecomeOverlayWhiteouts) {
  if (::geteuid() != 0) GTEST_SKIP() << "trusted.overlay.opaque needs root (CAP_SYS_ADMIN)";
  Scratch scratch;
  scratch.unpack(make_tar({dir("etc"), file("etc/.wh.motd"), file(".wh.tmp"), dir("opt"),
                           file("opt/.wh..wh..opq"), file("opt/new", "new")}));
  for (const char* path : {"etc/motd", "tmp"}) {
    struct stat st {};
    ASSERT_EQ(::lstat((scratch.layer + "/" + path).c_str(), &st), 0) << path;
    EXPECT_TRUE(overlay::is_whiteout(st)) << path;
  }
  EXPECT_FALSE(scratch.in_layer("etc/.wh.motd"));
  EXPECT_FALSE(scratch.in_layer(".wh.tmp"));
  EXPECT_FALSE(scratch.in_layer("opt/.wh..wh..opq"));
  EXPECT_EQ(overlay::read_opaque_xattr(scratch.layer + "/opt"), "y");
  EXPECT_EQ(overlay::read_opaque_xattr(scratch.layer + "/etc"), "");
  EXPECT_EQ(overlay::list_tree(scratch.layer),
            (std::vector<std::string>{"etc", "etc/motd", "opt", "opt/new", "tmp"}));
}

// --- digests of what was read --------------------------------------------------------------------

TEST(GraphUnpack, DigestsOfTheBlobAndOfTheTar) {
  const std::vector<Entry> entries = {dir("a"), file("a/b", std::string(300000, 'r')),
                                      symlink("c", "a/b")};
  const std::string plain = make_tar(entries);
  const std::string gzip = make_tar(entries, Compression::kGzip);
  const std::string zstd = make_tar(entries, Compression::kZstd);
  ASSERT_NE(plain, gzip);
  ASSERT_NE(plain, zstd);
  {
    Scratch scratch;
    const auto result = scratch.unpack(plain);
    EXPECT_EQ(result.blob_digest, graph::sha256_digest(plain));
    EXPECT_EQ(result.diff_id, graph::sha256_digest(plain));
    EXPECT_EQ(result.blob_size, plain.size());
    EXPECT_EQ(result.content_bytes, 300000u);
    EXPECT_EQ(result.entries, 3u);
  }
  for (const auto& compressed : {gzip, zstd}) {
    Scratch scratch;
    uint64_t last_progress = 0;
    const std::string path = scratch.write("input.tar.compressed", compressed);
    lab::UniqueFd fd = lab::open_fd(path, O_RDONLY | O_CLOEXEC);
    const auto result = graph::unpack_layer(fd.get(), scratch.layer, {},
                                            [&](uint64_t bytes) { last_progress = bytes; });
    EXPECT_EQ(result.blob_digest, graph::sha256_digest(compressed));
    EXPECT_EQ(result.diff_id, graph::sha256_digest(plain));
    EXPECT_EQ(result.blob_size, compressed.size());
    EXPECT_EQ(last_progress, compressed.size());
    EXPECT_EQ(read(scratch.layer + "/a/b"), std::string(300000, 'r'));

    // decompress_to gives back exactly the plain tar.
    const std::string out_path = scratch.base.path() + "/out.tar";
    lab::UniqueFd in = lab::open_fd(path, O_RDONLY | O_CLOEXEC);
    lab::UniqueFd out = lab::open_fd(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    EXPECT_EQ(graph::decompress_to(in.get(), out.get()), graph::sha256_digest(plain));
    EXPECT_EQ(read(out_path), plain);
  }
  {
    // Bytes after the end blocks (tar's record padding, more zeros) belong to both digests.
    Scratch scratch;
    const std::string padded = plain + std::string(20480, '\0');
    const auto result = scratch.unpack(padded);
    EXPECT_EQ(result.diff_id, graph::sha256_digest(padded));
    EXPECT_EQ(result.blob_digest, graph::sha256_digest(padded));
  }
}

// Ctrl-C arrives through the progress callback: it comes out of libarchive's C frames as the
// same exception, not as a read error.
TEST(GraphUnpack, AnExceptionFromProgressPassesThrough) {
  Scratch scratch;
  const std::string path =
      scratch.write("input.tar", make_tar({file("a", std::string(1 << 21, 'i'))}));
  lab::UniqueFd fd = lab::open_fd(path, O_RDONLY | O_CLOEXEC);
  EXPECT_THROW(graph::unpack_layer(fd.get(), scratch.layer, {},
                                   [](uint64_t bytes) {
                                     if (bytes > (1 << 20)) throw lab::Interrupted();
                                   }),
               lab::Interrupted);
}

// --- export --------------------------------------------------------------------------------------

// A description of a tree to compare two unpacks by: path, type, mode, owner, mtime, content or
// target, whiteout, opaque, xattrs, and which paths share an inode.
std::vector<std::string> describe(const std::string& root) {
  std::vector<std::string> out;
  std::map<ino_t, std::string> first;
  for (const auto& path : overlay::list_tree(root)) {
    const std::string full = root + "/" + path;
    struct stat st {};
    EXPECT_EQ(::lstat(full.c_str(), &st), 0);
    std::string what = fmt::format("{} {:o} {}:{} {}", path, st.st_mode, st.st_uid, st.st_gid,
                                   S_ISDIR(st.st_mode) ? 0 : st.st_mtim.tv_sec);
    if (S_ISREG(st.st_mode)) what += " =" + lab::read_file(full);
    if (S_ISLNK(st.st_mode)) what += " ->" + fs::read_symlink(full).string();
    if (S_ISCHR(st.st_mode)) what += fmt::format(" dev {}", st.st_rdev);
    if (S_ISDIR(st.st_mode)) what += " opaque=" + overlay::read_opaque_xattr(full);
    char value[64] = {};
    const ssize_t n = ::lgetxattr(full.c_str(), "user.note", value, sizeof value);
    if (n > 0) what += " note=" + std::string(value, static_cast<size_t>(n));
    if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
      const auto [it, inserted] = first.try_emplace(st.st_ino, path);
      what += " link=" + it->second;
    }
    out.push_back(what);
  }
  return out;
}

TEST(GraphExport, UnpackExportUnpackGivesTheSameTree) {
  if (::geteuid() != 0) GTEST_SKIP() << "trusted.overlay.opaque needs root (CAP_SYS_ADMIN)";
  Scratch scratch;
  Entry noted = file("etc/hostname", "box");
  noted.xattrs = {{"user.note", "kept"}};
  Entry setuid = file("bin/su", "#!");
  setuid.perm = 04755;
  const auto first = scratch.unpack(make_tar({
      dir("bin"),
      setuid,
      hardlink("bin/sudo", "bin/su"),
      symlink("bin/sh", "/bin/busybox"),
      dir("etc"),
      noted,
      file("etc/.wh.motd"),
      dir("opt"),
      file("opt/.wh..wh..opq"),
      file("opt/new", "new"),
      file(".wh.tmp"),
      dir("empty"),
  }));
  ASSERT_EQ(first.entries, 12u);

  const std::string exported = scratch.base.path() + "/exported.tar";
  lab::UniqueFd out = lab::open_fd(exported, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const std::string diff_id = graph::export_layer(scratch.layer, out.get());
  out.reset();
  const std::string bytes = read(exported);
  EXPECT_EQ(diff_id, graph::sha256_digest(bytes));

  Scratch again;
  const auto second = again.unpack(bytes);
  EXPECT_EQ(second.diff_id, diff_id);
  EXPECT_EQ(describe(again.layer), describe(scratch.layer));
  // The whiteouts went out as OCI whiteout files and came back as overlay's.
  struct stat st {};
  ASSERT_EQ(::lstat((again.layer + "/tmp").c_str(), &st), 0);
  EXPECT_TRUE(overlay::is_whiteout(st));
  EXPECT_EQ(overlay::read_opaque_xattr(again.layer + "/opt"), "y");
  EXPECT_NE(bytes.find(".wh..wh..opq"), std::string::npos);
  EXPECT_EQ(bytes.find("trusted.overlay"), std::string::npos);

  // The same tree exports to the same bytes: the diff id is stable.
  lab::UniqueFd out2 = lab::open_fd(exported, O_WRONLY | O_TRUNC | O_CLOEXEC);
  EXPECT_EQ(graph::export_layer(again.layer, out2.get()), diff_id);
}

TEST(GraphExport, EntriesAreRelativeAndSorted) {
  Scratch scratch;
  scratch.unpack(make_tar({file("z"), dir("a"), file("a/y"), file("a/b"), file("m")}));
  const std::string exported = scratch.base.path() + "/exported.tar";
  lab::UniqueFd out = lab::open_fd(exported, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  graph::export_layer(scratch.layer, out.get());
  out.reset();

  std::vector<std::string> paths;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  ASSERT_EQ(archive_read_open_filename(a, exported.c_str(), 10240), ARCHIVE_OK);
  struct archive_entry* entry = nullptr;
  while (archive_read_next_header(a, &entry) == ARCHIVE_OK)
    paths.push_back(archive_entry_pathname(entry));
  archive_read_free(a);
  EXPECT_EQ(paths, (std::vector<std::string>{"a/", "a/b", "a/y", "m", "z"}));
}

// A layer opaque at its top (`.wh..wh..opq` at the root) keeps the marker through an export.
TEST(GraphExport, AnOpaqueRootIsExportedAsItsMarker) {
  if (::geteuid() != 0) GTEST_SKIP() << "trusted.overlay.opaque needs root (CAP_SYS_ADMIN)";
  Scratch scratch;
  scratch.unpack(make_tar({file(".wh..wh..opq"), file("only")}));
  ASSERT_EQ(overlay::read_opaque_xattr(scratch.layer), "y");
  const std::string exported = scratch.base.path() + "/exported.tar";
  lab::UniqueFd out = lab::open_fd(exported, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  graph::export_layer(scratch.layer, out.get());
  out.reset();
  Scratch again;
  again.unpack(read(exported));
  EXPECT_EQ(overlay::read_opaque_xattr(again.layer), "y");
  EXPECT_EQ(overlay::list_tree(again.layer), std::vector<std::string>{"only"});
}

}  // namespace
