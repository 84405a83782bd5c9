#include "cli/session_names.h"

#include <gtest/gtest.h>

namespace laneway::cli {
namespace {

std::string Resolve(const std::string& input, const std::set<std::string>& known,
                    const std::string& agent = "", const std::string& default_agent = "main") {
  auto r = ResolveSessionName(input, agent, default_agent, known);
  return r.ok() ? *r : "error: " + r.status().message();
}

TEST(OperatorSessionNamesTest, FullKeysAreTakenAsTheyAre) {
  EXPECT_EQ(Resolve("agent:main:ops", {}), "agent:main:ops");
  EXPECT_EQ(Resolve("agent:other:x", {"agent:main:x"}), "agent:other:x");
  EXPECT_EQ(Resolve("agent:main:ops", {}, "other"), "agent:main:ops");
}

TEST(OperatorSessionNamesTest, BareNameIsASessionOfTheDefaultAgent) {
  EXPECT_EQ(Resolve("ops", {}), "agent:main:ops");
  EXPECT_EQ(Resolve("ops", {}, "", "helper"), "agent:helper:ops");
  EXPECT_EQ(Resolve("ops", {"agent:main:ops", "agent:helper:ops"}), "agent:main:ops");
}

TEST(OperatorSessionNamesTest, AgentColonNameIsThatAgentsSession) {
  EXPECT_EQ(Resolve("main:ops", {}), "agent:main:ops");
  EXPECT_EQ(Resolve("helper:ops", {"agent:helper:ops"}), "agent:helper:ops");
  // A bare name that happens to hold a colon, known as such, is still found.
  EXPECT_EQ(Resolve("main:ops", {"agent:main:main:ops"}), "agent:main:main:ops");
  EXPECT_EQ(Resolve("main:ops", {"agent:main:ops", "agent:main:main:ops"}), "agent:main:ops");
}

TEST(OperatorSessionNamesTest, ANameOnlyAnotherAgentHasIsThatAgentsSession) {
  EXPECT_EQ(Resolve("solo", {"agent:helper:solo", "agent:main:other"}), "agent:helper:solo");
  // A longer name that merely ends the same way is no match.
  EXPECT_EQ(Resolve("solo", {"agent:helper:xsolo", "agent:helper:solo:x"}), "agent:main:solo");
}

TEST(OperatorSessionNamesTest, ANameSeveralOtherAgentsHaveIsAmbiguousAndListsThem) {
  const std::string e = Resolve("dup", {"agent:a:dup", "agent:b:dup"});
  EXPECT_NE(e.find("ambiguous"), std::string::npos) << e;
  EXPECT_NE(e.find("agent:a:dup, agent:b:dup"), std::string::npos) << e;
  std::set<std::string> many;
  for (int i = 0; i < 40; ++i) many.insert("agent:a" + std::to_string(i) + ":dup");
  const std::string m = Resolve("dup", many);
  EXPECT_NE(m.find("(40 in all)"), std::string::npos) << m;
  EXPECT_LT(m.size(), 300u) << "names a few, not all";
}

TEST(OperatorSessionNamesTest, AnExplicitAgentOwnsEveryShortForm) {
  EXPECT_EQ(Resolve("ops", {"agent:main:ops"}, "helper"), "agent:helper:ops");
  EXPECT_EQ(Resolve("x:y", {}, "helper"), "agent:helper:x:y");
}

TEST(OperatorSessionNamesTest, EmptyAndBlankNamesAreRefused) {
  EXPECT_FALSE(CheckSessionName("").ok());
  EXPECT_FALSE(CheckSessionName(" ").ok());
  EXPECT_FALSE(CheckSessionName(" \t \n").ok());
  EXPECT_TRUE(CheckSessionName(" a ").ok());
  EXPECT_NE(Resolve("   ", {}).find("only white space"), std::string::npos);
}

}  // namespace
}  // namespace laneway::cli
