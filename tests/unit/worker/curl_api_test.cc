// CurlApi (libcurl found with dlopen) and HttpClient calling through it: the real
// library loads with every function, a request to tests/doubles/openai_double.py
// goes through the table, and a library that cannot be loaded, or is not libcurl,
// is a clear error (HttpEnd::kUnavailable for a post), never a crash.
#include "worker/runners/curl_api.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/doubles/openai_double.h"
#include "tests/unit/temp_dir.h"
#include "worker/runners/http_client.h"

namespace laneway::worker {
namespace {

constexpr const char* kMissing = "libcurl-laneway-test-missing.so.4";

class CollectingSink : public HttpSink {
 public:
  bool OnHead(const HttpHead& h) override {
    ++heads;
    head = h;
    return true;
  }
  bool OnBody(std::string_view bytes) override {
    body.append(bytes);
    return true;
  }
  int heads = 0;
  HttpHead head;
  std::string body;
};

HttpRequest PlainChat(const std::string& base_url, const std::string& message) {
  HttpRequest req;
  req.url = base_url + "/chat/completions";
  req.headers = {"Content-Type: application/json"};
  req.body = nlohmann::json{{"model", "m"},
                            {"stream", false},
                            {"messages", {{{"role", "user"}, {"content", message}}}}}
                 .dump();
  req.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  return req;
}

TEST(CurlApiTest, GetLoadsLibcurlWithEveryFunction) {
  auto api = CurlApi::Get();
  ASSERT_TRUE(api.ok()) << api.status().message();
  const CurlApi& a = **api;
  EXPECT_NE(a.global_init, nullptr);
  EXPECT_NE(a.easy_init, nullptr);
  EXPECT_NE(a.easy_cleanup, nullptr);
  EXPECT_NE(a.easy_setopt, nullptr);
  EXPECT_NE(a.easy_getinfo, nullptr);
  EXPECT_NE(a.easy_strerror, nullptr);
  EXPECT_NE(a.multi_init, nullptr);
  EXPECT_NE(a.multi_cleanup, nullptr);
  EXPECT_NE(a.multi_add_handle, nullptr);
  EXPECT_NE(a.multi_remove_handle, nullptr);
  EXPECT_NE(a.multi_perform, nullptr);
  EXPECT_NE(a.multi_poll, nullptr);
  EXPECT_NE(a.multi_info_read, nullptr);
  EXPECT_NE(a.multi_strerror, nullptr);
  EXPECT_NE(a.slist_append, nullptr);
  EXPECT_NE(a.slist_free_all, nullptr);
  // Same table every time: loaded once per process.
  auto again = CurlApi::Get();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *api);
  // The pointers are curl's own: its strerror answers in curl's words.
  EXPECT_STREQ(a.easy_strerror(CURLE_OK), "No error");
}

TEST(CurlApiTest, UnloadableLibraryIsAnErrorNamingIt) {
  auto api = CurlApi::Load(kMissing);
  ASSERT_FALSE(api.ok());
  EXPECT_EQ(api.status().code(), common::Status::Code::kUnavailable);
  const std::string m = api.status().message();
  EXPECT_NE(m.find(std::string("cannot load ") + kMissing), std::string::npos) << m;
  EXPECT_NE(m.find("openai runner"), std::string::npos) << m;
  // dlerror's own words follow.
  EXPECT_NE(m.find("cannot open shared object file"), std::string::npos) << m;
}

TEST(CurlApiTest, LibraryWithoutCurlsSymbolsIsAnErrorNamingTheSymbol) {
  // libm loads fine and has none of curl's functions: the first one is named.
  auto api = CurlApi::Load("libm.so.6");
  ASSERT_FALSE(api.ok());
  const std::string m = api.status().message();
  EXPECT_NE(m.find("libm.so.6 has no symbol curl_global_init"), std::string::npos) << m;
}

TEST(CurlApiTest, HttpClientPostsToTheOpenAiDoubleThroughTheTable) {
  testing_util::TempDir dir;
  testing_util::OpenAiDouble server(dir.path());
  ASSERT_TRUE(server.ok());
  auto client = HttpClient::Create();
  ASSERT_TRUE(client.ok()) << client.status().message();
  for (const char* message : {"first", "second"}) {  // the second on the kept connection
    CollectingSink sink;
    HttpResult r = (*client)->Post(PlainChat(server.base_url(), message), sink, nullptr);
    EXPECT_EQ(r.end, HttpEnd::kComplete) << r.error;
    EXPECT_TRUE(r.got_head);
    EXPECT_EQ(sink.heads, 1);
    EXPECT_EQ(sink.head.status, 200);
    auto body = nlohmann::json::parse(sink.body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << sink.body;
    EXPECT_EQ(body["choices"][0]["message"]["content"], std::string("echo: ") + message)
        << sink.body;
  }
  auto reqs = server.Requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0]["path"], "/v1/chat/completions");
  EXPECT_EQ(reqs[1]["body"]["messages"][0]["content"], "second");
}

TEST(CurlApiTest, HttpClientWithoutLibcurlEndsUnavailableAndSendsNothing) {
  testing_util::TempDir dir;
  testing_util::OpenAiDouble server(dir.path());
  ASSERT_TRUE(server.ok());
  auto client = HttpClient::Create(kMissing);
  ASSERT_TRUE(client.ok()) << client.status().message();  // loading waits for a post
  for (int i = 0; i < 2; ++i) {                           // the second post gets the same answer
    CollectingSink sink;
    HttpResult r = (*client)->Post(PlainChat(server.base_url(), "hi"), sink, nullptr);
    EXPECT_EQ(r.end, HttpEnd::kUnavailable);
    EXPECT_FALSE(r.got_head);
    EXPECT_EQ(sink.heads, 0);
    EXPECT_NE(r.error.find(std::string("cannot load ") + kMissing), std::string::npos) << r.error;
  }
  EXPECT_TRUE(server.Requests().empty());
}

}  // namespace
}  // namespace laneway::worker
