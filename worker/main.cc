// laneway-worker: started by laneway-supervisor, one per active session. Not
// meant to be run by hand; see worker/worker.h for its life.
#include <cstdio>
#include <cstring>
#include <string>

#include "common/log.h"
#include "worker/worker.h"

int main(int argc, char** argv) {
  laneway::common::SetLogProcess("worker");
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::puts(
        "usage: laneway-worker --endpoint EP --worker-id N --session KEY --agent ID\n"
        "                      --supervisor-pid PID [--runner echo|exec] [--heartbeat-ms N]\n"
        "                      [--lock-wait-ms N] [--max-message-bytes N] [-- COMMAND ARGS...]\n"
        "Started by laneway-supervisor for one session; not meant to be run by hand.");
    return 0;
  }
  laneway::worker::WorkerOptions options;
  std::string error;
  if (!laneway::worker::ParseWorkerArgs(argc, argv, &options, &error)) {
    std::fprintf(stderr, "laneway-worker: %s (see --help)\n", error.c_str());
    return laneway::worker::kWorkerExitUsage;
  }
  return laneway::worker::RunWorker(options);
}
