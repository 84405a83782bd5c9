// cppzmq throws; every call into it is here, behind a catch.
#include "supervisor/channels/http/core_link.h"

#include <boost/asio/post.hpp>
#include <chrono>
#include <zmq.hpp>

#include "common/log.h"
#include "common/protocol.h"

namespace laneway::supervisor::http {

namespace {

using common::Value;

// ZMQ_FD is edge-like: a notification can be consumed by a send. Draining after
// each send covers that; this timer covers what is left.
constexpr auto kSafetyPoll = std::chrono::milliseconds(20);

Value UnavailableError(int64_t id, const std::string& why) {
  Value m = common::NewMessage(common::msg::kError);
  m.Set("id", id);
  m.Set("code", "unavailable");
  m.Set("error", "the core cannot take the request: " + why);
  return m;
}

bool IsFinal(const Value& m) {
  const std::string& type = common::MessageType(m);
  return type != common::msg::kAccepted && type != common::msg::kProgress;
}

}  // namespace

CoreLink::CoreLink(boost::asio::io_context& io, zmq::context_t* ctx, std::string endpoint,
                   std::string routing_id, size_t max_message_bytes)
    : io_(io),
      ctx_(ctx),
      endpoint_(std::move(endpoint)),
      routing_id_(std::move(routing_id)),
      max_message_bytes_(max_message_bytes),
      safety_(io) {}

CoreLink::~CoreLink() { Close(); }

common::Status CoreLink::Open() {
  try {
    if (ctx_ == nullptr) {
      own_ctx_ = std::make_unique<zmq::context_t>(1);
      ctx_ = own_ctx_.get();
    }
    sock_ = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::dealer);
    sock_->set(zmq::sockopt::linger, 0);
    sock_->set(zmq::sockopt::routing_id, routing_id_);
    sock_->set(zmq::sockopt::sndhwm, 100000);
    sock_->set(zmq::sockopt::rcvhwm, 100000);
    sock_->connect(endpoint_);
    int fd = sock_->get(zmq::sockopt::fd);
    fd_ = std::make_unique<boost::asio::posix::stream_descriptor>(io_, fd);
  } catch (const zmq::error_t& e) {
    sock_.reset();
    return common::Status::Unavailable("cannot connect to the core at " + endpoint_ + ": " +
                                       e.what());
  } catch (const std::exception& e) {
    sock_.reset();
    return common::Status::Internal("cannot watch the core socket: " + std::string(e.what()));
  }
  return common::Status::Ok();
}

void CoreLink::Start() {
  ArmWait();
  ArmSafetyTimer();
}

void CoreLink::Close() {
  if (closed_) return;
  closed_ = true;
  handlers_.clear();
  boost::system::error_code ec;
  safety_.cancel();
  if (fd_) {
    fd_->cancel(ec);
    fd_->release();  // zmq owns the descriptor
    fd_.reset();
  }
  if (sock_) {
    try {
      sock_->close();
    } catch (const zmq::error_t&) {
    }
    sock_.reset();
  }
}

void CoreLink::ArmWait() {
  if (closed_ || !fd_) return;
  fd_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                  [this](const boost::system::error_code& ec) {
                    if (ec || closed_) return;
                    Drain();
                    ArmWait();
                  });
}

void CoreLink::ArmSafetyTimer() {
  if (closed_) return;
  safety_.expires_after(kSafetyPoll);
  safety_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || closed_) return;
    Drain();
    ArmSafetyTimer();
  });
}

int64_t CoreLink::Call(Value request, Handler handler) {
  int64_t id = next_id_++;
  request.Set("id", id);
  std::string why;
  if (closed_ || !sock_) {
    why = "the channel is stopping";
  } else {
    try {
      std::string bytes = common::EncodeMessage(request);
      if (!sock_->send(zmq::buffer(bytes), zmq::send_flags::dontwait)) why = "queue full";
    } catch (const zmq::error_t& e) {
      why = e.what();
    }
  }
  if (!why.empty()) {
    boost::asio::post(
        io_, [handler = std::move(handler), id, why] { handler(UnavailableError(id, why)); });
    return id;
  }
  handlers_.emplace(id, std::move(handler));
  // The send may have consumed the descriptor's read edge.
  boost::asio::post(io_, [this] { Drain(); });
  return id;
}

void CoreLink::Forget(int64_t id) { handlers_.erase(id); }

void CoreLink::Drain() {
  if (closed_ || !sock_ || draining_) return;
  draining_ = true;
  // Bounded per call so one flood of replies cannot starve client sockets.
  for (int i = 0; i < 10000 && !closed_; ++i) {
    zmq::message_t frame;
    try {
      if (!(sock_->get(zmq::sockopt::events) & ZMQ_POLLIN)) break;
      if (!sock_->recv(frame, zmq::recv_flags::dontwait)) break;
      if (frame.more()) {
        // The protocol is one frame; skip the rest of a multi-part message.
        ++undecodable_;
        zmq::message_t rest;
        while (sock_->get(zmq::sockopt::rcvmore) && sock_->recv(rest, zmq::recv_flags::dontwait)) {
        }
        continue;
      }
    } catch (const zmq::error_t& e) {
      common::LogLine(common::LogLevel::kWarn, "http_core_recv_failed").Kv("error", e.what());
      break;
    }
    auto m = common::DecodeMessage(frame.data(), frame.size(), max_message_bytes_);
    if (!m.ok()) {
      ++undecodable_;
      continue;
    }
    Dispatch(*m);
  }
  draining_ = false;
}

void CoreLink::Dispatch(const Value& message) {
  auto id = message.GetIntOr("id", 0);
  if (!id.ok()) {
    ++undecodable_;
    return;
  }
  auto it = handlers_.find(*id);
  if (it == handlers_.end()) {
    ++discarded_;
    return;
  }
  // The handler may Call() or Forget(): keep it alive across the call.
  Handler h = it->second;
  if (h(message) || IsFinal(message)) handlers_.erase(*id);
}

}  // namespace laneway::supervisor::http
