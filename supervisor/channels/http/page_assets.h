// The control page's files (supervisor/channels/http/page/), compiled into the
// binary by cmake/embed_files.cmake, and how the gateway port serves them.
//
// Contract: GET / is index.html; GET /<file> any other asset; each with the
// headers of kPageHeaders (a Content-Security-Policy allowing only this origin, so
// the page loads nothing from elsewhere and nothing else frames it). The page
// holds no secret: it asks for the gateway token and sends it only in the
// WebSocket connect frame, never in a URL.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_PAGE_ASSETS_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_PAGE_ASSETS_H_

#include <cstddef>
#include <string_view>

namespace laneway::supervisor::http {

struct PageAsset {
  const char* path;  // "/index.html"
  const char* content_type;
  std::string_view body;
};

extern const PageAsset kPageAssets[];
extern const size_t kPageAssetCount;

// The asset a GET target names ("/" is "/index.html"); nullptr if none.
inline const PageAsset* FindPageAsset(std::string_view target) {
  if (target == "/") target = "/index.html";
  for (size_t i = 0; i < kPageAssetCount; ++i) {
    if (target == kPageAssets[i].path) return &kPageAssets[i];
  }
  return nullptr;
}

inline constexpr const char* kPageHeaders =
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Cache-Control: no-store\r\n";

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_PAGE_ASSETS_H_
