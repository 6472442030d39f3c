#include "ldd.hpp"

#include <elf.h>
#include <fmt/format.h>
#include <glob.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace ldd {

namespace {

// Copies a struct out of the image, refusing to read past its end (the file may be truncated or
// hostile: never trust an offset read from it).
template <typename T>
T read_at(std::string_view image, std::uint64_t offset, const char* what) {
  if (offset > image.size() || image.size() - offset < sizeof(T))
    throw std::invalid_argument(
        fmt::format("ELF {} at offset {} lies past the end of the file", what, offset));
  T out;
  std::memcpy(&out, image.data() + offset, sizeof(T));
  return out;
}

std::string string_at(std::string_view image, std::uint64_t offset, std::uint64_t limit) {
  if (offset >= image.size() || offset >= limit)
    throw std::invalid_argument(
        fmt::format("ELF string at offset {} lies outside its table", offset));
  std::string_view rest = image.substr(offset, static_cast<size_t>(limit - offset));
  return std::string(rest.substr(0, rest.find('\0')));
}

std::vector<std::string> split_path_list(std::string_view list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(':', start);
    if (end == std::string_view::npos) end = list.size();
    if (end > start) out.emplace_back(list.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// The same walk for 32- and 64-bit files: only the struct sizes differ.
template <typename Ehdr, typename Phdr, typename Dyn>
void parse_headers(std::string_view image, ElfInfo& info) {
  const auto eh = read_at<Ehdr>(image, 0, "header");
  info.machine = eh.e_machine;
  if (eh.e_phnum > 0 && eh.e_phentsize != sizeof(Phdr))
    throw std::invalid_argument("ELF program header size does not match its class");

  std::vector<Phdr> loads;
  std::optional<Phdr> dynamic;
  for (std::uint64_t i = 0; i < eh.e_phnum; ++i) {
    const auto ph = read_at<Phdr>(image, eh.e_phoff + i * sizeof(Phdr), "program header");
    if (ph.p_type == PT_INTERP) {
      info.interpreter = string_at(image, ph.p_offset, ph.p_offset + ph.p_filesz);
    } else if (ph.p_type == PT_LOAD) {
      loads.push_back(ph);
    } else if (ph.p_type == PT_DYNAMIC) {
      dynamic = ph;
    }
  }
  if (!dynamic) return;  // statically linked: nothing to load

  // The dynamic section names its string table by virtual address; the PT_LOAD segments say
  // where that address lives in the file.
  auto file_offset = [&](std::uint64_t vaddr) -> std::uint64_t {
    for (const auto& l : loads)
      if (vaddr >= l.p_vaddr && vaddr < l.p_vaddr + l.p_filesz)
        return vaddr - l.p_vaddr + l.p_offset;
    throw std::invalid_argument(fmt::format("ELF address {:#x} is in no loaded segment", vaddr));
  };

  std::vector<std::pair<std::int64_t, std::uint64_t>> entries;  // (d_tag, d_val)
  std::uint64_t strtab = 0, strsz = 0;
  bool have_strtab = false;
  for (std::uint64_t off = dynamic->p_offset;
       off + sizeof(Dyn) <= dynamic->p_offset + dynamic->p_filesz; off += sizeof(Dyn)) {
    const auto d = read_at<Dyn>(image, off, "dynamic entry");
    if (d.d_tag == DT_NULL) break;
    if (d.d_tag == DT_STRTAB) {
      strtab = file_offset(d.d_un.d_ptr);
      have_strtab = true;
    } else if (d.d_tag == DT_STRSZ) {
      strsz = d.d_un.d_val;
    } else {
      entries.emplace_back(static_cast<std::int64_t>(d.d_tag), d.d_un.d_val);
    }
  }
  if (!have_strtab) throw std::invalid_argument("ELF dynamic section has no DT_STRTAB");
  const std::uint64_t limit = strtab + strsz;
  for (const auto& [tag, val] : entries) {
    switch (tag) {
      case DT_NEEDED:
        info.needed.push_back(string_at(image, strtab + val, limit));
        break;
      case DT_SONAME:
        info.soname = string_at(image, strtab + val, limit);
        break;
      case DT_RPATH:
        info.rpath = split_path_list(string_at(image, strtab + val, limit));
        break;
      case DT_RUNPATH:
        info.runpath = split_path_list(string_at(image, strtab + val, limit));
        break;
      default:
        break;
    }
  }
}

std::string dirname_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string basename_of(const std::string& path) { return path.substr(path.rfind('/') + 1); }

std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

void add_conf_dirs(const std::string& conf, int depth, std::vector<std::string>& out) {
  if (depth > 8) return;  // an include loop; ldconfig stops too
  std::ifstream in(conf);
  if (!in) return;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& line : parse_ld_so_conf(text)) {
    if (!line.include) {
      if (std::find(out.begin(), out.end(), line.value) == out.end()) out.push_back(line.value);
      continue;
    }
    std::string pattern =
        line.value.front() == '/' ? line.value : join(dirname_of(conf), line.value);
    glob_t g{};
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0)  // glob(3) sorts its results
      for (size_t i = 0; i < g.gl_pathc; ++i) add_conf_dirs(g.gl_pathv[i], depth + 1, out);
    ::globfree(&g);
  }
}

}  // namespace

ElfInfo parse_elf(std::string_view image) {
  if (image.size() < EI_NIDENT || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0)
    throw std::invalid_argument("not an ELF file (no \\x7fELF magic)");
  const auto cls = static_cast<unsigned char>(image[EI_CLASS]);
  const auto data = static_cast<unsigned char>(image[EI_DATA]);
  const unsigned char native =
      std::endian::native == std::endian::little ? ELFDATA2LSB : ELFDATA2MSB;
  if (data != native) throw std::invalid_argument("ELF file of the other byte order");
  ElfInfo info;
  if (cls == ELFCLASS64) {
    info.is_64bit = true;
    parse_headers<Elf64_Ehdr, Elf64_Phdr, Elf64_Dyn>(image, info);
  } else if (cls == ELFCLASS32) {
    parse_headers<Elf32_Ehdr, Elf32_Phdr, Elf32_Dyn>(image, info);
  } else {
    throw std::invalid_argument(fmt::format("unknown ELF class {}", cls));
  }
  return info;
}

std::optional<ElfInfo> read_elf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return parse_elf(image);
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}

std::vector<ConfLine> parse_ld_so_conf(std::string_view text) {
  std::vector<ConfLine> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream words(line);
    std::string first;
    if (!(words >> first)) continue;
    if (first == "include") {
      std::string pattern;
      while (words >> pattern) out.push_back({true, pattern});
    } else if (first == "hwcap") {
      continue;  // obsolete hardware-capability lines: no directory in them
    } else {
      // Old files may append "=libc5" or ":elf" (a library type) to a directory; drop it.
      first = first.substr(0, first.find_first_of("=:"));
      while (first.size() > 1 && first.back() == '/') first.pop_back();
      out.push_back({false, first});
    }
  }
  return out;
}

std::vector<std::string> ld_so_conf_dirs(const std::string& conf) {
  std::vector<std::string> out;
  add_conf_dirs(conf, 0, out);
  return out;
}

std::vector<std::string> default_dirs() {
  // glibc's system directories on a 64-bit multiarch system (Debian, Ubuntu), then the
  // traditional ones (Fedora, Arch use /lib64 and /usr/lib64).
  return {"/lib/x86_64-linux-gnu",
          "/usr/lib/x86_64-linux-gnu",
          "/lib64",
          "/usr/lib64",
          "/lib",
          "/usr/lib"};
}

std::string expand_origin(std::string_view dir, std::string_view origin) {
  std::string out(dir);
  for (std::string_view token : {"${ORIGIN}", "$ORIGIN"}) {
    for (size_t at = out.find(token); at != std::string::npos;
         at = out.find(token, at + origin.size()))
      out.replace(at, token.size(), origin);
  }
  return out;
}

std::vector<std::string> Resolution::all() const {
  std::vector<std::string> out = interpreters;
  out.insert(out.end(), libraries.begin(), libraries.end());
  return out;
}

Resolution resolve(const std::vector<std::string>& programs, const SearchPath& search,
                   const Inspect& inspect) {
  Resolution out;
  // An object that is loaded already answers to its DT_SONAME and to the name it was asked by.
  std::map<std::string, std::string> loaded_by_name;
  std::set<std::string> loaded_paths;

  struct Pending {
    std::string path;
    ElfInfo info;
    std::vector<std::vector<std::string>> rpath_chain;  // DT_RPATH of this object and its loaders
  };
  std::deque<Pending> queue;

  auto remember = [&](const std::string& path, const ElfInfo& info, const std::string& asked_as) {
    loaded_paths.insert(path);
    if (!info.soname.empty()) loaded_by_name.emplace(info.soname, path);
    if (!asked_as.empty()) loaded_by_name.emplace(asked_as, path);
  };

  for (const auto& program : programs) {
    auto info = inspect(program);
    if (!info) {
      out.missing.push_back(program);
      continue;
    }
    if (!info->interpreter.empty() && !loaded_paths.count(info->interpreter)) {
      if (auto interp = inspect(info->interpreter)) {
        out.interpreters.push_back(info->interpreter);
        remember(info->interpreter, *interp, basename_of(info->interpreter));
      } else {
        out.missing.push_back(info->interpreter);
      }
    }
    queue.push_back({program, *info, {info->rpath}});
  }

  while (!queue.empty()) {
    Pending obj = std::move(queue.front());
    queue.pop_front();
    const std::string origin = dirname_of(obj.path);
    for (const auto& name : obj.info.needed) {
      if (loaded_by_name.count(name)) continue;
      std::vector<std::string> dirs;
      if (name.find('/') == std::string::npos) {
        if (obj.info.runpath.empty())
          for (const auto& rpath : obj.rpath_chain)
            dirs.insert(dirs.end(), rpath.begin(), rpath.end());
        dirs.insert(dirs.end(), obj.info.runpath.begin(), obj.info.runpath.end());
        dirs.insert(dirs.end(), search.conf_dirs.begin(), search.conf_dirs.end());
        dirs.insert(dirs.end(), search.default_dirs.begin(), search.default_dirs.end());
      }
      std::optional<std::pair<std::string, ElfInfo>> found;
      auto try_path = [&](const std::string& candidate) {
        auto info = inspect(candidate);
        // The loader skips a library built for another class or machine (e.g. /lib32/libc.so.6).
        if (info && info->is_64bit == obj.info.is_64bit && info->machine == obj.info.machine)
          found.emplace(candidate, std::move(*info));
      };
      if (dirs.empty()) try_path(expand_origin(name, origin));
      for (const auto& dir : dirs) {
        if (found) break;
        try_path(join(expand_origin(dir, origin), name));
      }
      if (!found) {
        out.missing.push_back(name);
        continue;
      }
      auto& [path, info] = *found;
      if (loaded_paths.count(path)) {  // the same file under another name
        loaded_by_name.emplace(name, path);
        continue;
      }
      out.libraries.push_back(path);
      remember(path, info, name);
      auto chain = obj.rpath_chain;
      chain.insert(chain.begin(), info.rpath);
      queue.push_back({path, std::move(info), std::move(chain)});
    }
  }
  return out;
}

Resolution resolve(const std::vector<std::string>& programs) {
  return resolve(programs, {ld_so_conf_dirs(), default_dirs()}, read_elf);
}

}  // namespace ldd
