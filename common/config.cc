// The TOML adapter: toml++ throws, so every call into it stays in this file,
// behind a catch, and what comes out is a Config or a Status.
//
// Validation walks the whole document and records every error with its line;
// the one reported is the earliest in the file. toml++ keeps tables sorted by
// key, not in file order, so "first found" would otherwise depend on spelling.
#include "common/config.h"

#include <fcntl.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "common/config_cron.h"
#include "common/config_security.h"
#include "common/duration.h"
#include "common/quote.h"
#include "common/read_file.h"

namespace laneway::common {

namespace {

using Millis = std::chrono::milliseconds;

// Large enough for any sane timeout, small enough that steady_clock::now()
// plus it cannot overflow the nanosecond clock (which would be UB).
constexpr Millis kMaxDuration = std::chrono::hours(24 * 365);
constexpr size_t kMaxAgentIdLength = 64;
constexpr size_t kMaxConfigBytes = 16 << 20;

bool IsIdChar(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '_' || ch == '-';
}

bool IsValidAgentId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxAgentIdLength &&
         std::all_of(id.begin(), id.end(), IsIdChar);
}

// One part of a dotted key, written the way TOML would need it.
std::string KeyPart(std::string_view part) {
  bool bare = !part.empty() && std::all_of(part.begin(), part.end(), IsIdChar);
  return bare ? std::string(part) : Quote(part);
}

std::string Join(const std::string& prefix, std::string_view part) {
  return prefix.empty() ? KeyPart(part) : prefix + "." + KeyPart(part);
}

template <typename E>
using NameTable = std::pair<E, const char*>;

// The one place each enum's spelling lives: used to parse and to print.
constexpr NameTable<RunnerKind> kRunnerNames[] = {
    {RunnerKind::kEcho, "echo"}, {RunnerKind::kExec, "exec"}, {RunnerKind::kOpenAi, "openai"}};
constexpr NameTable<QueueMode> kQueueModeNames[] = {{QueueMode::kQueue, "queue"},
                                                    {QueueMode::kCollect, "collect"},
                                                    {QueueMode::kInterrupt, "interrupt"}};
constexpr NameTable<toml::node_type> kTypeNames[] = {
    {toml::node_type::string, "a string"},
    {toml::node_type::integer, "an integer"},
    {toml::node_type::floating_point, "a floating-point number"},
    {toml::node_type::boolean, "a boolean"},
    {toml::node_type::date, "a date"},
    {toml::node_type::time, "a time"},
    {toml::node_type::date_time, "a date-time"},
    {toml::node_type::array, "an array"},
    {toml::node_type::table, "a table"}};

template <typename E, size_t N>
const char* NameOf(const NameTable<E> (&table)[N], E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> FromName(const NameTable<E> (&table)[N], std::string_view name) {
  for (const auto& [v, n] : table) {
    if (name == n) return v;
  }
  return std::nullopt;
}

const char* TypeName(toml::node_type type) { return NameOf(kTypeNames, type); }

uint32_t LineOf(const toml::node& node) { return node.source().begin.line; }

// Collects errors and reports the earliest one in the file.
class Checker {
 public:
  explicit Checker(std::string source) : source_(std::move(source)) {}

  void Fail(uint32_t line, const std::string& key, const std::string& what) {
    std::string where = line == 0 ? source_ : source_ + ":" + std::to_string(line);
    Record(line, where + ": " + key + ": " + what);
  }
  void Fail(const toml::node& at, const std::string& key, const std::string& what) {
    Fail(LineOf(at), key, what);
  }
  void WrongType(const toml::node& at, const std::string& key, const char* expected) {
    Fail(at, key, std::string("expected ") + expected + ", got " + TypeName(at.type()));
  }
  // An error about the config as a whole, with no line to point at.
  void FailWhole(const std::string& what) { Record(0, source_ + ": " + what); }

  bool ok() const { return errors_ == 0; }
  int errors() const { return errors_; }
  Status status() const { return ok() ? Status::Ok() : Status::InvalidArgument(message_); }

 private:
  // Line 0 (unknown) sorts after every real line.
  void Record(uint32_t line, std::string message) {
    uint32_t rank = line == 0 ? UINT32_MAX : line;
    if (errors_++ > 0 && rank >= rank_) return;
    rank_ = rank;
    message_ = std::move(message);
  }

  std::string source_;
  int errors_ = 0;
  uint32_t rank_ = 0;
  std::string message_;
};

// --- Typed readers: each records an error and returns nullopt on failure. ---

std::optional<int64_t> ReadInt(const toml::node& node, const std::string& key, int64_t min,
                               int64_t max, Checker& c) {
  const auto* v = node.as_integer();
  if (v == nullptr) {
    c.WrongType(node, key, "an integer");
    return std::nullopt;
  }
  int64_t value = v->get();
  if (value < min || value > max) {
    c.Fail(node, key,
           std::to_string(value) + " is out of range (expected " + std::to_string(min) + ".." +
               std::to_string(max) + ")");
    return std::nullopt;
  }
  return value;
}

std::optional<std::string_view> ReadString(const toml::node& node, const std::string& key,
                                           Checker& c) {
  const auto* v = node.as_string();
  if (v == nullptr) {
    c.WrongType(node, key, "a string");
    return std::nullopt;
  }
  return std::string_view(v->get());
}

std::optional<Millis> ReadDuration(const toml::node& node, const std::string& key, Checker& c) {
  const auto* v = node.as_string();
  if (v == nullptr) {
    c.WrongType(node, key, "a duration string such as \"10s\"");
    return std::nullopt;
  }
  Result<Millis> d = ParseDuration(v->get());
  if (!d.ok()) {
    c.Fail(node, key, d.status().message());
    return std::nullopt;
  }
  if (d->count() <= 0) {
    c.Fail(node, key, "must be greater than 0, got " + Quote(v->get()));
    return std::nullopt;
  }
  if (*d > kMaxDuration) {
    c.Fail(node, key,
           Quote(v->get()) + " is too long (at most " + FormatDuration(kMaxDuration) + ")");
    return std::nullopt;
  }
  return *d;
}

const toml::table* ReadTable(const toml::node& node, const std::string& key, Checker& c) {
  const toml::table* t = node.as_table();
  if (t == nullptr) c.WrongType(node, key, "a table");
  return t;
}

// --- The declarative part: plain keys of each section and their ranges. ---

template <typename Cfg>
struct Field {
  std::string_view name;
  std::variant<uint32_t Cfg::*, Millis Cfg::*, bool Cfg::*> member;
  int64_t min = 0;  // integers only
  int64_t max = 0;
};

using SC = SupervisorConfig;
const Field<SC> kSupervisorFields[] = {
    {"max_workers", &SC::max_workers, 1, 100'000},
    {"idle_timeout", &SC::idle_timeout},
    {"heartbeat_interval", &SC::heartbeat_interval},
    {"heartbeat_timeout", &SC::heartbeat_timeout},
    {"restart_limit", &SC::restart_limit, 1, 1'000},
    {"restart_window", &SC::restart_window},
    {"restart_backoff", &SC::restart_backoff},
    {"restart_backoff_max", &SC::restart_backoff_max},
    {"stuck_after", &SC::stuck_after},
    {"drain_timeout", &SC::drain_timeout},
    {"max_message_bytes", &SC::max_message_bytes, 1'024, 64 << 20},
    {"max_turns_in_memory", &SC::max_turns_in_memory, 1, 10'000'000},
    {"remember_turns", &SC::remember_turns, 1, 10'000'000},
    {"remember_for", &SC::remember_for},  // ReadDuration: > 0 and at most 365d
    {"spare_workers", &SC::spare_workers, 0, 10'000},
    {"spawn_concurrency", &SC::spawn_concurrency, 0, 10'000},
    {"spawn_rate", &SC::spawn_rate, 0, 1'000'000},
    {"worker_nice", &SC::worker_nice, 0, 19},
    {"max_queued_bytes_per_session", &SC::max_queued_bytes_per_session, 1'024, 4'000'000'000},
    {"max_queued_bytes_total", &SC::max_queued_bytes_total, 1'024, 4'000'000'000},
};

// runner, command and queue_mode are read by hand in ReadAgent.
using AC = AgentConfig;
const Field<AC> kAgentFields[] = {
    {"run_timeout", &AC::run_timeout},
    {"kill_grace", &AC::kill_grace},
    {"max_queue", &AC::max_queue, 1, 1'000'000},
    {"retry_on_restart", &AC::retry_on_restart},
    {"max_attempts", &AC::max_attempts, 1, 100},
    {"max_completion_tokens", &AC::max_completion_tokens, 1, 10'000'000},
    {"history_turns", &AC::history_turns, 0, 10'000},
    {"history_bytes", &AC::history_bytes, 0, 64 << 20},
    {"connect_timeout", &AC::connect_timeout},
    {"idle_timeout", &AC::idle_timeout},
};

// Keys that only the openai runner reads (docs/openai.md).
constexpr std::string_view kOpenAiKeys[] = {
    "base_url",
    "model",
    "api_key_env",
    "api_key_file",
    "system_prompt",
    "system_prompt_file",
    "max_completion_tokens",
    "temperature",
    "history_turns",
    "history_bytes",
    "connect_timeout",
    "idle_timeout",
    "fallback_models",
    "headers",
};

bool IsOpenAiKey(std::string_view name) {
  return std::find(std::begin(kOpenAiKeys), std::end(kOpenAiKeys), name) != std::end(kOpenAiKeys);
}

// Applies `node` to the field named `name`; false if no such field.
template <typename Cfg, size_t N>
bool ApplyField(const Field<Cfg> (&fields)[N], std::string_view name, const toml::node& node,
                const std::string& key, Checker& c, Cfg& cfg) {
  for (const Field<Cfg>& f : fields) {
    if (f.name != name) continue;
    std::visit(
        [&](auto member) {
          using T = std::remove_reference_t<decltype(cfg.*member)>;
          if constexpr (std::is_same_v<T, uint32_t>) {
            if (auto v = ReadInt(node, key, f.min, f.max, c)) cfg.*member = uint32_t(*v);
          } else if constexpr (std::is_same_v<T, Millis>) {
            if (auto v = ReadDuration(node, key, c)) cfg.*member = *v;
          } else {
            if (const auto* b = node.as_boolean()) {
              cfg.*member = b->get();
            } else {
              c.WrongType(node, key, "a boolean");
            }
          }
        },
        f.member);
    return true;
  }
  return false;
}

using HC = HttpChannelConfig;
const Field<HC> kHttpFields[] = {
    {"max_connections", &HC::max_connections, 1, 100'000},
    {"max_connections_per_address", &HC::max_connections_per_address, 1, 100'000},
    {"max_payload", &HC::max_payload, 1'024, 64 << 20},
    {"max_buffered_bytes", &HC::max_buffered_bytes, 1'024, 1 << 30},
    {"handshake_timeout", &HC::handshake_timeout},
    {"tick_interval", &HC::tick_interval},
};

// --- Sections. ---

void ReadSupervisor(const toml::table& t, Checker& c, SupervisorConfig& s) {
  const int errors_before = c.errors();
  for (auto&& [k, node] : t) {
    std::string key = Join("supervisor", k.str());
    std::string error;
    if (ReadSupervisorAccessKey(k.str(), node, s, &error)) {
      if (!error.empty()) c.Fail(node, key, error);
    } else if (!ApplyField(kSupervisorFields, k.str(), node, key, c, s)) {
      c.Fail(node, key, "unknown key");
    }
  }
  // Relations between keys only make sense once each key is valid on its own.
  if (c.errors() != errors_before) return;
  auto line_of = [&](const char* a, const char* b) {
    const toml::node* n = t.get(a) ? t.get(a) : t.get(b);
    return n ? LineOf(*n) : LineOf(t);
  };
  if (s.heartbeat_timeout <= s.heartbeat_interval) {
    c.Fail(line_of("heartbeat_timeout", "heartbeat_interval"), "supervisor.heartbeat_timeout",
           "must be greater than supervisor.heartbeat_interval (got " +
               FormatDuration(s.heartbeat_timeout) + ", interval " +
               FormatDuration(s.heartbeat_interval) + ")");
  }
  if (s.spare_workers > s.max_workers) {
    c.Fail(line_of("spare_workers", "max_workers"), "supervisor.spare_workers",
           "must be at most supervisor.max_workers (got " + std::to_string(s.spare_workers) +
               ", max_workers " + std::to_string(s.max_workers) + ")");
  }
  if (s.restart_backoff_max < s.restart_backoff) {
    c.Fail(line_of("restart_backoff_max", "restart_backoff"), "supervisor.restart_backoff_max",
           "must be at least supervisor.restart_backoff (got " +
               FormatDuration(s.restart_backoff_max) + ", backoff " +
               FormatDuration(s.restart_backoff) + ")");
  }
}

// `what` names the key in the message ("unknown runner \"bash\""), `expected`
// lists the choices.
template <typename E, size_t N>
void ReadEnum(const NameTable<E> (&table)[N], const toml::node& node, const std::string& key,
              const char* what, const char* expected, Checker& c, E& out, bool* ok = nullptr) {
  auto name = ReadString(node, key, c);
  if (!name) return;
  if (auto v = FromName(table, *name)) {
    out = *v;
    if (ok != nullptr) *ok = true;
  } else {
    c.Fail(node, key,
           std::string("unknown ") + what + " " + Quote(*name) + " (expected " + expected + ")");
  }
}

bool IsValidEnvName(std::string_view name);
void ReadValidated(const toml::node& node, const std::string& key, bool (*valid)(std::string_view),
                   const char* what, const char* expected, Checker& c, std::string& out);

bool IsValidBaseUrl(std::string_view url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.substr(0, scheme.size()) != scheme) continue;
    std::string_view rest = url.substr(scheme.size());
    if (rest.empty() || rest.front() == '/') return false;
    for (char ch : rest) {
      if (static_cast<unsigned char>(ch) <= ' ' || ch == 0x7f) return false;
    }
    return true;
  }
  return false;
}

bool IsNonEmpty(std::string_view s) { return !s.empty(); }

// An HTTP field name: RFC 9110 token characters.
bool IsHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char ch : name) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char ch) { return ch >= 'A' && ch <= 'Z' ? char(ch - 'A' + 'a') : ch; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

void ReadStringList(const toml::node& node, const std::string& key, Checker& c,
                    std::vector<std::string>& out) {
  const toml::array* arr = node.as_array();
  if (arr == nullptr) {
    c.WrongType(node, key, "an array of strings");
    return;
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::node& elem = *arr->get(i);
    std::string elem_key = key + "[" + std::to_string(i) + "]";
    auto s = ReadString(elem, elem_key, c);
    if (!s) continue;
    if (s->empty()) {
      c.Fail(elem, elem_key, "must not be empty");
      continue;
    }
    out.emplace_back(*s);
  }
}

void ReadHeaders(const toml::node& node, const std::string& key, Checker& c, AgentConfig& a) {
  const toml::table* t = ReadTable(node, key, c);
  if (t == nullptr) return;
  for (auto&& [k, value] : *t) {
    std::string hkey = Join(key, k.str());
    if (!IsHeaderName(k.str())) {
      c.Fail(value, hkey, "bad header name " + Quote(k.str()));
      continue;
    }
    for (std::string_view reserved :
         {"Authorization", "Content-Type", "Content-Length", "Host", "Transfer-Encoding"}) {
      if (EqualsNoCase(k.str(), reserved)) {
        c.Fail(value, hkey,
               std::string(reserved) + " is set by the runner" +
                   (reserved == "Authorization" ? " (use api_key_env or api_key_file)" : ""));
      }
    }
    auto v = ReadString(value, hkey, c);
    if (!v) continue;
    if (v->find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
      c.Fail(value, hkey, "header value must not contain CR, LF or NUL");
      continue;
    }
    a.headers[std::string(k.str())] = std::string(*v);
  }
}

// The openai runner's keys that the Field table cannot express.
bool ReadOpenAiKey(std::string_view name, const toml::node& node, const std::string& key,
                   Checker& c, AgentConfig& a) {
  auto plain = [&](std::string& out) {
    if (auto v = ReadString(node, key, c)) out = std::string(*v);
  };
  auto non_empty = [&](std::string& out) {
    ReadValidated(node, key, IsNonEmpty, "empty value", "expected a non-empty string", c, out);
  };
  if (name == "base_url") {
    ReadValidated(node, key, IsValidBaseUrl, "bad base_url",
                  "expected http:// or https:// and a host, e.g. \"http://127.0.0.1:11434/v1\"", c,
                  a.base_url);
  } else if (name == "model" || name == "api_key_file" || name == "system_prompt_file") {
    non_empty(name == "model"          ? a.model
              : name == "api_key_file" ? a.api_key_file
                                       : a.system_prompt_file);
  } else if (name == "api_key_env") {
    ReadValidated(node, key, IsValidEnvName, "bad environment variable name",
                  "expected letters, digits and _, not starting with a digit", c, a.api_key_env);
  } else if (name == "system_prompt") {
    plain(a.system_prompt);
  } else if (name == "temperature") {
    std::optional<double> v;
    if (const auto* f = node.as_floating_point()) v = f->get();
    if (const auto* i = node.as_integer()) v = static_cast<double>(i->get());
    if (!v) {
      c.WrongType(node, key, "a number");
    } else if (!(*v >= 0.0 && *v <= 2.0)) {
      c.Fail(node, key, "out of range (expected 0 to 2)");
    } else {
      a.temperature = *v;
    }
  } else if (name == "fallback_models") {
    ReadStringList(node, key, c, a.fallback_models);
  } else if (name == "headers") {
    ReadHeaders(node, key, c, a);
  } else {
    return false;
  }
  return true;
}

// Rules of runner = "openai": what it needs, what may not go together.
void CheckOpenAi(const toml::table& t, const std::string& prefix, Checker& c) {
  for (const char* required : {"base_url", "model"}) {
    if (!t.contains(required)) {
      c.Fail(t, prefix + "." + required, "missing (required for runner = openai)");
    }
  }
  for (auto [a, b] : {std::pair{"api_key_env", "api_key_file"},
                      std::pair{"system_prompt", "system_prompt_file"}}) {
    if (t.contains(a) && t.contains(b)) {
      c.Fail(*t.get(b), prefix + "." + b,
             std::string("give either ") + a + " or " + b + ", not both");
    }
  }
}

void ReadAgent(std::string_view id, const toml::table& t, Checker& c, AgentConfig& a) {
  std::string prefix = Join("agents", id);
  a.id = std::string(id);
  bool runner_ok = false;
  for (auto&& [k, node] : t) {
    std::string key = Join(prefix, k.str());
    if (k.str() == "runner") {
      ReadEnum(kRunnerNames, node, key, "runner", "echo, exec or openai", c, a.runner, &runner_ok);
    } else if (k.str() == "queue_mode") {
      ReadEnum(kQueueModeNames, node, key, "queue_mode", "queue, collect or interrupt", c,
               a.queue_mode);
    } else if (k.str() == "command") {
      ReadStringList(node, key, c, a.command);
    } else if (!ReadOpenAiKey(k.str(), node, key, c, a) &&
               !ApplyField(kAgentFields, k.str(), node, key, c, a)) {
      c.Fail(node, key, "unknown key");
    }
  }
  std::string command_key = prefix + ".command";
  const toml::node* command = t.get("command");
  if (!t.contains("runner")) {
    c.Fail(t, prefix + ".runner", "missing (required: echo, exec or openai)");
  } else if (!runner_ok) {
    // Already reported; the command rules depend on knowing the runner.
  } else if (a.runner == RunnerKind::kExec) {
    if (command == nullptr) {
      c.Fail(t, command_key, "missing (required for runner = exec)");
    } else if (command->is_array() && command->as_array()->empty()) {
      c.Fail(*command, command_key, "must not be empty for runner = exec");
    }
  } else if (command != nullptr) {
    c.Fail(*command, command_key,
           std::string("command is only for runner = exec (this agent's runner is ") +
               RunnerKindName(a.runner) + ")");
  }
  if (!runner_ok) return;
  if (a.runner == RunnerKind::kOpenAi) {
    CheckOpenAi(t, prefix, c);
    return;
  }
  for (auto&& [k, node] : t) {
    if (!IsOpenAiKey(k.str())) continue;
    c.Fail(node, Join(prefix, k.str()),
           std::string("only for runner = openai (this agent's runner is ") +
               RunnerKindName(a.runner) + ")");
  }
}

void ReadAgents(const toml::table& t, Checker& c, Config& cfg) {
  for (auto&& [k, node] : t) {
    std::string key = Join("agents", k.str());
    if (!IsValidAgentId(k.str())) {
      c.Fail(node, key,
             "invalid agent id " + Quote(k.str()) +
                 " (expected 1 to 64 characters of A-Z, a-z, 0-9, _ and -)");
      continue;
    }
    const toml::table* agent = ReadTable(node, key, c);
    if (agent == nullptr) continue;
    AgentConfig a;
    ReadAgent(k.str(), *agent, c, a);
    cfg.agents.emplace(a.id, std::move(a));
  }
}

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

bool IsValidEnvName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char ch : name) {
    if (!IsIdChar(ch) || ch == '-') return false;
  }
  return true;
}

bool IsValidPath(std::string_view path) {
  if (path.empty()) return false;
  for (char ch : path) {
    if (static_cast<unsigned char>(ch) < ' ') return false;
  }
  return true;
}

// A string key whose value must pass `valid`; `what` and `expected` word the error.
void ReadValidated(const toml::node& node, const std::string& key, bool (*valid)(std::string_view),
                   const char* what, const char* expected, Checker& c, std::string& out) {
  auto v = ReadString(node, key, c);
  if (!v) return;
  if (!valid(*v)) {
    c.Fail(node, key, std::string(what) + " " + Quote(*v) + " (" + expected + ")");
    return;
  }
  out = std::string(*v);
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

void ReadRoot(const toml::table& root, Checker& c, Config& cfg) {
  for (auto&& [k, node] : root) {
    std::string key = KeyPart(k.str());
    if (k.str() == "supervisor") {
      if (const toml::table* t = ReadTable(node, key, c)) ReadSupervisor(*t, c, cfg.supervisor);
    } else if (k.str() == "agents") {
      if (const toml::table* t = ReadTable(node, key, c)) ReadAgents(*t, c, cfg);
    } else if (k.str() == "channels") {
      if (const toml::table* t = ReadTable(node, key, c)) ReadChannels(*t, c, cfg);
    } else if (k.str() == "cron" || k.str() == "subagents") {
      auto fail = [&c](const toml::node& n, const std::string& at, const std::string& what) {
        c.Fail(n, at, what);
      };
      if (const toml::table* t = ReadTable(node, key, c)) ReadCronSection(k.str(), *t, fail, cfg);
    } else if (node.is_table()) {
      c.Fail(node, key,
             "unknown table (expected supervisor, agents, channels, cron or subagents)");
    } else {
      c.Fail(node, key, "unknown key");
    }
  }
  if (c.ok() && cfg.agents.empty()) {
    c.FailWhole("no agents configured (add at least one [agents.<id>] table)");
  }
  if (c.ok() && cfg.channels.telegram.enabled && !cfg.FindAgent(cfg.channels.telegram.agent)) {
    const toml::node* at = root.at_path("channels.telegram.agent").node();
    if (at == nullptr) at = root.at_path("channels.telegram").node();
    c.Fail(*at, "channels.telegram.agent",
           "no such agent " + Quote(cfg.channels.telegram.agent) + " (add [agents." +
               KeyPart(cfg.channels.telegram.agent) + "] or name another)");
  }
}

}  // namespace

const char* RunnerKindName(RunnerKind k) { return NameOf(kRunnerNames, k); }

const char* QueueModeName(QueueMode m) { return NameOf(kQueueModeNames, m); }

const AgentConfig* Config::FindAgent(const std::string& id) const {
  auto it = agents.find(id);
  return it == agents.end() ? nullptr : &it->second;
}

Config DefaultConfig() {
  Config cfg;
  cfg.source = "<built-in>";
  AgentConfig main;
  main.id = "main";
  main.runner = RunnerKind::kEcho;
  cfg.agents.emplace(main.id, std::move(main));
  return cfg;
}

Config BuiltInConfig() {
  Config cfg = DefaultConfig();
  cfg.channels.http.enabled = true;
  cfg.channels.http.token_file = "token";
  cfg.channels.http.generate_token_file = true;
  return cfg;
}

Result<Config> ParseConfig(const std::string& toml_text, const std::string& source_name) {
  Config cfg;
  cfg.source = source_name;
  Checker checker(source_name);
  try {
    toml::table root = toml::parse(toml_text, source_name);
    ReadRoot(root, checker, cfg);
  } catch (const toml::parse_error& e) {
    uint32_t line = e.source().begin.line;
    std::string where = line == 0 ? source_name : source_name + ":" + std::to_string(line);
    return Status::InvalidArgument(where + ": TOML syntax error: " + std::string(e.description()));
  } catch (const std::exception& e) {
    // Nothing but parse_error is expected (bad_alloc at most); never let it out.
    return Status::Internal(source_name + ": cannot parse config: " + e.what());
  } catch (...) {
    return Status::Internal(source_name + ": cannot parse config: unknown error");
  }
  if (!checker.ok()) return checker.status();
  return cfg;
}

Result<Config> LoadConfigFile(const std::string& path) {
  auto text = ReadWholeFile(path, kMaxConfigBytes, "config");
  if (!text.ok()) {
    if (text.status().code() == Status::Code::kInvalidArgument) {
      return Status::InvalidArgument(path + ": config file is larger than 16 MiB");
    }
    return text.status();
  }
  return ParseConfig(*text, path);
}

}  // namespace laneway::common
