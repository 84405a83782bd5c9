// The [channels] section of laneway.toml (docs/config.md): channels.http and
// channels.telegram, read with config_reader.h's collector and typed readers.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/config.h"
#include "common/config_reader.h"
#include "common/quote.h"
#include "common/toml_import.h"

namespace laneway::common::config_reader {
namespace {

using HC = HttpChannelConfig;
const Field<HC> kHttpFields[] = {
    {"max_connections", &HC::max_connections, 1, 100'000},
    {"max_connections_per_address", &HC::max_connections_per_address, 1, 100'000},
    {"max_payload", &HC::max_payload, 1'024, 64 << 20},
    {"max_buffered_bytes", &HC::max_buffered_bytes, 1'024, 1 << 30},
    {"handshake_timeout", &HC::handshake_timeout},
    {"tick_interval", &HC::tick_interval},
};

// "host:port" or "[v6-host]:port", port 1..65535.
bool IsValidListen(std::string_view listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = listen.substr(0, colon);
  std::string_view port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return false;  // a bare IPv6 address is ambiguous; it needs brackets
  }
  if (host.empty()) return false;
  for (char ch : host) {
    if (static_cast<unsigned char>(ch) <= ' ' || ch == '[' || ch == ']') return false;
  }
  if (port.empty() || port.size() > 5) return false;
  uint32_t n = 0;
  for (char ch : port) {
    if (ch < '0' || ch > '9') return false;
    n = n * 10 + (ch - '0');
  }
  return n >= 1 && n <= 65535;
}

bool IsValidPath(std::string_view path) {
  if (path.empty()) return false;
  for (char ch : path) {
    if (static_cast<unsigned char>(ch) < ' ') return false;
  }
  return true;
}

void ReadHttp(const toml::table& t, Checker& c, HttpChannelConfig& http) {
  http.enabled = true;
  for (auto&& [k, node] : t) {
    std::string key = Join("channels.http", k.str());
    if (k.str() == "listen") {
      ReadValidated(node, key, IsValidListen, "bad listen address",
                    "expected host:port with port 1..65535, e.g. \"127.0.0.1:18789\"", c,
                    http.listen);
    } else if (k.str() == "token_env") {
      ReadValidated(node, key, IsValidEnvName, "bad environment variable name",
                    "expected letters, digits and _, not starting with a digit", c, http.token_env);
    } else if (k.str() == "password_env") {
      ReadValidated(node, key, IsValidEnvName, "bad environment variable name",
                    "expected letters, digits and _, not starting with a digit", c,
                    http.password_env);
    } else if (k.str() == "token_file") {
      ReadValidated(node, key, IsValidPath, "bad path", "expected a non-empty file path", c,
                    http.token_file);
    } else if (k.str() == "paired_devices_file") {
      ReadValidated(node, key, IsValidPath, "bad path", "expected a non-empty file path", c,
                    http.paired_devices_file);
    } else if (!ApplyField(kHttpFields, k.str(), node, key, c, http)) {
      c.Fail(node, key, "unknown key");
    }
  }
}

bool IsValidApiBase(std::string_view base) {
  auto starts = [&](std::string_view p) { return base.substr(0, p.size()) == p; };
  if (!starts("http://") && !starts("https://")) return false;
  for (char ch : base) {
    if (static_cast<unsigned char>(ch) <= ' ') return false;
  }
  return base.back() != '/' && base.find("://") + 3 < base.size();
}

bool IsValidParseMode(std::string_view mode) {
  return mode.empty() || mode == "MarkdownV2" || mode == "HTML" || mode == "Markdown";
}

using TC = TelegramChannelConfig;
const Field<TC> kTelegramFields[] = {
    {"groups", &TC::groups},
    {"poll_timeout", &TC::poll_timeout},
    {"watchdog_margin", &TC::watchdog_margin},
    {"typing_interval", &TC::typing_interval},
    {"retry_backoff", &TC::retry_backoff},
    {"retry_backoff_max", &TC::retry_backoff_max},
};

void ReadAllowFrom(const toml::node& node, const std::string& key, Checker& c,
                   TelegramChannelConfig& tg) {
  const toml::array* arr = node.as_array();
  if (arr == nullptr) {
    c.WrongType(node, key, "an array of Telegram user ids (integers)");
    return;
  }
  tg.allow_everyone = false;
  for (size_t i = 0; i < arr->size(); ++i) {
    if (auto v = ReadInt(*arr->get(i), key + "[" + std::to_string(i) + "]", 1, INT64_MAX, c)) {
      tg.allow_from.push_back(*v);
    }
  }
}

void ReadTelegram(const toml::table& t, Checker& c, ChannelsConfig& ch) {
  TelegramChannelConfig& tg = ch.telegram;
  tg.enabled = true;
  const int errors_before = c.errors();
  for (auto&& [k, node] : t) {
    std::string key = Join("channels.telegram", k.str());
    if (k.str() == "bot_token_env") {
      ReadValidated(node, key, IsValidEnvName, "bad environment variable name",
                    "expected letters, digits and _, not starting with a digit", c,
                    tg.bot_token_env);
    } else if (k.str() == "bot_token_file") {
      ReadValidated(node, key, IsNonEmpty, "bad file name", "expected a path", c,
                    tg.bot_token_file);
    } else if (k.str() == "api_base") {
      ReadValidated(node, key, IsValidApiBase, "bad api_base",
                    "expected http:// or https:// and a host, no trailing /", c, tg.api_base);
    } else if (k.str() == "agent") {
      ReadValidated(node, key, IsValidAgentId, "invalid agent id",
                    "expected 1 to 64 characters of A-Z, a-z, 0-9, _ and -", c, tg.agent);
    } else if (k.str() == "parse_mode") {
      ReadValidated(node, key, IsValidParseMode, "unknown parse_mode",
                    "expected \"\", \"MarkdownV2\", \"HTML\" or \"Markdown\"", c, tg.parse_mode);
    } else if (k.str() == "allow_from") {
      ReadAllowFrom(node, key, c, tg);
    } else if (!ApplyField(kTelegramFields, k.str(), node, key, c, tg)) {
      c.Fail(node, key, "unknown key");
    }
  }
  if (c.errors() != errors_before) return;
  if (t.contains("bot_token_env") && t.contains("bot_token_file")) {
    c.Fail(*t.get("bot_token_file"), "channels.telegram.bot_token_file",
           "give bot_token_env or bot_token_file, not both");
  }
  if (tg.retry_backoff_max < tg.retry_backoff) {
    const toml::node* n = t.get("retry_backoff_max") ? t.get("retry_backoff_max") : &t;
    c.Fail(*n, "channels.telegram.retry_backoff_max",
           "must be at least channels.telegram.retry_backoff (got " +
               FormatDuration(tg.retry_backoff_max) + ", backoff " +
               FormatDuration(tg.retry_backoff) + ")");
  }
  if (tg.poll_timeout > std::chrono::seconds(600)) {
    c.Fail(*t.get("poll_timeout"), "channels.telegram.poll_timeout", "is too long (at most 10m)");
  }
}

void ReadHttpChannel(const toml::table& t, Checker& c, ChannelsConfig& ch) {
  ReadHttp(t, c, ch.http);
}

// The channel kinds: [channels.<name>] is read by its reader, one per kind.
struct ChannelKind {
  std::string_view name;
  void (*read)(const toml::table&, Checker&, ChannelsConfig&);
};
constexpr ChannelKind kChannelKinds[] = {
    {"http", ReadHttpChannel},
    {"telegram", ReadTelegram},
};

}  // namespace

void ReadChannels(const toml::table& t, Checker& c, Config& cfg) {
  for (auto&& [k, node] : t) {
    std::string key = Join("channels", k.str());
    const ChannelKind* kind = nullptr;
    for (const ChannelKind& ck : kChannelKinds) {
      if (ck.name == k.str()) kind = &ck;
    }
    if (kind != nullptr) {
      if (const toml::table* table = ReadTable(node, key, c)) kind->read(*table, c, cfg.channels);
    } else {
      std::string names;
      for (const ChannelKind& ck : kChannelKinds) {
        names += (names.empty() ? "" : ", ") + std::string(ck.name);
      }
      c.Fail(node, key,
             node.is_table() ? "unknown channel (expected one of " + names + ")" : "unknown key");
    }
  }
}

}  // namespace laneway::common::config_reader
