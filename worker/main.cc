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
        "usage: laneway-worker --endpoint EP --worker-id N (--session KEY --agent ID | --spare 1)\n"
        "                      --supervisor-pid PID [--heartbeat-ms N] [--lock-wait-ms N]\n"
        "                      [--max-message-bytes N]\n"
        "Started by laneway-supervisor for one session (a spare learns its session from\n"
        "the supervisor); not meant to be run by hand.");
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
