// Issue 9, "`laneway wait` forgets": with a small remember_turns, `laneway wait` and
// `laneway turn` on an old id say forgotten (exit 6, code forgotten) while an id never
// issued says unknown (exit 1, code unknown_turn), before and after a restart; the
// gateway port's turns.get says FORGOTTEN. Real supervisor, workers and CLI.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "tests/integration/gateway_support.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

bool Has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

constexpr int kTurns = 6;
constexpr int kRemember = 3;

std::string RememberConfig(const TempHome& home) {
  return ExecConfig(home, "remember_turns = " + std::to_string(kRemember)) + "\n[channels.http]\n";
}

void RunTurns(const TempHome& home, int from, int to) {
  for (int i = from; i <= to; ++i) {
    CliResult r =
        RunCli(home, {"agent", "--agent", "main", "--message", "m" + std::to_string(i), "--json"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    ASSERT_TRUE(Has(r.out, "\"turn_id\":" + std::to_string(i) + ",")) << r.out;
  }
}

// What `wait` and `turn` say about the ids, with the window holding turns
// kTurns-kRemember+1 .. kTurns (last = the newest id issued).
void ExpectWindow(const TempHome& home, int last) {
  const int oldest_kept = last - kRemember + 1;
  for (int id : {1, oldest_kept - 1}) {
    const std::string t = std::to_string(id);
    CliResult w = RunCli(home, {"wait", t});
    EXPECT_EQ(w.code, 6) << w.out << w.err;
    EXPECT_TRUE(Has(w.err, "turn " + t +
                               " is forgotten: older than the retained window "
                               "(remember_turns=3, remember_for=24h"))
        << w.err;
    CliResult j = RunCli(home, {"wait", t, "--json"});
    EXPECT_EQ(j.code, 6);
    EXPECT_TRUE(Has(j.out, "\"code\":\"forgotten\"")) << j.out;
    CliResult turn = RunCli(home, {"turn", t, "--json"});
    EXPECT_EQ(turn.code, 6) << turn.out << turn.err;
    EXPECT_TRUE(Has(turn.out, "\"code\":\"forgotten\"")) << turn.out;
  }
  CliResult kept = RunCli(home, {"wait", std::to_string(oldest_kept)});
  EXPECT_EQ(kept.code, 0) << kept.err;
  EXPECT_EQ(kept.out, "reply:m" + std::to_string(oldest_kept) + "\n");
  CliResult turn = RunCli(home, {"turn", std::to_string(last)});
  EXPECT_EQ(turn.code, 0) << turn.err;
  EXPECT_TRUE(Has(turn.out, "replied")) << turn.out;
  const std::string never = std::to_string(last + 1);
  CliResult unknown = RunCli(home, {"wait", never, "--json"});
  EXPECT_EQ(unknown.code, 1) << unknown.out;
  EXPECT_TRUE(Has(unknown.out, "\"code\":\"unknown_turn\"")) << unknown.out;
  EXPECT_FALSE(Has(unknown.out, "forgotten")) << unknown.out;
  CliResult unknown_turn = RunCli(home, {"turn", "999999"});
  EXPECT_EQ(unknown_turn.code, 1);
  EXPECT_TRUE(Has(unknown_turn.err, "unknown turn 999999")) << unknown_turn.err;
}

TEST(RememberTest, WaitOnAnOldIdSaysForgottenAndANeverIssuedIdSaysUnknownAcrossARestart) {
  TempHome home;
  {
    GatewayServer gw(home);
    ASSERT_TRUE(gw.Start(RememberConfig(home))) << gw.Log();
    RunTurns(home, 1, kTurns);
    ExpectWindow(home, kTurns);
    EXPECT_EQ(Counter(Status(home), "turns_forgotten"), kTurns - kRemember);
    // The gateway port: a clear protocol-3 error, not "unknown".
    nlohmann::json got = WsCall(gw, "turns.get", R"({"turnId":1})");
    ASSERT_FALSE(got.is_null());
    EXPECT_FALSE(got["res"]["ok"].get<bool>()) << got.dump();
    EXPECT_EQ(got["res"]["error"]["code"], "FORGOTTEN") << got.dump();
    EXPECT_TRUE(Has(got["res"]["error"]["message"].get<std::string>(), "turn 1 is forgotten"))
        << got.dump();
    nlohmann::json never = WsCall(gw, "turns.get", R"({"turnId":424242})");
    EXPECT_EQ(never["res"]["error"]["code"], "INVALID_REQUEST") << never.dump();
    gw.supervisor().Signal(SIGTERM);
    gw.supervisor().WaitExit();
  }
  // A new supervisor on the same journal (without the gateway port): the same window.
  SupervisorProcess next(home);
  ASSERT_TRUE(next.Start(ExecConfig(home, "remember_turns = " + std::to_string(kRemember))))
      << next.Log();
  ExpectWindow(home, kTurns);
  RunTurns(home, kTurns + 1, kTurns + 1);  // ids go on: 7
  ExpectWindow(home, kTurns + 1);
  ExpectEveryTurnSettled(home);
}

}  // namespace
}  // namespace laneway::testing
