// `laneway spawn`: start a subagent turn from inside a running turn (docs/subagents.md).
// The agent command runs it; the exec runner's environment names the supervisor
// (LANEWAY_HOME, LANEWAY_CONTROL_ENDPOINT) and the parent turn (LANEWAY_TURN_ID).
#include <cstdlib>
#include <iostream>

#include "cli/args.h"
#include "cli/call.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "common/protocol.h"

namespace laneway::cli {

using common::Value;

namespace {

constexpr const char* kSpawnHelp =
    "usage: laneway spawn --message TEXT [--agent ID] [--timeout DUR] [--wait] [--json]\n"
    "                     [--parent TURN_ID]\n"
    "\n"
    "Starts a subagent: a turn on a session of its own (agent:<ID>:subagent:<parent>-<n>)\n"
    "with its own worker. Run it from an agent command: the parent turn is\n"
    "$LANEWAY_TURN_ID (or --parent). Without --wait it prints the child's turn id at\n"
    "once, and the child's outcome is announced to the parent's session as a new turn.\n"
    "With --wait it waits for the child's outcome and prints it like `laneway agent`.\n"
    "\n"
    "  --agent ID      the child's agent (default: the parent's)\n"
    "  --timeout DUR   the child's run timeout (default: subagents.run_timeout)\n"
    "\n"
    "Exit codes: 0 accepted (or, with --wait, replied); 1 refused (limits), failed,\n"
    "timed out or cancelled; 2 usage; 3 supervisor unreachable.\n";

constexpr auto kAcceptTimeout = std::chrono::seconds(10);
constexpr auto kSlice = std::chrono::milliseconds(500);

int PrintChildOutcome(const Value& m, const Output& out) {
  const std::string status = m.GetStringOr("status", "failed").value();
  if (out.json()) {
    Value o = Value::MakeMap();
    o.Set("turn_id", m.Find("turn_id") ? *m.Find("turn_id") : Value());
    o.Set("session", m.GetStringOr("session", "").value());
    o.Set("status", status);
    if (status == "replied") {
      o.Set("reply", m.GetStringOr("reply", "").value());
    } else {
      o.Set("error", m.GetStringOr("error", "").value());
    }
    out.Json(o);
  } else if (status == "replied") {
    std::string reply = m.GetStringOr("reply", "").value();
    std::cout << reply << (reply.empty() || reply.back() != '\n' ? "\n" : "");
  } else {
    std::cerr << "laneway spawn: " << (status == "timed_out" ? "timed out" : status) << ": "
              << m.GetStringOr("error", "").value() << "\n";
  }
  return status == "replied" ? kExitOk : kExitFailed;
}

}  // namespace

int CmdSpawn(int argc, char** argv) {
  Output out("spawn", WantsJson(argc, argv, 2));
  Args args;
  if (int rc = ParseCommand(argc, argv, kSpawnHelp, {"--message", "--agent", "--timeout", "--parent"},
                            {"--wait", "--json"}, 0, 0, out, &args);
      rc >= 0) {
    return rc;
  }
  const std::string message = args.Get("--message").value_or("");
  if (message.empty()) return out.Usage("--message TEXT is required", kSpawnHelp);
  std::string parent = args.Get("--parent").value_or("");
  if (parent.empty()) {
    const char* env = std::getenv("LANEWAY_TURN_ID");
    parent = env ? env : "";
  }
  char* end = nullptr;
  const long long parent_id = parent.empty() ? 0 : std::strtoll(parent.c_str(), &end, 10);
  if (parent_id <= 0 || (end && *end != '\0')) {
    return out.Usage("no parent turn: run spawn from an agent command (LANEWAY_TURN_ID) or "
                     "pass --parent TURN_ID",
                     kSpawnHelp);
  }
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(out, &code);
  if (!client) return code;
  const bool wait = args.Has("--wait");
  Value req = common::NewMessage("spawn");
  req.Set("parent_turn", static_cast<int64_t>(parent_id));
  req.Set("message", message);
  if (auto a = args.Get("--agent")) req.Set("agent", *a);
  if (auto t = args.Get("--timeout")) req.Set("timeout", *t);
  req.Set("wait", wait);
  auto id = client->Send(std::move(req));
  if (!id.ok()) return out.Fail(kExitUnreachable, code::kUnreachable, id.status().message());
  const auto accept_deadline = std::chrono::steady_clock::now() + kAcceptTimeout;
  int64_t turn_id = 0;
  for (;;) {
    auto m = client->Receive(kSlice);
    if (!m.ok()) {
      if (!client->SupervisorAlive()) {
        return out.Fail(kExitUnreachable, code::kUnreachable, UnreachableHint(client->paths()));
      }
      if (turn_id == 0 && std::chrono::steady_clock::now() >= accept_deadline) {
        return out.Fail(kExitUnreachable, code::kNoAnswer,
                        "the supervisor did not acknowledge the spawn within 10s");
      }
      continue;
    }
    if (!Client::Answers(*m, *id)) continue;
    const std::string& type = common::MessageType(*m);
    if (type == common::msg::kError) {
      return out.Fail(kExitFailed, m->GetStringOr("code", "error").value(),
                      m->GetStringOr("error", "").value());
    }
    if (type == common::msg::kOutcome) {
      if (turn_id == 0 || wait) return PrintChildOutcome(*m, out);
      continue;
    }
    if (type != common::msg::kAccepted) continue;
    turn_id = m->GetIntOr("turn_id", 0).value();
    if (wait) continue;
    if (out.json()) {
      Value o = Value::MakeMap();
      o.Set("turn_id", turn_id);
      o.Set("session", m->GetStringOr("session", "").value());
      o.Set("status", "accepted");
      out.Json(o);
    } else {
      std::cout << turn_id << "\n";
    }
    return kExitOk;
  }
}

}  // namespace laneway::cli
