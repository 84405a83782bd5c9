// Which environment marks a process as a leftover of this home (leftovers.h); the
// sweep itself is tested against real processes in tests/integration/leftovers_test.cc.
#include "supervisor/leftovers.h"

#include <gtest/gtest.h>

#include <string>

namespace laneway::supervisor {
namespace {

TEST(LeftoversTest, OnlyTheExactEntryForThisHomeMarksALeftover) {
  const std::string env("PATH=/bin\0LANEWAY_SUPERVISED_BY=/srv/a\0HOME=/root", 49);
  EXPECT_TRUE(EnvironmentNamesHome(env, "/srv/a"));
  EXPECT_FALSE(EnvironmentNamesHome(env, "/srv"));
  EXPECT_FALSE(EnvironmentNamesHome(env, "/srv/a/b"));
  EXPECT_TRUE(EnvironmentNamesHome(std::string("LANEWAY_SUPERVISED_BY=/srv/a", 28), "/srv/a"));
  // Only a whole entry counts, not a value that happens to contain it.
  EXPECT_FALSE(EnvironmentNamesHome(std::string("X=LANEWAY_SUPERVISED_BY=/srv/a", 30), "/srv/a"));
  EXPECT_FALSE(EnvironmentNamesHome("", "/srv/a"));
}

}  // namespace
}  // namespace laneway::supervisor
