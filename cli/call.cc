#include "cli/call.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "common/protocol.h"

namespace laneway::cli {

using common::Value;

int CallOn(Client& client, const Output& out, Value request, Value* data) {
  auto reply = client.Call(std::move(request), kCallTimeout);
  if (!reply.ok()) {
    if (client.WasRefused()) {
      return out.Fail(kExitUnreachable, code::kPermissionDenied, reply.status().message());
    }
    const bool gone = !client.SupervisorAlive();
    return out.Fail(kExitUnreachable, gone ? code::kUnreachable : code::kNoAnswer,
                    gone ? UnreachableHint(client.paths()) : reply.status().message());
  }
  if (common::MessageType(*reply) == common::msg::kError) {
    const std::string c = reply->GetStringOr("code", "error").value();
    return out.Fail(c == "forgotten" ? kExitForgotten : kExitFailed, c,
                    DescribeSupervisorError(*reply, client.last_request_bytes()));
  }
  const Value* d = reply->Find("data");
  *data = d ? *d : Value();
  return -1;
}

int CallData(const Output& out, Value request, Value* data) {
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(out, &code);
  if (!client) return code;
  return CallOn(*client, out, std::move(request), data);
}

std::string Str(const Value& v, const char* key) {
  const Value* f = v.Find(key);
  if (f == nullptr || f->is_null()) return "-";
  if (f->is_string()) return f->as_string();
  if (f->is_int()) return std::to_string(f->as_int());
  if (f->is_bool()) return f->as_bool() ? "yes" : "no";
  return common::ToJson(*f);
}

std::string Age(const Value& v, const char* key) {
  const Value* f = v.Find(key);
  if (f == nullptr || !f->is_int()) return "-";
  int64_t ms = f->as_int();
  char buf[32];
  if (ms < 1000)
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  else if (ms < 60000)
    std::snprintf(buf, sizeof buf, "%.1fs", ms / 1000.0);
  else if (ms < 3600000)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(ms / 60000),
                  static_cast<long long>(ms / 1000 % 60));
  else
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(ms / 3600000),
                  static_cast<long long>(ms / 60000 % 60));
  return buf;
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

}  // namespace laneway::cli
