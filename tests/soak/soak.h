// laneway-soak: the chaos soak with a ledger (docs/soak.md).
//
// Contract: the shared state of one soak run. Door threads (doors.cc) take turn
// numbers from a common budget, send them through their front door and record in
// the Ledger (ledger.cc) every turn the supervisor acknowledged and every outcome
// they saw. The main thread (main.cc) owns every process it starts (supervisor,
// Telegram double): it alone starts and kills them, so that PR_SET_PDEATHSIG,
// which follows the forking thread, never fires early. It also runs the chaos
// actions and samples the supervisor's fds and RSS. Door threads learn of a
// supervisor restart through `generation` and re-attach by idempotency key.
//
// Thread-safety: Shared's atomics and the Ledger (one mutex) are shared; all else
// belongs to the thread that made it.
#ifndef LANEWAY_TESTS_SOAK_SOAK_H_
#define LANEWAY_TESTS_SOAK_SOAK_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace laneway::soak {

using Clock = std::chrono::steady_clock;

struct Options {
  int64_t turns = 2000;
  int sessions = 200;
  uint64_t seed = 1;
  bool verbose = false;
};

// What a turn asks the test agent (soak_agent) to do; chosen from the message text.
// kOpenAi is not the exec agent's: the IPC door sends it to agent "oa", whose openai
// runner talks to tests/doubles/openai_double.py under --chaos (which may fail it).
enum class Mode { kOk, kStream, kHang, kExit1, kSegv, kIgnoreTerm, kFork, kGarbage, kOpenAi };
const char* ModeName(Mode m);
// Whether a turn of this mode may end `replied` (a hang or crash never does).
bool ModeMayReply(Mode m);

struct Shared {
  Options opt;
  std::string home;
  std::atomic<int64_t> next_turn{0};  // the budget: doors take numbers < opt.turns
  std::atomic<int64_t> issued{0};
  std::atomic<int64_t> resolved{0};
  std::atomic<int> generation{1};     // supervisor incarnation, bumped after a restart
  std::atomic<bool> sup_down{false};  // between a SIGKILL and the restart's ping
  std::atomic<bool> stop{false};      // doors: stop sending, finish what is in flight
  std::atomic<bool> abort{false};     // doors: give up now
  std::atomic<int64_t> sup_kills{0};
  // When each supervisor SIGKILL was sent, on CLOCK_MONOTONIC in seconds (the clock
  // of Python's time.monotonic(), which the Telegram double stamps sends with).
  std::mutex kills_mu;
  std::vector<double> kill_times;
  // Per door: turns sent and turns whose outcome arrived.
  std::atomic<int64_t> ipc{0}, ws{0}, http{0}, telegram{0}, cron{0};
  std::atomic<int64_t> openai{0};    // IPC turns sent to the openai agent "oa"
  int openai_port = 0;               // the openai double's port; 0: no openai turns
  std::atomic<int64_t> http_cut{0};  // HTTP requests cut by a supervisor kill
  std::atomic<int64_t> refused{0};   // submits refused before acceptance
  std::atomic<int64_t> unparked{0};  // parked sessions the soak restarted
  std::string http_token;

  // The home's gateway address (run/http.addr), "" if absent.
  std::string GatewayAddr() const;
  // Takes the next turn number of the budget, or -1 when it is spent.
  int64_t TakeTurn();
  // A session parked after repeated worker deaths refuses turns until an operator
  // restarts it: the soak does, as `laneway restart` would, if `error` says so.
  void UnparkIfParked(const std::string& error, const std::string& session);
};

// A turn's text: "<mode> sess=<name> tok=<token>." The agent echoes it after
// "LS=<its LANEWAY_SESSION>|", so a reply names where it ran and what it answered.
std::string TurnMessage(Mode m, const std::string& name, const std::string& token);
Mode PickMode(uint64_t r);

// Whether `reply` is a correct answer for session name `name` and `token`: it
// names a session ending in ":<name>" and carries `token` and no other token.
// On false, *why says what is wrong. (A kOpenAi reply is checked in ledger.cc.)
bool ReplyMatches(const std::string& reply, const std::string& name, const std::string& token,
                  std::string* why);

// The ledger of acknowledged turns, keyed by idempotency key.
class Ledger {
 public:
  struct Entry {
    std::string door;
    std::string session;  // the soak's session name
    std::string token;
    Mode mode = Mode::kOk;
    int64_t turn_id = 0;  // 0 while unknown (the WS door learns none)
    bool acknowledged = false;
    int outcomes = 0;  // distinct outcomes seen (two different ones is a violation)
    std::string status;
    std::string text;
    int generation = 0;  // incarnation that acknowledged it
  };

  // A turn about to be sent. Returns false if the key is taken (a bug of the soak).
  void Begin(const std::string& key, const std::string& door, const std::string& session,
             const std::string& token, Mode mode);
  // The supervisor acknowledged `key` with `turn_id` (0 if the door does not say).
  void Acknowledged(const std::string& key, int64_t turn_id, int generation);
  // An outcome for `key`. The same outcome again (a re-attach) is fine; another
  // one, or a reply that does not match, is a violation.
  void Outcome(const std::string& key, int64_t turn_id, const std::string& status,
               const std::string& text);
  void Violation(const std::string& text);
  // A known laneway defect (docs/soak.md "Findings"): a violation under
  // SOAK_STRICT=1, else counted under `kind` in the summary and printed as "known:".
  void Known(const std::string& kind, const std::string& text);
  std::map<std::string, int64_t> KnownCounts() const;
  std::vector<std::string> KnownTexts() const;

  std::vector<std::string> Violations() const;
  int64_t AcknowledgedCount() const;
  int64_t OutcomeCount() const;
  // Keys acknowledged without an outcome yet.
  std::vector<std::string> Unresolved() const;
  std::optional<Entry> Get(const std::string& key) const;
  std::vector<std::pair<std::string, Entry>> Snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> violations_;
  std::map<std::string, int64_t> known_;
  std::vector<std::string> known_texts_;
};

// Door threads (doors.cc). Each runs until the budget is spent and its turns are
// resolved, or `abort`.
void RunIpcDoor(Shared& sh, Ledger& ledger, int index, int threads);
void RunWsDoor(Shared& sh, Ledger& ledger, int index, int threads);
void RunHttpDoor(Shared& sh, Ledger& ledger, int index, int threads);

// Processes (procs.cc).
// Start time of `pid` in clock ticks since boot (/proc/pid/stat field 22), 0 if gone.
uint64_t StartTime(pid_t pid);
// True if no process is `pid` started at `start` (a reused pid is another process).
bool Gone(pid_t pid, uint64_t start);
// Reaps zombies that were re-parented to this process (a child subreaper), except
// the pids in `keep`.
void ReapOrphans(const std::vector<pid_t>& keep);
int CountFds(pid_t pid);
int64_t RssKb(pid_t pid);

}  // namespace laneway::soak

#endif  // LANEWAY_TESTS_SOAK_SOAK_H_
