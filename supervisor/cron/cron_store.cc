#include "supervisor/cron/cron_store.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/read_file.h"
#include "supervisor/channels/http/json_value.h"

namespace laneway::supervisor::cron {

using common::Status;
using common::Value;

namespace {

constexpr size_t kMaxStoreBytes = 64 << 20;

std::string DirOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

Status ReplaceFileDurably(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("open " + tmp, errno);
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::FromErrno("write " + tmp, err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fdatasync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::FromErrno("fdatasync " + tmp, err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::FromErrno("rename " + tmp, err);
  }
  // The rename itself is durable only once the directory is.
  int dfd = ::open(DirOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    int rc = ::fsync(dfd);
    int err = errno;
    ::close(dfd);
    if (rc != 0) return Status::FromErrno("fsync " + DirOf(path), err);
  }
  return Status::Ok();
}

CronStore::CronStore(std::string dir) : dir_(std::move(dir)), path_(dir_ + "/jobs.json") {}

CronStore::~CronStore() = default;

Status CronStore::Start() {
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::FromErrno("mkdir " + dir_, errno);
  }
  auto w = common::JobThread<std::string, Status>::Start(
      [path = path_](std::string& text) { return ReplaceFileDurably(path, text); });
  if (!w.ok()) return w.status();
  writer_ = std::move(w).value();
  return Status::Ok();
}

common::Result<Value> CronStore::Load() const {
  if (::access(path_.c_str(), F_OK) != 0) {
    Value empty = Value::MakeMap();
    empty.Set("jobs", Value::MakeArray());
    return empty;
  }
  auto text = common::ReadWholeFile(path_, kMaxStoreBytes, "cron jobs");
  if (!text.ok()) return Status::IoError("cannot read " + path_ + ": " + text.status().message());
  auto json = http::ParseJson(*text);
  if (!json.ok()) {
    return Status::InvalidArgument(path_ + ": not valid JSON (" + json.status().message() +
                                   "); fix or move it aside");
  }
  Value doc = http::JsonToValue(*json);
  const Value* jobs = doc.Find("jobs");
  if (!doc.is_map() || jobs == nullptr || !jobs->is_array()) {
    return Status::InvalidArgument(path_ + ": expected {\"jobs\": [...]}; fix or move it aside");
  }
  return doc;
}

void CronStore::Submit(const Value& doc) { writer_->Submit(common::ToJson(doc, 1) + "\n"); }

bool CronStore::busy() const { return writer_ && !writer_->idle(); }

std::optional<Status> CronStore::Poll() {
  if (!busy()) return std::nullopt;
  pollfd p{writer_->done_fd(), POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return std::nullopt;
  return writer_->Take();
}

Status CronStore::WriteNow(const Value& doc) {
  if (busy()) {
    pollfd p{writer_->done_fd(), POLLIN, 0};
    (void)::poll(&p, 1, 5000);
    if (::poll(&p, 1, 0) > 0) (void)writer_->Take();
  }
  return ReplaceFileDurably(path_, common::ToJson(doc, 1) + "\n");
}

}  // namespace laneway::supervisor::cron
