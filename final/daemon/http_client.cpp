#include "daemon/http_client.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>

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
  // A log or a pull's progress is as long as it is (Beast's default limit is 8 MiB).
  state->parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  http::read_header(state->socket, state->buffer, state->parser, ec);
  if (ec) throw lab::UserError(fmt::format("{} {}: {}", method, target, ec.message()));
  state->reason = std::string(state->parser.get().reason());
  ResponseStream stream(std::move(state));
  explain_line(explain_, method, target, stream.status(), stream.reason());
  return stream;
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
