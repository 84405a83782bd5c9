// gateway_host: runs the HTTP channel alone against a running supervisor's
// control socket (ipc://$LANEWAY_HOME/run/control.sock) instead of the inproc
// front door. For developing the channel and for benchmarks; the product starts
// the channel inside the supervisor (supervisor/channels/registry.cc).
//   LANEWAY_HOME=... gateway_host [--config FILE]   (stops on SIGINT/SIGTERM)
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "common/config.h"
#include "common/log.h"
#include "common/paths.h"
#include "supervisor/channels/http/http_channel.h"

int main(int argc, char** argv) {
  using namespace laneway;
  common::SetLogProcess("gateway_host");
  auto paths = common::ResolvePaths();
  if (!paths.ok()) return 2;
  common::Config config = common::BuiltInConfig();
  if (argc == 3 && std::string(argv[1]) == "--config") {
    auto c = common::LoadConfigFile(argv[2]);
    if (!c.ok()) {
      std::fprintf(stderr, "gateway_host: %s\n", c.status().message().c_str());
      return 3;
    }
    config = *c;
    config.channels.http.enabled = true;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  supervisor::ChannelEnv env;
  env.paths = *paths;
  env.config = config;
  env.core_endpoint = paths->control_endpoint();
  supervisor::http::HttpChannel channel(env);
  if (auto st = channel.Start(); !st.ok()) {
    std::fprintf(stderr, "gateway_host: %s\n", st.message().c_str());
    return 5;
  }
  std::printf("%s\n", channel.bound_address().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  channel.Stop();
  return 0;
}
