// errno becomes a Status here, at the OS boundary.
#include "common/token_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/read_file.h"

namespace laneway::common {

namespace {

constexpr size_t kMaxTokenFileBytes = 4096;

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

Result<std::string> RandomHex(size_t n) {
  std::string bytes(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::getrandom(bytes.data() + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::FromErrno("getrandom", errno);
    got += static_cast<size_t>(r);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

Result<std::string> LoadOrCreateToken(const std::string& path, bool create) {
  if (create && ::access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
    auto token = RandomHex(16);
    if (!token.ok()) return token.status();
    // Written whole under a private name, then linked into place: a concurrent
    // reader never sees a half-written file, and link(2) fails if another won.
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Status::FromErrno("cannot create token file " + tmp, errno);
    std::string line = *token + "\n";
    ssize_t n = ::write(fd, line.data(), line.size());
    int err = errno;
    if (n == static_cast<ssize_t>(line.size()) && ::fsync(fd) != 0) err = errno, n = -1;
    ::close(fd);
    if (n != static_cast<ssize_t>(line.size())) {
      ::unlink(tmp.c_str());
      return Status::FromErrno("cannot write token file " + tmp, err);
    }
    int rc = ::link(tmp.c_str(), path.c_str());
    err = errno;
    ::unlink(tmp.c_str());
    if (rc == 0) return *token;
    if (err != EEXIST) return Status::FromErrno("cannot create token file " + path, err);
  }
  auto text = ReadWholeFile(path, kMaxTokenFileBytes, "token file");
  if (!text.ok()) return text.status();
  std::string token = Trim(*text);
  if (token.empty()) return Status::InvalidArgument("token file " + path + " is empty");
  return token;
}

}  // namespace laneway::common
