// The laneway wire protocol (spec: docs/protocol.md).
//
// Every message is one ZeroMQ frame holding a msgpack map with at least
//   "v": protocol version (kProtocolVersion), "type": message type (string)
// and, per type, the fields documented in docs/protocol.md. Requests from the CLI
// carry "id" (an integer the client picks) which every reply echoes.
//
// Sockets: the supervisor binds two ROUTERs, control (CLI, DEALER peers) and
// workers (one DEALER per worker, routing id "w<worker id>").
#ifndef LANEWAY_COMMON_PROTOCOL_H_
#define LANEWAY_COMMON_PROTOCOL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/value.h"

namespace laneway::common {

inline constexpr int64_t kProtocolVersion = 1;

namespace msg {
// CLI -> supervisor
inline constexpr std::string_view kSubmit = "submit";  // agent, message, [session]
inline constexpr std::string_view kWait = "wait";      // turn_id
inline constexpr std::string_view kStatus = "status";
inline constexpr std::string_view kWorkers = "workers";
inline constexpr std::string_view kSessions = "sessions";
inline constexpr std::string_view kKill = "kill";        // session
inline constexpr std::string_view kRestart = "restart";  // session
inline constexpr std::string_view kCancel = "cancel";    // session
inline constexpr std::string_view kShutdown = "shutdown";
inline constexpr std::string_view kReload = "reload";
inline constexpr std::string_view kPing = "ping";
inline constexpr std::string_view kTurn = "turn";            // turn_id | idempotency_key
inline constexpr std::string_view kSubscribe = "subscribe";  // channel
inline constexpr std::string_view kDelivered = "delivered";  // turn_id
// supervisor -> CLI
inline constexpr std::string_view kAccepted = "accepted";  // turn_id, session
inline constexpr std::string_view kOutcome = "outcome";    // turn_id, session, status, reply|error
inline constexpr std::string_view kResult = "result";      // data
inline constexpr std::string_view kError = "error";        // error, code
inline constexpr std::string_view kProgress = "progress";  // turn_id, seq, delta
// worker -> supervisor
inline constexpr std::string_view kHello = "hello";  // worker_id, session | spare: true, pid
inline constexpr std::string_view kHeartbeat = "heartbeat";      // [turn_id]
inline constexpr std::string_view kDone = "done";                // turn_id, ok, reply|error, [meta]
inline constexpr std::string_view kWorkerProgress = "progress";  // turn_id, delta
// supervisor -> worker
inline constexpr std::string_view kRun = "run";  // turn_id, message
inline constexpr std::string_view kStop = "stop";
inline constexpr std::string_view kConfigure = "configure";  // agent (settings map)
inline constexpr std::string_view kBind = "bind";            // session, agent (to a spare)
}  // namespace msg

// Terminal and non-terminal states of a turn as the CLI reports them.
enum class TurnStatus {
  kPending,  // accepted, no outcome yet
  kReplied,
  kFailed,
  kTimedOut,
  kCancelled,
  kRejected,
  kInterrupted,
};
const char* TurnStatusName(TurnStatus s);
std::optional<TurnStatus> ParseTurnStatus(std::string_view name);

// A new message map {"v": 1, "type": type}.
Value NewMessage(std::string_view type);

// Encodes a message to its frame bytes.
std::string EncodeMessage(const Value& message);

// Decodes one frame: checks size (<= max_bytes), msgpack validity, that it is a map,
// that "v" equals kProtocolVersion and that "type" is a non-empty string.
Result<Value> DecodeMessage(const void* data, size_t size, size_t max_bytes);

// The "type" of a decoded message (DecodeMessage guarantees it is present).
const std::string& MessageType(const Value& message);

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_PROTOCOL_H_
