#include "supervisor/local_launcher.h"

#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "common/log.h"

extern char** environ;

namespace laneway::supervisor {

using common::LogLevel;
using common::LogLine;

common::Result<pid_t> SpawnProcess(const SpawnSpec& spec) {
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : spec.extra_env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (char** e = environ; e && *e; ++e) {
    bool replaced = false;
    for (const auto& [k, v] : spec.extra_env) {
      if (std::strncmp(*e, k.c_str(), k.size()) == 0 && (*e)[k.size()] == '=') replaced = true;
    }
    if (!replaced) envp.push_back(*e);
  }
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args_copy;
  args_copy.push_back(spec.program);
  for (const auto& a : spec.args) args_copy.push_back(a);
  std::vector<char*> argv;
  for (auto& a : args_copy) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawnattr_t attr;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_init(&fa);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);
  // Nothing of the supervisor's but stdio crosses the exec, whatever a library
  // opened without O_CLOEXEC.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, spec.program.c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return common::Status::IoError("spawn " + spec.program + ": " + std::strerror(rc));
  return pid;
}

common::Result<std::unique_ptr<LocalLauncher>> LocalLauncher::Start() {
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return common::Status::FromErrno("eventfd", errno);
  return std::unique_ptr<LocalLauncher>(new LocalLauncher(fd));
}

LocalLauncher::LocalLauncher(int event_fd) : event_fd_(event_fd) {
  thread_ = std::thread([this] { Run(); });
}

LocalLauncher::~LocalLauncher() {
  {
    std::lock_guard<std::mutex> l(mu_);
    quit_ = true;
  }
  cv_.notify_one();
  thread_.join();
  ::close(event_fd_);
}

void LocalLauncher::Launch(uint64_t worker_id, SpawnSpec spec) {
  ++in_flight_;
  {
    std::lock_guard<std::mutex> l(mu_);
    requests_.emplace_back(worker_id, std::move(spec));
  }
  cv_.notify_one();
}

std::vector<LaunchResult> LocalLauncher::TakeResults(size_t max) {
  uint64_t n = 0;
  (void)!::read(event_fd_, &n, sizeof n);  // re-signalled below if some stay
  std::vector<LaunchResult> out;
  bool more = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    while (!results_.empty() && out.size() < max) {
      out.push_back(std::move(results_.front()));
      results_.pop_front();
    }
    more = !results_.empty();
  }
  if (more) {
    const uint64_t one = 1;
    (void)!::write(event_fd_, &one, sizeof one);
  }
  in_flight_ -= out.size();
  return out;
}

void LocalLauncher::SignalGroup(pid_t pid, int sig) {
  if (pid <= 0) return;
  // The worker leads its own process group (setsid at spawn); -pid reaches every
  // descendant that did not leave the group, including after the leader is gone.
  if (::kill(-pid, sig) != 0 && errno != ESRCH) {
    LogLine(LogLevel::kWarn, "kill_failed")
        .Kv("pid", static_cast<int64_t>(pid))
        .Kv("error", std::strerror(errno));
  }
}

// A child takes the nice value of the thread that creates it, so this thread
// takes the workers' value before it spawns them: a worker is born at its
// priority, before its exec and dynamic linking compete with the loop. Without
// CAP_SYS_NICE a value can be raised but not lowered again; that is logged once.
void LocalLauncher::ApplyNice(int more) {
  const int nice = std::min(19, base_nice_ + more);
  if (nice == thread_nice_) return;
  errno = 0;
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice) == 0) {
    thread_nice_ = nice;
    return;
  }
  if (!nice_warned_) {
    nice_warned_ = true;
    LogLine(LogLevel::kWarn, "worker_nice_failed")
        .Kv("nice", static_cast<int64_t>(nice))
        .Kv("current", static_cast<int64_t>(thread_nice_))
        .Kv("error", std::strerror(errno));
  }
}

void LocalLauncher::Run() {
  tid_.store(::gettid(), std::memory_order_release);
  errno = 0;
  const int current = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  if (errno == 0) base_nice_ = thread_nice_ = current;
  for (;;) {
    std::pair<uint64_t, SpawnSpec> req;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [this] { return quit_ || !requests_.empty(); });
      if (quit_) return;
      req = std::move(requests_.front());
      requests_.pop_front();
    }
    LaunchResult r;
    r.worker_id = req.first;
    ApplyNice(req.second.nice);
    auto pid = SpawnProcess(req.second);
    if (pid.ok()) {
      r.pid = *pid;
    } else {
      r.error = pid.status().message();
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      results_.push_back(std::move(r));
    }
    const uint64_t one = 1;
    (void)!::write(event_fd_, &one, sizeof one);
  }
}

std::string SelfExeDir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace laneway::supervisor
