// Issue 9, "`laneway wait` forgets": finished turns stay answerable within
// [supervisor] remember_turns / remember_for, and an id that fell out of that
// window answers `forgotten` (not `unknown_turn`, which stays for ids never issued),
// also across a restart and a journal rewrite. Driven with a fake clock: an hour in
// microseconds.
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "tests/unit/supervisor/core_harness.h"

namespace laneway::supervisor {
namespace {

using common::Value;

// The core harness with one session's worker and the remembered-window calls.
class Harness : public core_test::CoreHarness {
 public:
  using CoreHarness::CoreHarness;

  // A new supervisor on the same journal (the clock goes on).
  void Restart() {
    core_->Finish();
    Reopen();
    worker_ = 0;
  }
  // Submits a turn on agent:main:main (request `req`); returns its turn id.
  int64_t Submit(int64_t req, const std::string& message, const std::string& key = "") {
    Value m = common::NewMessage(common::msg::kSubmit);
    m.Set("id", req);
    m.Set("agent", "main");
    m.Set("message", message);
    if (!key.empty()) m.Set("idempotency_key", key);
    Control(m);
    const int64_t turn = TurnOf(req);
    EXPECT_GT(turn, 0) << "not accepted";
    return turn;
  }
  // The worker just spawned for the session says hello (the run follows).
  void StartWorker() {
    EXPECT_EQ(spawner_.specs.size(), spawned_ + 1) << "one worker for the session";
    spawned_ = spawner_.specs.size();
    worker_ = spawner_.worker_ids.back();
    Value hello = common::NewMessage(common::msg::kHello);
    hello.Set("worker_id", static_cast<int64_t>(worker_));
    hello.Set("session", "agent:main:main");
    hello.Set("pid", static_cast<int64_t>(spawner_.pids.back()));
    FromWorker(worker_, hello);
  }
  // The worker replies to `turn`.
  void Reply(int64_t turn, const std::string& reply) { Done(worker_, turn, reply); }
  // Submits a turn on agent:main:main and has the (one) worker reply to it; returns
  // its turn id.
  int64_t RunTurn(const std::string& message, const std::string& key = "") {
    const int64_t req = ++own_req_;
    const int64_t turn = Submit(req, message, key);
    if (worker_ == 0) StartWorker();
    Reply(turn, "reply:" + message);
    EXPECT_EQ(Last(req).GetStringOr("status", "").value(), "replied") << message;
    return turn;
  }
  // The last message sent to the CLI answering request `req` (null if none).
  Value Last(int64_t req) const {
    for (auto it = transport_.sent.rbegin(); it != transport_.sent.rend(); ++it) {
      if (it->to.door == Door::kControl && it->msg.GetIntOr("id", -1).value() == req) {
        return it->msg;
      }
    }
    return Value();
  }
  // A `wait` (or `turn`, with type "turn") on turn_id or idempotency key; the reply.
  Value Ask(const char* type, int64_t turn_id, const std::string& key = "") {
    Value m = common::NewMessage(type);
    m.Set("id", ++own_req_);
    if (key.empty()) {
      m.Set("turn_id", turn_id);
    } else {
      m.Set("idempotency_key", key);
    }
    Control(m);
    return Last(own_req_);
  }
  int64_t Counter(const char* name) { return CounterValue(name); }

 private:
  // Request ids of this class's calls, far above the base's (which start at 1).
  int64_t own_req_ = 1'000'000;
  uint64_t worker_ = 0;  // the live worker's id, 0 = none
  size_t spawned_ = 0;   // launches seen, over every core
};

// The type of a message ("" for a null Value: no reply).
std::string TypeOf(const Value& m) {
  const Value* t = m.is_map() ? m.Find("type") : nullptr;
  return t && t->is_string() ? t->as_string() : "";
}
// The code of an error reply ("" for anything else).
std::string ErrorCode(const Value& m) {
  if (TypeOf(m) != common::msg::kError) return "";
  return m.GetStringOr("code", "").value();
}
std::string ErrorText(const Value& m) { return m.GetStringOr("error", "").value(); }

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr const char* kThreeTurns = R"(
[supervisor]
remember_turns = 3
idle_timeout = "100h"
heartbeat_timeout = "100h"
[agents.main]
runner = "exec"
command = ["/bin/true"]
)";

constexpr const char* kOneHour = R"(
[supervisor]
remember_for = "1h"
idle_timeout = "100h"
heartbeat_timeout = "100h"
[agents.main]
runner = "exec"
command = ["/bin/true"]
)";

constexpr const char* kOneHourLongRuns = R"(
[supervisor]
remember_for = "1h"
idle_timeout = "100h"
heartbeat_timeout = "100h"
[agents.main]
runner = "exec"
command = ["/bin/true"]
run_timeout = "2h"
)";

TEST(RememberLedgerTest, TurnsBeyondRememberTurnsAreForgottenAndNeverIssuedIdsStayUnknown) {
  Harness h(kThreeTurns);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(h.RunTurn("m" + std::to_string(i)), i);
  // 1 and 2 have three newer finished turns each: out of the window.
  for (int64_t id : {1, 2}) {
    Value w = h.Ask("wait", id);
    EXPECT_EQ(ErrorCode(w), "forgotten") << common::ToJson(w);
    EXPECT_EQ(ErrorText(w), "turn " + std::to_string(id) +
                                " is forgotten: older than the retained window (remember_turns=3, "
                                "remember_for=24h; at most 64 MiB of outcome text)");
    EXPECT_EQ(ErrorCode(h.Ask("turn", id)), "forgotten");
  }
  // 3 is the oldest still in: answered with its outcome.
  Value kept = h.Ask("wait", 3);
  EXPECT_EQ(TypeOf(kept), "outcome");
  EXPECT_EQ(kept.GetStringOr("reply", "").value(), "reply:m3");
  EXPECT_EQ(TypeOf(h.Ask("turn", 5)), "result");
  // Never issued: above the next id, and 0.
  for (int64_t id : {6, 1000, 0}) {
    Value w = h.Ask("wait", id);
    EXPECT_EQ(ErrorCode(w), "unknown_turn") << id;
    EXPECT_EQ(ErrorText(w).find("forgotten"), std::string::npos) << ErrorText(w);
  }
  EXPECT_EQ(h.Counter("turns_forgotten"), 2);
}

TEST(RememberLedgerTest, AFinishedTurnIsAnsweredForRememberForAndForgottenOnceOlder) {
  Harness h(kOneHour);
  const int64_t id = h.RunTurn("a");
  h.Advance(hours(1));
  EXPECT_EQ(TypeOf(h.Ask("wait", id)), "outcome")
      << "ended exactly remember_for ago: still in the window";
  h.Advance(seconds(1));  // older now; the once-a-second sweep forgets it
  Value w = h.Ask("wait", id);
  EXPECT_EQ(ErrorCode(w), "forgotten") << common::ToJson(w);
  EXPECT_NE(ErrorText(w).find("remember_for=1h"), std::string::npos) << ErrorText(w);
  // A turn that ended later is still remembered.
  const int64_t next = h.RunTurn("b");
  EXPECT_EQ(next, id + 1) << "ids are never reused";
  EXPECT_EQ(TypeOf(h.Ask("wait", next)), "outcome");
}

TEST(RememberLedgerTest, AgeCountsFromTheEndOfTheTurnNotItsAcceptance) {
  Harness h(kOneHourLongRuns);
  // Accepted, then 50 minutes running before its outcome.
  const int64_t id = h.Submit(900, "slow");
  h.StartWorker();
  h.clock_.Advance(minutes(50));  // one jump: no sweep and no timer in between
  h.Reply(id, "late");
  h.clock_.Advance(minutes(59));
  h.Pass();
  EXPECT_EQ(TypeOf(h.Ask("wait", id)), "outcome")
      << "109 minutes after acceptance but 59 after its end";
}

TEST(RememberLedgerTest, TheWindowHoldsAcrossARestart) {
  Harness h(kThreeTurns);
  for (int i = 1; i <= 5; ++i) h.RunTurn("m" + std::to_string(i));
  h.Restart();
  // The journal still holds all five; the new supervisor applies the same window.
  EXPECT_EQ(ErrorCode(h.Ask("wait", 1)), "forgotten");
  EXPECT_EQ(ErrorCode(h.Ask("wait", 2)), "forgotten");
  for (int64_t id : {3, 4, 5}) {
    Value w = h.Ask("wait", id);
    EXPECT_EQ(w.GetStringOr("reply", "").value(), "reply:m" + std::to_string(id)) << id;
  }
  EXPECT_EQ(ErrorCode(h.Ask("wait", 6)), "unknown_turn");
  EXPECT_EQ(h.RunTurn("m6"), 6) << "the next id survives the restart";
  EXPECT_EQ(ErrorCode(h.Ask("wait", 3)), "forgotten") << "6 pushed 3 out";
}

TEST(RememberLedgerTest, AgeingHoldsAcrossARestartFromTheJournaledEndTime) {
  Harness h(kOneHour);
  const int64_t old_turn = h.RunTurn("old");
  h.Advance(minutes(40));
  const int64_t young = h.RunTurn("young");
  h.Advance(minutes(10));
  h.Restart();
  EXPECT_EQ(TypeOf(h.Ask("wait", old_turn)), "outcome") << "50 minutes old";
  h.Restart();
  h.clock_.Advance(minutes(11));  // down for 11 minutes: the old one is 61 minutes old
  h.Restart();
  EXPECT_EQ(ErrorCode(h.Ask("wait", old_turn)), "forgotten")
      << "forgotten at start-up, before any sweep";
  EXPECT_EQ(TypeOf(h.Ask("wait", young)), "outcome");
}

TEST(RememberLedgerTest, AForgottenIdempotencyKeyIsUnknownAndItsResubmitRunsAgain) {
  Harness h(kOneHour);
  const int64_t first = h.RunTurn("once", "key-1");
  Value attached = h.Ask("wait", 0, "key-1");
  EXPECT_EQ(attached.GetIntOr("turn_id", 0).value(), first);
  h.Advance(hours(1) + seconds(1));
  Value w = h.Ask("wait", 0, "key-1");
  EXPECT_EQ(ErrorCode(w), "unknown_turn") << "a key leaves memory with its turn";
  EXPECT_NE(ErrorText(w).find("forgotten"), std::string::npos) << ErrorText(w);
  // The window's contract: after it, the same key is a new turn.
  const int64_t again = h.RunTurn("once", "key-1");
  EXPECT_EQ(again, first + 1);
  EXPECT_EQ(h.Ask("wait", 0, "key-1").GetIntOr("turn_id", 0).value(), again);
  EXPECT_EQ(ErrorCode(h.Ask("wait", first)), "forgotten");
  // After a restart the journal holds both turns with that key: the newer one owns it.
  h.Restart();
  EXPECT_EQ(h.Ask("wait", 0, "key-1").GetIntOr("turn_id", 0).value(), again);
}

TEST(RememberLedgerTest, ARewriteThatDropsEveryFinishedTurnKeepsTheNextId) {
  std::atomic<bool> fail_next{false};
  Harness h(kOneHour, [&fail_next]() {
    if (fail_next.exchange(false)) return common::Status::IoError("journal sync: EIO (test)");
    return common::Status::Ok();
  });
  for (int i = 1; i <= 3; ++i) h.RunTurn("m" + std::to_string(i));
  h.Advance(hours(1) + seconds(1));
  EXPECT_EQ(h.Counter("turns_forgotten"), 3);
  // A failed sync: the journal is rewritten from memory, which holds no turn at all.
  fail_next = true;
  Value m = common::NewMessage(common::msg::kSubmit);
  m.Set("id", 700);
  m.Set("agent", "main");
  m.Set("message", "refused");
  h.Control(m);
  EXPECT_EQ(h.Last(700).GetStringOr("status", "").value(), "rejected");
  h.Advance(seconds(2));
  EXPECT_EQ(h.Counter("journal_rewrites"), 1);
  h.Restart();
  EXPECT_EQ(ErrorCode(h.Ask("wait", 2)), "forgotten") << "still inside the journal's range";
  EXPECT_EQ(ErrorCode(h.Ask("wait", 5)), "unknown_turn");
  EXPECT_EQ(h.RunTurn("m5"), 5) << "4 went to the refused submit; no id is reused";
}

}  // namespace
}  // namespace laneway::supervisor
