#include "common/transcript.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace laneway::common {

Result<std::unique_ptr<Transcript>> Transcript::Open(const std::string& path, OpenInfo* info) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("open transcript " + path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno("stat transcript " + path, err);
  }
  // Scan backwards for the last newline; anything after it is a torn line.
  off_t size = st.st_size;
  off_t keep = size;
  if (size > 0) {
    std::vector<char> buf(64 * 1024);
    off_t end = size;
    bool found = false;
    char last = 0;
    if (::pread(fd, &last, 1, size - 1) == 1 && last == '\n') {
      found = true;  // the common case: ends with a complete line
    }
    while (!found && end > 0) {
      off_t start = end > static_cast<off_t>(buf.size()) ? end - static_cast<off_t>(buf.size()) : 0;
      ssize_t n = ::pread(fd, buf.data(), static_cast<size_t>(end - start), start);
      if (n <= 0) break;
      for (ssize_t i = n - 1; i >= 0; --i) {
        if (buf[static_cast<size_t>(i)] == '\n') {
          keep = start + i + 1;
          found = true;
          break;
        }
      }
      end = start;
    }
    if (!found) keep = 0;  // no complete line at all
  }
  if (keep != size) {
    if (::ftruncate(fd, keep) != 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno("repair transcript " + path, err);
    }
  }
  if (info != nullptr) info->repaired_bytes = static_cast<uint64_t>(size - keep);
  return std::unique_ptr<Transcript>(new Transcript(path, fd));
}

Transcript::~Transcript() { ::close(fd_); }

Status Transcript::Append(const Value& entry) {
  std::string line = ToJson(entry);
  line.push_back('\n');
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("append transcript " + path_, errno);
    }
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace laneway::common
