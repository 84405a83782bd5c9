// RTLD_NOW: every symbol libcurl itself needs is bound at dlopen, so a broken
// installation fails here, as one clear error, and not later in the middle of a
// transfer. RTLD_LOCAL: curl's symbols (and its TLS libraries') stay out of the
// global namespace, where they could be picked up by another library's lookups.
// The handle is never closed: OpenSSL and curl do not support being unloaded, and
// the pointers in the table must outlive every HttpClient.
#include "worker/runners/curl_api.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

#include "common/log.h"

namespace laneway::worker {

namespace {

// dlerror() describes the last failure of this thread's dl* calls; empty if none.
std::string DlError() {
  const char* e = ::dlerror();
  return e != nullptr ? std::string(e) : std::string();
}

template <typename Fn>
bool Bind(void* handle, const char* name, Fn* slot, std::string* missing) {
  if (!missing->empty()) return false;
  ::dlerror();  // clear, so that a null result is told apart from a null symbol
  void* sym = ::dlsym(handle, name);
  if (sym == nullptr) {
    *missing = name;
    return false;
  }
  *slot = reinterpret_cast<Fn>(sym);
  return true;
}

}  // namespace

common::Result<CurlApi> CurlApi::Load(const char* soname) {
  ::dlerror();
  void* handle = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    std::string why = DlError();
    return common::Status::Unavailable(std::string("cannot load ") + soname +
                                       " (libcurl, needed by the openai runner)" +
                                       (why.empty() ? std::string() : ": " + why));
  }
  CurlApi api;
  std::string missing;
  Bind(handle, "curl_global_init", &api.global_init, &missing);
  Bind(handle, "curl_easy_init", &api.easy_init, &missing);
  Bind(handle, "curl_easy_cleanup", &api.easy_cleanup, &missing);
  Bind(handle, "curl_easy_setopt", &api.easy_setopt, &missing);
  Bind(handle, "curl_easy_getinfo", &api.easy_getinfo, &missing);
  Bind(handle, "curl_easy_strerror", &api.easy_strerror, &missing);
  Bind(handle, "curl_multi_init", &api.multi_init, &missing);
  Bind(handle, "curl_multi_cleanup", &api.multi_cleanup, &missing);
  Bind(handle, "curl_multi_add_handle", &api.multi_add_handle, &missing);
  Bind(handle, "curl_multi_remove_handle", &api.multi_remove_handle, &missing);
  Bind(handle, "curl_multi_perform", &api.multi_perform, &missing);
  Bind(handle, "curl_multi_poll", &api.multi_poll, &missing);
  Bind(handle, "curl_multi_info_read", &api.multi_info_read, &missing);
  Bind(handle, "curl_multi_strerror", &api.multi_strerror, &missing);
  Bind(handle, "curl_slist_append", &api.slist_append, &missing);
  Bind(handle, "curl_slist_free_all", &api.slist_free_all, &missing);
  if (!missing.empty()) {
    // Not a libcurl we can use (too old, or another library by that name). Nothing
    // of it will be called, so it can go again.
    ::dlclose(handle);
    return common::Status::Unavailable(std::string(soname) + " has no symbol " + missing +
                                       " (not the libcurl the openai runner needs)");
  }
  return api;
}

common::Result<const CurlApi*> CurlApi::Get() {
  static std::once_flag once;
  static CurlApi api;
  static common::Status error;
  std::call_once(once, [] {
    auto loaded = Load(kSoname);
    if (loaded.ok()) {
      api = *loaded;
      return;
    }
    error = loaded.status();
    common::LogLine(common::LogLevel::kError, "curl_load_failed")
        .Kv("library", kSoname)
        .Kv("error", error.message());
  });
  if (!error.ok()) return error;
  return &api;
}

}  // namespace laneway::worker
