#include "supervisor/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <string_view>

#include "supervisor/core.h"
#include "supervisor/session_table.h"
#include "supervisor/turn_ledger.h"
#include "supervisor/worker_pool.h"

#ifndef LANEWAY_VERSION
#define LANEWAY_VERSION "dev"
#endif

namespace laneway::supervisor {

namespace {

// Counters of the table rendered as a labelled series of a shared family instead
// of laneway_<name>_total of their own.
struct Grouped {
  const char* counter;
  const char* family;
  const char* label;
  const char* value;
};
constexpr Grouped kGrouped[] = {
    {"turns_replied", "laneway_turns_total", "outcome", "replied"},
    {"turns_failed", "laneway_turns_total", "outcome", "failed"},
    {"turns_timed_out", "laneway_turns_total", "outcome", "timed_out"},
    {"turns_cancelled", "laneway_turns_total", "outcome", "cancelled"},
    {"turns_rejected", "laneway_turns_total", "outcome", "rejected"},
    {"turns_interrupted", "laneway_turns_total", "outcome", "interrupted"},
    {"model_prompt_tokens", "laneway_model_tokens_total", "kind", "prompt"},
    {"model_completion_tokens", "laneway_model_tokens_total", "kind", "completion"},
};
// Rendered from OpsStats by reason instead (the sum is the table's worker_kills).
constexpr const char* kByReason = "worker_kills";

std::string Num(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string Num(uint64_t v) { return std::to_string(v); }
std::string Num(int64_t v) { return std::to_string(v); }

std::string EscapeHelp(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeLabel(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

class Writer {
 public:
  void Family(const std::string& name, const char* type, std::string_view help) {
    out_ += "# HELP " + name + " " + EscapeHelp(help) + "\n";
    out_ += "# TYPE " + name + " " + type + "\n";
  }
  void Sample(const std::string& name, const std::string& value, const std::string& labels = "") {
    out_ += name;
    if (!labels.empty()) out_ += "{" + labels + "}";
    out_ += " " + value + "\n";
  }
  template <typename T>
  void One(const std::string& name, const char* type, std::string_view help, T value) {
    Family(name, type, help);
    Sample(name, Num(value));
  }
  void Hist(const std::string& name, std::string_view help, const Histogram& h) {
    Family(name, "histogram", help);
    const auto cum = h.Cumulative();
    for (size_t i = 0; i < h.bounds().size(); ++i) {
      Sample(name + "_bucket", Num(cum[i]), "le=\"" + Num(h.bounds()[i]) + "\"");
    }
    Sample(name + "_bucket", Num(cum.back()), "le=\"+Inf\"");
    Sample(name + "_sum", Num(h.sum()));
    Sample(name + "_count", Num(h.count()));
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string Label(const char* key, std::string_view value) {
  return std::string(key) + "=\"" + EscapeLabel(value) + "\"";
}

// --- process_* from /proc/self (the names and meanings of the Prometheus clients).

struct ProcStat {
  bool ok = false;
  double cpu_seconds = 0;
  double start_time_seconds = 0;
  uint64_t vsize = 0;
  uint64_t rss_bytes = 0;
};

double BootTimeSeconds() {
  FILE* f = std::fopen("/proc/stat", "re");
  if (f == nullptr) return 0;
  char line[256];
  double btime = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "btime ", 6) == 0) {
      btime = std::strtod(line + 6, nullptr);
      break;
    }
  }
  std::fclose(f);
  return btime;
}

ProcStat ReadProcStat() {
  ProcStat ps;
  FILE* f = std::fopen("/proc/self/stat", "re");
  if (f == nullptr) return ps;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return ps;
  unsigned long utime = 0, stime = 0, vsize = 0;
  unsigned long long start = 0;
  long rss = 0;
  // state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
  // utime(14) stime cutime cstime priority nice threads itreal starttime(22)
  // vsize(23) rss(24)
  int got = std::sscanf(p + 2,
                        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d "
                        "%*d %llu %lu %ld",
                        &utime, &stime, &start, &vsize, &rss);
  if (got != 5) return ps;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  ps.ok = true;
  ps.cpu_seconds = (utime + stime) / ticks;
  ps.start_time_seconds = BootTimeSeconds() + start / ticks;
  ps.vsize = vsize;
  ps.rss_bytes = static_cast<uint64_t>(rss) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return ps;
}

uint64_t OpenFds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  uint64_t n = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n > 0 ? n - 1 : 0;  // less the one opendir holds
}

void WriteProcess(Writer& w) {
  ProcStat ps = ReadProcStat();
  if (ps.ok) {
    w.One("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
          ps.cpu_seconds);
    w.One("process_start_time_seconds", "gauge",
          "Start time of the process since unix epoch in seconds.", ps.start_time_seconds);
    w.One("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", ps.vsize);
    w.One("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
          ps.rss_bytes);
  }
  w.One("process_open_fds", "gauge", "Number of open file descriptors.", OpenFds());
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    w.One("process_max_fds", "gauge", "Maximum number of open file descriptors.",
          static_cast<uint64_t>(rl.rlim_cur));
  }
}

struct Gauges {
  std::map<std::string, int64_t> workers_by_state{
      {"starting", 0}, {"idle", 0}, {"dispatched", 0}, {"busy", 0}, {"stopping", 0}};
  int64_t queued = 0;
  int64_t parked = 0;
  int64_t stuck = 0;
};

Gauges ReadGauges(const Core& core) {
  // From the pool's and the session table's tallies: no walk of every worker.
  Gauges g;
  const auto now = core.clock().Now();
  const auto stuck_after = core.config().supervisor.stuck_after;
  const WorkerPool& pool = core.pool();
  for (WorkerState st : {WorkerState::kStarting, WorkerState::kIdle, WorkerState::kDispatched,
                         WorkerState::kBusy, WorkerState::kStopping}) {
    g.workers_by_state[WorkerStateName(st)] = static_cast<int64_t>(pool.count(st));
  }
  pool.ForEachWithTurn([&](const Worker& w) {
    if (w.state == WorkerState::kBusy && w.running && now - w.turn_started >= stuck_after) {
      ++g.stuck;
    }
  });
  g.queued = static_cast<int64_t>(core.sessions().queued_turns());
  g.parked = static_cast<int64_t>(core.sessions().parked().size());
  return g;
}

// Channel error counts by channel and kind, from the channels' State() maps.
struct ChannelError {
  const char* channel;
  const char* field;  // "a" or "a.b"
  const char* kind;
};
constexpr ChannelError kChannelErrors[] = {
    {"http", "auth_failures", "auth_failure"},
    {"http", "slow_clients_cut", "slow_client_cut"},
    {"http", "connections_refused", "connection_refused"},
    {"telegram", "poll.errors", "poll_error"},
    {"telegram", "poll.conflicts", "conflict"},
    {"telegram", "poll.rate_limited", "rate_limited"},
    {"telegram", "send_errors", "send_error"},
};

const common::Value* Path(const common::Value& v, std::string_view path) {
  const common::Value* cur = &v;
  while (cur != nullptr && !path.empty()) {
    size_t dot = path.find('.');
    cur = cur->Find(path.substr(0, dot));
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return cur;
}

void WriteChannels(Writer& w, const Core& core) {
  if (!core.options().channel_states) return;
  const common::Value states = core.options().channel_states();
  if (!states.is_array() || states.as_array().empty()) return;
  w.Family("laneway_channel_up", "gauge", "1 while the channel serves, 0 while it is failing.");
  for (const common::Value& ch : states.as_array()) {
    auto kind = ch.GetStringOr("kind", "");
    auto ok = ch.GetBoolOr("ok", false);
    if (!kind.ok() || kind->empty()) continue;
    w.Sample("laneway_channel_up", ok.ok() && *ok ? "1" : "0", Label("channel", *kind));
  }
  w.Family("laneway_channel_errors_total", "counter",
           "Errors of the channels (front doors), by channel and kind.");
  for (const common::Value& ch : states.as_array()) {
    auto kind = ch.GetStringOr("kind", "");
    if (!kind.ok()) continue;
    for (const ChannelError& e : kChannelErrors) {
      if (*kind != e.channel) continue;
      const common::Value* v = Path(ch, e.field);
      if (v == nullptr || !v->is_int()) continue;
      w.Sample("laneway_channel_errors_total", Num(v->as_int()),
               Label("channel", e.channel) + "," + Label("kind", e.kind));
    }
  }
}

void WriteCounters(Writer& w, const Core& core) {
  size_t n = 0;
  const CounterDef* table = CounterTable(&n);
  const Counters& c = core.counters();
  // Grouped families first, each once, with every member's series.
  std::map<std::string, std::string> family_help = {
      {"laneway_turns_total", "Turns that ended, by outcome."},
      {"laneway_model_tokens_total", "Tokens the model servers reported, by kind."},
  };
  for (const auto& [family, help] : family_help) {
    w.Family(family, "counter", help);
    for (const Grouped& g : kGrouped) {
      if (family != g.family) continue;
      for (size_t i = 0; i < n; ++i) {
        if (std::strcmp(table[i].name, g.counter) != 0) continue;
        w.Sample(family, Num(c.*(table[i].field)), Label(g.label, g.value));
      }
    }
  }
  w.Family("laneway_worker_kills_total", "counter",
           "Workers signalled by the supervisor, by reason.");
  for (const auto& [reason, count] : core.ops().kills_by_reason()) {
    w.Sample("laneway_worker_kills_total", Num(count), Label("reason", reason));
  }
  for (size_t i = 0; i < n; ++i) {
    const CounterDef& d = table[i];
    bool grouped = std::strcmp(d.name, kByReason) == 0;
    for (const Grouped& g : kGrouped) grouped |= std::strcmp(d.name, g.counter) == 0;
    if (grouped) continue;
    w.One(std::string("laneway_") + d.name + "_total", "counter", d.help, c.*(d.field));
  }
}

}  // namespace

std::string RenderMetrics(const Core& core) {
  Writer w;
  const Gauges g = ReadGauges(core);
  const TurnLedger& ledger = core.ledger();
  w.Family("laneway_build_info", "gauge", "Always 1; the labels say which laneway this is.");
  w.Sample("laneway_build_info", "1", Label("version", LANEWAY_VERSION));
  w.One("laneway_healthy", "gauge", "1 when nothing is stuck or parked and the journal is writable.",
        static_cast<int64_t>(g.stuck == 0 && g.parked == 0 && ledger.journal_ok()));
  w.One("laneway_shutting_down", "gauge", "1 while the supervisor drains for a stop.",
        static_cast<int64_t>(core.shutting_down()));
  w.Family("laneway_workers", "gauge", "Live workers, by state.");
  for (const auto& [state, count] : g.workers_by_state) {
    w.Sample("laneway_workers", Num(count), Label("state", state));
  }
  w.One("laneway_max_workers", "gauge", "The max_workers setting.",
        static_cast<int64_t>(core.config().supervisor.max_workers));
  w.One("laneway_sessions", "gauge", "Sessions the supervisor knows.",
        static_cast<uint64_t>(core.sessions().size()));
  w.One("laneway_sessions_parked", "gauge",
        "Sessions parked after repeated worker deaths (restart_limit).", g.parked);
  w.One("laneway_sessions_stuck", "gauge", "Busy workers whose turn runs past stuck_after.",
        g.stuck);
  w.One("laneway_sessions_waiting_for_worker", "gauge",
        "Sessions with work waiting for a worker slot.",
        static_cast<uint64_t>(core.sessions().waiting_for_worker()));
  w.One("laneway_queue_depth", "gauge", "Turns queued, not yet running, over all sessions.",
        g.queued);
  w.One("laneway_turns_unfinished", "gauge", "Accepted turns without an outcome yet.",
        ledger.unfinished());
  w.One("laneway_waiting_clients", "gauge", "Clients waiting for a turn's outcome.",
        ledger.waiting_clients());
  w.One("laneway_journal_bytes", "gauge", "Size of the journal file.", ledger.journal_bytes());
  w.One("laneway_journal_ok", "gauge", "1 while the journal is writable and synced.",
        static_cast<int64_t>(ledger.journal_ok()));
  WriteCounters(w, core);
  const OpsStats& ops = core.ops();
  w.Hist("laneway_turn_duration_seconds", "Time from a turn's start on a worker to its outcome.",
         ops.turn_duration());
  w.Hist("laneway_turn_queue_wait_seconds",
         "Time from a turn's acceptance to its first start on a worker.", ops.queue_wait());
  w.Hist("laneway_journal_sync_seconds", "Latency of the journal's fdatasync on the job thread.",
         ops.journal_sync());
  WriteChannels(w, core);
  WriteProcess(w);
  return w.Take();
}

std::string StatusSummary(const Core& core) {
  const Gauges g = ReadGauges(core);
  auto n = [&](const char* s) { return std::to_string(g.workers_by_state.at(s)); };
  // A dispatched turn (sent, not yet acknowledged) counts as busy, as in `status`.
  const std::string busy =
      std::to_string(g.workers_by_state.at("busy") + g.workers_by_state.at("dispatched"));
  std::string line = busy + " busy, " + n("idle") + " idle, " + n("starting") +
                     " starting of max " + std::to_string(core.config().supervisor.max_workers) +
                     " workers; " + std::to_string(g.queued) + " queued; ";
  const bool journal_ok = core.ledger().journal_ok();
  if (core.shutting_down()) {
    line += "draining";
  } else if (g.stuck == 0 && g.parked == 0 && journal_ok) {
    line += "healthy";
  } else {
    line += "unhealthy: " + std::to_string(g.stuck) + " stuck, " + std::to_string(g.parked) +
            " parked" + (journal_ok ? "" : ", journal failing");
  }
  return line;
}

}  // namespace laneway::supervisor
