// What the image and resource routes (routes_images.cpp, routes_resources.cpp) share beyond
// handlers.hpp: Docker's JSON message stream, the request body as a file descriptor, a query key
// given more than once, and Docker's status codes for the engine's errors.
//
// Docker's progress JSON (moby's pkg/jsonmessage): pull, push, build, load and import answer with
// a stream of JSON objects, one a line, each sent when it happens (one chunk of the chunked body):
//   {"status":"Pulling from lab/busybox","id":"v1"}                 a line about a tag or layer
//   {"status":"Downloading","progressDetail":{"current":1024,"total":4096},"id":"a3ed95caeb02"}
//   {"status":"Digest: sha256:..."}                                 a line about the whole image
//   {"stream":"Step 1/3 : FROM busybox\n"}                          build's output, as it comes
//   {"aux":{"ID":"sha256:..."}}                                     a result the client keeps
//   {"errorDetail":{"message":"..."},"error":"..."}                 the failure, and the end
// The status line (200) has gone before the work starts, so a failure can only be told inside
// the stream: the docker client prints its message and exits 1 (build: with errorDetail's code).
#pragma once

#include <csignal>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "client/engine.hpp"
#include "daemon/router.hpp"
#include "fd.hpp"

namespace api {

// Every value of a query key given more than once, in order ("names=a&names=b" for save, "t="
// for build's tags, "changes=" for commit); Request::query keeps only the last one.
std::vector<std::string> query_all(const Request& request, std::string_view key);

// A JSON object in a query value (build's buildargs and labels, the filters of a list or a
// prune); an empty value is {}. lab::UserError (400) names the key when it is not an object.
nlohmann::json query_json(const Request& request, const std::string& key);

// The values of one filter in a `filters` object, which clients send as {"key": ["value"]} or,
// as the docker client 20.10 does, {"key": {"value": true}}.
std::vector<std::string> filter_values(const nlohmann::json& filters, const std::string& key);

// Runs `job`, answering a lab::UserError whose message has one of `rules`' phrases with that
// phrase's status and the message (Docker's 409 for "conflict: ...", 403 for what is forbidden);
// any other error goes on to the router (400, or 404 for "No such ...").
Response with_statuses(const std::vector<std::pair<std::string, int>>& rules,
                       const std::function<Response()>& job);

// The client went away in the middle of a stream: the job stops where it is, and its own
// cleanup (staging files, a build's container) runs as the exception unwinds.
struct ClientGone : std::runtime_error {
  ClientGone() : std::runtime_error("the client closed the connection") {}
};

class JsonMessages {
 public:
  explicit JsonMessages(Connection& connection) : connection_(connection) {}
  // One message and its "\r\n" (as dockerd ends each), as one chunk; throws ClientGone. The
  // keys keep the order they are given in: dockerd's (status, progressDetail, id; errorDetail,
  // error), which is what a student reading curl's output compares with.
  void send(const nlohmann::ordered_json& message);
  void status(const std::string& id, const std::string& text);
  void stream(const std::string& text) { send({{"stream", text}}); }
  // The last message: `code` (build's exit code for the client) only when not 0.
  void error(const std::string& message, int code = 0);

 private:
  Connection& connection_;
};

// Pull's and push's events (client::TransferEvents) as Docker's progress messages; a layer's
// bytes at most a hundred times (and at least every MiB) per layer.
class JsonTransferEvents final : public client::TransferEvents {
 public:
  explicit JsonTransferEvents(JsonMessages& messages) : messages_(messages) {}
  void status(const std::string& id, const std::string& text) override;
  registry::Progress progress(const std::string& id, const std::string& verb) override;

 private:
  JsonMessages& messages_;
};

// An std::ostream's bytes (build's output) as {"stream": ...} messages: one per flush (the
// builder flushes each line, and each piece of a RUN's output as it is read), or per 64 KiB.
class JsonStreamBuf final : public std::streambuf {
 public:
  explicit JsonStreamBuf(JsonMessages& messages) : messages_(messages) {}

 protected:
  int_type overflow(int_type c) override;
  std::streamsize xsputn(const char* data, std::streamsize n) override;
  int sync() override;

 private:
  void send_if_full();
  JsonMessages& messages_;
  std::string pending_;
};

// SIGPIPE blocked in this thread while it lives: a write to a socket or pipe whose reader has
// gone then fails with EPIPE instead of ending the daemon. A SIGPIPE that came meanwhile is
// taken off the thread before the old mask returns.
class SigpipeBlocked {
 public:
  SigpipeBlocked();
  ~SigpipeBlocked();
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t old_{};
};

// The request's body as a file descriptor, for the jobs that read one (load and import read an
// archive from an fd to its end): a pipe, filled by a thread of its own while the job reads.
// The body is not copied. If the job stops reading early, closing the read end ends the writer
// with EPIPE.
class BodyPipe {
 public:
  explicit BodyPipe(std::string_view body);
  ~BodyPipe();
  BodyPipe(const BodyPipe&) = delete;
  BodyPipe& operator=(const BodyPipe&) = delete;
  int fd() const { return read_end_.get(); }

 private:
  lab::UniqueFd read_end_;
  std::thread writer_;
};

}  // namespace api
