#include "uts.hpp"

#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

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
             [&] { return fmt::format("sethostname({}, {})", lab::quote(name), name.size()); });
}

void set_domainname_in_child(const std::string& name) {
  lab::check(::setdomainname(name.data(), name.size()),
             [&] { return fmt::format("setdomainname({}, {})", lab::quote(name), name.size()); });
}

}  // namespace uts
