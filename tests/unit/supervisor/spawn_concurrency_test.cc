// spawn_concurrency = 0 (the default) means four launches in flight per CPU
// (worker_pool.h, EffectiveSpawnConcurrency); a configured value is used as given.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "common/config.h"
#include "supervisor/worker_pool.h"

namespace laneway::supervisor {
namespace {

TEST(SpawnConcurrencyTest, ZeroMeansFourPerCpuAndAValueIsUsedAsGiven) {
  common::SupervisorConfig sc;
  EXPECT_EQ(sc.spawn_concurrency, 0u) << "the default is automatic";
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_EQ(EffectiveSpawnConcurrency(sc), std::max(4u, 4 * cpus));
  sc.spawn_concurrency = 2;
  EXPECT_EQ(EffectiveSpawnConcurrency(sc), 2u);
}

TEST(SpawnConcurrencyTest, ZeroIsAcceptedInTheConfigAndNegativeIsNot) {
  auto ok = common::ParseConfig(
      "[supervisor]\nspawn_concurrency = 0\n\n[agents.main]\nrunner = \"echo\"\n", "t");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->supervisor.spawn_concurrency, 0u);
  auto bad = common::ParseConfig(
      "[supervisor]\nspawn_concurrency = -1\n\n[agents.main]\nrunner = \"echo\"\n", "t");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("spawn_concurrency"), std::string::npos);
}

}  // namespace
}  // namespace laneway::supervisor
