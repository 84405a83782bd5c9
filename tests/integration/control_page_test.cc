// The control page on the gateway port in a real browser: headless Chromium
// (Debian chromium) driven over the DevTools protocol by gateway/control_page_cdp.py
// loads /, logs in with the token through the form, sees a busy worker, clicks
// Restart and Confirm, and sees the new pid. Skipped, saying why, where Chromium is
// missing. Also checks what the page is served with, without a browser.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/gateway_support.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

bool Has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

bool HaveChromium() {
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (::access(p, X_OK) == 0) return true;
  }
  return false;
}

TEST(ControlPageTest, PageIsServedWithoutTheTokenAndLocksItselfDown) {
  TempHome home;
  GatewayServer gw(home);
  ASSERT_TRUE(gw.Start(GatewayConfig(home))) << gw.Log();
  HttpResult page = Curl(gw.http_url("/"));
  ASSERT_EQ(page.status, 200);
  EXPECT_TRUE(Has(page.body, "<title>laneway control</title>"));
  EXPECT_FALSE(Has(page.body, kGatewayToken)) << "the page holds no secret";
  EXPECT_FALSE(Has(page.body, "http://")) << "nothing loaded from elsewhere (no CDN)";
  EXPECT_EQ(Curl(gw.http_url("/page.js")).status, 200);
  EXPECT_EQ(Curl(gw.http_url("/page.css")).status, 200);
  EXPECT_EQ(Curl(gw.http_url("/nope.js")).status, 404);
  HttpResult headers = Curl(gw.http_url("/"), {"-D", "-", "-o", "/dev/null"});
  EXPECT_TRUE(Has(headers.body, "Content-Security-Policy: default-src 'none'; script-src 'self'"))
      << headers.body;
  EXPECT_TRUE(Has(headers.body, "Content-Type: text/html")) << headers.body;
  // A WebSocket opened by a page of another origin is refused; the page's own is not.
  auto upgrade = [&](const std::string& origin) {
    return Curl(gw.http_url("/"),
                {"-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H",
                 "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                 "-H", "Origin: " + origin, "-m", "3", "-o", "/dev/null"})
        .status;
  };
  EXPECT_EQ(upgrade("http://evil.example"), 403);
  EXPECT_EQ(upgrade("http://" + gw.addr()), 101);
}

TEST(ControlPageTest, BrowserLogsInSeesABusyWorkerRestartsItAndSeesTheNewPid) {
  if (!HaveChromium()) GTEST_SKIP() << "chromium missing (Debian package chromium)";
  TempHome home;
  GatewayServer gw(home);
  ASSERT_TRUE(gw.Start(GatewayConfig(home))) << gw.Log();
  const std::string session = "agent:main:page";
  auto busy = RunCliAsync(home, {"agent", "--agent", "main", "--session", "page", "--message",
                                 "gate held for the page"});
  ASSERT_TRUE(WaitForWorker(home, session, "busy")) << gw.Log();
  const int64_t old_pid = IntField(WorkerOf(home, session), "pid");

  const std::string shot = std::string(LANEWAY_BUILD_DIR) + "/control-page.png";
  ProcResult r = RunProgram({std::string(LANEWAY_SOURCE_DIR) +
                                 "/tests/integration/gateway/control_page_cdp.py",
                             gw.http_url("/"), kGatewayToken, session, shot},
                            {}, std::chrono::seconds(120));
  nlohmann::json out = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(out.is_object()) << r.out << r.err;
  ASSERT_TRUE(out.value("ok", false)) << r.out;
  EXPECT_EQ(out["old_pid"].get<int64_t>(), old_pid);
  const int64_t new_pid = out["new_pid"].get<int64_t>();
  EXPECT_NE(new_pid, old_pid);
  EXPECT_EQ(IntField(WorkerOf(home, session), "pid"), new_pid) << "the page shows the real pid";
  EXPECT_FALSE(Has(out.value("href", ""), kGatewayToken)) << "the token never goes in the URL";
  EXPECT_EQ(::access(shot.c_str(), R_OK), 0);
  // The held turn ended (its worker was restarted under it).
  EXPECT_EQ(busy.get().code, 1);
  ExpectEveryTurnSettled(home);
}

}  // namespace
}  // namespace laneway::testing
