// The Telegram door (soak.h): injects user messages into the double and, at the
// end, checks every update against what the bot sent.
#include "tests/soak/telegram_door.h"

#include <poll.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <set>

namespace laneway::soak {

namespace {

// A repeated reply is explained by a supervisor kill at most this long after the
// first copy was sent (seconds), or at most kSendSlack before it: the double stamps a
// send when it has read the request, which may be just after the sender was killed.
constexpr double kRepeatWindow = 5.0;
constexpr double kSendSlack = 1.0;

struct Injected {
  int64_t chat = 0;
  int64_t message_id = 0;
  std::string token;
  Mode mode = Mode::kOk;
};

// Telegram turns never print garbage: a 64 KiB reply is 17 messages at the
// double's pace, and garbage is tested on the other doors.
Mode TelegramMode(uint64_t r) {
  Mode m = PickMode(r);
  return m == Mode::kGarbage ? Mode::kOk : m;
}

}  // namespace

struct TelegramDoor::State {
  std::mutex mu;
  std::vector<Injected> injected;
};

TelegramDoor::TelegramDoor(testing::TelegramDouble& d) : double_(d), state_(new State) {}
TelegramDoor::~TelegramDoor() = default;

int64_t TelegramDoor::Answered(const nlohmann::json& sent) {
  std::set<std::pair<std::string, int64_t>> replied;
  for (const auto& m : sent) {
    if (m.contains("reply_to") && m["reply_to"].is_number_integer()) {
      replied.insert({m.value("chat_id", ""), m["reply_to"].get<int64_t>()});
    }
  }
  std::lock_guard<std::mutex> l(state_->mu);
  int64_t n = 0;
  for (const auto& i : state_->injected) n += replied.count({std::to_string(i.chat), i.message_id});
  return n;
}

void TelegramDoor::Run(Shared& sh, int chats, int max_outstanding) {
  std::mt19937_64 rng(sh.opt.seed * 1000 + 301);
  int64_t answered = 0;
  auto last_poll = Clock::now();
  while (!sh.abort.load()) {
    int64_t injected;
    {
      std::lock_guard<std::mutex> l(state_->mu);
      injected = static_cast<int64_t>(state_->injected.size());
    }
    if (Clock::now() - last_poll > std::chrono::seconds(2) ||
        injected - answered >= max_outstanding) {
      answered = Answered(double_.Sent());
      last_poll = Clock::now();
    }
    if (injected - answered >= max_outstanding) {
      ::poll(nullptr, 0, 200);
      continue;
    }
    const int64_t n = sh.TakeTurn();
    if (n < 0) return;
    Injected i;
    i.chat = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(chats));
    i.token = "g" + std::to_string(n);
    i.mode = TelegramMode(rng());
    const std::string name = "telegram:" + std::to_string(i.chat);
    nlohmann::json r = double_.Control(
        "inject", {{"chat_id", i.chat}, {"from_id", i.chat}, {"text", TurnMessage(i.mode, name, i.token)}});
    sh.resolved.fetch_add(1);
    if (!r.is_object() || !r.contains("message_id")) {
      sh.refused.fetch_add(1);
      continue;
    }
    i.message_id = r["message_id"].get<int64_t>();
    sh.telegram.fetch_add(1);
    std::lock_guard<std::mutex> l(state_->mu);
    state_->injected.push_back(i);
  }
}

TelegramDoor::Result TelegramDoor::Check(Ledger& ledger, const std::vector<double>& kill_times,
                                         std::chrono::seconds wait) {
  Result res;
  const auto deadline = Clock::now() + wait;
  nlohmann::json sent = double_.Sent();
  int64_t total;
  {
    std::lock_guard<std::mutex> l(state_->mu);
    total = static_cast<int64_t>(state_->injected.size());
  }
  while (Answered(sent) < total && Clock::now() < deadline) {
    ::poll(nullptr, 0, 500);
    sent = double_.Sent();
  }
  std::lock_guard<std::mutex> l(state_->mu);
  // (chat, replied-to message) -> each reply's text and when the double got it.
  std::map<std::pair<std::string, int64_t>, std::vector<std::pair<double, std::string>>> replies;
  std::map<std::string, std::string> chat_of_token;
  for (const auto& i : state_->injected) chat_of_token[i.token] = std::to_string(i.chat);
  for (const auto& m : sent) {
    const std::string chat = m.value("chat_id", "");
    const std::string text = m.value("text", "");
    if (m.contains("reply_to") && m["reply_to"].is_number_integer()) {
      const double at = m.contains("at") && m["at"].is_number() ? m["at"].get<double>() : 0;
      replies[{chat, m["reply_to"].get<int64_t>()}].push_back({at, text});
    }
    for (size_t p = text.find("tok=g"); p != std::string::npos; p = text.find("tok=g", p + 4)) {
      size_t dot = text.find('.', p);
      const std::string t = text.substr(p + 4, dot == std::string::npos ? 0 : dot - p - 4);
      auto it = chat_of_token.find(t);
      if (it == chat_of_token.end() || it->second != chat) {
        ledger.Violation("telegram: token " + t + " sent to chat " + chat + ", injected in chat " +
                         (it == chat_of_token.end() ? "none" : it->second));
      }
    }
  }
  for (const auto& i : state_->injected) {
    const std::string chat = std::to_string(i.chat);
    auto it = replies.find({chat, i.message_id});
    const std::string where = "telegram chat " + chat + " message " +
                              std::to_string(i.message_id) + " (" + i.token + ", " +
                              ModeName(i.mode) + ")";
    if (it == replies.end()) {
      ++res.unanswered;
      ledger.Violation(where + ": never answered");
      continue;
    }
    ++res.answered;
    const auto& copies = it->second;
    for (size_t c = 1; c < copies.size(); ++c) {
      ++res.repeated;
      if (std::getenv("SOAK_VERBOSE")) {
        std::fprintf(stderr, "telegram repeat %s: %s\n", where.c_str(),
                     copies[c].second.substr(0, 160).c_str());
      }
      // docs/telegram.md: the one window is between Telegram's accepting a piece and
      // its being durable (the piece count, or the core's `delivered`). So a repeat
      // is explained only by a supervisor kill soon after the first copy went out
      // and before this one did. "Soon": kRepeatWindow, which covers a full journal
      // disk held for up to a second and the rewrite after it.
      const double before = copies[c - 1].first, after = copies[c].first;
      bool explained = false;
      for (double k : kill_times) {
        explained =
            explained || (k >= before - kSendSlack && k <= after && k - before <= kRepeatWindow);
      }
      if (!explained) {
        ++res.unexplained_repeats;
        ledger.Known("tg_repeat",
                     where + ": answered again " + std::to_string(after - before) +
                         " s later, with no supervisor kill in between soon enough: '" +
                         copies[c].second.substr(0, 80) + "'");
      }
    }
    for (const auto& [at, t] : copies) {
      if (t != copies.front().second) {
        ledger.Known("tg_two_outcomes", where + ": answered twice, differently: '" +
                                            copies.front().second.substr(0, 80) + "' and '" +
                                            t.substr(0, 80) + "'");
        break;
      }
    }
    const std::string& text = copies.front().second;
    std::string why;
    if (text.find("LS=") != std::string::npos) {
      if (!ModeMayReply(i.mode)) {
        ledger.Violation(where + ": replied although the agent never answers");
      } else if (!ReplyMatches(text, "telegram:" + chat, i.token, &why)) {
        ledger.Violation(where + ": wrong reply: " + why);
      }
    }
  }
  return res;
}

}  // namespace laneway::soak
