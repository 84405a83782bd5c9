#include "common/read_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace laneway::common {

Result<std::string> ReadWholeFile(const std::string& path, size_t max_bytes, std::string_view what,
                                  bool* missing) {
  const std::string name = what.empty() ? path : std::string(what) + " " + path;
  auto fail = [&](int err) { return Status::FromErrno("cannot read " + name, err); };
  if (missing != nullptr) *missing = false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && missing != nullptr) {
    *missing = true;
    return std::string();
  }
  if (fd < 0) return fail(errno);
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return fail(err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > max_bytes) {
      ::close(fd);
      return Status::InvalidArgument(name + " is larger than " + std::to_string(max_bytes) +
                                     " bytes");
    }
  }
  ::close(fd);
  return text;
}

}  // namespace laneway::common
