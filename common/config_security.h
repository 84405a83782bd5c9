// The [supervisor] keys that say who may talk to the control socket
// (control_allow_uids, control_allow_group): their reader, kept apart from
// config.cc's table because they are lists and names, not ranged scalars.
//
// Internal to the config loader (it names toml++ types); config.cc calls it for
// every [supervisor] key before its Field table. Nothing here resolves a group
// name against the system: that happens when the supervisor starts
// (supervisor/peer_auth.h), so a config can be checked on another host.
#ifndef LANEWAY_COMMON_CONFIG_SECURITY_H_
#define LANEWAY_COMMON_CONFIG_SECURITY_H_

#include <string>
#include <string_view>

#include "common/config.h"
#include "common/toml_import.h"

namespace laneway::common {

// True if `name` is one of the keys read here. Then a bad value leaves `s`
// unchanged and sets *error to what is wrong with it (without file, line or key:
// the caller adds them); a good one is applied and leaves *error empty.
bool ReadSupervisorAccessKey(std::string_view name, const toml::node& node, SupervisorConfig& s,
                             std::string* error);

// A POSIX-portable user or group name: [A-Za-z_][A-Za-z0-9_.-]*, at most 32
// characters, optionally ending in '$'.
bool IsValidGroupName(std::string_view name);

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_CONFIG_SECURITY_H_
