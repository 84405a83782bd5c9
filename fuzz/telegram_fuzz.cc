// Fuzz target: a getUpdates batch as the Telegram channel handles it
// (supervisor/channels/telegram/update_parse.cc, state_store.cc's PlanBatch)
// and the splitting of a reply into messages (message_split.cc), whose pieces
// must each fit and give back the text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/channels/telegram/message_split.h"
#include "supervisor/channels/telegram/state_store.h"
#include "supervisor/channels/telegram/update_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace laneway::supervisor::telegram;
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  BotIdentity bot{42, "laneway_bot"};
  UpdatePolicy policy;
  policy.groups = data[0] & 1;
  policy.allow_everyone = data[0] & 2;
  if (!policy.allow_everyone) policy.allow_from = {7, -100123};

  nlohmann::json batch = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (batch.is_array()) {
    std::vector<int64_t> ids;
    for (const auto& u : batch) {
      ids.push_back(u.is_object() && u.contains("update_id") && u["update_id"].is_number_integer()
                        ? u["update_id"].get<int64_t>()
                        : -1);
    }
    BatchPlan plan = PlanBatch(data[0], ids);
    for (size_t i : plan.process) {
      if (i >= batch.size()) std::abort();
      auto u = ParseUpdate(batch[i], bot, policy);
      if (u.ok() && u->action == InboundUpdate::Action::kSubmit && u->session.empty()) std::abort();
    }
  } else if (batch.is_object()) {
    (void)ParseUpdate(batch, bot, policy);
  }

  // SplitMessage raises a limit below 2 to 2 (room for one surrogate pair).
  const size_t limit = 2 + data[0] % 63;
  size_t total = 0;
  for (const std::string& piece : SplitMessage(text, limit)) {
    if (Utf16Length(piece) > limit) std::abort();
    total += piece.size();
  }
  if (total > text.size()) std::abort();
  return 0;
}
