// Process figures: the cold first turn of a new session, a burst of 500 new
// sessions, and recovery after a run timeout; beside posix_spawn of the minimal
// ZeroMQ program until it says "ready", and kill(SIGKILL) until it is reaped.
#include <poll.h>
#include <signal.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "bench/figures.h"
#include "bench/floors.h"
#include "bench/harness.h"

namespace laneway::bench {

namespace {

constexpr int kColdRuns = 20;
constexpr int kBurst = 500;
constexpr int kRecoveryRuns = 6;
constexpr int kKillGraceMs = 50;

std::string EchoConfig(int max_workers, int spares = 0) {
  return "[supervisor]\nmax_workers = " + std::to_string(max_workers) +
         "\ndrain_timeout = \"2s\"\nspare_workers = " + std::to_string(spares) +
         "\n\n[agents.main]\nrunner = \"echo\"\n";
}

std::string TimeoutConfig(const std::string& restart_backoff, int spares = 0) {
  std::string c = "[supervisor]\nmax_workers = 64\ndrain_timeout = \"2s\"\n";
  if (spares > 0) c += "spare_workers = " + std::to_string(spares) + "\n";
  if (!restart_backoff.empty()) c += "restart_backoff = \"" + restart_backoff + "\"\n";
  c += "\n[agents.main]\nrunner = \"exec\"\ncommand = [\"" + BinDir() +
       "/bench_agent\"]\nrun_timeout = \"200ms\"\nkill_grace = \"" + std::to_string(kKillGraceMs) +
       "ms\"\n";
  return c;
}

// One new session's first turn: submit → outcome, in µs (-1 on failure).
double ColdTurn(Dealer& d, int64_t id, const std::string& session) {
  const auto t0 = Clock::now();
  d.Send(SubmitBytes(id, "main", session, Payload()));
  auto r = AwaitOutcome(d, id, std::chrono::seconds(20));
  return r && r->status == "replied" ? MicrosSince(t0) : -1;
}

// posix_spawn of the minimal program → its "ready", in µs (-1 on failure).
double SpawnReady(ReadyListener& rl, const std::string& id) {
  const auto t0 = Clock::now();
  if (rl.Spawn(id) < 0) return -1;
  Clock::time_point t1;
  return rl.WaitReady(1, std::chrono::seconds(10), &t1) == 1 ? MicrosBetween(t0, t1) : -1;
}

// The row "busy" state of `session` in `workers`, and its pid.
pid_t BusyWorkerPid(Laneway& lw, const std::string& session) {
  common::Value rows = lw.Call("workers");
  if (!rows.is_array()) return 0;
  for (const common::Value& r : rows.as_array()) {
    const common::Value* s = r.Find("session");
    const common::Value* st = r.Find("state");
    const common::Value* pid = r.Find("pid");
    if (s && s->is_string() && s->as_string() == session && st && st->is_string() &&
        st->as_string() == "busy" && pid && pid->is_int()) {
      return static_cast<pid_t>(pid->as_int());
    }
  }
  return 0;
}

struct Recovery {
  std::vector<double> running;  // timed_out arrival → next turn's agent started
  std::vector<double> reply;    // timed_out arrival → next turn's outcome arrival
};

// Per run, a new session gets a "hang" turn and a queued "stamp" turn. With
// `freeze`, the worker is SIGSTOPped while it runs the hang, so that only the
// SIGKILL after kill_grace can end it.
bool MeasureRecovery(Laneway& lw, bool freeze, Recovery* out) {
  Dealer d(Context(), lw.control_endpoint());
  int64_t id = 0;
  for (int run = 0; run < kRecoveryRuns; ++run) {
    const std::string session = "t" + std::to_string(run);
    const int64_t hang = ++id;
    d.Send(SubmitBytes(hang, "main", session, "hang"));
    if (freeze) {
      pid_t pid = 0;
      const auto deadline = Clock::now() + std::chrono::seconds(5);
      while ((pid = BusyWorkerPid(lw, "agent:main:" + session)) == 0 && Clock::now() < deadline) {
        ::poll(nullptr, 0, 1);
      }
      if (pid == 0) return false;
      ::kill(pid, SIGSTOP);
    }
    const int64_t next = ++id;
    d.Send(SubmitBytes(next, "main", session, "stamp"));
    auto timed_out = AwaitOutcome(d, hang, std::chrono::seconds(10));
    const auto t0 = Clock::now();
    auto stamp = AwaitOutcome(d, next, std::chrono::seconds(10));
    const auto t1 = Clock::now();
    if (!timed_out || timed_out->status != "timed_out" || !stamp || stamp->status != "replied" ||
        stamp->text.rfind("t=", 0) != 0) {
      Log("recovery run failed: " + (stamp ? stamp->status + " " + stamp->text : "no outcome"));
      return false;
    }
    // bench_agent stamps CLOCK_MONOTONIC, which is steady_clock's clock on Linux.
    const Clock::time_point started{std::chrono::nanoseconds(std::atoll(stamp->text.c_str() + 2))};
    out->running.push_back(MicrosBetween(t0, started));
    out->reply.push_back(MicrosBetween(t0, t1));
  }
  return true;
}

}  // namespace

void RunCold() {
  Log("cold: first turn of a new session vs posix_spawn → ready");
  Laneway lw(EchoConfig(1000));
  ReadyListener rl;
  if (!lw.Start()) {
    EmitRow("cold first turn", "failed", "", "n/a", "");
    return;
  }
  Dealer d(Context(), lw.control_endpoint());
  std::vector<double> lanes, floors;
  for (int i = 0; i < kColdRuns + 2; ++i) {  // the first two warm the page cache
    double f = SpawnReady(rl, "r" + std::to_string(i));
    double l = ColdTurn(d, i + 1, "cold" + std::to_string(i));
    if (f < 0 || l < 0) {
      EmitRow("cold first turn", l < 0 ? "failed" : "", f < 0 ? "failed" : "", "n/a", "");
      return;
    }
    if (i < 2) continue;
    floors.push_back(f);
    lanes.push_back(l);
  }
  const double l50 = Percentile(lanes, 50), f50 = Percentile(floors, 50);
  EmitRow("cold first turn of a new session p50 (spawn, connect, lock, turn)", FormatMicros(l50),
          FormatMicros(f50), FormatRatio(l50, f50),
          std::string("≤ 1.3× — ") + (l50 <= 1.3 * f50 ? "met" : "MISSED"));
  lw.Stop();

  // Diagnostic: the same with LANEWAY_HOME on tmpfs, where the three fdatasyncs
  // on a cold turn's path (accept, start, outcome) cost nothing.
  Laneway shm(EchoConfig(1000), "/dev/shm");
  if (!shm.Start()) return;
  Dealer e(Context(), shm.control_endpoint());
  std::vector<double> tmpfs;
  for (int i = 0; i < kColdRuns + 2; ++i) {
    double l = ColdTurn(e, i + 1, "cold" + std::to_string(i));
    if (l < 0) return;
    if (i >= 2) tmpfs.push_back(l);
  }
  const double t50 = Percentile(tmpfs, 50);
  EmitRow("↳ diagnostic: same, LANEWAY_HOME on tmpfs (fdatasync ≈ free), p50", FormatMicros(t50),
          FormatMicros(f50), FormatRatio(t50, f50), "—");

  // With spare workers: the first turn binds a worker started ahead (a message, a
  // lock, a hello) instead of spawning one. A pause between turns lets the spare
  // taken by the previous turn be replaced, as it would be between real sessions.
  Laneway sp(EchoConfig(1000, 4));
  if (!sp.Start()) return;
  Dealer g(Context(), sp.control_endpoint());
  std::vector<double> spare;
  for (int i = 0; i < kColdRuns + 2; ++i) {
    const auto settle = Clock::now() + std::chrono::milliseconds(100);
    while (Clock::now() < settle) ::poll(nullptr, 0, 10);
    double l = ColdTurn(g, i + 1, "cold" + std::to_string(i));
    if (l < 0) {
      EmitRow("cold first turn with spare_workers = 4, p50", "failed", "", "n/a", "");
      return;
    }
    if (i >= 2) spare.push_back(l);
  }
  const double s50 = Percentile(spare, 50);
  EmitRow("cold first turn with spare_workers = 4 (bind, lock, turn), p50", FormatMicros(s50),
          FormatMicros(f50), FormatRatio(s50, f50),
          std::string("≤ 1.3× — ") + (s50 <= 1.3 * f50 ? "met" : "MISSED"));
}

void RunBurst() {
  Log("burst: first turns of 500 new sessions vs 500 spawns → ready");
  double floor_us = -1, lane_us = -1;
  {
    ReadyListener rl;
    const auto t0 = Clock::now();
    for (int i = 0; i < kBurst; ++i) rl.Spawn("b" + std::to_string(i));
    Clock::time_point last;
    if (rl.WaitReady(kBurst, std::chrono::seconds(60), &last) == kBurst) {
      floor_us = MicrosBetween(t0, last);
    }
  }
  {
    Laneway lw(EchoConfig(1000));
    if (lw.Start()) {
      Dealer d(Context(), lw.control_endpoint());
      const auto t0 = Clock::now();
      for (int i = 0; i < kBurst; ++i) {
        d.Send(SubmitBytes(i + 1, "main", "burst" + std::to_string(i), Payload()));
      }
      int replied = 0;
      std::string frame;
      const auto deadline = t0 + std::chrono::seconds(60);
      while (replied < kBurst && Clock::now() < deadline) {
        if (!d.Recv(&frame, std::chrono::milliseconds(100))) continue;
        auto r = ParseReply(frame);
        if (r && r->type == "outcome" && r->status == "replied") ++replied;
      }
      if (replied == kBurst) lane_us = MicrosSince(t0);
    }
  }
  EmitRow("burst: first turns of 500 new sessions, all answered",
          lane_us < 0 ? "failed" : FormatMicros(lane_us),
          floor_us < 0 ? "failed" : FormatMicros(floor_us), FormatRatio(lane_us, floor_us), "—");
}

void RunTimeout() {
  Log("timeout: run_timeout of a hung turn → next queued turn running");
  std::vector<double> kills;
  {
    ReadyListener rl;
    for (int i = 0; i < 20; ++i) {
      pid_t pid = rl.Spawn("k" + std::to_string(i));
      if (pid < 0 || rl.WaitReady(1, std::chrono::seconds(10)) != 1) break;
      const auto t0 = Clock::now();
      ::kill(pid, SIGKILL);
      Reap(pid);
      kills.push_back(MicrosSince(t0));
    }
  }
  const double kill50 = Percentile(kills, 50);
  const double grace_us = kKillGraceMs * 1000.0;
  struct Variant {
    const char* label;
    const char* backoff;
    bool freeze;
    int spares;
  };
  const Variant variants[] = {
      {"timeout recovery, hung agent (worker exits on SIGTERM), p50", "", false, 0},
      {"timeout recovery, frozen worker (SIGKILL after kill_grace = 50 ms), p50", "", true, 0},
      {"timeout recovery, hung agent, spare_workers = 4, p50", "", false, 4},
      {"timeout recovery, frozen worker, spare_workers = 4, p50", "", true, 4},
      {"↳ diagnostic: hung agent, restart_backoff = 1ms, p50", "1ms", false, 0},
      {"↳ diagnostic: frozen worker, restart_backoff = 1ms, p50", "1ms", true, 0},
  };
  for (const Variant& v : variants) {
    Laneway lw(TimeoutConfig(v.backoff, v.spares));
    Recovery r;
    if (!lw.Start() || !MeasureRecovery(lw, v.freeze, &r)) {
      EmitRow(v.label, "failed", FormatMicros(kill50), "n/a", "");
      continue;
    }
    const double run50 = Percentile(r.running, 50);
    const double floor = v.freeze ? grace_us + kill50 : kill50;
    const double bound = v.freeze ? grace_us + 5000 : 5000;
    std::string target = v.freeze ? "< kill_grace + 5 ms" : "< 5 ms (no grace to wait)";
    EmitRow(v.label, FormatMicros(run50),
            (v.freeze ? "50 ms + " : "") + FormatMicros(kill50) + " kill→reaped",
            FormatRatio(run50, floor), target + (run50 < bound ? " — met" : " — MISSED"));
    EmitNote(std::string(v.label) + ": to the next turn's reply p50 " +
             FormatMicros(Percentile(r.reply, 50)) + ", running max " +
             FormatMicros(Percentile(r.running, 100)));
  }
}

}  // namespace laneway::bench
