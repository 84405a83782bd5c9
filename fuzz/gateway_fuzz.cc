// Fuzz target: what a gateway-port client sends — WebSocket request frames and
// their JSON (supervisor/channels/http/frames.cc, json_value.cc), the
// /v1/chat/completions body (openai_http.cc) and a paired-devices file
// (auth.cc). HTTP framing itself is Boost.Beast's, not ours.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/config.h"
#include "supervisor/channels/http/auth.h"
#include "supervisor/channels/http/frames.h"
#include "supervisor/channels/http/json_value.h"
#include "supervisor/channels/http/openai_http.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace laneway::supervisor::http;
  static const laneway::common::Config config = [] {
    auto c = laneway::common::ParseConfig(
        "[agents.main]\nrunner = \"echo\"\n[agents.ops]\nrunner = \"echo\"\n", "fuzz.toml");
    if (!c.ok()) std::abort();
    return *c;
  }();
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string id;
  auto req = ParseReq(text, &id);
  if (req.ok()) {
    (void)ResOk(req->id, req->params);
    (void)AuthorizeConnect(Credentials{"tok", "", {}, "none"}, req->params);
  } else {
    (void)ResError(id, kInvalidRequest, req.status().message());
  }
  auto j = ParseJson(text);
  if (j.ok()) {
    // JSON -> Value -> JSON keeps what the core can carry.
    (void)DumpJson(ValueToJson(JsonToValue(*j)));
    (void)StringOr(*j, "model");
    (void)IntOr(*j, "minProtocol", 3);
  }
  ChatRequest chat;
  const std::string header = size > 0 && data[0] & 1 ? "sess-1" : "";
  (void)ParseChatRequest(text, header, config, &chat);
  (void)ParsePairedDevices(text);
  (void)AuthorizeBearer(Credentials{"tok", "pw", {}, "none"}, text);
  return 0;
}
