#include "supervisor/channels/http/openai_http.h"

#include <chrono>

#include "common/protocol.h"
#include "supervisor/channels/http/core_link.h"
#include "supervisor/channels/http/frames.h"
#include "supervisor/channels/http/json_value.h"
#include "supervisor/channels/http/payloads.h"

namespace laneway::supervisor::http {

namespace {

using common::Value;

constexpr const char* kJson = "application/json";

std::string ModelName(const std::string& agent) { return "laneway/" + agent; }

int64_t UnixSeconds() { return UnixMillis() / 1000; }

// A message's content: a string, or an array of parts whose "text" parts join.
std::string ContentText(const Json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (content.is_array()) {
    for (const Json& part : content) {
      if (part.is_object() && StringOr(part, "type", "text") == "text")
        out += StringOr(part, "text");
    }
  }
  return out;
}

std::string Str(const Value& v, const char* key) {
  auto s = v.GetStringOr(key, "");
  return s.ok() ? *s : "";
}

HttpError OutcomeError(const Value& msg) {
  HttpError e;
  std::string status = Str(msg, "status");
  std::string text = Str(msg, "error");
  if (common::MessageType(msg) == common::msg::kError) {
    e.status = 503;
    e.type = "server_error";
    e.code = Str(msg, "code");
    e.message = text;
    return e;
  }
  e.message = "turn " + status + (text.empty() ? "" : ": " + text);
  e.code = status;
  if (status == "rejected") {
    bool busy =
        text.find("queue full") != std::string::npos || text.find("too many") != std::string::npos;
    // Refused only for now (the journal cannot be written; docs/protocol.md): 503,
    // which clients retry, not 400, which they would not.
    bool down = text.find("shutting down") != std::string::npos ||
                msg.GetBoolOr("retryable", false).value();
    e.status = down ? 503 : busy ? 429 : 400;
    e.type = busy ? "rate_limit_error" : down ? "server_error" : "invalid_request_error";
  } else if (status == "pending") {
    e.status = 503;
    e.type = "server_error";
  } else {
    e.status = 500;
    e.type = "server_error";
  }
  return e;
}

Json Chunk(const std::string& id, const std::string& model, Json delta, Json finish) {
  return {
      {"id", id},
      {"object", "chat.completion.chunk"},
      {"created", UnixSeconds()},
      {"model", model},
      {"choices",
       Json::array(
           {{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}}})}};
}

}  // namespace

std::optional<HttpError> ParseChatRequest(const std::string& body,
                                          const std::string& session_header,
                                          const common::Config& config, ChatRequest* out) {
  HttpError e;
  auto j = ParseJson(body);
  if (!j.ok()) {
    e.message = "request body is not valid JSON: " + j.status().message();
    return e;
  }
  if (!j->is_object()) {
    e.message = "request body must be a JSON object";
    return e;
  }
  out->model = StringOr(*j, "model");
  if (out->model.empty()) {
    e.code = "missing_model";
    e.message = "model is required (laneway/<agent> or an agent id)";
    return e;
  }
  out->agent = out->model.rfind("laneway/", 0) == 0 ? out->model.substr(8) : out->model;
  if (config.FindAgent(out->agent) == nullptr) {
    e.status = 404;
    e.code = "model_not_found";
    e.message = "The model '" + out->model + "' does not exist (agents: ";
    bool first = true;
    for (const std::string& id : AgentIds(config)) {
      e.message += (first ? "" : ", ") + ModelName(id);
      first = false;
    }
    e.message += ")";
    return e;
  }
  auto msgs = j->find("messages");
  if (msgs == j->end() || !msgs->is_array() || msgs->empty()) {
    e.code = "missing_messages";
    e.message = "messages must be a non-empty array";
    return e;
  }
  for (auto it = msgs->rbegin(); it != msgs->rend(); ++it) {
    if (StringOr(*it, "role") == "user") {
      out->message =
          it->is_object() && it->contains("content") ? ContentText((*it)["content"]) : "";
      break;
    }
  }
  if (out->message.empty()) {
    e.code = "missing_user_message";
    e.message = "messages must contain a user message with text content";
    return e;
  }
  auto stream = j->find("stream");
  if (stream != j->end() && !stream->is_null()) {
    if (!stream->is_boolean()) {
      e.message = "stream must be a boolean";
      return e;
    }
    out->stream = stream->get<bool>();
  }
  std::string user = StringOr(*j, "user");
  if (user.empty()) user = session_header;
  out->session = user.empty() ? "openai:" + NewUuid() : "openai-user:" + user;
  return std::nullopt;
}

std::string OpenAiErrorBody(const HttpError& e) {
  Json body = {{"error",
                {{"message", e.message},
                 {"type", e.type},
                 {"param", nullptr},
                 {"code", e.code.empty() ? Json(nullptr) : Json(e.code)}}}};
  return DumpJson(body);
}

std::string ModelsBody(const common::Config& config) {
  Json data = Json::array();
  for (const std::string& id : AgentIds(config)) {
    data.push_back(
        {{"id", ModelName(id)}, {"object", "model"}, {"created", 0}, {"owned_by", "laneway"}});
  }
  return DumpJson({{"object", "list"}, {"data", data}});
}

void ServeChatCompletion(Gateway& gw, ChatRequest req,
                         const std::shared_ptr<HttpResponder>& responder) {
  Value m = common::NewMessage(common::msg::kSubmit);
  m.Set("agent", req.agent);
  m.Set("message", req.message);
  m.Set("session", req.session);
  m.Set("wait", true);
  m.Set("stream", req.stream);
  Value origin = Value::MakeMap();
  origin.Set("kind", "http");
  origin.Set("conn", responder->conn_id());
  m.Set("origin", std::move(origin));

  struct State {
    std::string id = "chatcmpl-" + NewUuid();
    std::string streamed;
    bool began = false;
  };
  auto st = std::make_shared<State>();
  // The handler keeps the connection alive until the turn ends: nothing else
  // holds it while it waits (a client that left just makes the writes fail).
  gw.core->Call(std::move(m), [r = responder, st, req = std::move(req)](const Value& msg) {
    const std::string& type = common::MessageType(msg);
    if (type == common::msg::kAccepted) {
      if (r && req.stream) {
        st->began = true;
        r->BeginEvents();
        r->SendEventData(
            DumpJson(Chunk(st->id, req.model, {{"role", "assistant"}, {"content", ""}}, nullptr)));
      }
      return false;
    }
    if (type == common::msg::kProgress) {
      std::string delta = Str(msg, "delta");
      st->streamed += delta;
      if (r && st->began && !delta.empty()) {
        r->SendEventData(DumpJson(Chunk(st->id, req.model, {{"content", delta}}, nullptr)));
      }
      return false;
    }
    if (type != common::msg::kOutcome && type != common::msg::kError) return false;
    if (!r) return true;
    bool replied = type == common::msg::kOutcome && Str(msg, "status") == "replied";
    std::string reply = Str(msg, "reply");
    if (st->began) {
      if (replied) {
        // A runner that does not stream (or a core that dropped progress): the
        // outcome holds the whole reply; send what the deltas did not.
        if (reply.size() > st->streamed.size() &&
            reply.compare(0, st->streamed.size(), st->streamed) == 0) {
          r->SendEventData(DumpJson(
              Chunk(st->id, req.model, {{"content", reply.substr(st->streamed.size())}}, nullptr)));
        }
        r->SendEventData(DumpJson(Chunk(st->id, req.model, Json::object(), "stop")));
      } else {
        HttpError e = OutcomeError(msg);
        r->SendEventData(OpenAiErrorBody(e));
      }
      r->SendEventData("[DONE]");
      r->EndEvents();
      return true;
    }
    if (!replied) {
      HttpError e = OutcomeError(msg);
      r->Respond(e.status, kJson, OpenAiErrorBody(e));
      return true;
    }
    Json body = {{"id", st->id},
                 {"object", "chat.completion"},
                 {"created", UnixSeconds()},
                 {"model", req.model},
                 {"choices", Json::array({{{"index", 0},
                                           {"message", {{"role", "assistant"}, {"content", reply}}},
                                           {"finish_reason", "stop"}}})},
                 {"usage", {{"prompt_tokens", 0}, {"completion_tokens", 0}, {"total_tokens", 0}}}};
    if (const Value* t = msg.Find("turn_id"); t && t->is_int())
      body["laneway_turn_id"] = t->as_int();
    r->Respond(200, kJson, DumpJson(body));
    return true;
  });
}

}  // namespace laneway::supervisor::http
