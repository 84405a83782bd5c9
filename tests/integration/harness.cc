#include "tests/integration/harness.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/client.h"
#include "common/file_lock.h"
#include "common/protocol.h"

extern char** environ;

namespace laneway::testing {

using common::Value;

namespace {

// The test agent: what a turn does depends on how its message starts.
//   gate...   wait until the test opens the gate (a shared flock on gate.lock
//             that the test holds exclusively until OpenGate), then reply
//   hang...   start a grandchild that ignores SIGTERM, record its pid, hang
//   crash...  kill its own worker with SIGKILL
//   fail...   exit 3 with a message on stderr
//   other     reply at once
// Every reply is "reply:<message>".
constexpr const char* kAgentScript = R"(#!/bin/sh
msg=$(cat)
case "$msg" in
  gate*)
    flock -s "$LANEWAY_HOME/gate.lock" true ;;
  hang*)
    (trap '' TERM; exec sleep 1000) &
    echo $! > "$LANEWAY_HOME/grandchild.pid"
    exec sleep 1000 ;;
  crash*)
    kill -9 $PPID
    sleep 1000 ;;
  fail*)
    echo "agent failed on purpose" >&2
    exit 3 ;;
esac
printf 'reply:%s' "$msg"
)";

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> EnvWith(const Env& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    bool overridden = false;
    for (const auto& [k, v] : extra) overridden |= kv.rfind(k + "=", 0) == 0;
    if (!overridden) env.push_back(kv);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

}  // namespace

// Every supervisor these tests start (also through `laneway up`, or the README's
// commands run by a shell) serves its gateway port on an ephemeral port, so that
// tests running at once never fight over 18789. A test that wants another
// address passes LANEWAY_HTTP_LISTEN itself.
[[maybe_unused]] const bool kEphemeralGatewayPort = [] {
  ::setenv("LANEWAY_HTTP_LISTEN", "127.0.0.1:0", /*overwrite=*/0);
  return true;
}();

// LANEWAY_TEST_BIN_DIR runs these tests against another build's binaries: the
// ThreadSanitizer stage (make tsan-test) builds only the binaries, with TSan, and
// runs this build's tests against them.
std::string BinDir() {
  const char* dir = ::getenv("LANEWAY_TEST_BIN_DIR");
  return dir != nullptr && *dir != '\0' ? dir : LANEWAY_BIN_DIR;
}

TempHome::TempHome() {
  char tmpl[] = "/tmp/laneway-it-XXXXXX";
  path_ = ::mkdtemp(tmpl);
  CloseGate();
}

void TempHome::CloseGate() {
  if (gate_fd_ >= 0) return;
  gate_fd_ = ::open((path_ + "/gate.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ::flock(gate_fd_, LOCK_EX);
}

void TempHome::OpenGate() {
  if (gate_fd_ >= 0) ::close(gate_fd_);
  gate_fd_ = -1;
}

TempHome::~TempHome() {
  OpenGate();
  std::string cmd = "rm -rf '" + path_ + "'";
  int rc = std::system(cmd.c_str());
  (void)rc;
}

void TempHome::Write(const std::string& rel, const std::string& content, unsigned mode) const {
  std::string p = path_ + "/" + rel;
  std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
  ::chmod(p.c_str(), mode);
}

std::string TempHome::AgentScript() const {
  Write("agent.sh", kAgentScript, 0755);
  return path_ + "/agent.sh";
}

CliResult RunCli(const TempHome& home, const std::vector<std::string>& args,
                 const std::string& stdin_text, std::chrono::milliseconds timeout) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) return {};
  std::vector<std::string> argv = {BinDir() + "/laneway"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env = EnvWith({{"LANEWAY_HOME", home.path()}});
  auto cargv = CStrings(argv);
  auto cenv = CStrings(env);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (!stdin_text.empty()) {
    ssize_t n = ::write(in[1], stdin_text.data(), stdin_text.size());
    (void)n;
  }
  ::close(in[1]);
  CliResult r;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int fds[2] = {out[0], err[0]};
  std::string* bufs[2] = {&r.out, &r.err};
  int open = 2;
  while (open > 0 && std::chrono::steady_clock::now() < deadline) {
    pollfd p[2];
    int n = 0;
    int idx[2];
    for (int i = 0; i < 2; ++i) {
      if (fds[i] >= 0) {
        p[n] = {fds[i], POLLIN, 0};
        idx[n++] = i;
      }
    }
    if (::poll(p, static_cast<nfds_t>(n), 100) <= 0) continue;
    for (int j = 0; j < n; ++j) {
      if (!p[j].revents) continue;
      char buf[4096];
      ssize_t k = ::read(fds[idx[j]], buf, sizeof buf);
      if (k > 0) {
        bufs[idx[j]]->append(buf, static_cast<size_t>(k));
      } else {
        ::close(fds[idx[j]]);
        fds[idx[j]] = -1;
        --open;
      }
    }
  }
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
  if (open > 0) ::kill(pid, SIGKILL);  // timed out: the assertion on code will say so
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::future<CliResult> RunCliAsync(const TempHome& home, std::vector<std::string> args) {
  return std::async(std::launch::async,
                    [&home, args = std::move(args)] { return RunCli(home, args); });
}

SupervisorProcess::SupervisorProcess(const TempHome& home, Env env)
    : home_(home), env_(std::move(env)), log_path_(home.path() + "/supervisor.log") {}

SupervisorProcess::~SupervisorProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    // Its workers get SIGTERM from PR_SET_PDEATHSIG and take their groups down.
  }
}

void SupervisorProcess::Launch(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BinDir() + "/laneway-supervisor"};
  argv.insert(argv.end(), args.begin(), args.end());
  Env extra = env_;
  extra.emplace_back("LANEWAY_HOME", home_.path());
  // Many supervisors run at once: the gateway port is ephemeral unless a test
  // asks for one (the bound address is in run/http.addr).
  bool listen_set = false;
  for (const auto& [k, v] : env_) listen_set |= k == "LANEWAY_HTTP_LISTEN";
  if (!listen_set) extra.emplace_back("LANEWAY_HTTP_LISTEN", "127.0.0.1:0");
  std::vector<std::string> env = EnvWith(extra);
  auto cargv = CStrings(argv);
  auto cenv = CStrings(env);
  int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);
    // If the test process dies (a crash, a CTest timeout), so does its supervisor,
    // and with it, through their own PDEATHSIG, its workers.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(log);
}

bool SupervisorProcess::Start(const std::string& config) {
  if (!config.empty()) home_.Write("laneway.toml", config);
  Launch({});
  const common::Paths paths = home_.paths();
  bool ready = WaitFor([&] {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;  // exited: not ready, stop waiting
    }
    auto holder = common::LockHolder(paths.instance_lock);
    if (!holder.ok() || *holder != pid_) return false;
    auto client = cli::Client::Connect(paths);
    if (!client.ok()) return false;
    Value ping = common::NewMessage(common::msg::kPing);
    return (*client)->Call(ping, std::chrono::milliseconds(500)).ok();
  });
  return ready && pid_ > 0;
}

int SupervisorProcess::RunToExit(const std::vector<std::string>& args) {
  Launch(args);
  return WaitExit();
}

void SupervisorProcess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int SupervisorProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  int status = 0;
  bool done = WaitFor([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
  if (!done) return -1;
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string SupervisorProcess::Log() const {
  std::ifstream f(log_path_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Value Call(const TempHome& home, const std::string& type, Value fields) {
  auto client = cli::Client::Connect(home.paths());
  Value err = Value::MakeMap();
  if (!client.ok()) {
    err.Set("error", client.status().message());
    return err;
  }
  Value req = common::NewMessage(type);
  if (fields.is_map()) {
    for (auto& [k, v] : fields.as_map()) req.Set(k, v);
  }
  auto reply = (*client)->Call(req, std::chrono::seconds(10));
  if (!reply.ok()) {
    err.Set("error", reply.status().message());
    return err;
  }
  if (common::MessageType(*reply) == common::msg::kError) {
    err.Set("error", reply->GetStringOr("error", "").value());
    err.Set("code", reply->GetStringOr("code", "").value());
    return err;
  }
  const Value* d = reply->Find("data");
  return d ? *d : Value();
}

std::string ExecConfig(const TempHome& home, const std::string& supervisor_extra,
                       const std::string& agent_extra) {
  // toml++ rejects duplicate keys, so the defaults below yield to the extras.
  auto with_default = [](const std::string& extra, const std::string& key,
                         const std::string& line) {
    return extra.find(key + " ") == std::string::npos && extra.find(key + "=") == std::string::npos
               ? line + "\n"
               : std::string();
  };
  std::string s = "[supervisor]\n";
  s += with_default(supervisor_extra, "heartbeat_interval", "heartbeat_interval = \"200ms\"");
  s += with_default(supervisor_extra, "heartbeat_timeout", "heartbeat_timeout = \"5s\"");
  s += with_default(supervisor_extra, "drain_timeout", "drain_timeout = \"10s\"");
  s += supervisor_extra + "\n";
  s += "[agents.main]\nrunner = \"exec\"\ncommand = [\"" + home.AgentScript() + "\"]\n";
  s += with_default(agent_extra, "run_timeout", "run_timeout = \"60s\"");
  s += with_default(agent_extra, "kill_grace", "kill_grace = \"500ms\"");
  s += agent_extra + "\n";
  return s;
}

void ExpectEveryTurnSettled(const TempHome& home) {
  Value s;
  ASSERT_TRUE(WaitFor([&] {
    s = Status(home);
    return IntField(s, "queued") == 0 && IntField(s, "running") == 0;
  })) << common::ToJson(s);
  // Turns this supervisor accepted, plus unfinished ones it found in the journal.
  const int64_t accepted = Counter(s, "turns_accepted") + Counter(s, "recovered_unfinished");
  const int64_t ended = Counter(s, "turns_replied") + Counter(s, "turns_failed") +
                        Counter(s, "turns_timed_out") + Counter(s, "turns_cancelled") +
                        Counter(s, "turns_rejected") + Counter(s, "turns_interrupted");
  EXPECT_EQ(accepted, ended) << "every accepted turn ends exactly once: " << common::ToJson(s);
}

Value Status(const TempHome& home) { return Call(home, "status"); }
Value Workers(const TempHome& home) { return Call(home, "workers"); }

Value WorkerOf(const TempHome& home, const std::string& session) {
  Value rows = Workers(home);
  if (!rows.is_array()) return Value();
  for (const Value& r : rows.as_array()) {
    if (StrField(r, "session") == session) return r;
  }
  return Value();
}

bool WaitForWorker(const TempHome& home, const std::string& session, const std::string& state,
                   int64_t queue_depth) {
  return WaitFor([&] {
    const Value w = WorkerOf(home, session);
    return (state.empty() || StrField(w, "state") == state) &&
           (queue_depth < 0 || IntField(w, "queue_depth") == queue_depth);
  });
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    ::poll(nullptr, 0, 5);
  }
  return pred();
}

bool ProcessGone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

std::string SetFileSizeLimit(pid_t pid, uint64_t bytes) {
  struct rlimit rl {
    bytes == kNoFileSizeLimit ? RLIM_INFINITY : static_cast<rlim_t>(bytes), RLIM_INFINITY
  };
  return ::prlimit(pid, RLIMIT_FSIZE, &rl, nullptr) == 0 ? "" : std::strerror(errno);
}

int64_t IntField(const Value& v, const char* key) {
  const Value* f = v.Find(key);
  return f && f->is_int() ? f->as_int() : -1;
}

std::string StrField(const Value& v, const char* key) {
  const Value* f = v.Find(key);
  return f && f->is_string() ? f->as_string() : "";
}

int64_t Counter(const Value& status, const char* name) {
  const Value* c = status.Find("counters");
  return c ? IntField(*c, name) : -1;
}

}  // namespace laneway::testing
