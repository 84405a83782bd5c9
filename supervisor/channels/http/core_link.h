// CoreLink: the gateway's one connection to the core loop, a ZeroMQ DEALER
// (routing id "ch:http") speaking the control protocol of docs/protocol.md.
//
// Contract:
//  - Every call, and every handler, runs on the channel's io_context thread
//    (Open() excepted: it may run on the core thread before that thread starts).
//  - Call() stamps the request with a fresh "id" and sends it without blocking.
//    Every message the core sends with that id goes to the handler, in order;
//    the handler returns true when the exchange is over (an `outcome`, `result`
//    or `error`), after which the id is forgotten. A send that fails (the socket
//    is full or closed) is answered by an `error` message with code
//    "unavailable", posted, never delivered from inside Call().
//  - Forget(id) drops a handler (its client went away): later replies for that
//    id are counted and discarded. The core is never told; a turn is never
//    cancelled because its client disconnected.
//  - Readiness comes from the socket's ZMQ_FD through asio, plus a short
//    safety timer, so a missed edge costs at most kSafetyPoll.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_CORE_LINK_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_CORE_LINK_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/status.h"
#include "common/value.h"

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace laneway::supervisor::http {

class CoreLink {
 public:
  using Handler = std::function<bool(const common::Value& message)>;

  // `ctx` may be null: the link then owns a context of its own (for an ipc://
  // endpoint; inproc needs the supervisor's context).
  CoreLink(boost::asio::io_context& io, zmq::context_t* ctx, std::string endpoint,
           std::string routing_id, size_t max_message_bytes);
  ~CoreLink();
  CoreLink(const CoreLink&) = delete;
  CoreLink& operator=(const CoreLink&) = delete;

  common::Status Open();
  // Starts waiting for replies; call on the io thread (or before it runs).
  void Start();
  // Closes the socket; pending handlers are dropped without being called.
  void Close();

  int64_t Call(common::Value request, Handler handler);
  void Forget(int64_t id);

  size_t pending() const { return handlers_.size(); }
  uint64_t discarded() const { return discarded_; }
  uint64_t undecodable() const { return undecodable_; }

 private:
  void ArmWait();
  void ArmSafetyTimer();
  void Drain();
  void Dispatch(const common::Value& message);

  boost::asio::io_context& io_;
  std::unique_ptr<zmq::context_t> own_ctx_;
  zmq::context_t* ctx_;
  std::string endpoint_;
  std::string routing_id_;
  size_t max_message_bytes_;
  std::unique_ptr<zmq::socket_t> sock_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> fd_;
  boost::asio::steady_timer safety_;
  std::unordered_map<int64_t, Handler> handlers_;
  int64_t next_id_ = 1;
  bool draining_ = false;
  bool closed_ = false;
  uint64_t discarded_ = 0;
  uint64_t undecodable_ = 0;
};

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_CORE_LINK_H_
