#include "worker/runner_thread.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

namespace laneway::worker {

common::Result<std::unique_ptr<RunnerThread>> RunnerThread::Start(Runner* runner) {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return common::Status::FromErrno("eventfd", errno);
  return std::unique_ptr<RunnerThread>(new RunnerThread(runner, fd));
}

RunnerThread::RunnerThread(Runner* runner, int done_fd)
    : runner_(runner), done_fd_(done_fd), thread_([this] { Loop(); }) {}

RunnerThread::~RunnerThread() {
  {
    std::lock_guard<std::mutex> l(mu_);
    quit_ = true;
  }
  cv_.notify_one();
  thread_.join();
  ::close(done_fd_);
}

void RunnerThread::Submit(TurnInput input) {
  {
    std::lock_guard<std::mutex> l(mu_);
    input_ = std::move(input);
  }
  cv_.notify_one();
}

TurnOutput RunnerThread::Take() {
  uint64_t v;
  ssize_t n = ::read(done_fd_, &v, sizeof v);
  (void)n;
  std::lock_guard<std::mutex> l(mu_);
  return std::move(output_);
}

void RunnerThread::Loop() {
  for (;;) {
    TurnInput in;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [this] { return quit_ || input_.has_value(); });
      if (!input_) return;  // quit with nothing to run
      in = std::move(*input_);
      input_.reset();
    }
    TurnOutput out = runner_->Run(in);
    {
      std::lock_guard<std::mutex> l(mu_);
      output_ = std::move(out);
    }
    uint64_t one = 1;
    ssize_t n = ::write(done_fd_, &one, sizeof one);
    (void)n;
  }
}

}  // namespace laneway::worker
