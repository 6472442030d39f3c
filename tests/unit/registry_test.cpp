// final/registry/distribution: Docker's reference grammar and normalisation, the choice of
// http or https, and the client against a real registry: Debian's docker-registry, started by each
// test on 127.0.0.1 (a port the kernel picks, storage in a temp dir) and killed when it ends.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "error.hpp"
#include "fd.hpp"
#include "graph/digest.hpp"
#include "mount.hpp"
#include "process.hpp"
#include "registry/distribution.hpp"

namespace {

// --- references --------------------------------------------------------------------------------
const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct GoodReference {
  std::string text;
  std::string domain, repository, tag, digest;
  std::string familiar;
};

class RegistryGoodReference : public testing::TestWithParam<GoodReference> {};

TEST_P(RegistryGoodReference, NormalisedAsDockerDoes) {
  const auto& c = GetParam();
  const registry::Reference ref = registry::parse_reference(c.text);
  EXPECT_EQ(ref.domain, c.domain);
  EXPECT_EQ(ref.repository, c.repository);
  EXPECT_EQ(ref.tag, c.tag);
  EXPECT_EQ(ref.digest, c.digest);
  EXPECT_EQ(ref.familiar(), c.familiar);
  // The fully qualified form parses back to the same thing.
  const registry::Reference again = registry::parse_reference(ref.string());
  EXPECT_EQ(again.string(), ref.string());
}

INSTANTIATE_TEST_SUITE_P(
    Docker, RegistryGoodReference,
    testing::Values(
        GoodReference{"busybox", "docker.io", "library/busybox", "latest", "", "busybox:latest"},
        GoodReference{"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "busybox:1.36"},
        GoodReference{"library/busybox", "docker.io", "library/busybox", "latest", "",
                      "busybox:latest"},
        GoodReference{"docker.io/library/busybox", "docker.io", "library/busybox", "latest", "",
                      "busybox:latest"},
        GoodReference{"index.docker.io/busybox", "docker.io", "library/busybox", "latest", "",
                      "busybox:latest"},
        GoodReference{"user/repo:v_1.0-rc", "docker.io", "user/repo", "v_1.0-rc", "",
                      "user/repo:v_1.0-rc"},
        GoodReference{"127.0.0.1:5000/x/y:tag", "127.0.0.1:5000", "x/y", "tag", "",
                      "127.0.0.1:5000/x/y:tag"},
        GoodReference{"localhost:5000/a", "localhost:5000", "a", "latest", "",
                      "localhost:5000/a:latest"},
        GoodReference{"localhost/a", "localhost", "a", "latest", "", "localhost/a:latest"},
        // No slash: "localhost:5000" is the repository library/localhost with tag 5000.
        GoodReference{"localhost:5000", "docker.io", "library/localhost", "5000", "",
                      "localhost:5000"},
        GoodReference{"example.com/a_b/c__d/e-f/g.h--i", "example.com", "a_b/c__d/e-f/g.h--i",
                      "latest", "", "example.com/a_b/c__d/e-f/g.h--i:latest"},
        // An upper-case first component can only be a host name.
        GoodReference{"Foo/bar", "Foo", "bar", "latest", "", "Foo/bar:latest"},
        GoodReference{"[::1]:5000/x", "[::1]:5000", "x", "latest", "", "[::1]:5000/x:latest"},
        GoodReference{"busybox@sha256:" + kHex, "docker.io", "library/busybox", "",
                      "sha256:" + kHex, "busybox@sha256:" + kHex},
        GoodReference{"127.0.0.1:5000/x:1@sha256:" + kHex, "127.0.0.1:5000", "x", "1",
                      "sha256:" + kHex, "127.0.0.1:5000/x:1@sha256:" + kHex},
        GoodReference{"x:" + std::string(128, 't'), "docker.io", "library/x", std::string(128, 't'),
                      "", "x:" + std::string(128, 't')}));

struct BadReference {
  std::string text;
  std::string error;
};

class RegistryBadReference : public testing::TestWithParam<BadReference> {};

TEST_P(RegistryBadReference, RefusedWithDockersWords) {
  const auto& c = GetParam();
  try {
    registry::parse_reference(c.text);
    FAIL() << c.text << " was accepted";
  } catch (const lab::UserError& e) {
    EXPECT_EQ(e.what(), c.error) << c.text;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Docker, RegistryBadReference,
    testing::Values(
        BadReference{"", "invalid reference format"},
        BadReference{"busybox:", "invalid reference format"},
        BadReference{"a b", "invalid reference format"},
        BadReference{"-busybox", "invalid reference format"},
        BadReference{"busybox_", "invalid reference format"},
        BadReference{"a___b", "invalid reference format"},
        BadReference{"foo//bar", "invalid reference format"},
        BadReference{"foo/", "invalid reference format"},
        BadReference{"x:-tag", "invalid reference format"},
        BadReference{"x:" + std::string(129, 't'), "invalid reference format"},
        BadReference{"busybox@sha256:abc", "invalid reference format"},
        BadReference{"Busybox",
                     "invalid reference format: repository name (library/Busybox) must be "
                     "lowercase"},
        BadReference{"foo/Bar",
                     "invalid reference format: repository name (foo/Bar) must be lowercase"},
        BadReference{"localhost:5000/A",
                     "invalid reference format: repository name (A) must be lowercase"},
        BadReference{kHex, "invalid repository name (" + kHex +
                               "), cannot specify 64-byte hexadecimal strings"},
        BadReference{"x@sha256:" + kHex.substr(0, 32),
                     "invalid reference format: invalid checksum digest length"},
        BadReference{"x@sha256:" + std::string(64, 'A'),
                     "invalid reference format: invalid checksum digest format"},
        BadReference{"x@sha512:" + kHex + kHex,
                     "invalid reference format: unsupported digest algorithm"},
        BadReference{"example.com/" + std::string(250, 'a'),
                     "invalid reference format: repository name must not be more than 255 "
                     "characters"},
        BadReference{std::string(10000, 'a'), "invalid reference format"}));

// --- http or https ----------------------------------------------------------------------------
struct SchemeCase {
  std::string domain, insecure_list, scheme;
};

class RegistryScheme : public testing::TestWithParam<SchemeCase> {};

TEST_P(RegistryScheme, PlainHttpOnlyForThisMachineAndListedHosts) {
  const auto& c = GetParam();
  EXPECT_EQ(registry::choose_scheme(c.domain, c.insecure_list), c.scheme)
      << c.domain << " with [" << c.insecure_list << "]";
}

INSTANTIATE_TEST_SUITE_P(
    InsecureRegistries, RegistryScheme,
    testing::Values(SchemeCase{"127.0.0.1:5000", "", "http"}, SchemeCase{"127.1.2.3", "", "http"},
                    SchemeCase{"localhost", "", "http"}, SchemeCase{"localhost:5000", "", "http"},
                    SchemeCase{"[::1]:5000", "", "http"}, SchemeCase{"docker.io", "", "https"},
                    SchemeCase{"128.0.0.1:5000", "", "https"},
                    SchemeCase{"localhost.example.com", "", "https"},
                    SchemeCase{"127.0.0.1.example.com", "", "https"},
                    SchemeCase{"registry.lan:5000", "", "https"},
                    SchemeCase{"registry.lan:5000", "registry.lan:5000", "http"},
                    SchemeCase{"registry.lan:5000", "other.lan, registry.lan", "http"},
                    SchemeCase{"registry.lan:5000", "registry.lan:5001", "https"},
                    SchemeCase{"registry.lan:5000", "lan", "https"}));

TEST(RegistryClient, BaseUrlFromTheEnvironmentsInsecureList) {
  EXPECT_EQ(registry::Client("docker.io", "").base_url(), "https://registry-1.docker.io");
  EXPECT_EQ(registry::Client("127.0.0.1:5000", "").base_url(), "http://127.0.0.1:5000");
  ::setenv("MINIDOCKER_INSECURE_REGISTRIES", "registry.lan:5000", 1);
  EXPECT_EQ(registry::Client("registry.lan:5000").base_url(), "http://registry.lan:5000");
  ::unsetenv("MINIDOCKER_INSECURE_REGISTRIES");
  EXPECT_EQ(registry::Client("registry.lan:5000").base_url(), "https://registry.lan:5000");
}

// --- against a real registry ------------------------------------------------------------------
const char* const kRegistryBinary = "/usr/bin/docker-registry";

std::string sha256(std::string_view bytes) { return graph::sha256_digest(bytes); }

// Bytes that are not all alike, so that a chunk sent twice or out of order would show.
std::string pattern(size_t size) {
  std::string out(size, '\0');
  uint32_t x = 2463534242u;
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return out;
}

std::string read_all(int fd) {
  std::string out;
  char buffer[65536];
  ssize_t n;
  off_t offset = 0;
  while ((n = ::pread(fd, buffer, sizeof buffer, offset)) > 0) {
    out.append(buffer, static_cast<size_t>(n));
    offset += n;
  }
  lab::check(n, "pread");
  return out;
}

// docker-registry serving 127.0.0.1:<port the kernel picked> from a temp dir. The registry logs
// "listening on 127.0.0.1:PORT" once its socket is bound; we read its output up to that line,
// then a thread drains the rest (a full pipe would stall it). Killed and reaped by the
// destructor, whatever the test did.
class LocalRegistry {
 public:
  LocalRegistry() : dir_("/tmp/lab-registry-") {
    lab::create_file(dir_.path() + "/config.yml", fmt::format(R"(version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {}/storage
http:
  addr: 127.0.0.1:0
  secret: lab-registry-test
)",
                                                              dir_.path()));
    int fds[2];
    lab::check(::pipe2(fds, O_CLOEXEC), "pipe2(O_CLOEXEC)");
    lab::UniqueFd read_end(fds[0]);
    lab::UniqueFd write_end(fds[1]);
    const std::string config = dir_.path() + "/config.yml";
    child_ = lab::clone_child(SIGCHLD, [&] {
      ::dup2(write_end.get(), STDOUT_FILENO);
      ::dup2(write_end.get(), STDERR_FILENO);
      ::execl(kRegistryBinary, "docker-registry", "serve", config.c_str(), nullptr);
      std::perror("execl docker-registry");
      return 127;
    });
    write_end.reset();
    static const std::regex listening(R"(listening on (127\.0\.0\.1:[0-9]+))");
    std::string pending;
    while (address_.empty()) {
      // Bounded: a registry that says nothing for 30 s has failed to start.
      pollfd p{read_end.get(), POLLIN, 0};
      if (lab::check(::poll(&p, 1, 30000), "poll(registry output)") == 0) break;
      char buffer[4096];
      const ssize_t n = lab::check(::read(read_end.get(), buffer, sizeof buffer), "read");
      if (n == 0) break;
      pending.append(buffer, static_cast<size_t>(n));
      std::smatch match;
      if (std::regex_search(pending, match, listening)) address_ = match[1].str();
    }
    if (address_.empty()) throw std::runtime_error("docker-registry did not start: " + pending);
    drain_ = std::thread([this, fd = read_end.release()] {
      lab::UniqueFd owned(fd);
      char buffer[4096];
      while (::read(owned.get(), buffer, sizeof buffer) > 0) {
      }
    });
  }
  ~LocalRegistry() {
    child_.kill_and_reap();
    if (drain_.joinable()) drain_.join();  // the pipe's writer is gone: read() sees EOF
  }
  LocalRegistry(const LocalRegistry&) = delete;
  LocalRegistry& operator=(const LocalRegistry&) = delete;

  const std::string& address() const { return address_; }
  std::string storage() const { return dir_.path() + "/storage"; }

 private:
  lab::TempDir dir_;
  lab::Child child_;
  std::thread drain_;
  std::string address_;
};

class RegistryServer : public testing::Test {
 protected:
  void SetUp() override {
    if (::access(kRegistryBinary, X_OK) != 0) {
      const char* ci = std::getenv("CI");
      if (ci && std::string(ci) == "true")
        FAIL() << "CI=true: " << kRegistryBinary << " is missing (apt-get install docker-registry)";
      GTEST_SKIP() << kRegistryBinary << " is missing (apt-get install docker-registry)";
    }
    registry_ = std::make_unique<LocalRegistry>();
    client_ = std::make_unique<registry::Client>(registry_->address(), "");
    files_ = std::make_unique<lab::TempDir>("/tmp/lab-registry-files-");
  }

  // A regular file holding `content`, open for reading and writing.
  lab::UniqueFd file_with(const std::string& content) {
    const std::string path = fmt::format("{}/f{}", files_->path(), ++files_made_);
    lab::create_file(path, content, 0600);
    return lab::open_fd(path, O_RDWR | O_CLOEXEC);
  }

  std::string upload(const std::string& repository, const std::string& content) {
    const std::string digest = sha256(content);
    lab::UniqueFd fd = file_with(content);
    client_->upload_blob(repository, digest, fd.get(), content.size());
    return digest;
  }

  std::string error_of(const std::function<void()>& body) {
    try {
      body();
    } catch (const lab::UserError& e) {
      return e.what();
    }
    return "(no error)";
  }

  std::unique_ptr<LocalRegistry> registry_;
  std::unique_ptr<registry::Client> client_;
  std::unique_ptr<lab::TempDir> files_;
  int files_made_ = 0;
};

TEST_F(RegistryServer, UploadedBlobExistsByHead) {
  const std::string content = "hello, registry\n";
  EXPECT_FALSE(client_->blob_exists("lab/a", sha256(content)));
  const std::string digest = upload("lab/a", content);
  EXPECT_TRUE(client_->blob_exists("lab/a", digest));
}

TEST_F(RegistryServer, HeadTellsWhichBlobsAPushCanSkip) {
  const std::string digest = upload("lab/a", "layer one");
  // What push does for each blob: HEAD, and upload only on false.
  EXPECT_TRUE(client_->blob_exists("lab/a", digest));
  EXPECT_FALSE(client_->blob_exists("lab/a", sha256("layer two")));
  // Blobs belong to a repository: another one must upload (or mount) it.
  EXPECT_FALSE(client_->blob_exists("lab/b", digest));
}

TEST_F(RegistryServer, FetchGivesBackTheBytesAndTheirDigest) {
  const std::string content = pattern(1 << 20);
  const std::string digest = upload("lab/a", content);
  lab::UniqueFd out = file_with("");
  uint64_t last_done = 0, last_total = 0;
  client_->fetch_blob("lab/a", digest, out.get(), [&](uint64_t done, uint64_t total) {
    last_done = done;
    last_total = total;
  });
  const std::string got = read_all(out.get());
  EXPECT_EQ(got.size(), content.size());
  EXPECT_TRUE(got == content);
  EXPECT_EQ(sha256(got), digest);
  EXPECT_EQ(last_done, content.size());
  EXPECT_EQ(last_total, content.size());
}

TEST_F(RegistryServer, FetchRefusesBytesThatDoNotMatchTheDigest) {
  const std::string content = "the real layer";
  const std::string digest = upload("lab/a", content);
  // Corrupt the registry's copy behind its back (its storage layout: blobs/sha256/<2>/<hex>/data);
  // it serves files as they are, so only our hash can notice.
  const std::string hex = digest.substr(7);
  const std::string data = fmt::format("{}/docker/registry/v2/blobs/sha256/{}/{}/data",
                                       registry_->storage(), hex.substr(0, 2), hex);
  lab::write_file(data, "the fake layer");
  lab::UniqueFd out = file_with("");
  EXPECT_EQ(error_of([&] { client_->fetch_blob("lab/a", digest, out.get()); }),
            fmt::format("blob {} from {}/lab/a hashes to {}: refused (corrupted in the registry "
                        "or on the way)",
                        digest, registry_->address(), sha256("the fake layer")));
}

TEST_F(RegistryServer, FetchOfAMissingBlobIsOneLine) {
  lab::UniqueFd out = file_with("");
  const std::string digest = sha256("never uploaded");
  const std::string error = error_of([&] { client_->fetch_blob("lab/a", digest, out.get()); });
  EXPECT_EQ(error, fmt::format("blob {} not found in {}/lab/a: blob unknown to registry", digest,
                               registry_->address()));
  EXPECT_EQ(read_all(out.get()), "");  // the registry's error body is not taken for the blob
}

TEST_F(RegistryServer, UploadUnderTheWrongDigestIsRefusedInTheRegistrysWords) {
  lab::UniqueFd fd = file_with("some bytes");
  const std::string wrong = sha256("other bytes");
  const std::string error = error_of([&] { client_->upload_blob("lab/a", wrong, fd.get(), 10); });
  EXPECT_EQ(error, fmt::format("pushing blob {} to {}/lab/a: uploading: provided digest did not "
                               "match uploaded content",
                               wrong, registry_->address()));
  EXPECT_FALSE(client_->blob_exists("lab/a", wrong));
}

TEST_F(RegistryServer, ChunkedUploadOfABlobAboveTheThreshold) {
  // 50000 is no multiple of curl's 64 KiB read buffer: progress can only stop at 50000, 100000
  // and 150000 if each PATCH ended there.
  constexpr uint64_t kChunk = 50000;
  client_->set_chunk_size(kChunk);
  const std::string content = pattern(3 * kChunk + 123);  // three full chunks and a short one
  const std::string digest = sha256(content);
  lab::UniqueFd fd = file_with(content);
  std::vector<uint64_t> done;
  client_->upload_blob("lab/big", digest, fd.get(), content.size(),
                       [&](uint64_t d, uint64_t total) {
                         EXPECT_EQ(total, content.size());
                         done.push_back(d);
                       });
  ASSERT_FALSE(done.empty());
  EXPECT_EQ(done.back(), content.size());
  EXPECT_TRUE(std::is_sorted(done.begin(), done.end()));
  for (uint64_t boundary : {kChunk, 2 * kChunk, 3 * kChunk})
    EXPECT_NE(std::find(done.begin(), done.end(), boundary), done.end()) << boundary;
  EXPECT_TRUE(client_->blob_exists("lab/big", digest));
  lab::UniqueFd out = file_with("");
  client_->fetch_blob("lab/big", digest, out.get());
  EXPECT_TRUE(read_all(out.get()) == content);
}

TEST_F(RegistryServer, PutManifestThenGetItBackByTagAndByDigest) {
  const std::string config =
      R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
  const std::string layer = pattern(4096);
  const std::string config_digest = upload("lab/img", config);
  const std::string layer_digest = upload("lab/img", layer);
  nlohmann::json manifest = {{"schemaVersion", 2},
                             {"mediaType", std::string(registry::kOciManifest)},
                             {"config",
                              {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                               {"digest", config_digest},
                               {"size", config.size()}}},
                             {"layers",
                              {{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                {"digest", layer_digest},
                                {"size", layer.size()}}}}};
  const std::string bytes = manifest.dump();
  const std::string digest = client_->put_manifest("lab/img", "v1", bytes, registry::kOciManifest);
  EXPECT_EQ(digest, sha256(bytes));

  const registry::Manifest by_tag = client_->get_manifest("lab/img", "v1");
  EXPECT_EQ(by_tag.bytes, bytes);
  EXPECT_EQ(by_tag.digest, digest);
  EXPECT_EQ(by_tag.media_type, registry::kOciManifest);
  const registry::Manifest by_digest = client_->get_manifest("lab/img", digest);
  EXPECT_EQ(by_digest.bytes, bytes);
  EXPECT_EQ(by_digest.digest, digest);
}

TEST_F(RegistryServer, ManifestNamingAMissingBlobIsRefused) {
  nlohmann::json manifest = {{"schemaVersion", 2},
                             {"mediaType", std::string(registry::kOciManifest)},
                             {"config",
                              {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                               {"digest", sha256("no such config")},
                               {"size", 14}}},
                             {"layers", nlohmann::json::array()}};
  const std::string error = error_of(
      [&] { client_->put_manifest("lab/img", "v1", manifest.dump(), registry::kOciManifest); });
  EXPECT_EQ(error, fmt::format("pushing the manifest for {}/lab/img:v1: blob unknown to registry",
                               registry_->address()));
}

TEST_F(RegistryServer, MissingTagIsOneLine) {
  EXPECT_EQ(error_of([&] { client_->get_manifest("x", "y"); }),
            fmt::format("manifest for {}/x:y not found: manifest unknown", registry_->address()));
}

TEST_F(RegistryServer, HttpsToAPlainHttpRegistryHintsAtTheInsecureList) {
  // Connecting to 0.0.0.0 reaches this machine on Linux, yet 0.0.0.0 is no loopback name, so the
  // client speaks TLS to the plain-http registry, until the insecure list says otherwise.
  const std::string domain =
      "0.0.0.0:" + registry_->address().substr(registry_->address().find(':') + 1);
  registry::Client tls(domain, "");
  const std::string error = error_of([&] { tls.get_manifest("x", "y"); });
  EXPECT_TRUE(error.starts_with(fmt::format("TLS with registry {} failed: ", domain))) << error;
  EXPECT_TRUE(error.ends_with(
      fmt::format("; if it serves plain http, list it in MINIDOCKER_INSECURE_REGISTRIES (e.g. "
                  "MINIDOCKER_INSECURE_REGISTRIES={})",
                  domain)))
      << error;
  registry::Client plain(domain, domain);
  EXPECT_EQ(error_of([&] { plain.get_manifest("x", "y"); }),
            fmt::format("manifest for {}/x:y not found: manifest unknown", domain));
}

// A registry that wants a bearer token, as Docker Hub does, played by a one-thread HTTP server:
// a manifest GET without "Authorization: Bearer <token>" gets 401 and a challenge naming the
// token server (itself, at /token); the token server hands out `token`.
class FakeTokenRegistry {
 public:
  explicit FakeTokenRegistry(std::string token) : token_(std::move(token)) {
    listen_.reset(lab::check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lab::check(::bind(listen_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address),
               "bind");
    lab::check(::listen(listen_.get(), 8), "listen");
    socklen_t length = sizeof address;
    lab::check(::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&address), &length),
               "getsockname");
    address_ = fmt::format("127.0.0.1:{}", ntohs(address.sin_port));
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeTokenRegistry() {
    ::shutdown(listen_.get(), SHUT_RDWR);  // wakes the accept(2) below with EINVAL
    thread_.join();
  }
  const std::string& address() const { return address_; }
  // "GET <target> [bearer]" for each request, in order.
  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    for (;;) {
      lab::UniqueFd connection(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!connection) return;
      std::string head;
      char buffer[4096];
      ssize_t n;
      while (head.find("\r\n\r\n") == std::string::npos &&
             (n = ::read(connection.get(), buffer, sizeof buffer)) > 0)
        head.append(buffer, static_cast<size_t>(n));
      const std::string target = head.substr(4, head.find(' ', 4) - 4);
      const bool bearer =
          head.find("Authorization: Bearer " + token_ + "\r\n") != std::string::npos;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(fmt::format("GET {}{}", target, bearer ? " bearer" : ""));
      }
      std::string status = "200 OK", headers, body;
      if (target.starts_with("/token?")) {
        body = fmt::format(R"({{"token":"{}"}})", "secret-token");
      } else if (!bearer) {
        status = "401 Unauthorized";
        headers = fmt::format(
            "WWW-Authenticate: Bearer realm=\"http://{}/token\",service=\"fake-registry\","
            "scope=\"repository:lab/x:pull\"\r\n",
            address_);
        body = R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})";
      } else {
        headers = fmt::format("Content-Type: {}\r\n", registry::kOciManifest);
        body = R"({"schemaVersion":2})";
      }
      const std::string answer =
          fmt::format("HTTP/1.1 {}\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n{}", status,
                      headers, body.size(), body);
      if (::write(connection.get(), answer.data(), answer.size()) < 0) return;
    }
  }

  std::string token_;
  lab::UniqueFd listen_;
  std::string address_;
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

TEST(RegistryClient, FetchesAnAnonymousBearerTokenWhenAsked) {
  FakeTokenRegistry fake("secret-token");
  registry::Client client(fake.address(), fake.address());
  const registry::Manifest manifest = client.get_manifest("lab/x", "v1");
  EXPECT_EQ(manifest.bytes, R"({"schemaVersion":2})");
  EXPECT_EQ(fake.requests(),
            (std::vector<std::string>{
                "GET /v2/lab/x/manifests/v1",
                "GET /token?service=fake-registry&scope=repository%3alab%2fx%3apull",
                "GET /v2/lab/x/manifests/v1 bearer"}));
  // The token is kept for the repository: no second dance.
  client.get_manifest("lab/x", "v1");
  EXPECT_EQ(fake.requests().back(), "GET /v2/lab/x/manifests/v1 bearer");
  EXPECT_EQ(fake.requests().size(), 4u);
}

TEST(RegistryClient, ATokenThatDoesNotOpenTheDoorIsOneLine) {
  FakeTokenRegistry fake("another-token");  // the token server's token is not this one
  registry::Client client(fake.address(), fake.address());
  try {
    client.get_manifest("lab/x", "v1");
    FAIL() << "no error";
  } catch (const lab::UserError& e) {
    EXPECT_EQ(std::string(e.what()),
              fmt::format("registry {0} refused GET http://{0}/v2/lab/x/manifests/v1: "
                          "authentication required (minidocker has no login: it pulls and "
                          "pushes anonymously)",
                          fake.address()));
  }
}

TEST(RegistryClient, ClosedPortSaysTheRegistryIsNotRunning) {
  // A socket bound but not listening holds a port on which every connection is refused.
  lab::UniqueFd socket_fd(lab::check(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  lab::check(::bind(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address),
             "bind");
  socklen_t length = sizeof address;
  lab::check(::getsockname(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), &length),
             "getsockname");
  const std::string domain = fmt::format("127.0.0.1:{}", ntohs(address.sin_port));
  registry::Client client(domain, "");
  try {
    client.get_manifest("x", "y");
    FAIL() << "no error";
  } catch (const lab::UserError& e) {
    EXPECT_EQ(std::string(e.what()),
              fmt::format("cannot reach registry {}: Couldn't connect to server; is it running?",
                          domain));
  }
}

}  // namespace
