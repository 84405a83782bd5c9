// The channel kinds of this build. A new kind adds one line here and one reader
// in common/config.cc ([channels.<kind>]).
#include "supervisor/channels/channel.h"
#include "supervisor/channels/http/http_channel.h"
#include "supervisor/channels/telegram/telegram_channel.h"

namespace laneway::supervisor {

common::Result<std::vector<std::unique_ptr<Channel>>> MakeChannels(const ChannelEnv& env) {
  std::vector<std::unique_ptr<Channel>> out;
  // [channels.http]: supervisor/channels/http/ (the gateway port).
  if (env.config.channels.http.enabled) out.push_back(std::make_unique<http::HttpChannel>(env));
  // [channels.telegram]: supervisor/channels/telegram/.
  if (env.config.channels.telegram.enabled) out.push_back(telegram::MakeTelegramChannel(env));
  return out;
}

}  // namespace laneway::supervisor
