// The config reader's private parts, shared by config.cc (the root, [supervisor],
// [agents]) and config_channels.cc ([channels]): the error collector, the typed
// readers and the declarative field tables. toml++ stays behind these files; nothing
// outside common/config*.cc includes this header.
#ifndef LANEWAY_COMMON_CONFIG_READER_H_
#define LANEWAY_COMMON_CONFIG_READER_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "common/config.h"
#include "common/duration.h"
#include "common/quote.h"
#include "common/toml_import.h"

namespace laneway::common::config_reader {

using Millis = std::chrono::milliseconds;

// Large enough for any sane timeout, small enough that steady_clock::now()
// plus it cannot overflow the nanosecond clock (which would be UB).
inline constexpr Millis kMaxDuration = std::chrono::hours(24 * 365);
inline constexpr size_t kMaxAgentIdLength = 64;

inline bool IsIdChar(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '_' || ch == '-';
}

inline bool IsValidAgentId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxAgentIdLength &&
         std::all_of(id.begin(), id.end(), IsIdChar);
}

// One part of a dotted key, written the way TOML would need it.
inline std::string KeyPart(std::string_view part) {
  bool bare = !part.empty() && std::all_of(part.begin(), part.end(), IsIdChar);
  return bare ? std::string(part) : Quote(part);
}

inline std::string Join(const std::string& prefix, std::string_view part) {
  return prefix.empty() ? KeyPart(part) : prefix + "." + KeyPart(part);
}

template <typename E>
using NameTable = std::pair<E, const char*>;

inline constexpr NameTable<toml::node_type> kTypeNames[] = {
    {toml::node_type::string, "a string"},
    {toml::node_type::integer, "an integer"},
    {toml::node_type::floating_point, "a floating-point number"},
    {toml::node_type::boolean, "a boolean"},
    {toml::node_type::date, "a date"},
    {toml::node_type::time, "a time"},
    {toml::node_type::date_time, "a date-time"},
    {toml::node_type::array, "an array"},
    {toml::node_type::table, "a table"}};

template <typename E, size_t N>
inline const char* NameOf(const NameTable<E> (&table)[N], E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
inline std::optional<E> FromName(const NameTable<E> (&table)[N], std::string_view name) {
  for (const auto& [v, n] : table) {
    if (name == n) return v;
  }
  return std::nullopt;
}

inline const char* TypeName(toml::node_type type) { return NameOf(kTypeNames, type); }

inline uint32_t LineOf(const toml::node& node) { return node.source().begin.line; }

// Collects errors and reports the earliest one in the file.
class Checker {
 public:
  explicit Checker(std::string source) : source_(std::move(source)) {}

  void Fail(uint32_t line, const std::string& key, const std::string& what) {
    std::string where = line == 0 ? source_ : source_ + ":" + std::to_string(line);
    Record(line, where + ": " + key + ": " + what);
  }
  void Fail(const toml::node& at, const std::string& key, const std::string& what) {
    Fail(LineOf(at), key, what);
  }
  void WrongType(const toml::node& at, const std::string& key, const char* expected) {
    Fail(at, key, std::string("expected ") + expected + ", got " + TypeName(at.type()));
  }
  // An error about the config as a whole, with no line to point at.
  void FailWhole(const std::string& what) { Record(0, source_ + ": " + what); }

  bool ok() const { return errors_ == 0; }
  int errors() const { return errors_; }
  Status status() const { return ok() ? Status::Ok() : Status::InvalidArgument(message_); }

 private:
  // Line 0 (unknown) sorts after every real line.
  void Record(uint32_t line, std::string message) {
    uint32_t rank = line == 0 ? UINT32_MAX : line;
    if (errors_++ > 0 && rank >= rank_) return;
    rank_ = rank;
    message_ = std::move(message);
  }

  std::string source_;
  int errors_ = 0;
  uint32_t rank_ = 0;
  std::string message_;
};

// --- Typed readers: each records an error and returns nullopt on failure. ---

inline std::optional<int64_t> ReadInt(const toml::node& node, const std::string& key, int64_t min,
                                      int64_t max, Checker& c) {
  const auto* v = node.as_integer();
  if (v == nullptr) {
    c.WrongType(node, key, "an integer");
    return std::nullopt;
  }
  int64_t value = v->get();
  if (value < min || value > max) {
    c.Fail(node, key,
           std::to_string(value) + " is out of range (expected " + std::to_string(min) + ".." +
               std::to_string(max) + ")");
    return std::nullopt;
  }
  return value;
}

inline std::optional<std::string_view> ReadString(const toml::node& node, const std::string& key,
                                                  Checker& c) {
  const auto* v = node.as_string();
  if (v == nullptr) {
    c.WrongType(node, key, "a string");
    return std::nullopt;
  }
  return std::string_view(v->get());
}

inline std::optional<Millis> ReadDuration(const toml::node& node, const std::string& key,
                                          Checker& c) {
  const auto* v = node.as_string();
  if (v == nullptr) {
    c.WrongType(node, key, "a duration string such as \"10s\"");
    return std::nullopt;
  }
  Result<Millis> d = ParseDuration(v->get());
  if (!d.ok()) {
    c.Fail(node, key, d.status().message());
    return std::nullopt;
  }
  if (d->count() <= 0) {
    c.Fail(node, key, "must be greater than 0, got " + Quote(v->get()));
    return std::nullopt;
  }
  if (*d > kMaxDuration) {
    c.Fail(node, key,
           Quote(v->get()) + " is too long (at most " + FormatDuration(kMaxDuration) + ")");
    return std::nullopt;
  }
  return *d;
}

inline const toml::table* ReadTable(const toml::node& node, const std::string& key, Checker& c) {
  const toml::table* t = node.as_table();
  if (t == nullptr) c.WrongType(node, key, "a table");
  return t;
}

// --- The declarative part: plain keys of each section and their ranges. ---

template <typename Cfg>
struct Field {
  std::string_view name;
  std::variant<uint32_t Cfg::*, Millis Cfg::*, bool Cfg::*> member;
  int64_t min = 0;  // integers only
  int64_t max = 0;
};

// Applies `node` to the field named `name`; false if no such field.
template <typename Cfg, size_t N>
inline bool ApplyField(const Field<Cfg> (&fields)[N], std::string_view name, const toml::node& node,
                       const std::string& key, Checker& c, Cfg& cfg) {
  for (const Field<Cfg>& f : fields) {
    if (f.name != name) continue;
    std::visit(
        [&](auto member) {
          using T = std::remove_reference_t<decltype(cfg.*member)>;
          if constexpr (std::is_same_v<T, uint32_t>) {
            if (auto v = ReadInt(node, key, f.min, f.max, c)) cfg.*member = uint32_t(*v);
          } else if constexpr (std::is_same_v<T, Millis>) {
            if (auto v = ReadDuration(node, key, c)) cfg.*member = *v;
          } else {
            if (const auto* b = node.as_boolean()) {
              cfg.*member = b->get();
            } else {
              c.WrongType(node, key, "a boolean");
            }
          }
        },
        f.member);
    return true;
  }
  return false;
}

inline bool IsNonEmpty(std::string_view s) { return !s.empty(); }

inline bool IsValidEnvName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char ch : name) {
    if (!IsIdChar(ch) || ch == '-') return false;
  }
  return true;
}

// A string key whose value must pass `valid`; `what` and `expected` word the error.
inline void ReadValidated(const toml::node& node, const std::string& key,
                          bool (*valid)(std::string_view), const char* what, const char* expected,
                          Checker& c, std::string& out) {
  auto v = ReadString(node, key, c);
  if (!v) return;
  if (!valid(*v)) {
    c.Fail(node, key, std::string(what) + " " + Quote(*v) + " (" + expected + ")");
    return;
  }
  out = std::string(*v);
}

// [channels]: config_channels.cc.
void ReadChannels(const toml::table& t, Checker& c, Config& cfg);

}  // namespace laneway::common::config_reader

#endif  // LANEWAY_COMMON_CONFIG_READER_H_
