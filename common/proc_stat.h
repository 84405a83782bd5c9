// ProcStatFields / ProcStatField: the fields of /proc/<pid>/stat, numbered as in proc(5) (1 = pid,
// 2 = comm, 3 = state, 4 = ppid, 19 = nice, 22 = starttime, ...). The command name
// may hold spaces and parentheses, so the fields are split after its last ')'.
// Header-only: the tests, benchmarks and the soak's agent use it without linking
// laneway's libraries.
#ifndef LANEWAY_COMMON_PROC_STAT_H_
#define LANEWAY_COMMON_PROC_STAT_H_

#include <sys/types.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace laneway::common {

// The fields of /proc/<pid>/stat from field 3 (state) on: element 0 is field 3.
// Empty if the process is gone.
inline std::vector<std::string> ProcStatFields(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  std::vector<std::string> out;
  const size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 > line.size()) return out;
  std::istringstream rest(line.substr(close + 2));
  for (std::string field; rest >> field;) out.push_back(std::move(field));
  return out;
}

// Field `n` (>= 3) of /proc/<pid>/stat; nullopt if the process is gone or the line
// is shorter.
inline std::optional<std::string> ProcStatField(pid_t pid, int n) {
  std::vector<std::string> fields = ProcStatFields(pid);
  if (n < 3 || static_cast<size_t>(n - 3) >= fields.size()) return std::nullopt;
  return std::move(fields[static_cast<size_t>(n - 3)]);
}

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_PROC_STAT_H_
