#include "supervisor/channels/http/auth.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "common/read_file.h"
#include "common/token_file.h"

namespace laneway::supervisor::http {

namespace {

std::string UnderHome(const std::string& path, const common::Paths& paths) {
  if (path.empty() || path[0] == '/') return path;
  return paths.home + "/" + path;
}

const char* EnvOrNull(const std::string& name) {
  if (name.empty()) return nullptr;
  const char* v = std::getenv(name.c_str());
  return v && *v ? v : nullptr;
}

}  // namespace

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Length differences are not secret; the contents are.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < b.size(); ++i) {
    diff |= static_cast<unsigned char>((i < n ? a[i] : 0) ^ b[i]);
  }
  return diff == 0;
}

common::Result<std::map<std::string, std::string>> ParsePairedDevices(std::string_view text) {
  auto j = ParseJson(text);
  if (!j.ok()) return j.status();
  if (!j->is_object()) return common::Status::InvalidArgument("expected a JSON object");
  std::map<std::string, std::string> out;
  for (const auto& [id, dev] : j->items()) {
    if (!dev.is_object()) continue;
    auto tokens = dev.find("tokens");
    if (tokens == dev.end() || !tokens->is_object()) continue;
    auto op = tokens->find("operator");
    if (op == tokens->end()) continue;
    std::string token = StringOr(*op, "token");
    if (!token.empty()) out[id] = token;
  }
  return out;
}

common::Result<Credentials> LoadCredentials(const common::HttpChannelConfig& cfg,
                                            const common::Paths& paths) {
  Credentials c;
  c.token_source = "none";
  if (const char* v = EnvOrNull(cfg.token_env)) {
    c.token = v;
    c.token_source = "env " + cfg.token_env;
  } else if (!cfg.token_file.empty()) {
    std::string path = UnderHome(cfg.token_file, paths);
    auto t = common::LoadOrCreateToken(path, cfg.generate_token_file);
    if (!t.ok())
      return common::Status::FailedPrecondition("channels.http.token_file: " +
                                                t.status().message());
    c.token = *t;
    c.token_source = "file " + path;
  }
  if (!cfg.password_env.empty()) {
    if (const char* v = EnvOrNull(cfg.password_env)) c.password = v;
  }
  if (!cfg.paired_devices_file.empty()) {
    std::string path = UnderHome(cfg.paired_devices_file, paths);
    auto text = common::ReadWholeFile(path, 16 << 20, "");
    if (!text.ok()) {
      return common::Status::FailedPrecondition("channels.http.paired_devices_file: " +
                                                text.status().message());
    }
    auto devices = ParsePairedDevices(*text);
    if (!devices.ok()) {
      return common::Status::FailedPrecondition("channels.http.paired_devices_file: " + path +
                                                ": " + devices.status().message());
    }
    c.device_tokens = std::move(devices).value();
  }
  return c;
}

bool AuthorizeConnect(const Credentials& creds, const Json& params) {
  if (creds.open()) return true;
  const Json empty = Json::object();
  const Json& auth = params.is_object() && params.contains("auth") ? params["auth"] : empty;
  std::string token = StringOr(auth, "token");
  std::string password = StringOr(auth, "password");
  bool ok = false;
  if (!token.empty() && !creds.token.empty()) ok |= ConstantTimeEquals(token, creds.token);
  if (!password.empty() && !creds.password.empty()) {
    ok |= ConstantTimeEquals(password, creds.password);
  }
  if (!token.empty() && !creds.device_tokens.empty() && params.is_object() &&
      params.contains("device")) {
    std::string device = StringOr(params["device"], "id");
    auto it = creds.device_tokens.find(device);
    if (it != creds.device_tokens.end()) ok |= ConstantTimeEquals(token, it->second);
  }
  return ok;
}

bool AuthorizeBearer(const Credentials& creds, std::string_view header) {
  if (creds.open()) return true;
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer) return false;
  std::string_view token = header.substr(kBearer.size());
  bool ok = false;
  if (!creds.token.empty()) ok |= ConstantTimeEquals(token, creds.token);
  if (!creds.password.empty()) ok |= ConstantTimeEquals(token, creds.password);
  return ok;
}

}  // namespace laneway::supervisor::http
