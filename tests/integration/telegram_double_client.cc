// The control API is plain HTTP/1.1 on loopback; a tiny socket client is enough
// and keeps libcurl out of the test binary.
#include "tests/integration/telegram_double_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

namespace laneway::testing {

namespace {

using nlohmann::json;

std::string DoublePath() {
  return std::string(LANEWAY_SOURCE_DIR) + "/tests/doubles/telegram_double.py";
}

}  // namespace

TelegramDouble::TelegramDouble() {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return;
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(out[1], 1);
    std::string script = DoublePath();
    execlp("python3", "python3", "-u", script.c_str(), "--token", kToken, "--bot-id",
           std::to_string(kBotId).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  // "PORT <n>\n" once it listens; bounded by the read timeout below.
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  while (std::chrono::steady_clock::now() < deadline && line.find('\n') == std::string::npos) {
    char buf[64];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n > 0) {
      line.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else {
      // Nothing yet: wait for the double to print, bounded by the deadline.
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{out[0], POLLIN, 0};
      (void)::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left.count())));
    }
  }
  ::close(out[0]);
  if (line.rfind("PORT ", 0) == 0) port_ = std::atoi(line.c_str() + 5);
}

TelegramDouble::~TelegramDouble() {
  if (pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

json TelegramDouble::Control(const std::string& op, const json& body) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return json();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return json();
  }
  const std::string payload = body.dump();
  std::string req = "POST /control/" + op +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Connection: close\r\nContent-Length: " +
                    std::to_string(payload.size()) + "\r\n\r\n" + payload;
  size_t off = 0;
  while (off < req.size()) {
    ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string resp;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t body_at = resp.find("\r\n\r\n");
  if (body_at == std::string::npos) return json();
  return json::parse(resp.substr(body_at + 4), nullptr, false);
}

int64_t TelegramDouble::Inject(int64_t user, const std::string& text) {
  json r = Control("inject", {{"chat_id", user}, {"from_id", user}, {"text", text}});
  return r.is_object() && r.contains("update_id") ? r["update_id"].get<int64_t>() : -1;
}

json TelegramDouble::Sent() {
  json r = Control("sent");
  return r.is_object() && r.contains("messages") ? r["messages"] : json::array();
}

json TelegramDouble::Stats() { return Control("stats"); }

std::vector<std::string> TelegramDouble::SentTo(int64_t chat) {
  std::vector<std::string> out;
  for (const json& m : Sent()) {
    if (m.value("chat_id", "") == std::to_string(chat)) out.push_back(m.value("text", ""));
  }
  return out;
}

std::string TelegramTable(const TelegramDouble& d, const std::string& extra) {
  return "[channels.telegram]\napi_base = \"" + d.api_base() +
         "\"\npoll_timeout = \"1s\"\nwatchdog_margin = \"2s\"\nretry_backoff = \"100ms\"\n"
         "retry_backoff_max = \"500ms\"\n" +
         extra;
}

namespace {

constexpr const char* kTelegramAgent = R"(#!/bin/sh
msg=$(cat)
case "$msg" in
  gate*)
    flock -s "$LANEWAY_HOME/gate.lock" true ;;
  long*)
    awk 'BEGIN { for (i = 0; i < 100; i++) { printf "para %03d ", i;
                 for (j = 0; j < 90; j++) printf "x"; if (i < 99) printf "\n\n" } }'
    exit 0 ;;
  bin*)
    printf 'bad:\377\376!'
    exit 0 ;;
  fail*)
    echo "agent failed on purpose" >&2
    exit 3 ;;
esac
printf 'reply:%s' "$msg"
)";

}  // namespace

std::string TelegramConfig(const TempHome& home, const TelegramDouble& d,
                           const std::string& channel_extra) {
  home.Write("tg_agent.sh", kTelegramAgent, 0755);
  return "[supervisor]\nheartbeat_interval = \"200ms\"\nheartbeat_timeout = \"5s\"\n"
         "[agents.main]\nrunner = \"exec\"\ncommand = [\"" +
         home.path() + "/tg_agent.sh\"]\nkill_grace = \"300ms\"\nretry_on_restart = true\n" +
         TelegramTable(d, channel_extra);
}

Env TelegramEnv() { return {{"TELEGRAM_BOT_TOKEN", TelegramDouble::kToken}}; }

int CountOf(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

}  // namespace laneway::testing
