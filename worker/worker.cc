#include "worker/worker.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <zmq.hpp>

#include "common/agent_settings.h"
#include "common/file_lock.h"
#include "common/job_thread.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/protocol.h"
#include "common/transcript.h"
#include "worker/runners/runner.h"
#include "worker/stream_context.h"

namespace laneway::worker {

using common::LogLevel;
using common::LogLine;
using common::Value;

namespace {

volatile pid_t g_supervisor_pid = 0;

// SIGTERM comes from the supervisor's kill of our group (it then sweeps the group
// itself) or from PR_SET_PDEATHSIG when the supervisor died: then nobody else
// will, so take the whole group down, agent commands and their children included.
void OnSigterm(int) {
  if (::getppid() != g_supervisor_pid) ::kill(0, SIGKILL);
  ::_exit(128 + SIGTERM);
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool ParseU64(const char* s, uint64_t* out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

class WorkerLoop {
 public:
  explicit WorkerLoop(const WorkerOptions& o) : o_(o), sock_(ctx_, zmq::socket_type::dealer) {}
  int Run();

 private:
  bool Send(const Value& m);
  // Exit code for leaving the loop. With a turn running on the runner thread,
  // unwinding would wait for the agent: leave the process at once instead.
  int Leave(int code) {
    if (busy_ && runner_thread_) ::_exit(code);
    return code;
  }
  void StartTurn(const Value& run);
  void FinishTurn();
  // Builds the runner from the supervisor's `configure` message.
  common::Status Configure(const Value& m);
  // Sends what the runner emitted since the last call as one `progress` message.
  void FlushProgress();

  // A spare: hello without a session, then wait for `bind`. False: leave with *code.
  bool AwaitBind(int* code);
  bool ParentGone();

  WorkerOptions o_;  // a spare learns its session and agent from `bind`
  zmq::context_t ctx_{1};
  zmq::socket_t sock_;
  std::unique_ptr<common::Transcript> transcript_;
  std::unique_ptr<Runner> runner_;
  // Only for runners that block: the agent thinks there while this thread beats.
  std::unique_ptr<common::JobThread<TurnInput, TurnOutput>> runner_thread_;
  std::unique_ptr<StreamContext> stream_;
  bool busy_ = false;
  uint64_t turn_id_ = 0;
  TurnOutput output_;
  std::chrono::steady_clock::time_point last_sent_{};
};

bool WorkerLoop::Send(const Value& m) {
  std::string bytes = common::EncodeMessage(m);
  try {
    sock_.send(zmq::buffer(bytes), zmq::send_flags::none);
  } catch (const zmq::error_t& e) {
    LogLine(LogLevel::kError, "send_failed").Kv("error", e.what());
    return false;
  }
  last_sent_ = std::chrono::steady_clock::now();
  return true;
}

void WorkerLoop::StartTurn(const Value& run) {
  TurnInput in;
  in.turn_id = static_cast<uint64_t>(run.GetInt("turn_id").value());
  in.agent = o_.agent;
  in.session = o_.session;
  in.message = run.GetStringOr("message", "").value();
  in.transcript_path = transcript_->path();
  // Outcomes the supervisor decided for earlier turns (timeouts, kills) that no
  // worker could write down at the time.
  if (const Value* rec = run.Find("record"); rec && rec->is_array()) {
    for (const Value& e : rec->as_array()) {
      Value line = Value::MakeMap();
      line.Set("ts", NowUnixMs());
      line.Set("turn_id", e.GetIntOr("turn_id", 0).value());
      line.Set("role", "outcome");
      line.Set("status", e.GetStringOr("status", "").value());
      line.Set("error", e.GetStringOr("error", "").value());
      (void)transcript_->Append(line);
    }
  }
  Value line = Value::MakeMap();
  line.Set("ts", NowUnixMs());
  line.Set("turn_id", in.turn_id);
  line.Set("role", "user");
  line.Set("text", in.message);
  if (auto st = transcript_->Append(line); !st.ok()) {
    LogLine(LogLevel::kWarn, "transcript_write_failed").Kv("error", st.message());
  }
  busy_ = true;
  turn_id_ = in.turn_id;
  if (runner_thread_) {
    runner_thread_->Submit(std::move(in));
  } else {
    output_ = runner_->Run(in, *stream_);
    FinishTurn();
  }
}

void WorkerLoop::FlushProgress() {
  std::string delta = stream_->Take();
  if (delta.empty() || !busy_) return;
  Value p = common::NewMessage(common::msg::kWorkerProgress);
  p.Set("turn_id", turn_id_);
  p.Set("delta", std::move(delta));
  Send(p);
}

common::Status WorkerLoop::Configure(const Value& m) {
  if (runner_) return common::Status::InvalidArgument("a second configure");
  const Value* settings = m.Find("agent");
  if (settings == nullptr) return common::Status::InvalidArgument("configure without agent");
  auto agent = common::AgentSettingsFromValue(*settings);
  if (!agent.ok()) return agent.status();
  if (agent->id != o_.agent) {
    return common::Status::InvalidArgument("configure for agent '" + agent->id + "', not '" +
                                           o_.agent + "'");
  }
  RunnerOptions ro;
  ro.agent = std::move(agent).value();
  ro.max_reply_bytes = o_.max_message_bytes;
  auto r = MakeRunner(ro);
  if (!r.ok()) return r.status();
  runner_ = std::move(r).value();
  if (runner_->Blocks()) {
    Runner* runner = runner_.get();
    StreamContext* stream = stream_.get();
    auto t = common::JobThread<TurnInput, TurnOutput>::Start(
        [runner, stream](TurnInput& in) { return runner->Run(in, *stream); });
    if (!t.ok()) return t.status();
    runner_thread_ = std::move(t).value();
  }
  return common::Status::Ok();
}

void WorkerLoop::FinishTurn() {
  FlushProgress();  // every delta goes out before the outcome
  busy_ = false;
  const size_t limit = o_.max_message_bytes > 8192 ? o_.max_message_bytes - 4096 : 4096;
  if (output_.ok && output_.text.size() > limit) {
    output_ = {
        false,
        "reply of " + std::to_string(output_.text.size()) + " bytes exceeds max_message_bytes",
        {}};
  }
  Value line = Value::MakeMap();
  line.Set("ts", NowUnixMs());
  line.Set("turn_id", turn_id_);
  line.Set("role", output_.ok ? "assistant" : "error");
  line.Set("text", output_.text);
  if (output_.meta.is_map()) {
    for (const auto& [k, v] : output_.meta.as_map()) line.Set(k, v);
  }
  if (auto st = transcript_->Append(line); !st.ok()) {
    LogLine(LogLevel::kWarn, "transcript_write_failed").Kv("error", st.message());
  }
  Value done = common::NewMessage(common::msg::kDone);
  done.Set("turn_id", turn_id_);
  done.Set("ok", output_.ok);
  done.Set(output_.ok ? "reply" : "error", std::move(output_.text));
  if (output_.meta.is_map()) done.Set("meta", std::move(output_.meta));
  Send(done);
}

bool WorkerLoop::ParentGone() {
  if (::getppid() == o_.supervisor_pid) return false;
  LogLine(LogLevel::kWarn, "supervisor_gone").Kv("session", o_.session);
  ::kill(0, SIGKILL);  // the agent command and its children go with us
  return true;
}

bool WorkerLoop::AwaitBind(int* code) {
  Value hello = common::NewMessage(common::msg::kHello);
  hello.Set("worker_id", o_.worker_id);
  hello.Set("spare", true);
  hello.Set("pid", static_cast<int64_t>(::getpid()));
  Send(hello);
  for (;;) {
    zmq::pollitem_t items[] = {{sock_.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 1, o_.heartbeat * 10);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      *code = kWorkerExitProtocol;
      return false;
    }
    if (ParentGone()) {
      *code = kWorkerExitSupervisorGone;
      return false;
    }
    zmq::message_t frame;
    if (!sock_.recv(frame, zmq::recv_flags::dontwait)) continue;
    auto m = common::DecodeMessage(frame.data(), frame.size(), o_.max_message_bytes * 4);
    const std::string type = m.ok() ? common::MessageType(*m) : "";
    if (type == common::msg::kStop) {
      *code = kWorkerExitOk;
      return false;
    }
    auto session = m.ok() ? m->GetString("session") : common::Result<std::string>(m.status());
    auto agent = m.ok() ? m->GetString("agent") : common::Result<std::string>(m.status());
    if (type != common::msg::kBind || !session.ok() || !agent.ok() || session->empty() ||
        agent->empty()) {
      LogLine(LogLevel::kError, "bad_supervisor_message").Kv("expected", "bind").Kv("type", type);
      *code = kWorkerExitProtocol;
      return false;
    }
    o_.session = *session;
    o_.agent = *agent;
    o_.spare = false;
    return true;
  }
}

int WorkerLoop::Run() {
  sock_.set(zmq::sockopt::routing_id, "w" + std::to_string(o_.worker_id));
  sock_.set(zmq::sockopt::linger, 1000);
  sock_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(o_.max_message_bytes) * 4 + (1 << 20));
  sock_.connect(o_.endpoint);
  if (o_.spare) {
    int code = 0;
    if (!AwaitBind(&code)) return code;
  }

  auto paths = common::ResolvePaths();
  if (!paths.ok()) {
    LogLine(LogLevel::kError, "worker_setup_failed").Kv("error", paths.status().message());
    return kWorkerExitSetup;
  }
  if (auto st = common::MakeDirs(paths->SessionsDir(o_.agent), 0700); !st.ok()) {
    LogLine(LogLevel::kError, "worker_setup_failed").Kv("error", st.message());
    return kWorkerExitSetup;
  }
  // The session lock: a previous worker of this session (an orphan of a dead
  // supervisor, say) may still be on its way out. Wait a bounded time for it.
  const std::string lock_path = paths->SessionLockPath(o_.agent, o_.session);
  std::unique_ptr<common::FileLock> lock;
  const auto lock_deadline = std::chrono::steady_clock::now() + o_.lock_wait;
  for (;;) {
    auto l = common::FileLock::TryAcquire(lock_path);
    if (l.ok()) {
      lock = std::move(l).value();
      break;
    }
    if (l.status().code() != common::Status::Code::kUnavailable ||
        std::chrono::steady_clock::now() >= lock_deadline) {
      LogLine(LogLevel::kError, "session_lock_failed")
          .Kv("session", o_.session)
          .Kv("error", l.status().message());
      return l.status().code() == common::Status::Code::kUnavailable ? kWorkerExitLockHeld
                                                                     : kWorkerExitSetup;
    }
    ::poll(nullptr, 0, 10);
  }
  common::Transcript::OpenInfo info;
  auto t = common::Transcript::Open(paths->TranscriptPath(o_.agent, o_.session), &info);
  if (!t.ok()) {
    LogLine(LogLevel::kError, "worker_setup_failed").Kv("error", t.status().message());
    return kWorkerExitSetup;
  }
  transcript_ = std::move(t).value();
  if (info.repaired_bytes > 0) {
    LogLine(LogLevel::kWarn, "transcript_repaired")
        .Kv("session", o_.session)
        .Kv("cut_bytes", info.repaired_bytes);
  }
  auto stream = StreamContext::Create();
  if (!stream.ok()) {
    LogLine(LogLevel::kError, "worker_setup_failed").Kv("error", stream.status().message());
    return kWorkerExitSetup;
  }
  stream_ = std::move(stream).value();

  Value hello = common::NewMessage(common::msg::kHello);
  hello.Set("worker_id", o_.worker_id);
  hello.Set("session", o_.session);
  hello.Set("pid", static_cast<int64_t>(::getpid()));
  Send(hello);

  auto next_parent_check = std::chrono::steady_clock::now();
  for (;;) {
    // Everything that is already there first, then poll: one wake-up per burst.
    for (;;) {
      zmq::message_t frame;
      if (!sock_.recv(frame, zmq::recv_flags::dontwait)) break;
      auto m = common::DecodeMessage(frame.data(), frame.size(), o_.max_message_bytes * 4);
      if (!m.ok()) {
        LogLine(LogLevel::kError, "bad_supervisor_message").Kv("error", m.status().message());
        return Leave(kWorkerExitProtocol);
      }
      const std::string& type = common::MessageType(*m);
      if (type == common::msg::kConfigure) {
        if (auto st = Configure(*m); !st.ok()) {
          LogLine(LogLevel::kError, "worker_setup_failed")
              .Kv("session", o_.session)
              .Kv("error", st.message());
          return Leave(kWorkerExitSetup);
        }
      } else if (type == common::msg::kRun) {
        if (!runner_) {
          LogLine(LogLevel::kError, "bad_run").Kv("error", "run before configure");
          return Leave(kWorkerExitProtocol);
        }
        if (busy_ || !m->GetInt("turn_id").ok()) {
          LogLine(LogLevel::kError, "bad_run").Kv("busy", busy_ ? "yes" : "no");
          return Leave(kWorkerExitProtocol);
        }
        if (runner_thread_) {
          // The acknowledgement, before anything of the turn happens: from here on
          // the supervisor counts the turn as started (worker_fsm.h, Dispatched).
          Value ack = common::NewMessage(common::msg::kHeartbeat);
          ack.Set("turn_id", m->GetInt("turn_id").value());
          Send(ack);
        }
        StartTurn(*m);
      } else if (type == common::msg::kStop) {
        return Leave(kWorkerExitOk);  // sent to idle workers only
      } else {
        LogLine(LogLevel::kError, "bad_supervisor_message").Kv("type", type);
        return Leave(kWorkerExitProtocol);
      }
    }
    const auto now = std::chrono::steady_clock::now();
    // PR_SET_PDEATHSIG normally tells us; this catches the rest, now and then.
    if (now >= next_parent_check) {
      if (ParentGone()) return kWorkerExitSupervisorGone;
      next_parent_check = now + (busy_ ? o_.heartbeat : o_.heartbeat * 10);
    }
    // Heartbeats only while a turn runs: an idle worker costs the supervisor nothing
    // (its death is a SIGCHLD there).
    if (busy_ && now - last_sent_ >= o_.heartbeat) {
      Value hb = common::NewMessage(common::msg::kHeartbeat);
      hb.Set("turn_id", turn_id_);
      Send(hb);
    }
    zmq::pollitem_t items[] = {
        {sock_.handle(), 0, ZMQ_POLLIN, 0},
        {nullptr, stream_->wake_fd(), ZMQ_POLLIN, 0},
        {nullptr, runner_thread_ ? runner_thread_->done_fd() : -1, ZMQ_POLLIN, 0}};
    const auto after = std::chrono::steady_clock::now();
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_parent_check - after);
    if (busy_) {
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                o_.heartbeat - (after - last_sent_)));
    }
    if (wait.count() < 0) wait = std::chrono::milliseconds(0);
    try {
      zmq::poll(items, runner_thread_ ? 3 : 2, wait);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return Leave(kWorkerExitProtocol);
    }
    if (items[1].revents & ZMQ_POLLIN) FlushProgress();
    if (runner_thread_ && (items[2].revents & ZMQ_POLLIN)) {
      output_ = runner_thread_->Take();
      FinishTurn();
    }
  }
}

}  // namespace

bool ParseWorkerArgs(int argc, char** argv, WorkerOptions* out, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      *error = "option " + a + " needs a value";
      return false;
    }
    const char* v = argv[++i];
    uint64_t n = 0;
    if (a == "--endpoint") {
      out->endpoint = v;
    } else if (a == "--session") {
      out->session = v;
    } else if (a == "--agent") {
      out->agent = v;
    } else if (a == "--spare") {
      out->spare = std::strcmp(v, "1") == 0;
    } else if (ParseU64(v, &n)) {
      if (a == "--worker-id")
        out->worker_id = n;
      else if (a == "--heartbeat-ms")
        out->heartbeat = std::chrono::milliseconds(n);
      else if (a == "--lock-wait-ms")
        out->lock_wait = std::chrono::milliseconds(n);
      else if (a == "--supervisor-pid")
        out->supervisor_pid = static_cast<pid_t>(n);
      else if (a == "--max-message-bytes")
        out->max_message_bytes = n;
      else {
        *error = "unknown option " + a;
        return false;
      }
    } else {
      *error = "bad value for " + a + ": " + v;
      return false;
    }
  }
  const bool identity = out->spare || (!out->session.empty() && !out->agent.empty());
  if (out->endpoint.empty() || !identity || out->worker_id == 0 || out->supervisor_pid == 0 ||
      out->heartbeat.count() <= 0) {
    *error =
        "--endpoint, --worker-id, --supervisor-pid and --session with --agent (or --spare 1) are "
        "required";
    return false;
  }
  return true;
}

int RunWorker(const WorkerOptions& options) {
  g_supervisor_pid = options.supervisor_pid;
  struct sigaction sa {};
  sa.sa_handler = OnSigterm;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // SIGTERM when the thread that started us (the supervisor's launcher) ends; if the
  // supervisor died before this line, the signal will never come: check by hand.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != options.supervisor_pid) return kWorkerExitSupervisorGone;
  try {
    WorkerLoop loop(options);
    return loop.Run();
  } catch (const std::exception& e) {
    LogLine(LogLevel::kError, "worker_failed").Kv("error", e.what());
    return kWorkerExitSetup;
  }
}

}  // namespace laneway::worker
