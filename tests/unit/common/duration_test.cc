#include "common/duration.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

namespace laneway::common {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

Millis ParseOk(std::string_view text) {
  Result<Millis> r = ParseDuration(text);
  EXPECT_TRUE(r.ok()) << "\"" << text << "\": " << r.status().message();
  return r.ok() ? *r : Millis(-1);
}

void ExpectRejected(std::string_view text) {
  Result<Millis> r = ParseDuration(text);
  EXPECT_FALSE(r.ok()) << "\"" << text << "\" was accepted as " << (r.ok() ? r->count() : 0)
                       << "ms";
  if (!r.ok()) {
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  }
}

TEST(DurationTest, ParsesEveryUnit) {
  EXPECT_EQ(ParseOk("250ms"), milliseconds(250));
  EXPECT_EQ(ParseOk("10s"), seconds(10));
  EXPECT_EQ(ParseOk("5m"), minutes(5));
  EXPECT_EQ(ParseOk("2h"), hours(2));
}

TEST(DurationTest, ParsesZeroBareAndWithUnits) {
  EXPECT_EQ(ParseOk("0"), Millis(0));
  EXPECT_EQ(ParseOk("0s"), Millis(0));
  EXPECT_EQ(ParseOk("0ms"), Millis(0));
  EXPECT_EQ(ParseOk("0h"), Millis(0));
}

TEST(DurationTest, AcceptsLeadingZeros) { EXPECT_EQ(ParseOk("007s"), seconds(7)); }

TEST(DurationTest, ParsesLargestValueThatFits) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(ParseOk(std::to_string(kMax) + "ms"), Millis(kMax));
  EXPECT_EQ(ParseOk(std::to_string(kMax / 3'600'000) + "h"), hours(kMax / 3'600'000));
}

TEST(DurationTest, RejectsOverflowOfDigits) {
  ExpectRejected("9223372036854775808ms");  // INT64_MAX + 1
  ExpectRejected("99999999999999999999999999s");
}

TEST(DurationTest, RejectsOverflowAfterUnitScaling) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  ExpectRejected(std::to_string(kMax / 3'600'000 + 1) + "h");
  ExpectRejected(std::to_string(kMax / 1'000 + 1) + "s");
  Result<Millis> r = ParseDuration("9223372036854775807h");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("too large"), std::string::npos) << r.status().message();
}

TEST(DurationTest, RejectsEmpty) { ExpectRejected(""); }

TEST(DurationTest, RejectsSigns) {
  ExpectRejected("-5s");
  ExpectRejected("+5s");
  ExpectRejected("-0");
}

TEST(DurationTest, RejectsFractions) {
  ExpectRejected("1.5s");
  ExpectRejected(".5s");
  ExpectRejected("1,5s");
}

TEST(DurationTest, RejectsWhitespaceAnywhere) {
  ExpectRejected(" 5s");
  ExpectRejected("5s ");
  ExpectRejected("5 s");
  ExpectRejected("5s\n");
  ExpectRejected("\t5s");
}

TEST(DurationTest, RejectsUnknownUnits) {
  ExpectRejected("5d");
  ExpectRejected("5S");
  ExpectRejected("5sec");
  ExpectRejected("5us");
  ExpectRejected("1m30s");
}

TEST(DurationTest, RejectsMissingUnitOnNonZero) {
  ExpectRejected("5");
  ExpectRejected("00");
}

TEST(DurationTest, RejectsMissingNumber) {
  ExpectRejected("s");
  ExpectRejected("ms");
  ExpectRejected("ten");
}

TEST(DurationTest, ErrorQuotesTheTextAndShowsExamples) {
  Result<Millis> r = ParseDuration("ten");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "bad duration \"ten\" (expected a number and a unit: ms, s, m, h; e.g. \"250ms\", "
            "\"10s\", \"5m\")");
}

TEST(DurationTest, ErrorEscapesControlBytes) {
  Result<Millis> r = ParseDuration(std::string("5\n\"s", 4));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("\"5\\x0a\\\"s\""), std::string::npos)
      << r.status().message();
}

TEST(DurationTest, FormatsShortestExactForm) {
  EXPECT_EQ(FormatDuration(Millis(0)), "0s");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(seconds(10)), "10s");
  EXPECT_EQ(FormatDuration(seconds(90)), "90s");
  EXPECT_EQ(FormatDuration(minutes(5)), "5m");
  EXPECT_EQ(FormatDuration(minutes(90)), "90m");
  EXPECT_EQ(FormatDuration(hours(1)), "1h");
  EXPECT_EQ(FormatDuration(hours(48)), "48h");
}

TEST(DurationTest, FormatsNegativeWithSign) {
  EXPECT_EQ(FormatDuration(seconds(-5)), "-5s");
  EXPECT_EQ(FormatDuration(Millis(std::numeric_limits<int64_t>::min())), "-9223372036854775808ms");
}

TEST(DurationTest, FormatThenParseRoundTrips) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{999}, int64_t{1000}, int64_t{1001},
                     int64_t{60'000}, int64_t{61'000}, int64_t{3'600'000}, int64_t{3'660'000},
                     int64_t{86'400'000}, kMax, kMax / 3'600'000 * 3'600'000}) {
    std::string text = FormatDuration(Millis(ms));
    EXPECT_EQ(ParseOk(text), Millis(ms)) << text;
  }
}

TEST(DurationTest, ParseThenFormatGivesCanonicalText) {
  EXPECT_EQ(FormatDuration(ParseOk("60s")), "1m");
  EXPECT_EQ(FormatDuration(ParseOk("3600000ms")), "1h");
  EXPECT_EQ(FormatDuration(ParseOk("0")), "0s");
}

}  // namespace
}  // namespace laneway::common
