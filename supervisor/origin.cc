#include "supervisor/origin.h"

#include <string_view>

namespace laneway::supervisor {

using common::Status;
using common::Value;

namespace {

constexpr std::string_view kKinds[] = {"control", "ws", "http", "channel", "cron", "subagent"};
constexpr size_t kMaxFields = 16;
constexpr size_t kMaxFieldBytes = 256;

Value DefaultOrigin() {
  Value v = Value::MakeMap();
  v.Set("kind", "control");
  return v;
}

}  // namespace

common::Result<Value> ParseOrigin(const Value* origin) {
  if (origin == nullptr || origin->is_null()) return DefaultOrigin();
  if (!origin->is_map()) return Status::InvalidArgument("origin: expected a map");
  if (origin->as_map().size() > kMaxFields) {
    return Status::InvalidArgument("origin: more than " + std::to_string(kMaxFields) + " fields");
  }
  auto kind = origin->GetString("kind");
  if (!kind.ok()) return Status::InvalidArgument("origin: " + kind.status().message());
  bool known = false;
  for (std::string_view k : kKinds) known = known || *kind == k;
  if (!known) {
    return Status::InvalidArgument("origin: unknown kind '" + *kind +
                                   "' (expected control, ws, http, channel, cron or subagent)");
  }
  for (const auto& [key, v] : origin->as_map()) {
    if (key.size() > 64) return Status::InvalidArgument("origin: field name too long");
    if (v.is_string()) {
      if (v.as_string().size() > kMaxFieldBytes) {
        return Status::InvalidArgument("origin." + key + ": longer than " +
                                       std::to_string(kMaxFieldBytes) + " bytes");
      }
    } else if (!v.is_int() && !v.is_null() && !v.is_bool()) {
      return Status::InvalidArgument("origin." + key + ": expected a string or an integer");
    }
  }
  if (*kind == "channel") {
    auto ch = origin->GetString("channel");
    if (!ch.ok() || ch->empty()) {
      return Status::InvalidArgument(
          "origin.channel: required (the channel kind) for kind channel");
    }
  }
  return *origin;
}

bool OriginIsDefault(const Value& origin) {
  return origin.is_map() && origin.as_map().size() == 1 && OriginKind(origin) == "control";
}

std::string OriginKind(const Value& origin) {
  auto k = origin.GetStringOr("kind", "control");
  return k.ok() ? *k : "control";
}

std::string OriginChannel(const Value& origin) {
  if (OriginKind(origin) != "channel") return "";
  auto ch = origin.GetStringOr("channel", "");
  return ch.ok() ? *ch : "";
}

}  // namespace laneway::supervisor
