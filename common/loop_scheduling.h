// How the kernel schedules the two threads every control call passes through: the
// supervisor's loop thread and libzmq's I/O thread ([supervisor] loop_scheduling;
// docs/scaling.md, "CPU priority").
//
// During a burst of new sessions both cores are busy with workers that exec, link
// and connect. The loop needs little CPU (about 3 % of a core at 10,000 sessions)
// but needs it at once: under the fair scheduler a woken loop waits behind the
// runnable workers, and `status` takes tens of milliseconds.
//
// - realtime: SCHED_RR at priority 1 with SCHED_RESET_ON_FORK, so nothing the
//   thread creates afterwards (threads, processes) inherits it. A woken thread
//   runs before every fair-scheduled task. The kernel's real-time throttling
//   (sched_rt_runtime_us, 95 % by default) leaves the rest of the CPU to others
//   even if the loop were ever to spin, and laneway guards it itself: with
//   RLIMIT_RTTIME at 200 ms, a real-time thread that runs that long without
//   sleeping gets SIGXCPU, whose handler puts both threads back on the fair
//   scheduler (TakeRealtimeDemotion() then says so once, for the log). Needs
//   CAP_SYS_NICE or RLIMIT_RTPRIO >= 1; without them the threads get
//   short-slice, and the reason is logged.
// - short-slice: the fair scheduler's shortest slice (0.1 ms, sched_setattr;
//   kernels from 6.12 use it to let the thread preempt sooner when it wakes).
//   Unprivileged.
// - normal: left as started.
#ifndef LANEWAY_COMMON_LOOP_SCHEDULING_H_
#define LANEWAY_COMMON_LOOP_SCHEDULING_H_

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "common/config.h"

namespace laneway::common {

// Applies `mode` to the calling thread and to this process's libzmq I/O threads
// (found by the name libzmq gives them, "ZMQbg/IO/<n>"). Logs what it applied and,
// if that is not `mode`, why.
void ApplyLoopScheduling(LoopScheduling mode);

// True once after the SIGXCPU guard put the real-time threads back on the fair
// scheduler (the loop polls it to log the demotion).
bool TakeRealtimeDemotion();

// The guard alone, for `tids`, with a budget of `budget_us` of CPU without
// sleeping (the test of the guard; ApplyLoopScheduling uses 200 ms).
bool GuardRealtimeForTest(const std::vector<pid_t>& tids, uint64_t budget_us);

// The thread's current scheduling, read back from the kernel (sched_getattr):
// SCHED_RR or SCHED_FIFO is realtime, a fair slice of at most 0.1 ms short-slice.
LoopScheduling ThreadScheduling(pid_t tid);

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_LOOP_SCHEDULING_H_
