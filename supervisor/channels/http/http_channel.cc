#include "supervisor/channels/http/http_channel.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "supervisor/channels/http/core_link.h"
#include "supervisor/channels/http/gateway.h"
#include "supervisor/channels/http/listener.h"
#include "supervisor/channels/http/methods.h"

namespace laneway::supervisor::http {

namespace {

common::Status WriteFileAtomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return common::Status::FromErrno("cannot write " + tmp, errno);
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    ::unlink(tmp.c_str());
    return common::Status::FromErrno("cannot write " + tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return common::Status::FromErrno("cannot rename " + tmp, err);
  }
  return common::Status::Ok();
}

}  // namespace

struct HttpChannel::Impl {
  ChannelEnv env;
  std::unique_ptr<boost::asio::io_context> io;
  std::unique_ptr<Gateway> gw;
  std::unique_ptr<CoreLink> core;
  std::unique_ptr<MethodTable> methods;
  std::unique_ptr<Listener> listener;
  std::thread thread;
  std::string addr_file;

  mutable std::mutex mu;  // guards the fields below (read by State() on the core thread)
  std::string bound;
  std::string error;
  bool running = false;
};

HttpChannel::HttpChannel(ChannelEnv env) : impl_(std::make_unique<Impl>()) {
  impl_->env = std::move(env);
}

HttpChannel::~HttpChannel() { Stop(); }

common::Status HttpChannel::Start() {
  Impl& m = *impl_;
  const common::HttpChannelConfig& cfg = m.env.config.channels.http;
  std::string listen = cfg.listen;
  if (const char* o = std::getenv(kListenOverrideEnv); o && *o) listen = o;
  std::string host;
  uint16_t port = 0;
  if (auto st = ParseListen(listen, &host, &port); !st.ok()) {
    return common::Status::InvalidArgument("channels.http.listen: " + st.message());
  }
  auto creds = LoadCredentials(cfg, m.env.paths);
  if (!creds.ok()) return creds.status();
  if (!IsLoopbackHost(host) && creds->token.empty() && creds->password.empty()) {
    return common::Status::FailedPrecondition(
        "channels.http: refusing to listen on " + listen +
        " (not loopback) without a token: set the environment variable " + cfg.token_env +
        " or channels.http.token_file");
  }

  m.io = std::make_unique<boost::asio::io_context>(1);
  m.gw = std::make_unique<Gateway>(*m.io);
  m.gw->http = cfg;
  m.gw->config = m.env.config;
  m.gw->paths = m.env.paths;
  m.gw->creds = std::move(creds).value();
  const size_t max_bytes = size_t{m.env.config.supervisor.max_message_bytes} * 4 + (1 << 20);
  m.core = std::make_unique<CoreLink>(*m.io, m.env.zmq_context, m.env.core_endpoint, "ch:http",
                                      max_bytes);
  m.methods = std::make_unique<MethodTable>(*m.gw);
  m.gw->core = m.core.get();
  m.gw->methods = m.methods.get();
  m.listener = std::make_unique<Listener>(*m.gw);
  if (auto st = m.listener->Bind(listen); !st.ok()) return st;
  if (auto st = m.core->Open(); !st.ok()) return st;

  m.addr_file = m.env.paths.run_dir + "/http.addr";
  if (auto st = WriteFileAtomically(m.addr_file, m.listener->bound() + "\n"); !st.ok()) {
    common::LogLine(common::LogLevel::kWarn, "http_addr_file_failed").Kv("error", st.message());
  }
  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.bound = m.listener->bound();
    m.running = true;
  }
  common::LogLine(common::LogLevel::kInfo, "http_listening")
      .Kv("addr", m.listener->bound())
      .Kv("token", m.gw->creds.token_source)
      .Kv("core", m.env.core_endpoint);
  m.thread = std::thread([&m] {
    m.core->Start();
    m.listener->Accept();
    for (;;) {
      try {
        m.io->run();
        break;
      } catch (const std::exception& e) {
        // Handlers do not throw by design; if one does, log it and serve on.
        common::LogLine(common::LogLevel::kError, "http_handler_threw").Kv("error", e.what());
      }
    }
  });
  return common::Status::Ok();
}

void HttpChannel::Stop() {
  Impl& m = *impl_;
  if (m.io) m.io->stop();
  if (m.thread.joinable()) m.thread.join();
  // Order matters: the I/O objects before their io_context, the io_context (and
  // with it the sessions its handlers keep alive) before the Gateway they use.
  if (m.core) m.core->Close();
  if (m.listener) m.listener->Close();
  m.listener.reset();
  m.methods.reset();
  m.core.reset();
  m.io.reset();
  m.gw.reset();
  if (!m.addr_file.empty()) {
    ::unlink(m.addr_file.c_str());
    m.addr_file.clear();
  }
  std::lock_guard<std::mutex> lock(m.mu);
  m.running = false;
}

common::Value HttpChannel::State() const {
  const Impl& m = *impl_;
  common::Value s = common::Value::MakeMap();
  s.Set("kind", "http");
  std::lock_guard<std::mutex> lock(m.mu);
  s.Set("ok", m.running && m.error.empty());
  s.Set("error", m.error);
  s.Set("listen", m.bound);
  if (m.gw) {
    s.Set("connections", m.gw->connections.load());
    s.Set("websockets", m.gw->websockets.load());
    s.Set("connections_total", m.gw->connections_total.load());
    s.Set("connections_refused", m.gw->connections_refused.load());
    s.Set("requests_total", m.gw->requests_total.load());
    s.Set("slow_clients_cut", m.gw->slow_clients_cut.load());
    s.Set("auth_failures", m.gw->auth_failures.load());
    s.Set("logins_rate_limited", m.gw->logins_rate_limited.load());
    s.Set("token_source", m.gw->creds.token_source);
  }
  return s;
}

bool HttpChannel::Ready() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->running;
}

std::string HttpChannel::bound_address() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->bound;
}

}  // namespace laneway::supervisor::http
