// libcurl, loaded when the registry is first used (pull, push, a registry's catalog): linked, it
// and the 25 libraries it needs (TLS, Kerberos, LDAP, HTTP/2, IDN...) cost about 5 ms of the
// dynamic loader's work at every start of minidocker, `run` and `ps` included, though only the
// registry client calls it. dlopen(3) maps them on the first call instead, as podman's and
// containerd's plugins are loaded only when used.
//
//   shell equivalent of what the loader no longer does at start:  ldd final/minidocker | wc -l
#pragma once

#include <curl/curl.h>

namespace registry {

// The libcurl functions distribution.cpp calls, with curl.h's own types.
struct LibCurl {
  decltype(&::curl_global_init) global_init;
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_easy_reset) easy_reset;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_perform) easy_perform;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
  decltype(&::curl_free) free;
  decltype(&::curl_url) url;
  decltype(&::curl_url_cleanup) url_cleanup;
  decltype(&::curl_url_set) url_set;
  decltype(&::curl_url_get) url_get;
  decltype(&::curl_url_strerror) url_strerror;
};

// Loads libcurl.so.4 on the first call (thread-safe) and calls curl_global_init once; throws
// lab::UserError naming the package when it is missing.
const LibCurl& libcurl();

}  // namespace registry
