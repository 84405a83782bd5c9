#include "supervisor/worker_fsm.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace laneway::supervisor {
namespace {

using common::TurnStatus;
using E = WorkerEvent;
using S = WorkerState;

constexpr TurnStatus kNoTurn = TurnStatus::kPending;  // the cell does not end a turn

struct Cell {
  S state;
  E event;
  S next;
  uint32_t actions;
  TurnStatus ends_as;  // checked only when actions include kEndTurn
};

// The worker life cycle, written out cell by cell from DESIGN.md "Worker lifecycle
// and faults":
// - fault kills (run timeout, silence, protocol errors, crashes) count toward the
//   restart limit; operator kills, cancels, idle stops and shutdown drains do not;
// - a protocol error is answered with SIGKILL at once, a hung or unwanted worker
//   gets SIGTERM and a grace period, an idle one is asked politely (stop);
// - anything a worker says once it is Stopping is stale and dropped;
// - the reaped worker's group is always swept with SIGKILL and its slot released;
// - a reaped worker (Gone) ignores everything.
const std::vector<Cell>& Table() {
  static const std::vector<Cell> table = {
      // Starting: spawned, no hello yet.
      {S::kStarting, E::kHello, S::kIdle, kSendConfigure | kDispatchNext | kTouch, kNoTurn},
      {S::kStarting, E::kProgress, S::kStopping, kKillGroup | kCountFault, kNoTurn},
      {S::kIdle, E::kProgress, S::kStopping, kKillGroup | kCountFault, kNoTurn},
      {S::kBusy, E::kProgress, S::kBusy, kForwardProgress | kTouch, kNoTurn},
      {S::kDispatched, E::kProgress, S::kBusy, kForwardProgress | kTouch, kNoTurn},
      {S::kStopping, E::kProgress, S::kStopping, kDropStale, kNoTurn},
      {S::kGone, E::kProgress, S::kGone, kNone, kNoTurn},
      {S::kStarting, E::kDispatch, S::kStarting, kNone, kNoTurn},  // sent after hello
      {S::kStarting, E::kDone, S::kStopping, kKillGroup | kCountFault, kNoTurn},
      {S::kStarting, E::kHeartbeat, S::kStarting, kTouch, kNoTurn},
      {S::kStarting, E::kProtocolError, S::kStopping, kKillGroup | kCountFault, kNoTurn},
      {S::kStarting, E::kRunTimeout, S::kStarting, kNone, kNoTurn},
      {S::kStarting, E::kSilent, S::kStopping, kTermGroup | kCountFault, kNoTurn},
      {S::kStarting, E::kGraceExpired, S::kStarting, kNone, kNoTurn},
      {S::kStarting, E::kIdleTimeout, S::kStopping, kTermGroup, kNoTurn},
      {S::kStarting, E::kOperatorKill, S::kStopping, kTermGroup, kNoTurn},
      {S::kStarting, E::kCancel, S::kStarting, kNone, kNoTurn},
      {S::kStarting, E::kDrainKill, S::kStopping, kTermGroup, kNoTurn},
      {S::kStarting, E::kExited, S::kGone, kKillGroup | kCountFault | kRelease, kNoTurn},
      // Idle: connected, no turn.
      {S::kIdle, E::kHello, S::kStopping, kKillGroup | kCountFault, kNoTurn},  // second hello
      {S::kIdle, E::kDispatch, S::kDispatched, kSendRun | kTouch, kNoTurn},
      {S::kIdle, E::kDone, S::kStopping, kKillGroup | kCountFault, kNoTurn},  // no turn given
      {S::kIdle, E::kHeartbeat, S::kIdle, kTouch, kNoTurn},
      {S::kIdle, E::kProtocolError, S::kStopping, kKillGroup | kCountFault, kNoTurn},
      {S::kIdle, E::kRunTimeout, S::kIdle, kNone, kNoTurn},  // stale deadline
      {S::kIdle, E::kSilent, S::kStopping, kTermGroup | kCountFault, kNoTurn},
      {S::kIdle, E::kGraceExpired, S::kIdle, kNone, kNoTurn},
      {S::kIdle, E::kIdleTimeout, S::kStopping, kSendStop, kNoTurn},
      {S::kIdle, E::kOperatorKill, S::kStopping, kTermGroup, kNoTurn},
      {S::kIdle, E::kCancel, S::kIdle, kNone, kNoTurn},  // nothing to cancel
      {S::kIdle, E::kDrainKill, S::kStopping, kSendStop, kNoTurn},
      {S::kIdle, E::kExited, S::kGone, kKillGroup | kCountFault | kRelease, kNoTurn},
      // Dispatched: a run was sent, not yet acknowledged. Like Busy, except that the
      // worker's death or silence requeues the turn: it never reached a live worker.
      {S::kDispatched, E::kHello, S::kStopping, kKillGroup | kEndTurn | kCountFault,
       TurnStatus::kFailed},
      {S::kDispatched, E::kDispatch, S::kDispatched, kNone, kNoTurn},
      {S::kDispatched, E::kDone, S::kIdle, kEndTurn | kDispatchNext | kTouch, kNoTurn},
      {S::kDispatched, E::kHeartbeat, S::kBusy, kTouch, kNoTurn},  // the acknowledgement
      {S::kDispatched, E::kProtocolError, S::kStopping, kKillGroup | kEndTurn | kCountFault,
       TurnStatus::kFailed},
      {S::kDispatched, E::kRunTimeout, S::kStopping, kTermGroup | kEndTurn | kCountFault,
       TurnStatus::kTimedOut},
      {S::kDispatched, E::kSilent, S::kStopping, kTermGroup | kRequeueTurn | kCountFault,
       kNoTurn},
      {S::kDispatched, E::kGraceExpired, S::kDispatched, kNone, kNoTurn},
      {S::kDispatched, E::kIdleTimeout, S::kDispatched, kNone, kNoTurn},
      {S::kDispatched, E::kOperatorKill, S::kStopping, kTermGroup | kEndTurn,
       TurnStatus::kCancelled},
      {S::kDispatched, E::kCancel, S::kStopping, kTermGroup | kEndTurn, TurnStatus::kCancelled},
      {S::kDispatched, E::kDrainKill, S::kStopping, kTermGroup | kRequeueTurn, kNoTurn},
      {S::kDispatched, E::kExited, S::kGone, kKillGroup | kRequeueTurn | kCountFault | kRelease,
       kNoTurn},
      // Busy: running one turn; every way out of Busy but Done ends or requeues it.
      {S::kBusy, E::kHello, S::kStopping, kKillGroup | kEndTurn | kCountFault, TurnStatus::kFailed},
      {S::kBusy, E::kDispatch, S::kBusy, kNone, kNoTurn},  // the turn stays queued
      {S::kBusy, E::kDone, S::kIdle, kEndTurn | kDispatchNext | kTouch, kNoTurn},
      {S::kBusy, E::kHeartbeat, S::kBusy, kTouch, kNoTurn},
      {S::kBusy, E::kProtocolError, S::kStopping, kKillGroup | kEndTurn | kCountFault,
       TurnStatus::kFailed},
      {S::kBusy, E::kRunTimeout, S::kStopping, kTermGroup | kEndTurn | kCountFault,
       TurnStatus::kTimedOut},
      // Silence is killed like a run timeout; the turn ends failed ("unresponsive").
      {S::kBusy, E::kSilent, S::kStopping, kTermGroup | kEndTurn | kCountFault,
       TurnStatus::kFailed},
      {S::kBusy, E::kGraceExpired, S::kBusy, kNone, kNoTurn},
      {S::kBusy, E::kIdleTimeout, S::kBusy, kNone, kNoTurn},  // never idle-stopped
      {S::kBusy, E::kOperatorKill, S::kStopping, kTermGroup | kEndTurn, TurnStatus::kCancelled},
      {S::kBusy, E::kCancel, S::kStopping, kTermGroup | kEndTurn, TurnStatus::kCancelled},
      {S::kBusy, E::kDrainKill, S::kStopping, kTermGroup | kRequeueTurn, kNoTurn},
      {S::kBusy, E::kExited, S::kGone, kKillGroup | kEndTurn | kCountFault | kRelease,
       TurnStatus::kFailed},
      // Stopping: given up on; messages are stale, only grace and exit matter.
      {S::kStopping, E::kHello, S::kStopping, kDropStale, kNoTurn},
      {S::kStopping, E::kDispatch, S::kStopping, kNone, kNoTurn},
      {S::kStopping, E::kDone, S::kStopping, kDropStale, kNoTurn},
      {S::kStopping, E::kHeartbeat, S::kStopping, kDropStale, kNoTurn},
      {S::kStopping, E::kProtocolError, S::kStopping, kDropStale, kNoTurn},
      {S::kStopping, E::kRunTimeout, S::kStopping, kNone, kNoTurn},
      {S::kStopping, E::kSilent, S::kStopping, kNone, kNoTurn},
      {S::kStopping, E::kGraceExpired, S::kStopping, kKillGroup, kNoTurn},
      {S::kStopping, E::kIdleTimeout, S::kStopping, kNone, kNoTurn},
      {S::kStopping, E::kOperatorKill, S::kStopping, kNone, kNoTurn},
      {S::kStopping, E::kCancel, S::kStopping, kNone, kNoTurn},
      {S::kStopping, E::kDrainKill, S::kStopping, kNone, kNoTurn},
      {S::kStopping, E::kExited, S::kGone, kKillGroup | kRelease, kNoTurn},
      // Gone: reaped; nothing happens.
      {S::kGone, E::kHello, S::kGone, kNone, kNoTurn},
      {S::kGone, E::kDispatch, S::kGone, kNone, kNoTurn},
      {S::kGone, E::kDone, S::kGone, kNone, kNoTurn},
      {S::kGone, E::kHeartbeat, S::kGone, kNone, kNoTurn},
      {S::kGone, E::kProtocolError, S::kGone, kNone, kNoTurn},
      {S::kGone, E::kRunTimeout, S::kGone, kNone, kNoTurn},
      {S::kGone, E::kSilent, S::kGone, kNone, kNoTurn},
      {S::kGone, E::kGraceExpired, S::kGone, kNone, kNoTurn},
      {S::kGone, E::kIdleTimeout, S::kGone, kNone, kNoTurn},
      {S::kGone, E::kOperatorKill, S::kGone, kNone, kNoTurn},
      {S::kGone, E::kCancel, S::kGone, kNone, kNoTurn},
      {S::kGone, E::kDrainKill, S::kGone, kNone, kNoTurn},
      {S::kGone, E::kExited, S::kGone, kNone, kNoTurn},
  };
  return table;
}

std::string ActionNames(uint32_t a) {
  static const std::pair<uint32_t, const char*> kNames[] = {{kSendRun, "SendRun"},
                                                            {kSendStop, "SendStop"},
                                                            {kTermGroup, "TermGroup"},
                                                            {kKillGroup, "KillGroup"},
                                                            {kEndTurn, "EndTurn"},
                                                            {kDispatchNext, "DispatchNext"},
                                                            {kCountFault, "CountFault"},
                                                            {kDropStale, "DropStale"},
                                                            {kTouch, "Touch"},
                                                            {kRelease, "Release"},
                                                            {kRequeueTurn, "RequeueTurn"},
                                                            {kSendConfigure, "SendConfigure"},
                                                            {kForwardProgress, "ForwardProgress"}};
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if (a & bit) out += (out.empty() ? "" : "|") + std::string(name);
  }
  return out.empty() ? "None" : out;
}

TEST(WorkerFsmTest, ExpectedTableCoversEveryStateEventPairOnce) {
  std::set<std::pair<int, int>> seen;
  for (const Cell& c : Table()) {
    EXPECT_TRUE(seen.emplace(static_cast<int>(c.state), static_cast<int>(c.event)).second)
        << WorkerStateName(c.state) << " x " << WorkerEventName(c.event) << " listed twice";
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kWorkerStateCount * kWorkerEventCount));
}

TEST(WorkerFsmTest, EveryCellMatchesTheDesign) {
  for (const Cell& c : Table()) {
    SCOPED_TRACE(std::string(WorkerStateName(c.state)) + " x " + WorkerEventName(c.event));
    Transition t = NextTransition(c.state, c.event);
    EXPECT_EQ(t.next, c.next) << "next: got " << WorkerStateName(t.next) << ", want "
                              << WorkerStateName(c.next);
    EXPECT_EQ(t.actions, c.actions)
        << "actions: got " << ActionNames(t.actions) << ", want " << ActionNames(c.actions);
    if (c.actions & kEndTurn) {
      if (c.event != E::kDone) {  // Done takes its status from the worker's message
        EXPECT_EQ(t.turn_status, c.ends_as) << "got " << common::TurnStatusName(t.turn_status)
                                            << ", want " << common::TurnStatusName(c.ends_as);
      }
    }
  }
}

TEST(WorkerFsmTest, EveryTurnEndingCellGivesAReason) {
  for (const Cell& c : Table()) {
    if (!(c.actions & kEndTurn) || c.event == E::kDone) continue;
    Transition t = NextTransition(c.state, c.event);
    ASSERT_NE(t.reason, nullptr);
    EXPECT_GT(std::strlen(t.reason), 0u)
        << WorkerStateName(c.state) << " x " << WorkerEventName(c.event);
  }
}

TEST(WorkerFsmTest, NoCellBothEndsAndRequeuesTheTurn) {
  for (int s = 0; s < kWorkerStateCount; ++s) {
    for (int e = 0; e < kWorkerEventCount; ++e) {
      Transition t = NextTransition(static_cast<S>(s), static_cast<E>(e));
      EXPECT_FALSE((t.actions & kEndTurn) && (t.actions & kRequeueTurn)) << s << " x " << e;
    }
  }
}

TEST(WorkerFsmTest, RunTimeoutWhileBusyTerminatesGroupEndsTurnTimedOutAndCountsFault) {
  Transition t = NextTransition(S::kBusy, E::kRunTimeout);
  EXPECT_EQ(t.next, S::kStopping);
  EXPECT_TRUE(t.actions & kTermGroup);
  EXPECT_TRUE(t.actions & kEndTurn);
  EXPECT_TRUE(t.actions & kCountFault);
  EXPECT_FALSE(t.actions & kRelease);  // the slot is freed only when it is reaped
  EXPECT_EQ(t.turn_status, TurnStatus::kTimedOut);
}

TEST(WorkerFsmTest, ResultWhileStoppingIsDroppedAsStale) {
  Transition t = NextTransition(S::kStopping, E::kDone);
  EXPECT_EQ(t.next, S::kStopping);
  EXPECT_EQ(t.actions, static_cast<uint32_t>(kDropStale));
  EXPECT_FALSE(t.actions & kEndTurn);
}

TEST(WorkerFsmTest, ExitWhileBusyEndsTurnFailedAndReleases) {
  Transition t = NextTransition(S::kBusy, E::kExited);
  EXPECT_EQ(t.next, S::kGone);
  EXPECT_TRUE(t.actions & kEndTurn);
  EXPECT_TRUE(t.actions & kRelease);
  EXPECT_TRUE(t.actions & kCountFault);
  EXPECT_TRUE(t.actions & kKillGroup);  // sweeps grandchildren
  EXPECT_EQ(t.turn_status, TurnStatus::kFailed);
}

TEST(WorkerFsmTest, OperatorKillWhileBusyCancelsTurnWithoutFault) {
  Transition t = NextTransition(S::kBusy, E::kOperatorKill);
  EXPECT_EQ(t.next, S::kStopping);
  EXPECT_TRUE(t.actions & kEndTurn);
  EXPECT_TRUE(t.actions & kTermGroup);
  EXPECT_FALSE(t.actions & kCountFault);
  EXPECT_EQ(t.turn_status, TurnStatus::kCancelled);
}

TEST(WorkerFsmTest, OperatorKillNeverCountsAFault) {
  for (S s : {S::kStarting, S::kIdle, S::kDispatched, S::kBusy, S::kStopping, S::kGone}) {
    EXPECT_FALSE(NextTransition(s, E::kOperatorKill).actions & kCountFault) << WorkerStateName(s);
  }
}

TEST(WorkerFsmTest, GoneAbsorbsEveryEvent) {
  for (int e = 0; e < kWorkerEventCount; ++e) {
    Transition t = NextTransition(S::kGone, static_cast<E>(e));
    EXPECT_EQ(t.next, S::kGone) << WorkerEventName(static_cast<E>(e));
    EXPECT_EQ(t.actions, static_cast<uint32_t>(kNone)) << WorkerEventName(static_cast<E>(e));
  }
}

TEST(WorkerFsmTest, ExitAlwaysLeadsToGoneAndReleasesOnce) {
  for (S s : {S::kStarting, S::kIdle, S::kDispatched, S::kBusy, S::kStopping}) {
    Transition t = NextTransition(s, E::kExited);
    EXPECT_EQ(t.next, S::kGone) << WorkerStateName(s);
    EXPECT_TRUE(t.actions & kRelease) << WorkerStateName(s);
    EXPECT_TRUE(t.actions & kKillGroup) << WorkerStateName(s);
  }
}

TEST(WorkerFsmTest, StateNamesAreNonEmptyAndDistinct) {
  std::set<std::string> names;
  for (int s = 0; s < kWorkerStateCount; ++s) {
    const char* n = WorkerStateName(static_cast<S>(s));
    ASSERT_NE(n, nullptr);
    EXPECT_GT(std::strlen(n), 0u);
    EXPECT_STRNE(n, "unknown");
    names.insert(n);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kWorkerStateCount));
}

TEST(WorkerFsmTest, EventNamesAreNonEmptyAndDistinct) {
  std::set<std::string> names;
  for (int e = 0; e < kWorkerEventCount; ++e) {
    const char* n = WorkerEventName(static_cast<E>(e));
    ASSERT_NE(n, nullptr);
    EXPECT_GT(std::strlen(n), 0u);
    EXPECT_STRNE(n, "unknown");
    names.insert(n);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kWorkerEventCount));
}

}  // namespace
}  // namespace laneway::supervisor
