// `laneway agent` and `laneway wait`: send a turn / wait for any turn's outcome.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>

#include "cli/args.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/deliver.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/protocol.h"

namespace laneway::cli {

using common::Value;

namespace {

constexpr const char* kAgentHelp =
    "usage: laneway agent --agent ID --message TEXT [--session KEY] [--timeout DUR] [--stream]\n"
    "                     [--json] [--deliver --channel KIND --to CHAT_ID]\n"
    "\n"
    "Sends one turn to the agent's session through the supervisor and waits for its\n"
    "outcome. The turn waits its place in the session's queue; it never fails for a lock.\n"
    "\n"
    "  --agent ID       agent from the config (the built-in default has 'main')\n"
    "  --message TEXT   the message; '-' reads it from stdin\n"
    "  --session KEY    session key or name (default: agent:<ID>:main)\n"
    "  --timeout DUR    stop waiting for the outcome after DUR (e.g. 30s); the turn keeps\n"
    "                   its place, its id is printed and the exit code is 4 (see\n"
    "                   `laneway wait`). The acknowledgement is always awaited (up to 10s).\n"
    "  --deliver        also send the outcome to a chat: with --channel KIND --to CHAT_ID\n"
    "                   (e.g. --channel telegram --to 42); the session defaults to that\n"
    "                   chat's own (agent:<ID>:telegram:42). The reply is printed here too.\n"
    "  --stream         print the reply as the agent produces it (exec: its stdout as it\n"
    "                   comes), then exit as without it\n"
    "  --json           print one JSON object: turn_id, session, status, reply|error\n"
    "\n"
    "Exit codes: 0 replied; 1 failed, timed out, cancelled, rejected or interrupted (reason\n"
    "on stderr); 2 usage; 3 supervisor unreachable; 4 --timeout passed, turn still pending.\n";

constexpr const char* kWaitHelp =
    "usage: laneway wait TURN_ID [--timeout DUR] [--json]\n"
    "\n"
    "Waits for the outcome of any accepted turn (also one accepted before a supervisor\n"
    "restart) and prints it like `laneway agent`, with the same exit codes.\n";

constexpr auto kAcceptTimeout = std::chrono::seconds(10);
constexpr auto kLivenessCheck = std::chrono::milliseconds(500);

int ExitFor(const std::string& status) {
  if (status == "replied") return kExitOk;
  if (status == "pending") return kExitPending;
  return kExitFailed;
}

// Prints an outcome message (or a synthesized pending one) and returns the exit code.
int PrintOutcome(const Value& outcome, bool json) {
  const std::string status = outcome.GetStringOr("status", "failed").value();
  const Value* id = outcome.Find("turn_id");
  const std::string session = outcome.GetStringOr("session", "").value();
  if (json) {
    Value o = Value::MakeMap();
    o.Set("turn_id", id ? *id : Value());
    o.Set("session", session);
    o.Set("status", status);
    if (status == "replied") {
      o.Set("reply", outcome.GetStringOr("reply", "").value());
    } else {
      o.Set("error", outcome.GetStringOr("error", "").value());
    }
    std::cout << common::ToJson(o) << "\n";
    return ExitFor(status);
  }
  if (status == "replied") {
    std::string reply = outcome.GetStringOr("reply", "").value();
    std::cout << reply;
    if (reply.empty() || reply.back() != '\n') std::cout << "\n";
    return kExitOk;
  }
  std::string turn = id && id->is_int() ? "turn " + std::to_string(id->as_int()) : "turn";
  std::cerr << "laneway: " << turn << (session.empty() ? "" : " on " + session) << " " << status
            << ": " << outcome.GetStringOr("error", "").value() << "\n";
  if (status == "pending" && id && id->is_int()) {
    std::cout << id->as_int() << "\n";
  }
  return ExitFor(status);
}

Value Pending(int64_t turn_id, const std::string& session, const std::string& why) {
  Value o = Value::MakeMap();
  o.Set("turn_id", turn_id);
  o.Set("session", session);
  o.Set("status", "pending");
  o.Set("error", why);
  return o;
}

// After the request is sent: waits for accepted/outcome/error until `deadline`.
int AwaitOutcome(Client& client, int64_t req, std::optional<common::SteadyTime> deadline,
                 int64_t known_turn, bool json, bool stream = false) {
  int64_t turn_id = known_turn;
  std::string session;
  bool streamed = false;     // printed some of the reply as it came
  char last_streamed = '\n';
  const auto accept_deadline = std::chrono::steady_clock::now() + kAcceptTimeout;
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    // --timeout bounds the wait for the outcome, not for the acknowledgement: a
    // pending turn is always reported with its id, so `laneway wait` can find it.
    if (deadline && now >= *deadline && turn_id != 0) {
      return PrintOutcome(
          Pending(turn_id, session,
                  "still pending after --timeout; it keeps its place (laneway wait " +
                      std::to_string(turn_id) + ")"),
          json);
    }
    if (turn_id == 0 && now >= accept_deadline) {
      std::cerr << "laneway: the supervisor did not acknowledge the turn within "
                << kAcceptTimeout.count() << "s\n";
      return kExitUnreachable;
    }
    auto slice = std::chrono::duration_cast<std::chrono::milliseconds>(kLivenessCheck);
    if (deadline && turn_id != 0) {
      slice =
          std::min(slice, std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now) +
                              std::chrono::milliseconds(1));
    }
    auto m = client.Receive(slice);
    if (!m.ok()) {
      if (!client.SupervisorAlive()) {
        if (turn_id == 0) {
          std::cerr << "laneway: " << UnreachableHint(client.paths()) << "\n";
          return kExitUnreachable;
        }
        std::cerr << "laneway: the supervisor stopped while turn " << turn_id
                  << " was pending; it is journaled and runs when the supervisor is back "
                     "(laneway wait "
                  << turn_id << ")\n";
        return kExitUnreachable;
      }
      continue;
    }
    if (m->GetIntOr("id", -1).value() != req) continue;
    const std::string& type = common::MessageType(*m);
    if (type == common::msg::kAccepted) {
      turn_id = m->GetIntOr("turn_id", 0).value();
      session = m->GetStringOr("session", "").value();
    } else if (type == common::msg::kProgress) {
      // --stream: the reply as the agent produces it; the outcome then adds nothing
      // but a final newline (or, if the turn failed, the reason on stderr).
      if (!stream || json) continue;
      const std::string delta = m->GetStringOr("delta", "").value();
      if (delta.empty()) continue;
      std::cout << delta << std::flush;
      streamed = true;
      last_streamed = delta.back();
    } else if (type == common::msg::kOutcome) {
      if (streamed && m->GetStringOr("status", "").value() == "replied") {
        if (last_streamed != '\n') std::cout << "\n";
        std::cout << std::flush;
        return kExitOk;
      }
      if (streamed && last_streamed != '\n') std::cout << "\n" << std::flush;
      return PrintOutcome(*m, json);
    } else if (type == common::msg::kError) {
      std::cerr << "laneway: " << m->GetStringOr("error", "error").value() << "\n";
      return kExitFailed;
    }
  }
}

bool ParseTimeout(const Args& args, std::optional<common::SteadyTime>* deadline) {
  auto t = args.Get("--timeout");
  if (!t) return true;
  auto d = common::ParseDuration(*t);
  if (!d.ok()) {
    std::cerr << "laneway: --timeout: " << d.status().message() << "\n";
    return false;
  }
  *deadline = std::chrono::steady_clock::now() + *d;
  return true;
}

}  // namespace

int CmdAgent(int argc, char** argv) {
  Args args;
  std::string error;
  if (!ParseArgs(argc, argv, 2,
                 {"--agent", "--message", "--session", "--timeout", kDeliverChannelFlag,
                  kDeliverToFlag},
                 {"--json", "--help", "--deliver", "--stream"}, &args, &error)) {
    std::cerr << "laneway agent: " << error << "\n" << kAgentHelp;
    return kExitUsage;
  }
  if (args.Has("--help")) {
    std::cout << kAgentHelp;
    return kExitOk;
  }
  auto agent = args.Get("--agent");
  auto message = args.Get("--message");
  if (!agent || !message || !args.positional.empty()) {
    std::cerr << "laneway agent: --agent and --message are required\n" << kAgentHelp;
    return kExitUsage;
  }
  if (*message == "-") {
    message =
        std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::optional<common::SteadyTime> deadline;
  if (!ParseTimeout(args, &deadline)) return kExitUsage;
  Value req = common::NewMessage(common::msg::kSubmit);
  req.Set("agent", *agent);
  req.Set("message", *message);
  if (auto s = args.Get("--session")) req.Set("session", *s);
  if (args.Has("--stream")) req.Set("stream", true);
  if (!ApplyDeliver(args, *agent, &req, &error)) {
    std::cerr << "laneway agent: " << error << "\n" << kAgentHelp;
    return kExitUsage;
  }
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(&code);
  if (!client) return code;
  auto id = client->Send(std::move(req));
  if (!id.ok()) {
    std::cerr << "laneway: " << id.status().message() << "\n";
    return kExitUnreachable;
  }
  return AwaitOutcome(*client, *id, deadline, 0, args.Has("--json"), args.Has("--stream"));
}

int CmdWait(int argc, char** argv) {
  Args args;
  std::string error;
  if (!ParseArgs(argc, argv, 2, {"--timeout"}, {"--json", "--help"}, &args, &error)) {
    std::cerr << "laneway wait: " << error << "\n" << kWaitHelp;
    return kExitUsage;
  }
  if (args.Has("--help")) {
    std::cout << kWaitHelp;
    return kExitOk;
  }
  if (args.positional.size() != 1) {
    std::cerr << "laneway wait: give exactly one TURN_ID\n" << kWaitHelp;
    return kExitUsage;
  }
  char* end = nullptr;
  long long turn = std::strtoll(args.positional[0].c_str(), &end, 10);
  if (*end != '\0' || turn <= 0) {
    std::cerr << "laneway wait: TURN_ID must be a positive integer, not '" << args.positional[0]
              << "'\n";
    return kExitUsage;
  }
  std::optional<common::SteadyTime> deadline;
  if (!ParseTimeout(args, &deadline)) return kExitUsage;
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(&code);
  if (!client) return code;
  Value req = common::NewMessage(common::msg::kWait);
  req.Set("turn_id", static_cast<int64_t>(turn));
  auto id = client->Send(std::move(req));
  if (!id.ok()) {
    std::cerr << "laneway: " << id.status().message() << "\n";
    return kExitUnreachable;
  }
  return AwaitOutcome(*client, *id, deadline, turn, args.Has("--json"));
}

}  // namespace laneway::cli
