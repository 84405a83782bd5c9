// The records the parts of the core share by value: who a message goes to, a turn,
// a worker, a session. Each record is owned by exactly one part (TurnLedger owns
// turns, WorkerPool workers, SessionTable sessions); others hold ids, not pointers,
// across calls.
#ifndef LANEWAY_SUPERVISOR_CORE_TYPES_H_
#define LANEWAY_SUPERVISOR_CORE_TYPES_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/protocol.h"
#include "common/value.h"
#include "supervisor/restart_policy.h"
#include "supervisor/scheduler.h"
#include "supervisor/timer_queue.h"
#include "supervisor/worker_fsm.h"

namespace laneway::supervisor {

// The sockets the core sends on; a peer is a routing id on one of them.
enum class Door : uint8_t {
  kControl,  // ipc control socket: the CLI (permission: admin)
  kInproc,   // inproc front door: channel threads (permission: operate)
  kWorkers,  // worker socket
};

struct Peer {
  Door door = Door::kControl;
  std::string id;  // ZeroMQ routing id
  bool operator==(const Peer&) const = default;
};

// Where the core's messages leave it. The loop sends on its ZeroMQ sockets; unit
// tests record. Send never blocks; a message that cannot be delivered is counted.
class Transport {
 public:
  virtual ~Transport() = default;
  // False if the message could not be handed over (peer gone, high-water mark).
  virtual bool Send(const Peer& to, const std::string& bytes) = 0;
};

// A request waiting for a turn's outcome (and, with `stream`, its progress).
struct Waiter {
  Peer peer;
  int64_t request_id = 0;  // echoed in the outcome
  bool stream = false;
};

struct Turn {
  uint64_t id = 0;
  std::string session;
  std::string agent;
  std::string message;
  int64_t accepted_unix_ms = 0;
  uint32_t attempts = 0;
  common::TurnStatus status = common::TurnStatus::kPending;
  bool start_journaled = false;  // its next start record went out with its accept
  std::string text;              // reply, or error when failed
  common::Value meta;            // from the worker's done (model, usage, ...); not journaled
  common::Value origin;          // where it came from (docs/protocol.md "Origins"); a map
  std::string idempotency_key;   // "" = none
  bool delivered = false;        // a channel confirmed delivery of the outcome
  uint64_t progress_seq = 0;     // progress messages forwarded so far
  std::vector<Waiter> waiters;
};

struct Worker {
  uint64_t id = 0;  // routing id "w<id>"
  std::string session;  // "" for a spare worker not bound to a session yet
  pid_t pid = 0;        // 0 until the launcher reports it
  WorkerState state = WorkerState::kStarting;
  bool launch_asked = false;  // handed to the launcher (else still waiting for a launch slot)
  bool spare = false;         // started ahead for whichever session needs one first
  bool spare_ready = false;   // a spare that connected and waits to be bound
  bool awaiting_hello = false;  // launched and not yet connected (spawn_concurrency)
  common::SteadyTime spawned_at{};
  common::SteadyTime last_seen{};
  common::SteadyTime idle_since{};
  common::SteadyTime turn_started{};
  std::optional<Batch> running;
  // Its pending timers (0: none), cancelled when it is released: the timer queue
  // holds a few entries per live worker, however many came and went.
  TimerHandle run_timer = 0;
  TimerHandle silence_timer = 0;  // hello deadline; liveness while a turn runs
  TimerHandle grace_timer = 0;
  TimerHandle idle_timer = 0;
  TimerHandle settle_timer = 0;  // its exit, decided once its last messages are read
  int exit_status = 0;           // with settle_timer
  uint64_t stop_seq = 0;         // token of the kill_grace timer of the current stop
  bool fault = false;            // its death counts toward the restart policy
  bool stuck_reported = false;   // session_stuck logged for the running turn
  std::string stop_reason;
};

struct Session {
  std::string key;
  std::string agent;
  uint64_t serial = 0;  // for timers
  SessionQueue queue;
  uint64_t worker_id = 0;  // 0: none
  RestartPolicy policy;
  bool in_backoff = false;
  uint32_t restarts = 0;
  uint64_t turns_total = 0;
  int64_t last_activity_unix_ms = 0;
  size_t pending_accepts = 0;  // submitted, not yet durable
  bool want_worker = false;    // operator restart: start one even with nothing queued
  // Outcomes decided by the supervisor (timeout, cancel, crash) that the session's
  // transcript does not have yet; the next `run` carries them to the worker.
  struct Unrecorded {
    uint64_t turn_id;
    std::string status;
    std::string error;
  };
  std::vector<Unrecorded> unrecorded;

  Session(std::string k, std::string a, uint64_t s, size_t max_queue, RestartPolicy::Limits l)
      : key(std::move(k)), agent(std::move(a)), serial(s), queue(max_queue), policy(l) {}
};

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_CORE_TYPES_H_
