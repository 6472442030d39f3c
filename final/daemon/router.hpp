// The daemon's router: an HTTP method and a URL path to a handler, as gorilla/mux is in dockerd
// (the notes' "router"). A plain table a student can read, with no HTTP library in sight: the
// server (server.cpp) turns the wire into a Request and a Response back into the wire; the
// handlers (routes.cpp) call the same engine functions the CLI calls.
//
// Patterns are Docker's: "/containers/{id}/json" ({id} is one path segment); "{name*}" takes the
// rest up to the next literal segments, as Docker's "{name:.*}" (image names have slashes:
// "localhost:5000/app"). Every route is served with and without a version prefix ("/v1.41/...").
// (The namespace is `api`, the Docker Engine API: `daemon` is taken by daemon(3) in <unistd.h>.)
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace api {

inline constexpr const char* kApiVersion = "1.41";     // the Docker Engine API we speak
inline constexpr const char* kMinApiVersion = "1.12";  // the oldest a client may ask for

struct Request {
  std::string method;  // "GET", "HEAD", ...
  std::string target;  // as sent: "/v1.41/containers/json?all=1"
  std::string path;    // decoded, without the version prefix and the query: "/containers/json"
  std::map<std::string, std::string> query;   // decoded: {"all": "1"}
  std::map<std::string, std::string> params;  // from the pattern: {"id": "web"}
  std::string body;
};

// The client's connection, handed to a response that streams (logs -f, wait, pull's progress)
// or takes the connection over (attach and exec start: the docker client's "hijack").
class Connection {
 public:
  virtual ~Connection() = default;
  // Sends bytes (as one chunk when the response is chunked); false once the client has gone.
  virtual bool write(std::string_view data) = 0;
  // The socket itself, for a handler that polls it (attach's stdin); the bytes the server had
  // already read past the request come first, from take_buffered().
  virtual int fd() const = 0;
  virtual std::string take_buffered() = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::map<std::string, std::string> headers;  // beyond Content-Type and Content-Length
  std::string body;
  // Set by a handler whose answer is written as it happens. The server sends the status line
  // and the headers, then runs `stream` with the connection (on the request's own thread, as
  // the handler ran), and closes the connection when it returns. Status 101 is Docker's "101
  // UPGRADED" (with "Connection: Upgrade" and "Upgrade: tcp"); with `raw` or 101 the bytes go as
  // they are, otherwise each write is one chunk of "Transfer-Encoding: chunked".
  std::function<void(Connection&)> stream;
  bool raw = false;
};

using Handler = std::function<Response(const Request&)>;

struct Route {
  std::string method;
  std::string pattern;
  Handler handler;
};

// Docker's error body: {"message": "..."}.
Response error_response(int status, const std::string& message);

// ---- pure logic ------------------------------------------------------------------------------

// "%2F" -> "/", "+" stays "+" in a path (in a query value it is a space). nullopt for a bad
// escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);
// "all=1&limit=3" -> {"all": "1", "limit": "3"}; a key without "=" gets "".
std::map<std::string, std::string> parse_query(std::string_view query);
// "/v1.41/containers/json" -> "/containers/json"; a path without a version prefix is unchanged.
std::string strip_version(std::string_view path);
// Matches a decoded path against a pattern; the parameters on success.
std::optional<std::map<std::string, std::string>> match(std::string_view pattern,
                                                        std::string_view path);
// "1.9" < "1.41": API versions compared number by number.
bool version_less(std::string_view a, std::string_view b);
// Docker's query booleans: "1", "true", "True" are true; "", "0", "false" are false.
bool query_bool(const Request& request, const std::string& key);

class Router {
 public:
  explicit Router(std::vector<Route> routes) : routes_(std::move(routes)) {}
  // Parses the target into request.path and request.query, finds the route and runs it:
  // 404 {"message": "page not found"} when no pattern matches the path, 405 when one does but
  // for other methods. A handler's lab::UserError is answered with its message: 404 when it
  // says "No such ...", 400 otherwise; any other exception is a 500.
  Response dispatch(Request request) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace api
