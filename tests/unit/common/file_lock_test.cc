#include "common/file_lock.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <functional>
#include <string>

#include "tests/unit/temp_dir.h"

namespace laneway::common {
namespace {

using ::laneway::testing_util::TempDir;

// A forked child that runs `body` (which returns one status byte), reports that byte
// through a pipe, then blocks until the parent tells it to exit. The destructor
// makes sure the child is gone even when an assertion fails half way.
class Child {
 public:
  explicit Child(const std::function<char()>& body) {
    int ready[2];
    int go[2];
    if (pipe(ready) != 0 || pipe(go) != 0) {
      ADD_FAILURE() << "pipe failed";
      return;
    }
    pid_ = fork();
    if (pid_ < 0) {
      ADD_FAILURE() << "fork failed";
      return;
    }
    if (pid_ == 0) {
      close(ready[0]);
      close(go[1]);
      char status = body();
      if (write(ready[1], &status, 1) != 1) _exit(3);
      char c;
      while (read(go[0], &c, 1) < 0) {
      }  // returns on a byte or when the parent closes its end
      _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    ready_fd_ = ready[0];
    go_fd_ = go[1];
  }

  ~Child() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      Wait();
    }
    if (ready_fd_ >= 0) close(ready_fd_);
    if (go_fd_ >= 0) close(go_fd_);
  }

  // The byte the child's body returned, or -1 if it died first.
  int AwaitReady() {
    char c;
    ssize_t n;
    do {
      n = read(ready_fd_, &c, 1);
    } while (n < 0 && errno == EINTR);
    return n == 1 ? c : -1;
  }

  // Tells the child to exit and reaps it; returns its wait status.
  int ExitAndWait() {
    char c = 'x';
    EXPECT_EQ(write(go_fd_, &c, 1), 1);
    return Wait();
  }

  // Kills the child with SIGKILL and reaps it.
  int KillAndWait() {
    kill(pid_, SIGKILL);
    return Wait();
  }

  pid_t pid() const { return pid_; }

 private:
  int Wait() {
    int status = 0;
    pid_t r;
    do {
      r = waitpid(pid_, &status, 0);
    } while (r < 0 && errno == EINTR);
    reaped_ = true;
    return status;
  }

  pid_t pid_ = -1;
  int ready_fd_ = -1;
  int go_fd_ = -1;
  bool reaped_ = false;
};

// A child body that takes the lock and keeps it (the FileLock is leaked on purpose:
// the child _exits, and the kernel drops the lock with the process).
std::function<char()> HoldLock(const std::string& path) {
  return [path]() -> char {
    Result<std::unique_ptr<FileLock>> l = FileLock::TryAcquire(path);
    if (!l.ok()) return 'F';
    (void)std::move(l).value().release();
    return 'L';
  };
}

// A child body that only reports whether it could take the lock.
std::function<char()> ProbeLock(const std::string& path) {
  return [path]() -> char {
    Result<std::unique_ptr<FileLock>> l = FileLock::TryAcquire(path);
    if (l.ok()) return 'L';
    return l.status().code() == Status::Code::kUnavailable ? 'U' : 'E';
  };
}

TEST(FileLockTest, TryAcquireCreatesTheFileAndSucceeds) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.lock";
  ASSERT_FALSE(std::filesystem::exists(path));
  Result<std::unique_ptr<FileLock>> l = FileLock::TryAcquire(path);
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_EQ((*l)->path(), path);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(FileLockTest, TryAcquireFailsInAMissingDirectory) {
  TempDir tmp;
  Result<std::unique_ptr<FileLock>> l = FileLock::TryAcquire(tmp.path() + "/no/s.lock");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), Status::Code::kIoError);
}

TEST(FileLockTest, LockHolderIsZeroForMissingFile) {
  TempDir tmp;
  Result<pid_t> h = LockHolder(tmp.path() + "/missing.lock");
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(*h, 0);
}

TEST(FileLockTest, LockHolderIsZeroForUnlockedFile) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.lock";
  { ASSERT_TRUE(FileLock::TryAcquire(path).ok()); }  // created, then released
  ASSERT_TRUE(std::filesystem::exists(path));
  Result<pid_t> h = LockHolder(path);
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(*h, 0);
}

TEST(FileLockTest, LockHeldByAnotherProcessIsUnavailableAndNamesItsPid) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.lock";
  Child child(HoldLock(path));
  ASSERT_EQ(child.AwaitReady(), 'L');

  Result<std::unique_ptr<FileLock>> l = FileLock::TryAcquire(path);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(l.status().message().find(path), std::string::npos) << l.status().message();

  Result<pid_t> h = LockHolder(path);
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(*h, child.pid());

  int status = child.ExitAndWait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(FileLockTest, LockIsFreeOnceTheHoldingProcessExits) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.lock";
  Child child(HoldLock(path));
  ASSERT_EQ(child.AwaitReady(), 'L');
  ASSERT_FALSE(FileLock::TryAcquire(path).ok());
  child.ExitAndWait();

  Result<pid_t> h = LockHolder(path);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*h, 0);
  Result<std::unique_ptr<FileLock>> l = FileLock::TryAcquire(path);
  EXPECT_TRUE(l.ok()) << l.status().message();
}

TEST(FileLockTest, LockIsFreeOnceTheHoldingProcessIsKilled) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.lock";
  Child child(HoldLock(path));
  ASSERT_EQ(child.AwaitReady(), 'L');
  int status = child.KillAndWait();
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(*LockHolder(path), 0);
  EXPECT_TRUE(FileLock::TryAcquire(path).ok());
}

TEST(FileLockTest, LockHeldHereIsUnavailableToAnotherProcess) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.lock";
  Result<std::unique_ptr<FileLock>> mine = FileLock::TryAcquire(path);
  ASSERT_TRUE(mine.ok());
  Child child(ProbeLock(path));
  EXPECT_EQ(child.AwaitReady(), 'U');
  child.ExitAndWait();
}

TEST(FileLockTest, ReleasedLockIsAvailableToAnotherProcess) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.lock";
  { ASSERT_TRUE(FileLock::TryAcquire(path).ok()); }
  Child child(ProbeLock(path));
  EXPECT_EQ(child.AwaitReady(), 'L');
  child.ExitAndWait();
}

TEST(FileLockTest, LockHolderCalledByTheHolderKeepsTheLock) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.lock";
  Result<std::unique_ptr<FileLock>> mine = FileLock::TryAcquire(path);
  ASSERT_TRUE(mine.ok());
  Result<pid_t> h = LockHolder(path);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*h, ::getpid());  // documented: the caller, when it holds the lock
  // A second acquisition in the holding process is refused, not granted and then
  // released with the first one.
  EXPECT_EQ(FileLock::TryAcquire(path).status().code(), Status::Code::kUnavailable);
  Child child(ProbeLock(path));
  EXPECT_EQ(child.AwaitReady(), 'U') << "the lock was released by LockHolder";
  child.ExitAndWait();
}

}  // namespace
}  // namespace laneway::common
