#include "common/value.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <msgpack.hpp>

namespace laneway::common {
namespace {

constexpr int kMaxDepth = 32;

void Pack(msgpack::packer<msgpack::sbuffer>& pk, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      pk.pack_nil();
      break;
    case Value::Kind::kBool:
      v.as_bool() ? pk.pack_true() : pk.pack_false();
      break;
    case Value::Kind::kInt:
      pk.pack_int64(v.as_int());
      break;
    case Value::Kind::kDouble: {
      // Always float64 on the wire: msgpack-c's pack_double writes integral values as
      // integers, which would turn 2.0 into 2, lose -0.0's sign, and overflow above 2^63.
      uint64_t bits;
      double d = v.as_double();
      std::memcpy(&bits, &d, sizeof bits);
      char buf[9];
      buf[0] = static_cast<char>(0xcb);
      for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
      pk.pack_str_body(buf, sizeof buf);  // raw bytes, no header
      break;
    }
    case Value::Kind::kString:
      pk.pack_str(static_cast<uint32_t>(v.as_string().size()));
      pk.pack_str_body(v.as_string().data(), static_cast<uint32_t>(v.as_string().size()));
      break;
    case Value::Kind::kArray:
      pk.pack_array(static_cast<uint32_t>(v.as_array().size()));
      for (const Value& e : v.as_array()) Pack(pk, e);
      break;
    case Value::Kind::kMap:
      pk.pack_map(static_cast<uint32_t>(v.as_map().size()));
      for (const auto& [k, e] : v.as_map()) {
        pk.pack_str(static_cast<uint32_t>(k.size()));
        pk.pack_str_body(k.data(), static_cast<uint32_t>(k.size()));
        Pack(pk, e);
      }
      break;
  }
}

// `depth` counts the containers around `o`. At most kMaxDepth containers may nest:
// the 33rd is an error whatever it holds.
Result<Value> Convert(const msgpack::object& o, int depth) {
  if (depth >= kMaxDepth && (o.type == msgpack::type::ARRAY || o.type == msgpack::type::MAP)) {
    return Status::InvalidArgument("nesting deeper than 32 levels");
  }
  switch (o.type) {
    case msgpack::type::NIL:
      return Value();
    case msgpack::type::BOOLEAN:
      return Value(o.via.boolean);
    case msgpack::type::POSITIVE_INTEGER:
      if (o.via.u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Status::InvalidArgument("integer out of range");
      }
      return Value(static_cast<int64_t>(o.via.u64));
    case msgpack::type::NEGATIVE_INTEGER:
      return Value(o.via.i64);
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return Value(o.via.f64);
    case msgpack::type::STR:
      return Value(std::string(o.via.str.ptr, o.via.str.size));
    case msgpack::type::BIN:
      return Value(std::string(o.via.bin.ptr, o.via.bin.size));
    case msgpack::type::ARRAY: {
      Value::Array a;
      a.reserve(o.via.array.size);
      for (uint32_t i = 0; i < o.via.array.size; ++i) {
        Result<Value> e = Convert(o.via.array.ptr[i], depth + 1);
        if (!e.ok()) return e;
        a.push_back(std::move(e).value());
      }
      return Value(std::move(a));
    }
    case msgpack::type::MAP: {
      Value::Map m;
      m.reserve(o.via.map.size);
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        const msgpack::object_kv& kv = o.via.map.ptr[i];
        if (kv.key.type != msgpack::type::STR)
          return Status::InvalidArgument("map key is not a string");
        Result<Value> e = Convert(kv.val, depth + 1);
        if (!e.ok()) return e;
        m.emplace_back(std::string(kv.key.via.str.ptr, kv.key.via.str.size), std::move(e).value());
      }
      return Value(std::move(m));
    }
    default:
      return Status::InvalidArgument("unsupported msgpack type (ext)");
  }
}

void AppendJsonString(std::string& out, const std::string& s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void WriteJson(std::string& out, const Value& v, int indent, int level) {
  auto newline = [&](int lvl) {
    if (indent == 0) return;
    out.push_back('\n');
    out.append(static_cast<size_t>(indent * lvl), ' ');
  };
  switch (v.kind()) {
    case Value::Kind::kNull:
      out += "null";
      break;
    case Value::Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      break;
    case Value::Kind::kInt:
      out += std::to_string(v.as_int());
      break;
    case Value::Kind::kDouble: {
      if (!std::isfinite(v.as_double())) {
        out += "null";
        break;
      }
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v.as_double());
      out += buf;
      break;
    }
    case Value::Kind::kString:
      AppendJsonString(out, v.as_string());
      break;
    case Value::Kind::kArray: {
      out.push_back('[');
      bool first = true;
      for (const Value& e : v.as_array()) {
        if (!first) out.push_back(',');
        first = false;
        newline(level + 1);
        WriteJson(out, e, indent, level + 1);
      }
      if (!v.as_array().empty()) newline(level);
      out.push_back(']');
      break;
    }
    case Value::Kind::kMap: {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, e] : v.as_map()) {
        if (!first) out.push_back(',');
        first = false;
        newline(level + 1);
        AppendJsonString(out, k);
        out += indent ? ": " : ":";
        WriteJson(out, e, indent, level + 1);
      }
      if (!v.as_map().empty()) newline(level);
      out.push_back('}');
      break;
    }
  }
}

Status FieldError(std::string_view key, const char* what) {
  return Status::InvalidArgument("field '" + std::string(key) + "' " + what);
}

}  // namespace

Value& Value::Set(std::string_view key, Value v) {
  Map& m = as_map();
  for (auto& [k, e] : m) {
    if (k == key) {
      e = std::move(v);
      return e;
    }
  }
  m.emplace_back(std::string(key), std::move(v));
  return m.back().second;
}

const Value* Value::Find(std::string_view key) const {
  if (!is_map()) return nullptr;
  for (const auto& [k, e] : as_map()) {
    if (k == key) return &e;
  }
  return nullptr;
}

Result<std::string> Value::GetString(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return FieldError(key, "is missing");
  if (!v->is_string()) return FieldError(key, "must be a string");
  return v->as_string();
}

Result<int64_t> Value::GetInt(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return FieldError(key, "is missing");
  if (!v->is_int()) return FieldError(key, "must be an integer");
  return v->as_int();
}

Result<bool> Value::GetBool(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return FieldError(key, "is missing");
  if (!v->is_bool()) return FieldError(key, "must be a boolean");
  return v->as_bool();
}

Result<std::string> Value::GetStringOr(std::string_view key, std::string def) const {
  if (Find(key) == nullptr || Find(key)->is_null()) return def;
  return GetString(key);
}

Result<int64_t> Value::GetIntOr(std::string_view key, int64_t def) const {
  if (Find(key) == nullptr || Find(key)->is_null()) return def;
  return GetInt(key);
}

Result<bool> Value::GetBoolOr(std::string_view key, bool def) const {
  if (Find(key) == nullptr || Find(key)->is_null()) return def;
  return GetBool(key);
}

std::string EncodeMsgpack(const Value& v) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  Pack(pk, v);
  return std::string(buf.data(), buf.size());
}

Result<Value> DecodeMsgpack(const void* data, size_t size) {
  if (size == 0) return Status::InvalidArgument("empty message");
  try {
    std::size_t offset = 0;
    // Limits bound what a hostile peer can make us allocate before we look at it.
    msgpack::unpack_limit limit(/*array=*/1 << 20, /*map=*/1 << 16, /*str=*/size, /*bin=*/size,
                                /*ext=*/0, /*depth=*/kMaxDepth + 1);
    msgpack::object_handle oh =
        msgpack::unpack(static_cast<const char*>(data), size, offset, nullptr, nullptr, limit);
    if (offset != size) return Status::InvalidArgument("trailing bytes after message");
    return Convert(oh.get(), 0);
  } catch (const msgpack::insufficient_bytes&) {
    return Status::InvalidArgument("truncated msgpack");
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("malformed msgpack: ") + e.what());
  }
}

std::string ToJson(const Value& v, int indent) {
  std::string out;
  WriteJson(out, v, indent, 0);
  return out;
}

}  // namespace laneway::common
