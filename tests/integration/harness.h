// Integration-test harness: real laneway binaries in a private LANEWAY_HOME.
//
// Every wait here is on a readiness condition (a lock held, a reply, a status
// field) with a generous bound; none is a fixed sleep. Processes started here
// are killed (with their process groups) when their owner goes out of scope.
#ifndef LANEWAY_TESTS_INTEGRATION_HARNESS_H_
#define LANEWAY_TESTS_INTEGRATION_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <utility>
#include <vector>

#include "common/paths.h"
#include "common/value.h"

namespace laneway::testing {

using Env = std::vector<std::pair<std::string, std::string>>;

// Where the laneway binaries under test are: this build's, or LANEWAY_TEST_BIN_DIR.
std::string BinDir();

class TempHome {
 public:
  TempHome();
  ~TempHome();
  TempHome(const TempHome&) = delete;
  TempHome& operator=(const TempHome&) = delete;

  const std::string& path() const { return path_; }
  common::Paths paths() const { return common::PathsForHome(path_); }
  // Writes path()/rel (parents must exist).
  void Write(const std::string& rel, const std::string& content, unsigned mode = 0644) const;
  // Writes the test agent script (see harness.cc) and returns its path.
  std::string AgentScript() const;
  // Lets every "gate" turn of the test agent finish (now and later), or holds
  // them again. A new home starts with the gate closed.
  void OpenGate();
  void CloseGate();

 private:
  std::string path_;
  int gate_fd_ = -1;
};

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `laneway args...` with LANEWAY_HOME set; bounded by `timeout`.
CliResult RunCli(const TempHome& home, const std::vector<std::string>& args,
                 const std::string& stdin_text = "",
                 std::chrono::milliseconds timeout = std::chrono::seconds(60));
std::future<CliResult> RunCliAsync(const TempHome& home, std::vector<std::string> args);

// A laneway-supervisor process.
class SupervisorProcess {
 public:
  explicit SupervisorProcess(const TempHome& home, Env env = {});
  ~SupervisorProcess();

  // Starts it and waits until it answers a ping. With `config`, writes it to
  // home/laneway.toml first. Returns false (with the log) if it did not come up.
  bool Start(const std::string& config = "");
  // Starts it and waits for it to exit (for start-up failures); returns its exit code.
  int RunToExit(const std::vector<std::string>& args = {});
  void Signal(int sig);
  // Waits for the process to exit; returns its exit status code (or 128+signal).
  int WaitExit(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  pid_t pid() const { return pid_; }
  std::string Log() const;

 private:
  void Launch(const std::vector<std::string>& args);
  const TempHome& home_;
  Env env_;
  pid_t pid_ = -1;
  std::string log_path_;
};

// One control request in process; returns the reply's "data" (a map or array) or,
// for an error reply, a map {"error": ..., "code": ...}.
common::Value Call(const TempHome& home, const std::string& type,
                   common::Value fields = common::Value::MakeMap());
common::Value Status(const TempHome& home);
common::Value Workers(const TempHome& home);
// The workers row of a session (null Value if none).
common::Value WorkerOf(const TempHome& home, const std::string& session);

// A config with agent "main" running the test agent script (exec runner).
// `supervisor_extra` / `agent_extra` are TOML lines added to [supervisor] /
// [agents.main]; they may override the defaults set here.
std::string ExecConfig(const TempHome& home, const std::string& supervisor_extra = "",
                       const std::string& agent_extra = "");
// Waits until no turn is queued or running, then checks (gtest) that every
// accepted turn ended in exactly one outcome by the supervisor's own counters.
void ExpectEveryTurnSettled(const TempHome& home);

// Waits until `session`'s worker is in `state` ("" = any) with `queue_depth` turns
// queued (-1 = any).
bool WaitForWorker(const TempHome& home, const std::string& session, const std::string& state,
                   int64_t queue_depth = -1);

// Polls `pred` every few milliseconds until true or `timeout`.
bool WaitFor(const std::function<bool()>& pred,
             std::chrono::milliseconds timeout = std::chrono::seconds(30));
// True if no process has this pid, not even a zombie (the supervisor is a child
// subreaper and reaps the descendants of its workers).
bool ProcessGone(pid_t pid);
// Sets `pid`'s soft RLIMIT_FSIZE (a write past it fails with EFBIG, as a full disk
// fails with ENOSPC); only the soft limit moves, since raising a hard limit needs
// CAP_SYS_RESOURCE. kNoFileSizeLimit lifts it. "" on success, else the error.
inline constexpr uint64_t kNoFileSizeLimit = UINT64_MAX;
std::string SetFileSizeLimit(pid_t pid, uint64_t bytes);
int64_t IntField(const common::Value& v, const char* key);
std::string StrField(const common::Value& v, const char* key);
int64_t Counter(const common::Value& status, const char* name);

}  // namespace laneway::testing

#endif  // LANEWAY_TESTS_INTEGRATION_HARNESS_H_
