// Pure logic of final/graph/image_archive: manifest.json, index.json, oci-layout, image manifests
// and configs as docker save, skopeo, podman and Docker 25 write them, and what each parser
// refuses; member names and links of the outer tar; references; the JSON save writes.
#include "graph/image_archive.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "error.hpp"
#include "graph/store.hpp"

namespace {

const std::string kHexA(64, 'a');
const std::string kHexB(64, 'b');
const std::string kHexC(64, 'c');

// The message of the lab::UserError `body` throws, or "" when it does not throw one.
template <typename Body>
std::string user_error(Body&& body) {
  try {
    body();
  } catch (const lab::UserError& e) {
    return e.what();
  }
  return "";
}

TEST(ImageArchiveDockerManifest, ShapesThatToolsWrite) {
  // skopeo's docker-archive: <hex>.json and <hex>.tar at the top, names with docker.io/.
  auto skopeo = graph::parse_docker_manifest(R"([{"Config":")" + kHexA +
                                             R"(.json","RepoTags":["docker.io/foo/bar:v1"],)"
                                             R"("Layers":[")" +
                                             kHexB + R"(.tar"]}])");
  ASSERT_EQ(skopeo.size(), 1u);
  EXPECT_EQ(skopeo[0].config, kHexA + ".json");
  EXPECT_EQ(skopeo[0].repo_tags, std::vector<std::string>{"docker.io/foo/bar:v1"});
  EXPECT_EQ(skopeo[0].layers, std::vector<std::string>{kHexB + ".tar"});
  // Docker 25: blob paths; old Docker: <id>/layer.tar; RepoTags null for an image saved by id.
  auto docker = graph::parse_docker_manifest(
      R"([{"Config":"blobs/sha256/)" + kHexA + R"(","RepoTags":null,"Layers":["./)" + kHexC +
      R"(/layer.tar","blobs/sha256/)" + kHexB + R"("]},{"Config":"x.json","Layers":[]}])");
  ASSERT_EQ(docker.size(), 2u);
  EXPECT_TRUE(docker[0].repo_tags.empty());
  EXPECT_EQ(docker[0].layers[0], kHexC + "/layer.tar");
  EXPECT_EQ(docker[0].layers[1], "blobs/sha256/" + kHexB);
  EXPECT_TRUE(docker[1].layers.empty());
}

TEST(ImageArchiveDockerManifest, BadShapesAreRefusedNamingTheFile) {
  struct Case {
    std::string json;
    const char* message;
  } cases[] = {
      {"not json", "manifest.json: not valid JSON"},
      {R"({"Config":"a"})", "manifest.json: must be a JSON array of images (docker save)"},
      {"[]", "manifest.json: lists no image"},
      {"[1]", "manifest.json: [0] must be an object"},
      {R"([{"Layers":[]}])", "manifest.json: [0].Config is missing"},
      {R"([{"Config":7,"Layers":[]}])", "manifest.json: [0].Config must be a string"},
      {R"([{"Config":"c.json"}])", "manifest.json: [0].Layers is missing"},
      {R"([{"Config":"c.json","Layers":"l.tar"}])", "manifest.json: [0].Layers must be an array"},
      {R"([{"Config":"c.json","Layers":["a.tar",2]}])",
       "manifest.json: [0].Layers[1] must be a string"},
      {R"([{"Config":"c.json","RepoTags":[1],"Layers":[]}])",
       "manifest.json: [0].RepoTags[0] must be a string"},
      {R"([{"Config":"../x.json","Layers":[]}])",
       "archive member \"../x.json\": `..` leaves the archive; refused"},
      {R"([{"Config":"c.json","Layers":["/etc/passwd"]}])",
       "archive member \"/etc/passwd\": an absolute path; refused"},
      {R"([{"Config":"c.json","Layers":["a/../../b"]}])",
       "archive member \"a/../../b\": `..` leaves the archive; refused"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(user_error([&] { graph::parse_docker_manifest(c.json); }), c.message) << c.json;
}

TEST(ImageArchiveIndex, DockerAndPodmanAndSkopeoIndexes) {
  std::string text = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)"
                     R"("manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                     R"("digest":"sha256:)" +
                     kHexA +
                     R"(","size":345,"annotations":{"io.containerd.image.name":)"
                     R"("docker.io/library/busybox:latest","org.opencontainers.image.ref.name":)"
                     R"("latest"},"platform":{"os":"linux","architecture":"amd64"}},)"
                     R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":)"
                     R"("sha256:)" +
                     kHexB + R"(","size":12}]})";
  auto index = graph::parse_image_index(text);
  ASSERT_EQ(index.size(), 2u);
  EXPECT_EQ(index[0].digest, "sha256:" + kHexA);
  EXPECT_EQ(index[0].size, 345u);
  EXPECT_EQ(index[0].platform_architecture, "amd64");
  EXPECT_EQ(graph::name_from_annotations(index[0]), "busybox:latest");
  EXPECT_EQ(graph::name_from_annotations(index[1]), "");
}

TEST(ImageArchiveIndex, NamesFromAnnotations) {
  struct Case {
    std::map<std::string, std::string> annotations;
    const char* name;
  } cases[] = {
      {{{"org.opencontainers.image.ref.name", "latest"}}, ""},  // a bare tag: no repository
      {{{"org.opencontainers.image.ref.name", "foo:v1"}}, "foo:v1"},
      {{{"org.opencontainers.image.ref.name", "localhost/app:1"}}, "localhost/app:1"},
      {{{"io.containerd.image.name", "docker.io/library/alpine:3.19"},
        {"org.opencontainers.image.ref.name", "3.19"}},
       "alpine:3.19"},
      {{{"io.containerd.image.name", "docker.io/me/app"}}, "me/app:latest"},
      {{{"io.containerd.image.name", "quay.io/a/b:c"}}, "quay.io/a/b:c"},
      {{}, ""},
  };
  for (const auto& c : cases) {
    graph::Descriptor d;
    d.annotations = c.annotations;
    EXPECT_EQ(graph::name_from_annotations(d), c.name);
  }
}

TEST(ImageArchiveIndex, BadIndexesAreRefused) {
  std::string good_entry = R"({"mediaType":"m","digest":"sha256:)" + kHexA + R"(","size":1)";
  struct Case {
    std::string json;
    std::string message;
  } cases[] = {
      {"[", "index.json: not valid JSON"},
      {"[]", "index.json: must be a JSON object"},
      {R"({"manifests":[]})", "index.json: schemaVersion is missing"},
      {R"({"schemaVersion":1,"manifests":[]})", "index.json: schemaVersion must be 2"},
      {R"({"schemaVersion":2})", "index.json: manifests is missing"},
      {R"({"schemaVersion":2,"manifests":{}})", "index.json: manifests must be an array"},
      {R"({"schemaVersion":2,"manifests":[3]})", "index.json: manifests[0] must be an object"},
      {R"({"schemaVersion":2,"manifests":[{"mediaType":"m","digest":"sha256:abc","size":1}]})",
       "index.json: manifests[0].digest \"sha256:abc\" is not sha256:<64 hex digits>"},
      {R"({"schemaVersion":2,"manifests":[{"mediaType":"m","digest":"sha512:)" + kHexA +
           R"(","size":1}]})",
       "index.json: manifests[0].digest \"sha512:" + kHexA + "\" is not sha256:<64 hex digits>"},
      {R"({"schemaVersion":2,"manifests":[{"mediaType":"m","digest":"sha256:)" + kHexA +
           R"(","size":-1}]})",
       "index.json: manifests[0].size must be a whole number"},
      {R"({"schemaVersion":2,"manifests":[)" + good_entry + R"(,"annotations":[]}]})",
       "index.json: manifests[0].annotations must be an object"},
      {R"({"schemaVersion":2,"manifests":[)" + good_entry + R"(,"annotations":{"a":1}}]})",
       "index.json: manifests[0].annotations.a must be a string"},
      {R"({"schemaVersion":2,"manifests":[{"digest":"sha256:)" + kHexA + R"(","size":1}]})",
       "index.json: manifests[0].mediaType is missing"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(user_error([&] { graph::parse_image_index(c.json); }), c.message) << c.json;
}

TEST(ImageArchiveLayout, OnlyVersionOneIsRead) {
  EXPECT_NO_THROW(graph::check_oci_layout(R"({"imageLayoutVersion": "1.0.0"})"));
  EXPECT_NO_THROW(graph::check_oci_layout(graph::oci_layout_json()));
  EXPECT_EQ(user_error([] { graph::check_oci_layout(R"({"imageLayoutVersion":"2.0.0"})"); }),
            "oci-layout: imageLayoutVersion \"2.0.0\" is not 1.0.0");
  EXPECT_EQ(user_error([] { graph::check_oci_layout("{}"); }),
            "oci-layout: imageLayoutVersion is missing");
  EXPECT_EQ(user_error([] { graph::check_oci_layout("1.0.0"); }),
            "oci-layout: imageLayoutVersion is missing");
}

TEST(ImageArchiveManifest, OciAndDockerManifests) {
  std::string layers = R"("layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",)"
                       R"("digest":"sha256:)" +
                       kHexB + R"(","size":10}])";
  std::string config =
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" +
      kHexA + R"(","size":5})";
  auto oci =
      graph::parse_image_manifest("{\"schemaVersion\":2," + config + "," + layers + "}", "m");
  EXPECT_EQ(oci.media_type, graph::kOciManifestType);  // implied when absent
  EXPECT_EQ(oci.config.digest, "sha256:" + kHexA);
  ASSERT_EQ(oci.layers.size(), 1u);
  EXPECT_EQ(oci.layers[0].size, 10u);
  auto docker = graph::parse_image_manifest(
      R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)" +
          config + "," + layers + "}",
      "m");
  EXPECT_EQ(docker.media_type, graph::kDockerManifestType);

  EXPECT_EQ(user_error([&] {
              graph::parse_image_manifest(
                  R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)" +
                      config + "," + layers + "}",
                  "blobs/sha256/x");
            }),
            "blobs/sha256/x: media type application/vnd.oci.image.index.v1+json is not an image "
            "manifest");
  EXPECT_EQ(user_error(
                [&] { graph::parse_image_manifest(R"({"schemaVersion":2,)" + layers + "}", "m"); }),
            "m: config is missing");
  EXPECT_EQ(user_error(
                [&] { graph::parse_image_manifest(R"({"schemaVersion":2,)" + config + "}", "m"); }),
            "m: layers is missing");
  EXPECT_EQ(user_error([&] {
              graph::parse_image_manifest(R"({"schemaVersion":2,"config":[],)" + layers + "}", "m");
            }),
            "m: config must be an object");
}

TEST(ImageArchiveConfig, DiffIds) {
  std::string config = R"({"architecture":"amd64","rootfs":{"type":"layers","diff_ids":["sha256:)" +
                       kHexA + R"(","sha256:)" + kHexB + R"("]}})";
  EXPECT_EQ(graph::parse_diff_ids(config, "c"),
            (std::vector<std::string>{"sha256:" + kHexA, "sha256:" + kHexB}));
  EXPECT_EQ(user_error([] { graph::parse_diff_ids(R"({"rootfs":{"diff_ids":[]}})", "c"); }),
            "c: rootfs.type must be \"layers\"");
  EXPECT_EQ(user_error([] { graph::parse_diff_ids("{}", "c"); }), "c: rootfs is missing");
  EXPECT_EQ(user_error([] {
              graph::parse_diff_ids(R"({"rootfs":{"type":"layers","diff_ids":["md5:1"]}})", "c");
            }),
            "c: rootfs.diff_ids[0] \"md5:1\" is not sha256:<64 hex digits>");
}

TEST(ImageArchiveLayers, MediaTypesWeUnpack) {
  using graph::LayerCompression;
  EXPECT_EQ(graph::layer_compression("application/vnd.oci.image.layer.v1.tar"),
            LayerCompression::none);
  EXPECT_EQ(graph::layer_compression("application/vnd.docker.image.rootfs.diff.tar"),
            LayerCompression::none);
  EXPECT_EQ(graph::layer_compression("application/vnd.oci.image.layer.v1.tar+gzip"),
            LayerCompression::gzip);
  EXPECT_EQ(graph::layer_compression("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            LayerCompression::gzip);
  EXPECT_EQ(graph::layer_compression("application/vnd.oci.image.layer.v1.tar+zstd"),
            LayerCompression::zstd);
  for (const char* refused : {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                              "application/vnd.oci.image.layer.v1.tar+encrypted",
                              "application/vnd.oci.image.config.v1+json", ""})
    EXPECT_NE(user_error([&] { graph::layer_compression(refused); }), "") << refused;
}

TEST(ImageArchiveMembers, NamesAreMadePlainOrRefused) {
  struct Case {
    const char* name;
    const char* clean;  // nullptr: refused
  } cases[] = {
      {"manifest.json", "manifest.json"},
      {"./manifest.json", "manifest.json"},
      {"blobs/sha256/", "blobs/sha256"},
      {"a//b/./c", "a/b/c"},
      {"/etc/passwd", nullptr},
      {"../x", nullptr},
      {"a/../../x", nullptr},
      {"a/..", nullptr},
      {"", nullptr},
      {".", nullptr},
      {"./", nullptr},
      {"a\nb", nullptr},
  };
  for (const auto& c : cases) {
    if (c.clean) {
      EXPECT_EQ(graph::clean_member_name(c.name), c.clean) << c.name;
    } else {
      EXPECT_THROW(graph::clean_member_name(c.name), lab::UserError) << c.name;
    }
  }
}

TEST(ImageArchiveMembers, LinksResolveInsideTheArchive) {
  struct Case {
    const char* member;
    const char* target;
    const char* resolved;  // nullptr: refused
  } cases[] = {
      {"abc/layer.tar", "../def.tar", "def.tar"},  // skopeo's legacy layer dirs
      {"abc/layer.tar", "../blobs/sha256/x", "blobs/sha256/x"},
      {"a/b/c", "../d", "a/d"},
      {"top", "other", "other"},
      {"abc/layer.tar", "../../etc/passwd", nullptr},
      {"abc/layer.tar", "/etc/passwd", nullptr},
      {"top", "..", nullptr},
      {"top", "", nullptr},
  };
  for (const auto& c : cases) {
    if (c.resolved) {
      EXPECT_EQ(graph::resolve_member_link(c.member, c.target), c.resolved) << c.target;
    } else {
      EXPECT_THROW(graph::resolve_member_link(c.member, c.target), lab::UserError) << c.target;
    }
  }
}

TEST(ImageArchiveReferences, AsDockerShowsThem) {
  struct Case {
    const char* in;
    const char* normalized;
    const char* full;
  } cases[] = {
      {"busybox", "busybox:latest", "docker.io/library/busybox:latest"},
      {"docker.io/library/busybox:1.36", "busybox:1.36", "docker.io/library/busybox:1.36"},
      {"docker.io/foo/bar:v1", "foo/bar:v1", "docker.io/foo/bar:v1"},
      {"localhost/app", "localhost/app:latest", "localhost/app:latest"},
      {"localhost:5000/a/b:t", "localhost:5000/a/b:t", "localhost:5000/a/b:t"},
      {"quay.io/x/y:z", "quay.io/x/y:z", "quay.io/x/y:z"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(graph::normalize_reference(c.in), c.normalized) << c.in;
    EXPECT_EQ(graph::full_reference(c.in), c.full) << c.in;
  }
  EXPECT_EQ(graph::reference_tag("localhost:5000/a/b:t"), "t");
  EXPECT_EQ(graph::reference_repository("localhost:5000/a/b:t"), "localhost:5000/a/b");
  EXPECT_THROW(graph::normalize_reference("Busybox"), lab::UserError);
  EXPECT_THROW(graph::normalize_reference("busybox:bad tag"), lab::UserError);
}

TEST(ImageArchiveSave, TheJsonFilesDocker25Writes) {
  graph::SavedImage tagged{"sha256:" + kHexA,
                           {"busybox:latest", "me/app:v1"},
                           {"sha256:" + kHexB, "sha256:" + kHexC},
                           "sha256:" + std::string(64, 'd'),
                           345};
  graph::SavedImage by_id{"sha256:" + kHexB, {}, {"sha256:" + kHexC}, "sha256:" + kHexA, 10};
  std::vector<graph::SavedImage> images{tagged, by_id};

  auto manifest = nlohmann::json::parse(graph::docker_manifest_json(images));
  EXPECT_EQ(manifest[0]["Config"], "blobs/sha256/" + kHexA);
  EXPECT_EQ(manifest[0]["RepoTags"], (nlohmann::json{"busybox:latest", "me/app:v1"}));
  EXPECT_EQ(manifest[0]["Layers"],
            (nlohmann::json{"blobs/sha256/" + kHexB, "blobs/sha256/" + kHexC}));
  EXPECT_EQ(manifest[1]["RepoTags"], nlohmann::json::array());
  // What we write, we read back.
  auto items = graph::parse_docker_manifest(graph::docker_manifest_json(images));
  EXPECT_EQ(items[0].layers[1], "blobs/sha256/" + kHexC);

  auto repositories = nlohmann::json::parse(graph::repositories_json(images));
  EXPECT_EQ(repositories,
            (nlohmann::json{{"busybox", {{"latest", kHexC}}}, {"me/app", {{"v1", kHexC}}}}));

  auto index_text = graph::oci_index_json(images);
  auto index = graph::parse_image_index(index_text);
  ASSERT_EQ(index.size(), 3u);  // one entry a tag, one for the image saved by id
  EXPECT_EQ(index[0].annotations.at("io.containerd.image.name"),
            "docker.io/library/busybox:latest");
  EXPECT_EQ(index[0].annotations.at("org.opencontainers.image.ref.name"), "latest");
  EXPECT_EQ(index[1].annotations.at("io.containerd.image.name"), "docker.io/me/app:v1");
  EXPECT_EQ(graph::name_from_annotations(index[1]), "me/app:v1");
  EXPECT_TRUE(index[2].annotations.empty());
  EXPECT_EQ(index[2].digest, "sha256:" + kHexA);
  EXPECT_EQ(index[0].size, 345u);
  EXPECT_EQ(index[0].media_type, graph::kOciManifestType);
}

}  // namespace
