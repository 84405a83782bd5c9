// Where laneway keeps its state: everything lives under LANEWAY_HOME
// (default ~/.laneway). See DESIGN.md "Interfaces".
#ifndef LANEWAY_COMMON_PATHS_H_
#define LANEWAY_COMMON_PATHS_H_

#include <string>
#include <string_view>

#include "common/status.h"

namespace laneway::common {

struct Paths {
  std::string home;            // $LANEWAY_HOME
  std::string run_dir;         // home/run (mode 0700)
  std::string control_socket;  // home/run/control.sock
  std::string worker_socket;   // home/run/workers.sock
  std::string instance_lock;   // home/run/supervisor.lock (held by the running supervisor)
  std::string journal_dir;     // home/journal
  std::string config_file;     // home/laneway.toml
  std::string session_index;   // home/sessions.json (written by the supervisor only)

  std::string control_endpoint() const { return "ipc://" + control_socket; }
  std::string worker_endpoint() const { return "ipc://" + worker_socket; }
  // home/agents/<agent>/sessions
  std::string SessionsDir(std::string_view agent) const;
  // home/agents/<agent>/sessions/<escaped session name>.jsonl
  std::string TranscriptPath(std::string_view agent, std::string_view session_key) const;
  // The same with ".lock": the worker's kernel lock file, beside the transcript.
  std::string SessionLockPath(std::string_view agent, std::string_view session_key) const;
};

// From LANEWAY_HOME, else $HOME/.laneway. Fails only if neither is set.
Result<Paths> ResolvePaths();
Paths PathsForHome(const std::string& home);

// Creates dir and its parents; `mode` applies to the directories it creates.
Status MakeDirs(const std::string& dir, unsigned mode);

// Session keys are "agent:<agent>:<name>". Normalize turns a bare name into
// "agent:<agent>:<name>", accepts a full key whose agent matches, and rejects
// empty keys, keys over 256 bytes, control characters and a full key naming
// another agent.
Result<std::string> NormalizeSessionKey(std::string_view agent, std::string_view key);
// The <agent> part of a full key ("" if the key is not of that form).
std::string AgentOfSessionKey(std::string_view key);
// A file-name-safe form of a session key: [A-Za-z0-9_-] kept, others as %XX,
// so that distinct keys never share a file and no key escapes its directory.
// Names longer than 200 bytes keep a prefix and end in "~<64-bit hash>", so every
// name plus laneway's suffixes fits in NAME_MAX.
std::string EscapeFileName(std::string_view key);

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_PATHS_H_
