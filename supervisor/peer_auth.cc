#include "supervisor/peer_auth.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <zmq.hpp>

#include "common/log.h"
#include "common/quote.h"

namespace laneway::supervisor {

using common::LogLevel;
using common::LogLine;
using common::Status;

namespace {

// Bounds: requests read per Process() (the loop's other sockets wait otherwise),
// requests held waiting on a pid, (door, uid) pairs remembered for log-once.
constexpr int kMaxRequestsPerPass = 256;
constexpr size_t kMaxWaiting = 4096;
constexpr size_t kMaxLogged = 4096;

bool ParseU32(std::string_view s, uint32_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool Contains(const std::vector<uint32_t>& v, uint32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

std::optional<PeerCred> ParseZapAddress(std::string_view address) {
  // libzmq (stream_engine_base.cpp) appends ":" uid ":" gid ":" pid to the peer's
  // address, which for a unix socket is "localhost" in 4.3.4 (empty in older
  // releases): the credentials are the last three fields, after a host with no ':'.
  const size_t first = address.find(':');
  if (first == std::string_view::npos) return std::nullopt;
  const std::string_view host = address.substr(0, first);
  if (!host.empty() && host != "localhost") return std::nullopt;  // not an ipc peer
  address.remove_prefix(first + 1);
  uint32_t parts[3];
  for (int i = 0; i < 3; ++i) {
    size_t colon = address.find(':');
    std::string_view part = i < 2 ? address.substr(0, colon) : address;
    if ((i < 2 && colon == std::string_view::npos) || !ParseU32(part, &parts[i])) {
      return std::nullopt;
    }
    if (i < 2) address.remove_prefix(colon + 1);
  }
  if (parts[2] == 0 || parts[2] > 0x7fffffffu) return std::nullopt;
  return PeerCred{parts[0], parts[1], static_cast<int32_t>(parts[2])};
}

bool ControlAccess::Allows(const PeerCred& c) const {
  if (c.uid == 0 || c.uid == own_uid) return true;
  if (Contains(uids, c.uid) || Contains(member_uids, c.uid)) return true;
  return group_gid && c.gid == *group_gid;
}

common::Result<ControlAccess> ResolveControlAccess(const common::SupervisorConfig& cfg,
                                                   uint32_t own_uid) {
  ControlAccess a;
  a.own_uid = own_uid;
  a.uids = cfg.control_allow_uids;
  if (cfg.control_allow_group.empty()) return a;
  // getgrnam_r with a buffer that grows: a group with many members needs more.
  std::vector<char> buf(16384);
  group gr{};
  group* found = nullptr;
  int rc = 0;
  while ((rc = ::getgrnam_r(cfg.control_allow_group.c_str(), &gr, buf.data(), buf.size(),
                            &found)) == ERANGE &&
         buf.size() < (16u << 20)) {
    buf.resize(buf.size() * 2);
  }
  if (rc != 0 || found == nullptr) {
    return Status::FailedPrecondition("supervisor.control_allow_group: no group named " +
                                      common::Quote(cfg.control_allow_group) +
                                      (rc != 0 ? std::string(" (") + std::strerror(rc) + ")" : ""));
  }
  a.group_gid = static_cast<uint32_t>(gr.gr_gid);
  for (char** m = gr.gr_mem; m != nullptr && *m != nullptr; ++m) {
    if (const passwd* pw = ::getpwnam(*m)) a.member_uids.push_back(pw->pw_uid);
  }
  return a;
}

PeerVerdict DecidePeer(std::string_view domain, const std::optional<PeerCred>& cred,
                       const ControlAccess& control,
                       const std::function<bool(pid_t)>& is_worker_pid) {
  // Only ipc peers reach these sockets; anything without credentials is refused.
  if (!cred) return PeerVerdict::kRefuse;
  if (domain == kControlZapDomain) {
    return control.Allows(*cred) ? PeerVerdict::kAllow : PeerVerdict::kRefuse;
  }
  if (domain == kWorkerZapDomain) {
    if (cred->uid != control.own_uid) return PeerVerdict::kRefuse;
    if (is_worker_pid && is_worker_pid(static_cast<pid_t>(cred->pid))) return PeerVerdict::kAllow;
    return PeerVerdict::kWait;
  }
  return PeerVerdict::kRefuse;  // a socket of ours with a domain we do not know
}

struct PeerAuth::Impl {
  explicit Impl(zmq::context_t& ctx) : sock(ctx, zmq::socket_type::router) {}
  zmq::socket_t sock;
};

PeerAuth::PeerAuth(void* zmq_context, Options options)
    : opt_(std::move(options)),
      impl_(std::make_unique<Impl>(*static_cast<zmq::context_t*>(zmq_context))) {}

PeerAuth::~PeerAuth() = default;

Status PeerAuth::Start() {
  try {
    impl_->sock.set(zmq::sockopt::linger, 0);
    impl_->sock.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    return Status::IoError(std::string("cannot bind ") + kZapEndpoint + ": " + e.what());
  }
  return Status::Ok();
}

void* PeerAuth::socket_handle() { return impl_->sock.handle(); }

void PeerAuth::Answer(const Request& r, bool allow) {
  // ZAP reply (RFC 27): version, request id, status code, status text, user id,
  // metadata; behind the ROUTER's envelope (routing id, empty delimiter).
  const std::string frames[] = {r.routing_id,
                                "",
                                "1.0",
                                r.request_id,
                                allow ? "200" : "400",
                                allow ? "OK" : "peer not allowed",
                                "",
                                ""};
  try {
    for (size_t i = 0; i < std::size(frames); ++i) {
      zmq::message_t m(frames[i].data(), frames[i].size());
      const bool last = i + 1 == std::size(frames);
      (void)impl_->sock.send(m, last ? zmq::send_flags::dontwait
                                     : zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    }
  } catch (const zmq::error_t& e) {
    // The connecting session is gone; libzmq drops its handshake anyway.
    LogLine(LogLevel::kDebug, "zap_reply_failed").Kv("error", e.what());
  }
}

void PeerAuth::NoteRefusal(const Request& r, const std::optional<PeerCred>& cred) {
  ++refused_;
  if (opt_.on_refused) opt_.on_refused();
  const uint32_t uid = cred ? cred->uid : UINT32_MAX;
  auto key = std::make_pair(r.domain, uid);
  if (logged_.count(key) > 0 || logged_.size() >= kMaxLogged) return;
  logged_.insert(key);
  LogLine line(LogLevel::kWarn, "peer_refused");
  line.Kv("door", r.domain == kWorkerZapDomain ? "worker" : "control");
  if (cred) {
    line.Kv("uid", static_cast<uint64_t>(cred->uid))
        .Kv("gid", static_cast<uint64_t>(cred->gid))
        .Kv("pid", static_cast<int64_t>(cred->pid));
  } else {
    line.Kv("address", r.address);
  }
  line.Kv("note", "logged once per uid");
}

bool PeerAuth::Settle(const Request& r, common::SteadyTime now) {
  const auto cred = ParseZapAddress(r.address);
  PeerVerdict v = DecidePeer(r.domain, cred, opt_.control, opt_.is_worker_pid);
  if (v == PeerVerdict::kWait) {
    if (now - r.first_seen < kWorkerPidGrace) return false;
    v = PeerVerdict::kRefuse;
  }
  if (v == PeerVerdict::kRefuse) NoteRefusal(r, cred);
  Answer(r, v == PeerVerdict::kAllow);
  return true;
}

void PeerAuth::Process() {
  const common::SteadyTime now = opt_.clock->Now();
  if (!waiting_.empty()) {
    std::vector<Request> still;
    for (Request& r : waiting_) {
      if (!Settle(r, now)) still.push_back(std::move(r));
    }
    waiting_ = std::move(still);
  }
  for (int n = 0; n < kMaxRequestsPerPass; ++n) {
    std::vector<std::string> frames;
    try {
      zmq::message_t m;
      if (!impl_->sock.recv(m, zmq::recv_flags::dontwait)) break;
      frames.emplace_back(static_cast<const char*>(m.data()), m.size());
      while (m.more() && frames.size() < 16) {
        (void)impl_->sock.recv(m, zmq::recv_flags::none);
        frames.emplace_back(static_cast<const char*>(m.data()), m.size());
      }
      while (m.more()) (void)impl_->sock.recv(m, zmq::recv_flags::none);
    } catch (const zmq::error_t& e) {
      LogLine(LogLevel::kError, "zap_recv_failed").Kv("error", e.what());
      break;
    }
    // routing id, "", version, request id, domain, address, identity, mechanism, ...
    if (frames.size() < 8 || !frames[1].empty() || frames[2] != "1.0") continue;
    Request r{frames[0], frames[3], frames[4], frames[5], now};
    if (Settle(r, now)) continue;
    if (waiting_.size() >= kMaxWaiting) {
      NoteRefusal(r, ParseZapAddress(r.address));
      Answer(r, false);
      continue;
    }
    waiting_.push_back(std::move(r));
  }
}

}  // namespace laneway::supervisor
