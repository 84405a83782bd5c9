// `laneway token`: prints the gateway port's token, the one [channels.http] uses:
// the environment variable it names (LANEWAY_TOKEN by default) if set, else its
// token file (the built-in config's $LANEWAY_HOME/token, generated on first use).
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli/client.h"
#include "cli/commands.h"
#include "common/config.h"
#include "common/paths.h"
#include "common/token_file.h"

namespace laneway::cli {

namespace {

constexpr const char* kTokenHelp =
    "usage: laneway token\n"
    "\n"
    "Prints the token that clients of the gateway port (WebSocket and /v1 HTTP) must\n"
    "present: $LANEWAY_TOKEN (or the config's channels.http.token_env) if set, else\n"
    "channels.http.token_file; with the built-in config $LANEWAY_HOME/token, generated\n"
    "once (mode 0600) if missing.\n";

}  // namespace

int CmdToken(int argc, char** argv) {
  if (argc > 2) {
    std::string a = argv[2];
    if (a == "--help" || a == "-h") {
      std::cout << kTokenHelp;
      return kExitOk;
    }
    std::cerr << "laneway token: unexpected argument '" << a << "'\n" << kTokenHelp;
    return kExitUsage;
  }
  auto paths = common::ResolvePaths();
  if (!paths.ok()) {
    std::cerr << "laneway: " << paths.status().message() << "\n";
    return kExitUsage;
  }
  common::Config config = common::BuiltInConfig();
  if (::access(paths->config_file.c_str(), F_OK) == 0) {
    auto c = common::LoadConfigFile(paths->config_file);
    if (!c.ok()) {
      std::cerr << "laneway: " << c.status().message() << "\n";
      return kExitFailed;
    }
    config = *c;
  }
  const common::HttpChannelConfig& http = config.channels.http;
  if (!http.enabled) {
    std::cerr << "laneway: " << config.source << " has no [channels.http]\n";
    return kExitFailed;
  }
  if (const char* v = std::getenv(http.token_env.c_str()); v && *v) {
    std::cout << v << "\n";
    return kExitOk;
  }
  if (http.token_file.empty()) {
    std::cerr << "laneway: no token: " << http.token_env
              << " is unset and channels.http.token_file is not configured\n";
    return kExitFailed;
  }
  std::string path =
      http.token_file[0] == '/' ? http.token_file : paths->home + "/" + http.token_file;
  if (http.generate_token_file) {
    if (auto st = common::MakeDirs(paths->home, 0700); !st.ok()) {
      std::cerr << "laneway: " << st.message() << "\n";
      return kExitFailed;
    }
  }
  auto token = common::LoadOrCreateToken(path, http.generate_token_file);
  if (!token.ok()) {
    std::cerr << "laneway: " << token.status().message() << "\n";
    return kExitFailed;
  }
  std::cout << *token << "\n";
  return kExitOk;
}

}  // namespace laneway::cli
