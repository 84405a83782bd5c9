#include "common/file_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <set>
#include <utility>

namespace laneway::common {

namespace {

// Files this process holds a FileLock on, by (device, inode). fcntl locks belong to
// the process, and closing ANY descriptor of a file drops them all, so neither
// LockHolder nor a second TryAcquire may open a file this process has locked.
std::mutex g_held_mu;
std::set<std::pair<dev_t, ino_t>> g_held;

bool FileId(const std::string& path, std::pair<dev_t, ino_t>* id) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  *id = {st.st_dev, st.st_ino};
  return true;
}

bool HeldHere(const std::string& path) {
  std::pair<dev_t, ino_t> id;
  if (!FileId(path, &id)) return false;
  std::lock_guard<std::mutex> l(g_held_mu);
  return g_held.count(id) > 0;
}

}  // namespace

// The lock is an fcntl write lock on a descriptor opened here with O_CLOEXEC and
// kept for the lock's life (Boost's file_lock opened its own descriptor without
// O_CLOEXEC, so every worker inherited the supervisor's instance lock file).
struct FileLock::Impl {
  int fd = -1;
  std::pair<dev_t, ino_t> id{};
};

FileLock::FileLock(std::string path, std::unique_ptr<Impl> impl)
    : path_(std::move(path)), impl_(std::move(impl)) {}

FileLock::~FileLock() {
  if (impl_->fd >= 0) ::close(impl_->fd);  // drops the fcntl lock
  std::lock_guard<std::mutex> l(g_held_mu);
  g_held.erase(impl_->id);
}

Result<std::unique_ptr<FileLock>> FileLock::TryAcquire(const std::string& path) {
  if (HeldHere(path)) return Status::Unavailable("lock " + path + " is held by this process");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("open lock file " + path, errno);
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  if (::fcntl(fd, F_SETLK, &fl) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EACCES || err == EAGAIN) {
      return Status::Unavailable("lock " + path + " is held by another process");
    }
    return Status::FromErrno("lock " + path, err);
  }
  auto impl = std::make_unique<Impl>();
  impl->fd = fd;
  if (FileId(path, &impl->id)) {
    std::lock_guard<std::mutex> l(g_held_mu);
    g_held.insert(impl->id);
  }
  return std::unique_ptr<FileLock>(new FileLock(path, std::move(impl)));
}

Result<pid_t> LockHolder(const std::string& path) {
  if (HeldHere(path)) return ::getpid();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return static_cast<pid_t>(0);
    return Status::FromErrno("open " + path, errno);
  }
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  int rc = ::fcntl(fd, F_GETLK, &fl);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno("F_GETLK " + path, err);
  if (fl.l_type == F_UNLCK) return static_cast<pid_t>(0);
  return static_cast<pid_t>(fl.l_pid);
}

}  // namespace laneway::common
