// Metrics (supervisor/metrics.h, histogram.h, ops_stats.h) on a core driven with a
// fake clock, a fake launcher and a recording transport: turn outcomes, the turn
// duration and queue wait histograms in their right buckets, kills by reason,
// model usage from a worker's meta, and the core's notices for systemd.
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
#include "supervisor/histogram.h"
#include "supervisor/metrics.h"
#include "tests/unit/temp_dir.h"

namespace laneway::supervisor {
namespace {

using common::Value;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr pid_t kFakePid = 4'300'000;  // above pid_max: signals to it are ESRCH

// Launches complete at once; their results wait for the next TakeResults.
class FakeLauncher : public Launcher {
 public:
  void Launch(uint64_t worker_id, SpawnSpec) override {
    LaunchResult r;
    r.worker_id = worker_id;
    r.pid = kFakePid + static_cast<pid_t>(launches++);
    results_.push_back(r);
  }
  int result_fd() const override { return -1; }
  std::vector<LaunchResult> TakeResults(size_t max) override {
    std::vector<LaunchResult> out;
    while (!results_.empty() && out.size() < max) {
      out.push_back(results_.front());
      results_.erase(results_.begin());
    }
    return out;
  }
  size_t in_flight() const override { return results_.size(); }
  void SignalGroup(pid_t, int) override {}
  int launches = 0;

 private:
  std::vector<LaunchResult> results_;
};

class NullTransport : public Transport {
 public:
  bool Send(const Peer& to, const std::string& bytes) override {
    auto m = common::DecodeMessage(bytes.data(), bytes.size(), 1 << 26);
    if (m.ok() && to.door == Door::kControl && common::MessageType(*m) == "accepted") {
      last_turn = m->GetIntOr("turn_id", 0).value();
    }
    return true;
  }
  int64_t last_turn = 0;
};

constexpr const char* kConfig = R"(
[agents.main]
runner = "exec"
command = ["/bin/true"]
run_timeout = "10m"
kill_grace = "5s"
)";

class MetricsHarness {
 public:
  MetricsHarness() {
    auto cfg = common::ParseConfig(kConfig, "test.toml");
    EXPECT_TRUE(cfg.ok());
    paths_ = common::PathsForHome(dir_.path());
    EXPECT_TRUE(common::MakeDirs(paths_.run_dir, 0700).ok());
    Core::Options o;
    o.paths = paths_;
    o.config = *cfg;
    o.worker_binary = "/nonexistent/laneway-worker";
    o.clock = &clock_;
    o.launcher = &spawner_;
    o.transport = &transport_;
    o.journal_sync = false;
    o.supervisor_pid = 1;
    o.notify = [this](std::string_view n) { notices.emplace_back(n); };
    core = std::make_unique<Core>(std::move(o));
    EXPECT_TRUE(core->Open().ok());
  }
  void Pass() {
    core->OnLaunchResults();
    core->FireTimers();
    core->EndIteration();
    core->OnLaunchResults();
    while (core->journal_job_pending()) {
      pollfd p{core->journal_fd(), POLLIN, 0};
      ASSERT_GT(::poll(&p, 1, 10000), 0);
      core->OnJournalJobDone();
      core->EndIteration();
    }
    core->OnLaunchResults();
  }
  void Control(Value m) {
    m.Set("id", ++req_);
    std::string b = common::EncodeMessage(m);
    core->OnControlMessage({Door::kControl, "cli"}, b.data(), b.size());
    Pass();
  }
  int64_t Submit(const std::string& text) {
    Value m = common::NewMessage(common::msg::kSubmit);
    m.Set("agent", "main");
    m.Set("message", text);
    Control(m);
    return transport_.last_turn;
  }
  void FromWorker(uint64_t w, const Value& m) {
    std::string b = common::EncodeMessage(m);
    core->OnWorkerMessage("w" + std::to_string(w), b.data(), b.size());
    Pass();
  }
  void Hello(uint64_t w) {
    Value m = common::NewMessage(common::msg::kHello);
    m.Set("worker_id", w);
    m.Set("session", "agent:main:main");
    m.Set("pid", static_cast<int64_t>(kFakePid + w - 1));
    FromWorker(w, m);
  }
  void Done(uint64_t w, int64_t turn, Value meta = Value()) {
    Value m = common::NewMessage(common::msg::kDone);
    m.Set("turn_id", turn);
    m.Set("ok", true);
    m.Set("reply", "r");
    if (!meta.is_null()) m.Set("meta", std::move(meta));
    FromWorker(w, m);
  }
  void Advance(milliseconds d) {
    clock_.Advance(d);
    Pass();
  }
  // The value of the first sample line starting with `prefix` (name and labels).
  double Sample(const std::string& prefix) {
    const std::string text = RenderMetrics(*core);
    size_t at = text.find("\n" + prefix + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + prefix.size() + 2));
  }

  common::FakeClock clock_;
  FakeLauncher spawner_;
  NullTransport transport_;
  std::unique_ptr<Core> core;
  std::vector<std::string> notices;

 private:
  testing_util::TempDir dir_;
  common::Paths paths_;
  int64_t req_ = 0;
};

TEST(MetricsHistogramTest, CumulativeBucketsSumAndCount) {
  Histogram h{0.1, 1, 10};
  h.Observe(0.05);
  h.Observe(0.1);  // le is inclusive
  h.Observe(5);
  h.Observe(100);
  h.Observe(-1);  // a clock step: counted, in the first bucket, not summed
  auto c = h.Cumulative();
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0], 3u);
  EXPECT_EQ(c[1], 3u);
  EXPECT_EQ(c[2], 4u);
  EXPECT_EQ(c[3], 5u);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_DOUBLE_EQ(h.sum(), 105.15);
}

TEST(MetricsTest, TurnDurationAndQueueWaitLandInTheirBuckets) {
  MetricsHarness h;
  const int64_t turn = h.Submit("hello");
  ASSERT_GT(turn, 0);
  h.Advance(milliseconds(300));  // waits 0.3 s for its worker
  h.Hello(1);
  h.Advance(seconds(2));  // runs 2 s
  h.Done(1, turn);
  EXPECT_EQ(h.Sample("laneway_turns_total{outcome=\"replied\"}"), 1);
  EXPECT_EQ(h.Sample("laneway_turns_total{outcome=\"failed\"}"), 0);
  EXPECT_EQ(h.Sample("laneway_turn_duration_seconds_bucket{le=\"1\"}"), 0);
  EXPECT_EQ(h.Sample("laneway_turn_duration_seconds_bucket{le=\"2.5\"}"), 1);
  EXPECT_EQ(h.Sample("laneway_turn_duration_seconds_count"), 1);
  EXPECT_DOUBLE_EQ(h.Sample("laneway_turn_duration_seconds_sum"), 2);
  EXPECT_EQ(h.Sample("laneway_turn_queue_wait_seconds_bucket{le=\"0.25\"}"), 0);
  EXPECT_EQ(h.Sample("laneway_turn_queue_wait_seconds_bucket{le=\"0.5\"}"), 1);
  EXPECT_EQ(h.Sample("laneway_workers{state=\"idle\"}"), 1);
  EXPECT_EQ(h.Sample("laneway_worker_spawns_total"), 1);
  EXPECT_EQ(h.Sample("laneway_queue_depth"), 0);
  EXPECT_GT(h.Sample("laneway_journal_bytes"), 0);
  EXPECT_EQ(h.Sample("laneway_build_info{version=\"" LANEWAY_TEST_VERSION "\"}"), 1);
  const Value recent = h.core->ops().RecentView();
  ASSERT_EQ(recent.as_array().size(), 1u);
  EXPECT_EQ(recent.as_array()[0].GetStringOr("status", "").value(), "replied");
  EXPECT_EQ(recent.as_array()[0].GetIntOr("duration_ms", 0).value(), 2000);
}

TEST(MetricsTest, KillsAreCountedByReasonAndTimeoutsAsAnOutcome) {
  MetricsHarness h;
  const int64_t turn = h.Submit("think");
  h.Hello(1);
  for (int i = 0; i < 601; ++i) {  // heart-beating through the ten-minute run_timeout
    h.FromWorker(1, common::NewMessage(common::msg::kHeartbeat));
    h.Advance(seconds(1));
  }
  (void)turn;
  EXPECT_EQ(h.Sample("laneway_turns_total{outcome=\"timed_out\"}"), 1);
  EXPECT_EQ(h.Sample("laneway_worker_kills_total{reason=\"run_timeout\"}"), 1);
  EXPECT_EQ(h.Sample("laneway_turn_duration_seconds_bucket{le=\"300\"}"), 0);
  EXPECT_EQ(h.Sample("laneway_turn_duration_seconds_bucket{le=\"600\"}"), 1);
}

TEST(MetricsTest, ModelRequestsAndTokensComeFromTheRunnersMeta) {
  MetricsHarness h;
  const int64_t turn = h.Submit("hi");
  h.Hello(1);
  Value meta = Value::MakeMap();
  meta.Set("model", "m1");
  meta.Set("attempts", 2);
  Value usage = Value::MakeMap();
  usage.Set("prompt_tokens", 120);
  usage.Set("completion_tokens", 30);
  meta.Set("usage", std::move(usage));
  h.Done(1, turn, std::move(meta));
  EXPECT_EQ(h.Sample("laneway_model_requests_total"), 2);
  EXPECT_EQ(h.Sample("laneway_model_tokens_total{kind=\"prompt\"}"), 120);
  EXPECT_EQ(h.Sample("laneway_model_tokens_total{kind=\"completion\"}"), 30);
}

TEST(MetricsTest, NoSessionKeyAppearsInTheExposition) {
  MetricsHarness h;
  h.Submit("hello");
  h.Hello(1);
  const std::string text = RenderMetrics(*h.core);
  EXPECT_EQ(text.find("agent:main:main"), std::string::npos) << "no per-session labels";
  EXPECT_NE(text.find("# TYPE laneway_turn_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("process_open_fds "), std::string::npos);
  EXPECT_NE(text.find("process_cpu_seconds_total "), std::string::npos);
}

TEST(NotifyCoreTest, ReloadIsBracketedByReloadingAndReadyAndADrainSaysStopping) {
  MetricsHarness h;
  auto r = h.core->Reload();  // the built-in config (no config_path)
  EXPECT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(h.notices.size(), 2u);
  EXPECT_EQ(h.notices[0], "RELOADING=1");
  EXPECT_EQ(h.notices[1], "READY=1");
  h.core->OnShutdownSignal("SIGTERM");
  ASSERT_EQ(h.notices.size(), 3u);
  EXPECT_EQ(h.notices[2], "STOPPING=1");
  h.core->OnShutdownSignal("SIGTERM");  // forced: no second STOPPING
  EXPECT_EQ(h.notices.size(), 3u);
}

TEST(NotifyCoreTest, StatusSummaryNamesBusyIdleQueuedAndHealth) {
  MetricsHarness h;
  h.Submit("one");
  h.Submit("two");
  EXPECT_EQ(StatusSummary(*h.core),
            "0 busy, 0 idle, 1 starting of max 64 workers; 2 queued; healthy");
  h.Hello(1);
  EXPECT_EQ(StatusSummary(*h.core),
            "1 busy, 0 idle, 0 starting of max 64 workers; 1 queued; healthy");
}

}  // namespace
}  // namespace laneway::supervisor
