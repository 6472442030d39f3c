// The UTS namespace: a hostname and NIS domain name of one's own.
//
// UTS stands for "UNIX Time-sharing System", the struct utsname that uname(2) fills in. Since
// Linux 2.6.19, the nodename and domainname fields belong to a UTS namespace: a process created
// with CLONE_NEWUTS (or after unshare(CLONE_NEWUTS)) starts with a copy of its parent's names, and
// sethostname(2) in it changes only that copy. See uts_namespaces(7), sethostname(2), uname(2).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace uts {

// The kernel's limit for both names: __NEW_UTS_LEN, 64 bytes, without the final NUL.
constexpr size_t kMaxNameBytes = 64;

// Why `name` cannot be a hostname (or domain name), or "" when it can. Checked before anything
// is created: sethostname would fail with EINVAL past 64 bytes, and an empty name is a mistake.
std::string validate_name(std::string_view name);

// A name may hold any byte but NUL: the kernel checks only the length. These spell one so that
// it can be read and typed again, for the narration and for error messages:
//   c_literal("a\nb")  == "\"a\\nb\""    as C writes it in sethostname("a\nb", 3)
//   shell_word("a\nb") == "$'a\\nb'"      as bash takes it in hostname $'a\nb'; "lab" stays lab
//   hex("a\n")         == "610a"          every byte, as `xxd -p` prints them
// Bytes outside printable ASCII become octal escapes (\377), which C and bash both read back.
std::string c_literal(std::string_view name);
std::string shell_word(std::string_view name);
std::string hex(std::string_view bytes);

// uname(2)'s nodename and domainname for the calling process's UTS namespace.
std::string current_hostname();
std::string current_domainname();

// In the child, inside the new UTS namespace: sethostname(2) and setdomainname(2).
void set_hostname_in_child(const std::string& name);
void set_domainname_in_child(const std::string& name);

}  // namespace uts
