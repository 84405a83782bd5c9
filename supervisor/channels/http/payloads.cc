#include "supervisor/channels/http/payloads.h"

#include <algorithm>

#include "supervisor/channels/http/frames.h"

namespace laneway::supervisor::http {

namespace {

using common::Value;

std::string Str(const Value& v, const char* key) {
  const Value* f = v.Find(key);
  return f && f->is_string() ? f->as_string() : "";
}

int64_t Int(const Value& v, const char* key) {
  const Value* f = v.Find(key);
  return f && f->is_int() ? f->as_int() : 0;
}

std::string SessionsPath(const common::Value& status) {
  std::string home = Str(status, "home");
  return home.empty() ? "" : home + "/sessions.json";
}

const Value::Array& Rows(const Value& v) {
  static const Value::Array kEmpty;
  return v.is_array() ? v.as_array() : kEmpty;
}

}  // namespace

std::vector<std::string> AgentIds(const common::Config& config) {
  std::vector<std::string> ids;
  for (const auto& [id, a] : config.agents) ids.push_back(id);
  return ids;
}

std::string DefaultAgentId(const common::Config& config) {
  if (config.FindAgent("main")) return "main";
  return config.agents.empty() ? "main" : config.agents.begin()->first;
}

AgentResult FinalAgentResult(const std::string& run_id, const Value& outcome, int64_t duration_ms) {
  AgentResult r;
  std::string status = Str(outcome, "status");
  if (status == "replied") {
    r.ok = true;
    r.payload = {
        {"runId", run_id},
        {"status", "ok"},
        {"summary", "completed"},
        {"result",
         {{"payloads", Json::array({{{"text", Str(outcome, "reply")}, {"mediaUrl", nullptr}}})},
          {"meta", {{"durationMs", duration_ms}}}}}};
    return r;
  }
  std::string error = Str(outcome, "error");
  if (status.empty()) {
    // A core `error` message (no turn): code and text.
    status = Str(outcome, "code");
  }
  // A rejection that is only for now (`retryable`: the journal cannot be written) is
  // UNAVAILABLE, which the seed's clients retry, like a supervisor that is down.
  r.error_code = status == "rejected" && !outcome.GetBoolOr("retryable", false).value()
                     ? kInvalidRequest
                     : kUnavailable;
  r.error_message = "turn " + (status.empty() ? std::string("failed") : status) +
                    (error.empty() ? "" : ": " + error);
  return r;
}

Json WaitPayload(const std::string& run_id, const Value& outcome) {
  std::string status = Str(outcome, "status");
  Json p = {{"runId", run_id}};
  if (status == "replied") {
    p["status"] = "ok";
    p["result"] = {
        {"payloads", Json::array({{{"text", Str(outcome, "reply")}, {"mediaUrl", nullptr}}})}};
  } else if (status == "pending") {
    p["status"] = "timeout";
  } else {
    p["status"] = "error";
    p["error"] = status + (Str(outcome, "error").empty() ? "" : ": " + Str(outcome, "error"));
  }
  if (const Value* t = outcome.Find("turn_id"); t && t->is_int()) p["turnId"] = t->as_int();
  return p;
}

Json AgentEventPayload(const std::string& run_id, const std::string& stream, Json data,
                       const std::string& session_key, int64_t seq) {
  return {{"runId", run_id},           {"stream", stream}, {"data", std::move(data)},
          {"sessionKey", session_key}, {"seq", seq},       {"ts", UnixMillis()}};
}

Json RecentSessions(const Value& sessions, size_t limit) {
  std::vector<const Value*> rows;
  for (const Value& r : Rows(sessions)) rows.push_back(&r);
  std::sort(rows.begin(), rows.end(), [](const Value* a, const Value* b) {
    return Int(*a, "last_activity_unix_ms") > Int(*b, "last_activity_unix_ms");
  });
  Json out = Json::array();
  int64_t now = UnixMillis();
  for (size_t i = 0; i < rows.size() && i < limit; ++i) {
    int64_t updated = Int(*rows[i], "last_activity_unix_ms");
    out.push_back({{"key", Str(*rows[i], "session")},
                   {"updatedAt", updated},
                   {"age", updated > 0 ? now - updated : 0}});
  }
  return out;
}

Json HealthPayload(const common::Config& config, const Value& status, const Value& sessions,
                   int64_t duration_ms) {
  const std::string def = DefaultAgentId(config);
  const std::string path = SessionsPath(status);
  Json agents = Json::array();
  for (const std::string& id : AgentIds(config)) {
    Value mine = Value::MakeArray();
    for (const Value& r : Rows(sessions)) {
      if (Str(r, "agent") == id) mine.Push(r);
    }
    agents.push_back({{"agentId", id},
                      {"isDefault", id == def},
                      {"sessions",
                       {{"path", path},
                        {"count", mine.as_array().size()},
                        {"recent", RecentSessions(mine, 10)}}}});
  }
  const Value* healthy = status.Find("healthy");
  return {{"ok", healthy && healthy->is_bool() ? healthy->as_bool() : false},
          {"ts", UnixMillis()},
          {"durationMs", duration_ms},
          {"channels", Json::object()},
          {"channelOrder", Json::array()},
          {"channelLabels", Json::object()},
          {"heartbeatSeconds", 0},
          {"defaultAgentId", def},
          {"agents", agents},
          {"sessions",
           {{"path", path},
            {"count", Rows(sessions).size()},
            {"recent", RecentSessions(sessions, 10)}}},
          {"laneway", ValueToJson(status)}};
}

Json StatusPayload(const common::Config& config, const Value& status, const Value& sessions) {
  const std::string def = DefaultAgentId(config);
  Json hb_agents = Json::array();
  Json by_agent = Json::array();
  for (const std::string& id : AgentIds(config)) {
    hb_agents.push_back(
        {{"agentId", id}, {"enabled", false}, {"every", "disabled"}, {"everyMs", nullptr}});
    Value mine = Value::MakeArray();
    for (const Value& r : Rows(sessions)) {
      if (Str(r, "agent") == id) mine.Push(r);
    }
    by_agent.push_back({{"agentId", id},
                        {"path", SessionsPath(status)},
                        {"count", mine.as_array().size()},
                        {"recent", RecentSessions(mine, 10)}});
  }
  return {{"heartbeat", {{"defaultAgentId", def}, {"agents", hb_agents}}},
          {"channelSummary", Json::array()},
          {"queuedSystemEvents", Json::array()},
          {"sessions",
           {{"paths", Json::array({SessionsPath(status)})},
            {"count", Rows(sessions).size()},
            {"defaults", {{"model", nullptr}, {"contextTokens", nullptr}}},
            {"recent", RecentSessions(sessions, 10)},
            {"byAgent", by_agent}}},
          {"laneway", ValueToJson(status)}};
}

Json SessionsListPayload(const common::Config& config, const Value& sessions) {
  Json rows = Json::array();
  for (const Value& r : Rows(sessions)) {
    std::string key = Str(r, "session");
    rows.push_back({{"key", key},
                    {"kind", "direct"},
                    {"displayName", key},
                    {"channel", "laneway"},
                    {"updatedAt", Int(r, "last_activity_unix_ms")},
                    {"agentId", Str(r, "agent")},
                    {"state", Str(r, "state")},
                    {"queueDepth", Int(r, "queue_depth")},
                    {"turnsTotal", Int(r, "turns_total")}});
  }
  (void)config;
  return {
      {"ts", UnixMillis()},
      {"path", ""},
      {"count", rows.size()},
      {"defaults", {{"modelProvider", nullptr}, {"model", nullptr}, {"contextTokens", nullptr}}},
      {"sessions", rows}};
}

const std::vector<std::string>& ServedMethods() {
  static const std::vector<std::string> kMethods = {
      "connect",         "agent",         "agent.wait",   "health",
      "status",          "sessions.list", "workers.list", "workers.kill",
      "workers.restart", "turns.cancel",  "turns.get",    "turns.recent", "laneway.status"};
  return kMethods;
}

}  // namespace laneway::supervisor::http
