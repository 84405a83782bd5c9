// OpenAiDouble: starts tests/doubles/openai_double.py (a local OpenAI-compatible
// server) for one test and stops it with the test. Readiness is the "PORT <n>"
// line the double prints once it listens: no sleeps, no polling.
//
// The script (a JSON array of response specs, see the .py) is given at start;
// Requests() reads what the double recorded, one JSON object per request, in the
// order they arrived. Header-only so unit and integration tests can both use it;
// needs LANEWAY_SOURCE_DIR defined to the source tree.
#ifndef LANEWAY_TESTS_DOUBLES_OPENAI_DOUBLE_H_
#define LANEWAY_TESTS_DOUBLES_OPENAI_DOUBLE_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace laneway::testing_util {

class OpenAiDouble {
 public:
  // Starts the double with `script_json`; `dir` holds its script and record files.
  // `extra_args` go to the double's command line (e.g. {"--chaos", "0.3"}). The
  // double dies with the thread that started it (PR_SET_PDEATHSIG).
  OpenAiDouble(const std::string& dir, const std::string& script_json = "[]",
               const std::vector<std::string>& extra_args = {}) {
    script_path_ = dir + "/openai_double_script.json";
    record_path_ = dir + "/openai_double_requests.jsonl";
    std::ofstream(script_path_) << script_json;
    std::filesystem::remove(record_path_);
    // The command line is built before fork: the child of a threaded test only execs.
    const std::string py = std::string(LANEWAY_SOURCE_DIR) + "/tests/doubles/openai_double.py";
    std::vector<const char*> argv = {
        "python3", py.c_str(), "--script", script_path_.c_str(), "--record", record_path_.c_str()};
    for (const std::string& a : extra_args) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::execvp("python3", const_cast<char* const*>(argv.data()));
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    char ch;
    while (::read(out[0], &ch, 1) == 1 && ch != '\n') line.push_back(ch);
    ::close(out[0]);
    if (line.rfind("PORT ", 0) == 0) port_ = std::atoi(line.c_str() + 5);
  }
  ~OpenAiDouble() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
  }
  OpenAiDouble(const OpenAiDouble&) = delete;
  OpenAiDouble& operator=(const OpenAiDouble&) = delete;

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

  std::vector<nlohmann::json> Requests() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(record_path_);
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }
  // Starts over with a new script: forgets the old one and every recorded request
  // (so one double can serve a whole test suite). False if the double did not say ok.
  bool Reset(const std::string& script_json) {
    return Control("/_control/reset", "") && Control("/_control/script", script_json);
  }

  // The text of every recorded request, for "the key is not in there" checks.
  std::string RecordText() const {
    std::ifstream in(record_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  // One POST on its own connection; true on a 200 answer.
  bool Control(const std::string& path, const std::string& body) const {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      std::string req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                        "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
        std::string answer;
        char buf[512];
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) answer.append(buf, static_cast<size_t>(n));
        ok = answer.rfind("HTTP/1.", 0) == 0 && answer.find(" 200 ") != std::string::npos;
      }
    }
    ::close(fd);
    return ok;
  }

  std::string script_path_;
  std::string record_path_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace laneway::testing_util

#endif  // LANEWAY_TESTS_DOUBLES_OPENAI_DOUBLE_H_
