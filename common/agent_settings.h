// Agent settings on the wire: the `configure` message the supervisor sends a new
// worker right after its `hello` carries the agent's AgentConfig as a Value map
// (docs/protocol.md), so per-agent settings never travel as argv.
//
// Secrets are never part of it: keys such as api_key_env / api_key_file name where
// the worker finds a secret; the worker reads it itself.
#ifndef LANEWAY_COMMON_AGENT_SETTINGS_H_
#define LANEWAY_COMMON_AGENT_SETTINGS_H_

#include "common/config.h"
#include "common/status.h"
#include "common/value.h"

namespace laneway::common {

Value AgentSettingsToValue(const AgentConfig& agent);
// Decodes what AgentSettingsToValue wrote; an error names the first bad field.
Result<AgentConfig> AgentSettingsFromValue(const Value& v);

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_AGENT_SETTINGS_H_
