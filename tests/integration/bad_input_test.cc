// Bad input of every kind gets a clear error to whoever sent it, and the
// supervisor keeps serving with nothing lost.
#include <gtest/gtest.h>

#include <zmq.hpp>

#include "common/protocol.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

using common::Value;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A raw control-socket peer, to send what the CLI never would.
class RawPeer {
 public:
  explicit RawPeer(const TempHome& home) : sock_(ctx_, zmq::socket_type::dealer) {
    sock_.set(zmq::sockopt::linger, 0);
    sock_.connect(home.paths().control_endpoint());
  }
  void SendBytes(const std::string& bytes) { sock_.send(zmq::buffer(bytes)); }
  void SendFrames(const std::vector<std::string>& frames) {
    for (size_t i = 0; i < frames.size(); ++i) {
      sock_.send(zmq::buffer(frames[i]),
                 i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
  // The next reply, decoded (null Value on timeout).
  Value Next() {
    zmq::pollitem_t item{sock_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::seconds(10)) == 0) return Value();
    zmq::message_t m;
    (void)sock_.recv(m);
    auto v = common::DecodeMessage(m.data(), m.size(), 1 << 24);
    return v.ok() ? *v : Value();
  }

 private:
  zmq::context_t ctx_{1};
  zmq::socket_t sock_;
};

Value Message(const std::string& type, Value::Map fields) {
  Value m = common::NewMessage(type);
  for (auto& [k, v] : fields) m.Set(k, v);
  return m;
}

TEST(BadInputTest, MalformedControlMessagesGetErrorRepliesAndTheSupervisorKeepsServing) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(
      sup.Start("[supervisor]\nmax_message_bytes = 4096\n[agents.main]\nrunner = \"echo\"\n"))
      << sup.Log();
  RawPeer peer(home);
  struct Case {
    const char* what;
    std::string bytes;
    const char* code;
    const char* error;
  };
  Value no_version = Value::MakeMap();
  no_version.Set("type", "status");
  Value wrong_version = common::NewMessage("status");
  wrong_version.Set("v", 2);
  Value no_type = Value::MakeMap();
  no_type.Set("v", 1);
  const std::vector<Case> cases = {
      {"not msgpack", "\xc1\xc1\xc1", "bad_request", "malformed msgpack"},
      {"truncated", common::EncodeMessage(common::NewMessage("status")).substr(0, 5), "bad_request",
       "truncated"},
      {"not a map", common::EncodeMsgpack(Value("hello")), "bad_request", "not a map"},
      {"no version", common::EncodeMessage(no_version), "bad_request", "protocol version"},
      {"wrong version", common::EncodeMessage(wrong_version), "bad_request",
       "unsupported protocol version 2"},
      {"no type", common::EncodeMessage(no_type), "bad_request", "no 'type'"},
      {"oversized",
       common::EncodeMessage(
           Message("submit", {{"agent", "main"}, {"message", std::string(10000, 'x')}})),
       "too_large", "exceeds the limit of 4096"},
      {"unknown type", common::EncodeMessage(common::NewMessage("launch_missiles")), "unknown_type",
       "unknown request type 'launch_missiles'"},
      {"bad id", common::EncodeMessage(Message("status", {{"id", "seven"}})), "bad_request",
       "field 'id' must be an integer"},
  };
  for (const Case& c : cases) {
    peer.SendBytes(c.bytes);
    Value reply = peer.Next();
    ASSERT_TRUE(reply.is_map()) << c.what << ": no reply";
    EXPECT_EQ(StrField(reply, "type"), "error") << c.what;
    EXPECT_EQ(StrField(reply, "code"), c.code) << c.what;
    EXPECT_TRUE(Contains(StrField(reply, "error"), c.error))
        << c.what << ": " << StrField(reply, "error");
  }
  peer.SendFrames({"two", "frames"});
  Value multi = peer.Next();
  EXPECT_EQ(StrField(multi, "code"), "bad_request");

  // A submit with wrong field types is rejected as a turn, with the reason.
  peer.SendBytes(
      common::EncodeMessage(Message("submit", {{"id", 9}, {"agent", 1}, {"message", "x"}})));
  Value rejected = peer.Next();
  EXPECT_EQ(StrField(rejected, "status"), "rejected");
  EXPECT_TRUE(Contains(StrField(rejected, "error"), "field 'agent' must be a string"))
      << common::ToJson(rejected);

  // Still serving, and counting what it refused.
  CliResult ok = RunCli(home, {"agent", "--agent", "main", "--message", "still fine"});
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out, "still fine\n");
  EXPECT_GE(Counter(Status(home), "bad_control_messages"), 10);
  ExpectEveryTurnSettled(home);
}

TEST(BadInputTest, UnknownAgentEmptyMessageAndForeignSessionKeyAreRejectedAtOnce) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start()) << sup.Log();
  CliResult unknown = RunCli(home, {"agent", "--agent", "ghost", "--message", "hi"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_TRUE(Contains(unknown.err, "rejected: unknown agent 'ghost' (configured: main)"))
      << unknown.err;
  CliResult empty = RunCli(home, {"agent", "--agent", "main", "--message", ""});
  EXPECT_EQ(empty.code, 2);  // a usage error (issue 13), refused before it is sent
  EXPECT_TRUE(Contains(empty.err, "message is empty")) << empty.err;
  CliResult foreign =
      RunCli(home, {"agent", "--agent", "main", "--session", "agent:other:x", "--message", "hi"});
  EXPECT_EQ(foreign.code, 1);
  EXPECT_TRUE(Contains(foreign.err, "belongs to agent 'other'")) << foreign.err;
  CliResult json = RunCli(home, {"agent", "--agent", "ghost", "--message", "hi", "--json"});
  EXPECT_TRUE(Contains(json.out, "\"status\":\"rejected\"")) << json.out;
  EXPECT_TRUE(Contains(json.out, "\"error\":\"unknown agent")) << json.out;
  EXPECT_EQ(Counter(Status(home), "turns_accepted"), 0);
}

TEST(BadInputTest, FullQueueRejectsTheNextTurnWithoutDisturbingQueuedOnes) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home, "", "max_queue = 1"))) << sup.Log();
  auto running = RunCliAsync(home, {"agent", "--agent", "main", "--message", "gate-1"});
  ASSERT_TRUE(WaitForWorker(home, "agent:main:main", "busy"));
  auto queued = RunCliAsync(home, {"agent", "--agent", "main", "--message", "gate-2"});
  ASSERT_TRUE(WaitForWorker(home, "agent:main:main", "", 1));
  CliResult full = RunCli(home, {"agent", "--agent", "main", "--message", "gate-3"});
  EXPECT_EQ(full.code, 1);
  EXPECT_TRUE(Contains(full.err, "queue full")) << full.err;
  EXPECT_TRUE(Contains(full.err, "max_queue = 1")) << full.err;
  // Another session is not affected by this one's full queue.
  auto other = RunCliAsync(home, {"agent", "--agent", "main", "--session", "b", "--message", "b"});
  EXPECT_EQ(other.get().code, 0);
  home.OpenGate();
  EXPECT_EQ(running.get().out, "reply:gate-1\n");
  EXPECT_EQ(queued.get().out, "reply:gate-2\n");
  ExpectEveryTurnSettled(home);
}

TEST(BadInputTest, BadConfigRefusesToStartNamingFileLineAndKey) {
  TempHome home;
  home.Write(
      "laneway.toml",
      "[supervisor]\nmax_workers = 4\n\n[agents.main]\nrunner = \"echo\"\nrun_timeout = \"ten\"\n");
  SupervisorProcess sup(home);
  EXPECT_EQ(sup.RunToExit(), 3);
  EXPECT_TRUE(
      Contains(sup.Log(), home.path() + "/laneway.toml:6: agents.main.run_timeout: bad duration"))
      << sup.Log();
  home.Write("laneway.toml", "[supervisor]\nmax_wrkers = 4\n");
  SupervisorProcess sup2(home);
  EXPECT_EQ(sup2.RunToExit(), 3);
  EXPECT_TRUE(Contains(sup2.Log(), "laneway.toml:2: supervisor.max_wrkers: unknown key"))
      << sup2.Log();
  home.Write("laneway.toml", "[agents.main]\nrunner = \"openai\"\n");
  SupervisorProcess openai(home);
  EXPECT_EQ(openai.RunToExit(), 3);
  EXPECT_TRUE(
      Contains(openai.Log(), "agents.main.base_url: missing (required for runner = openai)"))
      << openai.Log();
  SupervisorProcess missing(home);
  EXPECT_EQ(missing.RunToExit({"--config", home.path() + "/nope.toml"}), 3);
  EXPECT_TRUE(Contains(missing.Log(), "nope.toml")) << missing.Log();
}

TEST(BadInputTest, CliUsageErrorsExitTwoAndEveryCommandHasHelp) {
  TempHome home;
  for (const char* cmd : {"up", "down", "agent", "wait", "status", "workers", "sessions", "kill",
                          "restart", "cancel", "reload"}) {
    CliResult help = RunCli(home, {cmd, "--help"});
    EXPECT_EQ(help.code, 0) << cmd;
    EXPECT_TRUE(Contains(help.out, std::string("usage: laneway ") + cmd))
        << cmd << ": " << help.out;
  }
  EXPECT_EQ(RunCli(home, {}).code, 2);
  EXPECT_EQ(RunCli(home, {"--help"}).code, 0);
  EXPECT_EQ(RunCli(home, {"launch"}).code, 2);
  EXPECT_EQ(RunCli(home, {"agent", "--message", "x"}).code, 2);
  EXPECT_EQ(RunCli(home, {"agent", "--agent", "main", "--message", "x", "--bogus"}).code, 2);
  EXPECT_EQ(RunCli(home, {"agent", "--agent", "main", "--message", "x", "--timeout", "soon"}).code,
            2);
  EXPECT_EQ(RunCli(home, {"wait", "abc"}).code, 2);
  EXPECT_EQ(RunCli(home, {"kill"}).code, 2);
  EXPECT_EQ(RunCli(home, {"status", "extra"}).code, 2);
}

}  // namespace
}  // namespace laneway::testing

namespace laneway::testing {
namespace {

TEST(BadInputTest, MaxTurnsInMemoryBoundsUnfinishedTurnsAcrossSessions) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home, "max_turns_in_memory = 2"))) << sup.Log();
  auto a = RunCliAsync(home, {"agent", "--agent", "main", "--session", "a", "--message", "gate-a"});
  auto b = RunCliAsync(home, {"agent", "--agent", "main", "--session", "b", "--message", "gate-b"});
  ASSERT_TRUE(WaitFor([&] { return IntField(Status(home), "busy") == 2; }));
  CliResult c = RunCli(home, {"agent", "--agent", "main", "--session", "c", "--message", "c"});
  EXPECT_EQ(c.code, 1);
  EXPECT_NE(c.err.find("max_turns_in_memory = 2"), std::string::npos) << c.err;
  home.OpenGate();
  EXPECT_EQ(a.get().code, 0);
  EXPECT_EQ(b.get().code, 0);
  // Room again once they are done.
  EXPECT_EQ(RunCli(home, {"agent", "--agent", "main", "--session", "c", "--message", "c"}).code, 0);
  ExpectEveryTurnSettled(home);
}

}  // namespace
}  // namespace laneway::testing
