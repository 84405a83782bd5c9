// The ledger, the turn texts and their checks (soak.h).
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/proc_stat.h"
#include "tests/soak/soak.h"

namespace laneway::soak {

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kOk:
      return "ok";
    case Mode::kStream:
      return "stream";
    case Mode::kHang:
      return "hang";
    case Mode::kExit1:
      return "exit1";
    case Mode::kSegv:
      return "segv";
    case Mode::kIgnoreTerm:
      return "ignterm";
    case Mode::kFork:
      return "fork";
    case Mode::kGarbage:
      return "garbage";
    case Mode::kOpenAi:
      return "openai";
  }
  return "ok";
}

bool ModeMayReply(Mode m) {
  return m == Mode::kOk || m == Mode::kStream || m == Mode::kFork || m == Mode::kGarbage ||
         m == Mode::kOpenAi;
}

Mode PickMode(uint64_t r) {
  // Per mille: most turns answer; the rest misbehave in each way the brief lists.
  const uint64_t x = r % 1000;
  if (x < 640) return Mode::kOk;
  if (x < 760) return Mode::kStream;
  if (x < 780) return Mode::kHang;
  if (x < 820) return Mode::kExit1;
  if (x < 850) return Mode::kSegv;
  if (x < 865) return Mode::kIgnoreTerm;
  if (x < 930) return Mode::kFork;
  return Mode::kGarbage;
}

std::string TurnMessage(Mode m, const std::string& name, const std::string& token) {
  return std::string(ModeName(m)) + " sess=" + name + " tok=" + token + ".";
}

bool ReplyMatches(const std::string& reply, const std::string& name, const std::string& token,
                  std::string* why) {
  size_t ls = reply.find("LS=");
  if (ls == std::string::npos) {
    *why = "no LS= in reply";
    return false;
  }
  size_t bar = reply.find('|', ls);
  const std::string ran = reply.substr(ls + 3, bar == std::string::npos ? 0 : bar - ls - 3);
  const std::string suffix = ":" + name;
  if (ran.size() < suffix.size() ||
      ran.compare(ran.size() - suffix.size(), suffix.size(), suffix)) {
    *why = "ran in session '" + ran + "', expected *" + suffix;
    return false;
  }
  bool found = false;
  for (size_t p = reply.find("tok="); p != std::string::npos; p = reply.find("tok=", p + 4)) {
    size_t dot = reply.find('.', p);
    const std::string t = reply.substr(p + 4, dot == std::string::npos ? 0 : dot - p - 4);
    if (t != token) {
      *why = "carries token '" + t + "', expected '" + token + "'";
      return false;
    }
    found = true;
  }
  if (!found) *why = "no token in reply";
  return found;
}

namespace {

// Whether `reply` is exactly the openai double's echo of the turn's message (a
// replayed history of another session it answers "history-mismatch: ...").
bool OpenAiReplyMatches(const std::string& reply, const std::string& name, const std::string& token,
                        std::string* why) {
  const std::string want = "echo: " + TurnMessage(Mode::kOpenAi, name, token);
  if (reply == want) return true;
  *why = "'" + reply.substr(0, 200) + "', expected '" + want + "'";
  return false;
}

}  // namespace

void Ledger::Begin(const std::string& key, const std::string& door, const std::string& session,
                   const std::string& token, Mode mode) {
  std::lock_guard<std::mutex> l(mu_);
  Entry& e = entries_[key];
  e.door = door;
  e.session = session;
  e.token = token;
  e.mode = mode;
}

void Ledger::Acknowledged(const std::string& key, int64_t turn_id, int generation) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    violations_.push_back("acknowledged unknown key " + key);
    return;
  }
  Entry& e = it->second;
  if (turn_id != 0 && e.turn_id != 0 && e.turn_id != turn_id) {
    violations_.push_back("key " + key + " acknowledged as turn " + std::to_string(e.turn_id) +
                          " and again as turn " + std::to_string(turn_id) + " (ran twice)");
  }
  if (turn_id != 0) e.turn_id = turn_id;
  if (!e.acknowledged) e.generation = generation;
  e.acknowledged = true;
}

void Ledger::Outcome(const std::string& key, int64_t turn_id, const std::string& status,
                     const std::string& text) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    violations_.push_back("outcome for unknown key " + key);
    return;
  }
  Entry& e = it->second;
  const std::string where =
      e.door + " " + key + " (turn " + std::to_string(e.turn_id) + ", " + ModeName(e.mode) + ")";
  if (turn_id != 0 && e.turn_id != 0 && turn_id != e.turn_id) {
    violations_.push_back(where + ": outcome of turn " + std::to_string(turn_id));
  }
  if (turn_id != 0) e.turn_id = turn_id;
  e.acknowledged = true;  // an outcome is an acknowledgement too
  if (e.outcomes > 0) {
    if (status != e.status || text != e.text) {
      violations_.push_back(where + ": second, different outcome " + status + " after " + e.status);
      ++e.outcomes;
    }
    return;
  }
  e.outcomes = 1;
  e.status = status;
  e.text = text;
  if (status == "replied") {
    std::string why;
    if (!ModeMayReply(e.mode)) {
      violations_.push_back(where + ": replied although the agent never answers");
    } else if (e.mode == Mode::kOpenAi ? !OpenAiReplyMatches(text, e.session, e.token, &why)
                                       : !ReplyMatches(text, e.session, e.token, &why)) {
      violations_.push_back(where + ": wrong reply: " + why);
    }
  }
}

void Ledger::Violation(const std::string& text) {
  std::lock_guard<std::mutex> l(mu_);
  violations_.push_back(text);
}

void Ledger::Known(const std::string& kind, const std::string& text) {
  static const bool strict = std::getenv("SOAK_STRICT") && *std::getenv("SOAK_STRICT") == '1';
  std::lock_guard<std::mutex> l(mu_);
  if (strict) {
    violations_.push_back(text);
    return;
  }
  ++known_[kind];
  known_texts_.push_back(kind + ": " + text);
}

std::map<std::string, int64_t> Ledger::KnownCounts() const {
  std::lock_guard<std::mutex> l(mu_);
  return known_;
}

std::vector<std::string> Ledger::KnownTexts() const {
  std::lock_guard<std::mutex> l(mu_);
  return known_texts_;
}

std::vector<std::string> Ledger::Violations() const {
  std::lock_guard<std::mutex> l(mu_);
  return violations_;
}

int64_t Ledger::AcknowledgedCount() const {
  std::lock_guard<std::mutex> l(mu_);
  int64_t n = 0;
  for (const auto& [k, e] : entries_) n += e.acknowledged;
  return n;
}

int64_t Ledger::OutcomeCount() const {
  std::lock_guard<std::mutex> l(mu_);
  int64_t n = 0;
  for (const auto& [k, e] : entries_) n += e.outcomes;
  return n;
}

std::vector<std::string> Ledger::Unresolved() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (const auto& [k, e] : entries_) {
    if (e.acknowledged && e.outcomes == 0) out.push_back(k);
  }
  return out;
}

std::optional<Ledger::Entry> Ledger::Get(const std::string& key) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, Ledger::Entry>> Ledger::Snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  return {entries_.begin(), entries_.end()};
}

std::string Shared::GatewayAddr() const {
  std::ifstream f(home + "/run/http.addr");
  std::string a;
  std::getline(f, a);
  return a;
}

int64_t Shared::TakeTurn() {
  if (stop.load()) return -1;
  int64_t n = next_turn.fetch_add(1);
  if (n >= opt.turns) return -1;
  issued.fetch_add(1);
  return n;
}

uint64_t StartTime(pid_t pid) {
  const auto start = common::ProcStatField(pid, 22);  // starttime
  return start ? std::strtoull(start->c_str(), nullptr, 10) : 0;
}

bool Gone(pid_t pid, uint64_t start) {
  const uint64_t now = StartTime(pid);
  return now == 0 || (start != 0 && now != start);
}

void ReapOrphans(const std::vector<pid_t>& keep) {
  DIR* d = ::opendir("/proc");
  if (!d) return;
  const pid_t self = ::getpid();
  while (dirent* e = ::readdir(d)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    bool kept = false;
    for (pid_t k : keep) kept |= k == pid;
    if (kept) continue;
    const std::vector<std::string> f = common::ProcStatFields(pid);  // [0] state, [1] ppid
    if (f.size() >= 2 && f[0] == "Z" && std::atol(f[1].c_str()) == self) {
      ::waitpid(pid, nullptr, WNOHANG);
    }
  }
  ::closedir(d);
}

int CountFds(pid_t pid) {
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!d) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n;
}

int64_t RssKb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

}  // namespace laneway::soak
