#include "uts.hpp"

#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>

#include "error.hpp"

namespace uts {

std::string validate_name(std::string_view name) {
  if (name.empty()) return "the name is empty; give at least one character";
  if (name.size() > kMaxNameBytes)
    return fmt::format("the name is {} bytes; the kernel allows at most {}", name.size(),
                       kMaxNameBytes);
  return "";
}

namespace {

// The body of a C string literal or a bash $'...' word: the two use the same escapes.
std::string escaped(std::string_view bytes, char quote_char) {
  std::string out;
  for (char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\' || c == quote_char) {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte >= 0x7f) {
      // Octal has at most three digits, so a digit that follows is not swallowed (as with \x).
      out += fmt::format("\\{:03o}", byte);
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string c_literal(std::string_view name) { return "\"" + escaped(name, '"') + "\""; }

std::string shell_word(std::string_view name) {
  bool plain = !name.empty();
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
      plain = false;
  }
  return plain ? std::string(name) : "$'" + escaped(name, '\'') + "'";
}

std::string hex(std::string_view bytes) {
  std::string out;
  for (char c : bytes) out += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return out;
}

namespace {
struct utsname uname_checked() {
  struct utsname u {};
  lab::check(::uname(&u), "uname()");
  return u;
}
}  // namespace

std::string current_hostname() { return uname_checked().nodename; }

std::string current_domainname() { return uname_checked().domainname; }

void set_hostname_in_child(const std::string& name) {
  lab::check(::sethostname(name.data(), name.size()),
             [&] { return fmt::format("sethostname({}, {})", c_literal(name), name.size()); });
}

void set_domainname_in_child(const std::string& name) {
  lab::check(::setdomainname(name.data(), name.size()),
             [&] { return fmt::format("setdomainname({}, {})", c_literal(name), name.size()); });
}

}  // namespace uts
