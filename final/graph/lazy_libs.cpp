// libarchive and libcrypto, loaded when first called (import, load, save, pull, push, commit,
// cp, build, a digest), as registry/libcurl.cpp loads libcurl. Linked, they and the libraries
// they need (libxml2, ICU, nettle, lzma, zstd, lz4, bzip2, acl) cost about 3.5 ms of the dynamic
// loader's work at every start of minidocker: measured on this machine, an empty program linked
// with our libraries starts in 5.6-6.6 ms, and in 2.5-2.9 ms without these two. `run --rm`
// starts minidocker twice (the CLI, and the `rm` its monitor runs), `ps` once, and neither
// unpacks or hashes anything.
//
// Nothing else changes: each function below has the name and the type the library's header
// declares, so the code that calls archive_read_new() or EVP_DigestUpdate() is as it was. The
// first call opens the library (dlopen) and looks the function up (dlsym); later calls go
// straight through the pointer kept in a static.
//
//   shell equivalent of what the loader no longer does at start:  ldd final/minidocker | wc -l
#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <fmt/format.h>
#include <openssl/evp.h>

#include <cstdarg>
#include <cstdio>

#include "error.hpp"
#include "graph/lazy_libs.hpp"

namespace {

void* open_library(const char* soname, const char* package) {
  // RTLD_LOCAL: the library's symbols stay out of the global namespace, where ours (below) are.
  void* library = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!library)
    throw lab::UserError(
        fmt::format("cannot load {} ({}): install Debian's {} (make deps)", soname, ::dlerror(),
                    package));
  return library;
}

void* libarchive() {
  static void* library = open_library("libarchive.so.13", "libarchive13");
  return library;
}

void* libcrypto() {
  static void* library = open_library("libcrypto.so.3", "libssl3");
  return library;
}

void* find(void* library, const char* name) {
  void* function = ::dlsym(library, name);
  if (!function) throw lab::UserError(fmt::format("the loaded library has no {}", name));
  return function;
}

}  // namespace

void graph::load_lazy_libraries() {
  libarchive();
  libcrypto();
}

// extern "C" NAME PARAMS: looked up once, then called with ARGS.
#define LAZY(library, ret, name, params, args)                                              \
  extern "C" ret name params {                                                              \
    static const auto real = reinterpret_cast<decltype(&::name)>(find(library(), #name)); \
    return real args;                                                                       \
  }

// --- libarchive: reading -------------------------------------------------------------------------
LAZY(libarchive, struct archive*, archive_read_new, (void), ())
LAZY(libarchive, int, archive_read_free, (struct archive * a), (a))
LAZY(libarchive, int, archive_read_support_filter_all, (struct archive * a), (a))
LAZY(libarchive, int, archive_read_support_filter_bzip2, (struct archive * a), (a))
LAZY(libarchive, int, archive_read_support_filter_gzip, (struct archive * a), (a))
LAZY(libarchive, int, archive_read_support_filter_xz, (struct archive * a), (a))
LAZY(libarchive, int, archive_read_support_filter_zstd, (struct archive * a), (a))
LAZY(libarchive, int, archive_read_support_format_raw, (struct archive * a), (a))
LAZY(libarchive, int, archive_read_support_format_tar, (struct archive * a), (a))
LAZY(libarchive, int, archive_read_open_fd, (struct archive * a, int fd, size_t block_size),
     (a, fd, block_size))
LAZY(libarchive, int, archive_read_open2,
     (struct archive * a, void* data, archive_open_callback* open, archive_read_callback* read,
      archive_skip_callback* skip, archive_close_callback* close),
     (a, data, open, read, skip, close))
LAZY(libarchive, int, archive_read_next_header, (struct archive * a, struct archive_entry** entry),
     (a, entry))
LAZY(libarchive, la_ssize_t, archive_read_data, (struct archive * a, void* buffer, size_t size),
     (a, buffer, size))
LAZY(libarchive, int, archive_read_data_block,
     (struct archive * a, const void** buffer, size_t* size, la_int64_t* offset),
     (a, buffer, size, offset))

// --- libarchive: writing -------------------------------------------------------------------------
LAZY(libarchive, struct archive*, archive_write_new, (void), ())
LAZY(libarchive, int, archive_write_free, (struct archive * a), (a))
LAZY(libarchive, int, archive_write_close, (struct archive * a), (a))
LAZY(libarchive, int, archive_write_add_filter_none, (struct archive * a), (a))
LAZY(libarchive, int, archive_write_set_format_pax_restricted, (struct archive * a), (a))
LAZY(libarchive, int, archive_write_set_format_option,
     (struct archive * a, const char* module, const char* option, const char* value),
     (a, module, option, value))
LAZY(libarchive, int, archive_write_set_bytes_in_last_block, (struct archive * a, int bytes),
     (a, bytes))
LAZY(libarchive, int, archive_write_open_fd, (struct archive * a, int fd), (a, fd))
LAZY(libarchive, int, archive_write_open2,
     (struct archive * a, void* data, archive_open_callback* open, archive_write_callback* write,
      archive_close_callback* close, archive_free_callback* free),
     (a, data, open, write, close, free))
LAZY(libarchive, int, archive_write_header, (struct archive * a, struct archive_entry* entry),
     (a, entry))
LAZY(libarchive, la_ssize_t, archive_write_data,
     (struct archive * a, const void* buffer, size_t size), (a, buffer, size))

// --- libarchive: errors and filters --------------------------------------------------------------
LAZY(libarchive, const char*, archive_error_string, (struct archive * a), (a))
LAZY(libarchive, int, archive_filter_count, (struct archive * a), (a))
LAZY(libarchive, int, archive_filter_code, (struct archive * a, int n), (a, n))
LAZY(libarchive, la_int64_t, archive_filter_bytes, (struct archive * a, int n), (a, n))

// The one variadic function: formatted here, handed on as "%s".
extern "C" void archive_set_error(struct archive* a, int error, const char* format, ...) {
  static const auto real =
      reinterpret_cast<decltype(&::archive_set_error)>(find(libarchive(), "archive_set_error"));
  char text[1024];
  va_list list;
  va_start(list, format);
  std::vsnprintf(text, sizeof text, format, list);
  va_end(list);
  real(a, error, "%s", text);
}

// --- libarchive: entries -------------------------------------------------------------------------
LAZY(libarchive, struct archive_entry*, archive_entry_new, (void), ())
LAZY(libarchive, void, archive_entry_free, (struct archive_entry * e), (e))
LAZY(libarchive, const char*, archive_entry_pathname, (struct archive_entry * e), (e))
LAZY(libarchive, const char*, archive_entry_pathname_utf8, (struct archive_entry * e), (e))
LAZY(libarchive, const char*, archive_entry_hardlink, (struct archive_entry * e), (e))
LAZY(libarchive, const char*, archive_entry_symlink, (struct archive_entry * e), (e))
LAZY(libarchive, __LA_MODE_T, archive_entry_filetype, (struct archive_entry * e), (e))
LAZY(libarchive, __LA_MODE_T, archive_entry_perm, (struct archive_entry * e), (e))
LAZY(libarchive, la_int64_t, archive_entry_uid, (struct archive_entry * e), (e))
LAZY(libarchive, la_int64_t, archive_entry_gid, (struct archive_entry * e), (e))
LAZY(libarchive, dev_t, archive_entry_rdev, (struct archive_entry * e), (e))
LAZY(libarchive, la_int64_t, archive_entry_size, (struct archive_entry * e), (e))
LAZY(libarchive, int, archive_entry_size_is_set, (struct archive_entry * e), (e))
LAZY(libarchive, time_t, archive_entry_mtime, (struct archive_entry * e), (e))
LAZY(libarchive, long, archive_entry_mtime_nsec, (struct archive_entry * e), (e))
LAZY(libarchive, void, archive_entry_set_pathname, (struct archive_entry * e, const char* p),
     (e, p))
LAZY(libarchive, void, archive_entry_set_hardlink, (struct archive_entry * e, const char* p),
     (e, p))
LAZY(libarchive, void, archive_entry_set_symlink, (struct archive_entry * e, const char* p),
     (e, p))
LAZY(libarchive, void, archive_entry_set_filetype, (struct archive_entry * e, unsigned int type),
     (e, type))
LAZY(libarchive, void, archive_entry_set_perm, (struct archive_entry * e, __LA_MODE_T perm),
     (e, perm))
LAZY(libarchive, void, archive_entry_set_uid, (struct archive_entry * e, la_int64_t uid), (e, uid))
LAZY(libarchive, void, archive_entry_set_gid, (struct archive_entry * e, la_int64_t gid), (e, gid))
LAZY(libarchive, void, archive_entry_set_rdev, (struct archive_entry * e, dev_t rdev), (e, rdev))
LAZY(libarchive, void, archive_entry_set_size, (struct archive_entry * e, la_int64_t size),
     (e, size))
LAZY(libarchive, void, archive_entry_set_mtime, (struct archive_entry * e, time_t s, long ns),
     (e, s, ns))
LAZY(libarchive, void, archive_entry_xattr_add_entry,
     (struct archive_entry * e, const char* name, const void* value, size_t size),
     (e, name, value, size))
LAZY(libarchive, int, archive_entry_xattr_reset, (struct archive_entry * e), (e))
LAZY(libarchive, int, archive_entry_xattr_next,
     (struct archive_entry * e, const char** name, const void** value, size_t* size),
     (e, name, value, size))

// --- libcrypto: sha256 and base64 ----------------------------------------------------------------
LAZY(libcrypto, const EVP_MD*, EVP_sha256, (void), ())
LAZY(libcrypto, EVP_MD_CTX*, EVP_MD_CTX_new, (void), ())
LAZY(libcrypto, void, EVP_MD_CTX_free, (EVP_MD_CTX * ctx), (ctx))
LAZY(libcrypto, int, EVP_DigestInit_ex, (EVP_MD_CTX * ctx, const EVP_MD* type, ENGINE* engine),
     (ctx, type, engine))
LAZY(libcrypto, int, EVP_DigestUpdate, (EVP_MD_CTX * ctx, const void* data, size_t size),
     (ctx, data, size))
LAZY(libcrypto, int, EVP_DigestFinal_ex, (EVP_MD_CTX * ctx, unsigned char* md, unsigned int* size),
     (ctx, md, size))
LAZY(libcrypto, int, EVP_EncodeBlock, (unsigned char* to, const unsigned char* from, int n),
     (to, from, n))
LAZY(libcrypto, int, EVP_DecodeBlock, (unsigned char* to, const unsigned char* from, int n),
     (to, from, n))
