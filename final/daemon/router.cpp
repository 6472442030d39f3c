#include "daemon/router.hpp"

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "daemon/server.hpp"
#include "error.hpp"

namespace api {

// Declared in server.hpp; here, without Boost, for the client (http_client.cpp) too.
HostAddress parse_host(const std::string& host) {
  HostAddress a;
  if (host.starts_with("unix://") && host.size() > 7 && host[7] == '/') {
    a.path = host.substr(7);
    return a;
  }
  if (host.starts_with("tcp://")) {
    // tcp://HOST[:PORT][/]: a name or an IPv4 address; Docker's default port when none.
    std::string rest = host.substr(6);
    if (rest.ends_with("/")) rest.pop_back();
    size_t colon = rest.rfind(':');
    a.tcp = true;
    a.host = rest.substr(0, colon);
    a.port = colon == std::string::npos ? kDefaultTcpPort : rest.substr(colon + 1);
    bool numeric = !a.port.empty() && a.port.size() <= 5 &&
                   a.port.find_first_not_of("0123456789") == std::string::npos &&
                   std::stoul(a.port) > 0 && std::stoul(a.port) <= 65535;
    if (a.host.empty() || a.host.find_first_of("/[]") != std::string::npos || !numeric)
      throw lab::UserError("invalid -H " + host + ": expected tcp://HOST:PORT");
    return a;
  }
  throw lab::UserError("invalid -H " + host + ": expected unix:///PATH or tcp://HOST:PORT");
}

Response error_response(int status, const std::string& message) {
  Response r;
  r.status = status;
  r.body = nlohmann::json{{"message", message}}.dump();
  return r;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (text[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (key && value) out[*key] = *value;
  }
  return out;
}

std::string strip_version(std::string_view path) {
  // "/v" digits "." digits, then "/": Docker's "/v{version:[0-9.]+}" prefix.
  if (!path.starts_with("/v")) return std::string(path);
  size_t end = path.find('/', 2);
  if (end == std::string_view::npos) return std::string(path);
  std::string_view version = path.substr(2, end - 2);
  bool dot = false;
  for (char c : version) {
    if (c == '.') {
      dot = true;
    } else if (c < '0' || c > '9') {
      return std::string(path);
    }
  }
  if (!dot || version.front() == '.' || version.back() == '.') return std::string(path);
  return std::string(path.substr(end));
}

namespace {

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') path.remove_prefix(1);
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  return out;
}

}  // namespace

std::optional<std::map<std::string, std::string>> match(std::string_view pattern,
                                                        std::string_view path) {
  if (!path.starts_with("/")) return std::nullopt;
  std::vector<std::string_view> want = segments(pattern), got = segments(path);
  std::map<std::string, std::string> params;
  size_t g = 0;
  for (size_t w = 0; w < want.size(); ++w) {
    std::string_view seg = want[w];
    if (seg.starts_with("{") && seg.ends_with("*}")) {
      // The rest but as many segments as the pattern still has after it (at least one).
      size_t after = want.size() - w - 1;
      if (got.size() < g + after + 1) return std::nullopt;
      size_t take = got.size() - g - after;
      std::string value;
      for (size_t i = 0; i < take; ++i) value += (i ? "/" : "") + std::string(got[g + i]);
      params[std::string(seg.substr(1, seg.size() - 3))] = value;
      g += take;
    } else if (seg.starts_with("{") && seg.ends_with("}")) {
      if (g >= got.size() || got[g].empty()) return std::nullopt;
      params[std::string(seg.substr(1, seg.size() - 2))] = std::string(got[g++]);
    } else {
      if (g >= got.size() || got[g] != seg) return std::nullopt;
      ++g;
    }
  }
  if (g != got.size()) return std::nullopt;
  return params;
}

bool version_less(std::string_view a, std::string_view b) {
  auto parts = [](std::string_view v) {
    std::vector<long> out;
    while (!v.empty()) {
      size_t dot = v.find('.');
      out.push_back(std::strtol(std::string(v.substr(0, dot)).c_str(), nullptr, 10));
      v = dot == std::string_view::npos ? std::string_view{} : v.substr(dot + 1);
    }
    return out;
  };
  return parts(a) < parts(b);
}

bool query_bool(const Request& request, const std::string& key) {
  auto it = request.query.find(key);
  if (it == request.query.end()) return false;
  const std::string& v = it->second;
  if (v == "1" || v == "true" || v == "True" || v == "TRUE") return true;
  if (v.empty() || v == "0" || v == "false" || v == "False" || v == "FALSE") return false;
  throw lab::UserError("invalid boolean value for " + key + ": " + v);
}

Response Router::dispatch(Request request) const {
  std::string_view target = request.target;
  size_t question = target.find('?');
  auto path = percent_decode(target.substr(0, question), false);
  if (!path) return error_response(400, "invalid URL escape in " + request.target);
  request.path = strip_version(*path);
  if (request.path != *path) {
    // "/v1.41/..." -> 1.41: Docker refuses a client newer than its API and one older than its
    // minimum, with these words.
    std::string version = path->substr(2, path->size() - request.path.size() - 2);
    if (version_less(kApiVersion, version))
      return error_response(400, "client version " + version +
                                     " is too new. Maximum supported API version is " +
                                     kApiVersion);
    if (version_less(version, kMinApiVersion))
      return error_response(400, "client version " + version +
                                     " is too old. Minimum supported API version is " +
                                     kMinApiVersion +
                                     ", please upgrade your client to a newer "
                                     "version");
  }
  request.query = question == std::string_view::npos ? std::map<std::string, std::string>{}
                                                     : parse_query(target.substr(question + 1));
  bool path_known = false;
  for (const Route& route : routes_) {
    auto params = match(route.pattern, request.path);
    if (!params) continue;
    path_known = true;
    if (route.method != request.method) continue;
    request.params = std::move(*params);
    try {
      return route.handler(request);
    } catch (const lab::UserError& e) {
      std::string message = e.what();
      return error_response(message.starts_with("No such ") ? 404 : 400, message);
    } catch (const nlohmann::json::exception& e) {
      // A body that is not JSON, or a field of the wrong type: the client's mistake, as Go's
      // decoder errors are for dockerd ("json: cannot unmarshal number into ...").
      return error_response(400, std::string("invalid JSON in the request: ") + e.what());
    } catch (const std::exception& e) {
      return error_response(500, e.what());
    }
  }
  if (path_known) return error_response(405, "method not allowed");
  return error_response(404, "page not found");
}

}  // namespace api
