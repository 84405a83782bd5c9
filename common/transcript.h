// Transcript: a session's append-only JSONL history, one JSON object per line,
// written only by the worker that holds the session lock.
//
// Open() repairs a torn last line (a write cut short by a crash) by truncating the
// file back to the end of its last complete line, so every line is whole JSON.
#ifndef LANEWAY_COMMON_TRANSCRIPT_H_
#define LANEWAY_COMMON_TRANSCRIPT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "common/value.h"

namespace laneway::common {

class Transcript {
 public:
  struct OpenInfo {
    uint64_t repaired_bytes = 0;  // bytes of a torn last line that were cut
  };
  static Result<std::unique_ptr<Transcript>> Open(const std::string& path, OpenInfo* info);
  ~Transcript();
  Transcript(const Transcript&) = delete;
  Transcript& operator=(const Transcript&) = delete;

  // Appends ToJson(entry) + "\n" with one write.
  Status Append(const Value& entry);
  const std::string& path() const { return path_; }

 private:
  Transcript(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_TRANSCRIPT_H_
