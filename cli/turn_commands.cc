// `laneway agent`, `laneway wait` and `laneway turn`: send a turn, wait for any
// turn's outcome, read a turn's record.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>

#include "cli/args.h"
#include "cli/call.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/deliver.h"
#include "cli/gateway_client.h"
#include "cli/session_names.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/protocol.h"

namespace laneway::cli {

using common::Value;

namespace {

constexpr const char* kAgentHelp =
    "usage: laneway agent --agent ID --message TEXT [--session KEY] [--timeout DUR]\n"
    "                     [--stream] [--json] [--deliver --channel KIND --to CHAT_ID]\n"
    "\n"
    "Sends one turn to the agent's session through the supervisor and waits for its\n"
    "outcome. The turn waits its place in the session's queue; it never fails for a lock.\n"
    "\n"
    "  --agent ID       agent from the config (the built-in default has 'main')\n"
    "  --message TEXT   the message, not empty; '-' reads it from stdin\n"
    "  --session KEY    agent:<ID>:<name>, <ID>:<name> or <name> (default: agent:<ID>:main)\n"
    "  --timeout DUR    stop waiting for the outcome after DUR (e.g. 30s); the turn keeps\n"
    "                   its place, its id is printed and the exit code is 4 (see\n"
    "                   `laneway wait`). The acknowledgement is always awaited (up to 10s).\n"
    "  --stream         print the reply as the agent produces it (runners that stream);\n"
    "                   with --json, one {\"type\":\"progress\",...} line per chunk first\n"
    "  --deliver        also send the outcome to a chat: with --channel KIND --to CHAT_ID\n"
    "                   (e.g. --channel telegram --to 42); the session defaults to that\n"
    "                   chat's own (agent:<ID>:telegram:42). The reply is printed here too;\n"
    "                   --deliver alone only prints it.\n"
    "  --json           print one JSON object: turn_id, session, status, reply | error\n"
    "                   and code; {\"error\",\"code\"} if no turn could be sent\n"
    "  --url ws://HOST:PORT  send the turn over the gateway port (WebSocket protocol 3)\n"
    "                   instead of the local control socket; with --token T (default\n"
    "                   $LANEWAY_TOKEN). --json then prints run_id instead of turn_id.\n"
    "\n"
    "Exit codes: 0 replied; 1 failed, timed out, cancelled, rejected or interrupted (reason\n"
    "on stderr); 2 usage; 3 supervisor unreachable; 4 --timeout passed, turn still pending.\n";

constexpr const char* kWaitHelp =
    "usage: laneway wait TURN_ID [--timeout DUR] [--stream] [--json]\n"
    "\n"
    "Waits for the outcome of any accepted turn (also one accepted before a supervisor\n"
    "restart) and prints it like `laneway agent`, with the same exit codes, and 6 when\n"
    "the turn is forgotten: it ended outside the supervisor's remembered window\n"
    "([supervisor] remember_turns, remember_for). An id never issued exits 1\n"
    "(code unknown_turn).\n";

constexpr const char* kTurnHelp =
    "usage: laneway turn TURN_ID [--json]\n"
    "\n"
    "Prints the supervisor's record of a turn (status, session, reply or error, origin,\n"
    "attempts) at once, without waiting for it to end.\n"
    "\n"
    "Exit codes: 0 the turn is known (whatever its status); 1 refused (unknown_turn: no\n"
    "such id was ever issued); 3 unreachable; 6 forgotten (it ended outside the\n"
    "remembered window: remember_turns, remember_for).\n";

constexpr auto kAcceptTimeout = std::chrono::seconds(10);
constexpr auto kLivenessCheck = std::chrono::milliseconds(500);
// Every frame up to this size is answered by any supervisor (its hard frame bound
// is 4 x max_message_bytes + 1 MiB, and max_message_bytes is at least 1024).
constexpr size_t kAlwaysAnswered = 4 * 1024 + (1u << 20);

int ExitFor(const std::string& status) {
  if (status == "replied") return kExitOk;
  if (status == "pending") return kExitPending;
  return kExitFailed;
}

std::string Prose(const std::string& status) {
  return status == "timed_out" ? "timed out" : status;
}

// What the user has seen of the reply so far (--stream).
struct Streamed {
  bool on = false;
  std::string text;
};

// Prints an outcome message (or a synthesized one) and returns `exit_code`, or the
// exit code for its status when `exit_code` < 0.
int PrintOutcome(const Value& outcome, const Output& out, const Streamed& streamed,
                 int exit_code = -1) {
  const std::string status = outcome.GetStringOr("status", "failed").value();
  const Value* id = outcome.Find("turn_id");
  const std::string session = outcome.GetStringOr("session", "").value();
  const int code = exit_code >= 0 ? exit_code : ExitFor(status);
  if (out.json()) {
    Value o = Value::MakeMap();
    o.Set("turn_id", id ? *id : Value());
    o.Set("session", session);
    o.Set("status", status);
    if (status == "replied") {
      o.Set("reply", outcome.GetStringOr("reply", "").value());
    } else {
      o.Set("error", outcome.GetStringOr("error", "").value());
      std::string c = outcome.GetStringOr("code", "").value();
      o.Set("code", c.empty() ? status : c);
    }
    out.Json(o);
    return code;
  }
  if (status == "replied") {
    std::string reply = outcome.GetStringOr("reply", "").value();
    if (streamed.on && reply.compare(0, streamed.text.size(), streamed.text) == 0) {
      reply = reply.substr(streamed.text.size());  // the rest of what was streamed
    } else if (streamed.on && !streamed.text.empty()) {
      std::cout << "\n";  // the reply differs from the chunks: print it whole
    }
    std::cout << reply;
    const std::string& whole = reply.empty() && streamed.on ? streamed.text : reply;
    if (whole.empty() || whole.back() != '\n') std::cout << "\n";
    return code;
  }
  std::string error = outcome.GetStringOr("error", "").value();
  while (!error.empty() && error.back() == '\n') error.pop_back();
  const std::string turn = id && id->is_int() ? "turn " + std::to_string(id->as_int()) : "";
  // Name the turn, its session and what became of it once: not again where the
  // supervisor's text says so already ("turn 17 of session ... timed out ...").
  std::string line;
  if (turn.empty()) {
    line = Prose(status) + ": " + error;  // refused before acceptance: no turn to name
  } else if (error.find(turn) != std::string::npos) {
    // The text names the turn (and its session): add only what became of it,
    // where the text does not say so itself.
    const std::string what = Prose(status);
    line = error.find(what) != std::string::npos ? error : what + ": " + error;
  } else {
    const std::string what = Prose(status);
    line = turn +
           (session.empty() || error.find(session) != std::string::npos ? "" : " on " + session);
    if (error.rfind(what, 0) == 0 || error.rfind(status, 0) == 0) {
      line += " " + error;  // "cancelled by ..." says the status itself
    } else {
      line += " " + what + (error.empty() ? "" : ": " + error);
    }
  }
  std::cerr << "laneway: " << line << "\n";
  if (status == "pending" && id && id->is_int()) std::cout << id->as_int() << "\n";
  return code;
}

Value Synthesized(int64_t turn_id, const std::string& session, const std::string& status,
                  const std::string& why, const std::string& code) {
  Value o = Value::MakeMap();
  o.Set("turn_id", turn_id != 0 ? Value(turn_id) : Value());
  o.Set("session", session);
  o.Set("status", status);
  o.Set("error", why);
  if (!code.empty()) o.Set("code", code);
  return o;
}

// After the request is sent: waits for accepted/progress/outcome/error until `deadline`.
int AwaitOutcome(Client& client, int64_t req, std::optional<common::SteadyTime> deadline,
                 int64_t known_turn, const Output& out, Streamed streamed) {
  int64_t turn_id = known_turn;
  std::string session;
  const auto accept_deadline = std::chrono::steady_clock::now() + kAcceptTimeout;
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    // --timeout bounds the wait for the outcome, not for the acknowledgement: a
    // pending turn is always reported with its id, so `laneway wait` can find it.
    if (deadline && now >= *deadline && turn_id != 0) {
      return PrintOutcome(
          Synthesized(turn_id, session, "pending",
                      "still pending after --timeout; it keeps its place (laneway wait " +
                          std::to_string(turn_id) + ")",
                      "pending"),
          out, streamed);
    }
    if (turn_id == 0 && now >= accept_deadline) {
      return out.Fail(kExitUnreachable, code::kNoAnswer,
                      "the supervisor did not acknowledge the turn within " +
                          std::to_string(kAcceptTimeout.count()) + "s");
    }
    auto slice = std::chrono::duration_cast<std::chrono::milliseconds>(kLivenessCheck);
    if (deadline && turn_id != 0) {
      slice =
          std::min(slice, std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now) +
                              std::chrono::milliseconds(1));
    }
    auto m = client.Receive(slice);
    if (turn_id == 0 && client.WasRefused()) {
      return out.Fail(kExitUnreachable, code::kPermissionDenied, RefusedMessage(client.paths()));
    }
    if (turn_id == 0 && client.last_request_bytes() > kAlwaysAnswered && client.WasDisconnected() &&
        client.SupervisorAlive()) {
      return PrintOutcome(
          Synthesized(0, "", "rejected",
                      "message too large (" + std::to_string(client.last_request_bytes()) +
                          " bytes): the supervisor closed the connection without reading it, "
                          "as it does past 4 x max_message_bytes + 1 MiB",
                      code::kTooLarge),
          out, Streamed{}, kExitFailed);
    }
    if (!m.ok()) {
      if (!client.SupervisorAlive()) {
        if (turn_id == 0) {
          return out.Fail(kExitUnreachable, code::kUnreachable, UnreachableHint(client.paths()));
        }
        const std::string t = std::to_string(turn_id);
        return PrintOutcome(
            Synthesized(turn_id, session, "pending",
                        "the supervisor stopped while it was pending. It is in the journal: "
                        "after the next `laneway up` it runs if it was still queued, runs "
                        "again if it was running and its agent has retry_on_restart = true, "
                        "and ends interrupted otherwise (laneway wait " +
                            t + ")",
                        code::kUnreachable),
            out, streamed, kExitUnreachable);
      }
      continue;
    }
    if (!Client::Answers(*m, req)) continue;
    const std::string& type = common::MessageType(*m);
    if (type == common::msg::kAccepted) {
      turn_id = m->GetIntOr("turn_id", 0).value();
      session = m->GetStringOr("session", "").value();
    } else if (type == common::msg::kProgress) {
      const std::string delta = m->GetStringOr("delta", "").value();
      if (out.json()) {
        Value p = Value::MakeMap();
        p.Set("type", "progress");
        p.Set("turn_id", m->GetIntOr("turn_id", turn_id).value());
        p.Set("seq", m->GetIntOr("seq", 0).value());
        p.Set("delta", delta);
        out.Json(p);
      } else {
        std::cout << delta << std::flush;
      }
      streamed.text += delta;
    } else if (type == common::msg::kOutcome) {
      return PrintOutcome(*m, out, streamed);
    } else if (type == common::msg::kError) {
      // A refusal of the request itself (too large, malformed, unknown turn): no
      // turn was accepted by it.
      const std::string text = DescribeSupervisorError(*m, client.last_request_bytes());
      const std::string c = m->GetStringOr("code", "error").value();
      if (known_turn != 0) {  // wait
        return out.Fail(c == "forgotten" ? kExitForgotten : kExitFailed, c, text);
      }
      return PrintOutcome(Synthesized(0, "", "rejected", text, c), out, Streamed{}, kExitFailed);
    }
  }
}

// A positive turn id, or 0.
long long ParseTurnId(const std::string& s) {
  char* end = nullptr;
  errno = 0;
  const long long turn = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0 || turn <= 0) return 0;
  return turn;
}

bool ParseTimeout(const Args& args, const Output& out,
                  std::optional<common::SteadyTime>* deadline) {
  auto t = args.Get("--timeout");
  if (!t) return true;
  auto d = common::ParseDuration(*t);
  if (!d.ok()) {
    out.Usage("--timeout: " + d.status().message(), nullptr);
    return false;
  }
  *deadline = std::chrono::steady_clock::now() + *d;
  return true;
}

// A request the supervisor could not even answer (past its hard frame bound, where
// ZeroMQ drops the connection) is refused here, with the numbers it would give.
int CheckHardBound(Client& client, const Output& out, size_t bytes) {
  if (bytes <= kAlwaysAnswered) return -1;
  Value s;
  if (int rc = CallOn(client, out, common::NewMessage(common::msg::kStatus), &s); rc >= 0) {
    return rc;
  }
  const int64_t limit = s.GetIntOr("max_message_bytes", 0).value();
  if (limit <= 0) return -1;
  int64_t hard = s.GetIntOr("max_frame_bytes", 0).value();
  if (hard <= 0) hard = 4 * limit + (1 << 20);
  if (static_cast<int64_t>(bytes) <= hard) return -1;
  Value e = Value::MakeMap();
  e.Set("code", code::kTooLarge);
  e.Set("bytes", static_cast<int64_t>(bytes));
  e.Set("max_message_bytes", limit);
  return PrintOutcome(
      Synthesized(0, "", "rejected", DescribeSupervisorError(e, bytes), code::kTooLarge), out,
      Streamed{}, kExitFailed);
}

}  // namespace

int CmdAgent(int argc, char** argv) {
  Output out("agent", WantsJson(argc, argv, 2));
  Args args;
  if (int rc = ParseCommand(argc, argv, kAgentHelp,
                            {"--agent", "--message", "--session", "--timeout", "--url", "--token",
                             kDeliverChannelFlag, kDeliverToFlag},
                            {"--json", "--deliver", "--stream"}, 0, 0, out, &args);
      rc >= 0) {
    return rc;
  }
  auto agent = args.Get("--agent");
  auto message = args.Get("--message");
  if (!agent || !message) return out.Usage("--agent and --message are required", kAgentHelp);
  if (agent->empty()) return out.Usage("--agent is empty", kAgentHelp);
  if (message->empty()) {
    return out.Usage("--message is empty (give the text, or '-' to read it from stdin)",
                     kAgentHelp);
  }
  if (*message == "-") {
    message =
        std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    if (message->empty()) return out.Usage("the message read from stdin is empty", kAgentHelp);
  }
  std::optional<std::string> session = args.Get("--session");
  if (session) {
    if (auto st = CheckSessionName(*session); !st.ok()) return out.Usage(st.message(), kAgentHelp);
    // <agent>:<name> of this agent is the key agent:<agent>:<name>, as for the
    // operator commands.
    if (session->rfind(*agent + ":", 0) == 0 && session->size() > agent->size() + 1) {
      session = "agent:" + *session;
    }
  }
  Value deliver = Value::MakeMap();  // origin (and default session) of --deliver
  if (std::string error; !ApplyDeliver(args, *agent, &deliver, &error)) {
    return out.Usage(error, kAgentHelp);
  }
  std::optional<common::SteadyTime> deadline;
  if (!ParseTimeout(args, out, &deadline)) return kExitUsage;
  if (auto url = args.Get("--url")) {
    GatewayTurn t;
    t.url = *url;
    const char* env_token = std::getenv("LANEWAY_TOKEN");
    t.token = args.Get("--token").value_or(env_token ? env_token : "");
    t.agent = *agent;
    t.message = *message;
    t.session = session.value_or("");
    if (deadline) {
      t.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
          *deadline - std::chrono::steady_clock::now());
    }
    t.json = args.Has("--json");
    return RunGatewayTurn(t);
  }
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(out, &code);
  if (!client) return code;
  Value req = common::NewMessage(common::msg::kSubmit);
  req.Set("agent", *agent);
  req.Set("message", *message);
  if (session) req.Set("session", *session);
  for (const auto& [k, v] : deliver.as_map()) {
    if (k == "origin" || !session) req.Set(k, v);
  }
  Streamed streamed;
  if (args.Has("--stream")) {
    req.Set("stream", true);
    streamed.on = true;
  }
  req.Set("id", 0);
  if (int rc = CheckHardBound(*client, out, common::EncodeMessage(req).size()); rc >= 0) return rc;
  auto id = client->Send(std::move(req));
  if (!id.ok()) return out.Fail(kExitUnreachable, code::kUnreachable, id.status().message());
  return AwaitOutcome(*client, *id, deadline, 0, out, streamed);
}

int CmdWait(int argc, char** argv) {
  Output out("wait", WantsJson(argc, argv, 2));
  Args args;
  if (int rc = ParseCommand(argc, argv, kWaitHelp, {"--timeout"}, {"--json", "--stream"}, 1, 1, out,
                            &args);
      rc >= 0) {
    return rc;
  }
  const long long turn = ParseTurnId(args.positional[0]);
  if (turn <= 0) {
    return out.Usage("TURN_ID must be a positive integer, not '" + args.positional[0] + "'",
                     kWaitHelp);
  }
  std::optional<common::SteadyTime> deadline;
  if (!ParseTimeout(args, out, &deadline)) return kExitUsage;
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(out, &code);
  if (!client) return code;
  Value req = common::NewMessage(common::msg::kWait);
  req.Set("turn_id", static_cast<int64_t>(turn));
  Streamed streamed;
  if (args.Has("--stream")) {
    req.Set("stream", true);
    streamed.on = true;
  }
  auto id = client->Send(std::move(req));
  if (!id.ok()) return out.Fail(kExitUnreachable, code::kUnreachable, id.status().message());
  return AwaitOutcome(*client, *id, deadline, turn, out, streamed);
}

int CmdTurn(int argc, char** argv) {
  Output out("turn", WantsJson(argc, argv, 2));
  Args args;
  if (int rc = ParseCommand(argc, argv, kTurnHelp, {}, {"--json"}, 1, 1, out, &args); rc >= 0) {
    return rc;
  }
  const long long turn = ParseTurnId(args.positional[0]);
  if (turn <= 0) {
    return out.Usage("TURN_ID must be a positive integer, not '" + args.positional[0] + "'",
                     kTurnHelp);
  }
  Value req = common::NewMessage(common::msg::kTurn);
  req.Set("turn_id", static_cast<int64_t>(turn));
  Value t;
  if (int rc = CallData(out, std::move(req), &t); rc >= 0) return rc;
  if (out.json()) {
    out.Json(t);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const char* key : {"turn_id", "session", "status", "attempts", "accepted_unix_ms",
                          "ended_unix_ms", "idempotency_key", "delivered"}) {
    if (t.Find(key) != nullptr) rows.push_back({key, Str(t, key)});
  }
  if (const Value* o = t.Find("origin")) rows.push_back({"origin", common::ToJson(*o)});
  if (t.Find("reply") != nullptr) rows.push_back({"reply", Str(t, "reply")});
  if (t.Find("error") != nullptr) rows.push_back({"error", Str(t, "error")});
  PrintTable(rows);
  return kExitOk;
}

}  // namespace laneway::cli
