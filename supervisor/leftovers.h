// Leftovers: processes that an earlier supervisor of the same LANEWAY_HOME started
// and that outlived it. A supervisor that is SIGKILLed gets no chance to end its
// workers; each worker asks for PR_SET_PDEATHSIG and ends its process group on it,
// but a worker that is stopped (SIGSTOP) cannot act on that signal, and the
// descendants of a worker that died just before the supervisor (before it reaped
// the worker and killed the group) have nobody left to end them. The next
// supervisor of that home ends them at start.
//
// Contract:
//  - Every worker, and so every process it starts, carries LANEWAY_SUPERVISED_BY=
//    <home> in its environment (worker_pool.cc, SpecFor). A process whose
//    environment holds that exact entry for this home is a leftover: nobody else
//    sets it, and while this supervisor holds the home's instance lock no other
//    supervisor of this home runs.
//  - KillLeftovers sends SIGKILL (which ends stopped processes too) to each, never to
//    the calling process, and logs `leftover_killed` with pid and command for each.
//    It reads /proc/<pid>/environ of the processes it may read (the supervisor's own
//    uid's, or all of them as root) and returns how many it killed.
//  - Call it after taking the instance lock and before starting any worker.
#ifndef LANEWAY_SUPERVISOR_LEFTOVERS_H_
#define LANEWAY_SUPERVISOR_LEFTOVERS_H_

#include <sys/types.h>

#include <string>

namespace laneway::supervisor {

inline constexpr const char* kSupervisedByEnv = "LANEWAY_SUPERVISED_BY";

// Whether a NUL-separated environment block holds LANEWAY_SUPERVISED_BY=<home>.
bool EnvironmentNamesHome(const std::string& environ_block, const std::string& home);

int KillLeftovers(const std::string& home);

// A process's command name (/proc/<pid>/comm); empty if it is gone. The orphan
// sweep (supervisor.cc) names what it kills with it too.
std::string CommandOf(pid_t pid);

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_LEFTOVERS_H_
