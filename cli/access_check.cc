#include "cli/access_check.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

namespace laneway::cli {

namespace {

std::string UserName(uid_t uid) {
  if (const passwd* pw = ::getpwuid(uid)) return pw->pw_name;
  return "uid " + std::to_string(uid);
}

std::string WhoAmI() {
  const uid_t uid = ::geteuid();
  return UserName(uid) + " (uid " + std::to_string(uid) + ")";
}

// "rwx" letters of `want`, and words for them.
std::string Letters(int want) {
  std::string s;
  if (want & R_OK) s += 'r';
  if (want & W_OK) s += 'w';
  if (want & X_OK) s += 'x';
  return s;
}

std::string Words(int want, bool dir) {
  std::vector<std::string> w;
  if (want & R_OK) w.push_back(dir ? "read" : "read");
  if (want & W_OK) w.push_back("write");
  if (want & X_OK) w.push_back(dir ? "search" : "execute");
  std::string s;
  for (size_t i = 0; i < w.size(); ++i) {
    if (i > 0) s += i + 1 == w.size() ? " and " : ", ";
    s += w[i];
  }
  return s;
}

std::string Describe(const std::string& path, int want, const std::string& why) {
  struct stat st {};
  std::string what = path;
  bool dir = false;
  if (::stat(path.c_str(), &st) == 0) {
    dir = S_ISDIR(st.st_mode);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    what += " (" + std::string(dir ? "directory" : "file") + ", mode " + mode + ", owner " +
            UserName(st.st_uid) + ")";
  }
  return "permission denied: " + why + " needs " + Words(want, dir) + " (" + Letters(want) +
         ") permission on " + what + ", which " + WhoAmI() + " lacks";
}

// The directories from "/" down to the parent of `path`.
std::vector<std::string> Ancestors(const std::string& path) {
  std::vector<std::string> out;
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    out.push_back(path.substr(0, pos));
  }
  return out;
}

std::optional<std::string> SearchProblem(const std::string& path, const std::string& why) {
  for (const std::string& dir : Ancestors(path)) {
    if (::access(dir.c_str(), X_OK) == 0) continue;
    if (errno == EACCES) return Describe(dir, X_OK, why);
    return std::nullopt;  // missing on the way: not a permission problem
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> AccessProblem(const std::string& path, int want) {
  const std::string why = "reaching " + path;
  if (auto p = SearchProblem(path, why)) return p;
  if (::access(path.c_str(), want) == 0 || errno != EACCES) return std::nullopt;
  return Describe(path, want, "opening " + path);
}

std::optional<std::string> HomeProblem(const std::string& home) {
  struct stat st {};
  if (::stat(home.c_str(), &st) != 0 && errno == ENOENT) {
    // Created by the supervisor with its parents: the nearest existing ancestor
    // must let us create entries in it.
    std::string dir = home;
    for (;;) {
      size_t slash = dir.rfind('/');
      dir = slash == 0 || slash == std::string::npos ? "/" : dir.substr(0, slash);
      if (::stat(dir.c_str(), &st) == 0 || errno != ENOENT || dir == "/") break;
    }
    const std::string why = "creating " + home;
    if (auto p = SearchProblem(dir, why)) return p;
    if (::access(dir.c_str(), W_OK | X_OK) != 0 && errno == EACCES) {
      return Describe(dir, W_OK | X_OK, why);
    }
    return std::nullopt;
  }
  const std::string why = "running a supervisor on " + home;
  if (auto p = SearchProblem(home, why)) return p;
  for (const char* sub : {"", "/run", "/journal", "/agents"}) {
    const std::string dir = home + sub;
    if (::access(dir.c_str(), F_OK) != 0) continue;
    if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0 && errno == EACCES) {
      return Describe(dir, R_OK | W_OK | X_OK, why);
    }
  }
  for (const char* file : {"/run/supervisor.lock", "/journal/journal.log", "/sessions.json"}) {
    const std::string f = home + file;
    if (::access(f.c_str(), F_OK) != 0) continue;
    if (::access(f.c_str(), R_OK | W_OK) != 0 && errno == EACCES) {
      return Describe(f, R_OK | W_OK, why);
    }
  }
  return std::nullopt;
}

}  // namespace laneway::cli
