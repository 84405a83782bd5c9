#include "cli/output.h"

#include <gtest/gtest.h>

namespace laneway::cli {
namespace {

using common::Value;

Value Error(const std::string& code, const std::string& text) {
  Value e = Value::MakeMap();
  e.Set("code", code);
  e.Set("error", text);
  return e;
}

TEST(OperatorOutputTest, TooLargeNamesTheSizeAndTheLimitFromTheFields) {
  Value e = Error("too_large", "whatever");
  e.Set("bytes", 5000);
  e.Set("max_message_bytes", 4096);
  EXPECT_EQ(DescribeSupervisorError(e, 1),
            "message too large (5000 bytes > max_message_bytes 4096)");
}

TEST(OperatorOutputTest, TooLargeReadsTheNumbersFromTheTextOfAnOlderSupervisor) {
  EXPECT_EQ(DescribeSupervisorError(
                Error("too_large", "message of 10042 bytes exceeds the limit of 4096"), 7),
            "message too large (10042 bytes > max_message_bytes 4096)");
  // Without numbers anywhere: the size this client sent, and no invented limit.
  EXPECT_EQ(DescribeSupervisorError(Error("too_large", "too big"), 777),
            "message too large (777 bytes)");
}

TEST(OperatorOutputTest, OtherErrorsAreTheirTextWithoutATrailingNewline) {
  EXPECT_EQ(DescribeSupervisorError(Error("unknown_session", "unknown session 'x'\n"), 0),
            "unknown session 'x'");
}

TEST(OperatorOutputTest, JsonIsWantedWhereverTheSwitchIs) {
  char a0[] = "laneway", a1[] = "kill", a2[] = "--json", a3[] = "x";
  char* with[] = {a0, a1, a3, a2};
  char* without[] = {a0, a1, a3};
  EXPECT_TRUE(WantsJson(4, with, 2));
  EXPECT_FALSE(WantsJson(3, without, 2));
}

}  // namespace
}  // namespace laneway::cli
