#include "supervisor/supervisor.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <zmq.hpp>

#include "common/log.h"

namespace laneway::supervisor {

using common::LogLevel;
using common::LogLine;
using common::Status;

struct Supervisor::Impl {
  zmq::context_t ctx{1};
  zmq::socket_t control{ctx, zmq::socket_type::router};
  zmq::socket_t inproc{ctx, zmq::socket_type::router};
  zmq::socket_t workers{ctx, zmq::socket_type::router};
  zmq::socket_t& Socket(Door d) {
    switch (d) {
      case Door::kControl:
        return control;
      case Door::kInproc:
        return inproc;
      case Door::kWorkers:
        break;
    }
    return workers;
  }
  int sigfd = -1;
  ~Impl() {
    if (sigfd >= 0) ::close(sigfd);
  }
};

namespace {

constexpr int kMaxMessagesPerSocketPerIteration = 512;
constexpr std::chrono::seconds kHousekeepingInterval{1};

void ConfigureRouter(zmq::socket_t& s, uint32_t max_message_bytes) {
  s.set(zmq::sockopt::router_mandatory, 1);
  // libzmq drops a peer that sends more than this; the supervisor itself answers
  // messages over max_message_bytes with an error, so the hard cap sits above it.
  s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(max_message_bytes) * 4 + (1 << 20));
  s.set(zmq::sockopt::sndhwm, 100000);
  s.set(zmq::sockopt::rcvhwm, 100000);
  s.set(zmq::sockopt::linger, 0);
}

}  // namespace

Status CheckRunnersAvailable(const common::Config& config) {
  for (const auto& [id, agent] : config.agents) {
    if (agent.runner == common::RunnerKind::kOpenAi) {
      return Status::InvalidArgument(config.source + ": agents." + id +
                                     ".runner: the openai runner is not part of this build yet "
                                     "(available: echo, exec)");
    }
  }
  return Status::Ok();
}

Supervisor::Supervisor(Options options)
    : opt_(std::move(options)),
      impl_(std::make_unique<Impl>()),
      spawner_(std::make_unique<ProcessSpawner>()) {}

Supervisor::~Supervisor() { StopChannels(); }

Status Supervisor::Start(int* exit_code) {
  *exit_code = kExitStartup;
  ::umask(077);  // sockets, journal, transcripts: owner only
  const common::Paths& p = opt_.paths;
  if (Status s = common::MakeDirs(p.home, 0700); !s.ok()) return s;
  if (Status s = common::MakeDirs(p.run_dir, 0700); !s.ok()) return s;
  ::chmod(p.run_dir.c_str(), 0700);

  // The lock comes before anything else touches run/: binding an ipc endpoint
  // unlinks an existing socket file, which would steal a running supervisor's.
  auto lock = common::FileLock::TryAcquire(p.instance_lock);
  if (!lock.ok()) {
    if (lock.status().code() == Status::Code::kUnavailable) {
      *exit_code = kExitAlreadyRunning;
      auto holder = common::LockHolder(p.instance_lock);
      std::string who = holder.ok() && *holder > 0 ? " (pid " + std::to_string(*holder) + ")" : "";
      return Status::Unavailable("another laneway supervisor" + who + " is already running on " +
                                 p.home +
                                 "; stop it with `laneway down` or use another LANEWAY_HOME");
    }
    return lock.status();
  }
  instance_lock_ = std::move(lock).value();

  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, sig);
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return Status::FromErrno("sigprocmask", errno);
  impl_->sigfd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (impl_->sigfd < 0) return Status::FromErrno("signalfd", errno);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGXFSZ, SIG_IGN);  // a file-size limit is a write error, not a death
  // Orphaned descendants of a killed worker (an agent command's children) are
  // re-parented to us rather than to init, so ReapChildren's waitpid(-1) reaps them
  // too: nothing of a killed group is left behind, not even as a zombie.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  std::string binding;
  try {
    ConfigureRouter(impl_->control, opt_.config.supervisor.max_message_bytes);
    ConfigureRouter(impl_->inproc, opt_.config.supervisor.max_message_bytes);
    ConfigureRouter(impl_->workers, opt_.config.supervisor.max_message_bytes);
    binding = p.control_endpoint();
    impl_->control.bind(binding);
    binding = p.worker_endpoint();
    impl_->workers.bind(binding);
    binding = kCoreInprocEndpoint;
    impl_->inproc.bind(binding);
  } catch (const zmq::error_t& e) {
    return Status::IoError("cannot bind " + binding + ": " + e.what());
  }
  ::chmod(p.control_socket.c_str(), 0600);
  ::chmod(p.worker_socket.c_str(), 0600);

  started_at_ = clock_.Now();
  started_unix_ms_ = clock_.UnixMillis();
  Recover();
  if (journal_ == nullptr) {
    *exit_code = kExitStartup;
    return Status::IoError("cannot open the journal in " + p.journal_dir + ": " + journal_error_);
  }
  auto syncer = StartJournalSyncer(journal_.get());
  if (!syncer.ok()) return syncer.status();
  syncer_ = std::move(syncer).value();
  timers_.Arm({started_at_ + kHousekeepingInterval, TimerKind::kHousekeeping});
  // Front doors last: recovery is done, so the first request sees the real state.
  ChannelEnv env;
  env.zmq_context = &impl_->ctx;
  env.paths = opt_.paths;
  env.config = opt_.config;
  auto channels = MakeChannels(env);
  if (!channels.ok()) return channels.status();
  for (auto& ch : *channels) {
    if (Status st = ch->Start(); !st.ok()) {
      StopChannels();
      return Status::IoError(std::string("channels.") + ch->kind() + ": " + st.message());
    }
    LogLine(LogLevel::kInfo, "channel_started").Kv("channel", ch->kind());
    channels_.push_back(std::move(ch));
  }
  LogLine(LogLevel::kInfo, "supervisor_started")
      .Kv("pid", static_cast<int64_t>(::getpid()))
      .Kv("home", p.home)
      .Kv("config", opt_.config.source)
      .Kv("agents", static_cast<uint64_t>(opt_.config.agents.size()))
      .Kv("max_workers", opt_.config.supervisor.max_workers);
  *exit_code = kExitOk;
  return Status::Ok();
}

int Supervisor::Run() {
  while (!exit_loop_) PollOnce();
  // Last: make everything written durable here and now, then release what waited
  // for it. Turns accepted but not yet acknowledged are journaled and queued; their
  // senders learn that they are pending.
  const bool wrote = journal_->pending() > 0;
  Status st = journal_->Commit();
  if (st.ok()) {
    if (wrote) ++written_batch_;
    synced_batch_ = written_batch_;
  }
  while (!awaiting_sync_.empty()) {
    AwaitingSync batch = std::move(awaiting_sync_.front());
    awaiting_sync_.pop_front();
    if (st.ok()) {
      AcceptDurable(batch);
    } else {
      for (uint64_t id : batch.turn_ids) RefuseUnjournaled(id, st);
    }
  }
  NotifyPendingWaiters();
  for (Outgoing& out : outbox_) out.after_batch = 0;
  FlushOutbox();
  StopChannels();
  LogLine(LogLevel::kInfo, "supervisor_stopped").Kv("pid", static_cast<int64_t>(::getpid()));
  return kExitOk;
}

void Supervisor::PollOnce() {
  auto now = clock_.Now();
  long timeout_ms = 1000;
  if (auto next = timers_.Next()) {
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(*next - now).count() + 1;
    timeout_ms = std::clamp<long>(d, 0, 1000);
  }
  zmq::pollitem_t items[] = {
      {nullptr, syncer_->done_fd(), ZMQ_POLLIN, 0},
      {nullptr, impl_->sigfd, ZMQ_POLLIN, 0},
      {impl_->control.handle(), 0, ZMQ_POLLIN, 0},
      {impl_->inproc.handle(), 0, ZMQ_POLLIN, 0},
      {impl_->workers.handle(), 0, ZMQ_POLLIN, 0},
  };
  try {
    zmq::poll(items, 5, std::chrono::milliseconds(timeout_ms));
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) LogLine(LogLevel::kError, "poll_failed").Kv("error", e.what());
  }
  if (items[0].revents & ZMQ_POLLIN) OnSyncDone();
  if (items[1].revents & ZMQ_POLLIN) HandleSignals();

  // Read every socket, bounded per iteration so none starves the others or timers.
  for (Door door : {Door::kControl, Door::kInproc, Door::kWorkers}) {
    zmq::socket_t& sock = impl_->Socket(door);
    for (int i = 0; i < kMaxMessagesPerSocketPerIteration; ++i) {
      zmq::message_t id;
      zmq::message_t body;
      try {
        if (!sock.recv(id, zmq::recv_flags::dontwait)) break;
        bool well_formed = id.more();
        if (well_formed) {
          (void)sock.recv(body, zmq::recv_flags::none);
          while (body.more()) {  // extra frames: not our protocol
            well_formed = false;
            zmq::message_t extra;
            (void)sock.recv(extra, zmq::recv_flags::none);
            if (!extra.more()) break;
          }
        }
        Peer peer{door, std::string(static_cast<const char*>(id.data()), id.size())};
        const void* data = well_formed ? body.data() : nullptr;
        size_t size = well_formed ? body.size() : 0;
        if (door == Door::kWorkers) {
          HandleWorkerFrame(peer.id, data, size);
        } else {
          HandleControlFrame(peer, data, size);
        }
      } catch (const zmq::error_t& e) {
        LogLine(LogLevel::kError, "recv_failed").Kv("error", e.what());
        break;
      }
    }
  }
  FireTimers();
  WriteBatch();
  FlushOutbox();
}

void Supervisor::HandleSignals() {
  signalfd_siginfo info;
  bool child = false;
  while (::read(impl_->sigfd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    switch (info.ssi_signo) {
      case SIGCHLD:
        child = true;
        break;
      case SIGTERM:
        BeginShutdown("SIGTERM");
        break;
      case SIGINT:
        BeginShutdown("SIGINT");
        break;
      case SIGHUP:
        HandleReload(nullptr, -1);
        break;
      default:
        break;
    }
  }
  // SIGCHLD coalesces: reap until nothing is left, whatever the count said.
  if (child) ReapChildren();
}

void Supervisor::ReapChildren() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    OnWorkerReaped(pid, status);
  }
}

void Supervisor::FireTimers() {
  auto now = clock_.Now();
  while (auto t = timers_.PopDue(now)) {
    switch (t->kind) {
      case TimerKind::kRunDeadline: {
        // One pending run timer per worker: if it was armed for an earlier turn,
        // move it to the deadline of the turn running now.
        Worker* w = FindWorker(t->target);
        if (!w) break;
        w->run_timer_armed = false;
        const common::AgentConfig* agent = AgentOfWorker(*w);
        if (w->state != WorkerState::kBusy || !agent) break;
        const auto deadline = w->turn_started + agent->run_timeout;
        if (now >= deadline) {
          ApplyEvent(*w, WorkerEvent::kRunTimeout);
        } else {
          ArmWorkerTimer(*w, TimerKind::kRunDeadline, deadline);
        }
        break;
      }
      case TimerKind::kSilence: {
        Worker* w = FindWorker(t->target);
        if (!w || w->state == WorkerState::kStopping) break;
        auto limit = opt_.config.supervisor.heartbeat_timeout;
        if (now - w->last_seen >= limit) {
          ApplyEvent(*w, WorkerEvent::kSilent,
                     "no message for " + std::to_string(limit.count()) + "ms");
        } else {
          timers_.Arm({w->last_seen + limit, TimerKind::kSilence, w->id});
        }
        break;
      }
      case TimerKind::kGrace: {
        Worker* w = FindWorker(t->target);
        if (w && w->state == WorkerState::kStopping && w->stop_seq == t->token) {
          ApplyEvent(*w, WorkerEvent::kGraceExpired);
        }
        break;
      }
      case TimerKind::kIdle: {
        Worker* w = FindWorker(t->target);
        if (!w) break;
        w->idle_timer_armed = false;
        if (w->state != WorkerState::kIdle) break;
        const auto deadline = w->idle_since + opt_.config.supervisor.idle_timeout;
        if (now >= deadline) {
          ApplyEvent(*w, WorkerEvent::kIdleTimeout);
        } else {
          ArmWorkerTimer(*w, TimerKind::kIdle, deadline);
        }
        break;
      }
      case TimerKind::kBackoff: {
        auto it = session_by_serial_.find(t->target);
        if (it == session_by_serial_.end()) break;
        if (Session* s = FindSession(it->second)) {
          s->in_backoff = false;
          Schedule(*s);
        }
        break;
      }
      case TimerKind::kDrain: {
        drain_expired_ = true;
        std::vector<uint64_t> busy;
        for (auto& [id, w] : workers_) {
          if (w.state != WorkerState::kStopping) busy.push_back(id);
        }
        for (uint64_t id : busy) {
          if (Worker* w = FindWorker(id)) ApplyEvent(*w, WorkerEvent::kDrainKill, "drain_timeout");
        }
        CheckShutdownDone();
        break;
      }
      case TimerKind::kHousekeeping:
        Housekeeping();
        timers_.Arm({now + kHousekeepingInterval, TimerKind::kHousekeeping});
        break;
    }
  }
}

void Supervisor::StopChannels() {
  for (auto& ch : channels_) ch->Stop();
  channels_.clear();
}

void Supervisor::SendNow(const Peer& to, const std::string& bytes) {
  zmq::socket_t& sock = impl_->Socket(to.door);
  try {
    zmq::message_t id(to.id.data(), to.id.size());
    zmq::message_t body(bytes.data(), bytes.size());
    if (!sock.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait) ||
        !sock.send(body, zmq::send_flags::dontwait)) {
      ++counters_.undeliverable;  // high-water mark reached: peer is not reading
    }
  } catch (const zmq::error_t& e) {
    // EHOSTUNREACH: the CLI went away (Ctrl-C) or the worker is gone. A turn's
    // outcome stays available to `laneway wait`.
    ++counters_.undeliverable;
    LogLine(LogLevel::kDebug, "undeliverable")
        .Kv("to", to.door == Door::kWorkers ? "worker" : "client")
        .Kv("error", e.what());
  }
}

void Supervisor::FlushOutbox() {
  // Readiness is monotonic in after_batch, so skipping a waiting entry never lets a
  // later message that depends on it overtake it.
  size_t kept = 0;
  for (size_t i = 0; i < outbox_.size(); ++i) {
    Outgoing& out = outbox_[i];
    if (out.after_batch <= synced_batch_) {
      SendNow(out.to, out.bytes);
    } else {
      if (kept != i) outbox_[kept] = std::move(out);
      ++kept;
    }
  }
  outbox_.resize(kept);
}

void Supervisor::Housekeeping() {
  if (index_dirty_) WriteSessionIndex();
  MaybeCompactJournal();
  // A session waiting for a slot may be blocked by idle workers of other sessions.
  if (admission_.size() > 0) {
    AdmitWaiting();
    ReclaimIdleSlot();
  }
}

Worker* Supervisor::FindWorker(uint64_t id) {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

const common::AgentConfig* Supervisor::AgentOfWorker(const Worker& w) {
  Session* s = FindSession(w.session);
  return s ? AgentOf(*s) : nullptr;
}

void Supervisor::ArmWorkerTimer(Worker& w, TimerKind kind, common::SteadyTime when) {
  bool& armed = kind == TimerKind::kRunDeadline ? w.run_timer_armed : w.idle_timer_armed;
  if (armed) return;  // the pending one re-arms itself for `when` when it fires
  armed = true;
  timers_.Arm({when, kind, w.id});
}

Session* Supervisor::FindSession(const std::string& key) {
  auto it = sessions_.find(key);
  return it == sessions_.end() ? nullptr : it->second.get();
}

const common::AgentConfig* Supervisor::AgentOf(const Session& s) const {
  return opt_.config.FindAgent(s.agent);
}

RestartPolicy::Limits Supervisor::Limits() const {
  const auto& c = opt_.config.supervisor;
  return {c.restart_limit, c.restart_window, c.restart_backoff, c.restart_backoff_max};
}

}  // namespace laneway::supervisor
