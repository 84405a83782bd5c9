// Cron and subagents inside the real Core, with a fake clock (steady and wall), a
// fake launcher and a recording transport: firings on the core's timers, wall
// clock jumps both ways, a restart that neither repeats nor loses a firing,
// catch-up after downtime, and the subagents' own admission share.
#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/paths.h"
#include "common/protocol.h"
#include "supervisor/core.h"
#include "supervisor/cron/cron_expr.h"
#include "tests/unit/supervisor/core_harness.h"
#include "tests/unit/temp_dir.h"

namespace laneway::supervisor {
namespace {

using common::Value;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

using core_test::CoreHarness;
using core_test::kCli;
using Sent = fakes::RecordingTransport::Sent;

int64_t Utc(const std::string& iso) { return cron::Schedule::At(iso, "UTC")->at_unix_ms(); }

constexpr const char* kConfig = R"(
[supervisor]
max_workers = 2
[agents.main]
runner = "exec"
command = ["/bin/true"]
run_timeout = "10m"
)";

// A control request answered (maybe after the jobs file is written on its thread):
// returns the result's data, or the error message as {"error", "code"}.
Value Ask(CoreHarness& h, Value m, int64_t id) {
  m.Set("id", id);
  std::string b = common::EncodeMessage(m);
  h.core_->OnControlMessage(kCli, b.data(), b.size());
  const auto give_up = std::chrono::steady_clock::now() + seconds(10);
  for (;;) {
    h.Pass();
    for (const Sent& s : h.transport_.sent) {
      if (s.to.door != Door::kControl || s.msg.GetIntOr("id", -1).value() != id) continue;
      if (common::MessageType(s.msg) == "result") return *s.msg.Find("data");
      if (common::MessageType(s.msg) == "error") {
        Value e = Value::MakeMap();
        e.Set("error", s.msg.GetStringOr("error", "").value());
        e.Set("code", s.msg.GetStringOr("code", "").value());
        return e;
      }
    }
    if (std::chrono::steady_clock::now() > give_up) return Value();
    // The jobs file's writer is polled on a 2ms core timer.
    h.clock_.Advance(milliseconds(2));
  }
}

int64_t next_id = 1000;

Value AddJob(CoreHarness& h, const std::string& name, const std::string& kind,
             const std::string& spec, const std::string& catch_up = "once") {
  Value m = common::NewMessage("cron.add");
  m.Set("name", name);
  m.Set("agent", "main");
  m.Set("message", "tick " + name);
  m.Set("kind", kind);
  m.Set("spec", spec);
  if (kind != "every") m.Set("tz", "UTC");
  m.Set("catch_up", catch_up);
  return Ask(h, m, ++next_id);
}

// Runs of `name` with a turn, and skip entries.
std::pair<size_t, size_t> RunCounts(CoreHarness& h, const std::string& name) {
  Value m = common::NewMessage("cron.runs");
  m.Set("name", name);
  Value r = Ask(h, m, ++next_id);
  size_t runs = 0, skips = 0;
  const Value* list = r.Find("runs");
  if (list == nullptr) return {0, 0};
  for (const Value& e : list->as_array()) {
    const Value* t = e.Find("turn_id");
    if (t && t->is_int()) ++runs;
    if (e.GetStringOr("status", "").value() == "skipped") ++skips;
  }
  return {runs, skips};
}

// Lets `total` pass on both clocks in one-second steps (the cron timer's bound).
void Tick(CoreHarness& h, milliseconds total) {
  while (total.count() > 0) {
    const milliseconds d = std::min<milliseconds>(seconds(1), total);
    h.clock_.Advance(d);
    total -= d;
    h.Pass();
  }
}

TEST(CronServiceTest, FiresOnTheCoreTimersOnTimeAndNeverTwiceAcrossClockJumps) {
  CoreHarness h(kConfig);
  h.clock_.SetWall(Utc("2026-12-01T08:58:00Z"));
  Value added = AddJob(h, "nine", "cron", "0 9 * * *");
  ASSERT_TRUE(added.Find("job") != nullptr) << common::ToJson(added);
  h.clock_.SetWall(Utc("2026-12-01T08:59:58Z"));
  Tick(h, seconds(1));
  EXPECT_EQ(RunCounts(h, "nine").first, 0u) << "fired early";
  Tick(h, seconds(2));
  EXPECT_EQ(RunCounts(h, "nine").first, 1u);
  ASSERT_EQ(h.spawner_.specs.size(), 1u);  // the firing's turn got a worker
  // The wall clock steps back an hour: 09:00 comes again, and does not fire again.
  h.clock_.JumpWall(-hours(1));
  Tick(h, minutes(70));
  EXPECT_EQ(RunCounts(h, "nine").first, 1u);
  // Forward over a day: the missed 09:00 is caught up once (catch_up = once).
  h.clock_.JumpWall(hours(24));
  Tick(h, seconds(2));
  EXPECT_EQ(RunCounts(h, "nine").first, 2u);
  Value st = Ask(h, common::NewMessage("cron.status"), ++next_id);
  EXPECT_GE(st.GetIntOr("clock_jumps", 0).value(), 2);
}

TEST(CronServiceTest, AFiringTheFullJournalRefusesIsRecordedRejectedNotPendingForever) {
  auto full = std::make_shared<std::atomic<bool>>(false);
  CoreHarness h(kConfig, nullptr, [full](size_t) {
    if (full->load()) return common::Status::Unavailable("journal write: No space left on device");
    return common::Status::Ok();
  });
  h.clock_.SetWall(Utc("2026-12-01T08:58:00Z"));
  ASSERT_TRUE(AddJob(h, "nine", "cron", "0 9 * * *").Find("job") != nullptr);
  h.clock_.SetWall(Utc("2026-12-01T08:59:58Z"));
  full->store(true);
  Tick(h, seconds(3));
  full->store(false);
  Tick(h, seconds(2));
  Value m = common::NewMessage("cron.runs");
  m.Set("name", "nine");
  Value r = Ask(h, m, ++next_id);
  const Value* runs = r.Find("runs");
  ASSERT_TRUE(runs != nullptr && runs->is_array()) << common::ToJson(r);
  ASSERT_EQ(runs->as_array().size(), 1u) << common::ToJson(r);
  const Value& run = runs->as_array()[0];
  EXPECT_EQ(run.GetStringOr("status", "").value(), "rejected") << common::ToJson(run);
  EXPECT_TRUE(run.Find("turn_id") == nullptr || run.Find("turn_id")->is_null())
      << "no turn ran for it: " << common::ToJson(run);
  EXPECT_NE(run.GetStringOr("text", "").value().find("No space left on device"), std::string::npos)
      << common::ToJson(run);
  EXPECT_TRUE(h.spawner_.specs.empty()) << "a refused turn must not run";
  // The next day's firing, with space back, runs.
  h.clock_.SetWall(Utc("2026-12-02T08:59:58Z"));
  Tick(h, seconds(3));
  EXPECT_EQ(RunCounts(h, "nine").first, 1u);
  EXPECT_EQ(h.spawner_.specs.size(), 1u);
}

TEST(CronServiceTest, RestartNeitherRepeatsNorLosesAFiring) {
  CoreHarness h(kConfig);
  h.clock_.SetWall(Utc("2026-12-01T08:00:00Z"));
  ASSERT_TRUE(AddJob(h, "q", "every", "15m").Find("job") != nullptr);
  Tick(h, minutes(15));
  ASSERT_EQ(RunCounts(h, "q").first, 1u);
  // A restart at once (the same journal and jobs file): nothing new fires.
  h.Reopen();
  h.clock_.Advance(seconds(1));
  h.Pass();
  EXPECT_EQ(RunCounts(h, "q").first, 1u);
  // Down for five hours: catch_up = once runs one, the rest are one skip entry.
  h.clock_.JumpWall(hours(5));
  h.Reopen();
  h.Pass();
  auto [runs, skips] = RunCounts(h, "q");
  EXPECT_EQ(runs, 2u);
  EXPECT_EQ(skips, 1u);
  h.Reopen();
  h.Pass();
  EXPECT_EQ(RunCounts(h, "q").first, 2u);
}

TEST(CronServiceTest, CatchUpNoneRecordsTheMissedFiringsAndRunsNone) {
  CoreHarness h(kConfig);
  h.clock_.SetWall(Utc("2026-12-01T08:00:00Z"));
  ASSERT_TRUE(AddJob(h, "n", "every", "15m", "none").Find("job") != nullptr);
  h.clock_.JumpWall(hours(3) + minutes(7));  // back 7 minutes after a firing: missed
  h.Reopen();
  h.Pass();
  auto [runs, skips] = RunCounts(h, "n");
  EXPECT_EQ(runs, 0u);
  EXPECT_EQ(skips, 1u);
  Tick(h, minutes(15));
  EXPECT_EQ(RunCounts(h, "n").first, 1u);  // the next one is on time again
}

TEST(CronServiceTest, AddIsValidatedWhole) {
  CoreHarness h(kConfig);
  Value bad = AddJob(h, "x", "cron", "0 25 * * *");
  EXPECT_EQ(bad.GetStringOr("code", "").value(), "bad_request");
  EXPECT_NE(bad.GetStringOr("error", "").value().find("hour field"), std::string::npos);
  Value at = AddJob(h, "y", "at", "2001-01-01T00:00");
  EXPECT_NE(at.GetStringOr("error", "").value().find("in the past"), std::string::npos);
  Value name = AddJob(h, "no/slash", "every", "1m");
  EXPECT_NE(name.GetStringOr("error", "").value().find("name:"), std::string::npos);
  ASSERT_TRUE(AddJob(h, "ok", "every", "1m").Find("job") != nullptr);
  EXPECT_EQ(AddJob(h, "ok", "every", "1m").GetStringOr("code", "").value(), "exists");
}

TEST(SubagentCoreTest, ChildrenHaveTheirOwnShareOfWorkers) {
  CoreHarness h(kConfig);  // max_workers = 2
  const int64_t r1 = h.Submit("parent one", "p1");
  const int64_t r2 = h.Submit("parent two", "p2");
  ASSERT_EQ(h.spawner_.specs.size(), 2u);
  h.Hello(1, "agent:main:p1");
  h.Hello(2, "agent:main:p2");
  const int64_t t1 = h.TurnOf(r1), t2 = h.TurnOf(r2);
  ASSERT_GT(t1, 0);
  ASSERT_GT(t2, 0);
  // Both parent slots are busy; each parent spawns two children and waits.
  for (int64_t parent : {t1, t1, t2, t2}) {
    Value m = common::NewMessage("spawn");
    m.Set("id", ++next_id);
    m.Set("parent_turn", parent);
    m.Set("message", "child of " + std::to_string(parent));
    m.Set("wait", true);
    h.Control(m);
  }
  // The children got workers of their own share at once; no parent slot was used.
  ASSERT_EQ(h.spawner_.specs.size(), 6u);
  std::vector<std::string> sessions;
  for (size_t i = 2; i < 6; ++i) {
    const auto& args = h.spawner_.specs[i].args;
    for (size_t a = 0; a + 1 < args.size(); ++a) {
      if (args[a] == "--session") sessions.push_back(args[a + 1]);
    }
  }
  ASSERT_EQ(sessions.size(), 4u);
  EXPECT_EQ(sessions[0], "agent:main:subagent:" + std::to_string(t1) + "-1");
  EXPECT_EQ(sessions[1], "agent:main:subagent:" + std::to_string(t1) + "-2");
  // A child cannot spawn (max_depth = 1).
  const int64_t child_turn = t2 + 1;
  Value deep = common::NewMessage("spawn");
  deep.Set("parent_turn", child_turn);
  deep.Set("message", "grandchild");
  Value refused = Ask(h, deep, ++next_id);
  EXPECT_EQ(refused.GetStringOr("code", "").value(), "limit");
  EXPECT_NE(refused.GetStringOr("error", "").value().find("depth limit"), std::string::npos);
  // And every spawn names the supervisor to the agent command.
  bool has_endpoint = false;
  for (const auto& [k, v] : h.spawner_.specs[0].extra_env) {
    has_endpoint = has_endpoint || k == "LANEWAY_CONTROL_ENDPOINT";
  }
  EXPECT_TRUE(has_endpoint);
}

}  // namespace
}  // namespace laneway::supervisor
