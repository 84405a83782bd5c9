// Control plane and memory: `status` latency while 200 sessions sit in long turns
// and turns flow on others, against the same calls with nothing busy; the memory
// of an idle worker against the minimal idle ZeroMQ program; and the supervisor's
// RSS holding 1,000 sessions and 10,000 queued turns.
#include <poll.h>
#include <signal.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "bench/figures.h"
#include "bench/floors.h"
#include "bench/harness.h"
#include "cli/client.h"
#include "common/protocol.h"

namespace laneway::bench {

namespace {

constexpr int kBusySessions = 200;
constexpr int kFlowSessions = 20;
constexpr int kStatusCalls = 1000;
constexpr int kCliCalls = 20;
constexpr int kIdleWorkers = 10;
constexpr int kQueueSessions = 1000;
constexpr int kQueuedTurns = 10000;

std::string MixedConfig(int max_workers) {
  return "[supervisor]\nmax_workers = " + std::to_string(max_workers) +
         "\ndrain_timeout = \"1s\"\n\n[agents.main]\nrunner = \"echo\"\n\n"
         "[agents.busy]\nrunner = \"exec\"\ncommand = [\"" +
         BinDir() + "/bench_agent\"]\nrun_timeout = \"10m\"\nkill_grace = \"100ms\"\n";
}

struct ControlSamples {
  std::vector<double> in_process;  // µs per status call, one client
  std::vector<double> cli;         // µs per whole `laneway status` process
};

bool MeasureControl(Laneway& lw, ControlSamples* out) {
  auto client = cli::Client::Connect(lw.paths());
  if (!client.ok()) return false;
  for (int i = 0; i < kStatusCalls + 20; ++i) {
    const auto t0 = Clock::now();
    auto r = (*client)->Call(common::NewMessage(common::msg::kStatus), std::chrono::seconds(5));
    if (!r.ok()) return false;
    if (i >= 20) out->in_process.push_back(MicrosSince(t0));
  }
  for (int i = 0; i < kCliCalls + 2; ++i) {
    const auto t0 = Clock::now();
    pid_t pid = Spawn({BinDir() + "/laneway", "status"}, {{"LANEWAY_HOME", lw.home()}});
    int status = 0;
    if (pid < 0 || !WaitExit(pid, std::chrono::seconds(10), &status)) return false;
    if (i >= 2) out->cli.push_back(MicrosSince(t0));
  }
  return true;
}

// Closed-loop echo turns on kFlowSessions sessions, one in flight each, until stopped.
void Flow(const std::string& endpoint, std::atomic<bool>* stop, std::atomic<int64_t>* done) {
  Dealer d(Context(), endpoint);
  int64_t id = 0;
  auto next = [&](int64_t seq) {
    return SubmitBytes(++id, "main", "flow" + std::to_string(seq % kFlowSessions), Payload());
  };
  for (int i = 0; i < kFlowSessions; ++i) d.Send(next(i));
  std::string frame;
  while (!stop->load()) {
    if (!d.Recv(&frame, std::chrono::milliseconds(50))) continue;
    auto r = ParseReply(frame);
    if (!r || r->type != "outcome") continue;
    done->fetch_add(1);
    d.Send(next(r->id));
  }
}

}  // namespace

void RunControl() {
  Log("control: status while 200 sessions are busy and turns flow on 20 others");
  Laneway lw(MixedConfig(kBusySessions + kFlowSessions + 16));
  ControlSamples idle, busy;
  if (!lw.Start() || !MeasureControl(lw, &idle)) {
    EmitRow("control latency", "failed", "failed", "n/a", "");
    return;
  }
  Dealer d(Context(), lw.control_endpoint());
  for (int i = 0; i < kBusySessions; ++i) {
    d.Send(SubmitBytes(i + 1, "busy", "long" + std::to_string(i), "block"));
  }
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  int64_t busy_workers = 0;
  while (Clock::now() < deadline) {
    common::Value s = lw.Call("status");
    const common::Value* b = s.Find("busy");
    busy_workers = b && b->is_int() ? b->as_int() : 0;
    if (busy_workers >= kBusySessions) break;
    ::poll(nullptr, 0, 20);
  }
  if (busy_workers < kBusySessions) {
    EmitRow("control latency", "busy sessions did not start", "", "n/a", "");
    return;
  }
  std::atomic<bool> stop{false};
  std::atomic<int64_t> flowed{0};
  std::thread flow(Flow, lw.control_endpoint(), &stop, &flowed);
  ::poll(nullptr, 0, 300);  // let the flow reach its pace
  const int64_t before = flowed.load();
  const auto t0 = Clock::now();
  bool ok = MeasureControl(lw, &busy);
  const double flow_rate = static_cast<double>(flowed.load() - before) / (MicrosSince(t0) / 1e6);
  stop = true;
  flow.join();
  if (!ok) {
    EmitRow("control latency", "failed under load", "", "n/a", "");
    return;
  }
  const double b50 = Percentile(busy.in_process, 50), i50 = Percentile(idle.in_process, 50);
  const double b99 = Percentile(busy.in_process, 99), i99 = Percentile(idle.in_process, 99);
  const double bc = Percentile(busy.cli, 50), ic = Percentile(idle.cli, 50);
  EmitRow("control `status` p50, in-process client (busy vs idle)", FormatMicros(b50),
          FormatMicros(i50), FormatRatio(b50, i50), "—");
  EmitRow("control `status` p99, in-process client (busy vs idle)", FormatMicros(b99),
          FormatMicros(i99), FormatRatio(b99, i99),
          std::string("< 1 ms busy or not — ") + (b99 < 1000 && i99 < 1000 ? "met" : "MISSED"));
  EmitRow("whole `laneway status` CLI process, median (busy vs idle)", FormatMicros(bc),
          FormatMicros(ic), FormatRatio(bc, ic),
          std::string("< 5 ms busy or not — ") + (bc < 5000 && ic < 5000 ? "met" : "MISSED"));
  // How much of a CLI call is only starting a process that links libzmq.
  std::vector<double> version, floor_start;
  for (int i = 0; i < kCliCalls + 2; ++i) {
    auto t0 = Clock::now();
    pid_t pid = Spawn({BinDir() + "/laneway", "--version"});
    if (pid < 0 || !WaitExit(pid, std::chrono::seconds(10))) break;
    if (i >= 2) version.push_back(MicrosSince(t0));
    t0 = Clock::now();
    pid = Spawn({BinDir() + "/floor_peer"});  // prints its usage and exits
    if (pid < 0 || !WaitExit(pid, std::chrono::seconds(10))) break;
    if (i >= 2) floor_start.push_back(MicrosSince(t0));
  }
  const double v50 = Percentile(version, 50), s50 = Percentile(floor_start, 50);
  EmitRow("↳ diagnostic: `laneway --version`, process start only, median (vs floor_peer)",
          FormatMicros(v50), FormatMicros(s50), FormatRatio(v50, s50), "—");
  EmitNote("control: busy = " + std::to_string(kBusySessions) + " sessions in long exec turns + " +
           std::to_string(kFlowSessions) + " echo sessions in closed loop at " +
           FormatRate(flow_rate) + " turns; floor column = the same calls with nothing busy");
}

void RunMemory() {
  Log("memory: idle worker vs minimal idle DEALER; supervisor with 10,000 queued turns");
  MemInfo floor_mem;
  std::vector<double> fpriv, fpss;
  ReadyListener rl;
  {
    std::vector<pid_t> pids;
    for (int i = 0; i < kIdleWorkers; ++i) pids.push_back(rl.Spawn("m" + std::to_string(i)));
    if (rl.WaitReady(kIdleWorkers, std::chrono::seconds(10)) == kIdleWorkers) {
      for (pid_t pid : pids) {
        MemInfo m = ReadMem(pid);
        fpriv.push_back(m.private_kb);
        fpss.push_back(m.pss_kb);
        floor_mem = m;
      }
    }
  }
  std::vector<double> lpriv, lpss;
  {
    Laneway lw(MixedConfig(64));
    if (lw.Start()) {
      Dealer d(Context(), lw.control_endpoint());
      for (int i = 0; i < kIdleWorkers; ++i) {
        d.Send(SubmitBytes(i + 1, "main", "idle" + std::to_string(i), Payload()));
      }
      AwaitOutcomes(d, kIdleWorkers, std::chrono::seconds(20));
      ::poll(nullptr, 0, 200);  // let the workers settle into their idle poll
      for (pid_t pid : lw.WorkerPids()) {
        MemInfo m = ReadMem(pid);
        lpriv.push_back(m.private_kb);
        lpss.push_back(m.pss_kb);
      }
    }
  }
  const double lp = Percentile(lpriv, 50), fp = Percentile(fpriv, 50);
  const double ls = Percentile(lpss, 50), fs = Percentile(fpss, 50);
  EmitRow("idle worker, private memory (Private_Clean + Private_Dirty), median of 10", FormatMb(lp),
          FormatMb(fp), FormatRatio(lp, fp),
          std::string("≤ 1 MB — ") + (lp >= 0 && lp <= 1024 ? "met" : "MISSED"));
  EmitRow("idle worker, PSS, median of 10 alike", FormatMb(ls), FormatMb(fs), FormatRatio(ls, fs),
          "—");

  Log("memory: supervisor with 1,000 sessions and 10,000 queued turns");
  Laneway lw(MixedConfig(64));
  if (!lw.Start()) {
    EmitRow("supervisor RSS", "failed", "", "n/a", "");
    return;
  }
  const double rss_start = ReadMem(lw.pid()).rss_kb;
  Dealer d(Context(), lw.control_endpoint());
  auto accepted = [](const std::string& f) {
    auto r = ParseReply(f);
    return r && r->type == "accepted";
  };
  // Turns of the same size as elsewhere whose text starts with "block": the 64 that
  // run never end, so the rest stay queued.
  auto blocking = [&](int64_t seq) {
    return SubmitBytes(seq, "busy", "q" + std::to_string(seq % kQueueSessions),
                       "block" + Payload().substr(5));
  };
  PipelineResult r =
      RunPipeline(d, 2000, kQueuedTurns, std::chrono::seconds(60), blocking, accepted);
  common::Value s = lw.Call("status");
  const common::Value* q = s.Find("queued");
  const int64_t queued = q && q->is_int() ? q->as_int() : -1;
  const double rss = ReadMem(lw.pid()).rss_kb;
  Log("memory: measured; stopping");
  EmitRow("supervisor RSS, 1,000 sessions, 10,000 queued turns (max_workers 64)",
          r.completed == kQueuedTurns ? FormatMb(rss) : "failed", FormatMb(floor_mem.rss_kb),
          FormatRatio(rss, floor_mem.rss_kb),
          std::string("< 50 MB — ") + (rss > 0 && rss < 50 * 1024 ? "met" : "MISSED"));
  EmitNote("memory: supervisor RSS " + FormatMb(rss_start) + " at start; " +
           std::to_string(queued) + " turns queued and 64 running when measured; floor column = " +
           "RSS of one minimal idle ZeroMQ DEALER process");
}

}  // namespace laneway::bench
