// Docker's json-file log driver, one entry per line (pure, header-only: the monitor links
// nothing but libc and libstdc++, to stay small):
//   {"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}
// A line is cut at '\n' (kept in "log"), or at 16 KiB, or where the stream ends.
#pragma once

#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

namespace monitor {

// JSON string escaping as Go's encoding/json does it (<, > and & escaped too, as Docker's logs).
inline std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

// Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped.
inline std::string rfc3339_nano(const timespec& ts) {
  std::tm tm{};
  gmtime_r(&ts.tv_sec, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = date;
  if (ts.tv_nsec > 0) {
    char frac[32];
    std::snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

inline std::string rfc3339_nano_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return rfc3339_nano(ts);
}

inline std::string log_entry(std::string_view text, std::string_view stream,
                             std::string_view time) {
  return "{\"log\":\"" + json_escape(text) + "\",\"stream\":\"" + std::string(stream) +
         "\",\"time\":\"" + std::string(time) + "\"}\n";
}

// Cuts `buffer` into entries: every complete line, and (when `flush` or the rest exceeds 16 KiB)
// what is left. Returns the entries' text; `buffer` keeps the unfinished line.
inline std::string take_entries(std::string& buffer, std::string_view stream, std::string_view time,
                                bool flush) {
  std::string out;
  size_t start = 0;
  for (;;) {
    size_t nl = buffer.find('\n', start);
    if (nl == std::string::npos) break;
    out += log_entry(std::string_view(buffer).substr(start, nl + 1 - start), stream, time);
    start = nl + 1;
  }
  buffer.erase(0, start);
  if (!buffer.empty() && (flush || buffer.size() >= 16384)) {
    out += log_entry(buffer, stream, time);
    buffer.clear();
  }
  return out;
}

}  // namespace monitor
