// Conversions between nlohmann::json (the gateway's wire format) and
// common::Value (the core protocol's). Parsing never throws: nlohmann's
// exceptions stay in json_value.cc.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_JSON_VALUE_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_JSON_VALUE_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/value.h"

namespace laneway::supervisor::http {

using Json = nlohmann::json;

// Parses text; an error names the byte offset. Depth is bounded (64).
common::Result<Json> ParseJson(std::string_view text);
// Compact text; invalid UTF-8 is replaced, never thrown on.
std::string DumpJson(const Json& j);

Json ValueToJson(const common::Value& v);
common::Value JsonToValue(const Json& j);

// Field helpers on an object (or a non-object: then every field is absent).
std::string StringOr(const Json& obj, const char* key, std::string def = "");
int64_t IntOr(const Json& obj, const char* key, int64_t def);

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_JSON_VALUE_H_
