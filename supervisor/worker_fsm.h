// The worker life cycle as one state x event table (s6 style): every cell is
// defined, and a new event is a new column with every state filled in.
//
// The table is pure: it says what to do; the core loop (supervisor.cc) does it.
#ifndef LANEWAY_SUPERVISOR_WORKER_FSM_H_
#define LANEWAY_SUPERVISOR_WORKER_FSM_H_

#include <cstdint>
#include <string>

#include "common/protocol.h"

namespace laneway::supervisor {

enum class WorkerState {
  kStarting,    // spawned, has not said hello yet
  kIdle,        // connected, no turn
  kDispatched,  // a turn was sent; the worker has not yet said it has it
  kBusy,        // running one turn (it acknowledged the run)
  kStopping,    // told to stop or signalled; waiting to reap it
  kGone,        // reaped; the record is removed
};
inline constexpr int kWorkerStateCount = 6;

enum class WorkerEvent {
  kHello,          // worker connected and holds its session lock
  kDispatch,       // the session has a turn for this worker
  kDone,           // worker reported the outcome of its current turn
  kHeartbeat,      // worker is alive (sent only while it runs a turn; the first one
                   // after a run acknowledges it)
  kProtocolError,  // garbage, unknown type, or a result for a turn it was not given
  kRunTimeout,     // the running turn passed run_timeout
  kSilent,         // no message for heartbeat_timeout (hung, stopped)
  kGraceExpired,   // kill_grace passed since SIGTERM / stop
  kIdleTimeout,    // idle for idle_timeout, or its slot is wanted by a waiting session
  kOperatorKill,   // `laneway kill` / `restart`
  kCancel,         // `laneway cancel`, or an interrupt-mode turn arrived
  kDrainKill,      // shutdown's drain_timeout passed while busy
  kExited,         // reaped by waitpid
  kProgress,       // partial output of the running turn (also proof of life)
};
inline constexpr int kWorkerEventCount = 14;

// Actions, as bits, in the order the core applies them.
enum WorkerAction : uint32_t {
  kNone = 0,
  kSendRun = 1u << 0,           // send the dispatched turn; arm run deadline
  kSendStop = 1u << 1,          // ask it to exit; arm kill_grace
  kTermGroup = 1u << 2,         // SIGTERM the process group; arm kill_grace
  kKillGroup = 1u << 3,         // SIGKILL the process group (also sweeps leftovers after exit)
  kEndTurn = 1u << 4,           // end the running turn with Transition::turn_status/reason
  kDispatchNext = 1u << 5,      // give the session's next queued turn, if any
  kCountFault = 1u << 6,        // mark this worker's death as a fault (restart policy)
  kDropStale = 1u << 7,         // ignore the message; count it as stale
  kTouch = 1u << 8,             // liveness refreshed
  kRelease = 1u << 9,           // worker gone: free its slot, apply restart policy, admit others
  kRequeueTurn = 1u << 10,      // put the running turn back (journal keeps it unresolved)
  kSendConfigure = 1u << 11,    // send the agent's settings (before any run)
  kForwardProgress = 1u << 12,  // hand the partial output to the turn's subscribers
};

struct Transition {
  WorkerState next;
  uint32_t actions;
  common::TurnStatus turn_status = common::TurnStatus::kPending;  // with kEndTurn
  const char* reason = "";  // with kEndTurn (error text) and for kill logs
};

// Whether a worker in `s` has a turn (sent and maybe not yet acknowledged).
inline bool HasTurn(WorkerState s) { return s == WorkerState::kDispatched || s == WorkerState::kBusy; }

// The table. Every (state, event) pair has a defined result.
Transition NextTransition(WorkerState state, WorkerEvent event);

// What the sender of a turn ended by a transition is told (with kEndTurn and an
// event other than kDone, whose text comes from the worker).
struct EndTextFacts {
  uint64_t lead_turn = 0;
  std::string session;
  int64_t run_timeout_ms = 0;
  int64_t heartbeat_timeout_ms = 0;
  std::string detail;  // the exit status, a cancel's reason, a protocol error
};
std::string TurnEndText(WorkerEvent e, const Transition& t, const EndTextFacts& f);

const char* WorkerStateName(WorkerState s);
const char* WorkerEventName(WorkerEvent e);

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_WORKER_FSM_H_
