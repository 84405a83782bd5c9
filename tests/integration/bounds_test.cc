// Resource bounds under abuse: queued bytes per session and in total, and one
// flooding client (a control-socket peer, a gateway connection, one address's
// many connections) cannot starve the others.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "common/protocol.h"
#include "tests/integration/gateway_support.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

using Json = nlohmann::json;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::future<CliResult> Turn(const TempHome& home, const std::string& session,
                            const std::string& msg) {
  return RunCliAsync(home, {"agent", "--agent", "main", "--session", session, "--message", msg});
}

TEST(BoundsTest, QueuedBytesPerSessionAndInTotalAreBoundedWithAClearRejection) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(
      ExecConfig(home, "max_queued_bytes_per_session = 4096\nmax_queued_bytes_total = 10000")))
      << sup.Log();
  const std::string big = "gate-" + std::string(1500, 'x');  // 1505 bytes
  std::vector<std::future<CliResult>> held;
  // Three sessions with two turns each: 6 x 1505 = 9030 bytes held.
  for (const char* s : {"a", "b", "c"}) {
    const std::string key = std::string("agent:main:") + s;
    held.push_back(Turn(home, s, big));
    ASSERT_TRUE(WaitForWorker(home, key, "busy")) << key;
    held.push_back(Turn(home, s, big));
    ASSERT_TRUE(WaitForWorker(home, key, "", 1)) << key;
  }
  CliResult per_session = Turn(home, "a", big).get();
  EXPECT_EQ(per_session.code, 1);
  EXPECT_TRUE(Contains(per_session.err, "max_queued_bytes_per_session = 4096")) << per_session.err;
  CliResult total = Turn(home, "d", big).get();
  EXPECT_EQ(total.code, 1);
  EXPECT_TRUE(Contains(total.err, "max_queued_bytes_total = 10000")) << total.err;
  home.OpenGate();
  for (auto& f : held) EXPECT_EQ(f.get().code, 0);
  // Every byte was given back when the turns ended: the same load fits again.
  CliResult again = Turn(home, "d", big).get();
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(Counter(Status(home), "submits_over_bytes"), 2);
  ExpectEveryTurnSettled(home);
}

// A peer that sends requests as fast as it can and never reads its replies.
TEST(BoundsTest, AFloodingControlPeerDoesNotStarveOtherClients) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home))) << sup.Log();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0};
  std::thread flooder([&] {
    zmq::context_t ctx{1};
    zmq::socket_t s{ctx, zmq::socket_type::dealer};
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::sndhwm, 1000);
    s.connect(home.paths().control_endpoint());
    common::Value ping = common::NewMessage(common::msg::kPing);
    ping.Set("id", int64_t{1});
    const std::string bytes = common::EncodeMessage(ping);
    while (!stop.load()) {
      try {
        if (s.send(zmq::buffer(bytes), zmq::send_flags::dontwait)) ++sent;
      } catch (const zmq::error_t&) {
      }
    }
  });
  // Wait until the flood is under way, then be served beside it.
  ASSERT_TRUE(WaitFor([&] { return sent.load() > 20000; }));
  CliResult turn = RunCli(home, {"agent", "--agent", "main", "--session", "other", "--message",
                                 "served beside a flood"});
  CliResult status = RunCli(home, {"status"});
  const uint64_t during = sent.load();
  stop = true;
  flooder.join();
  EXPECT_EQ(turn.code, 0) << turn.err;
  EXPECT_EQ(turn.out, "reply:served beside a flood\n");
  EXPECT_EQ(status.code, 0) << status.err;
  EXPECT_GT(during, 20000u);
  ExpectEveryTurnSettled(home);
}

// A TCP connection from `from` (a loopback address) to the gateway's host:port.
int ConnectFrom(const std::string& from, const std::string& addr) {
  const size_t colon = addr.rfind(':');
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(std::stoi(addr.substr(colon + 1))));
  ::inet_pton(AF_INET, addr.substr(0, colon).c_str(), &to.sin_addr);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, from.c_str(), &src.sin_addr);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True once the server has closed `fd` (EOF or reset), within 20 s.
bool ClosedByServer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 20000) != 1) return false;
  char c;
  return ::recv(fd, &c, 1, 0) <= 0;
}

// True if the server has not closed `fd` (nothing, not even EOF, to read).
bool StillOpen(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

TEST(BoundsTest, OneAddressCannotTakeEveryGatewaySlotNorStarveOthersByFlooding) {
  TempHome home;
  GatewayServer gw(home);
  ASSERT_TRUE(gw.Start(GatewayConfig(home, "max_connections_per_address = 3"))) << gw.Log();
  const std::string addr = gw.addr();
  // Three idle connections from 127.0.0.1 fill its share ...
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(ConnectFrom("127.0.0.1", addr));
    ASSERT_GE(idle.back(), 0);
  }
  // (each is counted once the server accepted it)
  ASSERT_TRUE(WaitFor([&] {
    Json st = Json::parse(common::ToJson(Status(home)));
    for (const Json& ch : st["channels"]) {
      if (ch.value("kind", "") == "http") return ch.value("connections", 0) >= 3;
    }
    return false;
  }));
  // ... so a fourth from it is closed at once ...
  int fourth = ConnectFrom("127.0.0.1", addr);
  ASSERT_GE(fourth, 0);
  EXPECT_TRUE(ClosedByServer(fourth));
  ::close(fourth);
  // ... while another address is served.
  const std::string auth = std::string("Authorization: Bearer ") + kGatewayToken;
  HttpResult other = Curl(gw.http_url("/v1/models"), {"--interface", "127.0.0.2", "-H", auth});
  EXPECT_EQ(other.status, 200) << other.body;
  for (int fd : idle) EXPECT_TRUE(StillOpen(fd));

  // One of the three turns into a flood: pipelined requests, never reading.
  const int flood = idle[0];
  ::fcntl(flood, F_SETFL, O_NONBLOCK);
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string burst;
  for (int i = 0; i < 200; ++i) burst += req;
  size_t flooded = 0;
  for (int i = 0; i < 2000; ++i) {
    ssize_t n = ::send(flood, burst.data(), burst.size(), MSG_NOSIGNAL);
    if (n <= 0) break;  // the socket buffers are full: the server stopped reading it
    flooded += static_cast<size_t>(n);
  }
  EXPECT_GT(flooded, 0u);
  HttpResult chat = Curl(
      gw.http_url("/v1/chat/completions"),
      {"--interface", "127.0.0.2", "-X", "POST", "-H", auth, "-H", "Content-Type: application/json",
       "--data-binary", R"({"model":"laneway/main","messages":[{"role":"user","content":"hi"}]})"});
  EXPECT_EQ(chat.status, 200) << chat.body;
  EXPECT_TRUE(Contains(chat.body, "reply:hi")) << chat.body;
  Json st = Json::parse(common::ToJson(Status(home)));
  for (const Json& ch : st["channels"]) {
    if (ch.value("kind", "") != "http") continue;
    EXPECT_GE(ch.value("connections_refused", 0), 1) << ch.dump();
  }
  for (int fd : idle) ::close(fd);
  ExpectEveryTurnSettled(home);
}

}  // namespace
}  // namespace laneway::testing
