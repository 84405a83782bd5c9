// `laneway agent --deliver --channel KIND --to CHAT_ID`: the turn's outcome is also
// sent to that chat by the channel (the seed's --deliver). The CLI only adds an
// origin {kind: "channel", channel, chat_id} to its submit; the core journals it and
// hands the outcome to the subscribed channel, which sends it and confirms it.
#ifndef LANEWAY_CLI_DELIVER_H_
#define LANEWAY_CLI_DELIVER_H_

#include <string>

#include "cli/args.h"
#include "common/value.h"

namespace laneway::cli {

// The flags `laneway agent` takes for delivery (with a value).
inline constexpr const char* kDeliverChannelFlag = "--channel";
inline constexpr const char* kDeliverToFlag = "--to";

// Sets request["origin"] (and, without --session, the chat's own session
// agent:<agent>:<channel>:<chat_id>) when --deliver comes with --channel and --to.
// --deliver alone is accepted as before (the reply is only printed). False with
// *error for a usage error: only one of --channel/--to, either without --deliver,
// a bad kind, or a chat id that is not an integer.
bool ApplyDeliver(const Args& args, const std::string& agent, common::Value* request,
                  std::string* error);

}  // namespace laneway::cli

#endif  // LANEWAY_CLI_DELIVER_H_
