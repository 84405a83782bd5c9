// laneway-bench: runs the benchmark figures named on the command line (all when
// none) and prints their rows for bench/run.sh. See docs/benchmarks.md.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <zmq.hpp>

#include "bench/figures.h"
#include "bench/harness.h"

namespace {

struct Figure {
  const char* name;
  void (*run)();
};

constexpr Figure kFigures[] = {
    {"warm", laneway::bench::RunWarm},       {"throughput", laneway::bench::RunThroughput},
    {"cold", laneway::bench::RunCold},       {"burst", laneway::bench::RunBurst},
    {"timeout", laneway::bench::RunTimeout}, {"control", laneway::bench::RunControl},
    {"memory", laneway::bench::RunMemory},   {"durable", laneway::bench::RunDurable},
    {"journal", laneway::bench::RunJournal}, {"openai", laneway::bench::RunOpenAi},
    {"gateway", laneway::bench::RunGateway}, {"scale", laneway::bench::RunScale},
    {"sigterm", laneway::bench::RunSigterm}, {"cycles", laneway::bench::RunCycles},
};

int RunOne(const Figure& f) {
  try {
    f.run();
    return 0;
  } catch (const std::exception& e) {
    laneway::bench::EmitRow(std::string(f.name) + ": aborted", e.what(), "", "n/a", "");
    return 0;  // the row says so
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  // The scale floor holds one connection per spawned program.
  if (rlimit nofile{}; ::getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  laneway::bench::InstallCleanupHandler();
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::puts("usage: laneway-bench [FIGURE...]   (default: all)\nfigures:");
    for (const Figure& f : kFigures) std::printf("  %s\n", f.name);
    return 0;
  }
  int rc = 0;
  if (argc == 1) {
    for (const Figure& f : kFigures) rc |= RunOne(f);
    return rc;
  }
  for (int i = 1; i < argc; ++i) {
    bool found = false;
    for (const Figure& f : kFigures) {
      if (std::strcmp(argv[i], f.name) == 0) {
        rc |= RunOne(f);
        found = true;
      }
    }
    if (!found) {
      std::fprintf(stderr, "laneway-bench: unknown figure '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  return rc;
}
