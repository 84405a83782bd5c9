// HttpClient: one streamed HTTP POST at a time over libcurl, for the openai runner.
//
// libcurl is loaded at run time (worker/runners/curl_api.h), on the client's first
// Post, not linked: workers that never post never map it. If it cannot be loaded,
// every Post ends kUnavailable with an error naming the library or symbol.
//
// The transfer runs in the calling thread on curl's multi interface, so the loop
// can enforce laneway's own limits precisely: the idle timeout (no byte from the
// server for `idle_timeout`, counted from the start of the request), the turn's
// deadline, and cancellation (polled every kPollSlice). The response's body is
// handed to the sink as it arrives, with the status and headers before the first
// byte of it (or at the end, for a body-less response).
//
// Connections are kept alive between requests (curl's connection cache lives in
// the multi handle). Every socket is close-on-exec, curl's own wake-up pair too. Only http and
// https are allowed and redirects are not followed, so the key never goes elsewhere.
//
// Thread-safety: one thread at a time per client. libcurl's headers stay in the .cc.
#ifndef LANEWAY_WORKER_RUNNERS_HTTP_CLIENT_H_
#define LANEWAY_WORKER_RUNNERS_HTTP_CLIENT_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace laneway::worker {

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  std::chrono::steady_clock::time_point deadline;
};

struct HttpHead {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; last one wins
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpSink {
 public:
  virtual ~HttpSink() = default;
  // Called once, before any body byte. False aborts the transfer.
  virtual bool OnHead(const HttpHead& head) = 0;
  // A piece of the body. False aborts the transfer.
  virtual bool OnBody(std::string_view bytes) = 0;
};

enum class HttpEnd {
  kComplete,     // the whole response arrived
  kNoResponse,   // nothing came back: refused, reset, DNS, connect timeout
  kDropped,      // the response started and was cut (reset, truncated body)
  kIdle,         // no byte for idle_timeout
  kDeadline,     // the request's deadline passed
  kAborted,      // the sink said stop
  kCancelled,    // `cancelled` said stop
  kUnavailable,  // libcurl could not be loaded or started: nothing was sent
};

struct HttpResult {
  HttpEnd end = HttpEnd::kNoResponse;
  bool got_head = false;
  std::string error;  // curl's words, for the turn's error
};

class HttpClient {
 public:
  static constexpr std::chrono::milliseconds kPollSlice{50};

  // Cheap: libcurl is loaded by the first Post. `curl_soname` is for tests (an
  // unloadable library); empty means CurlApi::Get(), libcurl.so.4 once per process.
  static common::Result<std::unique_ptr<HttpClient>> Create(std::string curl_soname = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResult Post(const HttpRequest& request, HttpSink& sink,
                  const std::function<bool()>& cancelled);

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace laneway::worker

#endif  // LANEWAY_WORKER_RUNNERS_HTTP_CLIENT_H_
