#include "common/loop_scheduling.h"

#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "common/log.h"

namespace laneway::common {

namespace {

// struct sched_attr (SCHED_ATTR_SIZE_VER1); glibc 2.36 declares neither it nor
// sched_setattr/sched_getattr.
struct SchedAttr {
  uint32_t size = sizeof(SchedAttr);
  uint32_t sched_policy = 0;
  uint64_t sched_flags = 0;
  int32_t sched_nice = 0;
  uint32_t sched_priority = 0;
  uint64_t sched_runtime = 0;  // SCHED_OTHER: the slice asked for (Linux 6.12+)
  uint64_t sched_deadline = 0;
  uint64_t sched_period = 0;
  uint32_t sched_util_min = 0;
  uint32_t sched_util_max = 0;
};

constexpr uint64_t kShortSliceNs = 100'000;  // the kernel's lower bound for a slice
constexpr int kRealtimePriority = 1;

bool GetAttr(pid_t tid, SchedAttr* a) {
  return ::syscall(SYS_sched_getattr, tid, a, sizeof *a, 0) == 0;
}

// The policy is kept as it is (normal), with the thread's own nice value.
bool SetShortSlice(pid_t tid, std::string* error) {
  SchedAttr a;
  if (!GetAttr(tid, &a)) {
    *error = std::string("sched_getattr: ") + std::strerror(errno);
    return false;
  }
  SchedAttr want;
  want.sched_policy = SCHED_OTHER;
  want.sched_nice = a.sched_nice;
  want.sched_runtime = kShortSliceNs;
  if (::syscall(SYS_sched_setattr, tid, &want, 0) != 0) {
    *error = std::string("sched_setattr: ") + std::strerror(errno);
    return false;
  }
  // Kernels before 6.12 accept the call and ignore the slice.
  if (ThreadScheduling(tid) != LoopScheduling::kShortSlice) {
    *error = "this kernel ignores a fair-scheduled thread's slice (Linux 6.12 or later uses it)";
    return false;
  }
  return true;
}

bool SetRealtime(pid_t tid, std::string* error) {
  sched_param p{};
  p.sched_priority = kRealtimePriority;
  if (::sched_setscheduler(tid, SCHED_RR | SCHED_RESET_ON_FORK, &p) != 0) {
    *error = std::string("sched_setscheduler(SCHED_RR): ") + std::strerror(errno);
    return false;
  }
  return true;
}

// libzmq names its I/O threads "ZMQbg/IO/<n>" (ZMQ_THREAD_NAME_PREFIX unset).
std::vector<pid_t> ZmqIoThreads() {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc/self/task");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string name;
    if (std::getline(comm, name) && name.rfind("ZMQbg/IO/", 0) == 0) {
      out.push_back(static_cast<pid_t>(std::atol(e->d_name)));
    }
  }
  ::closedir(d);
  return out;
}

// The guard against a real-time thread that stops blocking: RLIMIT_RTTIME makes the
// kernel send SIGXCPU once a real-time thread of ours has run that long without
// sleeping, and the handler puts the threads back on the fair scheduler.
constexpr rlim_t kRealtimeBudgetUs = 200'000;
constexpr int kMaxGuarded = 8;
std::atomic<pid_t> g_guarded[kMaxGuarded];
std::atomic<bool> g_demoted{false};

void OnXcpu(int) {
  const int saved = errno;
  sched_param p{};
  for (auto& t : g_guarded) {
    const pid_t tid = t.exchange(0);
    if (tid > 0) ::sched_setscheduler(tid, SCHED_OTHER, &p);  // async-signal-safe
  }
  g_demoted.store(true);
  errno = saved;
}

bool Guard(const std::vector<pid_t>& tids, rlim_t budget_us, std::string* error) {
  struct sigaction sa {};
  sa.sa_handler = OnXcpu;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (::sigaction(SIGXCPU, &sa, nullptr) != 0) {
    *error = std::string("sigaction(SIGXCPU): ") + std::strerror(errno);
    return false;
  }
  rlimit lim{};
  ::getrlimit(RLIMIT_RTTIME, &lim);
  lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? budget_us : std::min(lim.rlim_max, budget_us);
  if (::setrlimit(RLIMIT_RTTIME, &lim) != 0) {
    *error = std::string("setrlimit(RLIMIT_RTTIME): ") + std::strerror(errno);
    return false;
  }
  size_t i = 0;
  for (pid_t t : tids) {
    if (i < kMaxGuarded) g_guarded[i++].store(t);
  }
  return true;
}

}  // namespace

bool TakeRealtimeDemotion() { return g_demoted.exchange(false); }

bool GuardRealtimeForTest(const std::vector<pid_t>& tids, uint64_t budget_us) {
  std::string error;
  return Guard(tids, static_cast<rlim_t>(budget_us), &error);
}

LoopScheduling ThreadScheduling(pid_t tid) {
  SchedAttr a;
  if (!GetAttr(tid, &a)) return LoopScheduling::kNormal;
  if (a.sched_policy == SCHED_RR || a.sched_policy == SCHED_FIFO) return LoopScheduling::kRealtime;
  if (a.sched_runtime != 0 && a.sched_runtime <= kShortSliceNs) return LoopScheduling::kShortSlice;
  return LoopScheduling::kNormal;
}

void ApplyLoopScheduling(LoopScheduling mode) {
  if (mode == LoopScheduling::kNormal) return;
  std::vector<pid_t> threads{static_cast<pid_t>(::gettid())};
  for (pid_t t : ZmqIoThreads()) threads.push_back(t);
  LoopScheduling applied = LoopScheduling::kNormal;

  auto apply_all = [&](bool (*set)(pid_t, std::string*), std::string* error) {
    for (pid_t t : threads) {
      if (!set(t, error)) return false;
    }
    return true;
  };
  std::string error;
  if (mode == LoopScheduling::kRealtime) {
    if (Guard(threads, kRealtimeBudgetUs, &error) && apply_all(SetRealtime, &error)) {
      applied = LoopScheduling::kRealtime;
    } else {
      // The threads done before the failure go back to normal first.
      sched_param p{};
      for (pid_t t : threads) ::sched_setscheduler(t, SCHED_OTHER, &p);
      mode = LoopScheduling::kShortSlice;
    }
  }
  if (mode == LoopScheduling::kShortSlice) {
    std::string slice_error;
    if (apply_all(SetShortSlice, &slice_error)) {
      applied = LoopScheduling::kShortSlice;
    } else {
      error += (error.empty() ? "" : "; ") + slice_error;
    }
  }
  LogLine line(error.empty() ? LogLevel::kInfo : LogLevel::kWarn, "loop_scheduling");
  line.Kv("applied", LoopSchedulingName(applied))
      .Kv("threads", static_cast<int64_t>(threads.size()));
  if (!error.empty()) line.Kv("error", error);
}

}  // namespace laneway::common
