// QueuedBytes (supervisor/queued_bytes.h): bytes held per session and in total,
// and the sentence a submit past either bound gets.
#include <gtest/gtest.h>

#include "common/config.h"
#include "supervisor/queued_bytes.h"

namespace laneway::supervisor {
namespace {

common::SupervisorConfig Limits(uint32_t per_session, uint32_t total) {
  common::SupervisorConfig c;
  c.max_queued_bytes_per_session = per_session;
  c.max_queued_bytes_total = total;
  return c;
}

TEST(BoundsLogicTest, CountsPerSessionAndInTotalAndForgetsEmptySessions) {
  QueuedBytes q;
  q.Add("a", 100);
  q.Add("a", 50);
  q.Add("b", 10);
  EXPECT_EQ(q.of("a"), 150u);
  EXPECT_EQ(q.total(), 160u);
  q.Remove("a", 150);
  EXPECT_EQ(q.of("a"), 0u);
  EXPECT_EQ(q.total(), 10u);
  q.Remove("ghost", 99);  // never added: nothing changes
  q.Remove("b", 1000);    // never below zero
  EXPECT_EQ(q.total(), 0u);
}

TEST(BoundsLogicTest, RefusesPastThePerSessionBoundNamingIt) {
  QueuedBytes q;
  const auto cfg = Limits(1000, 1'000'000);
  q.Add("agent:main:a", 900);
  EXPECT_FALSE(q.Refusal("agent:main:a", 100, cfg).has_value()) << "exactly at the bound fits";
  auto r = q.Refusal("agent:main:a", 101, cfg);
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->find("session agent:main:a holds 900 bytes"), std::string::npos) << *r;
  EXPECT_NE(r->find("max_queued_bytes_per_session = 1000"), std::string::npos) << *r;
  EXPECT_FALSE(q.Refusal("agent:main:b", 1000, cfg).has_value()) << "another session is apart";
}

TEST(BoundsLogicTest, RefusesPastTheTotalBoundNamingIt) {
  QueuedBytes q;
  const auto cfg = Limits(1000, 2500);
  q.Add("a", 1000);
  q.Add("b", 1000);
  EXPECT_FALSE(q.Refusal("c", 500, cfg).has_value());
  auto r = q.Refusal("c", 501, cfg);
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->find("max_queued_bytes_total = 2500"), std::string::npos) << *r;
}

}  // namespace
}  // namespace laneway::supervisor
