#include "supervisor/worker_fsm.h"

namespace laneway::supervisor {
namespace {

using S = WorkerState;
using E = WorkerEvent;
using common::TurnStatus;

constexpr Transition Stay(S s) { return {s, kNone}; }

}  // namespace

// Design notes, cell by cell where it is not obvious:
// - A fault kill (run timeout, silence, protocol error) counts toward the session's
//   restart limit when the worker is reaped; operator kills, cancels, idle stops and
//   drain kills do not.
// - kExited always sweeps the group with SIGKILL: the worker is gone, so its grace
//   is over, and a grandchild that ignored SIGTERM must not outlive it.
// - Dispatched -> Busy on the worker's first message after the run: only a turn
//   that a live worker acknowledged can fail by its death or silence; one sent to a
//   worker that was already dead (or stopped) is requeued. The pool waits a moment
//   (kExitSettle) before acting on the exit of a Dispatched worker, so that an
//   acknowledgement it sent before dying is read first.
// - Messages that arrive while Stopping are from a worker we already gave up on:
//   they are stale and dropped, never delivered as an answer.
Transition NextTransition(WorkerState state, WorkerEvent event) {
  switch (state) {
    case S::kStarting:
      switch (event) {
        case E::kHello:
          return {S::kIdle, kSendConfigure | kDispatchNext | kTouch};
        case E::kProgress:
          return {S::kStopping, kKillGroup | kCountFault, TurnStatus::kPending, "protocol_error"};
        case E::kDispatch:
          return Stay(S::kStarting);  // sent on hello
        case E::kDone:
        case E::kProtocolError:
          return {S::kStopping, kKillGroup | kCountFault, TurnStatus::kPending, "protocol_error"};
        case E::kHeartbeat:
          return {S::kStarting, kTouch};
        case E::kRunTimeout:
          return Stay(S::kStarting);
        case E::kSilent:
          return {S::kStopping, kTermGroup | kCountFault, TurnStatus::kPending, "unresponsive"};
        case E::kGraceExpired:
          return Stay(S::kStarting);
        case E::kIdleTimeout:
          return {S::kStopping, kTermGroup, TurnStatus::kPending, "idle"};
        case E::kOperatorKill:
          return {S::kStopping, kTermGroup, TurnStatus::kPending, "operator"};
        case E::kCancel:
          return Stay(S::kStarting);
        case E::kDrainKill:
          return {S::kStopping, kTermGroup, TurnStatus::kPending, "shutdown"};
        case E::kExited:
          return {S::kGone, kKillGroup | kCountFault | kRelease, TurnStatus::kPending,
                  "exited before hello"};
      }
      break;
    case S::kIdle:
      switch (event) {
        case E::kHello:
          return {S::kStopping, kKillGroup | kCountFault, TurnStatus::kPending, "protocol_error"};
        case E::kDispatch:
          return {S::kDispatched, kSendRun | kTouch};
        case E::kDone:
        case E::kProtocolError:
          return {S::kStopping, kKillGroup | kCountFault, TurnStatus::kPending, "protocol_error"};
        case E::kHeartbeat:
          return {S::kIdle, kTouch};
        case E::kProgress:
          return {S::kStopping, kKillGroup | kCountFault, TurnStatus::kPending, "protocol_error"};
        case E::kRunTimeout:
          return Stay(S::kIdle);  // stale timer of an ended turn
        case E::kSilent:
          return {S::kStopping, kTermGroup | kCountFault, TurnStatus::kPending, "unresponsive"};
        case E::kGraceExpired:
          return Stay(S::kIdle);
        case E::kIdleTimeout:
          return {S::kStopping, kSendStop, TurnStatus::kPending, "idle"};
        case E::kOperatorKill:
          return {S::kStopping, kTermGroup, TurnStatus::kPending, "operator"};
        case E::kCancel:
          return Stay(S::kIdle);  // nothing running; caller reports it
        case E::kDrainKill:
          return {S::kStopping, kSendStop, TurnStatus::kPending, "shutdown"};
        case E::kExited:
          return {S::kGone, kKillGroup | kCountFault | kRelease, TurnStatus::kPending,
                  "exited while idle"};
      }
      break;
    case S::kDispatched:
      switch (event) {
        case E::kHello:
        case E::kProtocolError:
          return {S::kStopping, kKillGroup | kEndTurn | kCountFault, TurnStatus::kFailed,
                  "protocol_error"};
        case E::kDispatch:
          return Stay(S::kDispatched);
        case E::kDone:
          return {S::kIdle, kEndTurn | kDispatchNext | kTouch};
        case E::kHeartbeat:
          return {S::kBusy, kTouch};  // the acknowledgement
        case E::kProgress:
          return {S::kBusy, kForwardProgress | kTouch};
        case E::kRunTimeout:
          return {S::kStopping, kTermGroup | kEndTurn | kCountFault, TurnStatus::kTimedOut,
                  "run_timeout"};
        case E::kSilent:
          // Nothing came back: the turn never reached a live worker (a stopped or
          // hung process). It has not run; the next worker gets it.
          return {S::kStopping, kTermGroup | kRequeueTurn | kCountFault, TurnStatus::kPending,
                  "unresponsive"};
        case E::kGraceExpired:
        case E::kIdleTimeout:
          return Stay(S::kDispatched);
        case E::kOperatorKill:
          return {S::kStopping, kTermGroup | kEndTurn, TurnStatus::kCancelled, "operator"};
        case E::kCancel:
          return {S::kStopping, kTermGroup | kEndTurn, TurnStatus::kCancelled, "cancelled"};
        case E::kDrainKill:
          return {S::kStopping, kTermGroup | kRequeueTurn, TurnStatus::kPending, "shutdown"};
        case E::kExited:
          // Died before it took the turn (killed while idle, say): the turn has not
          // run and goes back to the head of its queue.
          return {S::kGone, kKillGroup | kRequeueTurn | kCountFault | kRelease,
                  TurnStatus::kPending, "exited before its turn reached it"};
      }
      break;
    case S::kBusy:
      switch (event) {
        case E::kHello:
        case E::kProtocolError:
          return {S::kStopping, kKillGroup | kEndTurn | kCountFault, TurnStatus::kFailed,
                  "protocol_error"};
        case E::kDispatch:
          return Stay(S::kBusy);  // stays queued
        case E::kDone:
          return {S::kIdle, kEndTurn | kDispatchNext | kTouch};
        case E::kHeartbeat:
          return {S::kBusy, kTouch};
        case E::kProgress:
          return {S::kBusy, kForwardProgress | kTouch};
        case E::kRunTimeout:
          return {S::kStopping, kTermGroup | kEndTurn | kCountFault, TurnStatus::kTimedOut,
                  "run_timeout"};
        case E::kSilent:
          return {S::kStopping, kTermGroup | kEndTurn | kCountFault, TurnStatus::kFailed,
                  "unresponsive"};
        case E::kGraceExpired:
          return Stay(S::kBusy);
        case E::kIdleTimeout:
          return Stay(S::kBusy);  // busy workers are never idle-stopped
        case E::kOperatorKill:
          return {S::kStopping, kTermGroup | kEndTurn, TurnStatus::kCancelled, "operator"};
        case E::kCancel:
          return {S::kStopping, kTermGroup | kEndTurn, TurnStatus::kCancelled, "cancelled"};
        case E::kDrainKill:
          return {S::kStopping, kTermGroup | kRequeueTurn, TurnStatus::kPending, "shutdown"};
        case E::kExited:
          return {S::kGone, kKillGroup | kEndTurn | kCountFault | kRelease, TurnStatus::kFailed,
                  "worker exited"};
      }
      break;
    case S::kStopping:
      switch (event) {
        case E::kHello:
        case E::kDone:
        case E::kHeartbeat:
        case E::kProtocolError:
        case E::kProgress:
          return {S::kStopping, kDropStale};
        case E::kDispatch:
        case E::kRunTimeout:
        case E::kSilent:
        case E::kIdleTimeout:
        case E::kOperatorKill:
        case E::kCancel:
        case E::kDrainKill:
          return Stay(S::kStopping);
        case E::kGraceExpired:
          return {S::kStopping, kKillGroup, TurnStatus::kPending, "kill_grace"};
        case E::kExited:
          return {S::kGone, kKillGroup | kRelease};
      }
      break;
    case S::kGone:
      return Stay(S::kGone);  // nothing happens to a reaped worker
  }
  return Stay(state);
}

std::string TurnEndText(WorkerEvent e, const Transition& t, const EndTextFacts& f) {
  const std::string turn = std::to_string(f.lead_turn);
  switch (e) {
    case E::kRunTimeout:
      return "turn " + turn + " of session " + f.session + " timed out after " +
             std::to_string(f.run_timeout_ms) + "ms (run_timeout); its worker was killed";
    case E::kSilent:
      return "unresponsive: turn " + turn + " of session " + f.session +
             " failed; its worker sent nothing for " + std::to_string(f.heartbeat_timeout_ms) +
             "ms (heartbeat_timeout) and was killed";
    case E::kExited:
      return "worker of session " + f.session + " died during turn " + turn + " (" + f.detail + ")";
    case E::kOperatorKill:
      return "cancelled: the worker of session " + f.session + " was killed by an operator";
    case E::kCancel:
      return f.detail.empty() ? "cancelled by an operator" : f.detail;
    default:
      return std::string(t.reason) + (f.detail.empty() ? "" : ": " + f.detail);
  }
}

const char* WorkerStateName(WorkerState s) {
  switch (s) {
    case S::kStarting:
      return "starting";
    case S::kIdle:
      return "idle";
    case S::kDispatched:
      return "dispatched";
    case S::kBusy:
      return "busy";
    case S::kStopping:
      return "stopping";
    case S::kGone:
      return "gone";
  }
  return "unknown";
}

const char* WorkerEventName(WorkerEvent e) {
  switch (e) {
    case E::kHello:
      return "hello";
    case E::kDispatch:
      return "dispatch";
    case E::kDone:
      return "done";
    case E::kHeartbeat:
      return "heartbeat";
    case E::kProtocolError:
      return "protocol_error";
    case E::kRunTimeout:
      return "run_timeout";
    case E::kSilent:
      return "silent";
    case E::kGraceExpired:
      return "grace_expired";
    case E::kIdleTimeout:
      return "idle_timeout";
    case E::kOperatorKill:
      return "operator_kill";
    case E::kCancel:
      return "cancel";
    case E::kDrainKill:
      return "drain_kill";
    case E::kExited:
      return "exited";
    case E::kProgress:
      return "progress";
  }
  return "unknown";
}

}  // namespace laneway::supervisor
