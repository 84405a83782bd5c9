// Who may use the gateway port: the shared token (from the environment or a
// token file, never from the config text), an optional password, and the device
// tokens of the old gateway's paired-device file (the migration case of
// GATEWAY-PROTOCOL.md). All comparisons take constant time in the secret's
// length. Nothing here logs a secret.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_AUTH_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_AUTH_H_

#include <map>
#include <string>
#include <string_view>

#include "common/config.h"
#include "common/paths.h"
#include "common/status.h"
#include "supervisor/channels/http/json_value.h"

namespace laneway::supervisor::http {

struct Credentials {
  std::string token;                                 // empty: no shared token (loopback only)
  std::string password;                              // empty: passwords are refused
  std::map<std::string, std::string> device_tokens;  // device id -> token
  std::string token_source;  // "env LANEWAY_TOKEN", "file /x/token", "none" (for status)

  bool open() const { return token.empty() && password.empty() && device_tokens.empty(); }
};

// Resolves the secrets `cfg` points at. Relative files are under paths.home.
common::Result<Credentials> LoadCredentials(const common::HttpChannelConfig& cfg,
                                            const common::Paths& paths);

// Parses a paired.json text: {"<deviceId>": {"tokens": {"operator": {"token": "..."}}}}.
common::Result<std::map<std::string, std::string>> ParsePairedDevices(std::string_view text);

bool ConstantTimeEquals(std::string_view a, std::string_view b);

// `connect` params: auth.token (shared or, with device.id, a device token) or
// auth.password.
bool AuthorizeConnect(const Credentials& creds, const Json& params);
// An "Authorization: Bearer <token>" header value.
bool AuthorizeBearer(const Credentials& creds, std::string_view header);

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_AUTH_H_
