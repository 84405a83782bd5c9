#include "cli/deliver.h"

namespace laneway::cli {

namespace {

bool IsChatId(const std::string& s) {
  size_t i = !s.empty() && s[0] == '-' ? 1 : 0;
  if (i >= s.size() || s.size() > 20) return false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

bool IsKind(const std::string& s) {
  if (s.empty() || s.size() > 32) return false;
  for (char ch : s) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  }
  return true;
}

}  // namespace

bool ApplyDeliver(const Args& args, const std::string& agent, common::Value* request,
                  std::string* error) {
  auto channel = args.Get(kDeliverChannelFlag);
  auto to = args.Get(kDeliverToFlag);
  if (!args.Has("--deliver")) {
    if (channel || to) {
      *error = "--channel and --to go with --deliver";
      return false;
    }
    return true;
  }
  if (!channel && !to) return true;  // the reply is printed here only (compatibility)
  if (!channel || !to) {
    *error =
        "--deliver to a chat needs both --channel KIND and --to CHAT_ID "
        "(e.g. --channel telegram --to 42)";
    return false;
  }
  if (!IsKind(*channel)) {
    *error = "--channel: '" + *channel + "' is not a channel kind (e.g. telegram)";
    return false;
  }
  if (!IsChatId(*to)) {
    *error = "--to: '" + *to + "' is not a chat id (an integer, negative for groups)";
    return false;
  }
  common::Value origin = common::Value::MakeMap();
  origin.Set("kind", "channel");
  origin.Set("channel", *channel);
  origin.Set("chat_id", *to);
  request->Set("origin", std::move(origin));
  if (!args.Get("--session"))
    request->Set("session", "agent:" + agent + ":" + *channel + ":" + *to);
  return true;
}

}  // namespace laneway::cli
