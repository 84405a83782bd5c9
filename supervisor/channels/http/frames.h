// Protocol-3 frames (GATEWAY-PROTOCOL.md): req in, res and event out.
//
// The client drops any frame with a top-level key beyond its schema, so these
// builders are the only way frames are made: res has exactly type, id, ok and
// payload or error; error has exactly code and message; event has type, event,
// payload and seq.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_FRAMES_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_FRAMES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "supervisor/channels/http/json_value.h"

namespace laneway::supervisor::http {

inline constexpr int kProtocolVersion = 3;
inline constexpr const char* kInvalidRequest = "INVALID_REQUEST";
inline constexpr const char* kUnavailable = "UNAVAILABLE";

struct ReqFrame {
  std::string id;
  std::string method;
  Json params = Json::object();
};

// Parses a client frame. On error, *id holds the request id if one could be read
// (so the error can be answered to it), else "".
common::Result<ReqFrame> ParseReq(std::string_view text, std::string* id);

std::string ResOk(const std::string& id, const Json& payload);
std::string ResError(const std::string& id, const std::string& code, const std::string& message);
// seq < 0: no seq key (connect.challenge is sent without one).
std::string EventFrame(const std::string& event, const Json& payload, int64_t seq);

int64_t UnixMillis();
// A random RFC 4122 version-4 UUID string.
std::string NewUuid();

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_FRAMES_H_
