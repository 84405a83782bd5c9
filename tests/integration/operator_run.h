// Helpers of the Operator* integration suites: run the CLI (or any program) with
// a chosen environment and, when the test runs as root, as another user, to see
// what an operator without access to a home is told.
#ifndef LANEWAY_TESTS_INTEGRATION_OPERATOR_RUN_H_
#define LANEWAY_TESTS_INTEGRATION_OPERATOR_RUN_H_

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

extern char** environ;

namespace laneway::testing::op {

// Runs argv[0] (a path) with `env` on top of this process's environment, as
// `uid`/`gid` when they are not -1 (needs root). stdin is empty.
inline CliResult RunProgram(const std::vector<std::string>& argv, const Env& env,
                            uid_t uid = static_cast<uid_t>(-1), gid_t gid = static_cast<gid_t>(-1),
                            std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) return {};
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    bool overridden = false;
    for (const auto& [k, v] : env) overridden |= kv.rfind(k + "=", 0) == 0;
    if (!overridden) envs.push_back(kv);
  }
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv, cenv;
  for (auto& s : args) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  for (auto& s : envs) cenv.push_back(s.data());
  cenv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (gid != static_cast<gid_t>(-1) && (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0)) {
      ::_exit(126);
    }
    if (uid != static_cast<uid_t>(-1) && ::setuid(uid) != 0) ::_exit(126);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  CliResult r;
  int fds[2] = {out[0], err[0]};
  std::string* bufs[2] = {&r.out, &r.err};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while ((fds[0] >= 0 || fds[1] >= 0) && std::chrono::steady_clock::now() < deadline) {
    pollfd p[2];
    for (int i = 0; i < 2; ++i) p[i] = {fds[i], POLLIN, 0};
    if (::poll(p, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || !p[i].revents) continue;
      char buf[4096];
      ssize_t k = ::read(fds[i], buf, sizeof buf);
      if (k > 0) {
        bufs[i]->append(buf, static_cast<size_t>(k));
      } else {
        ::close(fds[i]);
        fds[i] = -1;
      }
    }
  }
  for (int fd : fds) {
    if (fd >= 0) {
      ::close(fd);
      ::kill(pid, SIGKILL);  // timed out: the assertion on code will say so
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// `laneway args...` with LANEWAY_HOME = `home_path` (and `env`).
inline CliResult Laneway(const std::string& home_path, const std::vector<std::string>& args,
                         Env env = {}, uid_t uid = static_cast<uid_t>(-1),
                         gid_t gid = static_cast<gid_t>(-1)) {
  std::vector<std::string> argv = {BinDir() + "/laneway"};
  argv.insert(argv.end(), args.begin(), args.end());
  env.emplace_back("LANEWAY_HOME", home_path);
  return RunProgram(argv, env, uid, gid);
}

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace laneway::testing::op

#endif  // LANEWAY_TESTS_INTEGRATION_OPERATOR_RUN_H_
