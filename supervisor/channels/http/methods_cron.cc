// The gateway port's cron.* and subagents.spawn methods, mapped onto the core's
// control methods of the same names (docs/cron.md, docs/subagents.md). The
// method names are the seed's (its hello-ok lists cron.list, cron.status,
// cron.add, cron.update, cron.remove, cron.run, cron.runs); no cron frames were
// captured, so params follow the seed's shapes as far as they are known
// (jobId, schedule {kind, everyMs | atMs | expr, tz}, payload {message}) and
// also take the core's flat fields (name, kind, spec, tz, message, ...).
#include <ctime>

#include "common/protocol.h"
#include "supervisor/channels/http/core_link.h"
#include "supervisor/channels/http/json_value.h"
#include "supervisor/channels/http/methods.h"

namespace laneway::supervisor::http {

namespace {

using common::Value;

void Send(const std::weak_ptr<Connection>& weak, std::string frame) {
  if (auto c = weak.lock()) c->SendFrame(std::move(frame));
}

std::string JobName(const Json& p) {
  for (const char* k : {"name", "jobId", "id"}) {
    std::string v = StringOr(p, k);
    if (!v.empty()) return v;
  }
  return "";
}

std::string IsoUtc(int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// cron.add params -> the core's flat job fields.
Value JobFields(const Json& p) {
  Value v = JsonToValue(p.is_object() ? p : Json::object());
  Value out = Value::MakeMap();
  for (const auto& [k, f] : v.as_map()) {
    if (k != "schedule" && k != "payload" && k != "agentId" && k != "sessionKey" &&
        k != "jobId" && k != "id")
      out.Set(k, f);
  }
  if (std::string name = JobName(p); !name.empty()) out.Set("name", name);
  if (std::string a = StringOr(p, "agentId"); !a.empty()) out.Set("agent", a);
  if (std::string s = StringOr(p, "sessionKey"); !s.empty()) out.Set("session", s);
  auto sched = p.find("schedule");
  if (sched != p.end() && sched->is_object()) {
    std::string kind = StringOr(*sched, "kind");
    out.Set("kind", kind);
    if (kind == "every") {
      int64_t ms = IntOr(*sched, "everyMs", 0);
      out.Set("spec", ms > 0 ? std::to_string(ms) + "ms" : StringOr(*sched, "every"));
    } else if (kind == "at") {
      int64_t ms = IntOr(*sched, "atMs", 0);
      out.Set("spec", ms > 0 ? IsoUtc(ms) : StringOr(*sched, "at"));
    } else {
      out.Set("spec", StringOr(*sched, "expr"));
    }
    if (std::string tz = StringOr(*sched, "tz"); !tz.empty()) out.Set("tz", tz);
  }
  auto payload = p.find("payload");
  if (payload != p.end() && payload->is_object()) {
    std::string msg = StringOr(*payload, "message");
    if (msg.empty()) msg = StringOr(*payload, "text");
    if (!msg.empty()) out.Set("message", msg);
    auto deliver = payload->find("deliver");
    if (deliver != payload->end() && deliver->is_boolean()) out.Set("deliver", deliver->get<bool>());
    if (std::string c = StringOr(*payload, "channel"); !c.empty()) out.Set("channel", c);
    if (std::string t = StringOr(*payload, "to"); !t.empty()) out.Set("to", t);
  }
  return out;
}

}  // namespace

void MethodTable::CronMethod(const ReqFrame& req, Weak conn) {
  const Json& p = req.params;
  Value m = common::NewMessage(req.method);
  if (req.method == "cron.add") {
    for (auto& [k, v] : JobFields(p).as_map()) m.Set(k, std::move(v));
  } else if (req.method == "cron.list") {
    auto it = p.find("includeDisabled");
    if (it != p.end() && it->is_boolean()) m.Set("include_disabled", it->get<bool>());
  } else if (req.method != "cron.status") {
    std::string name = JobName(p);
    if (name.empty()) {
      return Send(conn, ResError(req.id, kInvalidRequest, req.method + ": params.jobId is required"));
    }
    m.Set("name", name);
    if (req.method == "cron.update") {
      auto patch = p.find("patch");
      if (patch == p.end() || !patch->is_object()) {
        return Send(conn, ResError(req.id, kInvalidRequest, "cron.update: params.patch is required"));
      }
      m.Set("patch", JsonToValue(*patch));
    }
  }
  Simple(req, conn, std::move(m), [](const Value& data) { return ValueToJson(data); });
}

void MethodTable::SubagentsSpawn(const ReqFrame& req, Weak conn) {
  const Json& p = req.params;
  int64_t parent = IntOr(p, "parentTurnId", 0);
  std::string message = StringOr(p, "message");
  if (parent <= 0 || message.empty()) {
    return Send(conn, ResError(req.id, kInvalidRequest,
                               "subagents.spawn: params.parentTurnId and params.message are "
                               "required"));
  }
  Value m = common::NewMessage("spawn");
  m.Set("parent_turn", parent);
  m.Set("message", message);
  if (std::string a = StringOr(p, "agentId"); !a.empty()) m.Set("agent", a);
  if (int64_t t = IntOr(p, "timeoutMs", 0); t > 0) m.Set("timeout", std::to_string(t) + "ms");
  auto w = p.find("wait");
  const bool wait = w != p.end() && w->is_boolean() && w->get<bool>();
  m.Set("wait", wait);
  std::string id = req.id;
  gw_.core->Call(std::move(m), [conn, id, wait](const Value& msg) {
    const std::string& type = common::MessageType(msg);
    if (type == common::msg::kAccepted && !wait) {
      Send(conn, ResOk(id, {{"turnId", msg.GetIntOr("turn_id", 0).value()},
                            {"sessionKey", msg.GetStringOr("session", "").value()},
                            {"status", "accepted"}}));
      return true;
    }
    if (type == common::msg::kOutcome) {
      Send(conn, ResOk(id, ValueToJson(msg)));
      return true;
    }
    if (type == common::msg::kError) {
      Send(conn, ResError(id, ErrorCode(msg.GetStringOr("code", "").value()),
                          "subagents.spawn: " + msg.GetStringOr("error", "").value()));
      return true;
    }
    return false;
  });
}

}  // namespace laneway::supervisor::http
