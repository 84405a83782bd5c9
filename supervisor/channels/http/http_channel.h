// HttpChannel: the gateway port ([channels.http]): HTTP and WebSocket protocol 3
// on one listening socket, served by one thread running one io_context, talking
// to the core only through its CoreLink (docs/gateway.md).
//
// Start() (core thread): resolves the listen address (LANEWAY_HTTP_LISTEN
// overrides the config, and may ask for port 0), loads the token, refuses a
// non-loopback address without one, binds, connects the DEALER, writes the
// bound address to $LANEWAY_HOME/run/http.addr and starts the thread.
// Stop() stops the io_context and joins within milliseconds; open connections
// are dropped (their turns go on in the core).
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_HTTP_CHANNEL_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_HTTP_CHANNEL_H_

#include <memory>
#include <string>

#include "supervisor/channels/channel.h"

namespace laneway::supervisor::http {

inline constexpr const char* kListenOverrideEnv = "LANEWAY_HTTP_LISTEN";

class HttpChannel : public Channel {
 public:
  explicit HttpChannel(ChannelEnv env);
  ~HttpChannel() override;

  const char* kind() const override { return "http"; }
  common::Status Start() override;
  void Stop() override;
  common::Value State() const override;
  bool Ready() const override;

  // "127.0.0.1:18789" once bound, else "".
  std::string bound_address() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_HTTP_CHANNEL_H_
