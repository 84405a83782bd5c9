// RunnerThread: the one thread, for a worker's whole life, on which a blocking
// runner runs its turns, so that the worker's main thread keeps the supervisor
// connection (heartbeats, stop) while an agent thinks.
//
// Submit() hands over one turn; when it is done the thread makes done_fd()
// readable (an eventfd the main thread polls) and Take() returns the output.
// One turn at a time: Submit again only after Take.
#ifndef LANEWAY_WORKER_RUNNER_THREAD_H_
#define LANEWAY_WORKER_RUNNER_THREAD_H_

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "common/status.h"
#include "worker/runners/runner.h"

namespace laneway::worker {

class RunnerThread {
 public:
  // `runner` must outlive this object.
  static common::Result<std::unique_ptr<RunnerThread>> Start(Runner* runner);
  ~RunnerThread();  // waits for a running turn to finish, then joins
  RunnerThread(const RunnerThread&) = delete;
  RunnerThread& operator=(const RunnerThread&) = delete;

  void Submit(TurnInput input);
  int done_fd() const { return done_fd_; }
  // Call when done_fd() is readable: clears it and returns the turn's output.
  TurnOutput Take();

 private:
  RunnerThread(Runner* runner, int done_fd);
  void Loop();

  Runner* runner_;
  int done_fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<TurnInput> input_;
  TurnOutput output_;
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace laneway::worker

#endif  // LANEWAY_WORKER_RUNNER_THREAD_H_
