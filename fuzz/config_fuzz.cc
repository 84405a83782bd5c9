// Fuzz target: the config loader (common/config.cc, common/config_security.cc):
// any bytes are a Config or an error naming file, line and key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto c = laneway::common::ParseConfig(text, "fuzz.toml");
  if (c.ok()) {
    if (c->agents.empty()) std::abort();  // a valid config has at least one agent
  } else if (c.status().message().rfind("fuzz.toml", 0) != 0) {
    std::abort();  // every error names the file
  }
  return 0;
}
