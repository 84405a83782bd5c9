// JobThread<In, Out>: one background thread that runs one job at a time, for a
// loop thread that must not block: Submit() hands over a job, the thread runs
// `fn` on it, and done_fd() (an eventfd, for the loop's poll set) turns readable
// when it is done; Take() then returns the result. Submit again only after Take.
//
// Used for a worker's blocking runner (the agent thinks while the worker keeps
// heart-beating) and for the supervisor's journal fdatasync.
#ifndef LANEWAY_COMMON_JOB_THREAD_H_
#define LANEWAY_COMMON_JOB_THREAD_H_

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "common/status.h"

namespace laneway::common {

template <typename In, typename Out>
class JobThread {
 public:
  using Fn = std::function<Out(In&)>;

  static Result<std::unique_ptr<JobThread>> Start(Fn fn) {
    int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) return Status::FromErrno("eventfd", errno);
    return std::unique_ptr<JobThread>(new JobThread(std::move(fn), fd));
  }

  // Finishes a running job, then joins.
  ~JobThread() {
    {
      std::lock_guard<std::mutex> l(mu_);
      quit_ = true;
    }
    cv_.notify_one();
    thread_.join();
    ::close(done_fd_);
  }
  JobThread(const JobThread&) = delete;
  JobThread& operator=(const JobThread&) = delete;

  void Submit(In in) {
    busy_ = true;
    {
      std::lock_guard<std::mutex> l(mu_);
      job_ = std::move(in);
    }
    cv_.notify_one();
  }
  // No job submitted and not yet taken (owner's thread only).
  bool idle() const { return !busy_; }
  int done_fd() const { return done_fd_; }
  // Call when done_fd() is readable.
  Out Take() {
    uint64_t v;
    ssize_t n = ::read(done_fd_, &v, sizeof v);
    (void)n;
    busy_ = false;
    std::lock_guard<std::mutex> l(mu_);
    return std::move(*result_);
  }

 private:
  JobThread(Fn fn, int done_fd)
      : fn_(std::move(fn)), done_fd_(done_fd), thread_([this] { Loop(); }) {}

  void Loop() {
    for (;;) {
      In in;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [this] { return quit_ || job_.has_value(); });
        if (!job_) return;  // quit with nothing to run
        in = std::move(*job_);
        job_.reset();
      }
      Out out = fn_(in);
      {
        std::lock_guard<std::mutex> l(mu_);
        result_ = std::move(out);
      }
      uint64_t one = 1;
      ssize_t n = ::write(done_fd_, &one, sizeof one);
      (void)n;
    }
  }

  Fn fn_;
  int done_fd_;
  bool busy_ = false;  // owner's thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<In> job_;
  std::optional<Out> result_;
  bool quit_ = false;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_JOB_THREAD_H_
