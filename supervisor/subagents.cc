#include "supervisor/subagents.h"

#include <algorithm>

#include "common/duration.h"
#include "common/log.h"
#include "supervisor/control_service.h"
#include "supervisor/core.h"
#include "supervisor/session_table.h"
#include "supervisor/turn_ledger.h"
#include "supervisor/worker_pool.h"

namespace laneway::supervisor {

using common::LogLevel;
using common::LogLine;
using common::TurnStatus;
using common::Value;

namespace {

constexpr const char* kMarker = ":subagent:";

int64_t IntField(const Value& v, const char* key) {
  const Value* f = v.Find(key);
  return f && f->is_int() ? f->as_int() : 0;
}

std::string StringField(const Value& v, const char* key) {
  const Value* f = v.Find(key);
  return f && f->is_string() ? f->as_string() : "";
}

bool IsChildTurn(const Turn& t) {
  return StringField(t.origin, "kind") == "subagent" && t.origin.Find("parent_turn") != nullptr;
}

}  // namespace

bool IsSubagentSession(const std::string& key) {
  return key.rfind("agent:", 0) == 0 && key.find(kMarker) != std::string::npos;
}

Subagents::Subagents(Core& core) : core_(core) {}

void Subagents::Track(const Turn& t) {
  Child& c = children_[t.id];
  c.turn_id = t.id;
  c.session = t.session;
  c.parent_session = StringField(t.origin, "parent_session");
  c.parent_turn = static_cast<uint64_t>(IntField(t.origin, "parent_turn"));
  c.depth = static_cast<uint32_t>(std::max<int64_t>(1, IntField(t.origin, "depth")));
  c.ended = t.status != TurnStatus::kPending;
  by_session_[t.session] = t.id;
  parent_of_[t.session] = {c.parent_session, c.parent_turn};
  // "<parent turn>-<n>": later spawns of that parent continue the count.
  const auto dash = t.session.rfind('-');
  if (dash != std::string::npos) {
    const uint32_t n = static_cast<uint32_t>(std::atoi(t.session.c_str() + dash + 1));
    uint32_t& seen = spawned_by_turn_[c.parent_turn];
    seen = std::max(seen, n);
  }
}

void Subagents::Start() {
  std::vector<uint64_t> owed;
  core_.ledger().ForEachTurn([&](const Turn& t) {
    if (!IsChildTurn(t)) return;
    Track(t);
    if (t.status == TurnStatus::kPending) {
      if (Session* s = core_.sessions().Find(t.session)) {
        s->run_timeout = std::chrono::milliseconds(IntField(t.origin, "timeout_ms"));
      }
    } else if (t.origin.Find("announce") == nullptr || t.origin.Find("announce")->is_null() ||
               (t.origin.Find("announce")->is_bool() && t.origin.Find("announce")->as_bool())) {
      if (core_.ledger().FindByKey("subagent:" + std::to_string(t.id)) == nullptr) {
        owed.push_back(t.id);
      }
    }
  });
  started_ = true;
  std::sort(owed.begin(), owed.end());
  for (uint64_t id : owed) {
    if (const Turn* t = core_.ledger().Find(id)) Announce(*t);
  }
  if (!owed.empty()) {
    LogLine(LogLevel::kInfo, "subagent_announcements_recovered")
        .Kv("announced", static_cast<uint64_t>(owed.size()));
  }
}

size_t Subagents::UnfinishedChildren(const std::string& parent_session) const {
  size_t n = 0;
  for (const auto& [id, c] : children_) n += !c.ended && c.parent_session == parent_session;
  return n;
}

void Subagents::Spawn(const Peer& peer, int64_t req, const Value& m) {
  ControlService& cs = core_.control();
  const common::SubagentsConfig& cfg = core_.config().subagents;
  auto parent_id = m.GetInt("parent_turn");
  auto message = m.GetString("message");
  auto agent_arg = m.GetStringOr("agent", "");
  auto timeout_arg = m.GetStringOr("timeout", "");
  auto wait = m.GetBoolOr("wait", false);
  auto stream = m.GetBoolOr("stream", false);
  for (const auto& st : {parent_id.status(), message.status(), agent_arg.status(),
                         timeout_arg.status(), wait.status(), stream.status()}) {
    if (!st.ok()) return cs.ReplyError(peer, req, "bad_request", "spawn: " + st.message());
  }
  Turn* parent = *parent_id > 0 ? core_.ledger().Find(static_cast<uint64_t>(*parent_id)) : nullptr;
  if (parent == nullptr || parent->status != TurnStatus::kPending) {
    return cs.ReplyError(peer, req, "not_running",
                         "spawn: parent turn " + std::to_string(*parent_id) +
                             " is not running (a subagent is spawned from a running turn, "
                             "whose id the agent command finds in LANEWAY_TURN_ID)");
  }
  const uint32_t parent_depth =
      IsChildTurn(*parent) ? static_cast<uint32_t>(IntField(parent->origin, "depth")) : 0;
  const uint32_t depth = parent_depth + 1;
  if (depth > cfg.max_depth) {
    return cs.ReplyError(peer, req, "limit",
                         "spawn refused: depth limit: turn " + std::to_string(parent->id) +
                             " is a subagent at depth " + std::to_string(parent_depth) +
                             " and subagents.max_depth = " + std::to_string(cfg.max_depth) +
                             (cfg.max_depth == 1 ? " (a subagent cannot spawn)" : ""));
  }
  const size_t unfinished = UnfinishedChildren(parent->session);
  if (unfinished >= cfg.max_children) {
    return cs.ReplyError(peer, req, "limit",
                         "spawn refused: children limit: session " + parent->session + " has " +
                             std::to_string(unfinished) +
                             " unfinished subagents (subagents.max_children = " +
                             std::to_string(cfg.max_children) + ")");
  }
  const std::string agent = agent_arg->empty() ? parent->agent : *agent_arg;
  std::chrono::milliseconds timeout = cfg.run_timeout;
  if (!timeout_arg->empty()) {
    auto d = common::ParseDuration(*timeout_arg);
    if (!d.ok() || d->count() <= 0) {
      return cs.ReplyError(peer, req, "bad_request",
                           "spawn: timeout: " +
                               (d.ok() ? std::string("must be greater than 0") : d.status().message()));
    }
    timeout = *d;
  }
  const uint32_t n = ++spawned_by_turn_[parent->id];
  const std::string session =
      "agent:" + agent + ":subagent:" + std::to_string(parent->id) + "-" + std::to_string(n);
  Value origin = Value::MakeMap();
  origin.Set("kind", "subagent");
  origin.Set("parent_turn", parent->id);
  origin.Set("parent_session", parent->session);
  origin.Set("parent_agent", parent->agent);
  origin.Set("depth", depth);
  origin.Set("timeout_ms", static_cast<int64_t>(timeout.count()));
  origin.Set("announce", !*wait);
  const std::string parent_session = parent->session;
  const uint64_t parent_turn = parent->id;
  TurnRequest r;
  r.agent = agent;
  r.session = session;
  r.message = std::move(message).value();
  r.origin = std::move(origin);
  r.waiter = Waiter{peer, req, *stream};
  r.wait = *wait;
  AcceptResult a = core_.AcceptTurn(std::move(r));
  if (!a.accepted) return cs.Reject(peer, req, a.session, "spawn refused: " + a.reject_text);
  if (Session* s = core_.sessions().Find(a.session)) s->run_timeout = timeout;
  if (const Turn* t = core_.ledger().Find(a.turn_id)) Track(*t);
  LogLine(LogLevel::kInfo, "subagent_spawned")
      .Kv("parent_session", parent_session)
      .Kv("parent_turn", parent_turn)
      .Kv("session", a.session)
      .Kv("turn", a.turn_id)
      .Kv("depth", static_cast<uint64_t>(depth))
      .Kv("timeout_ms", static_cast<int64_t>(timeout.count()))
      .Kv("wait", *wait ? "yes" : "no");
}

void Subagents::OnTurnEnded(const Turn& t) {
  if (!started_ || !IsChildTurn(t)) return;
  if (children_.count(t.id) == 0) Track(t);
  children_[t.id].ended = true;
  finished_sessions_.insert(t.session);
  const Value* announce = t.origin.Find("announce");
  if (announce && announce->is_bool() && !announce->as_bool()) return;  // --wait: told directly
  Announce(t);
}

void Subagents::OnTurnRefused(const Turn& t, const std::string& why) {
  if (!started_ || StringField(t.origin, "kind") != "subagent") return;
  if (const Value* of = t.origin.Find("announce_for"); of && of->is_int()) {
    const uint64_t child = static_cast<uint64_t>(of->as_int());
    owed_announcements_.insert(child);
    LogLine(LogLevel::kWarn, "subagent_announce_refused")
        .Kv("child", child)
        .Kv("parent_session", t.session)
        .Kv("reason", why)
        .Kv("retry", "yes");
    return;
  }
  auto c = children_.find(t.id);
  if (c == children_.end()) return;
  c->second.ended = true;  // it never runs: no longer an unfinished child
  finished_sessions_.insert(t.session);
}

void Subagents::Announce(const Turn& child) {
  const std::string key = "subagent:" + std::to_string(child.id);
  if (core_.ledger().FindByKey(key) != nullptr) return;
  const std::string status = common::TurnStatusName(child.status);
  TurnRequest r;
  r.agent = StringField(child.origin, "parent_agent");
  r.session = StringField(child.origin, "parent_session");
  r.message = "[subagent " + child.session + " turn " + std::to_string(child.id) + " " + status +
              "]\n" + (child.text.empty() ? "(no output)" : child.text);
  r.idempotency_key = key;
  Value origin = Value::MakeMap();
  origin.Set("kind", "subagent");
  origin.Set("announce_for", child.id);
  origin.Set("child_session", child.session);
  origin.Set("child_status", status);
  r.origin = std::move(origin);
  r.wait = false;
  AcceptResult a = core_.AcceptTurn(std::move(r));
  if (a.accepted) {
    LogLine(LogLevel::kInfo, "subagent_announced")
        .Kv("child", child.id)
        .Kv("status", status)
        .Kv("parent_session", a.session)
        .Kv("turn", a.turn_id);
    owed_announcements_.erase(child.id);
  } else {
    const bool journal = core_.ledger().refusing() || !core_.ledger().journal_ok();
    if (journal) owed_announcements_.insert(child.id);
    LogLine(LogLevel::kWarn, "subagent_announce_refused")
        .Kv("retry", journal ? "yes" : "no")
        .Kv("child", child.id)
        .Kv("parent_session", StringField(child.origin, "parent_session"))
        .Kv("reason", a.reject_text);
  }
}

uint32_t Subagents::DepthOf(const std::string& child_session) const {
  auto it = by_session_.find(child_session);
  if (it == by_session_.end()) return 1;
  auto c = children_.find(it->second);
  return c == children_.end() ? 1 : c->second.depth;
}

size_t Subagents::child_workers() const {
  size_t n = 0;
  for (const auto& [key, id] : by_session_) {
    const Session* s = core_.sessions().Find(key);
    n += s != nullptr && s->worker_id != 0;
  }
  return n;
}

size_t Subagents::parent_workers() const {
  const size_t children = child_workers();
  const size_t live = core_.pool().live();
  return live > children ? live - children : 0;
}

bool Subagents::HasSlot(uint32_t depth) const {
  const common::SubagentsConfig& cfg = core_.config().subagents;
  // One slot per deeper level stays free of children at this depth or shallower,
  // so the deepest children (who cannot wait on anyone) can always run.
  const uint32_t reserve = std::min(cfg.max_depth > depth ? cfg.max_depth - depth : 0u,
                                    cfg.max_workers - 1);
  size_t at_or_above = 0;
  for (const auto& [key, id] : by_session_) {
    const Session* s = core_.sessions().Find(key);
    if (s == nullptr || s->worker_id == 0) continue;
    auto c = children_.find(id);
    if (c == children_.end() || c->second.depth <= depth) ++at_or_above;
  }
  return at_or_above + reserve < cfg.max_workers;
}

bool Subagents::ScheduleChild(Session& s) {
  if (!IsSubagentSession(s.key)) return false;
  if (std::find(waiting_.begin(), waiting_.end(), s.key) == waiting_.end()) {
    waiting_.push_back(s.key);
  }
  AdmitWaiting();
  return true;
}

void Subagents::AdmitWaiting() {
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    Session* s = core_.sessions().Find(*it);
    if (s == nullptr || s->worker_id != 0 || s->in_backoff || s->policy.parked() ||
        (s->queue.empty() && !s->want_worker)) {
      it = waiting_.erase(it);
      continue;
    }
    if (core_.shutting_down()) return;
    if (!HasSlot(DepthOf(*it))) {
      ++it;  // a deeper child may still fit
      continue;
    }
    s->want_worker = false;
    it = waiting_.erase(it);
    core_.pool().Spawn(*s);
  }
}

void Subagents::OnParentKilled(const std::string& parent_session) {
  if (!core_.config().subagents.kill_cancels_children) return;
  const std::string why =
      "cancelled: parent session " + parent_session +
      " was killed (subagents.kill_cancels_children = true)";
  std::vector<uint64_t> ids;
  for (const auto& [id, c] : children_) {
    if (!c.ended && c.parent_session == parent_session) ids.push_back(id);
  }
  for (uint64_t id : ids) {
    const Child& c = children_[id];
    Session* s = core_.sessions().Find(c.session);
    if (s == nullptr) continue;
    const Worker* w = core_.pool().Find(s->worker_id);
    LogLine(LogLevel::kInfo, "subagent_cancelled")
        .Kv("session", c.session)
        .Kv("turn", id)
        .Kv("parent_session", parent_session);
    if (w != nullptr && HasTurn(w->state)) {
      core_.pool().Apply(w->id, WorkerEvent::kCancel, why, nullptr, "parent_killed");
    }
    for (uint64_t queued : s->queue.Clear()) core_.ledger().End(queued, TurnStatus::kCancelled, why);
  }
}

void Subagents::Housekeeping() {
  // Announcements the journal refused, made again (each refusal re-adds its own).
  const std::set<uint64_t> owed = std::move(owed_announcements_);
  owed_announcements_.clear();
  for (uint64_t id : owed) {
    if (const Turn* t = core_.ledger().Find(id)) Announce(*t);
  }
  // A child session runs one turn: once it has ended, its worker goes, and the
  // record of a child whose worker is gone is dropped.
  for (auto it = finished_sessions_.begin(); it != finished_sessions_.end();) {
    Session* s = core_.sessions().Find(*it);
    const Worker* w = s ? core_.pool().Find(s->worker_id) : nullptr;
    if (w != nullptr) {
      if (w->state == WorkerState::kIdle && s->queue.empty()) {
        core_.pool().Apply(w->id, WorkerEvent::kIdleTimeout, "subagent finished");
      }
      ++it;
      continue;
    }
    auto by = by_session_.find(*it);
    if (by != by_session_.end() && (s == nullptr || s->queue.empty())) {
      auto c = children_.find(by->second);
      if (c != children_.end() && c->second.ended) {
        children_.erase(c);
        by_session_.erase(by);
      }
    }
    it = finished_sessions_.erase(it);
  }
  // Parents that ended take their spawn counters with them.
  for (auto it = spawned_by_turn_.begin(); it != spawned_by_turn_.end();) {
    const Turn* t = core_.ledger().Find(it->first);
    if (t == nullptr) {
      it = spawned_by_turn_.erase(it);
    } else {
      ++it;
    }
  }
  // A child whose accept was refused (journal failure) never ends: forget it.
  for (auto it = children_.begin(); it != children_.end();) {
    if (!it->second.ended && core_.ledger().Find(it->first) == nullptr) {
      by_session_.erase(it->second.session);
      it = children_.erase(it);
    } else {
      ++it;
    }
  }
  AdmitWaiting();
}

void Subagents::Annotate(const Session& s, Value& row) const {
  auto it = parent_of_.find(s.key);
  if (it != parent_of_.end()) {
    row.Set("subagent", true);
    row.Set("parent", it->second.first);
    row.Set("parent_turn", it->second.second);
    return;
  }
  row.Set("subagent", IsSubagentSession(s.key));
  row.Set("parent", Value());
  const size_t n = UnfinishedChildren(s.key);
  row.Set("children", static_cast<uint64_t>(n));
}

}  // namespace laneway::supervisor
