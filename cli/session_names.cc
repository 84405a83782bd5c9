#include "cli/session_names.h"

#include <vector>

#include "common/paths.h"

namespace laneway::cli {

using common::Result;
using common::Status;

Status CheckSessionName(const std::string& name) {
  if (name.empty()) return Status::InvalidArgument("session name is empty");
  for (unsigned char c : name) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') {
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("session name '" + name + "' is only white space");
}

Result<std::string> ResolveSessionName(const std::string& input, const std::string& agent,
                                       const std::string& default_agent,
                                       const std::set<std::string>& known) {
  if (auto st = CheckSessionName(input); !st.ok()) return st;
  if (input.rfind("agent:", 0) == 0) return input;
  if (!agent.empty()) return "agent:" + agent + ":" + input;
  // Candidates in order of preference; the first one that exists wins.
  std::vector<std::string> preferred;
  if (size_t colon = input.find(':'); colon != std::string::npos && colon > 0) {
    preferred.push_back("agent:" + input);  // <agent>:<name>
  }
  preferred.push_back("agent:" + default_agent + ":" + input);
  for (const std::string& c : preferred) {
    if (known.count(c)) return c;
  }
  // A name of some other agent: agent:<x>:<input>.
  std::vector<std::string> others;
  for (const std::string& k : known) {
    const std::string owner = common::AgentOfSessionKey(k);
    if (!owner.empty() && k.size() == 7 + owner.size() + input.size() &&
        k.compare(7 + owner.size(), std::string::npos, input) == 0) {
      others.push_back(k);
    }
  }
  if (others.size() == 1) return others.front();
  if (others.size() > 1) {
    std::string list;
    for (size_t i = 0; i < others.size() && i < 5; ++i) list += (i ? ", " : "") + others[i];
    if (others.size() > 5) list += ", ... (" + std::to_string(others.size()) + " in all)";
    return Status::InvalidArgument("session name '" + input + "' is ambiguous: " + list +
                                   "; give the full key or <agent>:" + input);
  }
  return preferred.front();
}

}  // namespace laneway::cli
