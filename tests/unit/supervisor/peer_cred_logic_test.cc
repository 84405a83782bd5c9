// The pure half of supervisor/peer_auth.h: the ZAP address format and who is
// admitted to which door.
#include <gtest/gtest.h>

#include "common/config.h"
#include "supervisor/peer_auth.h"

namespace laneway::supervisor {
namespace {

TEST(PeerCredLogicTest, ParsesTheIpcAddressLibzmqSends) {
  // Debian's libzmq 4.3.4 (seen in PeerCredTest), and older releases.
  auto c = ParseZapAddress("localhost:65534:65534:24643");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(*c, (PeerCred{65534, 65534, 24643}));
  auto old = ParseZapAddress(":1000:100:4242");
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(*old, (PeerCred{1000, 100, 4242}));
}

TEST(PeerCredLogicTest, RejectsAnythingElse) {
  for (const char* bad :
       {"", "127.0.0.1", ":1000:100", ":1000:100:", "::100:4242", ":a:b:c", ":1000:100:0",
        ":1000:100:4242:7", ":99999999999:1:1", "1:2:3", ":1000:100:-5", ":1000:100:2147483648",
        "10.0.0.1:1000:100:42", "local:host:1:2:3", "localhost:1:2"}) {
    EXPECT_FALSE(ParseZapAddress(bad).has_value()) << bad;
  }
}

ControlAccess Access() {
  ControlAccess a;
  a.own_uid = 1000;
  a.uids = {2000};
  a.group_gid = 500;
  a.member_uids = {3000};
  return a;
}

TEST(PeerCredLogicTest, ControlAdmitsOwnRootListedUidGroupGidAndMembers) {
  const ControlAccess a = Access();
  EXPECT_TRUE(a.Allows({1000, 1, 10}));
  EXPECT_TRUE(a.Allows({0, 0, 10}));
  EXPECT_TRUE(a.Allows({2000, 1, 10}));
  EXPECT_TRUE(a.Allows({3000, 1, 10}));
  EXPECT_TRUE(a.Allows({4000, 500, 10}));
  EXPECT_FALSE(a.Allows({4000, 501, 10}));
  ControlAccess narrow;
  narrow.own_uid = 1000;
  EXPECT_FALSE(narrow.Allows({2000, 500, 10}));
}

TEST(PeerCredLogicTest, WorkerDoorNeedsOwnUidAndAKnownPidAndWaitsForAnUnknownOne) {
  const ControlAccess a = Access();
  auto known = [](pid_t p) { return p == 77; };
  EXPECT_EQ(DecidePeer(kWorkerZapDomain, PeerCred{1000, 1, 77}, a, known), PeerVerdict::kAllow);
  EXPECT_EQ(DecidePeer(kWorkerZapDomain, PeerCred{1000, 1, 78}, a, known), PeerVerdict::kWait);
  // Root or an allowed operator is still no worker.
  EXPECT_EQ(DecidePeer(kWorkerZapDomain, PeerCred{0, 0, 77}, a, known), PeerVerdict::kRefuse);
  EXPECT_EQ(DecidePeer(kWorkerZapDomain, PeerCred{2000, 1, 77}, a, known), PeerVerdict::kRefuse);
}

TEST(PeerCredLogicTest, NoCredentialsOrUnknownDomainIsRefused) {
  const ControlAccess a = Access();
  auto any = [](pid_t) { return true; };
  EXPECT_EQ(DecidePeer(kControlZapDomain, std::nullopt, a, any), PeerVerdict::kRefuse);
  EXPECT_EQ(DecidePeer("other", PeerCred{1000, 1, 7}, a, any), PeerVerdict::kRefuse);
  EXPECT_EQ(DecidePeer(kControlZapDomain, PeerCred{1000, 1, 7}, a, any), PeerVerdict::kAllow);
  EXPECT_EQ(DecidePeer(kControlZapDomain, PeerCred{4000, 1, 7}, a, any), PeerVerdict::kRefuse);
}

TEST(PeerCredLogicTest, ResolvesAGroupByNameAndRefusesAMissingOne) {
  common::SupervisorConfig cfg;
  cfg.control_allow_uids = {42};
  cfg.control_allow_group = "root";
  auto a = ResolveControlAccess(cfg, 1000);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->group_gid, 0u);
  EXPECT_EQ(a->uids, std::vector<uint32_t>{42});
  cfg.control_allow_group = "no-such-group-xyz";
  auto missing = ResolveControlAccess(cfg, 1000);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("supervisor.control_allow_group"), std::string::npos);
}

}  // namespace
}  // namespace laneway::supervisor
