// Warm turns: the round trip of one turn on a warm echo worker, and the
// throughput of 100 sessions with many turns in flight, each beside the raw
// one-hop ZeroMQ broker with echo peers (floor_peer broker/echo).
#include <string>
#include <vector>

#include "bench/figures.h"
#include "bench/floors.h"
#include "bench/harness.h"

namespace laneway::bench {

namespace {

constexpr int kWarmRounds = 5;
constexpr int kWarmPerRound = 200;
constexpr int kSessions = 100;
constexpr int kInFlight = 1000;  // 10 per session
constexpr int64_t kThroughputTurns = 20000;
constexpr auto kThroughputLimit = std::chrono::seconds(6);

std::string EchoConfig(int max_workers) {
  return "[supervisor]\nmax_workers = " + std::to_string(max_workers) +
         "\ndrain_timeout = \"2s\"\n\n[agents.main]\nrunner = \"echo\"\n";
}

// One turn, sent and waited for; its round trip in µs (-1 if it did not end).
double LanewayTurn(Dealer& d, int64_t id, const std::string& session) {
  const auto t0 = Clock::now();
  d.Send(SubmitBytes(id, "main", session, Payload()));
  return AwaitOutcome(d, id, std::chrono::seconds(10)) ? MicrosSince(t0) : -1;
}

double FloorTurn(Dealer& d, const std::string& request) {
  const auto t0 = Clock::now();
  d.Send(request);
  std::string frame;
  return d.Recv(&frame, std::chrono::seconds(10)) ? MicrosSince(t0) : -1;
}

struct WarmSamples {
  std::vector<double> laneway;
  std::vector<double> floor;
};

// Alternates blocks of laneway turns and floor requests so that both see the
// same moments of a shared machine. Without `fb`, laneway only.
bool MeasureWarm(Laneway& lw, FloorBroker* fb, WarmSamples* out) {
  Dealer lc(Context(), lw.control_endpoint());
  const size_t size = SubmitBytes(1, "main", "warm", Payload()).size();
  int64_t id = 0;
  for (int i = 0; i < 50; ++i) {  // spawn the worker, warm the caches
    if (LanewayTurn(lc, ++id, "warm") < 0) return false;
  }
  std::unique_ptr<Dealer> fc;
  const std::string request = FloorBroker::Request(0, size);
  if (fb) {
    fc = std::make_unique<Dealer>(Context(), fb->front_endpoint());
    for (int i = 0; i < 50; ++i) FloorTurn(*fc, request);
  }
  for (int round = 0; round < kWarmRounds; ++round) {
    for (int i = 0; i < kWarmPerRound && fc; ++i) out->floor.push_back(FloorTurn(*fc, request));
    for (int i = 0; i < kWarmPerRound; ++i) {
      double us = LanewayTurn(lc, ++id, "warm");
      if (us < 0) return false;
      out->laneway.push_back(us);
    }
  }
  return true;
}

}  // namespace

void RunWarm() {
  Log("warm: one echo session vs one-hop broker");
  Laneway lw(EchoConfig(128));
  FloorBroker fb(1);
  WarmSamples s;
  if (!lw.Start() || !fb.Start() || !MeasureWarm(lw, &fb, &s)) {
    EmitRow("warm turn round trip", "failed", "failed", "n/a", "");
    return;
  }
  const double lp50 = Percentile(s.laneway, 50), fp50 = Percentile(s.floor, 50);
  const double lp99 = Percentile(s.laneway, 99), fp99 = Percentile(s.floor, 99);
  const bool met = lp50 <= 1.5 * fp50;
  EmitRow("warm turn round trip p50 (echo runner, 1 session)", FormatMicros(lp50),
          FormatMicros(fp50), FormatRatio(lp50, fp50),
          std::string("≤ 1.5× — ") + (met ? "met" : "MISSED"));
  EmitRow("warm turn round trip p99", FormatMicros(lp99), FormatMicros(fp99),
          FormatRatio(lp99, fp99), "—");
  lw.Stop();

  // Diagnostic: the same with LANEWAY_HOME on tmpfs, where fdatasync costs nothing,
  // to split the journal's share from the rest of the path (floor interleaved anew).
  Laneway shm(EchoConfig(128), "/dev/shm");
  WarmSamples t;
  if (shm.Start() && MeasureWarm(shm, &fb, &t)) {
    const double sp50 = Percentile(t.laneway, 50), tp50 = Percentile(t.floor, 50);
    EmitRow("↳ diagnostic: same, LANEWAY_HOME on tmpfs (fdatasync ≈ free), p50", FormatMicros(sp50),
            FormatMicros(tp50), FormatRatio(sp50, tp50), "—");
  }
}

void RunThroughput() {
  Log("throughput: 100 echo sessions, 1000 in flight vs broker with 100 peers");
  Laneway lw(EchoConfig(128));
  FloorBroker fb(kSessions);
  if (!lw.Start() || !fb.Start()) {
    EmitRow("turn throughput", "failed", "failed", "n/a", "");
    return;
  }
  Dealer lc(Context(), lw.control_endpoint());
  Dealer fc(Context(), fb.front_endpoint());
  const size_t size = SubmitBytes(1, "main", "s0", Payload()).size();
  auto is_outcome = [](const std::string& f) {
    auto r = ParseReply(f);
    return r && r->type == "outcome";
  };
  int64_t base = 0;  // request ids stay unique across runs on one socket
  auto laneway_req = [&](int64_t seq) {
    return SubmitBytes(base + seq, "main", "s" + std::to_string(seq % kSessions), Payload());
  };
  auto floor_req = [&](int64_t seq) {
    return FloorBroker::Request(static_cast<uint32_t>(seq % kSessions), size);
  };
  auto any = [](const std::string&) { return true; };
  // Warm-up: every session gets its worker; every peer is connected.
  PipelineResult warm =
      RunPipeline(lc, kSessions, kSessions * 2, std::chrono::seconds(30), laneway_req, is_outcome);
  base += 1000000;
  RunPipeline(fc, kSessions, 2000, std::chrono::seconds(10), floor_req, any);
  if (warm.completed < kSessions * 2) {
    EmitRow("turn throughput", "warm-up failed", "", "n/a", "");
    return;
  }
  // Two alternating rounds each; the mean rate of each side, and the CPU time each
  // process class spent per completed turn (where the difference goes).
  const std::vector<pid_t> workers = lw.WorkerPids();
  const std::vector<pid_t> peers = fb.peer_pids();
  double lsum = 0, fsum = 0;
  double cpu_sup = 0, cpu_workers = 0, cpu_broker = 0, cpu_peers = 0;
  int64_t lturns = 0, fturns = 0;
  for (int round = 0; round < 2; ++round) {
    double b0 = CpuSeconds(fb.broker_pid()), p0 = CpuSeconds(peers);
    PipelineResult f =
        RunPipeline(fc, kInFlight, kThroughputTurns * 4, kThroughputLimit / 2, floor_req, any);
    cpu_broker += CpuSeconds(fb.broker_pid()) - b0;
    cpu_peers += CpuSeconds(peers) - p0;
    double s0 = CpuSeconds(lw.pid()), w0 = CpuSeconds(workers);
    PipelineResult l =
        RunPipeline(lc, kInFlight, kThroughputTurns, kThroughputLimit / 2, laneway_req, is_outcome);
    cpu_sup += CpuSeconds(lw.pid()) - s0;
    cpu_workers += CpuSeconds(workers) - w0;
    base += 1000000;
    fsum += f.rate();
    lsum += l.rate();
    fturns += f.completed;
    lturns += l.completed;
    // Drain what is still in flight before the next round.
    std::string frame;
    while (lc.Recv(&frame, std::chrono::milliseconds(300))) {
    }
    while (fc.Recv(&frame, std::chrono::milliseconds(100))) {
    }
  }
  auto per = [](double seconds, int64_t n) { return FormatMicros(n ? seconds * 1e6 / n : 0); };
  EmitNote("throughput: CPU per turn — laneway: supervisor " + per(cpu_sup, lturns) + ", workers " +
           per(cpu_workers, lturns) + "; floor: broker " + per(cpu_broker, fturns) +
           ", echo peers " + per(cpu_peers, fturns) +
           " (user + system time from /proc/<pid>/stat, all threads)");
  const double lrate = lsum / 2, frate = fsum / 2;
  EmitRow("turn throughput, 100 sessions, 1,000 turns in flight", FormatRate(lrate),
          FormatRate(frate), FormatRatio(lrate, frate),
          std::string("≥ 0.5× — ") + (lrate >= 0.5 * frate ? "met" : "MISSED"));
}

}  // namespace laneway::bench
