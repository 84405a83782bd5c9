#include "cli/output.h"

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "cli/client.h"

namespace laneway::cli {

using common::Value;

namespace {

// Error texts end without a newline; a person may have sent one along.
std::string OneLine(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

// The first decimal number in `s` after `after` (0 if none).
int64_t NumberAfter(const std::string& s, const std::string& after) {
  size_t at = s.find(after);
  if (at == std::string::npos) return 0;
  at += after.size();
  while (at < s.size() && (s[at] < '0' || s[at] > '9')) ++at;
  return std::strtoll(s.c_str() + at, nullptr, 10);
}

int64_t IntOf(const Value& v, const char* key) {
  const Value* f = v.Find(key);
  return f && f->is_int() ? f->as_int() : 0;
}

}  // namespace

int Output::Fail(const Failure& f) const {
  if (json_) {
    Value o = Value::MakeMap();
    o.Set("error", OneLine(f.message));
    o.Set("code", f.code);
    std::cout << common::ToJson(o) << "\n";
  } else {
    std::cerr << "laneway " << command_ << ": " << OneLine(f.message) << "\n";
  }
  return f.exit_code;
}

int Output::Usage(std::string_view message, const char* help) const {
  Fail(kExitUsage, code::kUsage, message);
  if (!json_ && help != nullptr) std::cerr << help;
  return kExitUsage;
}

void Output::Json(const Value& v) const { std::cout << common::ToJson(v) << "\n"; }

void Output::Note(std::string_view message) const {
  if (!json_) std::cerr << "laneway " << command_ << ": " << OneLine(message) << "\n";
}

bool WantsJson(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) return true;
  }
  return false;
}

std::string DescribeSupervisorError(const Value& error, size_t sent_bytes) {
  const std::string text = error.GetStringOr("error", "error").value();
  if (error.GetStringOr("code", "").value() != code::kTooLarge) return OneLine(text);
  // Prefer the numbers the supervisor states in fields; older supervisors only
  // say "message of N bytes exceeds the limit of M".
  int64_t bytes = IntOf(error, "bytes");
  if (bytes == 0) bytes = NumberAfter(text, "message of");
  if (bytes == 0) bytes = static_cast<int64_t>(sent_bytes);
  int64_t limit = IntOf(error, "max_message_bytes");
  if (limit == 0) limit = NumberAfter(text, "limit of");
  std::string out = "message too large (" + std::to_string(bytes) + " bytes";
  if (limit > 0) out += " > max_message_bytes " + std::to_string(limit);
  return out + ")";
}

}  // namespace laneway::cli
