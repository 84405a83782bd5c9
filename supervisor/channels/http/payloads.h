// The payloads of protocol-3 answers, built from laneway's own state (core
// `status`, `sessions` and `outcome` messages) in the field shapes that the old
// gateway's clients read (GATEWAY-PROTOCOL.md "Methods"). Pure functions.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_PAYLOADS_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_PAYLOADS_H_

#include <string>
#include <vector>

#include "common/config.h"
#include "common/value.h"
#include "supervisor/channels/http/json_value.h"

namespace laneway::supervisor::http {

// The agent ids of the config, the default ("main" if configured, else the first).
std::vector<std::string> AgentIds(const common::Config& config);
std::string DefaultAgentId(const common::Config& config);

// A core `outcome` in protocol-3 terms. ok: payload for `res ok:true`; otherwise
// error_code/error_message for `res ok:false`.
struct AgentResult {
  bool ok = false;
  Json payload;
  std::string error_code;
  std::string error_message;
};
// The final `agent` answer: ok:true only for a replied turn.
AgentResult FinalAgentResult(const std::string& run_id, const common::Value& outcome,
                             int64_t duration_ms);
// The `agent.wait` answer: ok:true with status ok / error / timeout.
Json WaitPayload(const std::string& run_id, const common::Value& outcome);

// {runId, stream, data, sessionKey, seq, ts}
Json AgentEventPayload(const std::string& run_id, const std::string& stream, Json data,
                       const std::string& session_key, int64_t seq);

// `sessions` rows (core) -> [{key, updatedAt, age}] newest first, at most `limit`.
Json RecentSessions(const common::Value& sessions, size_t limit);

Json HealthPayload(const common::Config& config, const common::Value& status,
                   const common::Value& sessions, int64_t duration_ms);
Json StatusPayload(const common::Config& config, const common::Value& status,
                   const common::Value& sessions);
Json SessionsListPayload(const common::Config& config, const common::Value& sessions);

// The methods this gateway serves (hello-ok features.methods).
const std::vector<std::string>& ServedMethods();

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_PAYLOADS_H_
