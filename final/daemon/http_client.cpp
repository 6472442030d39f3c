#include "daemon/http_client.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>
#include <vector>

// <utility> before Boost: 1.74's asio/awaitable.hpp uses std::exchange without including it
// (see server.cpp).
#include <utility>
// (clang-format keeps this block apart)
#include <boost/asio/connect.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "daemon/router.hpp"
#include "daemon/routes.hpp"
#include "daemon/server.hpp"
#include "error.hpp"

namespace api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using unix_socket = asio::local::stream_protocol;
using tcp = asio::ip::tcp;
// A unix socket or a TCP connection (-H unix:// or tcp://): the same HTTP over either.
using generic_stream = asio::generic::stream_protocol;

// One connection and the parser of its response, whose body is read piece by piece into a
// buffer_body (Beast's way to stream a body of any length and encoding).
struct ResponseStream::State {
  asio::io_context io;
  generic_stream::socket socket{io};
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  std::string reason;
};

ResponseStream::ResponseStream(std::unique_ptr<State> state) : state_(std::move(state)) {}
ResponseStream::ResponseStream(ResponseStream&&) noexcept = default;
ResponseStream::~ResponseStream() = default;

int ResponseStream::status() const { return static_cast<int>(state_->parser.get().result_int()); }
const std::string& ResponseStream::reason() const { return state_->reason; }

std::map<std::string, std::string> ResponseStream::headers() const {
  std::map<std::string, std::string> out;
  for (const auto& field : state_->parser.get()) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out[name] = std::string(field.value());
  }
  return out;
}

std::string ResponseStream::next() {
  State& s = *state_;
  char piece[16384];
  while (!s.parser.is_done()) {
    s.parser.get().body().data = piece;
    s.parser.get().body().size = sizeof piece;
    boost::system::error_code ec;
    http::read_some(s.socket, s.buffer, s.parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec == http::error::end_of_stream || ec == asio::error::eof) return {};
    if (ec) throw lab::UserError("reading the daemon's answer: " + ec.message());
    size_t n = sizeof piece - s.parser.get().body().size;
    if (n > 0) return std::string(piece, n);
  }
  return {};
}

std::string ResponseStream::rest() {
  std::string all;
  for (std::string piece; !(piece = next()).empty();) all += piece;
  return all;
}

DaemonClient::DaemonClient(std::string host, bool explain)
    : host_(std::move(host)), address_(parse_host(host_)), explain_(explain) {}

namespace {

// The socket's path, or each address the TCP host's name resolves to, in turn.
void connect(generic_stream::socket& socket, const HostAddress& address, const std::string& host) {
  boost::system::error_code ec;
  if (!address.tcp) {
    socket.connect(generic_stream::endpoint(unix_socket::endpoint(address.path)), ec);
  } else {
    tcp::resolver resolver(socket.get_executor());
    auto found = resolver.resolve(address.host, address.port, ec);
    ec = asio::error::host_not_found;
    for (const auto& entry : found) {
      tcp::endpoint endpoint = entry.endpoint();
      boost::system::error_code closed;
      socket.close(closed);
      socket.connect(generic_stream::endpoint(endpoint), ec);
      if (!ec) break;
    }
    int one = 1;  // requests and an attach's keystrokes go at once (Go's default too)
    if (!ec) ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (ec)
    throw DaemonUnreachable(
        fmt::format("Cannot connect to the minidocker daemon at {}. Is the daemon running?", host));
}

http::request<http::string_body> request_of(std::string_view method, const std::string& target,
                                            const std::string& body,
                                            const std::string& content_type = {}) {
  http::request<http::string_body> req{http::string_to_verb({method.data(), method.size()}),
                                       fmt::format("/v{}{}", kApiVersion, target), 11};
  req.set(http::field::host, "api.moby.localhost");  // Docker's CLI names no real host either
  req.set(http::field::user_agent, std::string("minidocker/") + kServerVersion);
  if (!body.empty())
    req.set(http::field::content_type, content_type.empty() ? "application/json" : content_type);
  req.body() = body;
  req.keep_alive(false);
  req.prepare_payload();
  return req;
}

void explain_line(bool explain, std::string_view method, const std::string& target, int status,
                  std::string_view reason) {
  if (explain)
    fmt::print(stderr, "[client] {} /v{}{} -> {} {}\n", method, kApiVersion, target, status,
               reason);
}

}  // namespace

ResponseStream DaemonClient::open(std::string_view method, const std::string& target,
                                  const std::string& body, const std::string& content_type) {
  auto state = std::make_unique<ResponseStream::State>();
  connect(state->socket, address_, host_);
  boost::system::error_code ec;
  http::write(state->socket, request_of(method, target, body, content_type), ec);
  // A HEAD's Content-Length is the GET's body's, which does not come.
  if (method == "HEAD") state->parser.skip(true);
  if (ec) throw lab::UserError(fmt::format("{} {}: {}", method, target, ec.message()));
  return read_head(std::move(state), method, target, {});
}

ResponseStream DaemonClient::read_head(std::unique_ptr<ResponseStream::State> state,
                                       std::string_view method, const std::string& target,
                                       const std::string& write_error) {
  // A log or a pull's progress is as long as it is (Beast's default limit is 8 MiB).
  state->parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  boost::system::error_code ec;
  http::read_header(state->socket, state->buffer, state->parser, ec);
  // A daemon that refused a body half-way (413) answered before it closed: that answer is the
  // news, not the broken pipe of the rest.
  if (ec && !write_error.empty())
    throw lab::UserError(fmt::format("{} {}: {}", method, target, write_error));
  if (ec) throw lab::UserError(fmt::format("{} {}: {}", method, target, ec.message()));
  state->reason = std::string(state->parser.get().reason());
  ResponseStream stream(std::move(state));
  explain_line(explain_, method, target, stream.status(), stream.reason());
  return stream;
}

ResponseStream DaemonClient::upload(std::string_view method, const std::string& target,
                                    std::string_view content_type, int fd,
                                    const std::function<void(uint64_t)>& sent) {
  auto state = std::make_unique<ResponseStream::State>();
  connect(state->socket, address_, host_);
  http::request<http::empty_body> req{http::string_to_verb({method.data(), method.size()}),
                                      fmt::format("/v{}{}", kApiVersion, target), 11};
  req.set(http::field::host, "api.moby.localhost");
  req.set(http::field::user_agent, std::string("minidocker/") + kServerVersion);
  req.set(http::field::content_type, std::string(content_type));
  req.keep_alive(false);
  // A file says how long it is; stdin or a pipe is sent in chunks, as Docker's CLI sends
  // `docker load < file` and build contexts.
  struct stat st {};
  off_t at = ::lseek(fd, 0, SEEK_CUR);
  bool sized = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && at >= 0;
  if (sized) {
    req.content_length(static_cast<uint64_t>(st.st_size - at));
  } else {
    req.chunked(true);
  }
  http::request_serializer<http::empty_body> head(req);
  boost::system::error_code ec;
  http::write_header(state->socket, head, ec);
  if (ec) throw lab::UserError(fmt::format("{} {}: {}", method, target, ec.message()));
  // The body as it is read: Beast's serializer has no body of "an fd to its end", and the
  // chunked framing is three lines of HTTP/1.1 (RFC 9112 7.1).
  std::vector<char> piece(1 << 16);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, piece.data(), piece.size());
    if (n == -1 && errno == EINTR) continue;
    lab::check(n, [&] { return std::string("read(the body of ") + target + ")"; });
    if (n == 0) break;
    std::vector<asio::const_buffer> out;
    std::string size_line = fmt::format("{:x}\r\n", n);
    if (!sized) out.push_back(asio::buffer(size_line));
    out.push_back(asio::buffer(piece.data(), static_cast<size_t>(n)));
    if (!sized) out.push_back(asio::buffer("\r\n", 2));
    asio::write(state->socket, out, ec);
    if (ec) break;
    total += static_cast<uint64_t>(n);
    if (sent) sent(total);
  }
  if (!sized && !ec) asio::write(state->socket, asio::buffer("0\r\n\r\n", 5), ec);
  return read_head(std::move(state), method, target, ec ? ec.message() : "");
}

ClientReply DaemonClient::call(std::string_view method, const std::string& target,
                               const std::string& body, const std::string& content_type) {
  ResponseStream stream = open(method, target, body, content_type);
  ClientReply reply{stream.status(), stream.reason(), {}, stream.headers()};
  reply.body = stream.rest();
  return reply;
}

ClientReply DaemonClient::checked(std::string_view method, const std::string& target,
                                  const std::string& body) {
  ClientReply reply = call(method, target, body);
  throw_if_refused(reply);
  return reply;
}

Hijacked DaemonClient::hijack(const std::string& target, const std::string& body) {
  asio::io_context io;
  generic_stream::socket socket(io);
  connect(socket, address_, host_);
  http::request<http::string_body> req = request_of("POST", target, body);
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::upgrade, "tcp");
  boost::system::error_code ec;
  http::write(socket, req, ec);
  if (ec) throw lab::UserError(fmt::format("POST {}: {}", target, ec.message()));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  // A 101 has no body: the parser stops after the head, and what the buffer holds past it is
  // the container's first output.
  http::read_header(socket, buffer, parser, ec);
  if (ec) throw lab::UserError(fmt::format("POST {}: {}", target, ec.message()));
  Hijacked h;
  h.status = static_cast<int>(parser.get().result_int());
  h.reason = std::string(parser.get().reason());
  explain_line(explain_, "POST", target, h.status, h.reason);
  if (h.status != 101) {
    http::read(socket, buffer, parser, ec);
    h.body = parser.get().body();
    return h;
  }
  h.buffered = beast::buffers_to_string(buffer.data());
  h.fd = lab::UniqueFd(::dup(socket.native_handle()));
  if (h.fd.get() < 0)
    throw lab::UserError("dup(the attach socket): " + std::string(strerror(errno)));
  return h;
}

void throw_if_refused(int status, const std::string& reason, const std::string& body) {
  if (status < 400) return;
  auto error = nlohmann::json::parse(body, nullptr, false);
  if (error.is_object() && error.contains("message") && error["message"].is_string())
    throw lab::UserError(error["message"].get<std::string>());
  throw lab::UserError(fmt::format("the daemon answered {} {}", status, reason));
}

void read_messages(ResponseStream& stream, const std::function<void(const nlohmann::json&)>& each) {
  if (stream.status() >= 400) throw_if_refused(stream.status(), stream.reason(), stream.rest());
  auto handle = [&](std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return;
    nlohmann::json m = nlohmann::json::parse(line, nullptr, false);
    if (!m.is_object()) return;
    if (m.contains("error") || m.contains("errorDetail")) {
      nlohmann::json detail = m.value("errorDetail", nlohmann::json::object());
      bool detailed = detail.is_object() && detail.contains("message");
      throw StreamedError(detailed ? detail.value("message", "") : m.value("error", ""),
                          detail.is_object() ? detail.value("code", 0) : 0);
    }
    each(m);
  };
  std::string pending;
  for (std::string piece = stream.next(); !piece.empty(); piece = stream.next()) {
    pending += piece;
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      handle(pending.substr(0, nl));
      pending.erase(0, nl + 1);
    }
  }
  handle(pending);
}

std::string url_escape(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

}  // namespace api
