#include "supervisor/journal_syncer.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

namespace laneway::supervisor {

common::Result<std::unique_ptr<JournalSyncer>> JournalSyncer::Start(Journal* journal) {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return common::Status::FromErrno("eventfd", errno);
  return std::unique_ptr<JournalSyncer>(new JournalSyncer(journal, fd));
}

JournalSyncer::JournalSyncer(Journal* journal, int done_fd)
    : journal_(journal), done_fd_(done_fd), thread_([this] { Loop(); }) {}

JournalSyncer::~JournalSyncer() {
  {
    std::lock_guard<std::mutex> l(mu_);
    quit_ = true;
  }
  cv_.notify_one();
  thread_.join();
  ::close(done_fd_);
}

void JournalSyncer::Request(uint64_t batch) {
  in_flight_ = true;
  {
    std::lock_guard<std::mutex> l(mu_);
    request_ = batch;
  }
  cv_.notify_one();
}

JournalSyncer::Done JournalSyncer::Take() {
  uint64_t v;
  ssize_t n = ::read(done_fd_, &v, sizeof v);
  (void)n;
  in_flight_ = false;
  std::lock_guard<std::mutex> l(mu_);
  return done_;
}

void JournalSyncer::Loop() {
  for (;;) {
    uint64_t batch;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [this] { return quit_ || request_.has_value(); });
      if (!request_) return;
      batch = *request_;
      request_.reset();
    }
    common::Status st = journal_->Sync();
    {
      std::lock_guard<std::mutex> l(mu_);
      done_ = {batch, std::move(st)};
    }
    uint64_t one = 1;
    ssize_t n = ::write(done_fd_, &one, sizeof one);
    (void)n;
  }
}

}  // namespace laneway::supervisor
