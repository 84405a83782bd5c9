// The floors' processes, started and driven from the bench (bench/floor_peer.cc
// is the program they run). Each owns what it starts and kills it on destruction.
#ifndef LANEWAY_BENCH_FLOORS_H_
#define LANEWAY_BENCH_FLOORS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "bench/harness.h"

namespace laneway::bench {

// A floor_peer broker with `peers` echo peers "p0".."p<peers-1>".
class FloorBroker {
 public:
  explicit FloorBroker(int peers);
  ~FloorBroker();
  FloorBroker(const FloorBroker&) = delete;
  FloorBroker& operator=(const FloorBroker&) = delete;

  // Starts every process and waits (bounded) until every peer said ready.
  bool Start();
  std::string front_endpoint() const { return "ipc://" + dir_.path() + "/front.sock"; }
  pid_t broker_pid() const { return pids_.empty() ? -1 : pids_.front(); }
  std::vector<pid_t> peer_pids() const {
    return pids_.size() > 1 ? std::vector<pid_t>(pids_.begin() + 1, pids_.end())
                            : std::vector<pid_t>();
  }
  // A request of exactly `size` bytes (>= 4) for peer `index`.
  static std::string Request(uint32_t index, size_t size);

 private:
  TempDir dir_;
  int peers_;
  std::vector<pid_t> pids_;
};

// A ROUTER in the bench process that minimal programs ("floor_peer ready") connect
// to. Spawn starts one; WaitReady collects their "ready" messages.
class ReadyListener {
 public:
  ReadyListener();
  ~ReadyListener();  // kills every program it started
  ReadyListener(const ReadyListener&) = delete;
  ReadyListener& operator=(const ReadyListener&) = delete;

  // posix_spawn of "floor_peer ready EP <id>"; returns the pid (-1 on failure).
  pid_t Spawn(const std::string& id);
  // Waits until `n` more "ready" messages arrived or `timeout` passed; returns
  // how many arrived. The time of the last one goes to *last.
  int WaitReady(int n, std::chrono::milliseconds timeout, Clock::time_point* last = nullptr);
  // SIGKILLs and reaps every program started so far.
  void KillAll();

 private:
  TempDir dir_;
  zmq::socket_t sock_;
  std::vector<pid_t> pids_;
};

// "floor_peer commit": a ROUTER that group-commits one record per request.
class CommitServer {
 public:
  // Writes to `dir`/floor.log (the same directory as the journal it is compared to).
  CommitServer(const std::string& dir, size_t record_bytes, size_t ack_bytes);
  ~CommitServer();
  CommitServer(const CommitServer&) = delete;
  CommitServer& operator=(const CommitServer&) = delete;
  bool Start();
  std::string endpoint() const { return "ipc://" + sock_dir_.path() + "/commit.sock"; }

 private:
  std::string dir_;
  size_t record_bytes_;
  size_t ack_bytes_;
  TempDir sock_dir_;
  pid_t pid_ = -1;
};

}  // namespace laneway::bench

#endif  // LANEWAY_BENCH_FLOORS_H_
