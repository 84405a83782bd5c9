// Durations as written in laneway's config and CLI: "250ms", "10s", "5m", "1h".
#ifndef LANEWAY_COMMON_DURATION_H_
#define LANEWAY_COMMON_DURATION_H_

#include <chrono>
#include <string>
#include <string_view>

#include "common/status.h"

namespace laneway::common {

using Millis = std::chrono::milliseconds;

// Parses "<digits><unit>" with unit one of ms, s, m, h (also "0" alone).
// Rejects empty strings, signs, fractions, unknown units, whitespace, and
// values that overflow 64-bit milliseconds.
Result<Millis> ParseDuration(std::string_view text);

// Formats back to the shortest exact form ("1500ms", "10s", "5m", "1h").
std::string FormatDuration(Millis d);

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_DURATION_H_
