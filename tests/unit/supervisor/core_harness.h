// The real Core driven with a fake clock, a fake launcher and a recording
// transport, for core_logic_test.cc and cron_service_test.cc. The "workers" are the
// test speaking the worker protocol; no process is started, nothing sleeps (the
// journal's job thread is awaited on its eventfd, as the loop's poll does).
#ifndef LANEWAY_TESTS_UNIT_SUPERVISOR_CORE_HARNESS_H_
#define LANEWAY_TESTS_UNIT_SUPERVISOR_CORE_HARNESS_H_

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/paths.h"
#include "common/protocol.h"
#include "supervisor/core.h"
#include "supervisor/journal.h"
#include "tests/unit/supervisor/fake_core_io.h"
#include "tests/unit/temp_dir.h"

namespace laneway::supervisor::core_test {

using common::Value;
using fakes::FakeLauncher;
using fakes::kFirstFakePid;
using fakes::RecordingTransport;
using std::chrono::milliseconds;
using Sent = RecordingTransport::Sent;

inline const Peer kCli{Door::kControl, "cli"};

class CoreHarness {
 public:
  // `sync_hook` and `write_hook` inject journal faults (journal.h).
  explicit CoreHarness(const std::string& toml, JournalSyncHook sync_hook = nullptr,
                       JournalWriteHook write_hook = nullptr) {
    auto cfg = common::ParseConfig(toml, "test.toml");
    EXPECT_TRUE(cfg.ok()) << cfg.status().message();
    paths_ = common::PathsForHome(dir_.path());
    EXPECT_TRUE(common::MakeDirs(paths_.run_dir, 0700).ok());
    config_ = *cfg;
    sync_hook_ = std::move(sync_hook);
    write_hook_ = std::move(write_hook);
    Open();
  }

  void Open() {
    Core::Options o;
    o.paths = paths_;
    o.config = config_;
    o.worker_binary = "/nonexistent/laneway-worker";
    o.clock = &clock_;
    o.launcher = &spawner_;
    o.transport = &transport_;
    o.journal_sync = false;
    o.journal_sync_hook = sync_hook_;
    o.journal_write_hook = write_hook_;
    o.supervisor_pid = 1;
    core_ = std::make_unique<Core>(std::move(o));
    ASSERT_TRUE(core_->Open().ok());
  }
  void Reopen() {
    core_.reset();
    Open();
  }

  // One loop pass: timers, the batch written, then the job thread's sync awaited
  // (a readiness wait on its eventfd, as the loop's poll does) and its sends flushed.
  void Pass() {
    core_->OnLaunchResults();
    core_->FireTimers();
    core_->EndIteration();
    core_->OnLaunchResults();
    while (core_->journal_job_pending()) {
      pollfd p{core_->journal_fd(), POLLIN, 0};
      ASSERT_GT(::poll(&p, 1, 10000), 0) << "the journal's job thread did not finish";
      core_->OnJournalJobDone();
      core_->EndIteration();
    }
    core_->OnLaunchResults();
  }
  // Advances the clock in steps, the worker `w` (if any) heart-beating meanwhile.
  void Advance(milliseconds total, uint64_t beating_worker = 0,
               milliseconds step = milliseconds(1000)) {
    while (total.count() > 0) {
      const milliseconds d = std::min(step, total);
      clock_.Advance(d);
      total -= d;
      if (beating_worker != 0) Heartbeat(beating_worker);
      Pass();
    }
  }

  int64_t Submit(const std::string& message, const std::string& session = "main") {
    Value m = common::NewMessage(common::msg::kSubmit);
    m.Set("id", ++req_);
    m.Set("agent", "main");
    m.Set("session", session);
    m.Set("message", message);
    Control(m);
    return req_;
  }
  void Control(const Value& m) {
    std::string b = common::EncodeMessage(m);
    core_->OnControlMessage(kCli, b.data(), b.size());
    Pass();
  }
  void FromWorker(uint64_t worker, Value m) {
    std::string b = common::EncodeMessage(m);
    core_->OnWorkerMessage("w" + std::to_string(worker), b.data(), b.size());
    Pass();
  }
  void Hello(uint64_t worker, const std::string& session = "agent:main:main") {
    Value m = common::NewMessage(common::msg::kHello);
    m.Set("worker_id", worker);
    m.Set("session", session);
    m.Set("pid", static_cast<int64_t>(kFirstFakePid + worker - 1));
    FromWorker(worker, m);
  }
  void Heartbeat(uint64_t worker, int64_t turn = 0) {
    Value m = common::NewMessage(common::msg::kHeartbeat);
    if (turn != 0) m.Set("turn_id", turn);
    std::string b = common::EncodeMessage(m);
    core_->OnWorkerMessage("w" + std::to_string(worker), b.data(), b.size());
  }
  void Done(uint64_t worker, int64_t turn, const std::string& reply) {
    Value m = common::NewMessage(common::msg::kDone);
    m.Set("turn_id", turn);
    m.Set("ok", true);
    m.Set("reply", reply);
    FromWorker(worker, m);
  }
  void SpareHello(uint64_t worker) {
    Value m = common::NewMessage(common::msg::kHello);
    m.Set("worker_id", worker);
    m.Set("spare", true);
    m.Set("pid", static_cast<int64_t>(kFirstFakePid + worker - 1));
    FromWorker(worker, m);
  }
  // `run` messages sent to worker `worker` for turn `turn`.
  size_t RunsOf(uint64_t worker, int64_t turn) const {
    size_t n = 0;
    for (const Sent& s : transport_.sent) {
      if (s.to.door == Door::kWorkers && s.to.id == "w" + std::to_string(worker) &&
          common::MessageType(s.msg) == "run" && s.msg.GetIntOr("turn_id", -1).value() == turn) {
        ++n;
      }
    }
    return n;
  }
  void Exit(uint64_t worker, int status = 0) {
    core_->OnChildExit(kFirstFakePid + static_cast<pid_t>(worker) - 1, status);
    Pass();
  }

  // Messages of `type` sent to `door` so far.
  std::vector<Value> SentOf(Door door, const std::string& type) const {
    std::vector<Value> out;
    for (const Sent& s : transport_.sent) {
      if (s.to.door == door && common::MessageType(s.msg) == type) out.push_back(s.msg);
    }
    return out;
  }
  // The outcome sent to the CLI for request `req`, or null.
  Value OutcomeFor(int64_t req) const {
    for (const Value& m : SentOf(Door::kControl, "outcome")) {
      if (m.GetIntOr("id", -1).value() == req) return m;
    }
    return Value();
  }
  int64_t TurnOf(int64_t req) const {
    for (const Value& m : SentOf(Door::kControl, "accepted")) {
      if (m.GetIntOr("id", -1).value() == req) return m.GetInt("turn_id").value();
    }
    return 0;
  }
  // A `status` call's data, or null.
  Value Status() {
    Value m = common::NewMessage(common::msg::kStatus);
    m.Set("id", ++req_);
    Control(m);
    for (const Value& r : SentOf(Door::kControl, "result")) {
      if (r.GetIntOr("id", -1).value() == req_) return *r.Find("data");
    }
    return Value();
  }
  int64_t CounterValue(const char* name) {
    const Value st = Status();
    return st.is_map() ? st.Find("counters")->GetIntOr(name, -1).value() : -1;
  }

  common::FakeClock clock_;
  FakeLauncher spawner_;
  RecordingTransport transport_;
  std::unique_ptr<Core> core_;

 private:
  testing_util::TempDir dir_;
  common::Paths paths_;
  common::Config config_;
  JournalSyncHook sync_hook_;
  JournalWriteHook write_hook_;
  int64_t req_ = 0;
};

}  // namespace laneway::supervisor::core_test

#endif  // LANEWAY_TESTS_UNIT_SUPERVISOR_CORE_HARNESS_H_
