#include "common/paths.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace laneway::common {

namespace {
constexpr size_t kMaxSessionKeyBytes = 256;
constexpr size_t kMaxEscapedBytes = 200;  // + ".jsonl"/".lock" stays under NAME_MAX (255)
}  // namespace

Paths PathsForHome(const std::string& home) {
  Paths p;
  p.home = home;
  p.run_dir = home + "/run";
  p.control_socket = p.run_dir + "/control.sock";
  p.worker_socket = p.run_dir + "/workers.sock";
  p.instance_lock = p.run_dir + "/supervisor.lock";
  p.journal_dir = home + "/journal";
  p.config_file = home + "/laneway.toml";
  p.session_index = home + "/sessions.json";
  return p;
}

Result<Paths> ResolvePaths() {
  const char* home = std::getenv("LANEWAY_HOME");
  if (home != nullptr && *home != '\0') return PathsForHome(home);
  const char* user_home = std::getenv("HOME");
  if (user_home == nullptr || *user_home == '\0') {
    return Status::FailedPrecondition("neither LANEWAY_HOME nor HOME is set");
  }
  return PathsForHome(std::string(user_home) + "/.laneway");
}

std::string Paths::SessionsDir(std::string_view agent) const {
  return home + "/agents/" + EscapeFileName(agent) + "/sessions";
}

std::string Paths::TranscriptPath(std::string_view agent, std::string_view session_key) const {
  return SessionsDir(agent) + "/" + EscapeFileName(session_key) + ".jsonl";
}

std::string Paths::SessionLockPath(std::string_view agent, std::string_view session_key) const {
  return SessionsDir(agent) + "/" + EscapeFileName(session_key) + ".lock";
}

Status MakeDirs(const std::string& dir, unsigned mode) {
  if (dir.empty()) return Status::InvalidArgument("empty directory path");
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), mode) != 0 && errno != EEXIST) {
      return Status::FromErrno("mkdir " + partial, errno);
    }
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return Status::FromErrno("stat " + dir, errno);
  if (!S_ISDIR(st.st_mode)) return Status::FailedPrecondition(dir + " is not a directory");
  return Status::Ok();
}

Result<std::string> NormalizeSessionKey(std::string_view agent, std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("session key is empty");
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("session key contains a control character");
    }
  }
  if (key.substr(0, 6) == "agent:") {
    std::string owner = AgentOfSessionKey(key);
    if (owner.empty()) {
      return Status::InvalidArgument("session key '" + std::string(key) +
                                     "' must look like agent:<agent>:<name>");
    }
    if (owner != agent) {
      return Status::InvalidArgument("session key '" + std::string(key) + "' belongs to agent '" +
                                     owner + "', not '" + std::string(agent) + "'");
    }
    if (key.size() > kMaxSessionKeyBytes) {
      return Status::InvalidArgument("session key is longer than 256 bytes");
    }
    return std::string(key);
  }
  // The limit applies to the full key, so a key listed by `laneway sessions` can
  // always be given back as --session.
  std::string full = "agent:" + std::string(agent) + ":" + std::string(key);
  if (full.size() > kMaxSessionKeyBytes) {
    return Status::InvalidArgument("session key '" + full.substr(0, 40) +
                                   "...' is longer than 256 bytes");
  }
  return full;
}

std::string AgentOfSessionKey(std::string_view key) {
  if (key.substr(0, 6) != "agent:") return "";
  size_t end = key.find(':', 6);
  if (end == std::string_view::npos || end == 6 || end + 1 >= key.size()) return "";
  return std::string(key.substr(6, end - 6));
}

std::string EscapeFileName(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  // Escaping can triple a key's length; a name past kMaxEscapedBytes keeps a readable
  // prefix and ends in "~" and a 64-bit FNV-1a hash of the whole key, so that it fits
  // in NAME_MAX with any suffix laneway adds and distinct keys stay distinct.
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : key) hash = (hash ^ c) * 1099511628211ull;
  for (unsigned char c : key) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-';
    if (keep) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  if (out.size() > kMaxEscapedBytes) {
    size_t cut = kMaxEscapedBytes - 17;
    // Do not split a "%XX" escape (X is never '%').
    if (out[cut - 1] == '%') {
      cut -= 1;
    } else if (out[cut - 2] == '%') {
      cut -= 2;
    }
    char tail[18];
    std::snprintf(tail, sizeof tail, "~%016llx", static_cast<unsigned long long>(hash));
    out = out.substr(0, cut) + tail;
  }
  return out;
}

}  // namespace laneway::common
