#include "tests/integration/gateway_support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace laneway::testing {

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ScriptPath() {
  return std::string(LANEWAY_SOURCE_DIR) + "/tests/integration/gateway/ws_client.py";
}

pid_t Spawn(const std::vector<std::string>& argv, const Env& extra, const std::string& out,
            const std::string& err) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    bool overridden = false;
    for (const auto& [k, v] : extra) overridden |= kv.rfind(k + "=", 0) == 0;
    if (!overridden) env.push_back(kv);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  std::vector<std::string> a = argv;
  std::vector<char*> cargv, cenv;
  for (auto& s : a) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  for (auto& s : env) cenv.push_back(s.data());
  cenv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

ProcResult RunProgram(const std::vector<std::string>& argv, const Env& env,
                      std::chrono::milliseconds timeout) {
  char tmpl[] = "/tmp/laneway-gw-out-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  pid_t pid = Spawn(argv, env, dir + "/out", dir + "/err");
  ProcResult r;
  int status = 0;
  bool exited = WaitFor([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!exited) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    r.code = -1;
  } else {
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  r.out = ReadAll(dir + "/out");
  r.err = ReadAll(dir + "/err");
  std::string cmd = "rm -rf '" + dir + "'";
  int rc = std::system(cmd.c_str());
  (void)rc;
  return r;
}

GatewayServer::GatewayServer(const TempHome& home, Env env) : home_(home), env_(std::move(env)) {
  sup_ = std::make_unique<SupervisorProcess>(home_, env_);
}

GatewayServer::~GatewayServer() {
  if (host_pid_ > 0) {
    ::kill(-host_pid_, SIGKILL);
    ::waitpid(host_pid_, nullptr, 0);
  }
}

bool GatewayServer::Start(const std::string& config) {
  // A supervisor killed earlier on this home left its address behind.
  ::unlink((home_.path() + "/run/http.addr").c_str());
  if (!sup_->Start(config)) return false;
  const char* use_host = std::getenv("LANEWAY_GATEWAY_TEST_HOST");
  if (use_host && std::string(use_host) == "1") {
    Env env = env_;
    env.emplace_back("LANEWAY_HOME", home_.path());
    env.emplace_back("LANEWAY_HTTP_LISTEN", "127.0.0.1:0");
    host_pid_ = Spawn({BinDir() + "/gateway_host", "--config", home_.path() + "/laneway.toml"}, env,
                      home_.path() + "/gateway_host.out", home_.path() + "/gateway_host.log");
  }
  const std::string file = home_.path() + "/run/http.addr";
  bool ok = WaitFor(
      [&] {
        std::string a = ReadAll(file);
        while (!a.empty() && (a.back() == '\n' || a.back() == ' ')) a.pop_back();
        if (a.empty()) return false;
        addr_ = a;
        return true;
      },
      std::chrono::seconds(20));
  return ok;
}

std::string GatewayServer::Log() const {
  return sup_->Log() + ReadAll(home_.path() + "/gateway_host.log");
}

nlohmann::json WsClient(const std::vector<std::string>& args, std::string* raw,
                        std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {"/usr/bin/python3", ScriptPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcResult r = RunProgram(argv, {}, timeout);
  if (raw) *raw = "rc=" + std::to_string(r.code) + " out=" + r.out + " err=" + r.err;
  try {
    return nlohmann::json::parse(r.out);
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::future<nlohmann::json> WsClientAsync(std::vector<std::string> args) {
  return std::async(std::launch::async, [args = std::move(args)] { return WsClient(args); });
}

HttpResult Curl(const std::string& url, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/curl", "-s", "-S", "-N", "-m", "60", "-w",
                                   "\n%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);
  ProcResult r = RunProgram(argv);
  HttpResult h;
  size_t nl = r.out.rfind('\n');
  if (nl == std::string::npos) return h;
  h.status = std::atoi(r.out.c_str() + nl + 1);
  h.body = r.out.substr(0, nl);
  return h;
}

std::string GatewayConfig(const TempHome& home, const std::string& http_extra,
                          const std::string& agent_extra) {
  return ExecConfig(home, "", agent_extra) + "\n[channels.http]\n" + http_extra + "\n";
}

nlohmann::json WsCall(const GatewayServer& gw, const std::string& method,
                      const std::string& params_json) {
  return WsClient({"call", gw.ws_url(), kGatewayToken, method, params_json});
}

}  // namespace laneway::testing
