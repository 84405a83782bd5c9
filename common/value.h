// Value: a small owned dynamic value (null, bool, int, double, string, array, map)
// used as the body of every protocol message, with a msgpack codec and a JSON
// writer for the CLI's --json output.
//
// Maps keep insertion order (a vector of pairs): messages are small, and stable
// key order makes JSON output and tests predictable.
#ifndef LANEWAY_COMMON_VALUE_H_
#define LANEWAY_COMMON_VALUE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/status.h"

namespace laneway::common {

class Value {
 public:
  using Array = std::vector<Value>;
  using Map = std::vector<std::pair<std::string, Value>>;
  enum class Kind { kNull, kBool, kInt, kDouble, kString, kArray, kMap };

  Value() = default;
  Value(std::nullptr_t) {}                            // NOLINT
  Value(bool b) : v_(b) {}                            // NOLINT
  Value(int i) : v_(static_cast<int64_t>(i)) {}       // NOLINT
  Value(int64_t i) : v_(i) {}                         // NOLINT
  Value(uint64_t i) : v_(static_cast<int64_t>(i)) {}  // NOLINT
  Value(uint32_t i) : v_(static_cast<int64_t>(i)) {}  // NOLINT
  Value(double d) : v_(d) {}                          // NOLINT
  Value(const char* s) : v_(std::string(s)) {}        // NOLINT
  Value(std::string s) : v_(std::move(s)) {}          // NOLINT
  Value(std::string_view s) : v_(std::string(s)) {}   // NOLINT
  Value(Array a) : v_(std::move(a)) {}                // NOLINT
  Value(Map m) : v_(std::move(m)) {}                  // NOLINT

  static Value MakeMap() { return Value(Map{}); }
  static Value MakeArray() { return Value(Array{}); }

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_null() const { return kind() == Kind::kNull; }
  bool is_map() const { return kind() == Kind::kMap; }
  bool is_array() const { return kind() == Kind::kArray; }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_bool() const { return kind() == Kind::kBool; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_double() const { return std::get<double>(v_); }
  // On a temporary Value these return by value (moved out), so that
  // `for (auto& e : MakeValue().as_array())` does not iterate a destroyed object.
  const std::string& as_string() const& { return std::get<std::string>(v_); }
  std::string as_string() && { return std::get<std::string>(std::move(v_)); }
  const Array& as_array() const& { return std::get<Array>(v_); }
  Array& as_array() & { return std::get<Array>(v_); }
  Array as_array() && { return std::get<Array>(std::move(v_)); }
  const Map& as_map() const& { return std::get<Map>(v_); }
  Map& as_map() & { return std::get<Map>(v_); }
  Map as_map() && { return std::get<Map>(std::move(v_)); }

  // Map helpers. Set replaces an existing key. Find returns nullptr if absent or
  // if this is not a map.
  Value& Set(std::string_view key, Value v);
  const Value* Find(std::string_view key) const;
  // Array helper.
  void Push(Value v) { as_array().push_back(std::move(v)); }

  // Typed field access with errors that name the field, for decoding untrusted input.
  Result<std::string> GetString(std::string_view key) const;
  Result<int64_t> GetInt(std::string_view key) const;
  Result<bool> GetBool(std::string_view key) const;
  // Optional variants: the default when absent, an error when present with a wrong type.
  Result<std::string> GetStringOr(std::string_view key, std::string def) const;
  Result<int64_t> GetIntOr(std::string_view key, int64_t def) const;
  Result<bool> GetBoolOr(std::string_view key, bool def) const;

  bool operator==(const Value& o) const { return v_ == o.v_; }

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Array, Map> v_;
};

// msgpack. Decoding never throws: malformed input, trailing bytes, nesting deeper
// than 32, non-string map keys, integers beyond int64 and ext types are errors.
std::string EncodeMsgpack(const Value& v);
Result<Value> DecodeMsgpack(const void* data, size_t size);

// JSON text (UTF-8 passed through, control characters escaped). `indent` 0 = compact.
std::string ToJson(const Value& v, int indent = 0);

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_VALUE_H_
