// libcurl's multi interface driven by hand: curl_multi_poll wakes on socket
// activity or after a slice, and between wake-ups this loop checks the idle time,
// the deadline and cancellation itself. curl's own LOW_SPEED limits have a
// granularity of seconds and no way to cancel from outside; this has neither gap.
//
// libcurl is not linked: every call goes through CurlApi (dlopen'ed on the first
// request), so a worker that never posts never maps curl and its TLS libraries.
#include "worker/runners/http_client.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <set>

#include "worker/runners/curl_api.h"

namespace laneway::worker {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::once_flag g_curl_init_once;
CURLcode g_curl_init = CURLE_OK;

struct Transfer {
  const CurlApi* api = nullptr;
  HttpSink* sink = nullptr;
  HttpHead head;
  bool head_sent = false;
  bool aborted = false;
  Clock::time_point last_byte;
  CURL* easy = nullptr;

  bool SendHead() {
    if (head_sent) return true;
    head_sent = true;
    api->easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &head.status);
    if (!sink->OnHead(head)) aborted = true;
    return !aborted;
  }
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  t->last_byte = Clock::now();
  std::string_view line(data, len);
  if (line.substr(0, 5) == "HTTP/") {
    t->head.headers.clear();  // a new response (after a 100 Continue, say)
    return len;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return len;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  t->head.headers[name] = std::string(value);
  return len;
}

size_t OnWrite(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  t->last_byte = Clock::now();
  if (!t->SendHead()) return 0;
  if (!t->sink->OnBody(std::string_view(data, len))) {
    t->aborted = true;
    return 0;
  }
  return len;
}

std::set<int> OpenFds() {
  std::set<int> fds;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    const int own = ::dirfd(d);  // listed too, and free again once closed
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      const int fd = std::atoi(e->d_name);
      if (fd != own) fds.insert(fd);
    }
    ::closedir(d);
  }
  return fds;
}

curl_socket_t OpenSocket(void*, curlsocktype, struct curl_sockaddr* addr) {
  return ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

}  // namespace

struct HttpClient::Impl {
  std::string soname;  // empty: the process-wide CurlApi::Get()
  bool tried = false;
  common::Status start_error;  // why Start() failed, once tried
  CurlApi api;
  CURLM* multi = nullptr;

  // Loads libcurl and opens the multi handle, on the first request only; a failure
  // is kept and returned for every later request (nothing changes between them).
  common::Status Start();

  ~Impl() {
    if (multi != nullptr) api.multi_cleanup(multi);
  }
};

common::Status HttpClient::Impl::Start() {
  if (tried) return start_error;
  tried = true;
  if (soname.empty()) {
    auto got = CurlApi::Get();
    if (!got.ok()) return start_error = got.status();
    api = **got;
  } else {
    auto loaded = CurlApi::Load(soname.c_str());
    if (!loaded.ok()) return start_error = loaded.status();
    api = *loaded;
  }
  std::call_once(g_curl_init_once, [this] { g_curl_init = api.global_init(CURL_GLOBAL_DEFAULT); });
  if (g_curl_init != CURLE_OK) {
    return start_error = common::Status::Internal(std::string("libcurl init failed: ") +
                                                  api.easy_strerror(g_curl_init));
  }
  // libcurl 7.88 opens its multi handle's wake-up socketpair without
  // SOCK_CLOEXEC; mark whatever curl_multi_init opened. (Another thread's new fd
  // marked too would do no harm: laneway wants every fd close-on-exec.)
  const std::set<int> before = OpenFds();
  multi = api.multi_init();
  if (multi == nullptr) return start_error = common::Status::Internal("curl_multi_init failed");
  for (int fd : OpenFds()) {
    if (before.count(fd) != 0) continue;
    int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
  return start_error;
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

common::Result<std::unique_ptr<HttpClient>> HttpClient::Create(std::string curl_soname) {
  auto impl = std::make_unique<Impl>();
  impl->soname = std::move(curl_soname);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

HttpResult HttpClient::Post(const HttpRequest& req, HttpSink& sink,
                            const std::function<bool()>& cancelled) {
  HttpResult result;
  if (common::Status st = impl_->Start(); !st.ok()) {
    result.end = HttpEnd::kUnavailable;
    result.error = st.message();
    return result;
  }
  const CurlApi& api = impl_->api;
  // A transfer stopped early (idle, deadline, cancel) may have left its message.
  int stale = 0;
  while (api.multi_info_read(impl_->multi, &stale) != nullptr) {
  }
  CURL* easy = api.easy_init();
  if (easy == nullptr) {
    result.error = "curl_easy_init failed";
    return result;
  }
  curl_slist* headers = nullptr;
  for (const std::string& h : req.headers) headers = api.slist_append(headers, h.c_str());
  Transfer t;
  t.api = &api;
  t.sink = &sink;
  t.easy = easy;
  t.last_byte = Clock::now();
  char errbuf[CURL_ERROR_SIZE] = {0};

  api.easy_setopt(easy, CURLOPT_URL, req.url.c_str());
  api.easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  api.easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  api.easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  api.easy_setopt(easy, CURLOPT_POST, 1L);
  api.easy_setopt(easy, CURLOPT_POSTFIELDS, req.body.data());
  api.easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  api.easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  api.easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout.count()));
  api.easy_setopt(easy, CURLOPT_HEADERFUNCTION, OnHeader);
  api.easy_setopt(easy, CURLOPT_HEADERDATA, &t);
  api.easy_setopt(easy, CURLOPT_WRITEFUNCTION, OnWrite);
  api.easy_setopt(easy, CURLOPT_WRITEDATA, &t);
  api.easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, OpenSocket);
  api.easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
  api.easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  api.easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");  // whatever curl can decode
  api.multi_add_handle(impl_->multi, easy);

  bool stopped = false;
  for (;;) {
    int running = 0;
    CURLMcode mc = api.multi_perform(impl_->multi, &running);
    if (mc != CURLM_OK) {
      result.end = t.head_sent ? HttpEnd::kDropped : HttpEnd::kNoResponse;
      result.error = api.multi_strerror(mc);
      stopped = true;
      break;
    }
    if (running == 0) break;
    const auto now = Clock::now();
    if (cancelled && cancelled()) {
      result.end = HttpEnd::kCancelled;
      result.error = "cancelled";
      stopped = true;
      break;
    }
    if (now >= req.deadline) {
      result.end = HttpEnd::kDeadline;
      result.error = "the turn's run_timeout passed";
      stopped = true;
      break;
    }
    if (now - t.last_byte >= req.idle_timeout) {
      result.end = HttpEnd::kIdle;
      result.error = "no byte from the server for " + std::to_string(req.idle_timeout.count()) +
                     "ms (idle_timeout)";
      stopped = true;
      break;
    }
    auto wait =
        std::min({std::chrono::duration_cast<milliseconds>(req.deadline - now),
                  std::chrono::duration_cast<milliseconds>(t.last_byte + req.idle_timeout - now),
                  kPollSlice});
    api.multi_poll(impl_->multi, nullptr, 0, static_cast<int>(std::max<int64_t>(wait.count(), 1)),
                   nullptr);
  }
  if (!stopped) {
    CURLcode code = CURLE_OK;
    int left = 0;
    while (CURLMsg* msg = api.multi_info_read(impl_->multi, &left)) {
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) code = msg->data.result;
    }
    if (code == CURLE_OK) {
      if (!t.SendHead()) {
        result.end = HttpEnd::kAborted;
      } else {
        result.end = HttpEnd::kComplete;
      }
    } else if (t.aborted) {
      result.end = HttpEnd::kAborted;
    } else {
      result.end = t.head_sent || t.head.status != 0 ? HttpEnd::kDropped : HttpEnd::kNoResponse;
      if (result.end == HttpEnd::kNoResponse) {
        long status = 0;
        api.easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (status != 0) result.end = HttpEnd::kDropped;
      }
      result.error = errbuf[0] != '\0' ? errbuf : api.easy_strerror(code);
    }
  }
  result.got_head = t.head_sent;
  api.multi_remove_handle(impl_->multi, easy);
  api.easy_cleanup(easy);
  api.slist_free_all(headers);
  return result;
}

}  // namespace laneway::worker
