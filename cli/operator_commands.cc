// Commands on one session or the config: kill, restart, cancel, sessions, reload.
// Session arguments take short names (session_names.h), resolved against the
// sessions the supervisor knows, and every command says which key it acted on.
#include <iostream>
#include <set>

#include "cli/args.h"
#include "cli/call.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/session_names.h"
#include "common/protocol.h"

namespace laneway::cli {

using common::Value;

namespace {

constexpr const char* kSessionsHelp =
    "usage: laneway sessions [SESSION] [--agent ID] [--json]\n"
    "\n"
    "Every session the supervisor knows: state, worker pid, queue depth, turns so far.\n"
    "With SESSION, only that one (exit 1 if the supervisor does not know it). SESSION is\n"
    "a full key (agent:main:ops), <agent>:<name> (main:ops) or a name of the default\n"
    "agent (ops), as for `laneway agent --session`; --agent ID picks the agent of a name.\n";
constexpr const char* kKillHelp =
    "usage: laneway kill SESSION [--agent ID] [--json]\n"
    "\n"
    "Ends the session's worker (its whole process group). Its running turn ends\n"
    "'cancelled'; queued turns stay and run on a fresh worker. SESSION is a full key,\n"
    "<agent>:<name> or a name of the default agent; the key it resolved to is printed.\n";
constexpr const char* kRestartHelp =
    "usage: laneway restart SESSION [--agent ID] [--json]\n"
    "\n"
    "Ends the session's worker, clears its restart history (un-parks a parked session)\n"
    "and starts a fresh worker. SESSION is a full key, <agent>:<name> or a name of the\n"
    "default agent; the key it resolved to is printed.\n";
constexpr const char* kCancelHelp =
    "usage: laneway cancel SESSION [--agent ID] [--json]\n"
    "\n"
    "Cancels the session's running turn (it ends 'cancelled'); queued turns go on.\n"
    "The turn's processes are ended with its worker, and the next turn gets a fresh one.\n"
    "SESSION is a full key, <agent>:<name> or a name of the default agent; the key it\n"
    "resolved to is printed.\n";
constexpr const char* kReloadHelp =
    "usage: laneway reload [--json]\n"
    "\n"
    "Re-reads the config the supervisor started with (as SIGHUP does). A valid config\n"
    "applies all-or-nothing; keys that need a restart are listed. An invalid one is\n"
    "refused with its error and the running config stays in force (exit code 1).\n";

// The agent a bare session name belongs to: the supervisor says which (status
// "default_agent"); one that does not say runs the built-in convention, "main".
std::string DefaultAgent(Client& client, const Output& out, int* rc) {
  Value s;
  if ((*rc = CallOn(client, out, common::NewMessage(common::msg::kStatus), &s)) >= 0) return "";
  std::string d = s.GetStringOr("default_agent", "").value();
  return d.empty() ? "main" : d;
}

// Resolves a SESSION argument. Returns -1 with the key in *key, or an exit code.
int Resolve(Client& client, const Output& out, const std::string& input, const Args& args,
            const Value* sessions, std::string* key) {
  std::string agent = args.Get("--agent").value_or("");
  std::set<std::string> known;
  std::string default_agent = "main";
  if (input.rfind("agent:", 0) != 0 && agent.empty()) {
    Value rows;
    int rc = -1;
    if (sessions == nullptr) {
      if ((rc = CallOn(client, out, common::NewMessage(common::msg::kSessions), &rows)) >= 0) {
        return rc;
      }
      sessions = &rows;
    }
    if (sessions->is_array()) {
      for (const Value& r : sessions->as_array()) {
        if (const Value* k = r.Find("session"); k && k->is_string()) known.insert(k->as_string());
      }
    }
    default_agent = DefaultAgent(client, out, &rc);
    if (rc >= 0) return rc;
  }
  auto resolved = ResolveSessionName(input, agent, default_agent, known);
  if (!resolved.ok()) {
    // The name itself was checked before: what fails here is an ambiguous one.
    return out.Fail(kExitUsage, code::kAmbiguousSession, resolved.status().message());
  }
  *key = *resolved;
  return -1;
}

// Whether the user's words differ from the key, so the key is worth stating.
bool Resolved(const std::string& input, const std::string& key) { return input != key; }

}  // namespace

int CmdOperator(int argc, char** argv) {
  const std::string cmd = argv[1];
  const char* help = cmd == "kill" ? kKillHelp : cmd == "restart" ? kRestartHelp : kCancelHelp;
  Output out(cmd, WantsJson(argc, argv, 2));
  Args args;
  if (int rc = ParseCommand(argc, argv, help, {"--agent"}, {"--json"}, 1, 1, out, &args); rc >= 0) {
    return rc;
  }
  const std::string input = args.positional[0];
  if (auto st = CheckSessionName(input); !st.ok()) return out.Usage(st.message(), help);
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(out, &code);
  if (!client) return code;
  std::string key;
  if (int rc = Resolve(*client, out, input, args, nullptr, &key); rc >= 0) return rc;
  Value req = common::NewMessage(cmd);
  req.Set("session", key);
  Value data;
  if (int rc = CallOn(*client, out, std::move(req), &data); rc >= 0) return rc;
  if (out.json()) {
    if (data.is_map() && Resolved(input, key)) data.Set("resolved_from", input);
    out.Json(data);
    return kExitOk;
  }
  if (Resolved(input, key)) std::cout << "session " << input << " is " << key << "\n";
  if (cmd == "cancel") {
    std::cout << "cancelled turn " << Str(data, "cancelled_turn") << " of " << Str(data, "session")
              << "\n";
  } else {
    std::string pid = Str(data, "killed_pid");
    std::cout << (pid == "-" ? "no worker was running for " : "killed worker " + pid + " of ")
              << Str(data, "session") << "\n";
    if (cmd == "restart") {
      std::cout << (data.GetBoolOr("was_parked", false).value() ? "un-parked; " : "")
                << "a fresh worker is starting\n";
    }
  }
  return kExitOk;
}

int CmdSessions(int argc, char** argv) {
  Output out("sessions", WantsJson(argc, argv, 2));
  Args args;
  if (int rc = ParseCommand(argc, argv, kSessionsHelp, {"--agent"}, {"--json"}, 0, 1, out, &args);
      rc >= 0) {
    return rc;
  }
  if (!args.positional.empty()) {
    if (auto st = CheckSessionName(args.positional[0]); !st.ok()) {
      return out.Usage(st.message(), kSessionsHelp);
    }
  }
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(out, &code);
  if (!client) return code;
  Value rows;
  if (int rc = CallOn(*client, out, common::NewMessage(common::msg::kSessions), &rows); rc >= 0) {
    return rc;
  }
  if (!rows.is_array()) rows = Value::MakeArray();
  std::string key;
  if (!args.positional.empty()) {
    const std::string& input = args.positional[0];
    if (int rc = Resolve(*client, out, input, args, &rows, &key); rc >= 0) return rc;
    Value only = Value::MakeArray();
    for (const Value& r : rows.as_array()) {
      if (r.GetStringOr("session", "").value() == key) only.Push(r);
    }
    if (only.as_array().empty()) {
      return out.Fail(kExitFailed, "unknown_session",
                      "unknown session '" + key + "'" +
                          (Resolved(input, key) ? " (resolved from '" + input + "')" : "") +
                          " (see `laneway sessions`)");
    }
    rows = std::move(only);
    if (Resolved(input, key)) out.Note("session " + input + " is " + key);
  }
  if (out.json()) {
    out.Json(rows);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table = {
      {"SESSION", "AGENT", "STATE", "PID", "QUEUE", "TURNS", "RESTARTS", "PARENT", "CHILDREN"}};
  for (const Value& r : rows.as_array()) {
    table.push_back({Str(r, "session"), Str(r, "agent"), Str(r, "state"), Str(r, "pid"),
                     Str(r, "queue_depth"), Str(r, "turns_total"), Str(r, "restarts"),
                     Str(r, "parent"), Str(r, "children")});
  }
  if (table.size() == 1) {
    std::cout << "no sessions yet\n";
    return kExitOk;
  }
  PrintTable(table);
  return kExitOk;
}

int CmdReload(int argc, char** argv) {
  Output out("reload", WantsJson(argc, argv, 2));
  Args args;
  if (int rc = ParseCommand(argc, argv, kReloadHelp, {}, {"--json"}, 0, 0, out, &args); rc >= 0) {
    return rc;
  }
  Value data;
  if (int rc = CallData(out, common::NewMessage(common::msg::kReload), &data); rc >= 0) return rc;
  if (out.json()) {
    out.Json(data);
    return kExitOk;
  }
  std::cout << "config reloaded from " << Str(data, "source") << "\n";
  if (const Value* n = data.Find("needs_restart"); n && n->is_array() && !n->as_array().empty()) {
    std::cout << "changed but needing a restart: " << common::ToJson(*n) << "\n";
  }
  return kExitOk;
}

}  // namespace laneway::cli
