// laneway-supervisor: normally started by `laneway up`. main() only parses the
// command line, picks the config and hands over to Supervisor.
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "common/config.h"
#include "common/log.h"
#include "common/paths.h"
#include "supervisor/local_launcher.h"
#include "supervisor/supervisor.h"

namespace {

constexpr const char* kUsage =
    "usage: laneway-supervisor [--config FILE]\n"
    "\n"
    "Runs the laneway supervisor in the foreground (normally started by `laneway up`).\n"
    "State lives under $LANEWAY_HOME (default ~/.laneway).\n"
    "\n"
    "  --config FILE   TOML config; default $LANEWAY_HOME/laneway.toml if it exists,\n"
    "                  else the built-in default (agent 'main' with the echo runner)\n"
    "  --help          this text\n"
    "\n"
    "Exit codes: 0 stopped cleanly, 2 usage, 3 bad config, 4 another supervisor runs\n"
    "on this LANEWAY_HOME, 5 start-up failure (socket, journal, worker binary).\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace laneway;
  common::SetLogProcess("supervisor");
  // A fixed mmap threshold: every buffer of 256 kB or more (the journal read at
  // start, a rewrite's frames, a big reply) gets its own mapping and goes back to the
  // kernel when freed. glibc's default raises the threshold to the largest buffer
  // freed so far, after which such buffers come from the heap and stay resident;
  // the chaos soak saw the supervisor's RSS grow by 20-30 MB that way after journal
  // rewrites (docs/soak.md).
  ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return supervisor::kExitOk;
    }
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else {
      std::fprintf(stderr, "laneway-supervisor: unknown argument '%s'\n%s", a.c_str(), kUsage);
      return supervisor::kExitUsage;
    }
  }
  auto paths = common::ResolvePaths();
  if (!paths.ok()) {
    std::fprintf(stderr, "laneway-supervisor: %s\n", paths.status().message().c_str());
    return supervisor::kExitStartup;
  }
  if (config_path.empty() && ::access(paths->config_file.c_str(), F_OK) == 0) {
    config_path = paths->config_file;
  }
  auto config = config_path.empty() ? common::Result<common::Config>(common::BuiltInConfig())
                                    : common::LoadConfigFile(config_path);
  if (config.ok()) {
    if (auto st = supervisor::CheckRunnersAvailable(*config); !st.ok()) config = st;
  }
  if (config.ok()) {
    if (auto st = supervisor::CheckAgentCommands(*config); !st.ok()) config = st;
  }
  if (!config.ok()) {
    std::fprintf(stderr, "laneway-supervisor: refusing to start: %s\n",
                 config.status().message().c_str());
    return supervisor::kExitConfig;
  }
  supervisor::Supervisor::Options options;
  options.paths = *paths;
  options.config = std::move(config).value();
  options.config_path = config_path;
  const char* worker_env = std::getenv("LANEWAY_WORKER_BIN");
  options.worker_binary =
      worker_env && *worker_env ? worker_env : supervisor::SelfExeDir() + "/laneway-worker";
  if (::access(options.worker_binary.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "laneway-supervisor: worker binary %s is not executable: %s\n",
                 options.worker_binary.c_str(), std::strerror(errno));
    return supervisor::kExitStartup;
  }
  supervisor::Supervisor sup(std::move(options));
  int code = 0;
  if (auto st = sup.Start(&code); !st.ok()) {
    std::fprintf(stderr, "laneway-supervisor: %s\n", st.message().c_str());
    return code;
  }
  return sup.Run();
}
