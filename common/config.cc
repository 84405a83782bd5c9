// The TOML adapter: toml++ throws, so every call into it stays in this file,
// behind a catch, and what comes out is a Config or a Status.
//
// Validation walks the whole document and records every error with its line;
// the one reported is the earliest in the file. toml++ keeps tables sorted by
// key, not in file order, so "first found" would otherwise depend on spelling.
#include "common/config.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "common/config_cron.h"
#include "common/config_reader.h"
#include "common/config_security.h"
#include "common/duration.h"
#include "common/quote.h"
#include "common/read_file.h"
#include "common/toml_import.h"

namespace laneway::common {

namespace {

using namespace config_reader;  // NOLINT: the reader's private vocabulary

constexpr size_t kMaxConfigBytes = 16 << 20;

// The one place each enum's spelling lives: used to parse and to print.
constexpr NameTable<RunnerKind> kRunnerNames[] = {
    {RunnerKind::kEcho, "echo"}, {RunnerKind::kExec, "exec"}, {RunnerKind::kOpenAi, "openai"}};
constexpr NameTable<QueueMode> kQueueModeNames[] = {{QueueMode::kQueue, "queue"},
                                                    {QueueMode::kCollect, "collect"},
                                                    {QueueMode::kInterrupt, "interrupt"}};
constexpr NameTable<LoopScheduling> kLoopSchedulingNames[] = {
    {LoopScheduling::kNormal, "normal"},
    {LoopScheduling::kShortSlice, "short-slice"},
    {LoopScheduling::kRealtime, "realtime"}};

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

// --- Sections. ---

void ReadSupervisor(const toml::table& t, Checker& c, SupervisorConfig& s) {
  const int errors_before = c.errors();
  for (auto&& [k, node] : t) {
    std::string key = Join("supervisor", k.str());
    std::string error;
    if (ReadSupervisorAccessKey(k.str(), node, s, &error)) {
      if (!error.empty()) c.Fail(node, key, error);
    } else if (k.str() == "loop_scheduling") {
      ReadEnum(kLoopSchedulingNames, node, key, "loop_scheduling",
               "realtime, short-slice or normal", c, s.loop_scheduling);
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
      c.Fail(node, key, "unknown table (expected supervisor, agents, channels, cron or subagents)");
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

const char* LoopSchedulingName(LoopScheduling m) { return NameOf(kLoopSchedulingNames, m); }

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

namespace {

// toml++ 3.3.0's is_non_ascii_horizontal_whitespace() reaches __builtin_unreachable
// for most non-ASCII code points (U+00A1..U+0499 among them: é, ü, Cyrillic), and
// its parser asks it about every character of a key (quoted keys included), of a
// multi-line basic string after a line-ending backslash, and wherever it skips
// blanks between tokens: undefined behaviour in every build (found by the config
// fuzz target; docs/security.md). So the parser is never shown a non-ASCII code
// point where it could ask: in basic strings each one becomes its \uXXXX or
// \UXXXXXXXX escape, a literal string holding one becomes the equal basic string,
// comments keep theirs (toml++ reads comments without asking), and one anywhere
// else is a syntax error in TOML 1.0 anyway, reported here with its line. Invalid
// UTF-8 is left for toml++ to report. Lines keep their numbers; columns in later
// error messages may shift.
struct AsciiSafe {
  std::string text;
  std::string error;  // non-empty: why the text was refused, at `line`
  uint32_t line = 0;
};

// Decodes the UTF-8 sequence at s[i] (s[i] >= 0x80); 0 if it is not valid UTF-8.
size_t Utf8At(std::string_view s, size_t i, uint32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  const size_t n = c >= 0xF0 && c <= 0xF4  ? 4
                   : c >= 0xE0 && c < 0xF0 ? 3
                   : c >= 0xC2 && c < 0xE0 ? 2
                                           : 0;
  if (n == 0 || i + n > s.size()) return 0;
  uint32_t v = n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    v = v << 6 | (b(i + k) & 0x3F);
  }
  if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
      (v >= 0xD800 && v <= 0xDFFF)) {
    return 0;
  }
  *cp = v;
  return n;
}

std::string Escape(uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, cp > 0xFFFF ? "\\U%08X" : "\\u%04X", cp);
  return buf;
}

AsciiSafe MakeAsciiSafe(std::string_view in) {
  AsciiSafe r;
  r.text.reserve(in.size() + in.size() / 4);
  uint32_t line = 1;
  size_t i = 0;
  // Copies the string that starts at i (delimiter `q`, `multi` for a triple one),
  // non-ASCII escaped; a literal string is written as the equal basic string.
  // False (r.error set) for a backslash before a non-ASCII character.
  auto copy_string = [&](char q, bool multi) -> bool {
    const bool literal = q == '\'';
    const size_t delim = multi ? 3 : 1;
    r.text += multi ? "\"\"\"" : "\"";
    i += delim;
    while (i < in.size()) {
      const char c = in[i];
      if (c == q) {
        size_t run = 0;
        while (i + run < in.size() && in[i + run] == q) ++run;
        if (run >= delim) {
          // A multi-line string may hold one or two quotes just before its end.
          const size_t extra = multi ? std::min<size_t>(run - 3, 2) : 0;
          for (size_t k = 0; k < extra; ++k) r.text += literal ? "'" : "\\\"";
          r.text += multi ? "\"\"\"" : "\"";
          i += delim + extra;
          return true;
        }
        // Fewer quotes than the delimiter: content.
        for (size_t k = 0; k < run; ++k) r.text += literal ? "'" : "\\\"";
        i += run;
        continue;
      }
      if (c == '\n') {
        if (!multi) return true;  // unterminated: toml++ says so
        ++line;
      }
      if (!literal && c == '\\') {
        if (i + 1 < in.size() && static_cast<unsigned char>(in[i + 1]) >= 0x80) {
          r.error = "a backslash before a non-ASCII character is not a TOML escape";
          r.line = line;
          return false;
        }
        r.text += in.substr(i, std::min<size_t>(2, in.size() - i));
        if (i + 1 < in.size() && in[i + 1] == '\n') ++line;
        i += 2;
        continue;
      }
      if (static_cast<unsigned char>(c) >= 0x80) {
        uint32_t cp = 0;
        if (const size_t n = Utf8At(in, i, &cp); n > 0) {
          r.text += Escape(cp);
          i += n;
          continue;
        }
      }
      if (literal && (c == '\\' || c == '"')) r.text += '\\';
      r.text += c;
      ++i;
    }
    return true;
  };
  while (i < in.size()) {
    const char c = in[i];
    if (c == '#') {
      const size_t nl = in.find('\n', i);
      const size_t end = nl == std::string_view::npos ? in.size() : nl;
      r.text += in.substr(i, end - i);
      i = end;
      continue;
    }
    if (c == '"' || c == '\'') {
      const bool multi = in.substr(i, 3) == (c == '"' ? "\"\"\"" : "'''");
      if (!copy_string(c, multi)) return r;
      continue;
    }
    if (static_cast<unsigned char>(c) >= 0x80) {
      uint32_t cp = 0;
      if (Utf8At(in, i, &cp) == 0) {
        r.text += c;
        ++i;
        continue;
      }
      char buf[96];
      std::snprintf(buf, sizeof buf,
                    "character U+%04X outside a string or comment (keys that are not ASCII "
                    "must be quoted)",
                    cp);
      r.error = buf;
      r.line = line;
      return r;
    }
    if (c == '\n') ++line;
    r.text += c;
    ++i;
  }
  return r;
}

}  // namespace

Result<Config> ParseConfig(const std::string& toml_text, const std::string& source_name) {
  Config cfg;
  cfg.source = source_name;
  Checker checker(source_name);
  AsciiSafe safe;
  const bool ascii = std::all_of(toml_text.begin(), toml_text.end(),
                                 [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (!ascii) {
    safe = MakeAsciiSafe(toml_text);
    if (!safe.error.empty()) {
      return Status::InvalidArgument(source_name + ":" + std::to_string(safe.line) +
                                     ": TOML syntax error: " + safe.error);
    }
  }
  try {
    toml::table root = toml::parse(ascii ? toml_text : safe.text, source_name);
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
