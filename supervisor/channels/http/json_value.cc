#include "supervisor/channels/http/json_value.h"

#include <exception>

namespace laneway::supervisor::http {

namespace {

constexpr int kMaxDepth = 64;

}  // namespace

common::Result<Json> ParseJson(std::string_view text) {
  try {
    // The callback sees every nesting step: refusing deep input keeps a hostile
    // frame from driving the recursive converters and destructor deep.
    bool too_deep = false;
    auto guard = [&too_deep](int depth, Json::parse_event_t, Json&) {
      if (depth > kMaxDepth) too_deep = true;
      return !too_deep;
    };
    Json j = Json::parse(text.begin(), text.end(), guard, /*allow_exceptions=*/true);
    if (too_deep || j.is_discarded()) {
      return common::Status::InvalidArgument("JSON nested deeper than 64 levels");
    }
    return j;
  } catch (const Json::parse_error& e) {
    return common::Status::InvalidArgument("invalid JSON at byte " + std::to_string(e.byte));
  } catch (const std::exception& e) {
    return common::Status::InvalidArgument(std::string("invalid JSON: ") + e.what());
  }
}

std::string DumpJson(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json ValueToJson(const common::Value& v) {
  using K = common::Value::Kind;
  switch (v.kind()) {
    case K::kNull:
      return nullptr;
    case K::kBool:
      return v.as_bool();
    case K::kInt:
      return v.as_int();
    case K::kDouble:
      return v.as_double();
    case K::kString:
      return v.as_string();
    case K::kArray: {
      Json a = Json::array();
      for (const auto& e : v.as_array()) a.push_back(ValueToJson(e));
      return a;
    }
    case K::kMap: {
      Json o = Json::object();
      for (const auto& [k, e] : v.as_map()) o[k] = ValueToJson(e);
      return o;
    }
  }
  return nullptr;
}

common::Value JsonToValue(const Json& j) {
  switch (j.type()) {
    case Json::value_t::boolean:
      return common::Value(j.get<bool>());
    case Json::value_t::number_integer:
      return common::Value(j.get<int64_t>());
    case Json::value_t::number_unsigned:
      return common::Value(static_cast<int64_t>(j.get<uint64_t>()));
    case Json::value_t::number_float:
      return common::Value(j.get<double>());
    case Json::value_t::string:
      return common::Value(j.get<std::string>());
    case Json::value_t::array: {
      common::Value a = common::Value::MakeArray();
      for (const auto& e : j) a.Push(JsonToValue(e));
      return a;
    }
    case Json::value_t::object: {
      common::Value m = common::Value::MakeMap();
      for (const auto& [k, e] : j.items()) m.Set(k, JsonToValue(e));
      return m;
    }
    default:
      return common::Value();
  }
}

std::string StringOr(const Json& obj, const char* key, std::string def) {
  if (!obj.is_object()) return def;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return def;
  return it->get<std::string>();
}

int64_t IntOr(const Json& obj, const char* key, int64_t def) {
  if (!obj.is_object()) return def;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return def;
  if (it->is_number_float()) return static_cast<int64_t>(it->get<double>());
  if (it->is_number_unsigned()) return static_cast<int64_t>(it->get<uint64_t>());
  return it->get<int64_t>();
}

}  // namespace laneway::supervisor::http
