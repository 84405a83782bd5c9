// HttpResponder: how a request handler answers on its HTTP connection, either one
// whole response or a server-sent-event stream. Handlers hold it by weak_ptr:
// a client that left is simply not answered (its turn goes on).
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_HTTP_RESPONDER_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_HTTP_RESPONDER_H_

#include <string>

namespace laneway::supervisor::http {

class HttpResponder {
 public:
  virtual ~HttpResponder() = default;
  virtual void Respond(unsigned status, const std::string& content_type, std::string body) = 0;
  // 200 text/event-stream; the connection closes after EndEvents().
  virtual void BeginEvents() = 0;
  // One "data: <data>\n\n" event.
  virtual void SendEventData(const std::string& data) = 0;
  virtual void EndEvents() = 0;
  // The connection's id, for the turn's origin.
  virtual const std::string& conn_id() const = 0;
};

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_HTTP_RESPONDER_H_
