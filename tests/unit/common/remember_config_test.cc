// [supervisor] remember_turns / remember_for: defaults, and bad values named with
// the file, line and key.
#include <gtest/gtest.h>

#include <string>

#include "common/config.h"

namespace laneway::common {
namespace {

constexpr const char* kSource = "/tmp/x/laneway.toml";
constexpr const char* kEcho = "[agents.main]\nrunner = \"echo\"\n";

std::string ErrorOf(const std::string& supervisor_lines) {
  Result<Config> r = ParseConfig("[supervisor]\n" + supervisor_lines + "\n" + kEcho, kSource);
  EXPECT_FALSE(r.ok()) << "accepted: " << supervisor_lines;
  return r.ok() ? "" : r.status().message();
}

TEST(RememberConfigTest, DefaultsAreTenThousandTurnsAndTwentyFourHours) {
  Result<Config> r = ParseConfig(kEcho, kSource);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->supervisor.remember_turns, 10000u);
  EXPECT_EQ(r->supervisor.remember_for, std::chrono::hours(24));
}

TEST(RememberConfigTest, ReadsBothKeys) {
  Result<Config> r = ParseConfig(
      "[supervisor]\nremember_turns = 50\nremember_for = \"90m\"\n" + std::string(kEcho), kSource);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->supervisor.remember_turns, 50u);
  EXPECT_EQ(r->supervisor.remember_for, std::chrono::minutes(90));
}

TEST(RememberConfigTest, ZeroNegativeAndAbsurdValuesAreNamedInTheError) {
  EXPECT_EQ(ErrorOf("remember_turns = 0"),
            std::string(kSource) +
                ":2: supervisor.remember_turns: 0 is out of range (expected 1..10000000)");
  EXPECT_NE(ErrorOf("remember_turns = -5").find(":2: supervisor.remember_turns: "),
            std::string::npos);
  EXPECT_NE(ErrorOf("remember_turns = 10000001").find(":2: supervisor.remember_turns: "),
            std::string::npos);
  const std::string zero = ErrorOf("remember_for = \"0s\"");
  EXPECT_NE(zero.find(":2: supervisor.remember_for: must be greater than 0"), std::string::npos)
      << zero;
  const std::string long_one = ErrorOf("remember_for = \"9000h\"");
  EXPECT_NE(long_one.find(":2: supervisor.remember_for: \"9000h\" is too long"), std::string::npos)
      << long_one;
  EXPECT_NE(ErrorOf("remember_for = 24").find("supervisor.remember_for: expected a duration"),
            std::string::npos);
}

}  // namespace
}  // namespace laneway::common
