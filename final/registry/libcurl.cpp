#include "registry/libcurl.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include "error.hpp"

namespace registry {

namespace {

template <typename Function>
void find(void* library, Function& function, const char* name) {
  function = reinterpret_cast<Function>(::dlsym(library, name));
  if (!function)
    throw lab::UserError(
        fmt::format("libcurl.so.4 has no {}: install Debian's libcurl4 (make deps)", name));
}

LibCurl load() {
  // RTLD_LOCAL: curl's symbols stay out of the global namespace; we reach them through dlsym.
  void* library = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (!library)
    throw lab::UserError(
        fmt::format("the registry client needs libcurl ({}): install Debian's libcurl4 (make deps)",
                    ::dlerror()));
  LibCurl c{};
  find(library, c.global_init, "curl_global_init");
  find(library, c.easy_init, "curl_easy_init");
  find(library, c.easy_cleanup, "curl_easy_cleanup");
  find(library, c.easy_reset, "curl_easy_reset");
  find(library, c.easy_setopt, "curl_easy_setopt");
  find(library, c.easy_getinfo, "curl_easy_getinfo");
  find(library, c.easy_perform, "curl_easy_perform");
  find(library, c.easy_strerror, "curl_easy_strerror");
  find(library, c.slist_append, "curl_slist_append");
  find(library, c.slist_free_all, "curl_slist_free_all");
  find(library, c.free, "curl_free");
  find(library, c.url, "curl_url");
  find(library, c.url_cleanup, "curl_url_cleanup");
  find(library, c.url_set, "curl_url_set");
  find(library, c.url_get, "curl_url_get");
  find(library, c.url_strerror, "curl_url_strerror");
  c.global_init(CURL_GLOBAL_DEFAULT);
  return c;  // the library stays mapped until the process ends
}

}  // namespace

const LibCurl& libcurl() {
  static const LibCurl loaded = load();  // C++ runs this once, under a lock
  return loaded;
}

}  // namespace registry
