// The README and docs/ match the binaries (issue 13, items 14 and 15): the first
// five minutes run as written from a `make install` prefix, every option in the
// command table exists, and a session parks after exactly restart_limit deaths.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "cli/client.h"
#include "common/file_lock.h"
#include "common/protocol.h"
#include "tests/integration/harness.h"
#include "tests/integration/operator_run.h"

namespace laneway::testing {
namespace {

using op::Contains;
using op::RunProgram;

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Readme() { return ReadFile(std::string(LANEWAY_SOURCE_DIR) + "/README.md"); }

// Numbers, sizes and durations vary between runs; the words around them must not.
std::string Normalized(const std::string& s) {
  static const std::regex number("[0-9]+(\\.[0-9]+)?(ms|s)?");
  return std::regex_replace(s, number, "N");
}

// The commands of the README's first console block and the output shown for each.
struct Step {
  std::string command;
  std::string output;
};
std::vector<Step> FirstFiveMinutes(const std::string& readme) {
  size_t at = readme.find("## A first five minutes");
  at = readme.find("```console\n", at);
  const size_t end = readme.find("```\n", at + 11);
  std::istringstream lines(readme.substr(at + 11, end - at - 11));
  std::vector<Step> steps;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("$ ", 0) == 0) {
      steps.push_back({line.substr(2), ""});
    } else if (!steps.empty()) {
      steps.back().output += line + "\n";
    }
  }
  return steps;
}

TEST(OperatorDocsTest, ReadmeFirstFiveMinutesWorkAsWrittenFromAMakeInstallPrefix) {
  TempHome home;
  const std::string user_home = home.path() + "/user";
  const std::string laneway_home = home.path() + "/state";
  ASSERT_EQ(::mkdir(user_home.c_str(), 0755), 0);
  // The Makefile's install target is cmake --install with PREFIX; run its recipe.
  const std::string makefile = ReadFile(std::string(LANEWAY_SOURCE_DIR) + "/Makefile");
  ASSERT_TRUE(Contains(makefile, "PREFIX ?= /usr/local")) << makefile;
  ASSERT_TRUE(Contains(makefile, "install: build\n\tcmake --install $(BUILD) --prefix $(PREFIX)"))
      << makefile;
  const std::string prefix = user_home + "/.local";
  CliResult install =
      RunProgram({"/usr/bin/env", "cmake", "--install", LANEWAY_BUILD_DIR, "--prefix", prefix}, {});
  ASSERT_EQ(install.code, 0) << install.out << install.err;
  for (const char* bin : {"laneway", "laneway-supervisor", "laneway-worker"}) {
    EXPECT_EQ(::access((prefix + "/bin/" + bin).c_str(), X_OK), 0) << bin;
  }
  EXPECT_EQ(::access((prefix + "/share/laneway/laneway.service").c_str(), R_OK), 0);

  const common::Paths paths = common::PathsForHome(laneway_home);
  struct Reaper {  // whatever `laneway up &` left behind, should the test fail
    const common::Paths& paths;
    ~Reaper() {
      auto holder = common::LockHolder(paths.instance_lock);
      if (holder.ok() && *holder > 0) ::kill(*holder, SIGKILL);
    }
  } reaper{paths};
  Env env = {{"HOME", user_home}, {"LANEWAY_HOME", laneway_home}};
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
  const std::vector<Step> steps = FirstFiveMinutes(Readme());
  ASSERT_GE(steps.size(), 5u);
  int ran = 0;
  for (const Step& step : steps) {
    SCOPED_TRACE(step.command);
    if (step.command.rfind("make install", 0) == 0) {
      EXPECT_TRUE(Contains(step.command, "PREFIX=$HOME/.local")) << "installed above";
      continue;
    }
    if (step.command.rfind("export PATH=", 0) == 0) {
      EXPECT_EQ(step.command, "export PATH=$HOME/.local/bin:$PATH");
      path = prefix + "/bin:" + path;
      continue;
    }
    Env step_env = env;
    step_env.emplace_back("PATH", path);
    const bool background = step.command.find(" &") != std::string::npos;
    // In the background the supervisor keeps stdout: not this test's pipe.
    const std::string script =
        "cd '" + user_home + "' && " + (background ? "exec >/dev/null; " : "") + step.command;
    CliResult r = RunProgram({"/bin/sh", "-c", script}, step_env);
    ++ran;
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    if (background) {
      // As a person would, wait for it to come up before the next command.
      ASSERT_TRUE(WaitFor([&] {
        auto client = cli::Client::Connect(paths);
        return client.ok() &&
               (*client)
                   ->Call(common::NewMessage(common::msg::kPing), std::chrono::seconds(1))
                   .ok();
      })) << ReadFile(user_home + "/laneway.log");
      continue;
    }
    EXPECT_EQ(Normalized(r.out), Normalized(step.output)) << r.err;
  }
  EXPECT_GE(ran, 5);
  // `laneway down` was the last step: the supervisor is gone.
  EXPECT_TRUE(WaitFor([&] {
    auto holder = common::LockHolder(paths.instance_lock);
    return holder.ok() && *holder == 0;
  }));
}

TEST(OperatorDocsTest, EveryOptionInTheReadmeCommandTableExists) {
  TempHome home;  // no supervisor: each command must get past its parser
  std::istringstream lines(Readme());
  int rows = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| `laneway ", 0) != 0) continue;
    const std::string usage = line.substr(3, line.find('`', 3) - 3);
    SCOPED_TRACE(usage);
    ++rows;
    std::istringstream words(usage);
    std::vector<std::string> args;
    std::string word;
    words >> word;  // laneway
    words >> word;
    const std::string command = word;
    args.push_back(command);
    CliResult help = RunCli(home, {command, "--help"});
    EXPECT_EQ(help.code, 0);
    // Placeholders become values; every bracket opens: the whole line is one call.
    const std::map<std::string, std::string> values = {{"ID", "main"},
                                                       {"TEXT", "hi"},
                                                       {"KEY", "ops"},
                                                       {"DUR", "1s"},
                                                       {"TURN_ID", "1"},
                                                       {"SESSION", "ops"},
                                                       {"FILE", home.path() + "/no-such.toml"}};
    while (words >> word) {
      word.erase(
          std::remove_if(word.begin(), word.end(), [](char c) { return c == '[' || c == ']'; }),
          word.end());
      if (word.empty() || word == "/") continue;
      if (word.rfind("--", 0) == 0) {
        EXPECT_TRUE(Contains(help.out, word))
            << word << " is not in `laneway " << command << " --help`:\n"
            << help.out;
        args.push_back(word);
      } else if (auto v = values.find(word); v != values.end()) {
        args.push_back(v->second);
      } else {
        ADD_FAILURE() << "unknown placeholder " << word;
      }
    }
    CliResult r = RunCli(home, args);
    EXPECT_NE(r.code, 2) << "usage error: " << r.err;
    EXPECT_FALSE(Contains(r.err + r.out, "unknown option")) << r.err << r.out;
  }
  EXPECT_GE(rows, 11);
}

TEST(OperatorDocsTest, SessionParksAfterExactlyRestartLimitDeathsInTheWindow) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home,
                                   "restart_limit = 2\nrestart_window = \"1m\"\n"
                                   "restart_backoff = \"10ms\"\nrestart_backoff_max = \"20ms\"")))
      << sup.Log();
  const std::vector<std::string> crash = {"agent", "--agent", "main", "--message", "crash"};
  const std::vector<std::string> hello = {"agent", "--agent", "main", "--message", "hello"};
  EXPECT_EQ(RunCli(home, crash).code, 1);
  // One death (restart_limit - 1): not parked, turns still run.
  CliResult after_one = RunCli(home, hello);
  EXPECT_EQ(after_one.code, 0) << after_one.err;
  EXPECT_NE(StrField(WorkerOf(home, "agent:main:main"), "state"), "parked");
  EXPECT_EQ(RunCli(home, crash).code, 1);
  // The second death (= restart_limit) parks it.
  CliResult after_two = RunCli(home, hello);
  EXPECT_EQ(after_two.code, 1);
  EXPECT_TRUE(Contains(after_two.err, "parked")) << after_two.err;
  EXPECT_EQ(StrField(WorkerOf(home, "agent:main:main"), "state"), "parked");
  // And the docs say so, all of them.
  for (const char* doc : {"/docs/config.md", "/docs/operations.md"}) {
    const std::string text = ReadFile(std::string(LANEWAY_SOURCE_DIR) + doc);
    EXPECT_FALSE(Contains(text, "more than `restart_limit`")) << doc;
    EXPECT_TRUE(Contains(text, "`restart_limit` times within `restart_window`")) << doc;
  }
}

}  // namespace
}  // namespace laneway::testing
