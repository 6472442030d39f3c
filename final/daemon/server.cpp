#include "daemon/server.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

// <utility> before Boost: 1.74's asio/awaitable.hpp uses std::exchange without including it,
// which GCC 12 in C++20 mode does not forgive.
#include <utility>
// (clang-format keeps this block apart)
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "daemon/router.hpp"
#include "daemon/routes.hpp"
#include "engine/containers.hpp"
#include "error.hpp"
#include "fd.hpp"

namespace api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using unix_socket = asio::local::stream_protocol;
using tcp = asio::ip::tcp;
// A listener and its connections, whether a unix socket or TCP: Asio's generic stream protocol
// holds either (the family is chosen at open()), so one server loop serves both.
using generic_stream = asio::generic::stream_protocol;
using generic_acceptor = asio::basic_socket_acceptor<generic_stream>;

namespace {

// What the connection threads share; kept alive by each of them (a shared_ptr), so a thread
// still answering when SIGTERM arrives never reads a destroyed router.
struct Daemon {
  // The root made absolute once: no job's path depends on a working directory.
  explicit Daemon(const std::string& root)
      : engine{std::filesystem::absolute(root).lexically_normal().string()},
        router(engine_routes(engine)) {}
  Engine engine;
  Router router;
  // No lock around the jobs: each connection's thread runs its request at once, as many CLI
  // processes run at once, and the engine's own locks order them as they order those processes
  // (flock(2) on containers.lock, volumes.lock, networks/lock, the image store's lock and the
  // runtime's state directory: each taken on a file opened for that job, which excludes another
  // thread as it excludes another process). What the threads of one process share and separate
  // processes do not is handled where the engine touches it: the working directory (the overlay
  // mount's chdir: graph/driver.cpp), SIGPIPE's disposition (engine/tree_tar.cpp), a child
  // forked while another thread holds malloc's lock (common/process.cpp's clone_child; the
  // engine's fork+exec build their argv first: engine/containers.cpp, ops.cpp). So a stop's
  // 10 s of grace, a pull's download or a restart holds up no other request.
  std::mutex log_mutex;  // one request's log line at a time
};

// Is someone answering on `path`? A socket file nobody listens on is stale (a daemon killed
// with SIGKILL leaves it): connect(2) says ECONNREFUSED.
bool served(const std::string& path) {
  lab::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) throw lab::UserError(fmt::format("socket(AF_UNIX): {}", std::strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

// Binds the socket with mode 0660, group `minidocker` when that group exists (as Docker's
// `docker` group), else root's group: root only.
void listen_on(generic_acceptor& acceptor, const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    throw lab::UserError("socket path too long (at most 107 bytes): " + path);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) throw lab::UserError(path + " exists and is not a socket");
    if (served(path)) throw lab::UserError("a daemon is already serving unix://" + path);
    lab::check(::unlink(path.c_str()), "unlink(\"" + path + "\") (a stale socket)");
  }
  // bind(2) creates the file with the umask's mode: closed to everyone but root from the start,
  // then opened to the group, never the other way round.
  mode_t old_umask = ::umask(0177);
  boost::system::error_code ec;
  acceptor.open(generic_stream(AF_UNIX, 0), ec);
  if (!ec) acceptor.bind(generic_stream::endpoint(unix_socket::endpoint(path)), ec);
  ::umask(old_umask);
  if (ec) throw lab::UserError(fmt::format("bind(\"{}\"): {}", path, ec.message()));
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw lab::UserError(fmt::format("listen(\"{}\"): {}", path, ec.message()));
  gid_t gid = 0;
  if (const group* g = ::getgrnam("minidocker")) gid = g->gr_gid;
  lab::check(::chown(path.c_str(), 0, gid), fmt::format("chown(\"{}\", 0, {})", path, gid));
  lab::check(::chmod(path.c_str(), 0660), fmt::format("chmod(\"{}\", 0660)", path));
}

// What a tcp:// listener answers for: no TLS, so no authentication either; whoever can open the
// port can ask for a privileged container with the host's / bound in, i.e. is root here. Hence
// 127.0.0.1 only (not the network), and only when --insecure-tcp says the user knows. (On
// 127.0.0.1 every local user, and every web page a local browser shows, can still reach it,
// which a unix socket's mode 0660 prevents.) Checked for every -H before anything is bound.
void check_tcp(const HostAddress& address, const std::string& host, bool insecure_tcp) {
  if (address.host != "127.0.0.1" && address.host != "localhost")
    throw lab::UserError(fmt::format(
        "refusing to listen on {}: only 127.0.0.1 (or localhost) is served over TCP, as there is "
        "no TLS here",
        host));
  if (!insecure_tcp)
    throw lab::UserError(fmt::format(
        "refusing to listen on {} without --insecure-tcp: there is no TLS here, and whoever "
        "can reach the port is root on this host",
        host));
}

// 127.0.0.1:PORT (localhost is always 127.0.0.1 here: never ::1, never a name's other address).
void listen_tcp(generic_acceptor& acceptor, const HostAddress& address) {
  tcp::endpoint endpoint(asio::ip::address_v4::loopback(),
                         static_cast<unsigned short>(std::stoul(address.port)));
  boost::system::error_code ec;
  acceptor.open(generic_stream(AF_INET, IPPROTO_TCP), ec);
  // A restarted daemon binds again at once, whatever its last connections left in TIME_WAIT.
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(generic_stream::endpoint(endpoint), ec);
  if (ec) throw lab::UserError(fmt::format("bind(127.0.0.1:{}): {}", address.port, ec.message()));
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw lab::UserError(fmt::format("listen(127.0.0.1:{}): {}", address.port, ec.message()));
}

// The limits on a request's body: Docker's JSON bodies are small; an image or a build context
// (load, import, build: a tar) is held in memory whole, up to 2 GiB, in this daemon.
constexpr uint64_t kJsonBodyLimit = 16 * 1024 * 1024;
constexpr uint64_t kTarBodyLimit = uint64_t{2} * 1024 * 1024 * 1024;

// The connection as a streaming response sees it (router.hpp): writes go straight to the
// socket, as chunks of "Transfer-Encoding: chunked" unless the response is raw (a hijack).
class SocketConnection final : public Connection {
 public:
  SocketConnection(int fd, beast::flat_buffer& buffer, bool chunked)
      : fd_(fd), buffer_(buffer), chunked_(chunked) {}
  bool write(std::string_view data) override {
    if (gone_) return false;
    if (data.empty()) return true;  // an empty chunk would end a chunked body
    if (!chunked_) return send_all(data);
    return send_all(fmt::format("{:x}\r\n", data.size())) && send_all(data) && send_all("\r\n");
  }
  int fd() const override { return fd_; }
  std::string take_buffered() override {
    std::string bytes = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    return bytes;
  }
  bool send_all(std::string_view data) {
    while (!data.empty() && !gone_) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n >= 0) {
        data.remove_prefix(static_cast<size_t>(n));
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, -1);
      } else if (errno != EINTR) {
        gone_ = true;
      }
    }
    return !gone_;
  }
  void finish() {
    if (chunked_) send_all("0\r\n\r\n");
  }

 private:
  int fd_;
  beast::flat_buffer& buffer_;
  bool chunked_;
  bool gone_ = false;
};

// The status line and headers of a streaming response, written by hand: Beast's serializer
// would want the whole body, and "101 UPGRADED" is Docker's own reason phrase.
std::string stream_head(const Response& response) {
  std::string reason = response.status == 101
                           ? "UPGRADED"
                           : std::string(http::obsolete_reason(
                                 static_cast<http::status>(response.status)));
  std::string head = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\n", response.status,
                                 reason, response.content_type);
  for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
  if (response.status == 101) {
    head += "Connection: Upgrade\r\nUpgrade: tcp\r\n";
  } else if (!response.raw) {
    head += "Transfer-Encoding: chunked\r\nConnection: close\r\n";
  } else {
    head += "Connection: close\r\n";
  }
  return head + "\r\n";
}

void log_request(Daemon& daemon, const Request& request, int status,
                 std::chrono::steady_clock::time_point start) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  std::lock_guard lock(daemon.log_mutex);
  fmt::print(stderr, "{} {} {} {}ms\n", request.method, request.target, status, ms);
}

// One client connection: requests in turn (HTTP/1.1 keep-alive) until the client closes it or
// a streaming response has used it.
void serve_connection(std::shared_ptr<Daemon> daemon, generic_stream::socket socket) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    // Beast compares a Content-Length with the body limit as soon as the header is parsed (the
    // request parser's default is 1 MiB, and read_header would fail): the largest limit while
    // the header is read, then this request's, checked here for a Content-Length and by Beast
    // for a chunked body as it comes.
    parser.body_limit(kTarBodyLimit);
    boost::system::error_code ec;
    http::read_header(socket, buffer, parser, ec);
    if (ec) break;  // the client closed the connection, or sent what is not HTTP
    // An archive may be large: a body the client calls a tar (load, build), or docker import's,
    // which it sends as text/plain to POST /images/create?fromSrc=-.
    std::string_view target(parser.get().target().data(), parser.get().target().size());
    bool tar = parser.get()[http::field::content_type].starts_with("application/x-tar") ||
               (parser.get().method() == http::verb::post &&
                target.find("/images/create?") != std::string_view::npos &&
                target.find("fromSrc=") != std::string_view::npos);
    uint64_t limit = tar ? kTarBodyLimit : kJsonBodyLimit;
    parser.body_limit(limit);
    if (parser.content_length() && *parser.content_length() > limit) {
      ec = http::error::body_limit;
    } else {
      http::read(socket, buffer, parser, ec);
    }
    auto start = std::chrono::steady_clock::now();
    Request request;
    request.method = std::string(parser.get().method_string());
    request.target = std::string(parser.get().target());
    if (ec == http::error::body_limit) {
      // Answered, then the connection is closed: the rest of the body is never read.
      Response too_large = error_response(
          413, fmt::format("request body too large: this daemon takes at most {} MiB ({} MiB "
                           "with Content-Type application/x-tar)",
                           kJsonBodyLimit >> 20, kTarBodyLimit >> 20));
      http::response<http::string_body> res{http::status::payload_too_large, 11};
      res.set(http::field::content_type, too_large.content_type);
      res.keep_alive(false);
      res.body() = too_large.body;
      res.prepare_payload();
      http::write(socket, res, ec);
      log_request(*daemon, request, 413, start);
      break;
    }
    if (ec) break;
    http::request<http::string_body> req = parser.release();
    request.body = std::move(req.body());
    Response response = daemon->router.dispatch(request);
    if (response.stream) {
      log_request(*daemon, request, response.status, start);
      SocketConnection connection(socket.native_handle(), buffer,
                                  response.status != 101 && !response.raw);
      if (connection.send_all(stream_head(response))) {
        try {
          response.stream(connection);
        } catch (const std::exception& e) {
          // A stream tells its own failures inside the stream; one that escapes must not end the
          // daemon (an exception leaving a thread is std::terminate).
          std::lock_guard lock(daemon->log_mutex);
          fmt::print(stderr, "{} {}: the stream ended with: {}\n", request.method, request.target,
                     e.what());
        }
        connection.finish();
      }
      break;
    }
    http::response<http::string_body> res;
    res.version(req.version());
    res.result(static_cast<unsigned>(response.status));
    res.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res.set(name, value);
    res.keep_alive(req.keep_alive());
    res.body() = request.method == "HEAD" ? "" : std::move(response.body);
    res.prepare_payload();
    // Logged before the answer is written, as a stream is: once the client has the answer it may
    // send its next request on another connection, whose line must come after this one.
    log_request(*daemon, request, response.status, start);
    http::write(socket, res, ec);
    if (ec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  socket.shutdown(generic_stream::socket::shutdown_both, ignored);
}

void accept_next(generic_acceptor& acceptor, const std::shared_ptr<Daemon>& daemon, bool is_tcp) {
  acceptor.async_accept(
      [&acceptor, daemon, is_tcp](boost::system::error_code ec, generic_stream::socket socket) {
        if (ec == asio::error::operation_aborted) return;  // closed: we are stopping
        if (!ec) {
          // An attach's keystrokes and a stream's small writes go at once, not after Nagle's
          // 40 ms (Go, and so dockerd, sets TCP_NODELAY on every TCP connection too).
          int one = 1;
          if (is_tcp)
            ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          std::thread(serve_connection, daemon, std::move(socket)).detach();
        }
        accept_next(acceptor, daemon, is_tcp);
      });
}

}  // namespace

int serve(const ServeOptions& options) {
  std::vector<std::string> hosts = options.hosts;
  if (hosts.empty()) hosts.push_back(kDefaultHost);
  std::vector<HostAddress> addresses;
  for (const std::string& host : hosts) {
    addresses.push_back(parse_host(host));
    if (addresses.back().tcp) check_tcp(addresses.back(), host, options.insecure_tcp);
  }
  auto daemon = std::make_shared<Daemon>(options.root);
  // Never destroyed: a connection thread may still hold its socket, which belongs to this
  // context, when serve() returns and the process exits.
  asio::io_context& io = *new asio::io_context;
  // SIGINT and SIGTERM end the loop below; asio turns the signal into an event on this thread.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::vector<std::unique_ptr<generic_acceptor>> acceptors;
  std::vector<std::string> paths;  // the unix sockets made, removed at the end
  auto remove_sockets = [&] {
    for (const std::string& path : paths) ::unlink(path.c_str());
  };
  try {
    for (const HostAddress& address : addresses) {
      acceptors.push_back(std::make_unique<generic_acceptor>(io));
      if (address.tcp) {
        listen_tcp(*acceptors.back(), address);
      } else {
        listen_on(*acceptors.back(), address.path);
        paths.push_back(address.path);
      }
    }
  } catch (...) {
    remove_sockets();  // a later -H failing leaves no socket of an earlier one behind
    throw;
  }
  // What crashed commands (or a daemon killed with SIGKILL) left that no record names: runtime
  // state, network endpoints and rules, empty cgroups. dockerd restores its containers at its
  // start the same way; a container that is still running is found as it is (live restore).
  for (const std::string& line : engine::recover(engine::paths_for(options.root, false)))
    fmt::print(stderr, "minidocker daemon: recovered {}\n", line);
  int stopped_by = 0;
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    stopped_by = signal;
    for (auto& acceptor : acceptors) acceptor->close();
    io.stop();
  });
  for (size_t i = 0; i < addresses.size(); ++i) {
    const HostAddress& address = addresses[i];
    std::string where =
        address.tcp ? fmt::format("tcp://127.0.0.1:{}", address.port) : "unix://" + address.path;
    fmt::print(stderr, "minidocker daemon: API {} on {} (engine root {})\n", kApiVersion, where,
               options.root);
    if (address.tcp)
      // dockerd's own warning begins with these words; recent dockerd goes further and refuses
      // such a listener unless told --tls=false, as this one refuses without --insecure-tcp.
      fmt::print(stderr,
                 "minidocker daemon: WARNING: API is accessible on http://127.0.0.1:{} without "
                 "encryption. Access to the remote API is equivalent to root access on the host: "
                 "any local user or process (a web page in a browser too) that can reach the "
                 "port can run a privileged container with the host's / mounted.\n",
                 address.port);
    accept_next(*acceptors[i], daemon, address.tcp);
  }
  io.run();
  remove_sockets();
  const char* removed = paths.size() > 1 ? "sockets removed" : "socket removed";
  fmt::print(stderr, "minidocker daemon: {}, {}\n", strsignal(stopped_by),
             paths.empty() ? "stopped" : removed);
  return 0;
}

}  // namespace api
