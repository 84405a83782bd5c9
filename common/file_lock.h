// FileLock: an exclusive kernel lock on a file (POSIX fcntl record lock through
// Boost.Interprocess file_lock). The kernel drops it the moment the holding
// process dies, however it dies: there is no lock file to go stale, and no pid
// written anywhere to check. Used for a worker's session lock and for the
// supervisor's one-instance-per-home lock.
//
// fcntl locks belong to a process, not to a file descriptor: children do not
// inherit them, and closing any descriptor of the file drops them. So this class
// keeps a process-wide record of what it holds: a second TryAcquire of a file this
// process holds is refused (Unavailable) without touching the file.
#ifndef LANEWAY_COMMON_FILE_LOCK_H_
#define LANEWAY_COMMON_FILE_LOCK_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace laneway::common {

class FileLock {
 public:
  // Creates `path` if missing (mode 0600) and tries to lock it without waiting.
  // Unavailable if another process holds it.
  static Result<std::unique_ptr<FileLock>> TryAcquire(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  struct Impl;
  FileLock(std::string path, std::unique_ptr<Impl> impl);
  std::string path_;
  std::unique_ptr<Impl> impl_;
};

// Which process holds the fcntl lock on `path` without taking it (F_GETLK):
// its pid, 0 if nobody holds it, or an error if the file cannot be opened. If this
// process holds it through a FileLock, returns getpid() without opening the file.
Result<pid_t> LockHolder(const std::string& path);

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_FILE_LOCK_H_
