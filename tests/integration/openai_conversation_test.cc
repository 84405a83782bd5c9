// runner = "openai" end to end: the real supervisor, workers and CLI against
// tests/doubles/openai_double.py on loopback. Conversations with history,
// streaming to the CLI and to a control-socket subscriber, error outcomes as the
// sender sees them, run_timeout during a trickle, two sessions at once, and the
// API key kept out of everything laneway writes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/client.h"
#include "common/protocol.h"
#include "tests/doubles/openai_double.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

using common::Value;
using nlohmann::json;
using testing_util::OpenAiDouble;

constexpr const char* kKeyVar = "LANEWAY_IT_OPENAI_KEY";
constexpr const char* kKey = "sk-it-secret-4f1c9a";

std::string OpenAiConfig(const OpenAiDouble& server, const std::string& agent_extra = "") {
  return "[supervisor]\nheartbeat_interval = \"200ms\"\nheartbeat_timeout = \"5s\"\n"
         "[agents.main]\nrunner = \"openai\"\nbase_url = \"" +
         server.base_url() +
         "\"\nmodel = \"double-model\"\nkill_grace = \"300ms\"\nsystem_prompt = \"Be brief.\"\n" +
         agent_extra;
}

std::vector<json> TranscriptLines(const TempHome& home, const std::string& session) {
  std::ifstream in(home.paths().TranscriptPath("main", session));
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line, nullptr, false));
  return out;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CliResult Agent(const TempHome& home, const std::string& message, const std::string& session = "",
                bool json_out = false) {
  std::vector<std::string> args = {"agent", "--agent", "main", "--message", message};
  if (!session.empty()) args.insert(args.end(), {"--session", session});
  if (json_out) args.push_back("--json");
  return RunCli(home, args);
}

json Messages(const json& request) { return request["body"]["messages"]; }

TEST(OpenAiConversationTest, ThirdRequestCarriesTheFirstTwoExchanges) {
  TempHome home;
  OpenAiDouble server(home.path());
  ASSERT_TRUE(server.ok());
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(OpenAiConfig(server))) << sup.Log();
  for (const char* m : {"one", "two", "three"}) {
    CliResult r = Agent(home, m);
    ASSERT_EQ(r.code, 0) << r.err << sup.Log();
    EXPECT_EQ(r.out, std::string("echo: ") + m + "\n");
  }
  auto reqs = server.Requests();
  ASSERT_EQ(reqs.size(), 3u);
  json expected = json::parse(R"([
    {"role":"system","content":"Be brief."},
    {"role":"user","content":"one"},{"role":"assistant","content":"echo: one"},
    {"role":"user","content":"two"},{"role":"assistant","content":"echo: two"},
    {"role":"user","content":"three"}])");
  EXPECT_EQ(Messages(reqs[2]), expected);
  EXPECT_EQ(Messages(reqs[0]).size(), 2u);
  // The transcript line of each reply records model, usage and latencies.
  auto lines = TranscriptLines(home, "agent:main:main");
  ASSERT_EQ(lines.size(), 6u);
  const json& reply = lines[5];
  EXPECT_EQ(reply["role"], "assistant");
  EXPECT_EQ(reply["text"], "echo: three");
  EXPECT_EQ(reply["model"], "double-model");
  EXPECT_EQ(reply["usage"]["completion_tokens"], 2);
  EXPECT_TRUE(reply["usage"]["prompt_tokens"].is_number());
  EXPECT_TRUE(reply["latency_ms"].is_number());
  EXPECT_TRUE(reply["first_token_ms"].is_number());
  ExpectEveryTurnSettled(home);
}

TEST(OpenAiConversationTest, CliStreamPrintsTheReplyOnce) {
  TempHome home;
  OpenAiDouble server(home.path(), R"([{"content": ["Hel", "lo, ", "wor", "ld"]}])");
  ASSERT_TRUE(server.ok());
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(OpenAiConfig(server))) << sup.Log();
  CliResult r = RunCli(home, {"agent", "--agent", "main", "--message", "x", "--stream"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello, world\n");
}

TEST(OpenAiConversationTest, DeltasReachASubscriberWhileTheModelIsStillWriting) {
  TempHome home;
  const std::string gate = home.path() + "/double-gate";
  OpenAiDouble server(home.path(), R"([{"content": ["first ", "second ", "third"],
                                        "gate_after": 1, "gate_file": ")" +
                                       gate + R"("}])");
  ASSERT_TRUE(server.ok());
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(OpenAiConfig(server))) << sup.Log();
  auto client = cli::Client::Connect(home.paths());
  ASSERT_TRUE(client.ok());
  Value submit = common::NewMessage(common::msg::kSubmit);
  submit.Set("agent", "main");
  submit.Set("message", "go");
  submit.Set("wait", true);
  submit.Set("stream", true);
  auto req = (*client)->Send(submit);
  ASSERT_TRUE(req.ok());
  auto next = [&]() -> Value {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      auto m = (*client)->Receive(std::chrono::milliseconds(200));
      if (m.ok() && m->GetIntOr("id", -1).value() == *req) return std::move(m).value();
    }
    return Value();
  };
  EXPECT_EQ(common::MessageType(next()), "accepted");
  // The double holds the rest of the answer: the first delta is all there is yet.
  Value p1 = next();
  ASSERT_TRUE(p1.is_map()) << sup.Log();
  EXPECT_EQ(common::MessageType(p1), "progress");
  EXPECT_EQ(StrField(p1, "delta"), "first ");
  std::ofstream(gate) << "open";
  std::string streamed = StrField(p1, "delta");
  Value m;
  for (;;) {
    m = next();
    ASSERT_TRUE(m.is_map());
    if (common::MessageType(m) != "progress") break;
    streamed += StrField(m, "delta");
  }
  EXPECT_EQ(common::MessageType(m), "outcome");
  EXPECT_EQ(StrField(m, "status"), "replied");
  EXPECT_EQ(StrField(m, "reply"), "first second third");
  EXPECT_EQ(streamed, "first second third");
}

TEST(OpenAiConversationTest, ErrorOutcomesNameTheServersMessage) {
  TempHome home;
  OpenAiDouble server(home.path(), R"([
      {"status": 401, "error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}},
      {"status": 404, "error": {"message": "model 'double-model' not found"}},
      {"status": 429, "error": {"message": "You exceeded your current quota", "type": "insufficient_quota"}},
      {"content": ["half ", "never"], "drop_after": 1},
      {"mode": "raw", "raw": ["data: {oops\n\n"]}
  ])");
  ASSERT_TRUE(server.ok());
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(OpenAiConfig(server))) << sup.Log();
  CliResult first = Agent(home, "a", "", /*json_out=*/true);
  EXPECT_EQ(first.code, 1);
  EXPECT_NE(first.out.find("HTTP 401: Incorrect API key provided (not retried)"), std::string::npos)
      << first.out;
  const int64_t pid = IntField(WorkerOf(home, "agent:main:main"), "pid");
  struct Case {
    const char* message;
    const char* expect;
  } cases[] = {{"b", "HTTP 404: model 'double-model' not found (no fallback_models)"},
               {"c", "HTTP 429: You exceeded your current quota (quota exhausted, not retried)"},
               {"d", "the stream broke off"},
               {"e", "malformed JSON"}};
  for (const Case& c : cases) {
    CliResult r = Agent(home, c.message, "", /*json_out=*/true);
    EXPECT_EQ(r.code, 1) << c.message << ": " << r.out << r.err;
    json out = json::parse(r.out, nullptr, false);
    EXPECT_EQ(out["status"], "failed") << r.out;
    EXPECT_NE(out["error"].get<std::string>().find(c.expect), std::string::npos)
        << c.message << ": " << r.out;
  }
  // Each error was one request (none retried), and the worker survived them all.
  EXPECT_EQ(server.Requests().size(), 5u);
  EXPECT_EQ(IntField(WorkerOf(home, "agent:main:main"), "pid"), pid);
  // The dropped stream's error line keeps what arrived.
  bool found = false;
  for (const json& l : TranscriptLines(home, "agent:main:main")) {
    if (l["role"] == "error" && l.contains("partial")) {
      EXPECT_EQ(l["partial"], "half ");
      EXPECT_EQ(l["http_status"], 200);
      found = true;
    }
  }
  EXPECT_TRUE(found);
  // Failed turns are not history: the next request carries none of them.
  CliResult ok = Agent(home, "f");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(Messages(server.Requests().back()).size(), 2u);  // system + "f"
}

TEST(OpenAiConversationTest, RetriesAfterRateLimitAndServerErrorThenReplies) {
  TempHome home;
  OpenAiDouble server(home.path(), R"([
      {"status": 429, "headers": {"Retry-After": "1"}, "error": {"message": "Rate limit reached"}},
      {"status": 500, "error": {"message": "internal"}},
      {"content": ["made ", "it"]}
  ])");
  ASSERT_TRUE(server.ok());
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(OpenAiConfig(server))) << sup.Log();
  CliResult r = Agent(home, "hi");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "made it\n");
  EXPECT_EQ(server.Requests().size(), 3u);
  auto lines = TranscriptLines(home, "agent:main:main");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["attempts"], 3);
}

TEST(OpenAiConversationTest, RunTimeoutDuringATrickleKillsTheWorkerAndTheNextTurnSucceeds) {
  TempHome home;
  OpenAiDouble server(home.path(), R"([{"content": ["a","b","c","d","e","f","g","h","i","j",
                                                    "k","l","m","n","o","p","q","r","s","t"],
                                        "delay_ms": 400}])");
  ASSERT_TRUE(server.ok());
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(OpenAiConfig(server, "run_timeout = \"1s\"\n"))) << sup.Log();
  CliResult slow = Agent(home, "slow", "", /*json_out=*/true);
  EXPECT_EQ(slow.code, 1) << slow.out << slow.err;
  EXPECT_EQ(json::parse(slow.out, nullptr, false)["status"], "timed_out") << slow.out;
  CliResult next = Agent(home, "next");
  EXPECT_EQ(next.code, 0) << next.err << sup.Log();
  EXPECT_EQ(next.out, "echo: next\n");
  // The timed-out turn is not history.
  auto reqs = server.Requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(Messages(reqs[1]).size(), 2u);
  ExpectEveryTurnSettled(home);
}

TEST(OpenAiConversationTest, TwoSessionsAtOnceStaySeparate) {
  TempHome home;
  // Both first answers start slowly, so the two sessions' requests overlap.
  OpenAiDouble server(home.path(), R"([{"delay_first_ms": 300}, {"delay_first_ms": 300}])");
  ASSERT_TRUE(server.ok());
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(OpenAiConfig(server))) << sup.Log();
  auto a1 = RunCliAsync(
      home, {"agent", "--agent", "main", "--session", "agent:main:a", "--message", "apple"});
  auto b1 = RunCliAsync(
      home, {"agent", "--agent", "main", "--session", "agent:main:b", "--message", "banana"});
  EXPECT_EQ(a1.get().out, "echo: apple\n");
  EXPECT_EQ(b1.get().out, "echo: banana\n");
  auto a2 = RunCliAsync(
      home, {"agent", "--agent", "main", "--session", "agent:main:a", "--message", "again a"});
  auto b2 = RunCliAsync(
      home, {"agent", "--agent", "main", "--session", "agent:main:b", "--message", "again b"});
  EXPECT_EQ(a2.get().out, "echo: again a\n");
  EXPECT_EQ(b2.get().out, "echo: again b\n");
  auto reqs = server.Requests();
  ASSERT_EQ(reqs.size(), 4u);
  int checked = 0;
  for (const json& r : reqs) {
    json m = Messages(r);
    const std::string last = m.back()["content"];
    if (last == "again a") {
      EXPECT_EQ(m[1]["content"], "apple");
      EXPECT_EQ(m.size(), 4u);
      ++checked;
    } else if (last == "again b") {
      EXPECT_EQ(m[1]["content"], "banana");
      EXPECT_EQ(m.size(), 4u);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2);
}

TEST(OpenAiConversationTest, TheApiKeyIsSentAndWrittenNowhereElse) {
  TempHome home;
  OpenAiDouble server(home.path());
  ASSERT_TRUE(server.ok());
  SupervisorProcess sup(home, {{kKeyVar, kKey}});
  ASSERT_TRUE(sup.Start(OpenAiConfig(server, std::string("api_key_env = \"") + kKeyVar + "\"\n")))
      << sup.Log();
  CliResult r = Agent(home, "hi");
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(server.Requests().size(), 1u);
  EXPECT_EQ(server.Requests()[0]["headers"]["authorization"], std::string("Bearer ") + kKey);
  EXPECT_EQ(sup.Log().find(kKey), std::string::npos);
  EXPECT_EQ(ReadAll(home.paths().TranscriptPath("main", "agent:main:main")).find(kKey),
            std::string::npos);
  for (const char* cmd : {"status", "workers", "sessions"}) {
    CliResult s = RunCli(home, {cmd, "--json"});
    EXPECT_EQ(s.out.find(kKey), std::string::npos) << cmd;
  }
  // A missing key variable is that turn's clear error, and the key's name only.
  home.Write("laneway.toml", OpenAiConfig(server, "api_key_env = \"LANEWAY_IT_UNSET_VAR\"\n"));
  CliResult reload = RunCli(home, {"reload"});
  ASSERT_EQ(reload.code, 0) << reload.err;
  EXPECT_EQ(RunCli(home, {"kill", "agent:main:main"}).code, 0);
  ASSERT_TRUE(WaitFor([&] { return WorkerOf(home, "agent:main:main").is_null(); }));
  CliResult failed = Agent(home, "again");
  EXPECT_EQ(failed.code, 1);
  EXPECT_NE(failed.err.find("LANEWAY_IT_UNSET_VAR is not set"), std::string::npos) << failed.err;
}

}  // namespace
}  // namespace laneway::testing

namespace laneway::testing {
namespace {

// "tcp" or "unix" by the socket's inode in the worker's /proc net tables.
std::string SocketKind(int64_t pid, const std::string& target) {
  const std::string inode = target.substr(8, target.size() - 9);  // socket:[N]
  for (const char* table : {"tcp", "tcp6", "unix", "udp"}) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/net/" + table);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find(" " + inode + " ") != std::string::npos ||
          line.find(" " + inode) == line.size() - inode.size() - 1) {
        return std::string(table) + ": " + line;
      }
    }
  }
  return "(not found)";
}

// Every socket of a worker that has talked to the model server, the kept-alive
// connection and libcurl's own wake-up pair included, is close-on-exec. (Only
// sockets: the worker's other descriptors are the core's business.)
TEST(OpenAiConversationTest, EveryWorkerSocketIsCloseOnExec) {
  TempHome home;
  OpenAiDouble server(home.path());
  ASSERT_TRUE(server.ok());
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(OpenAiConfig(server))) << sup.Log();
  ASSERT_EQ(Agent(home, "hi").code, 0);
  const int64_t pid = IntField(WorkerOf(home, "agent:main:main"), "pid");
  ASSERT_GT(pid, 0);
  const std::string dir = "/proc/" + std::to_string(pid) + "/fdinfo";
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const int fd = std::stoi(entry.path().filename().string());
    const std::string target =
        std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd))
            .string();
    if (target.rfind("socket:", 0) != 0) continue;
    std::ifstream in(entry.path());
    std::string key, flags;
    while (in >> key && key != "flags:") {
    }
    in >> flags;
    const long value = std::stol(flags, nullptr, 8);
    EXPECT_NE(value & 02000000, 0)
        << "fd " << fd << " -> " << target << " " << SocketKind(pid, target);
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace laneway::testing
