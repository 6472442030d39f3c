#include "engine/dockerfile.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "error.hpp"

namespace engine::dockerfile {

using nlohmann::json;

namespace {

const std::set<std::string> kKeywords = {
    "FROM",    "RUN", "CMD",     "LABEL",      "MAINTAINER",  "EXPOSE",
    "ENV",     "ADD", "COPY",    "ENTRYPOINT", "VOLUME",      "USER",
    "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"};
// The instructions whose argument may be a JSON array.
const std::set<std::string> kJsonForm = {"RUN", "CMD",    "ENTRYPOINT", "COPY",
                                         "ADD", "VOLUME", "SHELL"};
const std::set<std::string> kConfigOnly = {"CMD",   "ENTRYPOINT", "ENV",    "WORKDIR",   "USER",
                                           "LABEL", "EXPOSE",     "VOLUME", "STOPSIGNAL"};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string trim_left(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  return std::string(s.substr(i));
}

std::string trim(std::string_view s) {
  std::string t = trim_left(s);
  while (!t.empty() && is_space(t.back())) t.pop_back();
  return t;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// A JSON array of strings, or nullopt (then the text is the shell form, as Docker falls back).
std::optional<std::vector<std::string>> json_array(const std::string& text) {
  if (!text.starts_with("[")) return std::nullopt;
  json parsed = json::parse(text, nullptr, false);
  if (!parsed.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& item : parsed) {
    if (!item.is_string()) return std::nullopt;
    out.push_back(item.get<std::string>());
  }
  return out;
}

// The shell lexer Docker's builder uses for words (moby's shell.Lex): quotes removed, the escape
// character taking the next one literally, variables expanded outside single quotes. `split`:
// whitespace separates words; otherwise it is kept and one word comes back.
class Lexer {
 public:
  Lexer(std::string_view s, const Lookup& lookup, char escape)
      : s_(s), lookup_(lookup), escape_(escape) {}

  std::vector<std::string> run(bool split) {
    std::vector<std::string> out;
    std::string cur;
    bool have = false;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (split && is_space(c)) {
        if (have) out.push_back(std::exchange(cur, {}));
        have = false;
        ++i_;
        continue;
      }
      have = true;
      if (c == escape_) {
        if (i_ + 1 < s_.size()) {
          cur += s_[i_ + 1];
          i_ += 2;
        } else {
          cur += c;
          ++i_;
        }
      } else if (c == '\'') {
        size_t end = s_.find('\'', i_ + 1);
        if (end == std::string_view::npos)
          throw lab::UserError(
              "unexpected end of statement while looking for matching single-quote");
        cur += s_.substr(i_ + 1, end - i_ - 1);
        i_ = end + 1;
      } else if (c == '"') {
        ++i_;
        for (;;) {
          if (i_ >= s_.size())
            throw lab::UserError(
                "unexpected end of statement while looking for matching double-quote");
          char d = s_[i_];
          if (d == '"') break;
          if (d == escape_ && i_ + 1 < s_.size() &&
              (s_[i_ + 1] == '"' || s_[i_ + 1] == '$' || s_[i_ + 1] == escape_)) {
            cur += s_[i_ + 1];
            i_ += 2;
          } else if (d == '$') {
            cur += variable();
          } else {
            cur += d;
            ++i_;
          }
        }
        ++i_;
      } else if (c == '$') {
        cur += variable();
      } else {
        cur += c;
        ++i_;
      }
    }
    if (have || !split) out.push_back(cur);
    return out;
  }

 private:
  // At a '$': the variable's value (or the '$' itself when no name follows or nothing expands).
  std::string variable() {
    if (!lookup_) {
      ++i_;
      return "$";
    }
    if (i_ + 1 < s_.size() && s_[i_ + 1] == '{') {
      size_t start = i_ + 2, j = start;
      while (j < s_.size() && name_char(s_[j])) ++j;
      std::string name(s_.substr(start, j - start));
      size_t close = s_.find('}', j);
      if (close == std::string_view::npos || name.empty())
        throw lab::UserError(fmt::format("missing '}}' or bad substitution in {}", s_));
      std::optional<std::string> value = lookup_(name);
      std::string_view rest = s_.substr(j, close - j);
      i_ = close + 1;
      if (rest.empty()) return value.value_or("");
      if (rest.starts_with(":-") || rest.starts_with(":+")) {
        std::string word = Lexer(rest.substr(2), lookup_, escape_).run(false).front();
        bool set = value && !value->empty();
        if (rest[1] == '-') return set ? *value : word;
        return set ? word : "";
      }
      throw lab::UserError(fmt::format("unsupported modifier ({}) in substitution", rest));
    }
    size_t j = i_ + 1;
    while (j < s_.size() && name_char(s_[j])) ++j;
    if (j == i_ + 1) {
      ++i_;
      return "$";
    }
    std::string name(s_.substr(i_ + 1, j - i_ - 1));
    i_ = j;
    return lookup_(name).value_or("");
  }

  std::string_view s_;
  const Lookup& lookup_;
  char escape_;
  size_t i_ = 0;
};

Instruction make_instruction(const std::string& logical, int line) {
  Instruction in;
  in.line = line;
  in.original = trim(logical);
  size_t end = 0;
  while (end < in.original.size() && !is_space(in.original[end])) ++end;
  std::string word = in.original.substr(0, end);
  in.keyword = upper(word);
  if (!kKeywords.contains(in.keyword))
    throw lab::UserError(
        fmt::format("Dockerfile parse error line {}: unknown instruction: {}", line, word));
  std::string rest = trim_left(std::string_view(in.original).substr(end));
  if (in.keyword == "COPY" || in.keyword == "ADD") {
    while (rest.starts_with("--")) {
      size_t stop = 0;
      while (stop < rest.size() && !is_space(rest[stop])) ++stop;
      std::string flag = rest.substr(2, stop - 2);
      size_t eq = flag.find('=');
      std::string name = flag.substr(0, eq);
      if (name == "from")
        throw lab::UserError(fmt::format(
            "Dockerfile parse error line {}: COPY --from (multi-stage builds) is not supported "
            "by this build",
            line));
      if (name != "chown")
        throw lab::UserError(
            fmt::format("Dockerfile parse error line {}: Unknown flag: {}", line, name));
      if (eq == std::string::npos)
        throw lab::UserError(
            fmt::format("Dockerfile parse error line {}: missing a value on flag: {}", line, name));
      in.flags[name] = flag.substr(eq + 1);
      rest = trim_left(std::string_view(rest).substr(stop));
    }
  }
  in.arguments = trim(rest);
  if (in.arguments.empty())
    throw lab::UserError(
        fmt::format("Dockerfile parse error line {}: {} requires at least one "
                    "argument",
                    line, in.keyword));
  if (kJsonForm.contains(in.keyword)) in.json_args = json_array(in.arguments);
  if (in.keyword == "RUN" && in.arguments.starts_with("<<"))
    throw lab::UserError(fmt::format(
        "Dockerfile parse error line {}: heredocs are not supported by this build", line));
  return in;
}

// Docker's %q of a []string: ["/bin/sh" "-c" "echo hi"].
std::string go_quoted(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? " " : "") + json(items[i]).dump();
  return out + "]";
}

std::vector<std::string> command_of(const Instruction& in) {
  return in.json_args ? *in.json_args : shell_form(in.arguments);
}

}  // namespace

std::vector<std::string> shell_form(const std::string& text) { return {"/bin/sh", "-c", text}; }

bool is_config_only(std::string_view keyword) { return kConfigOnly.contains(std::string(keyword)); }

std::vector<Instruction> parse(std::string_view text) {
  char escape = '\\';
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    std::string line(text.substr(start, nl == std::string_view::npos ? nl : nl - start));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  // Parser directives: "# key=value" lines before anything else.
  size_t first = 0;
  for (; first < lines.size(); ++first) {
    std::string t = trim(lines[first]);
    if (!t.starts_with("#")) break;
    std::string body = trim(std::string_view(t).substr(1));
    size_t eq = body.find('=');
    if (eq == std::string::npos) break;
    std::string key = upper(trim(body.substr(0, eq)));
    std::string value = trim(body.substr(eq + 1));
    if (key == "ESCAPE") {
      if (value != "\\" && value != "`")
        throw lab::UserError(fmt::format("invalid ESCAPE '{}'. Must be ` or \\", value));
      escape = value[0];
    } else if (key != "SYNTAX") {
      break;
    }
  }

  std::vector<Instruction> out;
  std::string logical;
  int logical_line = 0;
  for (size_t i = first; i < lines.size(); ++i) {
    std::string t = trim(lines[i]);
    if (t.starts_with("#")) continue;            // a comment, also inside a continuation
    if (t.empty() && logical.empty()) continue;  // an empty line (inside one: dropped)
    if (t.empty()) continue;
    if (logical.empty()) logical_line = static_cast<int>(i) + 1;
    std::string line = lines[i];
    while (!line.empty() && is_space(line.back())) line.pop_back();
    if (!line.empty() && line.back() == escape) {
      line.pop_back();
      logical += line;
      continue;
    }
    logical += line;
    out.push_back(make_instruction(logical, logical_line));
    logical.clear();
  }
  if (!trim(logical).empty()) out.push_back(make_instruction(logical, logical_line));
  if (out.empty()) throw lab::UserError("file with no instructions");
  return out;
}

Instruction parse_line(std::string_view text) {
  if (trim(text).empty()) throw lab::UserError("file with no instructions");
  return make_instruction(std::string(text), 1);
}

std::string expand(std::string_view word, const Lookup& lookup, char escape) {
  return Lexer(word, lookup, escape).run(false).front();
}

std::vector<std::string> words(std::string_view arguments, const Lookup& lookup, char escape) {
  return Lexer(arguments, lookup, escape).run(true);
}

std::vector<std::pair<std::string, std::optional<std::string>>> key_values(
    std::string_view arguments, const Lookup& lookup, char escape) {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  std::string text = trim(arguments);
  size_t first_end = 0;
  while (first_end < text.size() && !is_space(text[first_end])) ++first_end;
  if (text.substr(0, first_end).find('=') == std::string::npos && first_end < text.size()) {
    // The legacy form: "KEY value with spaces".
    std::string value = expand(trim_left(std::string_view(text).substr(first_end)), lookup, escape);
    out.emplace_back(text.substr(0, first_end), value);
    return out;
  }
  for (const std::string& w : words(text, lookup, escape)) {
    size_t eq = w.find('=');
    if (eq == std::string::npos) {
      out.emplace_back(w, std::nullopt);
    } else {
      out.emplace_back(w.substr(0, eq), w.substr(eq + 1));
    }
  }
  return out;
}

std::optional<std::string> env_value(const json& env, const std::string& key) {
  if (!env.is_array()) return std::nullopt;
  for (const auto& item : env) {
    if (!item.is_string()) continue;
    std::string s = item.get<std::string>();
    if (s.starts_with(key + "=")) return s.substr(key.size() + 1);
  }
  return std::nullopt;
}

void set_env(json& env, const std::string& key, const std::string& value) {
  if (!env.is_array()) env = json::array();
  for (auto& item : env) {
    if (item.is_string() && item.get<std::string>().starts_with(key + "=")) {
      item = key + "=" + value;
      return;
    }
  }
  env.push_back(key + "=" + value);
}

std::string apply_config(const Instruction& in, json& config, ConfigState& state,
                         const Lookup& lookup) {
  const std::string nop = "/bin/sh -c #(nop)  ";
  const std::string& k = in.keyword;
  if (!config.is_object()) config = json::object();
  if (k == "CMD") {
    std::vector<std::string> cmd = command_of(in);
    config["Cmd"] = cmd;
    state.cmd_set = true;
    return nop + "CMD " + go_quoted(cmd);
  }
  if (k == "ENTRYPOINT") {
    std::vector<std::string> entrypoint = command_of(in);
    config["Entrypoint"] = entrypoint;
    if (!state.cmd_set) config["Cmd"] = nullptr;
    return nop + "ENTRYPOINT " + go_quoted(entrypoint);
  }
  if (k == "ENV" || k == "LABEL") {
    std::string text = k;
    for (auto& [key, value] : key_values(in.arguments, lookup)) {
      if (key.empty()) throw lab::UserError(fmt::format("{} names can not be blank", k));
      if (!value) throw lab::UserError(fmt::format("{} must have two arguments", k));
      text += " " + key + "=" + *value;
      if (k == "ENV") {
        set_env(config["Env"], key, *value);
      } else {
        if (!config["Labels"].is_object()) config["Labels"] = json::object();
        config["Labels"][key] = *value;
      }
    }
    return nop + text;
  }
  if (k == "WORKDIR") {
    std::string dir = expand(in.arguments, lookup);
    std::filesystem::path path(dir);
    if (path.is_relative())
      path = std::filesystem::path(config.value("WorkingDir", "").empty()
                                       ? "/"
                                       : config["WorkingDir"].get<std::string>()) /
             path;
    std::string clean = path.lexically_normal().string();
    while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
    config["WorkingDir"] = clean;
    return "/bin/sh -c #(nop) WORKDIR " + clean;
  }
  if (k == "USER") {
    std::string user = expand(in.arguments, lookup);
    config["User"] = user;
    return nop + "USER " + user;
  }
  if (k == "EXPOSE") {
    std::string text = "EXPOSE";
    if (!config["ExposedPorts"].is_object()) config["ExposedPorts"] = json::object();
    for (const std::string& w : words(in.arguments, lookup)) {
      std::string port = w, proto = "tcp";
      if (size_t slash = w.find('/'); slash != std::string::npos) {
        port = w.substr(0, slash);
        proto = w.substr(slash + 1);
        for (char& c : proto) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      if (proto != "tcp" && proto != "udp" && proto != "sctp")
        throw lab::UserError(fmt::format("invalid proto: {}", proto));
      size_t dash = port.find('-');
      std::string lo = port.substr(0, dash),
                  hi = dash == std::string::npos ? lo : port.substr(dash + 1);
      auto number = [&](const std::string& s) {
        if (s.empty() || s.size() > 5 ||
            !std::all_of(s.begin(), s.end(),
                         [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
            std::stoi(s) > 65535)
          throw lab::UserError(fmt::format("invalid containerPort: {}", w));
        return std::stoi(s);
      };
      int from = number(lo), to = number(hi);
      if (to < from) throw lab::UserError(fmt::format("invalid containerPort: {}", w));
      for (int p = from; p <= to; ++p) {
        std::string key = fmt::format("{}/{}", p, proto);
        config["ExposedPorts"][key] = json::object();
        text += " " + key;
      }
    }
    return nop + text;
  }
  if (k == "VOLUME") {
    std::vector<std::string> paths = in.json_args ? *in.json_args : words(in.arguments, lookup);
    if (!config["Volumes"].is_object()) config["Volumes"] = json::object();
    std::string text;
    for (std::string path : paths) {
      if (in.json_args) path = expand(path, lookup);
      if (trim(path).empty()) throw lab::UserError("VOLUME specified can not be an empty string");
      config["Volumes"][path] = json::object();
      text += (text.empty() ? "" : " ") + path;
    }
    return nop + "VOLUME [" + text + "]";
  }
  if (k == "STOPSIGNAL") {
    std::string signal = expand(in.arguments, lookup);
    config["StopSignal"] = signal;
    return nop + "STOPSIGNAL " + signal;
  }
  throw lab::UserError(
      fmt::format("{} is not a change this command can make (CMD, ENTRYPOINT, "
                  "ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)",
                  k));
}

}  // namespace engine::dockerfile
