// A core driven with a fake clock, a fake launcher and a recording transport, for
// the remembered-window tests (remember_*_test.cc). The "worker" is the test
// speaking the worker protocol; nothing is started, nothing sleeps.
#ifndef LANEWAY_TESTS_UNIT_SUPERVISOR_REMEMBER_HARNESS_H_
#define LANEWAY_TESTS_UNIT_SUPERVISOR_REMEMBER_HARNESS_H_

#include <gtest/gtest.h>
#include <poll.h>

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/paths.h"
#include "common/protocol.h"
#include "supervisor/core.h"
#include "supervisor/launcher.h"
#include "tests/unit/supervisor/fake_core_io.h"
#include "tests/unit/temp_dir.h"

namespace laneway::supervisor::remember_test {

using fakes::FakeLauncher;
using fakes::kFirstFakePid;
using fakes::RecordingTransport;

inline const Peer kCli{Door::kControl, "cli"};

class Harness {
 public:
  explicit Harness(const std::string& toml, JournalSyncHook sync_hook = nullptr) {
    auto cfg = common::ParseConfig(toml, "test.toml");
    EXPECT_TRUE(cfg.ok()) << cfg.status().message();
    paths_ = common::PathsForHome(dir_.path());
    EXPECT_TRUE(common::MakeDirs(paths_.run_dir, 0700).ok());
    config_ = *cfg;
    sync_hook_ = std::move(sync_hook);
    Open();
  }

  void Open() {
    Core::Options o;
    o.paths = paths_;
    o.config = config_;
    o.worker_binary = "/nonexistent/laneway-worker";
    o.clock = &clock;
    o.launcher = &launcher;
    o.transport = &transport;
    o.journal_sync = false;
    o.journal_sync_hook = sync_hook_;
    o.supervisor_pid = 1;
    core = std::make_unique<Core>(std::move(o));
    ASSERT_TRUE(core->Open().ok());
    worker_ = 0;
  }
  // A new supervisor on the same journal (the clock goes on).
  void Restart() {
    core->Finish();
    core.reset();
    Open();
  }

  // One loop pass: timers, the batch written, the job thread's sync awaited.
  void Pass() {
    core->OnLaunchResults();
    core->FireTimers();
    core->EndIteration();
    core->OnLaunchResults();
    while (core->journal_job_pending()) {
      pollfd p{core->journal_fd(), POLLIN, 0};
      ASSERT_GT(::poll(&p, 1, 10000), 0) << "the journal's job thread did not finish";
      core->OnJournalJobDone();
      core->EndIteration();
    }
    core->OnLaunchResults();
  }
  // Advances the clock in one-second steps (housekeeping runs once a second). An
  // idle worker needs no traffic meanwhile.
  void Advance(std::chrono::milliseconds total) {
    while (total.count() > 0) {
      const auto d = std::min<std::chrono::milliseconds>(std::chrono::seconds(1), total);
      clock.Advance(d);
      total -= d;
      Pass();
    }
  }

  void Control(const common::Value& m) {
    std::string b = common::EncodeMessage(m);
    core->OnControlMessage(kCli, b.data(), b.size());
    Pass();
  }
  void FromWorker(const common::Value& m) {
    std::string b = common::EncodeMessage(m);
    core->OnWorkerMessage("w" + std::to_string(worker_), b.data(), b.size());
    Pass();
  }

  // Submits a turn on agent:main:main (request `req`); returns its turn id.
  int64_t Submit(int64_t req, const std::string& message, const std::string& key = "") {
    common::Value m = common::NewMessage(common::msg::kSubmit);
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
    EXPECT_EQ(launcher.specs.size(), spawned_ + 1) << "one worker for the session";
    spawned_ = launcher.specs.size();
    worker_ = launcher.worker_ids.back();
    common::Value hello = common::NewMessage(common::msg::kHello);
    hello.Set("worker_id", static_cast<int64_t>(worker_));
    hello.Set("session", "agent:main:main");
    hello.Set("pid", static_cast<int64_t>(launcher.pids.back()));
    FromWorker(hello);
  }
  // The worker replies to `turn`.
  void Reply(int64_t turn, const std::string& reply) {
    common::Value done = common::NewMessage(common::msg::kDone);
    done.Set("turn_id", turn);
    done.Set("ok", true);
    done.Set("reply", reply);
    FromWorker(done);
  }
  // Submits a turn on agent:main:main and has the (one) worker reply to it; returns
  // its turn id.
  int64_t RunTurn(const std::string& message, const std::string& key = "") {
    const int64_t req = ++req_;
    const int64_t turn = Submit(req, message, key);
    if (worker_ == 0) StartWorker();
    Reply(turn, "reply:" + message);
    EXPECT_EQ(Last(req).GetStringOr("status", "").value(), "replied") << message;
    return turn;
  }

  // The last message sent to the CLI answering request `req` (null if none).
  common::Value Last(int64_t req) const {
    for (auto it = transport.sent.rbegin(); it != transport.sent.rend(); ++it) {
      if (it->to.door == Door::kControl && it->msg.GetIntOr("id", -1).value() == req) {
        return it->msg;
      }
    }
    return common::Value();
  }
  int64_t TurnOf(int64_t req) const {
    for (const auto& s : transport.sent) {
      if (s.to.door == Door::kControl && common::MessageType(s.msg) == "accepted" &&
          s.msg.GetIntOr("id", -1).value() == req) {
        return s.msg.GetInt("turn_id").value();
      }
    }
    return 0;
  }
  // A `wait` (or `turn`, with type "turn") on turn_id or idempotency key; the reply.
  common::Value Ask(const char* type, int64_t turn_id, const std::string& key = "") {
    common::Value m = common::NewMessage(type);
    m.Set("id", ++req_);
    if (key.empty()) {
      m.Set("turn_id", turn_id);
    } else {
      m.Set("idempotency_key", key);
    }
    Control(m);
    return Last(req_);
  }
  int64_t Counter(const char* name) {
    common::Value m = common::NewMessage(common::msg::kStatus);
    m.Set("id", ++req_);
    Control(m);
    const common::Value r = Last(req_);
    const common::Value* d = r.Find("data");
    const common::Value* c = d ? d->Find("counters") : nullptr;
    return c ? c->GetIntOr(name, -1).value() : -1;
  }

  common::FakeClock clock;
  FakeLauncher launcher;
  RecordingTransport transport;
  std::unique_ptr<Core> core;

 private:
  testing_util::TempDir dir_;
  common::Paths paths_;
  common::Config config_;
  JournalSyncHook sync_hook_;
  int64_t req_ = 0;
  uint64_t worker_ = 0;  // the live worker's id, 0 = none
  size_t spawned_ = 0;   // launches seen, over every core
};

// The type of a message ("" for a null Value: no reply).
inline std::string TypeOf(const common::Value& m) {
  const common::Value* t = m.is_map() ? m.Find("type") : nullptr;
  return t && t->is_string() ? t->as_string() : "";
}
// The code of an error reply ("" for anything else).
inline std::string ErrorCode(const common::Value& m) {
  if (TypeOf(m) != common::msg::kError) return "";
  return m.GetStringOr("code", "").value();
}
inline std::string ErrorText(const common::Value& m) { return m.GetStringOr("error", "").value(); }

}  // namespace laneway::supervisor::remember_test

#endif  // LANEWAY_TESTS_UNIT_SUPERVISOR_REMEMBER_HARNESS_H_
