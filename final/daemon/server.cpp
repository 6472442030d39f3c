#include "daemon/server.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

// <utility> before Boost: 1.74's asio/awaitable.hpp uses std::exchange without including it,
// which GCC 12 in C++20 mode does not forgive.
#include <utility>
// (clang-format keeps this block apart)
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "daemon/router.hpp"
#include "daemon/routes.hpp"
#include "error.hpp"
#include "fd.hpp"

namespace api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using unix_socket = asio::local::stream_protocol;

std::string unix_socket_path(const std::string& host) {
  if (host.starts_with("unix://") && host.size() > 7 && host[7] == '/') return host.substr(7);
  if (host.starts_with("tcp://"))
    throw lab::UserError("tcp:// is not served yet: only unix:// sockets (" + host + ")");
  throw lab::UserError("invalid -H " + host + ": expected unix:///PATH");
}

namespace {

// What the connection threads share; kept alive by each of them (a shared_ptr), so a thread
// still answering when SIGTERM arrives never reads a destroyed router.
struct Daemon {
  explicit Daemon(std::string root) : engine{std::move(root)}, router(engine_routes(engine)) {}
  Engine engine;
  Router router;
  // One request at a time through the engine in this slice: the routes only read, but
  // engine::load may record a dead monitor's container as exited, and the jobs that write come
  // with the engine's own locks in the next slice.
  std::mutex engine_mutex;
  std::mutex log_mutex;
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
void listen_on(unix_socket::acceptor& acceptor, const std::string& path) {
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
  acceptor.open(unix_socket(), ec);
  if (!ec) acceptor.bind(unix_socket::endpoint(path), ec);
  ::umask(old_umask);
  if (ec) throw lab::UserError(fmt::format("bind(\"{}\"): {}", path, ec.message()));
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw lab::UserError(fmt::format("listen(\"{}\"): {}", path, ec.message()));
  gid_t gid = 0;
  if (const group* g = ::getgrnam("minidocker")) gid = g->gr_gid;
  lab::check(::chown(path.c_str(), 0, gid), fmt::format("chown(\"{}\", 0, {})", path, gid));
  lab::check(::chmod(path.c_str(), 0660), fmt::format("chmod(\"{}\", 0660)", path));
}

// One client connection: requests in turn (HTTP/1.1 keep-alive) until the client closes it.
void serve_connection(std::shared_ptr<Daemon> daemon, unix_socket::socket socket) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    boost::system::error_code ec;
    http::read(socket, buffer, parser, ec);
    if (ec) break;  // the client closed the connection, or sent what is not HTTP
    http::request<http::string_body> req = parser.release();
    auto start = std::chrono::steady_clock::now();
    Request request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    request.body = std::move(req.body());
    Response response;
    {
      std::lock_guard lock(daemon->engine_mutex);
      response = daemon->router.dispatch(request);
    }
    http::response<http::string_body> res;
    res.version(req.version());
    res.result(static_cast<unsigned>(response.status));
    res.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res.set(name, value);
    res.keep_alive(req.keep_alive());
    res.body() = request.method == "HEAD" ? "" : std::move(response.body);
    res.prepare_payload();
    http::write(socket, res, ec);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    {
      std::lock_guard lock(daemon->log_mutex);
      fmt::print(stderr, "{} {} {} {}ms\n", request.method, request.target, response.status, ms);
    }
    if (ec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  socket.shutdown(unix_socket::socket::shutdown_both, ignored);
}

void accept_next(unix_socket::acceptor& acceptor, const std::shared_ptr<Daemon>& daemon) {
  acceptor.async_accept(
      [&acceptor, daemon](boost::system::error_code ec, unix_socket::socket socket) {
        if (ec == asio::error::operation_aborted) return;  // closed: we are stopping
        if (!ec) std::thread(serve_connection, daemon, std::move(socket)).detach();
        accept_next(acceptor, daemon);
      });
}

}  // namespace

int serve(const ServeOptions& options) {
  std::string path = unix_socket_path(options.host);
  auto daemon = std::make_shared<Daemon>(options.root);
  // Never destroyed: a connection thread may still hold its socket, which belongs to this
  // context, when serve() returns and the process exits.
  asio::io_context& io = *new asio::io_context;
  // SIGINT and SIGTERM end the loop below; asio turns the signal into an event on this thread.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  unix_socket::acceptor acceptor(io);
  listen_on(acceptor, path);
  int stopped_by = 0;
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    stopped_by = signal;
    acceptor.close();
    io.stop();
  });
  fmt::print(stderr, "minidocker daemon: API {} on unix://{} (engine root {})\n", kApiVersion, path,
             options.root);
  accept_next(acceptor, daemon);
  io.run();
  ::unlink(path.c_str());
  fmt::print(stderr, "minidocker daemon: {}, socket removed\n", strsignal(stopped_by));
  return 0;
}

}  // namespace api
