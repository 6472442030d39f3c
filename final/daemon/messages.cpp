#include "daemon/messages.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "error.hpp"

namespace api {

using json = nlohmann::json;

std::vector<std::string> query_all(const Request& request, std::string_view key) {
  std::vector<std::string> out;
  std::string_view target = request.target;
  size_t question = target.find('?');
  if (question == std::string_view::npos) return out;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    size_t eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), true);
    if (!name || *name != key) continue;
    auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (value) out.push_back(*value);
  }
  return out;
}

json query_json(const Request& request, const std::string& key) {
  auto it = request.query.find(key);
  if (it == request.query.end() || it->second.empty()) return json::object();
  json value = json::parse(it->second, nullptr, false);
  if (value.is_null()) return json::object();
  if (!value.is_object())
    throw lab::UserError(fmt::format("invalid {}: not a JSON object: {}", key, it->second));
  return value;
}

std::vector<std::string> filter_values(const json& filters, const std::string& key) {
  std::vector<std::string> out;
  if (!filters.is_object() || !filters.contains(key)) return out;
  const json& values = filters[key];
  if (values.is_array()) {
    for (const json& v : values) out.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  } else if (values.is_object()) {
    for (const auto& [v, on] : values.items())
      if (on == true) out.push_back(v);
  }
  return out;
}

Response with_statuses(const std::vector<std::pair<std::string, int>>& rules,
                       const std::function<Response()>& job) {
  try {
    return job();
  } catch (const lab::UserError& e) {
    std::string message = e.what();
    for (const auto& [phrase, status] : rules)
      if (message.find(phrase) != std::string::npos) return error_response(status, message);
    throw;
  }
}

// ---- the message stream ----------------------------------------------------------------------

void JsonMessages::send(const nlohmann::ordered_json& message) {
  // Bytes that are not UTF-8 (a RUN's output may hold anything) become U+FFFD rather than make
  // dump() throw.
  std::string line =
      message.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\r\n";
  if (!connection_.write(line)) throw ClientGone();
}

void JsonMessages::status(const std::string& id, const std::string& text) {
  nlohmann::ordered_json message = {{"status", text}};
  if (!id.empty()) {
    message["progressDetail"] = nlohmann::ordered_json::object();
    message["id"] = id;
  }
  send(message);
}

void JsonMessages::error(const std::string& message, int code) {
  nlohmann::ordered_json detail;
  if (code != 0) detail["code"] = code;
  detail["message"] = message;
  send({{"errorDetail", detail}, {"error", message}});
}

void JsonTransferEvents::status(const std::string& id, const std::string& text) {
  messages_.status(id, text);
}

registry::Progress JsonTransferEvents::progress(const std::string& id, const std::string& verb) {
  uint64_t last = 0;
  bool sent = false;
  return [this, id, verb, last, sent](uint64_t done, uint64_t total) mutable {
    uint64_t step =
        std::min<uint64_t>(total > 0 ? std::max<uint64_t>(total / 100, 1) : 1 << 20, 1 << 20);
    if (sent && done < last + step && done != total) return;
    sent = true;
    last = done;
    nlohmann::ordered_json detail = {{"current", done}};
    if (total > 0) detail["total"] = total;
    messages_.send({{"status", verb}, {"progressDetail", detail}, {"id", id}});
  };
}

// ---- build's output --------------------------------------------------------------------------

JsonStreamBuf::int_type JsonStreamBuf::overflow(int_type c) {
  if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
  pending_ += traits_type::to_char_type(c);
  send_if_full();
  return c;
}

std::streamsize JsonStreamBuf::xsputn(const char* data, std::streamsize n) {
  pending_.append(data, static_cast<size_t>(n));
  send_if_full();
  return n;
}

int JsonStreamBuf::sync() {
  if (!pending_.empty()) messages_.stream(std::exchange(pending_, {}));
  return 0;
}

void JsonStreamBuf::send_if_full() {
  if (pending_.size() >= 64 * 1024) sync();
}

// ---- signals and the body --------------------------------------------------------------------

SigpipeBlocked::SigpipeBlocked() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &set, &old_);
}

SigpipeBlocked::~SigpipeBlocked() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  timespec zero{0, 0};
  while (::sigtimedwait(&set, nullptr, &zero) == SIGPIPE) {
  }
  ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

BodyPipe::BodyPipe(std::string_view body) {
  int fds[2];
  lab::check(::pipe2(fds, O_CLOEXEC), "pipe2(O_CLOEXEC)");
  read_end_.reset(fds[0]);
  writer_ = std::thread([body, fd = lab::UniqueFd(fds[1])] {
    SigpipeBlocked blocked;
    for (size_t off = 0; off < body.size();) {
      ssize_t n = ::write(fd.get(), body.data() + off, body.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return;  // EPIPE: the job stopped reading
      off += static_cast<size_t>(n);
    }
  });
}

BodyPipe::~BodyPipe() {
  read_end_.reset();
  writer_.join();
}

}  // namespace api
