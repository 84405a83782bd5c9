// CurlApi: the libcurl functions the openai runner's HttpClient calls, found at run
// time with dlopen + dlsym instead of linked into laneway-worker.
//
// Why: linking libcurl pulls two dozen more shared libraries (TLS, Kerberos, LDAP,
// ssh, ...) into every worker, costing each about 1 MB of private memory and a slower
// start, while echo and exec workers never make an HTTP request. With this table only
// a worker that makes a request pays for curl, once, when it makes its first one.
//
// Contract:
//   - Get() loads "libcurl.so.4" the first time it is called (thread-safe, once per
//     process) and returns the same table or the same error ever after. A failure is
//     logged once (event=curl_load_failed).
//   - Load(soname) loads afresh from any soname (tests inject an unloadable one). Its
//     error names the library (and dlerror's words) or the first missing symbol.
//   - The library is never unloaded: the pointers stay valid for the process's life.
//   - Members are typed from <curl/curl.h> (declarations only: nothing here references
//     a curl symbol at link time). Include this header from .cc files only, never from
//     a widely included header. `easy_setopt`/`easy_getinfo` are the real variadic
//     functions, not curl's type-checking macros: pass `long` for integer options and
//     `curl_off_t` for *_LARGE ones, exactly as the documentation says.
#ifndef LANEWAY_WORKER_RUNNERS_CURL_API_H_
#define LANEWAY_WORKER_RUNNERS_CURL_API_H_

#include <curl/curl.h>

#include "common/status.h"

namespace laneway::worker {

struct CurlApi {
  static constexpr const char* kSoname = "libcurl.so.4";

  // The process-wide table, loaded from kSoname on first use.
  static common::Result<const CurlApi*> Get();
  // A table loaded from `soname` (dlopen's search rules), not cached.
  static common::Result<CurlApi> Load(const char* soname);

  decltype(&curl_global_init) global_init = nullptr;
  decltype(&curl_easy_init) easy_init = nullptr;
  decltype(&curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&curl_easy_setopt) easy_setopt = nullptr;
  decltype(&curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&curl_easy_strerror) easy_strerror = nullptr;
  decltype(&curl_multi_init) multi_init = nullptr;
  decltype(&curl_multi_cleanup) multi_cleanup = nullptr;
  decltype(&curl_multi_add_handle) multi_add_handle = nullptr;
  decltype(&curl_multi_remove_handle) multi_remove_handle = nullptr;
  decltype(&curl_multi_perform) multi_perform = nullptr;
  decltype(&curl_multi_poll) multi_poll = nullptr;
  decltype(&curl_multi_info_read) multi_info_read = nullptr;
  decltype(&curl_multi_strerror) multi_strerror = nullptr;
  decltype(&curl_slist_append) slist_append = nullptr;
  decltype(&curl_slist_free_all) slist_free_all = nullptr;
};

}  // namespace laneway::worker

#endif  // LANEWAY_WORKER_RUNNERS_CURL_API_H_
