#include "supervisor/channels/http/frames.h"

#include <chrono>

#include "common/token_file.h"

namespace laneway::supervisor::http {

common::Result<ReqFrame> ParseReq(std::string_view text, std::string* id) {
  id->clear();
  auto j = ParseJson(text);
  if (!j.ok()) return common::Status::InvalidArgument("malformed frame: " + j.status().message());
  if (!j->is_object()) return common::Status::InvalidArgument("malformed frame: not an object");
  auto it = j->find("id");
  if (it != j->end() && it->is_string()) *id = it->get<std::string>();
  std::string type = StringOr(*j, "type");
  if (type != "req") {
    return common::Status::InvalidArgument("malformed frame: type must be \"req\", got \"" + type +
                                           "\"");
  }
  if (id->empty()) return common::Status::InvalidArgument("malformed frame: missing string id");
  ReqFrame f;
  f.id = *id;
  f.method = StringOr(*j, "method");
  if (f.method.empty()) {
    return common::Status::InvalidArgument("malformed frame: missing string method");
  }
  auto p = j->find("params");
  if (p != j->end() && !p->is_null()) {
    if (!p->is_object()) {
      return common::Status::InvalidArgument("malformed frame: params must be an object");
    }
    f.params = std::move(*p);
  }
  return f;
}

std::string ResOk(const std::string& id, const Json& payload) {
  Json f = {{"type", "res"}, {"id", id}, {"ok", true}, {"payload", payload}};
  return DumpJson(f);
}

std::string ResError(const std::string& id, const std::string& code, const std::string& message) {
  Json f = {{"type", "res"},
            {"id", id},
            {"ok", false},
            {"error", {{"code", code}, {"message", message}}}};
  return DumpJson(f);
}

std::string EventFrame(const std::string& event, const Json& payload, int64_t seq) {
  Json f = {{"type", "event"}, {"event", event}, {"payload", payload}};
  if (seq >= 0) f["seq"] = seq;
  return DumpJson(f);
}

int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NewUuid() {
  auto hex = common::RandomHex(16);
  std::string h = hex.ok() ? *hex : std::string(32, '0');
  h[12] = '4';
  static constexpr char kVariant[] = "89ab";
  h[16] = kVariant[(h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

}  // namespace laneway::supervisor::http
