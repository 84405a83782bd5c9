#include "common/agent_settings.h"

#include <optional>
#include <string_view>

namespace laneway::common {

namespace {

int64_t Ms(std::chrono::milliseconds d) { return d.count(); }

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
    if (!cmd->is_array()) return Status::InvalidArgument("agent settings: command: expected an array");
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
  return a;
}

}  // namespace laneway::common
