// The figures of the benchmark table (docs/benchmarks.md). Each runs laneway and
// its floor in the same run and prints its rows (bench/harness.h); none asserts.
#ifndef LANEWAY_BENCH_FIGURES_H_
#define LANEWAY_BENCH_FIGURES_H_

namespace laneway::bench {

void RunWarm();        // turn_figures.cc
void RunThroughput();  // turn_figures.cc
void RunCold();        // spawn_figures.cc
void RunBurst();       // spawn_figures.cc
void RunTimeout();     // spawn_figures.cc
void RunControl();     // control_figures.cc
void RunMemory();      // control_figures.cc
void RunDurable();     // durable_figures.cc
void RunJournal();     // durable_figures.cc
void RunOpenAi();      // openai_figures.cc
void RunGateway();     // gateway_figures.cc
void RunScale();       // scale_figures.cc
void RunSigterm();     // scale_figures.cc
void RunCycles();      // scale_figures.cc

}  // namespace laneway::bench

#endif  // LANEWAY_BENCH_FIGURES_H_
