// What an operator is told by the CLI (issue 13): permission problems named as
// such, --json on every command also on failure, short session names, `down` of
// a stopped system, oversized messages, and usage errors for empty input.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/integration/harness.h"
#include "tests/integration/operator_run.h"

namespace laneway::testing {
namespace {

using op::Contains;
using op::Laneway;

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

// The one JSON object a --json command printed (a null json if stdout is not one).
nlohmann::json JsonOut(const CliResult& r) {
  auto j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? nlohmann::json() : j;
}

std::vector<std::string> Agent(const std::string& message, const std::string& session = "") {
  std::vector<std::string> a = {"agent", "--agent", "main", "--message", message};
  if (!session.empty()) {
    a.push_back("--session");
    a.push_back(session);
  }
  return a;
}

// Runs the CLI as a user who may not enter `home` (nobody, when we are root; else
// this user after the home's mode is cleared).
class Outsider {
 public:
  explicit Outsider(const TempHome& home) : home_(home) {
    if (::geteuid() != 0) ::chmod(home.path().c_str(), 0);
  }
  ~Outsider() {
    if (::geteuid() != 0) ::chmod(home_.path().c_str(), 0700);
  }
  CliResult Run(const std::vector<std::string>& args, const std::string& home_path = "") const {
    const std::string h = home_path.empty() ? home_.path() : home_path;
    if (::geteuid() == 0) return Laneway(h, args, {}, kNobody, kNogroup);
    return Laneway(h, args);
  }

 private:
  const TempHome& home_;
};

TEST(OperatorPermissionTest, CommandsNameThePathAndPermissionInsteadOfNoSupervisor) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start()) << sup.Log();
  Outsider outsider(home);
  for (const std::vector<std::string>& args : {std::vector<std::string>{"status"},
                                               {"workers"},
                                               {"kill", "agent:main:main"},
                                               Agent("hi")}) {
    CliResult r = outsider.Run(args);
    EXPECT_EQ(r.code, 3) << args[0] << ": " << r.err;
    EXPECT_TRUE(Contains(r.err, "permission denied")) << r.err;
    EXPECT_TRUE(Contains(r.err, home.path() + " (directory, mode")) << r.err;
    EXPECT_TRUE(Contains(r.err, "search (x) permission")) << r.err;
    EXPECT_FALSE(Contains(r.err, "no laneway supervisor")) << r.err;
    EXPECT_FALSE(Contains(r.err, "laneway up")) << r.err;
  }
  CliResult json = outsider.Run({"status", "--json"});
  EXPECT_EQ(json.code, 3);
  EXPECT_EQ(JsonOut(json).value("code", ""), "permission_denied") << json.out;
  // `down` must not claim that nothing was running.
  CliResult down = outsider.Run({"down"});
  EXPECT_EQ(down.code, 3) << down.out << down.err;
  EXPECT_TRUE(Contains(down.err, "permission denied")) << down.err;
  EXPECT_FALSE(Contains(down.out, "nothing to stop")) << down.out;
}

TEST(OperatorPermissionTest, UpNamesTheDirectoryItMayNotCreateOrUse) {
  TempHome home;
  const std::string locked = home.path() + "/locked";
  ASSERT_EQ(::mkdir(locked.c_str(), 0555), 0);
  ::chmod(home.path().c_str(), 0755);  // the outsider may enter home, not write `locked`
  auto as_outsider = [&](const std::string& h) {
    if (::geteuid() == 0) return Laneway(h, {"up"}, {}, kNobody, kNogroup);
    return Laneway(h, {"up"});
  };
  CliResult create = as_outsider(locked + "/home");
  EXPECT_EQ(create.code, 5) << create.err;
  EXPECT_TRUE(Contains(create.err, "laneway up: permission denied: creating " + locked + "/home"))
      << create.err;
  EXPECT_TRUE(Contains(create.err, "write and search (wx) permission on " + locked)) << create.err;
  EXPECT_TRUE(Contains(create.err, "mode 0555")) << create.err;
  CliResult use = as_outsider(locked);
  EXPECT_EQ(use.code, 5) << use.err;
  EXPECT_TRUE(Contains(use.err, "permission denied: running a supervisor on " + locked)) << use.err;
  EXPECT_FALSE(Contains(use.err, "mkdir")) << use.err;
  EXPECT_FALSE(Contains(use.err, "laneway-supervisor")) << use.err;
  ::chmod(locked.c_str(), 0755);
}

TEST(OperatorJsonTest, EveryCommandPrintsJsonWithAStableCodeWhenNothingRuns) {
  TempHome home;
  const std::vector<std::vector<std::string>> commands = {
      {"status"},         {"workers"},
      {"sessions"},       {"kill", "ops"},
      {"restart", "ops"}, {"cancel", "ops"},
      {"reload"},         {"down", "--strict"},
      {"wait", "1"},      {"agent", "--agent", "main", "--message", "hi"}};
  for (std::vector<std::string> args : commands) {
    args.push_back("--json");
    CliResult r = RunCli(home, args);
    EXPECT_EQ(r.code, 3) << args[0];
    nlohmann::json j = JsonOut(r);
    ASSERT_TRUE(j.is_object()) << args[0] << ": stdout is not one JSON object: " << r.out;
    EXPECT_EQ(j.value("code", ""), "unreachable") << args[0] << ": " << r.out;
    EXPECT_TRUE(
        Contains(j.value("error", ""), "no laneway supervisor is running on " + home.path()))
        << r.out;
    EXPECT_EQ(r.err, "") << args[0] << ": with --json, nothing on stderr";
  }
  // Usage errors too.
  for (const std::vector<std::string>& args : {std::vector<std::string>{"kill", "--json"},
                                               {"status", "--json", "--bogus"},
                                               {"down", "--json", "--timeout", "soon"},
                                               {"wait", "x", "--json"}}) {
    CliResult r = RunCli(home, args);
    EXPECT_EQ(r.code, 2) << args[0];
    EXPECT_EQ(JsonOut(r).value("code", ""), "usage") << args[0] << ": " << r.out;
  }
}

TEST(OperatorJsonTest, SupervisorRefusalsCarryTheirCodeForEveryOperatorCommand) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home))) << sup.Log();
  ASSERT_EQ(RunCli(home, Agent("hello")).code, 0);
  struct Case {
    std::vector<std::string> args;
    const char* code;
  };
  const std::vector<Case> cases = {
      {{"kill", "agent:main:nope"}, "unknown_session"},
      {{"restart", "agent:main:nope"}, "unknown_session"},
      {{"cancel", "agent:main:main"}, "not_running"},
      {{"wait", "999"}, "unknown_turn"},
      {{"sessions", "agent:main:nope"}, "unknown_session"},
  };
  for (Case c : cases) {
    c.args.push_back("--json");
    CliResult r = RunCli(home, c.args);
    EXPECT_EQ(r.code, 1) << c.args[0] << ": " << r.out << r.err;
    nlohmann::json j = JsonOut(r);
    EXPECT_EQ(j.value("code", ""), c.code) << c.args[0] << ": " << r.out;
    EXPECT_FALSE(j.value("error", "").empty()) << r.out;
  }
  // A refused reload keeps the running config and says why, as JSON.
  home.Write("laneway.toml", "[supervisor]\nmax_wrkers = 1\n");
  CliResult reload = RunCli(home, {"reload", "--json"});
  EXPECT_EQ(reload.code, 1);
  EXPECT_EQ(JsonOut(reload).value("code", ""), "bad_config") << reload.out;
  EXPECT_TRUE(Contains(JsonOut(reload).value("error", ""), "max_wrkers")) << reload.out;
  // A failed turn's object has the code too.
  CliResult failed = RunCli(home, Agent("fail", "f") /* exits 3 */);
  EXPECT_EQ(failed.code, 1);
  std::vector<std::string> fj = Agent("fail", "f");
  fj.push_back("--json");
  CliResult failed_json = RunCli(home, fj);
  EXPECT_EQ(JsonOut(failed_json).value("status", ""), "failed") << failed_json.out;
  EXPECT_EQ(JsonOut(failed_json).value("code", ""), "failed") << failed_json.out;
  // And success of down is JSON as well.
  CliResult down = RunCli(home, {"down", "--json"});
  EXPECT_EQ(down.code, 0) << down.out << down.err;
  EXPECT_EQ(JsonOut(down).value("stopped", false), true) << down.out;
  EXPECT_EQ(JsonOut(down).value("was_running", false), true) << down.out;
  EXPECT_EQ(sup.WaitExit(), 0);
}

TEST(OperatorDownTest, DownOfAStoppedSystemExitsZeroAndSaysNothingWasRunning) {
  TempHome home;
  CliResult down = RunCli(home, {"down"});
  EXPECT_EQ(down.code, 0) << down.err;
  EXPECT_EQ(down.out,
            "laneway: no supervisor was running on " + home.path() + "; nothing to stop\n");
  CliResult json = RunCli(home, {"down", "--json"});
  EXPECT_EQ(json.code, 0);
  EXPECT_EQ(JsonOut(json).value("was_running", true), false) << json.out;
  CliResult strict = RunCli(home, {"down", "--strict"});
  EXPECT_EQ(strict.code, 3);
  EXPECT_TRUE(Contains(strict.err, "no laneway supervisor is running")) << strict.err;
  // Stopping twice: the second is a no-op, not an error.
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start()) << sup.Log();
  EXPECT_EQ(RunCli(home, {"down", "--timeout", "30s"}).code, 0);
  EXPECT_EQ(sup.WaitExit(), 0);
  EXPECT_EQ(RunCli(home, {"down"}).code, 0);
}

TEST(OperatorSessionNameTest, OperatorCommandsTakeShortNamesAndSayWhichKeyTheyResolved) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home) + "[agents.helper]\nrunner = \"echo\"\n")) << sup.Log();
  // agent:main:ops is busy; agent:helper:solo exists only for agent helper.
  auto ops = RunCliAsync(home, Agent("gate-1", "ops"));
  ASSERT_TRUE(WaitForWorker(home, "agent:main:ops", "busy"));
  ASSERT_EQ(
      RunCli(home, {"agent", "--agent", "helper", "--message", "x", "--session", "solo"}).code, 0);

  CliResult sessions = RunCli(home, {"sessions", "ops"});
  EXPECT_EQ(sessions.code, 0) << sessions.err;
  EXPECT_TRUE(Contains(sessions.out, "agent:main:ops")) << sessions.out;
  EXPECT_FALSE(Contains(sessions.out, "agent:helper:solo")) << sessions.out;
  EXPECT_TRUE(Contains(sessions.err, "session ops is agent:main:ops")) << sessions.err;

  CliResult cancel = RunCli(home, {"cancel", "ops"});
  EXPECT_EQ(cancel.code, 0) << cancel.err;
  EXPECT_TRUE(Contains(cancel.out, "session ops is agent:main:ops\n")) << cancel.out;
  EXPECT_TRUE(Contains(cancel.out, "cancelled turn")) << cancel.out;
  EXPECT_EQ(ops.get().code, 1);

  CliResult kill = RunCli(home, {"kill", "main:ops", "--json"});
  EXPECT_EQ(kill.code, 0) << kill.out;
  EXPECT_EQ(JsonOut(kill).value("session", ""), "agent:main:ops") << kill.out;
  EXPECT_EQ(JsonOut(kill).value("resolved_from", ""), "main:ops") << kill.out;

  // A name only another agent has is that agent's session.
  CliResult solo = RunCli(home, {"restart", "solo"});
  EXPECT_EQ(solo.code, 0) << solo.err;
  EXPECT_TRUE(Contains(solo.out, "session solo is agent:helper:solo")) << solo.out;
  CliResult pinned = RunCli(home, {"kill", "solo", "--agent", "main"});
  EXPECT_EQ(pinned.code, 1);
  EXPECT_TRUE(Contains(pinned.err, "unknown session 'agent:main:solo'")) << pinned.err;
  // An unknown short name resolves by the rule and is named in the error.
  CliResult unknown = RunCli(home, {"kill", "nope"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_TRUE(Contains(unknown.err, "unknown session 'agent:main:nope'")) << unknown.err;
  // A full key is taken as it is and not restated.
  CliResult full = RunCli(home, {"kill", "agent:main:ops"});
  EXPECT_EQ(full.code, 0);
  EXPECT_FALSE(Contains(full.out, " is agent:")) << full.out;
  // `agent --session main:ops` is the same session as the operator commands' main:ops.
  CliResult again = RunCli(home, Agent("again", "main:ops"));
  EXPECT_EQ(again.code, 0) << again.err;
  std::vector<std::string> json = Agent("again", "main:ops");
  json.push_back("--json");
  EXPECT_EQ(JsonOut(RunCli(home, json)).value("session", ""), "agent:main:ops");
}

TEST(OperatorUsageTest, EmptyMessagesBlankSessionsAndStrayArgumentsAreUsageErrors) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start()) << sup.Log();
  CliResult empty = RunCli(home, Agent(""));
  EXPECT_EQ(empty.code, 2);
  EXPECT_TRUE(Contains(empty.err, "--message is empty")) << empty.err;
  CliResult empty_stdin = RunCli(home, Agent("-"));
  EXPECT_EQ(empty_stdin.code, 2);
  EXPECT_TRUE(Contains(empty_stdin.err, "stdin is empty")) << empty_stdin.err;
  for (const std::string blank : {" ", "   ", "\t"}) {
    CliResult r = RunCli(home, Agent("hi", blank));
    EXPECT_EQ(r.code, 2) << "'" << blank << "'";
    EXPECT_TRUE(Contains(r.err, "only white space")) << r.err;
    EXPECT_EQ(RunCli(home, {"kill", blank}).code, 2);
    EXPECT_EQ(RunCli(home, {"sessions", blank}).code, 2);
  }
  EXPECT_EQ(Counter(Status(home), "turns_accepted"), 0);  // none of them reached it

  CliResult stray = RunCli(home, {"up", "foo"});
  EXPECT_EQ(stray.code, 2);
  EXPECT_TRUE(Contains(stray.err, "laneway up: unexpected argument 'foo'")) << stray.err;
  // Errors of `laneway up` say `laneway up`.
  CliResult second = RunCli(home, {"up"});
  EXPECT_EQ(second.code, 4) << second.err;
  EXPECT_TRUE(Contains(second.err, "laneway up: a supervisor (pid ")) << second.err;
  EXPECT_FALSE(Contains(second.err, "laneway-supervisor")) << second.err;
  TempHome other;
  CliResult bad = RunCli(other, {"up", "--config", other.path() + "/nope.toml"});
  EXPECT_EQ(bad.code, 3) << bad.err;
  EXPECT_TRUE(Contains(
      bad.err, "laneway up: refusing to start: cannot read config " + other.path() + "/nope.toml"))
      << bad.err;
  EXPECT_FALSE(Contains(bad.err, "laneway-supervisor")) << bad.err;
}

TEST(OperatorTooLargeTest, OversizedMessageIsRefusedAtOnceWithItsSizeAndTheLimit) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(
      sup.Start("[supervisor]\nmax_message_bytes = 4096\n[agents.main]\nrunner = \"echo\"\n"))
      << sup.Log();
  const std::string big(10000, 'x');
  CliResult r = RunCli(home, Agent("-"), big);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_TRUE(Contains(r.err, "message too large (")) << r.err;
  EXPECT_TRUE(Contains(r.err, " bytes > max_message_bytes 4096)")) << r.err;
  EXPECT_FALSE(Contains(r.err, "did not acknowledge")) << r.err;
  std::vector<std::string> json = Agent("-");
  json.push_back("--json");
  CliResult j = RunCli(home, json, big);
  EXPECT_EQ(j.code, 1);
  EXPECT_EQ(JsonOut(j).value("code", ""), "too_large") << j.out;
  EXPECT_EQ(JsonOut(j).value("status", ""), "rejected") << j.out;
  // Past the supervisor's hard frame bound (4 x max_message_bytes + 1 MiB, where
  // the connection is dropped unanswered) it is still "too large", exit 1, not a
  // supervisor that did not answer: with the limit when `status` tells it
  // (max_message_bytes), else with the size and what the supervisor did.
  CliResult huge = RunCli(home, Agent("-"), std::string(3 << 20, 'y'));
  EXPECT_EQ(huge.code, 1) << huge.err;
  EXPECT_TRUE(Contains(huge.err, "message too large (314")) << huge.err;
  EXPECT_FALSE(Contains(huge.err, "did not acknowledge")) << huge.err;
  EXPECT_TRUE(Contains(huge.err, "max_message_bytes")) << huge.err;
  // A message that fits still goes through.
  CliResult ok = RunCli(home, Agent("-"), std::string(3000, 'z'));
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out, std::string(3000, 'z') + "\n");
}

TEST(OperatorStreamTest, JsonStreamPrintsAProgressLinePerChunkThenTheOutcome) {
  TempHome home;
  home.Write("stream.sh",
             "#!/bin/sh\nmsg=$(cat)\nprintf 'first:%s\\n' \"$msg\"\n"
             "flock -s \"$LANEWAY_HOME/gate.lock\" true\nprintf 'second:%s\\n' \"$msg\"\n",
             0755);
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start("[agents.main]\nrunner = \"exec\"\ncommand = [\"" + home.path() +
                        "/stream.sh\"]\n"))
      << sup.Log();
  auto call =
      RunCliAsync(home, {"agent", "--agent", "main", "--message", "x", "--stream", "--json"});
  ASSERT_TRUE(WaitForWorker(home, "agent:main:main", "busy"));
  home.OpenGate();
  CliResult r = call.get();
  EXPECT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::vector<nlohmann::json> objects;
  for (std::string line; std::getline(lines, line);) {
    objects.push_back(nlohmann::json::parse(line, nullptr, false));
    ASSERT_FALSE(objects.back().is_discarded()) << line;
  }
  ASSERT_GE(objects.size(), 2u) << r.out;
  std::string streamed;
  for (size_t i = 0; i + 1 < objects.size(); ++i) {
    EXPECT_EQ(objects[i].value("type", ""), "progress") << r.out;
    EXPECT_EQ(objects[i].value("seq", 0), static_cast<int>(i + 1)) << r.out;
    streamed += objects[i].value("delta", "");
  }
  EXPECT_EQ(objects.back().value("status", ""), "replied") << r.out;
  EXPECT_EQ(objects.back().value("reply", ""), "first:x\nsecond:x\n");
  EXPECT_EQ(streamed, objects.back().value("reply", ""));
}

}  // namespace
}  // namespace laneway::testing
