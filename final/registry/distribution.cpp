#include "registry/distribution.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>
#include <vector>

#include "error.hpp"
#include "graph/digest.hpp"
#include "graph/store.hpp"
#include "process.hpp"
#include "registry/libcurl.hpp"

namespace registry {

namespace {

constexpr std::string_view kDockerHub = "docker.io";
// Docker Hub's API lives on another name than the one in image references.
constexpr std::string_view kDockerHubApi = "registry-1.docker.io";
// Docker refuses manifests above 4 MiB; we hold every non-blob answer in memory, so the same cap.
constexpr size_t kMaxSmallBody = 4u << 20;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// --- the grammar of references (distribution/reference/regexp.go) ------------------------------
const std::regex& reference_regex() {
  static const std::regex re = [] {
    const std::string domain_component = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    const std::string ipv6 = "\\[[a-fA-F0-9:]+\\]";
    const std::string domain =
        "(?:" + domain_component + "(?:\\." + domain_component + ")*|" + ipv6 + ")(?::[0-9]+)?";
    const std::string path_component = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
    const std::string name =
        "(?:" + domain + "/)?" + path_component + "(?:/" + path_component + ")*";
    const std::string tag = "[\\w][\\w.-]{0,127}";
    const std::string digest =
        "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
    return std::regex("(" + name + ")(?::(" + tag + "))?(?:@(" + digest + "))?");
  }();
  return re;
}

[[noreturn]] void invalid_reference(std::string_view why = "") {
  if (why.empty()) throw lab::UserError("invalid reference format");
  throw lab::UserError(fmt::format("invalid reference format: {}", why));
}

}  // namespace

Reference parse_reference(std::string_view text) {
  // Nothing valid is this long (a 255-character name, a 128-character tag, a sha256 digest), and
  // std::regex recurses per character, so a huge argument must not reach it.
  if (text.size() > 512) invalid_reference();
  const std::string s(text);
  static const std::regex hex64("[a-f0-9]{64}");
  if (std::regex_match(s, hex64))
    throw lab::UserError(
        fmt::format("invalid repository name ({}), cannot specify 64-byte hexadecimal strings", s));

  // Docker's splitDockerDomain: the first component is a registry only if it looks like a host.
  std::string domain(kDockerHub);
  std::string remainder = s;
  const size_t slash = s.find('/');
  if (slash != std::string::npos) {
    const std::string first = s.substr(0, slash);
    if (first.find_first_of(".:") != std::string::npos || first == "localhost" ||
        lower(first) != first) {
      domain = first;
      remainder = s.substr(slash + 1);
    }
  }
  if (domain == "index.docker.io") domain = kDockerHub;
  if (domain == kDockerHub && remainder.find('/') == std::string::npos)
    remainder = "library/" + remainder;
  const std::string remote_name = remainder.substr(0, remainder.find(':'));
  if (lower(remote_name) != remote_name)
    invalid_reference(fmt::format("repository name ({}) must be lowercase", remote_name));

  const std::string full = domain + "/" + remainder;
  std::smatch match;
  if (!std::regex_match(full, match, reference_regex())) {
    const std::string lowered = lower(full);
    if (std::regex_match(lowered, reference_regex()))
      invalid_reference("repository name must be lowercase");
    invalid_reference();
  }
  const std::string name = match[1].str();
  if (name.size() > 255) invalid_reference("repository name must not be more than 255 characters");

  Reference ref;
  ref.domain = domain;
  ref.repository = name.substr(domain.size() + 1);
  ref.tag = match[2].str();
  ref.digest = match[3].str();
  if (!ref.digest.empty() && !graph::is_sha256_digest(ref.digest)) {
    if (!ref.digest.starts_with("sha256:")) invalid_reference("unsupported digest algorithm");
    if (ref.digest.size() != 7 + 64) invalid_reference("invalid checksum digest length");
    invalid_reference("invalid checksum digest format");
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

std::string Reference::familiar() const {
  std::string out = domain + "/" + repository;
  if (domain == kDockerHub) {
    out = repository;
    if (out.starts_with("library/") && out.find('/', 8) == std::string::npos) out.erase(0, 8);
  }
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string Reference::string() const {
  std::string out = domain + "/" + repository;
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string Reference::manifest_reference() const { return digest.empty() ? tag : digest; }

// --- scheme ----------------------------------------------------------------------------------
namespace {

// "127.0.0.1:5000" -> "127.0.0.1", "[::1]:5000" -> "::1", "example.com" -> "example.com".
std::string host_of(std::string_view domain) {
  if (domain.starts_with('[')) {
    const size_t close = domain.find(']');
    return std::string(domain.substr(1, close == std::string_view::npos ? close : close - 1));
  }
  if (std::count(domain.begin(), domain.end(), ':') == 1)
    return std::string(domain.substr(0, domain.find(':')));
  return std::string(domain);
}

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr address{};
  if (::inet_pton(AF_INET, host.c_str(), &address) != 1) return false;
  return (ntohl(address.s_addr) >> 24) == 127;
}

std::string trim_spaces(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return "";
  const size_t end = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(begin, end - begin + 1));
}

}  // namespace

std::string choose_scheme(std::string_view domain, std::string_view insecure_list) {
  const std::string host = host_of(domain);
  if (is_loopback(host)) return "http";
  size_t start = 0;
  while (start <= insecure_list.size()) {
    size_t comma = insecure_list.find(',', start);
    if (comma == std::string_view::npos) comma = insecure_list.size();
    const std::string entry = trim_spaces(insecure_list.substr(start, comma - start));
    if (!entry.empty() && (entry == domain || entry == host)) return "http";
    start = comma + 1;
  }
  return "https";
}

// --- HTTP over libcurl -----------------------------------------------------------------------
struct Client::Request {
  std::string method = "GET";  // GET, HEAD, POST, PUT, PATCH
  std::string url;
  std::string repository;  // whose bearer token goes along ("" for none)
  std::vector<std::string> headers;
  // The body: `body`, or `body_size` bytes of `body_fd` from `body_offset` (read with pread).
  std::string_view body;
  int body_fd = -1;
  uint64_t body_offset = 0;
  uint64_t body_size = 0;
  // Where a 2xx answer's body goes; without a sink it is kept in Response::body (up to 4 MiB).
  std::function<void(const char*, size_t)> sink;
  // Told about the body's bytes as they go out or come in; an upload in chunks reports from
  // `progress_base` of `progress_total`.
  const Progress* progress = nullptr;
  uint64_t progress_base = 0;
  uint64_t progress_total = 0;
  bool follow_redirects = false;
};

struct Client::Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  bool ok() const { return status >= 200 && status < 300; }
};

struct Client::Curl {
  CURL* handle = nullptr;
  Curl() {
    handle = libcurl().easy_init();
    if (!handle) throw std::runtime_error("curl_easy_init() failed");
  }
  ~Curl() { libcurl().easy_cleanup(handle); }
  Curl(const Curl&) = delete;
  Curl& operator=(const Curl&) = delete;
};

namespace {

// What libcurl's callbacks share during one transfer. A callback must not throw through C code,
// so it parks the exception here and tells curl to stop; send_once rethrows it.
struct Transfer {
  Client::Request* request = nullptr;
  Client::Response* response = nullptr;
  CURL* handle = nullptr;
  bool to_sink = false;
  bool decided = false;  // whether this answer's body goes to the sink, decided at its first byte
  uint64_t sent = 0;
  uint64_t received = 0;
  std::exception_ptr error;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  // A new status line starts a new answer (after a redirect or a 100 Continue): forget the old.
  if (line.starts_with("HTTP/")) {
    transfer.response->headers.clear();
    transfer.decided = false;
  } else if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    transfer.response->headers[lower(line.substr(0, colon))] = trim_spaces(line.substr(colon + 1));
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const size_t n = size * count;
  try {
    if (!transfer.decided) {
      long status = 0;
      libcurl().easy_getinfo(transfer.handle, CURLINFO_RESPONSE_CODE, &status);
      transfer.to_sink = transfer.request->sink && status >= 200 && status < 300;
      transfer.decided = true;
    }
    if (transfer.to_sink) {
      transfer.request->sink(data, n);
      transfer.received += n;
      if (transfer.request->progress && *transfer.request->progress) {
        curl_off_t length = -1;
        libcurl().easy_getinfo(transfer.handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
        (*transfer.request->progress)(transfer.received,
                                      length > 0 ? static_cast<uint64_t>(length) : 0);
      }
    } else {
      if (transfer.response->body.size() + n > kMaxSmallBody)
        throw lab::UserError(fmt::format("{} {}: the answer is larger than {} MiB",
                                         transfer.request->method, transfer.request->url,
                                         kMaxSmallBody >> 20));
      transfer.response->body.append(data, n);
    }
    return n;
  } catch (...) {
    transfer.error = std::current_exception();
    return 0;  // not n: curl stops with CURLE_WRITE_ERROR
  }
}

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const Client::Request& request = *transfer.request;
  try {
    const uint64_t total = request.body_fd >= 0 ? request.body_size : request.body.size();
    const size_t n = static_cast<size_t>(std::min<uint64_t>(size * count, total - transfer.sent));
    if (n == 0) return 0;
    if (request.body_fd < 0) {
      std::copy_n(request.body.data() + transfer.sent, n, buffer);
    } else {
      const auto offset = static_cast<off_t>(request.body_offset + transfer.sent);
      ssize_t got;
      while ((got = ::pread(request.body_fd, buffer, n, offset)) == -1 && errno == EINTR)
        lab::throw_if_interrupted();
      lab::check(got,
                 [&] { return fmt::format("pread(fd {}, {}, {})", request.body_fd, n, offset); });
      if (got == 0)
        throw lab::UserError(fmt::format("the blob file ended at byte {}, before the {} announced",
                                         offset, request.body_offset + request.body_size));
      transfer.sent += static_cast<uint64_t>(got);
      if (request.progress && *request.progress)
        (*request.progress)(request.progress_base + transfer.sent, request.progress_total);
      return static_cast<size_t>(got);
    }
    transfer.sent += n;
    return n;
  } catch (...) {
    transfer.error = std::current_exception();
    return CURL_READFUNC_ABORT;
  }
}

// curl rewinds a body when it must send the request again (a reused connection that turned out
// closed); without this it gives up with "necessary data rewind wasn't possible".
int on_seek(void* user, curl_off_t offset, int origin) {
  auto& transfer = *static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
  transfer.sent = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

// Called by curl about once a second and on every chunk: where Ctrl-C stops a transfer.
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto& transfer = *static_cast<Transfer*>(user);
  try {
    lab::throw_if_interrupted();
    return 0;
  } catch (...) {
    transfer.error = std::current_exception();
    return 1;
  }
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { libcurl().slist_free_all(list); }
};
struct UrlDeleter {
  void operator()(CURLU* url) const { libcurl().url_cleanup(url); }
};

std::unique_ptr<CURLU, UrlDeleter> parse_url(const std::string& url) {
  std::unique_ptr<CURLU, UrlDeleter> handle(libcurl().url());
  if (!handle) throw std::bad_alloc();
  if (CURLUcode rc = libcurl().url_set(handle.get(), CURLUPART_URL, url.c_str(), 0);
      rc != CURLUE_OK)
    throw lab::UserError(fmt::format("bad URL {:?}: {}", url, libcurl().url_strerror(rc)));
  return handle;
}

std::string url_string(CURLU* handle) {
  char* text = nullptr;
  if (CURLUcode rc = libcurl().url_get(handle, CURLUPART_URL, &text, 0); rc != CURLUE_OK)
    throw lab::UserError(fmt::format("bad URL: {}", libcurl().url_strerror(rc)));
  std::string out(text);
  libcurl().free(text);
  return out;
}

// `url` with "key=value" added to its query (an upload location may already carry one).
std::string with_query(const std::string& url, std::string_view key, std::string_view value) {
  auto handle = parse_url(url);
  const std::string part = fmt::format("{}={}", key, value);
  if (CURLUcode rc = libcurl().url_set(handle.get(), CURLUPART_QUERY, part.c_str(),
                                       CURLU_APPENDQUERY | CURLU_URLENCODE);
      rc != CURLUE_OK)
    throw lab::UserError(fmt::format("bad URL {:?}: {}", url, libcurl().url_strerror(rc)));
  return url_string(handle.get());
}

bool is_tls_error(CURLcode rc) {
  switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
      return true;
    default:
      return false;
  }
}

// The registry's own words: the messages of {"errors":[{"code":..., "message":...}]}, or the
// HTTP status when the body is not that.
std::string registry_says(const Client::Response& response) {
  std::string out;
  try {
    const auto json = nlohmann::json::parse(response.body);
    for (const auto& error : json.at("errors")) {
      std::string message = error.value("message", "");
      if (message.empty()) message = error.value("code", "");
      if (message.empty()) continue;
      if (!out.empty()) out += "; ";
      out += message;
    }
  } catch (const nlohmann::json::exception&) {
  }
  if (!out.empty()) return out;
  return fmt::format("HTTP {}", response.status);
}

// Docker-Content-Digest values we can compare with ours; anything else is not ours to judge.
void check_digest_header(const Client::Response& response, const std::string& expected,
                         std::string_view what) {
  const std::string header = response.header("docker-content-digest");
  if (!header.empty() && header != expected)
    throw lab::UserError(
        fmt::format("{}: the registry says its digest is {}, but its bytes hash to {}; refused",
                    what, header, expected));
}

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n == -1 && errno == EINTR) {
      lab::throw_if_interrupted();
      continue;
    }
    lab::check(n, [&] { return fmt::format("write(fd {}, {} bytes)", fd, size); });
    data += n;
    size -= static_cast<size_t>(n);
  }
}

bool is_known_manifest_type(std::string_view type) {
  return type == kOciManifest || type == kOciIndex || type == kDockerManifest ||
         type == kDockerManifestList;
}

void check_repository(const std::string& repository) {
  static const std::regex re(
      "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*");
  if (repository.size() > 255 || !std::regex_match(repository, re))
    throw lab::UserError(fmt::format("invalid repository name {:?}", repository));
}

void check_digest(const std::string& digest) {
  if (!graph::is_sha256_digest(digest))
    throw lab::UserError(
        fmt::format("invalid digest {:?}: expected sha256:<64 hex digits>", digest));
}

void check_manifest_reference(const std::string& reference) {
  static const std::regex tag("[\\w][\\w.-]{0,127}");
  if (!std::regex_match(reference, tag) && !graph::is_sha256_digest(reference))
    throw lab::UserError(fmt::format("invalid tag or digest {:?}", reference));
}

}  // namespace

Client::Client(std::string domain)
    : Client(std::move(domain), [] {
        const char* list = std::getenv("MINIDOCKER_INSECURE_REGISTRIES");
        return std::string_view(list ? list : "");
      }()) {}

Client::Client(std::string domain, std::string_view insecure_list)
    : domain_(std::move(domain)), curl_(std::make_unique<Curl>()) {
  host_ = domain_ == kDockerHub ? std::string(kDockerHubApi) : domain_;
  base_url_ = fmt::format("{}://{}", choose_scheme(domain_, insecure_list), host_);
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

std::string Client::name(const std::string& repository) const {
  Reference ref{domain_, repository, "", ""};
  return ref.familiar();
}

std::string Client::resolve(const std::string& location) const {
  if (location.empty())
    throw lab::UserError(
        fmt::format("registry {} started an upload but sent no Location for it", domain_));
  // A relative Location is relative to the API's root; curl's URL parser resolves it.
  auto handle = parse_url(base_url_ + "/v2/");
  if (CURLUcode rc = libcurl().url_set(handle.get(), CURLUPART_URL, location.c_str(), 0);
      rc != CURLUE_OK)
    throw lab::UserError(fmt::format("registry {} sent a bad upload Location {:?}: {}", domain_,
                                     location, libcurl().url_strerror(rc)));
  return url_string(handle.get());
}

Client::Response Client::send_once(Request& request) {
  CURL* h = curl_->handle;
  // reset forgets the options of the last request but keeps the open connection.
  libcurl().easy_reset(h);
  Response response;
  Transfer transfer;
  transfer.request = &request;
  transfer.response = &response;
  transfer.handle = h;
  char error_text[CURL_ERROR_SIZE] = "";

  libcurl().easy_setopt(h, CURLOPT_URL, request.url.c_str());
  libcurl().easy_setopt(h, CURLOPT_ERRORBUFFER, error_text);
  libcurl().easy_setopt(h, CURLOPT_USERAGENT, "minidocker (libcurl)");
  libcurl().easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  libcurl().easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  libcurl().easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  // No total timeout (a big layer on a slow line may take an hour), but a connection that cannot
  // be made in 10 s, or that moves less than 1 KiB/s for 30 s, is given up.
  libcurl().easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
  libcurl().easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  libcurl().easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
  libcurl().easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  libcurl().easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  // A body that goes to a sink (a blob) is read in 512 KiB pieces, not curl's default 16 KiB:
  // 32 times fewer write(2)s to the blob file.
  if (request.sink) libcurl().easy_setopt(h, CURLOPT_BUFFERSIZE, 512L << 10);
  libcurl().easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  libcurl().easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  libcurl().easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  libcurl().easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  libcurl().easy_setopt(h, CURLOPT_XFERINFODATA, &transfer);
  if (request.follow_redirects) {
    // Registries send blob GETs on to their storage (S3, a CDN). curl drops our Authorization
    // header when the redirect leaves the host, which such storage insists on.
    libcurl().easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    libcurl().easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  }

  if (request.method == "HEAD") {
    libcurl().easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    // Every request with a body (even an empty one) goes through the read callback, so that a
    // blob is streamed from its file and never held in memory.
    const uint64_t size = request.body_fd >= 0 ? request.body_size : request.body.size();
    libcurl().easy_setopt(h, CURLOPT_UPLOAD, 1L);
    libcurl().easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
    libcurl().easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    libcurl().easy_setopt(h, CURLOPT_READDATA, &transfer);
    libcurl().easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
    libcurl().easy_setopt(h, CURLOPT_SEEKDATA, &transfer);
    libcurl().easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  std::unique_ptr<curl_slist, SlistDeleter> headers;
  auto add_header = [&](const std::string& line) {
    curl_slist* grown = libcurl().slist_append(headers.get(), line.c_str());
    if (!grown) throw std::bad_alloc();
    (void)headers.release();
    headers.reset(grown);
  };
  for (const auto& line : request.headers) add_header(line);
  // curl waits up to a second for "100 Continue" before a large body; registries never need it.
  add_header("Expect:");
  if (auto token = tokens_.find(request.repository); !request.repository.empty() &&
                                                     token != tokens_.end() &&
                                                     request.url.starts_with(base_url_ + "/"))
    add_header("Authorization: Bearer " + token->second);
  libcurl().easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

  const CURLcode rc = libcurl().easy_perform(h);
  if (transfer.error) std::rethrow_exception(transfer.error);
  if (rc != CURLE_OK) {
    const std::string detail = error_text[0] ? error_text : libcurl().easy_strerror(rc);
    if (rc == CURLE_COULDNT_CONNECT)
      throw lab::UserError(fmt::format("cannot reach registry {}: {}; is it running?", domain_,
                                       libcurl().easy_strerror(rc)));
    if (rc == CURLE_COULDNT_RESOLVE_HOST)
      throw lab::UserError(
          fmt::format("cannot reach registry {}: {}; is the name right?", domain_, detail));
    if (is_tls_error(rc))
      throw lab::UserError(
          fmt::format("TLS with registry {} failed: {}; if it serves plain http, list it in "
                      "MINIDOCKER_INSECURE_REGISTRIES (e.g. MINIDOCKER_INSECURE_REGISTRIES={})",
                      domain_, detail, domain_));
    if (rc == CURLE_OPERATION_TIMEDOUT)
      throw lab::UserError(fmt::format("registry {} stopped answering: {}", domain_, detail));
    throw lab::UserError(
        fmt::format("registry {}: {} {}: {}", domain_, request.method, request.url, detail));
  }
  libcurl().easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

// One request, and once more with a bearer token if the registry asked for one.
Client::Response Client::request(Request& request) {
  Response response = send_once(request);
  if (response.status != 401) return response;
  const std::string challenge = response.header("www-authenticate");
  if (lower(challenge).starts_with("bearer ") && !request.repository.empty()) {
    fetch_token(challenge, request.repository);
    response = send_once(request);
  }
  if (response.status == 401)
    throw lab::UserError(
        fmt::format("registry {} refused {} {}: {} (minidocker has no login: it pulls and pushes "
                    "anonymously)",
                    domain_, request.method, request.url, registry_says(response)));
  return response;
}

// The anonymous token dance (distribution's token auth spec): the 401 names a token server
// (realm), the service and the scope; a GET there without credentials gives a token for public
// repositories.
void Client::fetch_token(const std::string& challenge, const std::string& repository) {
  std::map<std::string, std::string> params;
  static const std::regex param(R"re((\w+)="([^"]*)")re");
  for (auto it = std::sregex_iterator(challenge.begin(), challenge.end(), param);
       it != std::sregex_iterator(); ++it)
    params[lower((*it)[1].str())] = (*it)[2].str();
  if (params["realm"].empty())
    throw lab::UserError(
        fmt::format("registry {} asked for a token without saying where to get "
                    "one: WWW-Authenticate: {}",
                    domain_, challenge));
  std::string url = params["realm"];
  if (!params["service"].empty()) url = with_query(url, "service", params["service"]);
  if (!params["scope"].empty()) url = with_query(url, "scope", params["scope"]);

  Request token_request;
  token_request.url = url;
  token_request.follow_redirects = true;
  const Response response = send_once(token_request);
  if (!response.ok())
    throw lab::UserError(fmt::format("registry {}: getting a token from {}: {}", domain_,
                                     params["realm"], registry_says(response)));
  std::string token;
  try {
    const auto json = nlohmann::json::parse(response.body);
    token = json.value("token", json.value("access_token", ""));
  } catch (const nlohmann::json::exception&) {
  }
  if (token.empty())
    throw lab::UserError(fmt::format("registry {}: the token server {} answered without a token",
                                     domain_, params["realm"]));
  tokens_[repository] = token;
}

Manifest Client::get_manifest(const std::string& repository, const std::string& reference) {
  check_repository(repository);
  check_manifest_reference(reference);
  const bool by_digest = reference.starts_with("sha256:");
  const std::string what = name(repository) + (by_digest ? "@" : ":") + reference;

  Request request;
  request.url = fmt::format("{}/v2/{}/manifests/{}", base_url_, repository, reference);
  request.repository = repository;
  request.follow_redirects = true;
  request.headers.push_back(fmt::format("Accept: {}, {}, {}, {}", kOciManifest, kOciIndex,
                                        kDockerManifest, kDockerManifestList));
  const Response response = this->request(request);
  if (response.status == 404)
    throw lab::UserError(
        fmt::format("manifest for {} not found: {}", what, registry_says(response)));
  if (!response.ok())
    throw lab::UserError(
        fmt::format("pulling the manifest for {}: {}", what, registry_says(response)));

  Manifest manifest;
  manifest.bytes = response.body;
  manifest.digest = graph::sha256_digest(manifest.bytes);
  const std::string content_type = response.header("content-type");
  manifest.media_type = trim_spaces(content_type.substr(0, content_type.find(';')));
  if (!is_known_manifest_type(manifest.media_type)) {
    // Some registries answer application/json; the OCI manifest then names its own type.
    try {
      const auto json = nlohmann::json::parse(manifest.bytes);
      if (json.is_object()) manifest.media_type = json.value("mediaType", manifest.media_type);
    } catch (const nlohmann::json::exception&) {
    }
  }
  if (!is_known_manifest_type(manifest.media_type))
    throw lab::UserError(fmt::format(
        "manifest for {} is of type {:?}, which minidocker does not read (it reads OCI and Docker "
        "schema 2 manifests and indexes)",
        what, manifest.media_type));
  if (by_digest) {
    if (manifest.digest != reference)
      throw lab::UserError(
          fmt::format("manifest for {}: the registry sent bytes that hash to {}; refused", what,
                      manifest.digest));
    check_digest_header(response, manifest.digest, "manifest for " + what);
  }
  return manifest;
}

bool Client::blob_exists(const std::string& repository, const std::string& digest) {
  check_repository(repository);
  check_digest(digest);
  Request request;
  request.method = "HEAD";
  request.url = fmt::format("{}/v2/{}/blobs/{}", base_url_, repository, digest);
  request.repository = repository;
  request.follow_redirects = true;
  const Response response = this->request(request);
  if (response.status == 404) return false;
  if (!response.ok())
    throw lab::UserError(fmt::format("checking for blob {} in {}: {}", digest, name(repository),
                                     registry_says(response)));
  return true;
}

void Client::fetch_blob(const std::string& repository, const std::string& digest, int out_fd,
                        const Progress& progress) {
  check_repository(repository);
  check_digest(digest);
  graph::Sha256 hasher;
  graph::Writeback writeback(out_fd);
  Request request;
  request.url = fmt::format("{}/v2/{}/blobs/{}", base_url_, repository, digest);
  request.repository = repository;
  request.follow_redirects = true;
  request.progress = &progress;
  request.sink = [&](const char* data, size_t size) {
    write_all(out_fd, data, size);
    writeback.wrote(size);
    hasher.update(data, size);
  };
  const Response response = this->request(request);
  if (response.status == 404)
    throw lab::UserError(fmt::format("blob {} not found in {}: {}", digest, name(repository),
                                     registry_says(response)));
  if (!response.ok())
    throw lab::UserError(fmt::format("pulling blob {} from {}: {}", digest, name(repository),
                                     registry_says(response)));
  const std::string got = hasher.digest();
  if (got != digest)
    throw lab::UserError(fmt::format(
        "blob {} from {} hashes to {}: refused (corrupted in the registry or on the way)", digest,
        name(repository), got));
}

void Client::upload_blob(const std::string& repository, const std::string& digest, int fd,
                         uint64_t size, const Progress& progress) {
  check_repository(repository);
  check_digest(digest);
  const std::string what = fmt::format("pushing blob {} to {}", digest, name(repository));
  auto fail = [&](std::string_view step, const Response& response) {
    throw lab::UserError(fmt::format("{}: {}: {}", what, step, registry_says(response)));
  };

  Request start;
  start.method = "POST";
  start.url = fmt::format("{}/v2/{}/blobs/uploads/", base_url_, repository);
  start.repository = repository;
  Response response = request(start);
  if (response.status != 202) fail("starting the upload", response);
  std::string location = resolve(response.header("location"));

  // The body of each PATCH/PUT: a window of the file, read as it is sent.
  auto body_request = [&](std::string method, std::string url, uint64_t offset, uint64_t length) {
    Request r;
    r.method = std::move(method);
    r.url = std::move(url);
    r.repository = repository;
    r.headers.push_back("Content-Type: application/octet-stream");
    r.body_fd = fd;
    r.body_offset = offset;
    r.body_size = length;
    r.progress = &progress;
    r.progress_base = offset;
    r.progress_total = size;
    return r;
  };

  if (size <= chunk_size_) {
    // Monolithic: the whole blob in the PUT that closes the upload.
    Request put = body_request("PUT", with_query(location, "digest", digest), 0, size);
    response = request(put);
    if (response.status != 201) fail("uploading", response);
    return;
  }
  // Chunked: PATCH each piece (Content-Range is inclusive), then an empty PUT with the digest.
  for (uint64_t offset = 0; offset < size;) {
    const uint64_t length = std::min(chunk_size_, size - offset);
    const uint64_t last = offset + length - 1;
    Request patch = body_request("PATCH", location, offset, length);
    patch.headers.push_back(fmt::format("Content-Range: {}-{}", offset, last));
    response = request(patch);
    if (response.status != 202) fail(fmt::format("uploading bytes {}-{}", offset, last), response);
    // Range: 0-<last byte the registry holds>; anything else means a chunk went missing.
    const std::string range = response.header("range");
    if (!range.empty() && range != fmt::format("0-{}", last))
      throw lab::UserError(fmt::format("{}: after bytes {}-{} the registry holds range {}", what,
                                       offset, last, range));
    location = resolve(response.header("location"));
    offset += length;
  }
  Request put = body_request("PUT", with_query(location, "digest", digest), size, 0);
  response = request(put);
  if (response.status != 201) fail("closing the upload", response);
}

std::string Client::put_manifest(const std::string& repository, const std::string& tag,
                                 std::string_view bytes, std::string_view media_type) {
  check_repository(repository);
  check_manifest_reference(tag);
  const std::string what = name(repository) + ":" + tag;
  Request request;
  request.method = "PUT";
  request.url = fmt::format("{}/v2/{}/manifests/{}", base_url_, repository, tag);
  request.repository = repository;
  request.headers.push_back(fmt::format("Content-Type: {}", media_type));
  request.body = bytes;
  const Response response = this->request(request);
  if (response.status != 201)
    throw lab::UserError(
        fmt::format("pushing the manifest for {}: {}", what, registry_says(response)));
  const std::string digest = graph::sha256_digest(bytes);
  check_digest_header(response, digest, "pushed manifest for " + what);
  return digest;
}

}  // namespace registry
