// Our own CLI as a client of the daemon (`minidocker -H unix:///PATH VERB ...`, or
// tcp://HOST:PORT): HTTP/1.1 over the unix socket or the TCP connection, as Docker's CLI talks
// to dockerd. Boost.Beast does the HTTP in
// http_client.cpp alone (its headers are heavy to compile); callers see strings and a file
// descriptor.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "daemon/server.hpp"
#include "error.hpp"
#include "fd.hpp"

namespace api {

// No daemon answers at -H's socket: Docker's CLI prints this line alone (no "Error: "), exit 1.
class DaemonUnreachable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ClientReply {
  int status = 0;
  std::string reason;  // "Created", "No Content": the status line's words
  std::string body;
  std::map<std::string, std::string> headers;  // by their lower-case names
};

// A connection handed over to the caller (attach, exec start): after "101 UPGRADED" the socket
// carries the container's streams. `buffered` is what was read past the response's head
// (the first output may come in the same read as the head). A status other than 101 is the
// daemon's refusal, its body in `body`, `fd` closed.
struct Hijacked {
  int status = 0;
  std::string reason, body;
  lab::UniqueFd fd;
  std::string buffered;
};

// A response whose body comes later and in pieces (wait, logs -f, pull's progress): the head
// is read when it is made, the body by next().
class ResponseStream {
 public:
  ResponseStream(ResponseStream&&) noexcept;
  ~ResponseStream();
  int status() const;
  const std::string& reason() const;
  // The response's headers, by their lower-case names.
  std::map<std::string, std::string> headers() const;
  // The next piece of the body (a chunk, or what one read gave), "" at its end.
  std::string next();
  // The rest of the body, to its end.
  std::string rest();

 private:
  friend class DaemonClient;
  struct State;
  explicit ResponseStream(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class DaemonClient {
 public:
  // `host` is -H's value ("unix:///run/minidocker.sock", "tcp://127.0.0.1:2375"); with `explain`,
  // each request line and the status line it got are printed on stderr: "[client] POST
  // /v1.41/containers/create -> 201 Created".
  DaemonClient(std::string host, bool explain);

  // One request on its own connection, the whole response read (a chunked one to its end).
  // `target` is Docker's path without the version ("/containers/json?all=1"); a `body` goes as
  // JSON. The connection failing is DaemonUnreachable "Cannot connect to the minidocker daemon
  // at unix://PATH. Is the daemon running?", in Docker's words.
  // `content_type` names what `body` is when it is not JSON (a tar: "application/x-tar"). A HEAD
  // is answered by its head alone.
  ClientReply call(std::string_view method, const std::string& target, const std::string& body = {},
                   const std::string& content_type = {});
  // call(), then a status of 400 or more is the daemon's refusal: lab::UserError with its
  // "message", which our in-process verbs print as they print their own ("Error: ...").
  ClientReply checked(std::string_view method, const std::string& target,
                      const std::string& body = {});
  // The request sent and the response's head read; its body is read as it comes.
  ResponseStream open(std::string_view method, const std::string& target,
                      const std::string& body = {}, const std::string& content_type = {});
  // The request with a body read from `fd` to its end (an archive: load's, import's, build's
  // context), sent as it is read, with a Content-Length when `fd` is a regular file, else in
  // chunks (stdin, a pipe); then the response's head is read. `sent`, if set, is told the bytes
  // sent so far (load's progress bar).
  ResponseStream upload(std::string_view method, const std::string& target,
                        std::string_view content_type, int fd,
                        const std::function<void(uint64_t)>& sent = {});
  // The request sent with "Connection: Upgrade, Upgrade: tcp", as Docker's CLI sends attach and
  // exec start; the head read; the socket handed over.
  Hijacked hijack(const std::string& target, const std::string& body = {});

 private:
  // The response's head read on a connection whose request has gone out; `write_error` is
  // why its body could not all be sent ("" when it was).
  ResponseStream read_head(std::unique_ptr<ResponseStream::State> state, std::string_view method,
                           const std::string& target, const std::string& write_error);
  std::string host_;
  HostAddress address_;
  bool explain_;
};

// A status of 400 or more: lab::UserError with the daemon's "message" (Docker's error body).
void throw_if_refused(int status, const std::string& reason, const std::string& body);
inline void throw_if_refused(const ClientReply& reply) {
  throw_if_refused(reply.status, reply.reason, reply.body);
}

// A job's failure told at the end of a message stream ({"errorDetail": {"code": 3, "message":
// ...}, "error": ...}): the message, and the code dockerd puts there (a build's failing RUN's exit
// code; 0 when it gave none).
class StreamedError : public lab::UserError {
 public:
  StreamedError(const std::string& message, int code_) : lab::UserError(message), code(code_) {}
  int code;
};

// Docker's JSON messages, one a line (pull's and push's progress, build's output, load's and
// import's answers), handed to `each` as they come; an error message ends them as StreamedError.
// A status of 400 or more (the job refused before it began) is throw_if_refused's.
void read_messages(ResponseStream& stream, const std::function<void(const nlohmann::json&)>& each);

// A query value as a URL carries it ("lab/busybox:v1" -> "lab%2Fbusybox%3Av1").
std::string url_escape(std::string_view text);

}  // namespace api
