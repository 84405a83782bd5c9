// Start() does only what can fail fast and locally (the token, the state
// directory); everything that talks to Telegram happens on the channel thread,
// with back-off, so an unreachable API never fails or delays `laneway up`.
#include "supervisor/channels/telegram/telegram_channel.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "common/log.h"
#include "supervisor/channels/telegram/bot_api.h"
#include "supervisor/channels/telegram/channel_loop.h"

namespace laneway::supervisor::telegram {

namespace {

using common::Status;
using common::Value;

bool IsTokenChar(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == ':' || ch == '_' || ch == '-';
}

common::Result<std::string> ReadTokenFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::FromErrno("channels.telegram.bot_token_file: cannot read " + path, errno);
  std::string text;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > 4096) break;
  }
  ::close(fd);
  return text;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

TelegramChannel::TelegramChannel(const ChannelEnv& env) : env_(env) {}

TelegramChannel::~TelegramChannel() { Stop(); }

Status TelegramChannel::Start() {
  const common::TelegramChannelConfig& cfg = env_.config.channels.telegram;
  std::string where;
  if (!cfg.bot_token_file.empty()) {
    auto text = ReadTokenFile(cfg.bot_token_file);
    if (!text.ok()) return text.status();
    token_ = Trim(*text);
    where = "channels.telegram.bot_token_file " + cfg.bot_token_file;
  } else {
    const char* v = std::getenv(cfg.bot_token_env.c_str());
    token_ = v == nullptr ? "" : Trim(v);
    where = "channels.telegram.bot_token_env: environment variable " + cfg.bot_token_env;
  }
  if (token_.empty()) return Status::InvalidArgument(where + " holds no bot token");
  for (char ch : token_) {
    if (!IsTokenChar(ch)) {
      return Status::InvalidArgument(where + " does not hold a bot token (unexpected characters)");
    }
  }
  Status made = common::MakeDirs(env_.paths.home + "/channels/telegram", 0700);
  if (!made.ok()) return made;
  InitCurlOnce();  // not thread-safe itself: here, before any channel thread runs
  stop_ = false;
  thread_ = std::thread([this] {
    ChannelLoop loop(env_, token_, &stop_, &poll_health_, &health_);
    loop.Run();
  });
  common::LogLine(common::LogLevel::kInfo, "telegram_channel_started")
      .Kv("agent", cfg.agent)
      .Kv("groups", cfg.groups ? "on" : "off")
      .Kv("allow_from",
          cfg.allow_everyone ? "everyone" : std::to_string(cfg.allow_from.size()) + " users");
  if (cfg.allow_everyone) {
    // Not an error (a public bot is a valid choice), but never a silent one.
    common::LogLine(common::LogLevel::kWarn, "telegram_open_to_everyone")
        .Kv("hint", "set channels.telegram.allow_from to the user ids that may talk to the agent");
  }
  return Status::Ok();
}

void TelegramChannel::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

Value TelegramChannel::State() const {
  Value v = Value::MakeMap();
  v.Set("kind", "telegram");
  std::string poll_fault, poll_error;
  Value poll = Value::MakeMap();
  {
    std::lock_guard<std::mutex> l(poll_health_.mu);
    poll_fault = poll_health_.fault;
    poll_error = poll_health_.last_error;
    poll.Set("last_ok_unix_ms", poll_health_.last_ok_unix_ms);
    poll.Set("polls", poll_health_.polls);
    poll.Set("errors", poll_health_.poll_errors);
    poll.Set("watchdog_restarts", poll_health_.watchdog_restarts);
    poll.Set("conflicts", poll_health_.conflicts);
    poll.Set("rate_limited", poll_health_.rate_limited);
    poll.Set("updates", poll_health_.updates);
    poll.Set("fault", poll_fault.empty() ? Value() : Value(poll_fault));
    poll.Set("last_error", poll_error.empty() ? Value() : Value(poll_error));
  }
  std::lock_guard<std::mutex> l(health_.mu);
  const bool ok = health_.connected && poll_fault.empty() && health_.error.empty();
  v.Set("ok", ok);
  std::string error = !health_.error.empty() ? health_.error
                      : !poll_fault.empty()  ? poll_fault + ": " + poll_error
                      : !health_.connected   ? "connecting"
                                             : "";
  v.Set("error", error.empty() ? Value() : Value(error));
  v.Set("fault", poll_fault.empty() ? Value() : Value(poll_fault));
  v.Set("bot_id", health_.bot_id);
  v.Set("bot_username", health_.bot_username);
  v.Set("offset", health_.offset);
  v.Set("poll", std::move(poll));
  v.Set("submitted", health_.submitted);
  v.Set("rejected", health_.rejected);
  v.Set("refused", health_.refused);
  v.Set("ignored", health_.ignored);
  v.Set("messages_sent", health_.messages_sent);
  v.Set("send_errors", health_.send_errors);
  v.Set("delivered", health_.delivered);
  v.Set("pending_deliveries", health_.pending_deliveries);
  v.Set("pending_turns", health_.pending_turns);
  return v;
}

bool TelegramChannel::Ready() const {
  std::lock_guard<std::mutex> l(health_.mu);
  return health_.connected;
}

std::unique_ptr<Channel> MakeTelegramChannel(const ChannelEnv& env) {
  return std::make_unique<TelegramChannel>(env);
}

}  // namespace laneway::supervisor::telegram
