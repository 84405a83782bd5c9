// Channel: a front door that runs on a thread of its own inside the supervisor
// process (the HTTP/WebSocket gateway port, Telegram, ...).
//
// Contract:
//  - A channel talks to the core loop only through the inproc front door: it
//    connects one ZeroMQ DEALER (routing id "ch:<kind>") to ChannelEnv::core_endpoint
//    on ChannelEnv::zmq_context, and speaks the control protocol of
//    docs/protocol.md over it (submit with origin / idempotency_key / stream,
//    wait, status, workers, sessions, kill, restart, cancel, turn, subscribe,
//    delivered). It never touches core state and the core never waits for it.
//  - Start() runs on the core thread before the loop runs: it checks its config
//    and binds what it listens on, so a bind failure fails `laneway up` with a
//    message naming the address, then starts its thread. Stop() asks the thread to
//    finish (bounded: it must return within a second) and joins it. The core calls
//    Stop() before it closes the inproc socket.
//  - Secrets (tokens) are read by the channel from the environment or a file the
//    config names; they are never logged or shown in status.
//  - State() is called from the core thread (status, health): implementations
//    keep a small mutex-guarded snapshot.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_CHANNEL_H_
#define LANEWAY_SUPERVISOR_CHANNELS_CHANNEL_H_

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/paths.h"
#include "common/status.h"
#include "common/value.h"

namespace zmq {
class context_t;
}

namespace laneway::supervisor {

// The inproc front door's endpoint.
inline constexpr const char* kCoreInprocEndpoint = "inproc://laneway-core";

struct ChannelEnv {
  zmq::context_t* zmq_context = nullptr;  // the supervisor's; inproc needs the same one
  std::string core_endpoint = kCoreInprocEndpoint;
  common::Paths paths;
  common::Config config;  // a copy at start; a channel's keys need a restart to change
};

class Channel {
 public:
  virtual ~Channel() = default;
  virtual const char* kind() const = 0;
  virtual common::Status Start() = 0;
  virtual void Stop() = 0;
  // A map for `status`: at least {"kind", "ok", "error"}; channel-specific fields beside.
  virtual common::Value State() const = 0;
  // False while the channel cannot serve (readyz).
  virtual bool Ready() const { return true; }
};

// Every channel the config enables, not yet started (supervisor/channels/registry.cc).
common::Result<std::vector<std::unique_ptr<Channel>>> MakeChannels(const ChannelEnv& env);

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_CHANNELS_CHANNEL_H_
