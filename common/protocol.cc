#include "common/protocol.h"

namespace laneway::common {

const char* TurnStatusName(TurnStatus s) {
  switch (s) {
    case TurnStatus::kPending:
      return "pending";
    case TurnStatus::kReplied:
      return "replied";
    case TurnStatus::kFailed:
      return "failed";
    case TurnStatus::kTimedOut:
      return "timed_out";
    case TurnStatus::kCancelled:
      return "cancelled";
    case TurnStatus::kRejected:
      return "rejected";
    case TurnStatus::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

std::optional<TurnStatus> ParseTurnStatus(std::string_view name) {
  for (TurnStatus s :
       {TurnStatus::kPending, TurnStatus::kReplied, TurnStatus::kFailed, TurnStatus::kTimedOut,
        TurnStatus::kCancelled, TurnStatus::kRejected, TurnStatus::kInterrupted}) {
    if (name == TurnStatusName(s)) return s;
  }
  return std::nullopt;
}

Value NewMessage(std::string_view type) {
  Value m = Value::MakeMap();
  m.Set("v", kProtocolVersion);
  m.Set("type", type);
  return m;
}

std::string EncodeMessage(const Value& message) { return EncodeMsgpack(message); }

Result<Value> DecodeMessage(const void* data, size_t size, size_t max_bytes) {
  if (size > max_bytes) {
    return Status::InvalidArgument("message of " + std::to_string(size) +
                                   " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  Result<Value> v = DecodeMsgpack(data, size);
  if (!v.ok()) return v;
  if (!v->is_map()) return Status::InvalidArgument("message is not a map");
  const Value* ver = v->Find("v");
  if (ver == nullptr || !ver->is_int()) {
    return Status::InvalidArgument("message has no protocol version 'v'");
  }
  if (ver->as_int() != kProtocolVersion) {
    return Status::InvalidArgument("unsupported protocol version " + std::to_string(ver->as_int()) +
                                   " (this build speaks " + std::to_string(kProtocolVersion) + ")");
  }
  const Value* type = v->Find("type");
  if (type == nullptr || !type->is_string() || type->as_string().empty()) {
    return Status::InvalidArgument("message has no 'type'");
  }
  return v;
}

const std::string& MessageType(const Value& message) { return message.Find("type")->as_string(); }

}  // namespace laneway::common
