// bench_agent: the exec-runner agent of the benchmarks (docs/benchmarks.md).
// The turn's text arrives on stdin; what it does depends on how the text starts:
//   hang...   ignore SIGTERM and never answer (a hung agent: only SIGKILL ends it)
//   block...  never answer, but die of SIGTERM (a long turn; keeps turns queued)
//   stamp...  reply "t=<CLOCK_MONOTONIC ns>" taken when the program started, so a
//             bench can tell when the turn began running
//   other     reply with the text
// A compiled program rather than a shell script, so that an exec turn costs the
// same few hundred microseconds every time.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <string>

int main() {
  timespec started;
  ::clock_gettime(CLOCK_MONOTONIC, &started);
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  if (text.rfind("hang", 0) == 0) {
    ::signal(SIGTERM, SIG_IGN);
    for (;;) ::pause();
  }
  if (text.rfind("block", 0) == 0) {
    for (;;) ::pause();
  }
  if (text.rfind("stamp", 0) == 0) {
    long long ns = static_cast<long long>(started.tv_sec) * 1000000000LL + started.tv_nsec;
    std::printf("t=%lld", ns);
    return 0;
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}
