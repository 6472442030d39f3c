// Which shared libraries a program needs, found the way the dynamic loader finds them (ldd's job).
//
// A dynamically linked ELF program names its loader in the PT_INTERP program header
// (/lib64/ld-linux-x86-64.so.2) and the libraries it needs in DT_NEEDED entries of its dynamic
// section ("libc.so.6"). The loader, ld.so(8), looks each name up in this order:
//   1. DT_RPATH of the object that needs it, then of the objects that loaded that one (only when
//      the object has no DT_RUNPATH)
//   2. LD_LIBRARY_PATH (not used here: we resolve for a clean environment)
//   3. DT_RUNPATH of the object itself
//   4. /etc/ld.so.cache, which ldconfig builds from the directories in /etc/ld.so.conf(.d)
//   5. the default directories: /lib, /usr/lib (and the multiarch and lib64 ones)
// and skips a file of the wrong class (32/64-bit) or machine. A name that is already loaded (by
// its DT_SONAME) is not loaded again: that is how libc's own DT_NEEDED "ld-linux-x86-64.so.2"
// turns out to be the loader itself. Every library found is read in turn for its DT_NEEDED.
// See ld.so(8), ldconfig(8), elf(5), and <elf.h>.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ldd {

// What the loader reads from one ELF file.
struct ElfInfo {
  bool is_64bit = false;             // ELFCLASS64
  std::uint16_t machine = 0;         // e_machine: EM_X86_64, EM_AARCH64, ...
  std::string interpreter;           // PT_INTERP; "" for a library or a static program
  std::vector<std::string> needed;   // DT_NEEDED, in order
  std::vector<std::string> rpath;    // DT_RPATH, split on ':'
  std::vector<std::string> runpath;  // DT_RUNPATH, split on ':'
  std::string soname;                // DT_SONAME; "" for a program
};

// Parses an ELF image held in memory. Throws std::invalid_argument saying what is wrong when the
// bytes are not an ELF file of this machine's byte order.
ElfInfo parse_elf(std::string_view image);
// Reads and parses a file; std::nullopt when it cannot be read or is not ELF.
std::optional<ElfInfo> read_elf(const std::string& path);

// One meaningful line of ld.so.conf: a directory, or an "include PATTERN" (a glob, relative to
// the including file's directory when not absolute). Comments and "hwcap" lines are dropped.
struct ConfLine {
  bool include = false;
  std::string value;
  bool operator==(const ConfLine&) const = default;
};
std::vector<ConfLine> parse_ld_so_conf(std::string_view text);

// The directories ldconfig would scan for `conf` (usually /etc/ld.so.conf), in order, following
// includes (glob(3), sorted, at most 8 levels deep). Missing files are skipped, as ldconfig does.
std::vector<std::string> ld_so_conf_dirs(const std::string& conf = "/etc/ld.so.conf");

// Built into the loader: searched after the ld.so.cache directories.
std::vector<std::string> default_dirs();

// "$ORIGIN/../lib" with origin "/opt/app/bin" -> "/opt/app/bin/../lib" ($ORIGIN and ${ORIGIN}).
std::string expand_origin(std::string_view dir, std::string_view origin);

struct SearchPath {
  std::vector<std::string> conf_dirs;     // from ld.so.conf, standing in for ld.so.cache
  std::vector<std::string> default_dirs;  // the loader's built-in list
};

// What a set of programs needs, by host path: the loader first, then libraries in the order the
// loader would map them (breadth first). `missing` lists names that could not be found.
struct Resolution {
  std::vector<std::string> interpreters;
  std::vector<std::string> libraries;
  std::vector<std::string> missing;
  // interpreters + libraries: every file to copy besides the programs.
  std::vector<std::string> all() const;
};

// `inspect(path)` returns the ELF facts of a file, or nullopt when there is no such (ELF) file;
// tests pass a fake file system, the lesson passes read_elf.
using Inspect = std::function<std::optional<ElfInfo>(const std::string& path)>;
Resolution resolve(const std::vector<std::string>& programs, const SearchPath& search,
                   const Inspect& inspect);
// For this host: /etc/ld.so.conf, the default directories, and the real files.
Resolution resolve(const std::vector<std::string>& programs);

}  // namespace ldd
