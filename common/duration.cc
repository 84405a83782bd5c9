#include "common/duration.h"

#include <cstdint>
#include <limits>

#include "common/quote.h"

namespace laneway::common {

namespace {

struct Unit {
  std::string_view suffix;
  int64_t millis;
};

// Largest first, so FormatDuration picks the shortest exact form.
constexpr Unit kUnits[] = {
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
};

Status BadDuration(std::string_view text) {
  return Status::InvalidArgument("bad duration " + Quote(text) +
                                 " (expected a number and a unit: ms, s, m, h; e.g. \"250ms\", "
                                 "\"10s\", \"5m\")");
}

Status TooLarge(std::string_view text) {
  return Status::InvalidArgument("bad duration " + Quote(text) +
                                 " (too large for 64-bit milliseconds)");
}

bool IsDigit(char ch) { return ch >= '0' && ch <= '9'; }

}  // namespace

Result<Millis> ParseDuration(std::string_view text) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

  size_t digits = 0;
  while (digits < text.size() && IsDigit(text[digits])) ++digits;
  // No digits covers "", "-5s", "+5s", " 5s", ".5s" and "s" alike.
  if (digits == 0) return BadDuration(text);

  int64_t value = 0;
  for (size_t i = 0; i < digits; ++i) {
    int64_t digit = text[i] - '0';
    if (value > (kMax - digit) / 10) return TooLarge(text);
    value = value * 10 + digit;
  }

  std::string_view suffix = text.substr(digits);
  // A bare number is ambiguous ("5" seconds? minutes?), except zero.
  if (suffix.empty()) {
    if (text == "0") return Millis(0);
    return BadDuration(text);
  }
  for (const Unit& unit : kUnits) {
    if (suffix != unit.suffix) continue;
    if (value > kMax / unit.millis) return TooLarge(text);
    return Millis(value * unit.millis);
  }
  // Fractions ("1.5s"), whitespace ("5 s", "5s "), compounds ("1m30s") and
  // unknown units ("5d", "5S") all end up here.
  return BadDuration(text);
}

std::string FormatDuration(Millis d) {
  int64_t count = d.count();
  if (count == 0) return "0s";
  // Work on the magnitude as unsigned so that the most negative value has one.
  std::string sign;
  uint64_t magnitude = static_cast<uint64_t>(count);
  if (count < 0) {
    sign = "-";
    magnitude = 0 - magnitude;
  }
  for (const Unit& unit : kUnits) {
    uint64_t per = static_cast<uint64_t>(unit.millis);
    if (magnitude % per == 0) {
      return sign + std::to_string(magnitude / per) + std::string(unit.suffix);
    }
  }
  return sign + std::to_string(magnitude) + "ms";  // unreachable: ms divides everything
}

}  // namespace laneway::common
