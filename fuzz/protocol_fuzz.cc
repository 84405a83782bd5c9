// Fuzz target: the msgpack codec of the control and worker protocol
// (common/protocol.h, common/value.h). Whatever decodes must re-encode and
// decode to the same value; nothing may crash, hang or allocate without bound.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/protocol.h"
#include "common/value.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using laneway::common::DecodeMessage;
  auto m = DecodeMessage(data, size, 1 << 20);
  if (m.ok()) {
    (void)laneway::common::MessageType(*m);
    const std::string again = laneway::common::EncodeMessage(*m);
    auto round = DecodeMessage(again.data(), again.size(), 1 << 22);
    if (!round.ok() || !(*round == *m)) std::abort();  // the codec must round-trip
    (void)laneway::common::ToJson(*m);
  }
  (void)laneway::common::DecodeMsgpack(data, size);
  return 0;
}
