// Scale figures (issue 9): bursts of 1,000, 3,000 and 10,000 new sessions with
// the default config (max_workers raised to 10,000), each beside as many bare
// spawns of the minimal ZeroMQ program until all say "ready", in the same run;
// `status` latency from an in-process client during each burst; the supervisor's
// RSS and descriptors and the workers' PSS at the end. Then SIGTERM in the middle
// of a 10,000 burst (time to shutdown_started), and 10,000 kill/restart cycles of
// one session (timers_pending and RSS before and after).
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/figures.h"
#include "bench/floors.h"
#include "bench/harness.h"
#include "common/protocol.h"

namespace laneway::bench {

namespace {

std::string ScaleConfig() {
  // The default config but for max_workers (whose default, 64, would queue the burst).
  // LANEWAY_BENCH_SCALE_SUPERVISOR adds [supervisor] lines, for experiments
  // ("worker_nice = 0"); a row's label says when it is set.
  const char* extra = std::getenv("LANEWAY_BENCH_SCALE_SUPERVISOR");
  return "[supervisor]\nmax_workers = 10000\ndrain_timeout = \"5s\"\n" +
         std::string(extra ? extra : "") + "\n\n[agents.main]\nrunner = \"echo\"\n";
}

// The burst sizes: LANEWAY_BENCH_SCALE_N ("1000,3000"), else 1,000, 3,000 and 10,000.
std::vector<int> BurstSizes() {
  const char* env = std::getenv("LANEWAY_BENCH_SCALE_N");
  if (env == nullptr || *env == '\0') return {1000, 3000, 10000};
  std::vector<int> out;
  for (const char* p = env; *p;) {
    char* end = nullptr;
    const long n = std::strtol(p, &end, 10);
    if (end == p) break;
    if (n > 0) out.push_back(static_cast<int>(n));
    p = *end == ',' ? end + 1 : end;
  }
  return out;
}

int CountFds(pid_t pid) {
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n;
}

int64_t IntOf(const common::Value& v, const char* key) {
  const common::Value* f = v.is_map() ? v.Find(key) : nullptr;
  return f && f->is_int() ? f->as_int() : -1;
}

int64_t CounterOf(const common::Value& status, const char* key) {
  const common::Value* c = status.is_map() ? status.Find("counters") : nullptr;
  return c ? IntOf(*c, key) : -1;
}

// Sends `status` every 5 ms on its own connection until stopped; latencies in µs.
class StatusProbe {
 public:
  explicit StatusProbe(const std::string& endpoint)
      : thread_([this, endpoint] { Run(endpoint); }) {}
  ~StatusProbe() { Stop(); }
  std::vector<double> Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return samples_;
  }
  int timeouts() const { return timeouts_; }

 private:
  void Run(const std::string& endpoint) {
    Dealer d(Context(), endpoint);
    int64_t id = 0;
    while (!stop_) {
      common::Value m = common::NewMessage(common::msg::kStatus);
      m.Set("id", ++id);
      const auto t0 = Clock::now();
      d.Send(common::EncodeMessage(m));
      std::string frame;
      bool got = false;
      while (!got && d.Recv(&frame, std::chrono::seconds(5))) {
        auto r = ParseReply(frame);
        got = r && r->id == id;
      }
      if (!got) {
        ++timeouts_;
        continue;
      }
      samples_.push_back(MicrosSince(t0));
      ::poll(nullptr, 0, 5);
    }
  }
  std::atomic<bool> stop_{false};
  std::vector<double> samples_;
  int timeouts_ = 0;
  std::thread thread_;
};

// The floor: N bare spawns of the minimal program until all said "ready", at most
// kFloorInFlight starting at once (the best a raw launcher does on a small machine:
// all N at once thrash the CPU and take longer; laneway's spawn_concurrency default is
// the same 32).
constexpr int kFloorInFlight = 32;

double FloorBurst(int n) {
  ReadyListener rl;
  const auto t0 = Clock::now();
  int spawned = 0, ready = 0;
  Clock::time_point last = t0;
  while (ready < n) {
    while (spawned < n && spawned - ready < kFloorInFlight) {
      if (rl.Spawn("f" + std::to_string(spawned)) < 0) return -1;
      ++spawned;
    }
    if (rl.WaitReady(1, std::chrono::seconds(30), &last) != 1) return -1;
    ++ready;
  }
  return MicrosBetween(t0, last);
}

void LanewayBurst(int n, double floor_us) {
  const std::string label = "burst of " + std::to_string(n) + " new sessions";
  Laneway lw(ScaleConfig());
  if (!lw.Start()) {
    EmitRow(label, "failed to start", "", "n/a", "");
    return;
  }
  Dealer d(Context(), lw.control_endpoint());
  StatusProbe probe(lw.control_endpoint());
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) d.Send(SubmitBytes(i + 1, "main", "s" + std::to_string(i), "hi"));
  int replied = 0, failed = 0;
  std::string first_failure;
  std::string frame;
  // Long enough for 10,000 on 2 cores (about 6-8 minutes here): the figure is the time
  // until all answered, not whether they answered within a budget.
  const auto deadline = t0 + std::chrono::seconds(n >= 10000 ? 900 : 300);
  while (replied + failed < n && Clock::now() < deadline) {
    if (!d.Recv(&frame, std::chrono::milliseconds(100))) continue;
    auto r = ParseReply(frame);
    if (!r || r->type != "outcome") continue;
    if (r->status == "replied") {
      ++replied;
    } else {
      ++failed;
      if (first_failure.empty()) first_failure = r->status + ": " + r->text;
    }
  }
  const double lane_us = MicrosSince(t0);
  std::vector<double> status = probe.Stop();
  const common::Value st = lw.Call("status");
  const double rss = ReadMem(lw.pid()).rss_kb;
  const int fds = CountFds(lw.pid());
  std::vector<pid_t> workers = lw.WorkerPids();
  double pss = 0;
  int sampled = 0;
  for (size_t i = 0; i < workers.size() && sampled < 100; i += std::max<size_t>(1, workers.size() / 100)) {
    const double p = ReadMem(workers[i]).pss_kb;
    if (p > 0) {
      pss += p;
      ++sampled;
    }
  }
  const bool all = replied == n;
  EmitRow(label + ": until all answered (floor: " + std::to_string(n) +
              " bare spawns until all ready)",
          all ? FormatMicros(lane_us) : std::to_string(replied) + " of " + std::to_string(n),
          floor_us < 0 ? "failed" : FormatMicros(floor_us), all ? FormatRatio(lane_us, floor_us) : "n/a",
          "—");
  EmitRow("↳ " + std::to_string(n) + ": failed turns", std::to_string(failed), "", "",
          std::string("0 — ") + (failed == 0 && all ? "met" : "MISSED"));
  const double p99 = Percentile(status, 99);
  EmitRow("↳ " + std::to_string(n) + ": status during the burst p50 / p99 (" +
              std::to_string(status.size()) + " calls, " + std::to_string(probe.timeouts()) +
              " timed out)",
          FormatMicros(Percentile(status, 50)) + " / " + FormatMicros(p99), "", "",
          std::string("p99 < 10 ms — ") + (p99 < 10000 && probe.timeouts() == 0 ? "met" : "MISSED"));
  EmitRow("↳ " + std::to_string(n) + ": supervisor RSS, fds; PSS per worker (" +
              std::to_string(sampled) + " sampled)",
          FormatMb(rss) + ", " + std::to_string(fds) + " fds; " + FormatMb(sampled ? pss / sampled : -1),
          "", "", "—");
  EmitNote(std::to_string(n) + " sessions: worker_spawns " +
           std::to_string(CounterOf(st, "worker_spawns")) + ", worker_kills " +
           std::to_string(CounterOf(st, "worker_kills")) + ", stale_worker_messages " +
           std::to_string(CounterOf(st, "stale_worker_messages")) + ", workers " +
           std::to_string(IntOf(st, "workers")) + ", timers_pending " +
           std::to_string(IntOf(st, "timers_pending")) +
           (first_failure.empty() ? "" : "; first failure: " + first_failure));
  const auto stop0 = Clock::now();
  lw.Stop();
  EmitNote(std::to_string(n) + " sessions: `laneway down`-style stop of all workers took " +
           FormatMicros(MicrosSince(stop0)));
}

}  // namespace

void RunScale() {
  EmitNote("kernel.pid_max " + [] {
    std::ifstream f("/proc/sys/kernel/pid_max");
    std::string s;
    f >> s;
    return s;
  }() + "; each echo worker is 3 tasks (main, ZeroMQ I/O, ZeroMQ reaper)");
  if (const char* extra = std::getenv("LANEWAY_BENCH_SCALE_SUPERVISOR")) {
    EmitNote(std::string("scale: LANEWAY_BENCH_SCALE_SUPERVISOR adds to [supervisor]: ") + extra);
  }
  for (int n : BurstSizes()) {
    Log("scale: burst of " + std::to_string(n) + " new sessions vs bare spawns");
    // LANEWAY_BENCH_SCALE_FLOOR=0 skips the floor (for experiments: no ratio then).
    const char* floor_env = std::getenv("LANEWAY_BENCH_SCALE_FLOOR");
    const bool skip_floor = floor_env != nullptr && std::string(floor_env) == "0";
    const double floor_us = skip_floor ? -1 : FloorBurst(n);
    LanewayBurst(n, floor_us);
  }
}

void RunSigterm() {
  constexpr int kN = 10000;
  Log("sigterm: SIGTERM in the middle of a 10,000-session burst");
  Laneway lw(ScaleConfig());
  if (!lw.Start()) {
    EmitRow("SIGTERM → shutdown_started during a 10,000 burst", "failed to start", "", "n/a", "");
    return;
  }
  Dealer d(Context(), lw.control_endpoint());
  for (int i = 0; i < kN; ++i) d.Send(SubmitBytes(i + 1, "main", "s" + std::to_string(i), "hi"));
  int outcomes = 0;
  std::string frame;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (outcomes < kN / 3 && Clock::now() < deadline) {
    if (!d.Recv(&frame, std::chrono::milliseconds(100))) continue;
    auto r = ParseReply(frame);
    outcomes += r && r->type == "outcome";
  }
  const common::Value st = lw.Call("status");
  const std::string log_path = lw.home() + "/supervisor.log";
  std::ifstream log(log_path);
  log.seekg(0, std::ios::end);
  const auto t0 = Clock::now();
  ::kill(lw.pid(), SIGTERM);
  double took = -1;
  std::string line;
  const auto until = t0 + std::chrono::seconds(30);
  while (took < 0 && Clock::now() < until) {
    while (std::getline(log, line)) {
      if (line.find("event=shutdown_started") != std::string::npos) {
        took = MicrosSince(t0);
        break;
      }
    }
    if (took < 0) {
      log.clear();
      ::poll(nullptr, 0, 1);
    }
  }
  EmitRow("SIGTERM → shutdown_started during a 10,000 burst (" + std::to_string(outcomes) +
              " answered, " + std::to_string(IntOf(st, "workers")) + " workers, " +
              std::to_string(IntOf(st, "starting")) + " starting)",
          took < 0 ? "not seen in 30 s" : FormatMicros(took), "", "",
          std::string("< 1 s — ") + (took >= 0 && took < 1e6 ? "met" : "MISSED"));
  lw.Stop();
}

void RunCycles() {
  constexpr int kCycles = 10000;
  // Outcomes stay answerable for remember_turns turns (default 10,000), so RSS grows
  // by design until that window is full: the figure runs with a window of 1,000 and
  // measures after 1,500 warm-up cycles, when the window is full and evicting.
  constexpr int kWarmup = 1500;
  Log("cycles: 10,000 kill/restart cycles of one session");
  const char* extra = std::getenv("LANEWAY_BENCH_SCALE_SUPERVISOR");
  Laneway lw("[supervisor]\nmax_workers = 10000\ndrain_timeout = \"5s\"\nremember_turns = 1000\n" +
             std::string(extra ? extra : "") + "\n\n[agents.main]\nrunner = \"echo\"\n");
  if (!lw.Start()) {
    EmitRow("10,000 kill/restart cycles", "failed to start", "", "n/a", "");
    return;
  }
  Dealer d(Context(), lw.control_endpoint());
  int64_t id = 0;
  auto turn = [&]() {
    const int64_t req = ++id;
    d.Send(SubmitBytes(req, "main", "cycled", "hi"));
    auto r = AwaitOutcome(d, req, std::chrono::seconds(20));
    return r && r->status == "replied";
  };
  auto kill = [&]() {
    common::Value m = common::NewMessage(common::msg::kKill);
    const int64_t req = ++id;
    m.Set("id", req);
    m.Set("session", "agent:main:cycled");
    d.Send(common::EncodeMessage(m));
    std::string frame;
    while (d.Recv(&frame, std::chrono::seconds(10))) {
      auto r = ParseReply(frame);
      if (r && r->id == req) return r->type == "result";
    }
    return false;
  };
  // Warm up (the remember window fills), then measure around the cycles.
  for (int i = 0; i < kWarmup; ++i) {
    if (!turn() || !kill()) break;
  }
  const common::Value before = lw.Call("status");
  const double rss0 = ReadMem(lw.pid()).rss_kb;
  const auto t0 = Clock::now();
  int done = 0;
  for (; done < kCycles; ++done) {
    if (!turn() || !kill()) break;
  }
  const double secs = MicrosSince(t0) / 1e6;
  // The last kill's worker may still be on its way out: let it be reaped.
  const auto settle = Clock::now() + std::chrono::seconds(5);
  common::Value after = lw.Call("status");
  while (IntOf(after, "workers") != 0 && Clock::now() < settle) {
    ::poll(nullptr, 0, 10);
    after = lw.Call("status");
  }
  const double rss1 = ReadMem(lw.pid()).rss_kb;
  EmitRow("kill/restart cycles of one session (remember_turns = 1000, after " +
              std::to_string(kWarmup) + " warm-up cycles): timers_pending before → after " +
              std::to_string(done) + " cycles",
          std::to_string(IntOf(before, "timers_pending")) + " → " +
              std::to_string(IntOf(after, "timers_pending")),
          "", "",
          std::string("flat — ") +
              (done == kCycles && IntOf(after, "timers_pending") <= IntOf(before, "timers_pending")
                   ? "met"
                   : "MISSED"));
  EmitRow("↳ supervisor RSS before → after (" + std::to_string(done) + " cycles in " +
              std::to_string(static_cast<int>(secs)) + " s)",
          FormatMb(rss0) + " → " + FormatMb(rss1), "", "",
          std::string("flat (< +1 MB) — ") + (rss1 - rss0 < 1024 ? "met" : "MISSED"));
  lw.Stop();
}

}  // namespace laneway::bench
