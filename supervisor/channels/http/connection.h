// Connection: what the method table needs of a WebSocket client connection.
// Methods hold it by weak_ptr: a reply for a client that went away is dropped
// (its turn goes on; agent.wait finds the outcome later).
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_CONNECTION_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_CONNECTION_H_

#include <string>

#include "supervisor/channels/http/json_value.h"

namespace laneway::supervisor::http {

class Connection {
 public:
  virtual ~Connection() = default;
  // Queues one text frame (frames.h builders only). Dropped once closing.
  virtual void SendFrame(std::string frame) = 0;
  // Queues an event frame numbered with this connection's event seq.
  virtual void SendEvent(const std::string& event, const Json& payload) = 0;
  virtual const std::string& conn_id() const = 0;
};

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_CONNECTION_H_
