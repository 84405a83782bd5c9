#include "worker/stream_context.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

namespace laneway::worker {

common::Result<std::unique_ptr<StreamContext>> StreamContext::Create() {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return common::Status::FromErrno("eventfd", errno);
  return std::unique_ptr<StreamContext>(new StreamContext(fd));
}

StreamContext::~StreamContext() { ::close(wake_fd_); }

void StreamContext::Emit(std::string_view delta) {
  if (delta.empty()) return;
  bool was_empty;
  {
    std::lock_guard<std::mutex> l(mu_);
    was_empty = pending_.empty();
    pending_.append(delta);
  }
  if (was_empty) {
    uint64_t one = 1;
    ssize_t n = ::write(wake_fd_, &one, sizeof one);
    (void)n;
  }
}

std::string StreamContext::Take() {
  uint64_t v;
  ssize_t n = ::read(wake_fd_, &v, sizeof v);
  (void)n;
  std::lock_guard<std::mutex> l(mu_);
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace laneway::worker
