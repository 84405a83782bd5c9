// Short session names for operator commands, resolved the way `agent --session`
// does it, against the sessions the supervisor knows:
//
//   agent:<agent>:<name>   a full key, taken as it is
//   <agent>:<name>         agent:<agent>:<name>   (`main:ops` -> agent:main:ops)
//   <name>                 agent:<default agent>:<name>   (`ops` -> agent:main:ops)
//
// With an explicit agent (--agent) every form but a full key is a name of that
// agent. Where the default agent has no such session but exactly one other
// agent does, that one is meant; where several do, the name is ambiguous and
// the error lists them. A name that matches nothing resolves by the rules above
// (the supervisor then says it does not know the session).
//
// Pure logic: unit-tested without a supervisor.
#ifndef LANEWAY_CLI_SESSION_NAMES_H_
#define LANEWAY_CLI_SESSION_NAMES_H_

#include <set>
#include <string>

#include "common/status.h"

namespace laneway::cli {

// Refuses what can never name a session: empty, or nothing but white space.
common::Status CheckSessionName(const std::string& name);

// `known`: full keys of the sessions the supervisor reports. `agent` may be
// empty (no --agent). Fails (InvalidArgument) only for an ambiguous name, or
// one refused by CheckSessionName.
common::Result<std::string> ResolveSessionName(const std::string& input, const std::string& agent,
                                               const std::string& default_agent,
                                               const std::set<std::string>& known);

}  // namespace laneway::cli

#endif  // LANEWAY_CLI_SESSION_NAMES_H_
