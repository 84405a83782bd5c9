#include "supervisor/supervisor.h"

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <zmq.hpp>

#include "common/log.h"
#include "common/loop_scheduling.h"
#include "supervisor/core.h"
#include "supervisor/leftovers.h"
#include "supervisor/metrics.h"
#include "supervisor/peer_auth.h"
#include "supervisor/worker_pool.h"

namespace laneway::supervisor {

using common::LogLevel;
using common::LogLine;
using common::Status;

namespace {

// Bounded work per pass, so that no socket, timer burst, reaping or launch burst
// starves another, and a pass stays short: signals (SIGTERM) are read at the start
// of every pass. Work left over makes the next poll return at once.
constexpr int kMaxMessagesPerSocketPerIteration = 256;
constexpr size_t kMaxTimersPerIteration = 512;
constexpr int kMaxReapsPerIteration = 256;
constexpr size_t kMaxLaunchResultsPerIteration = 256;

void ConfigureRouter(zmq::socket_t& s, uint32_t max_message_bytes) {
  s.set(zmq::sockopt::router_mandatory, 1);
  // libzmq drops a peer that sends more than this; the supervisor itself answers
  // messages over max_message_bytes with an error, so the hard cap sits above it.
  s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(max_message_bytes) * 4 + (1 << 20));
  s.set(zmq::sockopt::sndhwm, 100000);
  s.set(zmq::sockopt::rcvhwm, 100000);
  s.set(zmq::sockopt::linger, 0);
}

// Our direct children but those of thread `skip`, from /proc/self/task/*/children
// (the kernel's own list; a subreaper's adopted orphans appear there too, under the
// main thread: the kernel hands orphans to the first live thread of the reaper).
std::vector<pid_t> ChildPids(pid_t skip) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc/self/task");
  if (d == nullptr) return out;
  const std::string skipped = std::to_string(skip);
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.' || e->d_name == skipped) continue;
    const std::string path = std::string("/proc/self/task/") + e->d_name + "/children";
    FILE* f = std::fopen(path.c_str(), "re");
    if (f == nullptr) continue;
    long pid = 0;
    while (std::fscanf(f, "%ld", &pid) == 1) out.push_back(static_cast<pid_t>(pid));
    std::fclose(f);
  }
  ::closedir(d);
  return out;
}

}  // namespace

struct Supervisor::Impl : Transport {
  zmq::context_t ctx{1};
  zmq::socket_t control{ctx, zmq::socket_type::router};
  zmq::socket_t inproc{ctx, zmq::socket_type::router};
  zmq::socket_t workers{ctx, zmq::socket_type::router};
  std::unique_ptr<PeerAuth> peer_auth;  // the ZAP handler of control and workers
  int sigfd = -1;
  ~Impl() override {
    if (sigfd >= 0) ::close(sigfd);
  }
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
  bool Send(const Peer& to, const std::string& bytes) override {
    zmq::socket_t& sock = Socket(to.door);
    try {
      zmq::message_t id(to.id.data(), to.id.size());
      zmq::message_t body(bytes.data(), bytes.size());
      // False: high-water mark reached, the peer is not reading.
      return sock.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait) &&
             sock.send(body, zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
      // EHOSTUNREACH: the CLI went away (Ctrl-C) or the worker is gone. A turn's
      // outcome stays available to `laneway wait`.
      LogLine(LogLevel::kDebug, "undeliverable")
          .Kv("to", to.door == Door::kWorkers ? "worker" : "client")
          .Kv("error", e.what());
      return false;
    }
  }
};

Status CheckRunnersAvailable(const common::Config& config) {
  // Every runner kind the config can name (echo, exec, openai) is built in.
  (void)config;
  return Status::Ok();
}

Supervisor::Supervisor(Options options)
    : opt_(std::move(options)), impl_(std::make_unique<Impl>()) {}

Supervisor::~Supervisor() {
  StopChannels();
  core_.reset();  // joins the core's job threads before the sockets go
  launcher_.reset();
}

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
  // What an earlier supervisor of this home left running when it was killed
  // (leftovers.h): ended before any worker of ours starts.
  KillLeftovers(p.home);

  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, sig);
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return Status::FromErrno("sigprocmask", errno);
  impl_->sigfd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (impl_->sigfd < 0) return Status::FromErrno("signalfd", errno);
  // One descriptor per worker connection: take every descriptor the hard limit
  // allows (systemd and login shells start us with a soft limit of 1024).
  if (rlimit nofile{};
      ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGXFSZ, SIG_IGN);  // a file-size limit is a write error, not a death
  // Orphaned descendants of a killed worker (an agent command's children) are
  // re-parented to us rather than to init, so the reaping below reaps them too:
  // nothing of a killed group is left behind, not even as a zombie.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  // Peer credentials (peer_auth.h): the ZAP handler is bound before the doors it
  // guards, so no connection is ever accepted unchecked.
  auto access = ResolveControlAccess(opt_.config.supervisor, ::geteuid());
  if (!access.ok()) {
    *exit_code = kExitConfig;
    return access.status();
  }
  PeerAuth::Options pa;
  pa.control = std::move(access).value();
  pa.is_worker_pid = [this](pid_t pid) { return core_ && core_->pool().IsWorkerPid(pid); };
  pa.on_refused = [this] {
    if (core_) ++core_->counters().peers_refused;
  };
  pa.clock = &clock_;
  impl_->peer_auth = std::make_unique<PeerAuth>(&impl_->ctx, std::move(pa));
  if (Status s = impl_->peer_auth->Start(); !s.ok()) return s;

  std::string binding;
  try {
    impl_->control.set(zmq::sockopt::zap_domain, kControlZapDomain);
    impl_->workers.set(zmq::sockopt::zap_domain, kWorkerZapDomain);
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

  auto launcher = LocalLauncher::Start();
  if (!launcher.ok()) return launcher.status();
  launcher_ = std::move(launcher).value();

  Core::Options co;
  co.paths = opt_.paths;
  co.config = opt_.config;
  co.config_path = opt_.config_path;
  co.worker_binary = opt_.worker_binary;
  co.clock = &clock_;
  co.launcher = launcher_.get();
  co.transport = impl_.get();
  co.supervisor_pid = ::getpid();
  // The supervisor is a child subreaper: every process re-parented to it that is not
  // a worker escaped a worker's process group (a `setsid` daemon of an agent
  // command). It has no business outliving its worker: kill it and its group.
  // The launcher thread's children are the workers and the workers being launched
  // (whose pids the pool does not know yet): the sweep skips its list, which holds
  // every worker. Reading it cost the loop 15 ms a second with 10,000 workers, and
  // the sweep had to wait for a moment with no launch in flight, which a long burst
  // never has.
  co.orphan_sweep = [this] {
    const pid_t launcher_tid = launcher_->thread_id();
    if (launcher_tid == 0) return;  // no worker launched yet
    for (pid_t pid : ChildPids(launcher_tid)) {
      if (core_->pool().IsWorkerPid(pid)) continue;
      const std::string comm = CommandOf(pid);
      if (comm.empty()) continue;  // gone, or a zombie about to be reaped
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      LogLine(LogLevel::kWarn, "orphan_killed")
          .Kv("pid", static_cast<int64_t>(pid))
          .Kv("command", comm)
          .Kv("reason", "escaped_worker_group");
    }
  };
  co.channel_states = [this] {
    common::Value v = common::Value::MakeArray();
    for (const auto& ch : channels_) v.Push(ch->State());
    return v;
  };
  co.notify = [this](std::string_view notice) { notifier_.Send(notice); };
  core_ = std::make_unique<Core>(std::move(co));
  if (Status st = core_->Open(); !st.ok()) return st;

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
  // Every thread of ours that should not get it exists by now (and later ones do
  // not inherit it: SCHED_RESET_ON_FORK): this thread and libzmq's I/O thread.
  common::ApplyLoopScheduling(opt_.config.supervisor.loop_scheduling);
  // Recovery is done and every front door listens (Start): ready.
  notifier_.Ready(clock_.Now(), StatusSummary(*core_));
  while (!core_->exit_requested()) PollOnce();
  core_->Finish();
  StopChannels();
  // A clean stop leaves no socket files behind (the instance lock file stays: it is
  // how the next start knows nobody holds it).
  ::unlink(opt_.paths.control_socket.c_str());
  ::unlink(opt_.paths.worker_socket.c_str());
  LogLine(LogLevel::kInfo, "supervisor_stopped").Kv("pid", static_cast<int64_t>(::getpid()));
  return kExitOk;
}

void Supervisor::StopChannels() {
  for (auto& ch : channels_) ch->Stop();
  channels_.clear();
}

void Supervisor::PollOnce() {
  const auto now = clock_.Now();
  long timeout_ms = 1000;
  if (auto next = core_->NextTimer()) {
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(*next - now).count() + 1;
    timeout_ms = std::clamp<long>(d, 0, 1000);
  }
  if (auto ping = notifier_.NextPing()) {
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(*ping - now).count() + 1;
    timeout_ms = std::clamp<long>(d, 0, timeout_ms);
  }
  if (reap_more_) timeout_ms = 0;
  if (impl_->peer_auth->has_waiting()) timeout_ms = std::min<long>(timeout_ms, 50);
  zmq::pollitem_t items[] = {
      {nullptr, core_->journal_fd(), ZMQ_POLLIN, 0},
      {nullptr, impl_->sigfd, ZMQ_POLLIN, 0},
      {impl_->control.handle(), 0, ZMQ_POLLIN, 0},
      {impl_->inproc.handle(), 0, ZMQ_POLLIN, 0},
      {impl_->workers.handle(), 0, ZMQ_POLLIN, 0},
      {nullptr, launcher_->result_fd(), ZMQ_POLLIN, 0},
      {impl_->peer_auth->socket_handle(), 0, ZMQ_POLLIN, 0},
  };
  try {
    zmq::poll(items, 7, std::chrono::milliseconds(timeout_ms));
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) LogLine(LogLevel::kError, "poll_failed").Kv("error", e.what());
  }
  if (items[1].revents & ZMQ_POLLIN) HandleSignals();
  if (common::TakeRealtimeDemotion()) {
    // The loop ran 200 ms without sleeping at real-time priority (loop_scheduling.h).
    LogLine(LogLevel::kError, "loop_scheduling_demoted")
        .Kv("applied", "normal")
        .Kv("reason", "a real-time thread ran 200 ms without sleeping (RLIMIT_RTTIME)");
  }
  if (reap_more_) Reap();
  if (items[0].revents & ZMQ_POLLIN) core_->OnJournalJobDone();

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
        const size_t size = well_formed ? body.size() : 0;
        if (door == Door::kWorkers) {
          core_->OnWorkerMessage(peer.id, data, size);
        } else {
          core_->OnControlMessage(peer, data, size);
        }
      } catch (const zmq::error_t& e) {
        LogLine(LogLevel::kError, "recv_failed").Kv("error", e.what());
        break;
      }
    }
  }
  if (items[5].revents & ZMQ_POLLIN) core_->OnLaunchResults(kMaxLaunchResultsPerIteration);
  // After the launch results: a worker's pid is known before its connection is judged.
  if ((items[6].revents & ZMQ_POLLIN) || impl_->peer_auth->has_waiting()) {
    impl_->peer_auth->Process();
  }
  core_->FireTimers(kMaxTimersPerIteration);
  core_->EndIteration();
  // The watchdog is fed from here, the loop itself: a wedged loop stops feeding it.
  test_wedge_.MaybeWedge();
  const auto end = clock_.Now();
  notifier_.Tick(end);
  notifier_.UpdateStatus(end, [this] { return StatusSummary(*core_); });
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
        core_->OnShutdownSignal("SIGTERM");
        break;
      case SIGINT:
        core_->OnShutdownSignal("SIGINT");
        break;
      case SIGHUP:
        core_->OnReloadSignal();
        break;
      default:
        break;
    }
  }
  if (child) Reap();
}

void Supervisor::Reap() {
  // SIGCHLD coalesces: reap until nothing is left, whatever the count said; but at
  // most a batch per pass (reap_more_ brings the next pass at once).
  reap_more_ = false;
  for (int i = 0; i < kMaxReapsPerIteration; ++i) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    core_->OnChildExit(pid, status);
  }
  reap_more_ = true;
}

}  // namespace laneway::supervisor
