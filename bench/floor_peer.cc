// floor_peer: the raw-transport floors that laneway's figures are measured
// against (docs/benchmarks.md). Each role runs as a process of its own, started
// the way laneway's are, so that a floor pays for the same process boundaries:
//
//   floor_peer broker FRONT_EP BACK_EP
//       One ROUTER→ROUTER hop: a ROUTER bound on FRONT_EP for clients and one on
//       BACK_EP for peers. A client request's first 4 bytes (little endian) name
//       the peer "p<index>"; the reply goes back to the client. An empty request
//       is answered with the number of peers that said "ready".
//   floor_peer echo BACK_EP INDEX
//       A DEALER with routing id "p<INDEX>" that says "ready" and echoes every
//       request (the floor of a warm worker).
//   floor_peer ready EP ID
//       The minimal ZeroMQ program: a DEALER with routing id ID connects to EP,
//       sends "ready", then idles until it receives "stop" (the floor of a cold
//       worker, of a kill, and of an idle worker's memory).
//   floor_peer commit EP FILE RECORD_BYTES ACK_BYTES
//       A ROUTER that group-commits: per loop iteration it takes up to 512
//       requests, writes one RECORD_BYTES record per request to FILE with one
//       write and one fdatasync, then acknowledges each (the durable-accept floor).
//
// It links libzmq and the C++ runtime only. Loops read at most 512 messages per
// socket per iteration, as laneway-supervisor does.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace {

constexpr int kBatch = 512;

void ConfigureRouter(zmq::socket_t& s) {
  s.set(zmq::sockopt::router_mandatory, 1);
  s.set(zmq::sockopt::sndhwm, 100000);
  s.set(zmq::sockopt::rcvhwm, 100000);
  s.set(zmq::sockopt::linger, 0);
}

uint32_t PeerIndex(const zmq::message_t& body) {
  const auto* p = static_cast<const unsigned char*>(body.data());
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{p[i]} << (8 * i);
  return v;
}

int Broker(const char* front_ep, const char* back_ep) {
  zmq::context_t ctx(1);
  zmq::socket_t front(ctx, zmq::socket_type::router);
  zmq::socket_t back(ctx, zmq::socket_type::router);
  ConfigureRouter(front);
  ConfigureRouter(back);
  front.bind(front_ep);
  back.bind(back_ep);
  uint64_t ready = 0;
  for (;;) {
    zmq::pollitem_t items[] = {{front.handle(), 0, ZMQ_POLLIN, 0},
                               {back.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(1000));
    for (int i = 0; i < kBatch; ++i) {  // client -> peer
      zmq::message_t client, body;
      if (!front.recv(client, zmq::recv_flags::dontwait)) break;
      (void)front.recv(body, zmq::recv_flags::none);
      try {
        if (body.size() < 4) {
          std::string n = std::to_string(ready);
          front.send(client, zmq::send_flags::sndmore);
          front.send(zmq::buffer(n), zmq::send_flags::none);
          continue;
        }
        std::string peer = "p" + std::to_string(PeerIndex(body));
        back.send(zmq::buffer(peer), zmq::send_flags::sndmore);
        back.send(client, zmq::send_flags::sndmore);
        back.send(body, zmq::send_flags::none);
      } catch (const zmq::error_t&) {
        // EHOSTUNREACH: no such peer; the client's request is dropped.
      }
    }
    for (int i = 0; i < kBatch; ++i) {  // peer -> client
      zmq::message_t peer, first;
      if (!back.recv(peer, zmq::recv_flags::dontwait)) break;
      (void)back.recv(first, zmq::recv_flags::none);
      if (!first.more()) {
        ++ready;
        continue;
      }
      zmq::message_t body;
      (void)back.recv(body, zmq::recv_flags::none);
      try {
        front.send(first, zmq::send_flags::sndmore);
        front.send(body, zmq::send_flags::none);
      } catch (const zmq::error_t&) {
        // The client went away.
      }
    }
  }
}

int Echo(const char* back_ep, const char* index) {
  zmq::context_t ctx(1);
  zmq::socket_t sock(ctx, zmq::socket_type::dealer);
  sock.set(zmq::sockopt::routing_id, std::string("p") + index);
  sock.set(zmq::sockopt::linger, 0);
  sock.connect(back_ep);
  sock.send(zmq::str_buffer("ready"), zmq::send_flags::none);
  for (;;) {
    zmq::message_t client, body;
    (void)sock.recv(client, zmq::recv_flags::none);
    (void)sock.recv(body, zmq::recv_flags::none);
    sock.send(client, zmq::send_flags::sndmore);
    sock.send(body, zmq::send_flags::none);
  }
}

int Ready(const char* ep, const char* id) {
  zmq::context_t ctx(1);
  zmq::socket_t sock(ctx, zmq::socket_type::dealer);
  sock.set(zmq::sockopt::routing_id, std::string(id));
  sock.set(zmq::sockopt::linger, 0);
  sock.connect(ep);
  sock.send(zmq::str_buffer("ready"), zmq::send_flags::none);
  for (;;) {
    zmq::message_t m;
    (void)sock.recv(m, zmq::recv_flags::none);
    if (m.to_string_view() == "stop") return 0;
  }
}

int Commit(const char* ep, const char* file, size_t record_bytes, size_t ack_bytes) {
  int fd = ::open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::perror(file);
    return 1;
  }
  zmq::context_t ctx(1);
  zmq::socket_t sock(ctx, zmq::socket_type::router);
  ConfigureRouter(sock);
  sock.bind(ep);
  const std::string record(record_bytes, 'r');
  const std::string ack(ack_bytes, 'a');
  std::vector<zmq::message_t> peers;
  std::string batch;
  off_t offset = 0;
  for (;;) {
    zmq::pollitem_t item{sock.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(1000));
    peers.clear();
    batch.clear();
    for (int i = 0; i < kBatch; ++i) {
      zmq::message_t peer, body;
      if (!sock.recv(peer, zmq::recv_flags::dontwait)) break;
      (void)sock.recv(body, zmq::recv_flags::none);
      peers.push_back(std::move(peer));
      batch += record;
    }
    if (peers.empty()) continue;
    if (::pwrite(fd, batch.data(), batch.size(), offset) != static_cast<ssize_t>(batch.size()) ||
        ::fdatasync(fd) != 0) {
      std::perror("write+fdatasync");
      return 1;
    }
    offset += static_cast<off_t>(batch.size());
    for (zmq::message_t& peer : peers) {
      try {
        sock.send(peer, zmq::send_flags::sndmore);
        sock.send(zmq::buffer(ack), zmq::send_flags::none);
      } catch (const zmq::error_t&) {
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "broker" && argc == 4) return Broker(argv[2], argv[3]);
  if (mode == "echo" && argc == 4) return Echo(argv[2], argv[3]);
  if (mode == "ready" && argc == 4) return Ready(argv[2], argv[3]);
  if (mode == "commit" && argc == 6) {
    return Commit(argv[2], argv[3], std::strtoul(argv[4], nullptr, 10),
                  std::strtoul(argv[5], nullptr, 10));
  }
  std::fprintf(stderr,
               "usage: floor_peer broker FRONT_EP BACK_EP | echo BACK_EP INDEX | ready EP ID |\n"
               "       commit EP FILE RECORD_BYTES ACK_BYTES\n");
  return 2;
}
