// Bench harness: processes, temp homes, a pipelining control client, percentiles
// and the row format that bench/run.sh turns into one table.
//
// Every figure runs laneway's real binaries (laneway-supervisor, laneway-worker,
// laneway) from the build's bin dir in a private LANEWAY_HOME, and its floor as
// separate processes of bench/floor_peer.cc, in the same run. Waits are bounded:
// a figure that cannot finish prints a row that says so instead of hanging.
//
// Output: rows on stdout as "ROW\t<figure>\t<laneway>\t<floor>\t<ratio>\t<target>",
// notes as "NOTE\t<text>"; progress and diagnostics on stderr.
//
// Thread-safety: none, except Context() (a ZeroMQ context is thread-safe; give
// each thread its own Dealer).
#ifndef LANEWAY_BENCH_HARNESS_H_
#define LANEWAY_BENCH_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "common/paths.h"
#include "common/value.h"

namespace laneway::bench {

using Clock = std::chrono::steady_clock;
using Env = std::vector<std::pair<std::string, std::string>>;

double MicrosBetween(Clock::time_point from, Clock::time_point to);
double MicrosSince(Clock::time_point from);

// The p-th percentile (0..100) of `samples`, nearest rank; 0 for no samples.
double Percentile(std::vector<double> samples, double p);

// Number formatting for the table: "123 µs", "1.23 ms", "4.5k/s", "1.2 MB".
std::string FormatMicros(double us);
std::string FormatRate(double per_second);
std::string FormatMb(double kb);
std::string FormatRatio(double laneway, double floor);

// One table row (stdout). `target` states the target and whether it was met.
void EmitRow(const std::string& figure, const std::string& laneway, const std::string& floor,
             const std::string& ratio, const std::string& target);
void EmitNote(const std::string& text);
// Progress on stderr.
void Log(const std::string& text);

// Directory of laneway's binaries and floor_peer / bench_agent.
std::string BinDir();

// A fresh directory (mkdtemp under `base`), removed with its contents on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& base = "/tmp");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// posix_spawn of argv with the environment plus `extra`, in a process group of
// its own (so that KillGroup reaches what it starts). stdout/stderr go to `log`
// (appended) or /dev/null. Returns the pid, or -1.
pid_t Spawn(const std::vector<std::string>& argv, const Env& extra = {},
            const std::string& log = "");
void KillGroup(pid_t pid, int sig);
// Waits for `pid` up to `timeout`; true if it was reaped. *status gets its status.
bool WaitExit(pid_t pid, std::chrono::milliseconds timeout, int* status = nullptr);
// Waits for `pid` without a bound (for timing an exit that is certain).
void Reap(pid_t pid);
// On SIGTERM/SIGINT (bench/run.sh's time limit), SIGKILLs the process group of
// every process Spawn started and not yet reaped, then exits. Supervisors take
// their workers with them (PR_SET_PDEATHSIG); temp dirs stay behind.
void InstallCleanupHandler();

// Memory of one process from /proc: private = Private_Clean + Private_Dirty and
// Pss (smaps_rollup), rss = VmRSS (status); all in KiB, -1 if unreadable.
struct MemInfo {
  double private_kb = -1;
  double pss_kb = -1;
  double rss_kb = -1;
};
MemInfo ReadMem(pid_t pid);
// CPU time (user + system, all threads) a live process used so far, in seconds;
// 0 if unreadable. Resolution: one clock tick (10 ms).
double CpuSeconds(pid_t pid);
double CpuSeconds(const std::vector<pid_t>& pids);

// A laneway-supervisor in a private LANEWAY_HOME (under /tmp: the real disk, so
// the journal's fdatasync costs what it costs; or `base` if given).
class Laneway {
 public:
  explicit Laneway(const std::string& config, const std::string& base = "/tmp");
  ~Laneway();  // Stop()
  Laneway(const Laneway&) = delete;
  Laneway& operator=(const Laneway&) = delete;

  // Starts the supervisor and waits (bounded) until it answers a ping.
  bool Start();
  // Graceful shutdown (bounded by the config's drain_timeout + 5 s), then SIGKILL.
  void Stop();
  pid_t pid() const { return pid_; }
  const std::string& home() const { return dir_.path(); }
  common::Paths paths() const { return common::PathsForHome(dir_.path()); }
  std::string control_endpoint() const { return paths().control_endpoint(); }
  // One request/reply over a fresh in-process client; the reply's "data", or null.
  common::Value Call(const std::string& type, common::Value fields = common::Value::MakeMap());
  // Pid of the worker of `session` (full key), 0 if none.
  pid_t WorkerPid(const std::string& session);
  // Pids of every worker.
  std::vector<pid_t> WorkerPids();

 private:
  TempDir dir_;
  pid_t pid_ = -1;
};

// A DEALER on a control (or floor broker) endpoint that can keep many requests
// in flight. High-water marks are lifted so that pipelining never blocks.
class Dealer {
 public:
  Dealer(zmq::context_t& ctx, const std::string& endpoint);
  void Send(const std::string& bytes);
  // Receives one frame into *out; false after `timeout` with nothing.
  bool Recv(std::string* out, std::chrono::milliseconds timeout);
  zmq::socket_t& socket() { return sock_; }

 private:
  zmq::socket_t sock_;
};

// Keeps `in_flight` requests outstanding on `dealer` until `total` have completed
// or `limit` passed: make(seq) gives request seq's bytes (seq from 1); done(frame)
// says whether a received frame completes a request (replies that do not, such as
// laneway's "accepted" before an "outcome", are skipped).
struct PipelineResult {
  int64_t completed = 0;
  double seconds = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(completed) / seconds : 0; }
};
PipelineResult RunPipeline(Dealer& dealer, int in_flight, int64_t total,
                           std::chrono::milliseconds limit,
                           const std::function<std::string(int64_t)>& make,
                           const std::function<bool(const std::string&)>& done);

// Encoded laneway requests.
std::string SubmitBytes(int64_t id, const std::string& agent, const std::string& session,
                        const std::string& message, bool wait = true);
// A decoded reply of the supervisor, with the fields benches look at.
struct Reply {
  std::string type;  // accepted | outcome | result | error
  int64_t id = 0;
  std::string status;  // outcome: replied | timed_out | ...
  std::string text;    // outcome: reply or error
};
std::optional<Reply> ParseReply(const std::string& frame);
// Waits (bounded) for the outcome of request `id`, skipping (and losing) other frames.
std::optional<Reply> AwaitOutcome(Dealer& dealer, int64_t id, std::chrono::milliseconds timeout);
// Waits (bounded) for `n` outcomes of any requests; returns how many arrived.
int AwaitOutcomes(Dealer& dealer, int n, std::chrono::milliseconds timeout);

// The process-wide ZeroMQ context of the bench.
zmq::context_t& Context();

// A shared message text of the size used by every turn figure.
const std::string& Payload();

}  // namespace laneway::bench

#endif  // LANEWAY_BENCH_HARNESS_H_
