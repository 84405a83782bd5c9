#include "supervisor/leftovers.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace laneway::supervisor {

namespace {

// A process's environment, at most `max` bytes; empty if it cannot be read.
std::string ReadEnviron(pid_t pid, size_t max) {
  const std::string path = "/proc/" + std::to_string(pid) + "/environ";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out;
  char buf[16384];
  while (out.size() < max) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

std::string CommandOf(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/comm";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[64];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  std::string s(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

bool EnvironmentNamesHome(const std::string& environ_block, const std::string& home) {
  const std::string entry = std::string(kSupervisedByEnv) + "=" + home;
  size_t pos = 0;
  while (pos < environ_block.size()) {
    size_t end = environ_block.find('\0', pos);
    if (end == std::string::npos) end = environ_block.size();
    if (environ_block.compare(pos, end - pos, entry) == 0) return true;
    pos = end + 1;
  }
  return false;
}

int KillLeftovers(const std::string& home) {
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return 0;
  const pid_t self = ::getpid();
  int killed = 0;
  while (dirent* e = ::readdir(d)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    const pid_t pid = static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10));
    if (pid <= 1 || pid == self) continue;
    if (!EnvironmentNamesHome(ReadEnviron(pid, 1 << 20), home)) continue;
    const std::string comm = CommandOf(pid);
    if (::kill(pid, SIGKILL) != 0) continue;
    ++killed;
    common::LogLine(common::LogLevel::kWarn, "leftover_killed")
        .Kv("pid", static_cast<int64_t>(pid))
        .Kv("command", comm)
        .Kv("reason", "outlived_an_earlier_supervisor");
  }
  ::closedir(d);
  return killed;
}

}  // namespace laneway::supervisor
