#include "worker/runners/openai_protocol.h"

#include <nlohmann/json.hpp>

namespace laneway::worker {

namespace {

using common::Status;
using nlohmann::json;

constexpr size_t kMaxQuotedBody = 300;

// Messages may hold any bytes a user typed; invalid UTF-8 becomes U+FFFD instead
// of an exception.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json Parse(std::string_view text) {
  return json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

std::string Snippet(std::string_view text) {
  std::string out;
  for (char ch : text.substr(0, kMaxQuotedBody)) {
    out.push_back(static_cast<unsigned char>(ch) < ' ' ? ' ' : ch);
  }
  if (text.size() > kMaxQuotedBody) out += "...";
  return out;
}

std::optional<ChatUsage> ReadUsage(const json& j) {
  auto u = j.find("usage");
  if (u != j.end() && u->is_object()) {
    ChatUsage usage;
    auto p = u->find("prompt_tokens");
    auto c = u->find("completion_tokens");
    if (p != u->end() && p->is_number_integer()) usage.prompt_tokens = p->get<int64_t>();
    if (c != u->end() && c->is_number_integer()) usage.completion_tokens = c->get<int64_t>();
    return usage;
  }
  auto t = j.find("timings");  // llama.cpp's server
  if (t != j.end() && t->is_object()) {
    auto p = t->find("prompt_n");
    auto c = t->find("predicted_n");
    if (p != t->end() && p->is_number_integer() && c != t->end() && c->is_number_integer()) {
      return ChatUsage{p->get<int64_t>(), c->get<int64_t>()};
    }
  }
  return std::nullopt;
}

// error.message, or the whole "error" when it is a string.
std::optional<std::string> ErrorOf(const json& j, std::string* code) {
  auto e = j.find("error");
  if (e == j.end() || e->is_null()) return std::nullopt;
  if (e->is_string()) return e->get<std::string>();
  if (!e->is_object()) return Snippet(Dump(*e));
  if (code != nullptr) {
    for (const char* key : {"code", "type"}) {
      auto c = e->find(key);
      if (c != e->end() && c->is_string() && !c->get<std::string>().empty()) {
        *code = c->get<std::string>();
        break;
      }
    }
  }
  auto m = e->find("message");
  if (m != e->end() && m->is_string()) return m->get<std::string>();
  return Snippet(Dump(*e));
}

// Fills `piece` from the first choice under `key` ("delta" or "message").
Status ReadChoice(const json& j, const char* key, ChatPiece& piece) {
  auto choices = j.find("choices");
  if (choices == j.end() || choices->is_null()) return Status::Ok();
  if (!choices->is_array()) return Status::InvalidArgument("\"choices\" is not an array");
  if (choices->empty()) return Status::Ok();  // the usage-only last chunk
  const json& choice = (*choices)[0];
  if (!choice.is_object()) return Status::InvalidArgument("a choice is not an object");
  auto body = choice.find(key);
  if (body != choice.end() && body->is_object()) {
    auto content = body->find("content");
    if (content != body->end() && content->is_string()) piece.delta = content->get<std::string>();
  }
  auto fr = choice.find("finish_reason");
  if (fr != choice.end() && fr->is_string()) piece.finish_reason = fr->get<std::string>();
  return Status::Ok();
}

common::Result<ChatPiece> ParseObject(std::string_view text, const char* what, const char* key) {
  json j = Parse(text);
  if (j.is_discarded())
    return Status::InvalidArgument(std::string("malformed JSON in ") + what + ": " + Snippet(text));
  if (!j.is_object())
    return Status::InvalidArgument(std::string(what) + " is not a JSON object: " + Snippet(text));
  std::string code;
  if (auto err = ErrorOf(j, &code)) {
    return Status::InvalidArgument("the server reported an error" +
                                   (code.empty() ? std::string() : " (" + code + ")") + ": " +
                                   *err);
  }
  ChatPiece piece;
  if (Status s = ReadChoice(j, key, piece); !s.ok()) {
    return Status::InvalidArgument(std::string("bad ") + what + ": " + s.message());
  }
  auto model = j.find("model");
  if (model != j.end() && model->is_string()) piece.model = model->get<std::string>();
  piece.usage = ReadUsage(j);
  return piece;
}

}  // namespace

std::string ChatRequestJson(const ChatRequest& r) {
  json messages = json::array();
  for (const ChatMessage& m : r.messages) {
    messages.push_back({{"role", m.role}, {"content", m.content}});
  }
  json body = {{"model", r.model}, {"messages", std::move(messages)}, {"stream", r.stream}};
  if (r.stream) body["stream_options"] = {{"include_usage", true}};
  if (r.max_completion_tokens > 0) body["max_completion_tokens"] = r.max_completion_tokens;
  if (r.temperature) body["temperature"] = *r.temperature;
  return Dump(body);
}

common::Result<ChatPiece> ParseChatChunk(std::string_view data) {
  return ParseObject(data, "a stream chunk", "delta");
}

common::Result<ChatPiece> ParseChatCompletion(std::string_view body) {
  return ParseObject(body, "the answer", "message");
}

std::string ServerErrorMessage(std::string_view body, std::string* code) {
  json j = Parse(body);
  if (j.is_object()) {
    if (auto err = ErrorOf(j, code)) return *err;
    auto detail = j.find("detail");  // FastAPI-based servers
    if (detail != j.end() && detail->is_string()) return detail->get<std::string>();
  }
  std::string s = Snippet(body);
  return s.empty() ? "(empty body)" : s;
}

}  // namespace laneway::worker
