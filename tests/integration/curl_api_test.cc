// laneway-worker does not link libcurl (worker/runners/curl_api.h): its ELF
// dynamic section names no libcurl, an echo worker that has answered a turn has
// not mapped it, and an openai worker maps it once it has made its request (and
// answers through it).
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/types.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/doubles/openai_double.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

// The NEEDED entries of an ELF file's dynamic section, from `readelf -d`.
// `ok` is false if readelf could not be run or printed nothing of the kind.
struct Needed {
  bool ok = false;
  std::vector<std::string> libs;
  bool Has(const std::string& prefix) const {
    for (const std::string& l : libs)
      if (l.rfind(prefix, 0) == 0) return true;
    return false;
  }
};

Needed ReadNeeded(const std::string& elf) {
  Needed n;
  const std::string cmd = "readelf -d '" + elf + "' 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return n;
  char buf[1024];
  // e.g. " 0x0000000000000001 (NEEDED)             Shared library: [libzmq.so.5]"
  while (::fgets(buf, sizeof buf, p) != nullptr) {
    std::string line(buf);
    if (line.find("(NEEDED)") == std::string::npos) continue;
    const size_t open = line.find('[');
    const size_t close = line.find(']', open);
    if (open == std::string::npos || close == std::string::npos) continue;
    n.libs.push_back(line.substr(open + 1, close - open - 1));
  }
  n.ok = ::pclose(p) == 0 && !n.libs.empty();
  return n;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += x + " ";
  return s;
}

// True if /proc/PID/maps shows a file whose name contains `what`.
bool Maps(int64_t pid, const std::string& what, bool* readable) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  *readable = static_cast<bool>(in);
  std::string line;
  bool any_so = false;
  while (std::getline(in, line)) {
    if (line.find(".so") != std::string::npos) any_so = true;
    if (line.find(what) != std::string::npos) return true;
  }
  *readable = *readable && any_so;
  return false;
}

TEST(CurlApiWorkerTest, WorkerBinaryDoesNotNeedLibcurl) {
  Needed worker = ReadNeeded(BinDir() + "/laneway-worker");
  ASSERT_TRUE(worker.ok) << "readelf -d printed no NEEDED entries for laneway-worker";
  EXPECT_TRUE(worker.Has("libc.so")) << Join(worker.libs);
  EXPECT_FALSE(worker.Has("libcurl")) << Join(worker.libs);
  // The same reading does see libcurl where it is linked: the supervisor's
  // Telegram channel links it normally.
  Needed supervisor = ReadNeeded(BinDir() + "/laneway-supervisor");
  ASSERT_TRUE(supervisor.ok);
  EXPECT_TRUE(supervisor.Has("libcurl.so.4")) << Join(supervisor.libs);
}

TEST(CurlApiWorkerTest, EchoWorkerNeverMapsLibcurlAndOpenAiWorkerLoadsItForItsRequest) {
  TempHome home;
  testing_util::OpenAiDouble server(home.path());
  ASSERT_TRUE(server.ok());
  SupervisorProcess sup(home);
  ASSERT_TRUE(
      sup.Start("[agents.main]\nrunner = \"echo\"\n"
                "[agents.ai]\nrunner = \"openai\"\nbase_url = \"" +
                server.base_url() + "\"\nmodel = \"double-model\"\n"))
      << sup.Log();

  CliResult echo = RunCli(home, {"agent", "--agent", "main", "--message", "hi"});
  ASSERT_EQ(echo.code, 0) << echo.err << sup.Log();
  CliResult ai = RunCli(home, {"agent", "--agent", "ai", "--message", "hello"});
  ASSERT_EQ(ai.code, 0) << ai.err << sup.Log();
  EXPECT_EQ(ai.out, "echo: hello\n");
  ASSERT_EQ(server.Requests().size(), 1u);

  const int64_t echo_pid = IntField(WorkerOf(home, "agent:main:main"), "pid");
  const int64_t ai_pid = IntField(WorkerOf(home, "agent:ai:main"), "pid");
  ASSERT_GT(echo_pid, 0);
  ASSERT_GT(ai_pid, 0);
  bool readable = false;
  EXPECT_FALSE(Maps(echo_pid, "libcurl", &readable)) << "the echo worker mapped libcurl";
  ASSERT_TRUE(readable) << "cannot read /proc/" << echo_pid << "/maps";
  EXPECT_TRUE(Maps(ai_pid, "libcurl.so.4", &readable)) << "the openai worker has no libcurl";
  ASSERT_TRUE(readable);
}

}  // namespace
}  // namespace laneway::testing
