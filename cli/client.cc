#include "cli/client.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <zmq.hpp>

#include "cli/access_check.h"
#include "common/file_lock.h"
#include "common/protocol.h"

namespace laneway::cli {

using common::Result;
using common::Status;
using common::Value;

struct Client::Impl {
  zmq::context_t ctx{1};
  zmq::socket_t sock{ctx, zmq::socket_type::dealer};
  // Connection events of `sock` (ZMQ_EVENT_DISCONNECTED), see WasDisconnected.
  zmq::socket_t monitor{ctx, zmq::socket_type::pair};
  bool monitoring = false;
  bool disconnected = false;  // seen since the last WasDisconnected()
  bool refused = false;       // the supervisor's peer check refused us (sticky)

  // The monitor stops before `monitor` closes (members close in reverse order):
  // libzmq 4.3.4's monitor_event() does not check its zmq_msg_send, so an event
  // sent to a monitor whose reading end is already closed leaks its address frame
  // (a DISCONNECTED from a supervisor exiting as the CLI exits: seen by LSan).
  ~Impl() {
    if (monitoring) zmq_socket_monitor(sock.handle(), nullptr, 0);
  }

  // Reads the monitor's pending events into the flags above.
  void DrainEvents() {
    if (!monitoring) return;
    try {
      zmq::message_t event;
      while (monitor.recv(event, zmq::recv_flags::dontwait)) {
        if (event.size() >= 2) {
          uint16_t id;
          std::memcpy(&id, event.data(), sizeof id);
          disconnected |= id == ZMQ_EVENT_DISCONNECTED;
          refused |= id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
        }
        zmq::message_t address;  // every event is two frames
        if (event.more()) (void)monitor.recv(address, zmq::recv_flags::dontwait);
      }
    } catch (const zmq::error_t&) {
    }
  }
};

Client::Client(common::Paths paths, std::unique_ptr<Impl> impl)
    : paths_(std::move(paths)), impl_(std::move(impl)) {}

Client::~Client() = default;

std::string UnreachableHint(const common::Paths& paths) {
  return "no laneway supervisor is running on " + paths.home +
         " (LANEWAY_HOME); start one with `laneway up`";
}

bool Client::SupervisorAlive() const {
  auto holder = common::LockHolder(paths_.instance_lock);
  return holder.ok() && *holder > 0;
}

Result<std::unique_ptr<Client>> Client::Connect(const common::Paths& paths) {
  // ZeroMQ connects lazily and would queue our request forever for a socket
  // nobody listens on; the instance lock tells at once whether anyone is there.
  // A lock we may not read says nothing about that: name the permission instead.
  if (auto p = AccessProblem(paths.instance_lock, R_OK)) return Status::FailedPrecondition(*p);
  auto holder = common::LockHolder(paths.instance_lock);
  if (!holder.ok()) {
    return Status::FailedPrecondition("cannot tell whether a supervisor runs on " + paths.home +
                                      ": " + holder.status().message());
  }
  if (*holder == 0) return Status::Unavailable(UnreachableHint(paths));
  // Connecting to a unix socket needs write permission on it; ZeroMQ would retry
  // in the background forever and the request would just time out.
  if (auto p = AccessProblem(paths.control_socket, W_OK)) {
    return Status::FailedPrecondition(*p);
  }
  auto impl = std::make_unique<Impl>();
  try {
    impl->sock.set(zmq::sockopt::linger, 0);
    // The supervisor closes a connection that sends a frame past its hard bound
    // (ZMQ_MAXMSGSIZE) without a word; watching for that lets the CLI say so.
    if (zmq_socket_monitor(impl->sock.handle(), "inproc://laneway-cli-monitor",
                           ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
      impl->monitor.set(zmq::sockopt::linger, 0);
      impl->monitor.connect("inproc://laneway-cli-monitor");
      impl->monitoring = true;
    }
    impl->sock.connect(paths.control_endpoint());
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot connect to " + paths.control_endpoint() + ": " + e.what());
  }
  return std::unique_ptr<Client>(new Client(paths, std::move(impl)));
}

Failure ConnectFailure(const Status& st) {
  if (st.code() == Status::Code::kFailedPrecondition) {
    return {kExitUnreachable, code::kPermissionDenied, st.message()};
  }
  return {kExitUnreachable, code::kUnreachable, st.message()};
}

std::unique_ptr<Client> ConnectOrReport(const Output& out, int* exit_code) {
  auto paths = common::ResolvePaths();
  if (!paths.ok()) {
    *exit_code = out.Fail(kExitUsage, code::kNoHome, paths.status().message());
    return nullptr;
  }
  auto client = Client::Connect(*paths);
  if (!client.ok()) {
    *exit_code = out.Fail(ConnectFailure(client.status()));
    return nullptr;
  }
  return std::move(client).value();
}

Result<int64_t> Client::Send(Value request) {
  const int64_t id = next_id_++;
  request.Set("id", id);
  std::string bytes = common::EncodeMessage(request);
  last_request_bytes_ = bytes.size();
  try {
    if (!impl_->sock.send(zmq::buffer(bytes), zmq::send_flags::dontwait)) {
      return Status::Unavailable("the supervisor is not accepting requests");
    }
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("send: ") + e.what());
  }
  return id;
}

Result<Value> Client::Receive(std::chrono::milliseconds timeout) {
  zmq::pollitem_t item{impl_->sock.handle(), 0, ZMQ_POLLIN, 0};
  try {
    if (zmq::poll(&item, 1, timeout) == 0) return Status::Unavailable("timeout");
    zmq::message_t frame;
    if (!impl_->sock.recv(frame, zmq::recv_flags::dontwait)) return Status::Unavailable("timeout");
    return common::DecodeMessage(frame.data(), frame.size(), 256u << 20);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("receive: ") + e.what());
  }
}

bool Client::WasDisconnected() {
  impl_->DrainEvents();
  const bool d = impl_->disconnected;
  impl_->disconnected = false;
  return d;
}

bool Client::WasRefused() {
  impl_->DrainEvents();
  return impl_->refused;
}

std::string RefusedMessage(const common::Paths& paths) {
  return "permission denied: the supervisor on " + paths.home + " refused this connection (uid " +
         std::to_string(::geteuid()) +
         " is not its own, root, or in [supervisor] control_allow_uids / control_allow_group)";
}

bool Client::Answers(const Value& m, int64_t req) {
  auto rid = m.GetIntOr("id", 0);
  if (!rid.ok()) return false;
  if (*rid == req) return true;
  return *rid == 0 && common::MessageType(m) == common::msg::kError;
}

Result<Value> Client::Call(Value request, std::chrono::milliseconds timeout) {
  auto id = Send(std::move(request));
  if (!id.ok()) return id.status();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Status::Unavailable("the supervisor did not answer within " +
                                 std::to_string(timeout.count()) + "ms");
    }
    // In slices, so that a refusal by the supervisor's peer check (which shows
    // only as a monitor event) ends the wait at once.
    auto m = Receive(std::min(left, std::chrono::milliseconds(100)));
    if (!m.ok()) {
      if (WasRefused()) return Status::FailedPrecondition(RefusedMessage(paths_));
      if (m.status().message() == "timeout") continue;
      return m.status();
    }
    if (Answers(*m, *id)) return m;
  }
}

}  // namespace laneway::cli
