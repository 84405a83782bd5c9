// GET /metrics on the gateway port against the real supervisor: the bearer token,
// text format 0.0.4 validated by `promtool check metrics` (Debian's prometheus
// package), and the families the issue lists, after real turns.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/integration/gateway_support.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

bool Has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

const char* Promtool() {
  for (const char* p : {"/usr/bin/promtool", "/usr/local/bin/promtool"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return nullptr;
}

class MetricsHttpTest : public ::testing::Test {
 protected:
  HttpResult Scrape(const std::string& token = kGatewayToken) {
    std::vector<std::string> args;
    if (!token.empty()) args = {"-H", "Authorization: Bearer " + token};
    return Curl(gw_.http_url("/metrics"), args);
  }
  TempHome home_;
  GatewayServer gw_{home_};
};

TEST_F(MetricsHttpTest, ScrapeNeedsTheTokenAndServesTextFormat004) {
  ASSERT_TRUE(gw_.Start(GatewayConfig(home_))) << gw_.Log();
  EXPECT_EQ(Scrape("").status, 401);
  EXPECT_EQ(Scrape("wrong").status, 401);
  HttpResult headers = Curl(gw_.http_url("/metrics"),
                            {"-D", "-", "-o", "/dev/null", "-H",
                             std::string("Authorization: Bearer ") + kGatewayToken});
  EXPECT_EQ(headers.status, 200);
  EXPECT_TRUE(Has(headers.body, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
      << headers.body;
  EXPECT_EQ(Curl(gw_.http_url("/metrics"), {"-X", "POST", "-H",
                                            std::string("Authorization: Bearer ") + kGatewayToken})
                .status,
            405);
}

TEST_F(MetricsHttpTest, CountsRealTurnsAndPassesPromtool) {
  ASSERT_TRUE(gw_.Start(GatewayConfig(home_))) << gw_.Log();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(RunCli(home_, {"agent", "--agent", "main", "--message", "hi " + std::to_string(i)})
                  .code,
              0);
  }
  EXPECT_EQ(RunCli(home_, {"agent", "--agent", "main", "--message", "fail now"}).code, 1);
  HttpResult r = Scrape();
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string& m = r.body;
  EXPECT_TRUE(Has(m, "laneway_turns_total{outcome=\"replied\"} 3\n")) << m;
  EXPECT_TRUE(Has(m, "laneway_turns_total{outcome=\"failed\"} 1\n")) << m;
  EXPECT_TRUE(Has(m, "laneway_turn_duration_seconds_count 4\n")) << m;
  EXPECT_TRUE(Has(m, "laneway_turn_queue_wait_seconds_count 4\n")) << m;
  EXPECT_TRUE(Has(m, "laneway_turn_duration_seconds_bucket{le=\"+Inf\"} 4\n")) << m;
  EXPECT_TRUE(Has(m, "laneway_workers{state=\"idle\"} 1\n")) << m;
  EXPECT_TRUE(Has(m, "laneway_worker_spawns_total 1\n")) << m;
  EXPECT_TRUE(Has(m, "# TYPE laneway_journal_sync_seconds histogram")) << m;
  EXPECT_FALSE(Has(m, "laneway_journal_sync_seconds_count 0\n")) << "syncs were measured";
  EXPECT_TRUE(Has(m, "laneway_journal_bytes ")) << m;
  EXPECT_TRUE(Has(m, "laneway_queue_depth 0\n")) << m;
  EXPECT_TRUE(Has(m, "laneway_sessions_parked 0\n")) << m;
  EXPECT_TRUE(Has(m, "laneway_max_workers_reached_total 0\n")) << m;
  EXPECT_TRUE(Has(m, "laneway_channel_up{channel=\"http\"} 1\n")) << m;
  EXPECT_TRUE(Has(m, "laneway_channel_errors_total{channel=\"http\",kind=\"auth_failure\"} 0\n"))
      << m;
  EXPECT_TRUE(Has(m, "laneway_build_info{version=\"")) << m;
  EXPECT_TRUE(Has(m, "process_resident_memory_bytes ")) << m;
  EXPECT_TRUE(Has(m, "process_start_time_seconds ")) << m;
  EXPECT_FALSE(Has(m, "agent:main:main")) << "no per-session labels";
  // Wrong token attempts show up as channel errors.
  Scrape("wrong");
  EXPECT_TRUE(Has(Scrape().body,
                  "laneway_channel_errors_total{channel=\"http\",kind=\"auth_failure\"} 1\n"));

  const char* promtool = Promtool();
  if (promtool == nullptr) GTEST_SKIP() << "promtool missing (Debian package prometheus)";
  const std::string file = home_.path() + "/metrics.txt";
  std::ofstream(file) << m;
  ProcResult check = RunProgram({"/bin/sh", "-c", std::string(promtool) +
                                                      " check metrics < '" + file + "' 2>&1"});
  EXPECT_EQ(check.code, 0) << check.out;
  EXPECT_EQ(check.out, "") << "promtool lint findings:\n" << check.out;
}

TEST_F(MetricsHttpTest, ControlSocketServesTheSameText) {
  ASSERT_TRUE(gw_.Start(GatewayConfig(home_))) << gw_.Log();
  common::Value v = Call(home_, "metrics");
  EXPECT_TRUE(Has(StrField(v, "text"), "# TYPE laneway_turns_total counter")) << common::ToJson(v);
  EXPECT_EQ(StrField(v, "content_type"), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace
}  // namespace laneway::testing
