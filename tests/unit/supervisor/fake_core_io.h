// Test doubles of the core's two outside seams, shared by the unit tests that drive
// the real core (core_logic_test, cron_service_test, remember_*): a launcher whose
// launches complete at once, and a transport that records what the core sent.
#ifndef LANEWAY_TESTS_UNIT_SUPERVISOR_FAKE_CORE_IO_H_
#define LANEWAY_TESTS_UNIT_SUPERVISOR_FAKE_CORE_IO_H_

#include <gtest/gtest.h>
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "common/protocol.h"
#include "supervisor/core_types.h"
#include "supervisor/launcher.h"

namespace laneway::supervisor::fakes {

// Pids no process can have (above the kernel's pid_max): signals to them are ESRCH.
inline constexpr pid_t kFirstFakePid = 4'300'000;

// Launches complete at once: their results wait for the next TakeResults.
class FakeLauncher : public Launcher {
 public:
  void Launch(uint64_t worker_id, SpawnSpec spec) override {
    LaunchResult r;
    r.worker_id = worker_id;
    if (fail) {
      r.error = "spawn refused by the test";
    } else {
      specs.push_back(std::move(spec));
      r.pid = next_pid_++;
      worker_ids.push_back(worker_id);
      pids.push_back(r.pid);
    }
    results_.push_back(std::move(r));
  }
  int result_fd() const override { return -1; }
  std::vector<LaunchResult> TakeResults(size_t max) override {
    std::vector<LaunchResult> out;
    while (!results_.empty() && out.size() < max) {
      out.push_back(std::move(results_.front()));
      results_.erase(results_.begin());
    }
    return out;
  }
  size_t in_flight() const override { return results_.size(); }
  void SignalGroup(pid_t pid, int sig) override { signals.emplace_back(pid, sig); }

  std::vector<SpawnSpec> specs;  // of the launches that succeeded
  std::vector<uint64_t> worker_ids;
  std::vector<pid_t> pids;
  std::vector<std::pair<pid_t, int>> signals;
  bool fail = false;

 private:
  std::vector<LaunchResult> results_;
  pid_t next_pid_ = kFirstFakePid;
};

class RecordingTransport : public Transport {
 public:
  struct Sent {
    Peer to;
    common::Value msg;
  };
  bool Send(const Peer& to, const std::string& bytes) override {
    auto m = common::DecodeMessage(bytes.data(), bytes.size(), 1 << 26);
    EXPECT_TRUE(m.ok()) << m.status().message();
    if (m.ok()) sent.push_back({to, std::move(m).value()});
    return true;
  }
  std::vector<Sent> sent;
};

}  // namespace laneway::supervisor::fakes

#endif  // LANEWAY_TESTS_UNIT_SUPERVISOR_FAKE_CORE_IO_H_
