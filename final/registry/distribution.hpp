// A client for the Docker Registry HTTP API v2 (the OCI distribution spec), over libcurl.
//
// The notes' "registry" is a web server that stores two kinds of objects under a repository name:
// blobs (layers and configs, named by their sha256) and manifests (the JSON that lists an image's
// config and layers, reachable by tag or by digest). Pull is GET of a manifest, then GET of each
// blob it names; push is the reverse, with a HEAD first so that a blob the registry already has
// is not sent twice:
//   GET  /v2/<repo>/manifests/<tag|digest>      HEAD /v2/<repo>/blobs/<digest>
//   GET  /v2/<repo>/blobs/<digest>              POST /v2/<repo>/blobs/uploads/  -> Location
//   PATCH <location> (a chunk)                  PUT  <location>?digest=<digest>
//   PUT  /v2/<repo>/manifests/<tag>
// The same by hand (tests/registry.bash starts a registry on 127.0.0.1):
//   curl -H "Accept: application/vnd.oci.image.manifest.v1+json" $REGISTRY/v2/x/manifests/latest
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace registry {

// --- names -------------------------------------------------------------------------------------
// An image reference as Docker normalises it: `busybox` is docker.io/library/busybox:latest.
struct Reference {
  std::string domain;      // "docker.io", "127.0.0.1:5000", "localhost:5000"
  std::string repository;  // "library/busybox", "x/y"
  std::string tag;         // "latest" when neither a tag nor a digest was given
  std::string digest;      // "sha256:<hex>" when given after '@', else ""

  // As a user types it: "busybox:latest", "127.0.0.1:5000/x/y:tag", "x@sha256:...".
  std::string familiar() const;
  // Fully qualified: "docker.io/library/busybox:latest".
  std::string string() const;
  // What to ask the registry for: the digest when there is one (it pins the content), else the tag.
  std::string manifest_reference() const;
};

// Parses NAME[:TAG][@DIGEST] with Docker's rules (distribution/reference): a first component with
// a '.' or ':' or equal to "localhost" is a registry domain, anything else lives on docker.io,
// whose one-component names are in "library/". Path components are lower case [a-z0-9]+ joined by
// '.', '_', "__" or dashes; a tag is [\w][\w.-]{0,127}; only sha256 digests are accepted.
// Throws lab::UserError with Docker's words ("invalid reference format", "invalid reference
// format: repository name (library/Busybox) must be lowercase", ...).
Reference parse_reference(std::string_view text);

// --- the client ----------------------------------------------------------------------------------
// "http" for a registry on this machine (localhost, 127.0.0.0/8, ::1) or one listed in
// `insecure_list` (comma-separated "host" or "host:port", the value of
// MINIDOCKER_INSECURE_REGISTRIES, like dockerd's insecure-registries); "https" otherwise.
std::string choose_scheme(std::string_view domain, std::string_view insecure_list);

// The media types a manifest GET accepts (its Accept header): OCI and Docker schema 2, each as
// a single-image manifest or as a multi-platform index/list.
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";

struct Manifest {
  std::string bytes;       // exactly as served: the digest is over these bytes
  std::string media_type;  // one of the four above (Content-Type, else the body's mediaType)
  std::string digest;      // "sha256:<hex>" of bytes
};

// Called as bytes move: done so far, and the total (0 when the server did not say).
using Progress = std::function<void(uint64_t done, uint64_t total)>;

// Talks to one registry (one domain). Keeps one libcurl easy handle, so the connection and the
// anonymous bearer tokens (WWW-Authenticate: Bearer realm=...,service=...,scope=...) are reused.
// Every failure throws lab::UserError with one line: "cannot reach registry 127.0.0.1:5000:
// Couldn't connect to server; is it running?", "manifest for 127.0.0.1:5000/x:y not found:
// manifest unknown", the registry's own {"errors":[{"code","message"}]} quoted, or a TLS error
// with a hint about MINIDOCKER_INSECURE_REGISTRIES. Ctrl-C (lab::install_interrupt_handlers)
// aborts a transfer with lab::Interrupted.
class Client {
 public:
  // The scheme comes from choose_scheme(domain, $MINIDOCKER_INSECURE_REGISTRIES). docker.io is
  // served by registry-1.docker.io, as Docker does.
  explicit Client(std::string domain);
  Client(std::string domain, std::string_view insecure_list);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  const std::string& domain() const { return domain_; }
  // "http://127.0.0.1:5000" or "https://registry-1.docker.io".
  const std::string& base_url() const { return base_url_; }

  // Blobs larger than this go up in PATCH chunks of this size; smaller ones in one PUT.
  static constexpr uint64_t kDefaultChunkSize = 32ull << 20;
  void set_chunk_size(uint64_t bytes) { chunk_size_ = bytes > 0 ? bytes : 1; }

  // GET /v2/<repository>/manifests/<reference> (a tag or "sha256:..."). When `reference` is a
  // digest, the bytes must hash to it (and to Docker-Content-Digest when the server sends one).
  Manifest get_manifest(const std::string& repository, const std::string& reference);
  // HEAD /v2/<repository>/blobs/<digest>: true on 200, false on 404.
  bool blob_exists(const std::string& repository, const std::string& digest);
  // GET /v2/<repository>/blobs/<digest> (following redirects to the storage behind the registry),
  // written to `out_fd` as it arrives and hashed on the way. A blob whose bytes do not hash to
  // `digest` is refused with an error; what was written to `out_fd` is then garbage, so write to
  // a temporary file and publish it only when this returns.
  void fetch_blob(const std::string& repository, const std::string& digest, int out_fd,
                  const Progress& progress = {});
  // Uploads `size` bytes of `fd` (read with pread(2) from offset 0, so `fd` must be a regular
  // file) as blob `digest`: POST an upload session, then one PUT ?digest= for a small blob, or
  // PATCH chunks with Content-Range and a closing PUT for a large one. The registry checks the
  // digest. Does not HEAD first: callers skip blobs for which blob_exists() is true.
  void upload_blob(const std::string& repository, const std::string& digest, int fd, uint64_t size,
                   const Progress& progress = {});
  // PUT /v2/<repository>/manifests/<tag> with Content-Type `media_type`; returns the digest of
  // `bytes` (checked against the Docker-Content-Digest the registry answers with).
  std::string put_manifest(const std::string& repository, const std::string& tag,
                           std::string_view bytes, std::string_view media_type);

  // Defined in the .cpp; public only so that libcurl's callbacks there can name them.
  struct Request;   // what request() sends
  struct Response;  // an HTTP answer: status, headers, a small body

 private:
  Response request(Request& request);
  Response send_once(Request& request);
  void fetch_token(const std::string& challenge, const std::string& repository);
  std::string resolve(const std::string& location) const;
  std::string name(const std::string& repository) const;

  std::string domain_;
  std::string host_;  // what we connect to: domain_, or registry-1.docker.io for docker.io
  std::string base_url_;
  uint64_t chunk_size_ = kDefaultChunkSize;
  std::map<std::string, std::string> tokens_;  // repository -> bearer token
  struct Curl;
  std::unique_ptr<Curl> curl_;
};

}  // namespace registry
