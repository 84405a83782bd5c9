// Durable accepts: turns journaled (write + fdatasync, group commit) and then
// acknowledged, per second and one at a time; beside a raw ZeroMQ ROUTER that
// group-commits records of the same size (floor_peer commit) in the same
// directory. Also the Journal class in-process against raw write + fdatasync.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "bench/figures.h"
#include "bench/floors.h"
#include "bench/harness.h"
#include "common/protocol.h"
#include "supervisor/journal.h"

namespace laneway::bench {

namespace {

constexpr int64_t kDurableTurns = 30000;  // per round; two rounds
constexpr int kDurableInFlight = 4000;
constexpr int kDurableSessions = 100;
constexpr int kLatencyRuns = 300;
constexpr int kJournalBatch = 512;  // the supervisor's most messages per socket per iteration
constexpr int kJournalBatches = 100;

std::string GateConfig() {
  return "[supervisor]\nmax_workers = 1\nmax_turns_in_memory = 10000000\n"
         "drain_timeout = \"1s\"\n\n[agents.main]\nrunner = \"exec\"\ncommand = [\"" +
         BinDir() +
         "/bench_agent\"]\nmax_queue = 1000000\nrun_timeout = \"10m\"\nkill_grace = \"100ms\"\n";
}

std::string BlockText() { return "block" + Payload().substr(5); }

// The journal record of a typical accepted turn, as the supervisor writes it.
supervisor::JournalRecord AcceptRecord() {
  supervisor::JournalRecord r;
  r.type = supervisor::JournalRecord::Type::kAccept;
  r.turn_id = 123456;
  r.session = "agent:main:s42";
  r.agent = "main";
  r.message = BlockText();
  r.accepted_unix_ms = 1700000000000;
  return r;
}

size_t AcceptedAckBytes() {
  common::Value m = common::NewMessage(common::msg::kAccepted);
  m.Set("id", int64_t{123456});
  m.Set("turn_id", int64_t{123456});
  m.Set("session", "agent:main:s42");
  return common::EncodeMessage(m).size();
}

// Sequential submits, each waited for until its first reply; µs per request.
std::vector<double> AcceptLatencies(Dealer& d, const std::string& agent, const std::string& text,
                                    int64_t* id, bool wait_outcome) {
  std::vector<double> out;
  std::string frame;
  for (int i = 0; i < kLatencyRuns; ++i) {
    const int64_t req = ++*id;
    const auto t0 = Clock::now();
    d.Send(SubmitBytes(req, agent, "lat", text, wait_outcome));
    for (;;) {
      if (!d.Recv(&frame, std::chrono::seconds(5))) return {};
      auto r = ParseReply(frame);
      if (r && r->type == "accepted" && r->id == req) break;
    }
    out.push_back(MicrosSince(t0));
    if (wait_outcome && !AwaitOutcome(d, req, std::chrono::seconds(5))) return {};
  }
  return out;
}

std::vector<double> FloorLatencies(Dealer& d, const std::string& request) {
  std::vector<double> out;
  std::string frame;
  for (int i = 0; i < kLatencyRuns; ++i) {
    const auto t0 = Clock::now();
    d.Send(request);
    if (!d.Recv(&frame, std::chrono::seconds(5))) return {};
    out.push_back(MicrosSince(t0));
  }
  return out;
}

}  // namespace

void RunDurable() {
  Log("durable: accepts journaled and acknowledged vs raw group-commit server");
  Laneway lw(GateConfig());
  if (!lw.Start()) {
    EmitRow("durable accepts", "failed", "", "n/a", "");
    return;
  }
  const std::string journal_dir = lw.paths().journal_dir;
  const size_t record_bytes = supervisor::EncodeJournalFrame(AcceptRecord()).size();
  CommitServer floor(journal_dir, record_bytes, AcceptedAckBytes());
  if (!floor.Start()) {
    EmitRow("durable accepts", "", "failed", "n/a", "");
    return;
  }
  Dealer d(Context(), lw.control_endpoint());
  Dealer f(Context(), floor.endpoint());
  // Occupy the only worker slot with a turn that never ends: every later turn
  // is journaled, acknowledged and queued, and none runs.
  int64_t id = 0;
  d.Send(SubmitBytes(++id, "main", "gate", "block"));
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    common::Value s = lw.Call("status");
    const common::Value* b = s.Find("busy");
    if (b && b->is_int() && b->as_int() == 1) break;
    if (Clock::now() >= deadline) {
      EmitRow("durable accepts", "gate turn did not start", "", "n/a", "");
      return;
    }
    ::poll(nullptr, 0, 5);
  }

  const std::string request = SubmitBytes(1, "main", "s42", BlockText(), false);
  const std::vector<double> floor_lat = FloorLatencies(f, request);
  const std::vector<double> lane_lat = AcceptLatencies(d, "main", BlockText(), &id, false);

  auto accepted = [](const std::string& frame) {
    auto r = ParseReply(frame);
    return r && r->type == "accepted";
  };
  auto any = [](const std::string&) { return true; };
  auto lane_req = [&](int64_t) {
    const int64_t req = ++id;
    return SubmitBytes(req, "main", "s" + std::to_string(req % kDurableSessions), BlockText(),
                       false);
  };
  auto floor_req = [&](int64_t) { return request; };
  double lsum = 0, fsum = 0;
  for (int round = 0; round < 2; ++round) {
    fsum +=
        RunPipeline(f, kDurableInFlight, kDurableTurns, std::chrono::seconds(10), floor_req, any)
            .rate();
    lsum += RunPipeline(d, kDurableInFlight, kDurableTurns, std::chrono::seconds(10), lane_req,
                        accepted)
                .rate();
  }
  const double lrate = lsum / 2, frate = fsum / 2;
  EmitRow("durable accepts/s (journaled + fdatasync before the ack), 4,000 in flight",
          FormatRate(lrate), FormatRate(frate), FormatRatio(lrate, frate),
          std::string("≥ 100k/s — ") + (lrate >= 100000 ? "met" : "MISSED"));
  const double l50 = Percentile(lane_lat, 50), f50 = Percentile(floor_lat, 50);
  EmitRow("accept latency p50, one in flight (submit → accepted, no dispatch)",
          lane_lat.empty() ? "failed" : FormatMicros(l50), FormatMicros(f50), FormatRatio(l50, f50),
          "—");
  lw.Stop();

  // The common case: the session's worker is idle, so the turn is dispatched in
  // the iteration that accepts it.
  Laneway echo("[supervisor]\ndrain_timeout = \"1s\"\n\n[agents.main]\nrunner = \"echo\"\n");
  if (echo.Start()) {
    Dealer e(Context(), echo.control_endpoint());
    int64_t eid = 0;
    AcceptLatencies(e, "main", Payload(), &eid, true);  // spawn the worker, warm up
    std::vector<double> lat = AcceptLatencies(e, "main", Payload(), &eid, true);
    const double e50 = Percentile(lat, 50);
    EmitRow("accept latency p50, turn dispatched at once to an idle echo worker",
            lat.empty() ? "failed" : FormatMicros(e50), FormatMicros(f50), FormatRatio(e50, f50),
            "—");
  }
  EmitNote("durable: floor = floor_peer commit, a ZeroMQ ROUTER that writes one " +
           std::to_string(record_bytes) +
           "-byte record per request (the size of laneway's accept record) with one write + "
           "fdatasync per batch of up to 512, in the journal's directory, then acks");
}

void RunJournal() {
  Log("journal: Journal class in-process vs raw write + fdatasync");
  TempDir dir;
  supervisor::JournalRecovery rec;
  supervisor::Journal::Options jo;
  jo.dir = dir.path() + "/journal";
  auto j = supervisor::Journal::Open(jo, &rec);
  int fd = ::open((dir.path() + "/raw.log").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (!j.ok() || fd < 0) {
    EmitRow("journal in-process", "failed", "failed", "n/a", "");
    return;
  }
  supervisor::Journal& journal = **j;
  const supervisor::JournalRecord record = AcceptRecord();
  const std::string frame = supervisor::EncodeJournalFrame(record);
  std::string batch;
  for (int i = 0; i < kJournalBatch; ++i) batch += frame;
  off_t offset = 0;
  auto raw_write = [&](const std::string& bytes) {
    bool ok =
        ::pwrite(fd, bytes.data(), bytes.size(), offset) == static_cast<ssize_t>(bytes.size()) &&
        ::fdatasync(fd) == 0;
    offset += static_cast<off_t>(bytes.size());
    return ok;
  };
  std::vector<double> jbatch, rbatch, jone, rone;
  for (int i = 0; i < kJournalBatches; ++i) {
    auto t0 = Clock::now();
    for (int k = 0; k < kJournalBatch; ++k) journal.Append(record);
    if (!journal.Commit().ok()) break;
    jbatch.push_back(MicrosSince(t0));
    t0 = Clock::now();
    if (!raw_write(batch)) break;
    rbatch.push_back(MicrosSince(t0));
  }
  for (int i = 0; i < kLatencyRuns; ++i) {
    auto t0 = Clock::now();
    journal.Append(record);
    if (!journal.Commit().ok()) break;
    jone.push_back(MicrosSince(t0));
    t0 = Clock::now();
    if (!raw_write(frame)) break;
    rone.push_back(MicrosSince(t0));
  }
  ::close(fd);
  const double jb = Percentile(jbatch, 50), rb = Percentile(rbatch, 50);
  const double jrate = jb > 0 ? kJournalBatch / (jb / 1e6) : 0;
  const double rrate = rb > 0 ? kJournalBatch / (rb / 1e6) : 0;
  EmitRow("in-process Journal: 512 accept records per Append…Commit (median batch)",
          FormatRate(jrate), FormatRate(rrate), FormatRatio(jrate, rrate), "—");
  const double j1 = Percentile(jone, 50), r1 = Percentile(rone, 50);
  EmitRow("in-process Journal: Append + Commit of one record, p50", FormatMicros(j1),
          FormatMicros(r1), FormatRatio(j1, r1), "—");
  EmitNote("journal: raw = pwrite + fdatasync of the same " + std::to_string(frame.size()) +
           "-byte frames in the same directory, interleaved with the Journal's commits");
}

}  // namespace laneway::bench
