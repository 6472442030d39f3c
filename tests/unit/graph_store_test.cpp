// Pure logic of the image store: references parsed and resolved as Docker does (tags, full ids,
// id prefixes, ambiguity), Docker's size and duration units, RFC 3339 times; and the store's
// rules on a scratch root: the lock is required, a blob with a wrong digest is refused, a staged
// layer is published once.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "error.hpp"
#include "fd.hpp"
#include "graph/digest.hpp"
#include "graph/store.hpp"
#include "mount.hpp"

namespace {

TEST(GraphReference, ParsedAsDockerReadsIt) {
  struct Case {
    const char* text;
    const char* name;
    const char* tag;
    const char* str;
  } cases[] = {
      {"busybox", "busybox", "latest", "busybox:latest"},
      {"busybox:1.36", "busybox", "1.36", "busybox:1.36"},
      {"mine/box:v1", "mine/box", "v1", "mine/box:v1"},
      {"localhost:5000/app", "localhost:5000/app", "latest", "localhost:5000/app:latest"},
      {"localhost:5000/app:v2", "localhost:5000/app", "v2", "localhost:5000/app:v2"},
      {"Registry.Example/app:V_1.x-y", "Registry.Example/app", "V_1.x-y",
       "Registry.Example/app:V_1.x-y"},
      {"a__b-c.d", "a__b-c.d", "latest", "a__b-c.d:latest"},
  };
  for (const auto& c : cases) {
    graph::Reference ref = graph::parse_reference(c.text);
    EXPECT_EQ(ref.name, c.name) << c.text;
    EXPECT_EQ(ref.tag, c.tag) << c.text;
    EXPECT_EQ(ref.str(), c.str) << c.text;
    EXPECT_EQ(graph::normalize_tag(c.text), c.str) << c.text;
  }
  std::string digest = "sha256:" + std::string(64, 'a');
  graph::Reference pinned = graph::parse_reference("app@" + digest);
  EXPECT_EQ(pinned.name, "app");
  EXPECT_EQ(pinned.tag, "");
  EXPECT_EQ(pinned.digest, digest);
  EXPECT_THROW(graph::normalize_tag("app@" + digest), lab::UserError);
}

TEST(GraphReference, RefusedAsDockerRefusesIt) {
  for (const char* text :
       {"", ":tag", "Busybox", "mine/Box:v1", "app:", "app:-x", "app:.x", "a//b", "/a", "a/", "-a",
        "a-", "a b", "app:t@g", "app@sha256:12", "app@md5:00"}) {
    EXPECT_THROW(graph::parse_reference(text), lab::UserError) << text;
  }
  EXPECT_THROW(graph::parse_reference("app:" + std::string(129, 't')), lab::UserError);
  EXPECT_NO_THROW(graph::parse_reference("app:" + std::string(128, 't')));
  try {
    graph::parse_reference("Busybox:latest");
    FAIL();
  } catch (const lab::UserError& e) {
    EXPECT_STREQ(e.what(), "invalid reference format: repository name (Busybox) must be lowercase");
  }
}

const std::string kA = "sha256:abc1" + std::string(60, '0');
const std::string kB = "sha256:abc2" + std::string(60, '0');
const std::string kC = "sha256:ffff" + std::string(60, '1');

TEST(GraphResolve, TagsIdsAndUniquePrefixes) {
  std::vector<std::string> ids = {kA, kB, kC};
  std::map<std::string, std::string> tags = {
      {"busybox:latest", kA}, {"mine/box:v1", kB}, {"abc1:latest", kC}};
  struct Case {
    const char* ref;
    std::optional<std::string> id;
  } cases[] = {
      {"busybox", kA},
      {"busybox:latest", kA},
      {"mine/box:v1", kB},
      {"mine/box", std::nullopt},  // mine/box:latest is not a tag
      {"f", kC},                   // one hex digit is enough when it is unique
      {"ffff1", kC},
      {"abc2", kB},
      {"sha256:abc2", kB},
      {"abc1", kC},  // a tag wins over an id prefix, as in Docker
      {"abc1:latest", kC},
      {"abc2:latest", std::nullopt},  // an explicit tag is a name, never an id prefix
      {"0", std::nullopt},
      {"xyz", std::nullopt},
      {"ABC2", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(graph::resolve_reference(c.ref, ids, tags), c.id) << c.ref;
  EXPECT_EQ(graph::resolve_reference(kB, ids, tags), kB);
  EXPECT_EQ(graph::resolve_reference(kB.substr(7), ids, tags), kB);
  EXPECT_EQ(graph::resolve_reference(kB.substr(7) + "0", ids, tags), std::nullopt);
}

TEST(GraphResolve, AnAmbiguousPrefixIsRefused) {
  std::vector<std::string> ids = {kA, kB, kC};
  for (const char* ref : {"a", "abc", "sha256:abc"}) {
    try {
      graph::resolve_reference(ref, ids, {});
      FAIL() << ref;
    } catch (const lab::UserError& e) {
      EXPECT_EQ(std::string(e.what()),
                std::string("multiple IDs found with provided prefix: ") + ref);
    }
  }
}

TEST(GraphFormat, DockerSizes) {
  struct Case {
    double bytes;
    int precision;
    const char* text;
  } cases[] = {
      {0, 3, "0B"},
      {999, 3, "999B"},
      {1000, 3, "1kB"},
      {1234, 3, "1.23kB"},
      {4260000, 3, "4.26MB"},
      {1987000, 3, "1.99MB"},
      {1987000, 4, "1.987MB"},
      {16430000, 4, "16.43MB"},
      {2e9, 3, "2GB"},
      {999999, 3, "1e+03kB"},  // Go's %g at the edge, as Docker prints it
  };
  for (const auto& c : cases) EXPECT_EQ(graph::human_size(c.bytes, c.precision), c.text) << c.bytes;
}

TEST(GraphFormat, DockerDurations) {
  struct Case {
    int64_t seconds;
    const char* text;
  } cases[] = {
      {0, "Less than a second"}, {1, "1 second"},          {59, "59 seconds"},
      {60, "About a minute"},    {119, "About a minute"},  {120, "2 minutes"},
      {3599, "59 minutes"},      {3600, "About an hour"},  {5399, "About an hour"},
      {5400, "2 hours"},         {47 * 3600, "47 hours"},  {48 * 3600, "2 days"},
      {14 * 86400, "2 weeks"},   {60 * 86400, "2 months"}, {2 * 365 * 86400, "2 years"},
  };
  for (const auto& c : cases) EXPECT_EQ(graph::human_duration(c.seconds), c.text) << c.seconds;
}

TEST(GraphFormat, Rfc3339) {
  EXPECT_EQ(graph::parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(graph::parse_rfc3339("2024-01-02T03:04:05.123456789Z"), 1704164645);
  EXPECT_EQ(graph::parse_rfc3339("2024-01-02T04:04:05+01:00"), 1704164645);
  EXPECT_EQ(graph::parse_rfc3339("2024-01-02T02:04:05.5-01:00"), 1704164645);
  EXPECT_EQ(graph::parse_rfc3339("yesterday"), 0);
  EXPECT_EQ(graph::parse_rfc3339("2024-01-02T03:04:05"), 0);  // no zone: refused
  std::string now = graph::rfc3339_now();
  EXPECT_GT(graph::parse_rfc3339(now), 1700000000) << now;
  EXPECT_EQ(now.size(), 30u) << now;
}

TEST(GraphStore, WritesNeedTheExclusiveLock) {
  lab::TempDir dir("/tmp/lab-store-");
  graph::Store store(dir.path());
  EXPECT_THROW(store.put_blob(std::string_view("x")), std::logic_error);
  {
    auto shared = store.lock(graph::LockMode::shared);
    EXPECT_THROW(store.put_blob(std::string_view("x")), std::logic_error);
    EXPECT_FALSE(store.has_blob(graph::sha256_digest("x")));
  }
  auto lock = store.lock(graph::LockMode::exclusive);
  std::string digest = store.put_blob(std::string_view("x"));
  EXPECT_EQ(digest, graph::sha256_digest("x"));
  EXPECT_EQ(store.read_blob(digest), "x");
  EXPECT_EQ(store.blob_size(digest), 1u);
}

TEST(GraphStore, ABlobWithAWrongDigestIsRefusedAndNothingStays) {
  lab::TempDir dir("/tmp/lab-store-");
  graph::Store store(dir.path());
  auto lock = store.lock(graph::LockMode::exclusive);
  std::string wrong = graph::sha256_digest("something else");
  EXPECT_THROW(store.put_blob(std::string_view("bytes"), wrong), lab::UserError);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() + "/blobs/sha256"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() + "/tmp"));
}

TEST(GraphStore, AnImageNeedsItsConfigAndLayers) {
  lab::TempDir dir("/tmp/lab-store-");
  graph::Store store(dir.path());
  auto lock = store.lock(graph::LockMode::exclusive);
  std::string config = store.put_blob(std::string_view(
      R"({"rootfs":{"type":"layers","diff_ids":["sha256:)" + std::string(64, 'e') + R"("]}})"));
  std::string layer = "sha256:" + std::string(64, 'd');
  std::string manifest = R"({"schemaVersion":2,"config":{"digest":")" + config +
                         R"("},"layers":[{"digest":")" + layer + R"("}]})";
  try {
    store.add_image(manifest);
    FAIL();
  } catch (const lab::UserError& e) {
    EXPECT_EQ(std::string(e.what()), "layer " + layer + " is not in the store");
  }
  EXPECT_THROW(store.add_image("not json"), lab::UserError);
  EXPECT_THROW(store.add_image(R"({"schemaVersion":1})"), lab::UserError);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() + "/images"));
  EXPECT_TRUE(store.list_images().empty());
}

}  // namespace

// An image with no layers whose config differs by `name` (so its id does).
static std::string empty_image(graph::Store& store, const std::string& name,
                               const std::string& parent = "") {
  std::string config = store.put_blob(std::string_view(
      R"({"created":")" + name + R"(","rootfs":{"type":"layers","diff_ids":[]}})"));
  return store.add_image(
      R"({"schemaVersion":2,"config":{"digest":")" + config + R"("},"layers":[]})", parent);
}

TEST(GraphStore, ParentsAreRecordedAndPruneKeepsATaggedImagesIntermediates) {
  lab::TempDir dir("/tmp/lab-store-");
  graph::Store store(dir.path());
  auto lock = store.lock(graph::LockMode::exclusive);
  std::string base = empty_image(store, "base");
  std::string step = empty_image(store, "step", base);
  std::string top = empty_image(store, "top", step);
  std::string lone = empty_image(store, "lone", step);
  store.tag(base, "base");
  store.tag(top, "app");
  EXPECT_EQ(store.image(top).parent, step);
  EXPECT_EQ(store.image(base).parent, "");
  EXPECT_EQ(store.children(step),
            (std::vector<std::string>{std::min(top, lone), std::max(top, lone)}));
  // Added again without a parent (load, pull): the recorded one stays.
  std::string manifest = store.read_blob(store.image(top).manifest_digest);
  store.add_image(manifest);
  EXPECT_EQ(store.image(top).parent, step);
  EXPECT_THROW(empty_image(store, "orphan", "sha256:" + std::string(64, 'f')), lab::UserError);
  // Dangling: only `lone` (untagged, no child); `step` is app's intermediate and stays.
  graph::RemoveResult pruned = store.prune(false);
  EXPECT_EQ(pruned.deleted, std::vector<std::string>{lone});
  EXPECT_EQ(store.children(step), std::vector<std::string>{top});
  // Untagged, `top` is dangling: it goes, and `step` with it; `base` has its tag.
  store.untag("app");
  pruned = store.prune(false);
  EXPECT_EQ(pruned.deleted, (std::vector<std::string>{top, step}));
  EXPECT_EQ(store.list_images().size(), 1u);
}

// Pull's two steps: a layer staged and unpacked, checked by the caller, then published under the
// exclusive lock; a second copy of the same layer is dropped, a crash's leftover replaced, and a
// staged layer dropped unpublished leaves nothing in tmp/.
TEST(GraphStore, AStagedLayerIsPublishedOnce) {
  lab::TempDir dir("/tmp/lab-store-");
  lab::TempDir tree("/tmp/lab-tree-");
  lab::create_file(tree.path() + "/hello", "hi\n");
  const std::string tar_path = dir.path() + "-layer.tar";
  std::string diff_id;
  {
    lab::UniqueFd out = lab::open_fd(tar_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    diff_id = graph::export_layer(tree.path(), out.get());
  }
  graph::Store store(dir.path());
  EXPECT_THROW(store.stage_layer(diff_id), std::logic_error);
  const std::string hex = diff_id.substr(7);
  auto stage_and_unpack = [&] {
    graph::Store::StagedLayer staged = store.stage_layer(diff_id);
    lab::UniqueFd in = lab::open_fd(tar_path, O_RDONLY | O_CLOEXEC);
    graph::UnpackResult result = graph::unpack_layer(in.get(), staged.diff, {}, {}, diff_id);
    return std::make_pair(std::move(staged), result);
  };
  {
    auto shared = store.lock(graph::LockMode::shared);
    auto [staged, result] = stage_and_unpack();  // staging needs only the shared lock
    EXPECT_THROW(store.publish_layer(std::move(staged), result), std::logic_error);
  }
  auto exclusive = store.lock(graph::LockMode::exclusive);
  {
    auto [dropped, result] = stage_and_unpack();
    EXPECT_EQ(result.diff_id, diff_id);
  }  // not published: gone
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() + "/tmp"));
  std::filesystem::create_directories(dir.path() + "/layers/" + hex + "/junk");  // a leftover
  auto [first, r1] = stage_and_unpack();
  auto [second, r2] = stage_and_unpack();
  EXPECT_TRUE(store.publish_layer(std::move(first), r1));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/layers/" + hex + "/junk"));
  EXPECT_FALSE(store.publish_layer(std::move(second), r2));  // the same layer: dropped
  EXPECT_TRUE(store.has_layer(diff_id));
  EXPECT_EQ(lab::read_file(store.layer_dir(diff_id) + "/hello"), "hi\n");
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/layers/" + hex + "/link"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() + "/tmp"));  // both stages gone
  std::filesystem::remove(tar_path);
}
