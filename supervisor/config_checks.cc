// Checks of a loaded config against this machine, for `laneway up` and reload: what
// the parser cannot know.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "supervisor/supervisor.h"

namespace laneway::supervisor {

namespace {

// The path exec would run for `program`: itself if it has a slash, else the first
// executable match on PATH. "" and *why set if there is none.
std::string Resolve(const std::string& program, std::string* why) {
  if (program.find('/') != std::string::npos) {
    if (::access(program.c_str(), X_OK) == 0) return program;
    *why = program + " is not executable (" + std::strerror(errno) + ")";
    return "";
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    // Built by appending: g++ 12's -Wrestrict misfires on `a + "/" + b` and on
    // assigning a literal to a substring here.
    std::string candidate(end > start ? dirs.data() + start : ".", end > start ? end - start : 1);
    candidate += '/';
    candidate += program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  *why = program + " was not found on PATH (" + dirs + ")";
  return "";
}

}  // namespace

common::Status CheckAgentCommands(const common::Config& config) {
  for (const auto& [id, agent] : config.agents) {
    if (agent.runner != common::RunnerKind::kExec || agent.command.empty()) continue;
    std::string why;
    if (Resolve(agent.command[0], &why).empty()) {
      return common::Status::InvalidArgument(config.source + ": agents." + id +
                                             ".command[0]: " + why);
    }
  }
  return common::Status::Ok();
}

}  // namespace laneway::supervisor
