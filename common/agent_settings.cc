#include "common/agent_settings.h"

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace laneway::common {

namespace {

int64_t Ms(std::chrono::milliseconds d) { return d.count(); }

Status Bad(const std::string& what) { return Status::InvalidArgument("agent settings: " + what); }

Value StringArray(const std::vector<std::string>& items) {
  Value arr = Value::MakeArray();
  for (const std::string& s : items) arr.Push(s);
  return arr;
}

Status ReadStringArray(const Value& v, std::string_view key, std::vector<std::string>* out) {
  const Value* arr = v.Find(key);
  if (arr == nullptr) return Status::Ok();
  if (!arr->is_array()) return Bad(std::string(key) + ": expected an array");
  for (const Value& e : arr->as_array()) {
    if (!e.is_string()) return Bad(std::string(key) + ": expected strings");
    out->push_back(e.as_string());
  }
  return Status::Ok();
}

// The openai runner's keys (docs/openai.md); absent keys keep their defaults.
Status ReadOpenAi(const Value& v, AgentConfig* a) {
  for (auto [key, field] :
       {std::pair{"base_url", &a->base_url}, std::pair{"model", &a->model},
        std::pair{"api_key_env", &a->api_key_env}, std::pair{"api_key_file", &a->api_key_file},
        std::pair{"system_prompt", &a->system_prompt},
        std::pair{"system_prompt_file", &a->system_prompt_file}}) {
    auto s = v.GetStringOr(key, *field);
    if (!s.ok()) return Bad(s.status().message());
    *field = *s;
  }
  for (auto [key, field] : {std::pair{"max_completion_tokens", &a->max_completion_tokens},
                            std::pair{"history_turns", &a->history_turns},
                            std::pair{"history_bytes", &a->history_bytes}}) {
    auto n = v.GetIntOr(key, *field);
    if (!n.ok()) return Bad(n.status().message());
    if (*n < 0 || *n > UINT32_MAX) return Bad(std::string(key) + ": out of range");
    *field = static_cast<uint32_t>(*n);
  }
  for (auto [key, field] : {std::pair{"connect_timeout_ms", &a->connect_timeout},
                            std::pair{"idle_timeout_ms", &a->idle_timeout}}) {
    auto n = v.GetIntOr(key, Ms(*field));
    if (!n.ok()) return Bad(n.status().message());
    if (*n <= 0) return Bad(std::string(key) + ": must be greater than 0");
    *field = std::chrono::milliseconds(*n);
  }
  if (const Value* t = v.Find("temperature"); t != nullptr && !t->is_null()) {
    if (t->kind() == Value::Kind::kDouble) {
      a->temperature = t->as_double();
    } else if (t->is_int()) {
      a->temperature = static_cast<double>(t->as_int());
    } else {
      return Bad("temperature: expected a number");
    }
  }
  if (Status s = ReadStringArray(v, "fallback_models", &a->fallback_models); !s.ok()) return s;
  if (const Value* h = v.Find("headers")) {
    if (!h->is_map()) return Bad("headers: expected a map");
    for (const auto& [name, value] : h->as_map()) {
      if (!value.is_string()) return Bad("headers: expected string values");
      a->headers[name] = value.as_string();
    }
  }
  return Status::Ok();
}

}  // namespace

Value AgentSettingsToValue(const AgentConfig& a) {
  Value v = Value::MakeMap();
  v.Set("id", a.id);
  v.Set("runner", RunnerKindName(a.runner));
  Value cmd = Value::MakeArray();
  for (const std::string& c : a.command) cmd.Push(c);
  v.Set("command", std::move(cmd));
  v.Set("run_timeout_ms", Ms(a.run_timeout));
  v.Set("kill_grace_ms", Ms(a.kill_grace));
  if (a.runner != RunnerKind::kOpenAi) return v;
  // Names of secrets only (api_key_env, api_key_file): the worker reads the key itself.
  v.Set("base_url", a.base_url);
  v.Set("model", a.model);
  v.Set("api_key_env", a.api_key_env);
  v.Set("api_key_file", a.api_key_file);
  v.Set("system_prompt", a.system_prompt);
  v.Set("system_prompt_file", a.system_prompt_file);
  v.Set("max_completion_tokens", a.max_completion_tokens);
  v.Set("temperature", a.temperature ? Value(*a.temperature) : Value());
  v.Set("history_turns", a.history_turns);
  v.Set("history_bytes", a.history_bytes);
  v.Set("connect_timeout_ms", Ms(a.connect_timeout));
  v.Set("idle_timeout_ms", Ms(a.idle_timeout));
  v.Set("fallback_models", StringArray(a.fallback_models));
  Value headers = Value::MakeMap();
  for (const auto& [name, value] : a.headers) headers.Set(name, value);
  v.Set("headers", std::move(headers));
  return v;
}

Result<AgentConfig> AgentSettingsFromValue(const Value& v) {
  if (!v.is_map()) return Status::InvalidArgument("agent settings: expected a map");
  AgentConfig a;
  auto id = v.GetString("id");
  if (!id.ok()) return Status::InvalidArgument("agent settings: " + id.status().message());
  a.id = *id;
  auto runner = v.GetString("runner");
  if (!runner.ok()) return Status::InvalidArgument("agent settings: " + runner.status().message());
  std::optional<RunnerKind> kind;
  for (RunnerKind k : {RunnerKind::kEcho, RunnerKind::kExec, RunnerKind::kOpenAi}) {
    if (*runner == RunnerKindName(k)) kind = k;
  }
  if (!kind) return Status::InvalidArgument("agent settings: unknown runner '" + *runner + "'");
  a.runner = *kind;
  if (const Value* cmd = v.Find("command")) {
    if (!cmd->is_array())
      return Status::InvalidArgument("agent settings: command: expected an array");
    for (const Value& e : cmd->as_array()) {
      if (!e.is_string()) {
        return Status::InvalidArgument("agent settings: command: expected strings");
      }
      a.command.push_back(e.as_string());
    }
  }
  auto rt = v.GetIntOr("run_timeout_ms", Ms(a.run_timeout));
  auto kg = v.GetIntOr("kill_grace_ms", Ms(a.kill_grace));
  if (!rt.ok()) return Status::InvalidArgument("agent settings: " + rt.status().message());
  if (!kg.ok()) return Status::InvalidArgument("agent settings: " + kg.status().message());
  a.run_timeout = std::chrono::milliseconds(*rt);
  a.kill_grace = std::chrono::milliseconds(*kg);
  if (Status s = ReadOpenAi(v, &a); !s.ok()) return s;
  return a;
}

}  // namespace laneway::common
