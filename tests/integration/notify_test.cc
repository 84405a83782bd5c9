// laneway-supervisor under a test-owned NOTIFY_SOCKET (a datagram socket this test
// binds and reads, standing in for systemd): READY=1 only after recovery and once
// the gateway port listens, STATUS= updates, RELOADING=1/READY=1 around SIGHUP,
// STOPPING=1 when the drain starts, WATCHDOG=1 pings at half of WATCHDOG_USEC, and
// none while the loop is wedged (the test-only LANEWAY_TEST_WEDGE_FILE hook).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// WatchdogSec=1.5s: the supervisor pings every 750 ms.
constexpr int64_t kWatchdogUsec = 1'500'000;

class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  bool ok() const { return ok_; }
  struct Message {
    std::string text;
    Clock::time_point at;
  };
  // The next datagram within `timeout`, or an empty text.
  Message Next(milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {"", Clock::now()};
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    Message m{n > 0 ? std::string(buf, static_cast<size_t>(n)) : "", Clock::now()};
    all.push_back(m.text);
    return m;
  }
  // Reads until a datagram starting with `prefix` arrives (true) or `timeout` passes.
  bool WaitFor(const std::string& prefix, milliseconds timeout = milliseconds(30000),
               std::string* text = nullptr) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      Message m = Next(left);
      if (m.text.rfind(prefix, 0) == 0) {
        if (text) *text = m.text;
        return true;
      }
    }
    return false;
  }
  std::vector<std::string> all;

 private:
  std::string path_;
  int fd_ = -1;
  bool ok_ = false;
};

class NotifyTest : public ::testing::Test {
 protected:
  std::string SockPath() const { return home_.path() + "/notify.sock"; }
  std::string WedgePath() const { return home_.path() + "/wedge"; }
  Env NotifyEnv() const {
    return {{"NOTIFY_SOCKET", SockPath()},
            {"WATCHDOG_USEC", std::to_string(kWatchdogUsec)},
            {"LANEWAY_TEST_WEDGE_FILE", WedgePath()}};
  }
  TempHome home_;
};

TEST_F(NotifyTest, ReadyComesAfterRecoveryAndOnceTheGatewayListens) {
  // A first supervisor accepts a turn and dies with it unfinished.
  {
    SupervisorProcess first(home_);
    ASSERT_TRUE(first.Start(ExecConfig(home_))) << first.Log();
    auto pending = RunCliAsync(home_, {"agent", "--agent", "main", "--message", "gate one"});
    ASSERT_TRUE(WaitForWorker(home_, "agent:main:main", "busy")) << first.Log();
    first.Signal(SIGKILL);
    first.WaitExit();
    pending.get();
  }
  NotifySocket sock(SockPath());
  ASSERT_TRUE(sock.ok());
  SupervisorProcess sup(home_, NotifyEnv());
  ASSERT_TRUE(sup.Start(ExecConfig(home_) + "\n[channels.http]\n")) << sup.Log();
  std::string ready;
  ASSERT_TRUE(sock.WaitFor("READY=1", milliseconds(30000), &ready)) << sup.Log();
  // When READY=1 was sent the journal had been recovered and the port was bound.
  EXPECT_EQ(::access((home_.path() + "/run/http.addr").c_str(), F_OK), 0);
  EXPECT_EQ(Counter(Status(home_), "recovered_unfinished"), 1);
  EXPECT_NE(ready.find("\nSTATUS="), std::string::npos) << ready;
  EXPECT_NE(ready.find("workers"), std::string::npos) << ready;
  for (const std::string& m : sock.all) {
    if (&m == &sock.all.back()) break;
    EXPECT_EQ(m.find("READY=1"), std::string::npos) << "READY=1 only once";
  }
  home_.OpenGate();
  sup.Signal(SIGTERM);
  EXPECT_TRUE(sock.WaitFor("STOPPING=1")) << sup.Log();
  EXPECT_EQ(sup.WaitExit(), 0) << sup.Log();
}

TEST_F(NotifyTest, StatusFollowsTheWorkersAndReloadIsBracketed) {
  NotifySocket sock(SockPath());
  ASSERT_TRUE(sock.ok());
  SupervisorProcess sup(home_, NotifyEnv());
  ASSERT_TRUE(sup.Start(ExecConfig(home_))) << sup.Log();
  ASSERT_TRUE(sock.WaitFor("READY=1")) << sup.Log();
  auto pending = RunCliAsync(home_, {"agent", "--agent", "main", "--message", "gate busy"});
  std::string status;
  ASSERT_TRUE(sock.WaitFor("STATUS=1 busy", milliseconds(30000), &status)) << sup.Log();
  EXPECT_NE(status.find("healthy"), std::string::npos) << status;
  home_.OpenGate();
  EXPECT_EQ(pending.get().code, 0);
  EXPECT_TRUE(sock.WaitFor("STATUS=0 busy, 1 idle")) << sup.Log();

  sup.Signal(SIGHUP);
  ASSERT_TRUE(sock.WaitFor("RELOADING=1")) << sup.Log();
  EXPECT_TRUE(sock.WaitFor("READY=1")) << "READY=1 again after the reload";
  // A reload through the control socket is bracketed the same way.
  Call(home_, "reload");
  ASSERT_TRUE(sock.WaitFor("RELOADING=1")) << sup.Log();
  EXPECT_TRUE(sock.WaitFor("READY=1"));
  sup.Signal(SIGTERM);
  EXPECT_TRUE(sock.WaitFor("STOPPING=1"));
  EXPECT_EQ(sup.WaitExit(), 0);
}

TEST_F(NotifyTest, WatchdogPingsComeFromTheLoopAndStopWhileItIsWedged) {
  NotifySocket sock(SockPath());
  ASSERT_TRUE(sock.ok());
  SupervisorProcess sup(home_, NotifyEnv());
  ASSERT_TRUE(sup.Start(ExecConfig(home_))) << sup.Log();
  ASSERT_TRUE(sock.WaitFor("READY=1")) << sup.Log();
  // Six pings in a row, none further apart than WATCHDOG_USEC (systemd's limit).
  std::vector<Clock::time_point> pings;
  while (pings.size() < 6) {
    auto m = sock.Next(milliseconds(10000));
    ASSERT_FALSE(m.text.empty()) << "no ping within 10 s";
    if (m.text == "WATCHDOG=1") pings.push_back(m.at);
  }
  for (size_t i = 1; i < pings.size(); ++i) {
    EXPECT_LT(pings[i] - pings[i - 1], std::chrono::microseconds(kWatchdogUsec))
        << "ping " << i << " came late";
  }

  // Wedge the loop: the pings stop while it is wedged.
  home_.Write("wedge", "");
  ASSERT_TRUE(WaitFor([&] { return ::access((WedgePath() + ".wedged").c_str(), F_OK) == 0; }))
      << sup.Log();
  while (!sock.Next(milliseconds(0)).text.empty()) {
  }  // what was sent before the wedge
  const auto quiet_until = Clock::now() + std::chrono::microseconds(2 * kWatchdogUsec);
  int pings_while_wedged = 0;
  while (Clock::now() < quiet_until) {
    auto m = sock.Next(std::chrono::duration_cast<milliseconds>(quiet_until - Clock::now()));
    pings_while_wedged += m.text == "WATCHDOG=1";
  }
  EXPECT_EQ(pings_while_wedged, 0) << "a wedged loop must not ping";
  // Released, it pings again (systemd would have restarted it by now).
  ::unlink(WedgePath().c_str());
  EXPECT_TRUE(sock.WaitFor("WATCHDOG=1", milliseconds(10000))) << sup.Log();
  sup.Signal(SIGTERM);
  EXPECT_EQ(sup.WaitExit(), 0);
}

TEST_F(NotifyTest, WithoutNotifySocketNothingIsSent) {
  NotifySocket sock(SockPath());
  ASSERT_TRUE(sock.ok());
  SupervisorProcess sup(home_, {{"WATCHDOG_USEC", std::to_string(kWatchdogUsec)}});
  ASSERT_TRUE(sup.Start(ExecConfig(home_))) << sup.Log();
  ASSERT_EQ(RunCli(home_, {"agent", "--agent", "main", "--message", "hi"}).code, 0);
  EXPECT_TRUE(sock.Next(milliseconds(1000)).text.empty());
  sup.Signal(SIGTERM);
  EXPECT_EQ(sup.WaitExit(), 0);
}

}  // namespace
}  // namespace laneway::testing
