#include "bench/harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/client.h"
#include "common/file_lock.h"
#include "common/protocol.h"
#include "common/proc_stat.h"

extern char** environ;

namespace laneway::bench {

using common::Value;

double MicrosBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

double MicrosSince(Clock::time_point from) { return MicrosBetween(from, Clock::now()); }

double Percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(samples.size())));
  return samples[std::clamp<size_t>(rank, 1, samples.size()) - 1];
}

namespace {

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Three significant digits, the most a shared 2-core machine can back up.
std::string Sig3(double v) {
  if (v >= 100) return Fixed(v, 0);
  if (v >= 10) return Fixed(v, 1);
  return Fixed(v, 2);
}

}  // namespace

std::string FormatMicros(double us) {
  if (us >= 1e6) return Sig3(us / 1e6) + " s";
  if (us >= 1000) return Sig3(us / 1000) + " ms";
  return Sig3(us) + " µs";
}

std::string FormatRate(double per_second) {
  if (per_second >= 1e6) return Sig3(per_second / 1e6) + "M/s";
  if (per_second >= 1000) return Sig3(per_second / 1000) + "k/s";
  return Sig3(per_second) + "/s";
}

std::string FormatMb(double kb) { return kb < 0 ? "n/a" : Sig3(kb / 1024) + " MB"; }

std::string FormatRatio(double laneway, double floor) {
  if (floor <= 0 || laneway < 0) return "n/a";
  return Sig3(laneway / floor) + "×";
}

void EmitRow(const std::string& figure, const std::string& laneway, const std::string& floor,
             const std::string& ratio, const std::string& target) {
  std::cout << "ROW\t" << figure << "\t" << laneway << "\t" << floor << "\t" << ratio << "\t"
            << target << std::endl;
}

void EmitNote(const std::string& text) { std::cout << "NOTE\t" << text << std::endl; }

void Log(const std::string& text) {
  static const Clock::time_point start = Clock::now();
  char at[32];
  std::snprintf(at, sizeof at, "%7.2fs", MicrosSince(start) / 1e6);
  std::cerr << "bench " << at << ": " << text << std::endl;
}

std::string BinDir() {
  const char* env = std::getenv("LANEWAY_BENCH_BIN");
  return env && *env ? env : LANEWAY_BIN_DIR;
}

TempDir::TempDir(const std::string& base) {
  std::string tmpl = base + "/laneway-bench-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    Log("mkdtemp " + tmpl + ": " + std::strerror(errno));
    std::exit(2);
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::string cmd = "rm -rf '" + path_ + "'";
  int rc = std::system(cmd.c_str());
  (void)rc;
}

namespace {

// Processes started by Spawn and not yet reaped, for the cleanup handler; a
// reaped entry is zeroed so that a recycled pid is never signalled.
constexpr int kMaxChildren = 8192;
std::atomic<pid_t> g_children[kMaxChildren];
std::atomic<int> g_child_count{0};

void Remember(pid_t pid) {
  int i = g_child_count.load();
  if (i < kMaxChildren) {
    g_children[i].store(pid);
    g_child_count.store(i + 1);
  }
}

void Forget(pid_t pid) {
  for (int i = g_child_count.load() - 1; i >= 0; --i) {
    if (g_children[i].load() == pid) {
      g_children[i].store(0);
      return;
    }
  }
}

void OnTerminate(int sig) {
  for (int i = 0; i < g_child_count.load(); ++i) {
    pid_t pid = g_children[i].load();
    if (pid > 0) ::kill(-pid, SIGKILL);
  }
  ::_exit(128 + sig);
}

}  // namespace

void InstallCleanupHandler() {
  struct sigaction sa {};
  sa.sa_handler = OnTerminate;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
}

pid_t Spawn(const std::vector<std::string>& argv, const Env& extra, const std::string& log) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    bool overridden = false;
    for (const auto& [k, v] : extra) overridden |= kv.rfind(k + "=", 0) == 0;
    if (!overridden) env.push_back(std::move(kv));
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  const char* out = log.empty() ? "/dev/null" : log.c_str();
  posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, cargv[0], &fa, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    Log("spawn " + argv[0] + ": " + std::strerror(rc));
    return -1;
  }
  Remember(pid);
  return pid;
}

void KillGroup(pid_t pid, int sig) {
  if (pid > 0) ::kill(-pid, sig);
}

bool WaitExit(pid_t pid, std::chrono::milliseconds timeout, int* status) {
  const auto deadline = Clock::now() + timeout;
  int st = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
      if (status) *status = st;
      Forget(pid);
      return true;
    }
    if (Clock::now() >= deadline) return false;
    ::poll(nullptr, 0, 2);
  }
}

void Reap(pid_t pid) {
  ::waitpid(pid, nullptr, 0);
  Forget(pid);
}

MemInfo ReadMem(pid_t pid) {
  MemInfo m;
  // Lines look like "Pss:  1234 kB" (smaps_rollup) or "VmRSS:  1234 kB" (status).
  auto field = [](const std::string& line, const char* key, double* out) {
    if (line.rfind(key, 0) != 0) return false;
    *out = std::atof(line.c_str() + std::strlen(key));
    return true;
  };
  std::ifstream rollup("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  double v = 0, priv = 0;
  bool any = false;
  while (std::getline(rollup, line)) {
    if (field(line, "Pss:", &v)) m.pss_kb = v;
    if (field(line, "Private_Clean:", &v) || field(line, "Private_Dirty:", &v)) {
      priv += v;
      any = true;
    }
  }
  if (any) m.private_kb = priv;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    if (field(line, "VmRSS:", &v)) m.rss_kb = v;
  }
  return m;
}

double CpuSeconds(pid_t pid) {
  // utime and stime: fields 14 and 15 (elements 11 and 12 from field 3).
  const std::vector<std::string> f = common::ProcStatFields(pid);
  if (f.size() < 13) return 0;
  const double ticks = std::atof(f[11].c_str()) + std::atof(f[12].c_str());
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double CpuSeconds(const std::vector<pid_t>& pids) {
  double sum = 0;
  for (pid_t pid : pids) sum += CpuSeconds(pid);
  return sum;
}

// ---- Laneway ----------------------------------------------------------------

Laneway::Laneway(const std::string& config, const std::string& base) : dir_(base) {
  std::ofstream(dir_.path() + "/laneway.toml") << config;
}

Laneway::~Laneway() { Stop(); }

bool Laneway::Start() {
  pid_ = Spawn({BinDir() + "/laneway-supervisor"}, {{"LANEWAY_HOME", dir_.path()}},
               dir_.path() + "/supervisor.log");
  if (pid_ < 0) return false;
  const common::Paths p = paths();
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      std::ifstream f(dir_.path() + "/supervisor.log");
      std::stringstream ss;
      ss << f.rdbuf();
      Log("laneway-supervisor exited at start-up: " + ss.str());
      return false;
    }
    auto holder = common::LockHolder(p.instance_lock);
    if (holder.ok() && *holder == pid_) {
      auto client = cli::Client::Connect(p);
      if (client.ok() &&
          (*client)
              ->Call(common::NewMessage(common::msg::kPing), std::chrono::milliseconds(500))
              .ok()) {
        return true;
      }
    }
    ::poll(nullptr, 0, 5);
  }
  Log("laneway-supervisor did not answer a ping within 20 s");
  return false;
}

void Laneway::Stop() {
  if (pid_ <= 0) return;
  Call("shutdown");
  if (!WaitExit(pid_, std::chrono::seconds(8))) {
    Log("supervisor did not stop in time; SIGKILL");
    KillGroup(pid_, SIGKILL);
    WaitExit(pid_, std::chrono::seconds(5));
  }
  pid_ = -1;
}

Value Laneway::Call(const std::string& type, Value fields) {
  auto client = cli::Client::Connect(paths());
  if (!client.ok()) return Value();
  Value req = common::NewMessage(type);
  for (auto& [k, v] : fields.as_map()) req.Set(k, v);
  auto reply = (*client)->Call(req, std::chrono::seconds(10));
  if (!reply.ok()) return Value();
  const Value* d = reply->Find("data");
  return d ? *d : Value();
}

std::vector<pid_t> Laneway::WorkerPids() {
  std::vector<pid_t> pids;
  Value rows = Call("workers");
  if (!rows.is_array()) return pids;
  for (const Value& r : rows.as_array()) {
    const Value* pid = r.Find("pid");
    if (pid && pid->is_int()) pids.push_back(static_cast<pid_t>(pid->as_int()));
  }
  return pids;
}

pid_t Laneway::WorkerPid(const std::string& session) {
  Value rows = Call("workers");
  if (!rows.is_array()) return 0;
  for (const Value& r : rows.as_array()) {
    const Value* s = r.Find("session");
    const Value* pid = r.Find("pid");
    if (s && s->is_string() && s->as_string() == session && pid && pid->is_int()) {
      return static_cast<pid_t>(pid->as_int());
    }
  }
  return 0;
}

// ---- Dealer -----------------------------------------------------------------

Dealer::Dealer(zmq::context_t& ctx, const std::string& endpoint)
    : sock_(ctx, zmq::socket_type::dealer) {
  sock_.set(zmq::sockopt::sndhwm, 0);
  sock_.set(zmq::sockopt::rcvhwm, 0);
  sock_.set(zmq::sockopt::linger, 0);
  sock_.connect(endpoint);
}

void Dealer::Send(const std::string& bytes) {
  (void)sock_.send(zmq::buffer(bytes), zmq::send_flags::none);
}

bool Dealer::Recv(std::string* out, std::chrono::milliseconds timeout) {
  zmq::message_t m;
  if (!sock_.recv(m, zmq::recv_flags::dontwait)) {
    zmq::pollitem_t item{sock_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) return false;
    if (!sock_.recv(m, zmq::recv_flags::dontwait)) return false;
  }
  out->assign(static_cast<const char*>(m.data()), m.size());
  return true;
}

PipelineResult RunPipeline(Dealer& dealer, int in_flight, int64_t total,
                           std::chrono::milliseconds limit,
                           const std::function<std::string(int64_t)>& make,
                           const std::function<bool(const std::string&)>& done) {
  PipelineResult r;
  const auto start = Clock::now();
  const auto deadline = start + limit;
  int64_t sent = 0;
  while (sent < in_flight && sent < total) dealer.Send(make(++sent));
  std::string frame;
  while (r.completed < total && Clock::now() < deadline) {
    if (!dealer.Recv(&frame, std::chrono::milliseconds(100))) continue;
    if (!done(frame)) continue;
    ++r.completed;
    if (sent < total) dealer.Send(make(++sent));
  }
  r.seconds = MicrosSince(start) / 1e6;
  return r;
}

std::string SubmitBytes(int64_t id, const std::string& agent, const std::string& session,
                        const std::string& message, bool wait) {
  Value m = common::NewMessage(common::msg::kSubmit);
  m.Set("id", id);
  m.Set("agent", agent);
  m.Set("session", session);
  m.Set("message", message);
  if (!wait) m.Set("wait", false);
  return common::EncodeMessage(m);
}

std::optional<Reply> ParseReply(const std::string& frame) {
  auto m = common::DecodeMessage(frame.data(), frame.size(), 64u << 20);
  if (!m.ok()) return std::nullopt;
  Reply r;
  r.type = common::MessageType(*m);
  if (const Value* id = m->Find("id"); id && id->is_int()) r.id = id->as_int();
  if (const Value* st = m->Find("status"); st && st->is_string()) r.status = st->as_string();
  if (const Value* t = m->Find("reply"); t && t->is_string()) r.text = t->as_string();
  if (const Value* t = m->Find("error"); t && t->is_string()) r.text = t->as_string();
  return r;
}

std::optional<Reply> AwaitOutcome(Dealer& dealer, int64_t id, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string frame;
  while (Clock::now() < deadline) {
    if (!dealer.Recv(&frame, std::chrono::milliseconds(50))) continue;
    auto r = ParseReply(frame);
    if (r && r->type == "outcome" && r->id == id) return r;
  }
  return std::nullopt;
}

int AwaitOutcomes(Dealer& dealer, int n, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string frame;
  int got = 0;
  while (got < n && Clock::now() < deadline) {
    if (!dealer.Recv(&frame, std::chrono::milliseconds(50))) continue;
    auto r = ParseReply(frame);
    if (r && r->type == "outcome") ++got;
  }
  return got;
}

zmq::context_t& Context() {
  static zmq::context_t* ctx = [] {
    auto* c = new zmq::context_t(1);
    c->set(zmq::ctxopt::max_sockets, 4096);
    return c;
  }();
  return *ctx;
}

const std::string& Payload() {
  static const std::string text(100, 'x');
  return text;
}

}  // namespace laneway::bench
