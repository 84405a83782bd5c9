// Fuzz target: the core fed untrusted messages on every door it has — control
// requests (CLI), inproc requests (channels) and worker messages — in any order,
// with child exits and the clock advancing in between (supervisor/core.h,
// control_service.cc, worker_pool.cc). A fake launcher and a recording
// transport stand in for processes and sockets, as in core_logic_test.
//
// Input: a sequence of records  op u8 | len u16 LE | bytes[len]
//   op % 6: 0 control, 1 inproc, 2 worker w1, 3 worker w2, 4 child exit, 5 time
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/paths.h"
#include "common/protocol.h"
#include "supervisor/core.h"

namespace {

using namespace laneway;

constexpr pid_t kFirstFakePid = 4'300'000;  // above pid_max: kill() is ESRCH

// Launches succeed at once, with pids no process can have.
class FakeLauncher : public supervisor::Launcher {
 public:
  void Launch(uint64_t worker_id, supervisor::SpawnSpec) override {
    results_.push_back({worker_id, next_++, ""});
  }
  int result_fd() const override { return -1; }
  std::vector<supervisor::LaunchResult> TakeResults(size_t max) override {
    std::vector<supervisor::LaunchResult> out;
    while (!results_.empty() && out.size() < max) {
      out.push_back(std::move(results_.front()));
      results_.erase(results_.begin());
    }
    return out;
  }
  size_t in_flight() const override { return results_.size(); }
  void SignalGroup(pid_t, int) override {}

 private:
  std::vector<supervisor::LaunchResult> results_;
  pid_t next_ = kFirstFakePid;
};

class NullTransport : public supervisor::Transport {
 public:
  bool Send(const supervisor::Peer&, const std::string& bytes) override {
    // Everything the core says must itself be well-formed.
    if (!common::DecodeMessage(bytes.data(), bytes.size(), 1 << 26).ok()) std::abort();
    return true;
  }
};

const char kConfig[] = R"(
[supervisor]
max_workers = 2
max_message_bytes = 4096
max_turns_in_memory = 64
max_queued_bytes_per_session = 8192
[agents.main]
runner = "echo"
max_queue = 8
[agents.other]
runner = "echo"
queue_mode = "collect"
)";

std::string Home() {
  static const std::string home = [] {
    const char* base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    return std::string(base) + "/laneway-core-fuzz-" + std::to_string(::getpid());
  }();
  return home;
}

// Waits up to 10 s for the journal's job thread; false if it never answered.
// libFuzzer's -timeout watchdog is a SIGALRM every few seconds, and poll() returns
// EINTR when it lands (SA_RESTART does not restart poll): that is no hang, so the
// wait goes on with what is left of the 10 s. (Aborting on it stopped this target
// whenever a slow machine made the wait long enough to meet a SIGALRM.)
bool WaitForJob(int fd) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

void Pass(supervisor::Core& core) {
  core.OnLaunchResults();
  core.FireTimers();
  core.EndIteration();
  core.OnLaunchResults();
  for (int i = 0; i < 8 && core.journal_job_pending(); ++i) {
    if (!WaitForJob(core.journal_fd())) std::abort();  // the job thread hung
    core.OnJournalJobDone();
    core.EndIteration();
  }
  core.OnLaunchResults();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const common::Config config = [] {
    auto c = common::ParseConfig(kConfig, "fuzz.toml");
    if (!c.ok()) std::abort();
    return *c;
  }();
  std::error_code ec;
  std::filesystem::remove_all(Home(), ec);
  const common::Paths paths = common::PathsForHome(Home());
  if (!common::MakeDirs(paths.run_dir, 0700).ok()) std::abort();

  common::FakeClock clock;
  FakeLauncher launcher;
  NullTransport transport;
  {
    supervisor::Core::Options o;
    o.paths = paths;
    o.config = config;
    o.worker_binary = "/nonexistent/laneway-worker";
    o.clock = &clock;
    o.launcher = &launcher;
    o.transport = &transport;
    o.journal_sync = false;
    o.supervisor_pid = 1;
    supervisor::Core core(std::move(o));
    if (!core.Open().ok()) std::abort();
    size_t pos = 0;
    while (pos + 3 <= size) {
      const uint8_t op = data[pos] % 6;
      size_t len = data[pos + 1] | (size_t{data[pos + 2]} << 8);
      pos += 3;
      if (len > size - pos) len = size - pos;
      const uint8_t* body = data + pos;
      pos += len;
      switch (op) {
        case 0:
          core.OnControlMessage({supervisor::Door::kControl, "cli"}, body, len);
          break;
        case 1:
          core.OnControlMessage({supervisor::Door::kInproc, "chan"}, body, len);
          break;
        case 2:
        case 3:
          core.OnWorkerMessage(op == 2 ? "w1" : "w2", body, len);
          break;
        case 4: {
          const int status = len > 0 ? body[0] : 0;
          core.OnChildExit(kFirstFakePid + (len > 1 ? body[1] % 4 : 0), status << 8);
          break;
        }
        case 5:
          clock.Advance(std::chrono::milliseconds(len > 0 ? body[0] * 1000 : 100));
          break;
      }
      Pass(core);
    }
  }
  return 0;
}
