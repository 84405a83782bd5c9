// Who may talk on the IPC doors (supervisor/peer_auth.h): the control socket
// admits the supervisor's own uid, root and the configured uids/group; the worker
// socket admits only processes the supervisor started. The run directory is
// opened up to everyone in these tests so that nothing but the peer-credential
// check can refuse the second uid.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <zmq.hpp>

#include "common/protocol.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

const char kEchoConfig[] = "[agents.main]\nrunner = \"echo\"\n";

size_t CountOf(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1)) {
    ++n;
  }
  return n;
}

// Lets any user reach the control socket through the file system: the home and
// run/ searchable, the lock readable, the socket writable.
void OpenUpRunDir(const TempHome& home) {
  const common::Paths p = home.paths();
  ASSERT_EQ(::chmod(p.home.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(p.run_dir.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(p.instance_lock.c_str(), 0644), 0);
  ASSERT_EQ(::chmod(p.control_socket.c_str(), 0666), 0);
  ASSERT_EQ(::chmod(p.worker_socket.c_str(), 0666), 0);
}

// Runs `laneway args...` as uid/gid (no supplementary groups) in a forked child;
// bounded by 30 s. Needs root.
CliResult RunCliAs(const TempHome& home, uid_t uid, gid_t gid,
                   const std::vector<std::string>& args) {
  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return {};
  const std::string bin = BinDir() + "/laneway";
  std::vector<std::string> argv = {bin};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const std::string home_env = "LANEWAY_HOME=" + home.path();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(out_pipe[1], 2);
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) _exit(126);
    char* env[] = {const_cast<char*>(home_env.c_str()), const_cast<char*>("PATH=/usr/bin:/bin"),
                   nullptr};
    ::execve(bin.c_str(), cargv.data(), env);
    _exit(127);
  }
  ::close(out_pipe[1]);
  CliResult r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd pfd{out_pipe[0], POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
    if (n <= 0) break;
    r.out.append(buf, static_cast<size_t>(n));
  }
  ::close(out_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

#define REQUIRE_ROOT()                                                                       \
  if (::geteuid() != 0) {                                                                    \
    GTEST_SKIP() << "needs root: the test runs a client as uid 65534 through setuid() in a " \
                    "forked child (CI and the dev container run tests as root)";             \
  }

TEST(PeerCredTest, SecondUidIsRefusedOnTheControlSocketLoggedOnceAndCounted) {
  REQUIRE_ROOT();
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(kEchoConfig)) << sup.Log();
  OpenUpRunDir(home);

  CliResult r = RunCliAs(home, kNobody, kNogroup, {"status"});
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("refused this connection (uid 65534"), std::string::npos) << r.out;
  CliResult again = RunCliAs(home, kNobody, kNogroup, {"status"});
  EXPECT_EQ(again.code, 3) << again.out;

  // Our own uid still gets in, and sees the refusals counted.
  CliResult mine = RunCli(home, {"status"});
  EXPECT_EQ(mine.code, 0) << mine.err;
  EXPECT_GE(Counter(Status(home), "peers_refused"), 2);
  const std::string log = sup.Log();
  EXPECT_EQ(CountOf(log, "event=peer_refused door=control uid=65534"), 1u) << log;
}

TEST(PeerCredTest, ControlAllowUidsAdmitsThatUid) {
  REQUIRE_ROOT();
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start("[supervisor]\ncontrol_allow_uids = [65534]\n" + std::string(kEchoConfig)))
      << sup.Log();
  OpenUpRunDir(home);
  CliResult r = RunCliAs(home, kNobody, kNogroup, {"status"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(Counter(Status(home), "peers_refused"), 0);
}

TEST(PeerCredTest, ControlAllowGroupAdmitsItsGidAndNotOthers) {
  REQUIRE_ROOT();
  if (::getgrnam("nogroup") == nullptr) GTEST_SKIP() << "no group named nogroup on this host";
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(
      sup.Start("[supervisor]\ncontrol_allow_group = \"nogroup\"\n" + std::string(kEchoConfig)))
      << sup.Log();
  OpenUpRunDir(home);
  CliResult in = RunCliAs(home, kNobody, kNogroup, {"status"});
  EXPECT_EQ(in.code, 0) << in.out;
  // Same uid, another primary gid (and nobody is no member of nogroup by name).
  CliResult out = RunCliAs(home, kNobody, 65533, {"status"});
  EXPECT_EQ(out.code, 3) << out.out;
}

TEST(PeerCredTest, UnknownControlAllowGroupIsAStartupConfigError) {
  TempHome home;
  SupervisorProcess sup(home);
  home.Write("laneway.toml", "[supervisor]\ncontrol_allow_group = \"no-such-group-xyz\"\n" +
                                 std::string(kEchoConfig));
  EXPECT_EQ(sup.RunToExit(), 3) << sup.Log();
  EXPECT_NE(sup.Log().find("control_allow_group"), std::string::npos) << sup.Log();
}

// A process the supervisor did not start (here: the test itself, same uid) cannot
// talk on the worker socket; the supervisor's own workers still can.
TEST(PeerCredTest, WorkerSocketRefusesAPidTheSupervisorDidNotStart) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(kEchoConfig)) << sup.Log();

  zmq::context_t ctx{1};
  zmq::socket_t dealer{ctx, zmq::socket_type::dealer};
  zmq::socket_t monitor{ctx, zmq::socket_type::pair};
  dealer.set(zmq::sockopt::linger, 0);
  ASSERT_EQ(zmq_socket_monitor(dealer.handle(), "inproc://peercred-mon",
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED),
            0);
  // Stopped before `monitor` closes, however the test ends: libzmq 4.3.4 leaks
  // an event sent to a closed monitor (see cli/client.cc).
  struct StopMonitor {
    zmq::socket_t& s;
    ~StopMonitor() { zmq_socket_monitor(s.handle(), nullptr, 0); }
  } stop_monitor{dealer};
  monitor.connect("inproc://peercred-mon");
  dealer.connect(home.paths().worker_endpoint());
  uint16_t event = 0;
  zmq::pollitem_t item{monitor.handle(), 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(zmq::poll(&item, 1, std::chrono::seconds(20)), 1);
  zmq::message_t m;
  ASSERT_TRUE(monitor.recv(m));
  std::memcpy(&event, m.data(), sizeof event);
  EXPECT_EQ(event, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);

  CliResult turn = RunCli(home, {"agent", "--agent", "main", "--message", "still served"});
  EXPECT_EQ(turn.code, 0) << turn.out << turn.err;
  EXPECT_NE(turn.out.find("still served"), std::string::npos) << turn.out;
  EXPECT_GE(Counter(Status(home), "peers_refused"), 1);
  EXPECT_NE(sup.Log().find("event=peer_refused door=worker"), std::string::npos) << sup.Log();
}

}  // namespace
}  // namespace laneway::testing
