// Fuzz target: the openai runner's stream parser (worker/runners/sse_parser.cc)
// and the chunk / completion decoders behind it (openai_protocol.cc). The same
// bytes fed whole or cut at input-chosen points give the same events.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "worker/runners/openai_protocol.h"
#include "worker/runners/sse_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace laneway::worker;
  if (size == 0) return 0;
  const uint8_t step = data[0] == 0 ? 1 : data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  SseParser whole(1 << 16);
  std::vector<SseEvent> a;
  const bool ok_a = whole.Feed(text, &a).ok() && whole.Finish(&a).ok();

  SseParser pieces(1 << 16);
  std::vector<SseEvent> b;
  bool ok_b = true;
  for (size_t pos = 0; pos < text.size() && ok_b; pos += step) {
    ok_b = pieces.Feed(text.substr(pos, step), &b).ok();
  }
  ok_b = ok_b && pieces.Finish(&b).ok();
  if (ok_a != ok_b || (ok_a && a != b)) std::abort();

  for (const SseEvent& e : a) (void)ParseChatChunk(e.data);
  (void)ParseChatCompletion(text);
  return 0;
}
