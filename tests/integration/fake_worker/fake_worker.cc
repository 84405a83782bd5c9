// A worker that breaks the protocol on purpose, started by the supervisor in
// place of laneway-worker (LANEWAY_WORKER_BIN). FAKE_WORKER_MODE says how,
// once it has been given a turn:
//   garbage       sends bytes that are not msgpack
//   unknown_type  sends a well-formed message of an unknown type
//   wrong_turn    reports "done" for a turn it was not given
//   multipart     sends a message in two frames
// It then waits to be killed.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <zmq.hpp>

#include "common/protocol.h"

int main(int argc, char** argv) {
  using laneway::common::Value;
  std::string endpoint, session, worker_id;
  for (int i = 1; i + 1 < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") break;
    if (a == "--endpoint") endpoint = argv[i + 1];
    if (a == "--session") session = argv[i + 1];
    if (a == "--worker-id") worker_id = argv[i + 1];
  }
  const char* mode_env = std::getenv("FAKE_WORKER_MODE");
  std::string mode = mode_env ? mode_env : "garbage";
  zmq::context_t ctx(1);
  zmq::socket_t sock(ctx, zmq::socket_type::dealer);
  sock.set(zmq::sockopt::routing_id, "w" + worker_id);
  sock.set(zmq::sockopt::linger, 1000);
  sock.connect(endpoint);
  Value hello = laneway::common::NewMessage("hello");
  hello.Set("session", session);
  hello.Set("pid", static_cast<int64_t>(::getpid()));
  std::string bytes = laneway::common::EncodeMessage(hello);
  sock.send(zmq::buffer(bytes));
  for (;;) {
    zmq::message_t m;
    if (!sock.recv(m)) continue;
    auto run = laneway::common::DecodeMessage(m.data(), m.size(), 1 << 24);
    if (!run.ok() || laneway::common::MessageType(*run) != "run") continue;
    int64_t turn = run->GetInt("turn_id").value();
    if (mode == "garbage") {
      sock.send(zmq::str_buffer("\xc1\xc1 this is not msgpack"));
    } else if (mode == "unknown_type") {
      sock.send(zmq::buffer(laneway::common::EncodeMessage(laneway::common::NewMessage("bogus"))));
    } else if (mode == "wrong_turn") {
      Value done = laneway::common::NewMessage("done");
      done.Set("turn_id", turn + 1000);
      done.Set("ok", true);
      done.Set("reply", "not yours");
      sock.send(zmq::buffer(laneway::common::EncodeMessage(done)));
    } else if (mode == "multipart") {
      sock.send(zmq::str_buffer("a"), zmq::send_flags::sndmore);
      sock.send(zmq::str_buffer("b"));
    }
  }
}
