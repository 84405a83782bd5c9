// Logging: one line per event on stderr, `key=value` fields, written with a single
// write(2) so lines from the supervisor and its workers never interleave mid-line.
//
//   LogLine(LogLevel::kInfo, "worker_killed").Kv("session", key).Kv("reason", "run_timeout");
//   -> ts=2026-11-23T05:40:01.123Z level=info proc=supervisor event=worker_killed session=...
//   reason=...
#ifndef LANEWAY_COMMON_LOG_H_
#define LANEWAY_COMMON_LOG_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace laneway::common {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Process-wide settings, set once at start-up (before any thread starts).
void SetLogProcess(std::string_view name);
void SetLogLevel(LogLevel min_level);  // LANEWAY_LOG_LEVEL=debug|info|warn|error also works

class LogLine {
 public:
  LogLine(LogLevel level, std::string_view event);
  ~LogLine();  // emits the line
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  LogLine& Kv(std::string_view key, std::string_view value);
  LogLine& Kv(std::string_view key, const std::string& value) {
    return Kv(key, std::string_view(value));
  }
  LogLine& Kv(std::string_view key, const char* value) { return Kv(key, std::string_view(value)); }
  LogLine& Kv(std::string_view key, int64_t value);
  LogLine& Kv(std::string_view key, uint64_t value);
  LogLine& Kv(std::string_view key, int value) { return Kv(key, static_cast<int64_t>(value)); }
  LogLine& Kv(std::string_view key, unsigned value) {
    return Kv(key, static_cast<uint64_t>(value));
  }
  LogLine& Kv(std::string_view key, long long value) {
    return Kv(key, static_cast<int64_t>(value));
  }
  LogLine& Kv(std::string_view key, unsigned long long value) {
    return Kv(key, static_cast<uint64_t>(value));
  }

 private:
  bool enabled_;
  std::string line_;
};

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_LOG_H_
