// soak_agent: the soak's exec agent (docs/soak.md). It reads the turn's text from
// stdin and acts on how it starts:
//   ok ...       answer "LS=<LANEWAY_SESSION>| <text>"
//   stream ...   the same answer on four lines, 50 ms apart (progress chunks)
//   hang ...     sleep 30 s (past run_timeout)
//   exit1 ...    exit 1 with a line on stderr
//   segv ...     die of SIGSEGV
//   ignterm ...  ignore SIGTERM and sleep 30 s (the worker needs kill_grace's SIGKILL)
//   fork ...     leave a grandchild that ignores SIGTERM and sleeps 120 s, record
//                "<pid> <starttime> <worker pid (our group) > <its starttime>" in
//                $LANEWAY_HOME/gc/<pid>.<starttime>, then answer
//   garbage ...  answer, then bytes that are not UTF-8 and a 64 KiB line
// One exec per turn (a shell script costs several), so the soak measures laneway.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include "common/proc_stat.h"

namespace {

std::string StartTime(pid_t pid) {
  return laneway::common::ProcStatField(pid, 22).value_or("0");
}

void Nap(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

bool Starts(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

}  // namespace

int main() {
  std::string msg((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  const char* sess = std::getenv("LANEWAY_SESSION");
  const std::string answer = std::string("LS=") + (sess ? sess : "") + "| " + msg;
  if (Starts(msg, "stream")) {
    for (int i = 1; i <= 4; ++i) {
      std::printf("%s part%d\n", answer.c_str(), i);
      std::fflush(stdout);
      Nap(50);
    }
    return 0;
  }
  if (Starts(msg, "hang")) {
    Nap(30000);
    return 0;
  }
  if (Starts(msg, "exit1")) {
    std::fprintf(stderr, "exit 1 on purpose\n");
    return 1;
  }
  if (Starts(msg, "segv")) {
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    return 1;
  }
  if (Starts(msg, "ignterm")) {
    signal(SIGTERM, SIG_IGN);
    Nap(30000);
    return 0;
  }
  if (Starts(msg, "fork")) {
    std::fflush(stdout);
    const pid_t gc = fork();
    if (gc == 0) {
      signal(SIGTERM, SIG_IGN);
      std::freopen("/dev/null", "w", stdout);
      Nap(120000);
      _exit(0);
    }
    const char* home = std::getenv("LANEWAY_HOME");
    // The worker is the leader of the process group (it is spawned with setsid);
    // getppid() would name our new parent if the worker died first.
    const pid_t worker = getpgrp();
    const std::string st = StartTime(gc);
    const std::string path =
        std::string(home ? home : "/tmp") + "/gc/" + std::to_string(gc) + "." + st;
    std::ofstream(path + ".tmp") << gc << " " << st << " " << worker << " " << StartTime(worker)
                                 << "\n";
    std::rename((path + ".tmp").c_str(), path.c_str());
  }
  if (Starts(msg, "garbage")) {
    std::printf("%s \xff\xfe\xc0 not utf-8\n", answer.c_str());
    std::string big(65536, 'x');
    std::fwrite(big.data(), 1, big.size(), stdout);
    return 0;
  }
  std::fwrite(answer.data(), 1, answer.size(), stdout);
  return 0;
}
