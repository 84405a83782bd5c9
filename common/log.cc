#include "common/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace laneway::common {
namespace {

std::string g_process = "laneway";
LogLevel g_min_level = [] {
  const char* env = std::getenv("LANEWAY_LOG_LEVEL");
  if (env == nullptr) return LogLevel::kInfo;
  if (std::strcmp(env, "debug") == 0) return LogLevel::kDebug;
  if (std::strcmp(env, "warn") == 0) return LogLevel::kWarn;
  if (std::strcmp(env, "error") == 0) return LogLevel::kError;
  return LogLevel::kInfo;
}();

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

void SetLogProcess(std::string_view name) { g_process = std::string(name); }
void SetLogLevel(LogLevel min_level) { g_min_level = min_level; }

LogLine::LogLine(LogLevel level, std::string_view event) : enabled_(level >= g_min_level) {
  if (!enabled_) return;
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  int millis = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  // Sized for the widest the fields could be (int ranges), so the format cannot
  // truncate: the compiler proves it (-Wformat-truncation).
  char ts[96];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  line_.reserve(160);
  line_ += "ts=";
  line_ += ts;
  line_ += " level=";
  line_ += LevelName(level);
  line_ += " proc=" + g_process;
  Kv("event", event);
}

LogLine& LogLine::Kv(std::string_view key, std::string_view value) {
  if (!enabled_) return *this;
  line_.push_back(' ');
  line_.append(key);
  line_.push_back('=');
  if (!NeedsQuotes(value)) {
    line_.append(value);
    return *this;
  }
  line_.push_back('"');
  for (unsigned char c : value.substr(0, 512)) {
    if (c == '"' || c == '\\') {
      line_.push_back('\\');
      line_.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      line_ += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      line_.push_back('?');
    } else {
      line_.push_back(static_cast<char>(c));
    }
  }
  if (value.size() > 512) line_ += "...";
  line_.push_back('"');
  return *this;
}

LogLine& LogLine::Kv(std::string_view key, int64_t value) { return Kv(key, std::to_string(value)); }
LogLine& LogLine::Kv(std::string_view key, uint64_t value) {
  return Kv(key, std::to_string(value));
}

LogLine::~LogLine() {
  if (!enabled_) return;
  line_.push_back('\n');
  // One write: the line is atomic with respect to other processes writing to the
  // same stderr pipe (lines are far below PIPE_BUF in practice).
  ssize_t n = ::write(STDERR_FILENO, line_.data(), line_.size());
  (void)n;
}

}  // namespace laneway::common
