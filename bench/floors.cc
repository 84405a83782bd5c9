#include "bench/floors.h"

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

namespace laneway::bench {

namespace {

std::string FloorPeer() { return BinDir() + "/floor_peer"; }

void KillAndReap(std::vector<pid_t>& pids) {
  for (pid_t pid : pids) KillGroup(pid, SIGKILL);
  for (pid_t pid : pids) WaitExit(pid, std::chrono::seconds(5));
  pids.clear();
}

}  // namespace

// ---- FloorBroker --------------------------------------------------------------

FloorBroker::FloorBroker(int peers) : peers_(peers) {}

FloorBroker::~FloorBroker() { KillAndReap(pids_); }

std::string FloorBroker::Request(uint32_t index, size_t size) {
  std::string r(size < 4 ? 4 : size, 'x');
  for (int i = 0; i < 4; ++i) r[i] = static_cast<char>((index >> (8 * i)) & 0xFF);
  return r;
}

bool FloorBroker::Start() {
  const std::string back = "ipc://" + dir_.path() + "/back.sock";
  pid_t broker = bench::Spawn({FloorPeer(), "broker", front_endpoint(), back});
  if (broker < 0) return false;
  pids_.push_back(broker);
  for (int i = 0; i < peers_; ++i) {
    pid_t p = bench::Spawn({FloorPeer(), "echo", back, std::to_string(i)});
    if (p < 0) return false;
    pids_.push_back(p);
  }
  // Ask the broker how many peers said ready (an empty request), until all did.
  Dealer probe(Context(), front_endpoint());
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    probe.Send("");
    std::string n;
    if (probe.Recv(&n, std::chrono::milliseconds(200)) && std::stoi(n) >= peers_) return true;
    ::poll(nullptr, 0, 5);
  }
  Log("floor broker: peers did not all say ready within 30 s");
  return false;
}

// ---- ReadyListener ------------------------------------------------------------

ReadyListener::ReadyListener() : sock_(Context(), zmq::socket_type::router) {
  sock_.set(zmq::sockopt::rcvhwm, 0);
  sock_.set(zmq::sockopt::linger, 0);
  sock_.bind("ipc://" + dir_.path() + "/ready.sock");
}

ReadyListener::~ReadyListener() { KillAll(); }

pid_t ReadyListener::Spawn(const std::string& id) {
  pid_t pid = bench::Spawn({FloorPeer(), "ready", "ipc://" + dir_.path() + "/ready.sock", id});
  if (pid > 0) pids_.push_back(pid);
  return pid;
}

int ReadyListener::WaitReady(int n, std::chrono::milliseconds timeout, Clock::time_point* last) {
  const auto deadline = Clock::now() + timeout;
  int got = 0;
  while (got < n) {
    zmq::message_t id, body;
    if (!sock_.recv(id, zmq::recv_flags::dontwait)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      zmq::pollitem_t item{sock_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, left);
      continue;
    }
    (void)sock_.recv(body, zmq::recv_flags::none);
    if (last) *last = Clock::now();
    ++got;
  }
  return got;
}

void ReadyListener::KillAll() { KillAndReap(pids_); }

// ---- CommitServer -------------------------------------------------------------

CommitServer::CommitServer(const std::string& dir, size_t record_bytes, size_t ack_bytes)
    : dir_(dir), record_bytes_(record_bytes), ack_bytes_(ack_bytes) {}

CommitServer::~CommitServer() {
  if (pid_ > 0) {
    KillGroup(pid_, SIGKILL);
    WaitExit(pid_, std::chrono::seconds(5));
  }
  ::unlink((dir_ + "/floor.log").c_str());
}

bool CommitServer::Start() {
  pid_ = bench::Spawn({FloorPeer(), "commit", endpoint(), dir_ + "/floor.log",
                       std::to_string(record_bytes_), std::to_string(ack_bytes_)});
  if (pid_ < 0) return false;
  const std::string sock = sock_dir_.path() + "/commit.sock";
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  struct stat st;
  while (Clock::now() < deadline) {
    if (::stat(sock.c_str(), &st) == 0) return true;
    ::poll(nullptr, 0, 2);
  }
  return false;
}

}  // namespace laneway::bench
