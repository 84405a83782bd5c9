// [supervisor] keys of common/config_security.cc and the queued-bytes bounds.
#include <gtest/gtest.h>

#include "common/config.h"

namespace laneway::common {
namespace {

const char kAgent[] = "\n[agents.main]\nrunner = \"echo\"\n";

Result<Config> Parse(const std::string& supervisor_lines) {
  return ParseConfig("[supervisor]\n" + supervisor_lines + kAgent, "t.toml");
}

TEST(SecurityConfigTest, ReadsAllowUidsAndGroup) {
  auto c = Parse("control_allow_uids = [1001, 0, 4294967294]\ncontrol_allow_group = \"ops-team\"");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->supervisor.control_allow_uids, (std::vector<uint32_t>{1001, 0, 4294967294u}));
  EXPECT_EQ(c->supervisor.control_allow_group, "ops-team");
}

TEST(SecurityConfigTest, DefaultsAdmitNobodyExtra) {
  auto c = Parse("");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->supervisor.control_allow_uids.empty());
  EXPECT_TRUE(c->supervisor.control_allow_group.empty());
  EXPECT_EQ(c->supervisor.max_queued_bytes_per_session, 16u << 20);
  EXPECT_EQ(c->supervisor.max_queued_bytes_total, 1u << 30);
}

TEST(SecurityConfigTest, BadValuesNameFileLineAndKey) {
  struct Case {
    const char* line;
    const char* error;
  } cases[] = {
      {"control_allow_uids = 5", "t.toml:2: supervisor.control_allow_uids: expected an array"},
      {"control_allow_uids = [1, \"x\"]",
       "t.toml:2: supervisor.control_allow_uids: element 1: expected an integer uid"},
      {"control_allow_uids = [-1]", "element 0: -1 is out of range"},
      {"control_allow_uids = [4294967295]", "element 0: 4294967295 is out of range"},
      {"control_allow_group = 7", "supervisor.control_allow_group: expected a group name"},
      {"control_allow_group = \"\"", "supervisor.control_allow_group: bad group name"},
      {"control_allow_group = \"a b\"", "bad group name"},
      {"control_allow_group = \"-x\"", "bad group name"},
      {"max_queued_bytes_per_session = 10", "supervisor.max_queued_bytes_per_session: 10 is out"},
      {"max_queued_bytes_total = 5000000000", "supervisor.max_queued_bytes_total: 5000000000"},
  };
  for (const Case& c : cases) {
    auto r = Parse(c.line);
    ASSERT_FALSE(r.ok()) << c.line;
    EXPECT_NE(r.status().message().find(c.error), std::string::npos)
        << c.line << " -> " << r.status().message();
  }
}

}  // namespace
}  // namespace laneway::common
