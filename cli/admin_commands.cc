// Operator commands: up, down, status, workers, sessions, kill/restart/cancel, reload.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <iostream>
#include <thread>

#include "cli/args.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "common/duration.h"
#include "common/file_lock.h"
#include "common/protocol.h"

namespace laneway::cli {

using common::Value;

namespace {

constexpr auto kCallTimeout = std::chrono::seconds(10);

std::string ExeDir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

std::string Str(const Value& v, const char* key) {
  const Value* f = v.Find(key);
  if (f == nullptr || f->is_null()) return "-";
  if (f->is_string()) return f->as_string();
  if (f->is_int()) return std::to_string(f->as_int());
  if (f->is_bool()) return f->as_bool() ? "yes" : "no";
  return common::ToJson(*f);
}

std::string Age(const Value& v, const char* key) {
  const Value* f = v.Find(key);
  if (f == nullptr || !f->is_int()) return "-";
  int64_t ms = f->as_int();
  char buf[32];
  if (ms < 1000)
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  else if (ms < 60000)
    std::snprintf(buf, sizeof buf, "%.1fs", ms / 1000.0);
  else if (ms < 3600000)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(ms / 60000),
                  static_cast<long long>(ms / 1000 % 60));
  else
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(ms / 3600000),
                  static_cast<long long>(ms / 60000 % 60));
  return buf;
}

// Parses args for a simple command; handles --help. Returns -1 to go on.
int Simple(int argc, char** argv, const char* help, size_t positional, Args* args) {
  std::string error;
  if (!ParseArgs(argc, argv, 2, {}, {"--json", "--help"}, args, &error)) {
    std::cerr << "laneway " << argv[1] << ": " << error << "\n" << help;
    return kExitUsage;
  }
  if (args->Has("--help")) {
    std::cout << help;
    return kExitOk;
  }
  if (args->positional.size() != positional) {
    std::cerr << "laneway " << argv[1] << ": wrong number of arguments\n" << help;
    return kExitUsage;
  }
  return -1;
}

// Connects and makes one call; prints errors. Returns the reply's data or an exit code.
int CallData(const std::string& type, Value request, Value* data) {
  int code = 0;
  std::unique_ptr<Client> client = ConnectOrReport(&code);
  if (!client) return code;
  auto reply = client->Call(std::move(request), kCallTimeout);
  if (!reply.ok()) {
    std::cerr << "laneway: " << reply.status().message() << "\n";
    return kExitUnreachable;
  }
  if (common::MessageType(*reply) == common::msg::kError) {
    std::cerr << "laneway " << type << ": " << reply->GetStringOr("error", "error").value() << "\n";
    return kExitFailed;
  }
  const Value* d = reply->Find("data");
  *data = d ? *d : Value();
  return -1;
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

constexpr const char* kUpHelp =
    "usage: laneway up [--config FILE]\n"
    "\n"
    "Runs the supervisor in the foreground (Ctrl-C or `laneway down` stops it gracefully).\n"
    "Without --config it reads $LANEWAY_HOME/laneway.toml if present, else runs the\n"
    "built-in default: agent 'main' with the echo runner.\n";
constexpr const char* kDownHelp =
    "usage: laneway down [--timeout DUR]\n"
    "\n"
    "Graceful shutdown: the supervisor stops accepting turns, lets running turns finish\n"
    "within drain_timeout, keeps queued turns in its journal for the next start, stops\n"
    "its workers and exits. Waits until it is gone (default --timeout 2m).\n";
constexpr const char* kStatusHelp =
    "usage: laneway status [--json]\n"
    "\n"
    "Supervisor health and counts: workers, busy, queued, sessions, stuck sessions (busy\n"
    "past stuck_after), parked sessions, journal state. Exit code 1 while unhealthy.\n";
constexpr const char* kWorkersHelp =
    "usage: laneway workers [--json]\n"
    "\n"
    "One row per worker (and per parked session): session, pid, state\n"
    "(starting|idle|busy|stopping|parked), running turn and its age, queue depth,\n"
    "restarts, resident memory.\n";
constexpr const char* kSessionsHelp =
    "usage: laneway sessions [--json]\n"
    "\n"
    "Every session the supervisor knows: state, worker pid, queue depth, turns so far.\n";
constexpr const char* kKillHelp =
    "usage: laneway kill SESSION [--json]\n"
    "\n"
    "Ends the session's worker (its whole process group). Its running turn ends\n"
    "'cancelled'; queued turns stay and run on a fresh worker.\n";
constexpr const char* kRestartHelp =
    "usage: laneway restart SESSION [--json]\n"
    "\n"
    "Ends the session's worker, clears its restart history (un-parks a parked session)\n"
    "and starts a fresh worker.\n";
constexpr const char* kCancelHelp =
    "usage: laneway cancel SESSION [--json]\n"
    "\n"
    "Cancels the session's running turn (it ends 'cancelled'); queued turns go on.\n"
    "The turn's processes are ended with its worker, and the next turn gets a fresh one.\n";
constexpr const char* kReloadHelp =
    "usage: laneway reload [--json]\n"
    "\n"
    "Re-reads the config the supervisor started with (as SIGHUP does). A valid config\n"
    "applies all-or-nothing; keys that need a restart are listed. An invalid one is\n"
    "refused with its error and the running config stays in force (exit code 1).\n";

}  // namespace

int CmdUp(int argc, char** argv) {
  Args args;
  std::string error;
  if (!ParseArgs(argc, argv, 2, {"--config"}, {"--help"}, &args, &error) ||
      !args.positional.empty()) {
    std::cerr << "laneway up: " << (error.empty() ? "unexpected argument" : error) << "\n"
              << kUpHelp;
    return kExitUsage;
  }
  if (args.Has("--help")) {
    std::cout << kUpHelp;
    return kExitOk;
  }
  std::string exe = ExeDir() + "/laneway-supervisor";
  if (const char* env = std::getenv("LANEWAY_SUPERVISOR_BIN"); env && *env) exe = env;
  std::vector<std::string> argv_s = {exe};
  if (auto c = args.Get("--config")) {
    argv_s.push_back("--config");
    argv_s.push_back(*c);
  }
  std::vector<char*> cargv;
  for (auto& s : argv_s) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  ::execv(exe.c_str(), cargv.data());
  std::perror(("laneway up: cannot run " + exe).c_str());
  return kExitUnreachable;
}

int CmdDown(int argc, char** argv) {
  Args args;
  std::string error;
  if (!ParseArgs(argc, argv, 2, {"--timeout"}, {"--help"}, &args, &error) ||
      !args.positional.empty()) {
    std::cerr << "laneway down: " << (error.empty() ? "unexpected argument" : error) << "\n"
              << kDownHelp;
    return kExitUsage;
  }
  if (args.Has("--help")) {
    std::cout << kDownHelp;
    return kExitOk;
  }
  auto timeout = common::Millis(std::chrono::minutes(2));
  if (auto t = args.Get("--timeout")) {
    auto d = common::ParseDuration(*t);
    if (!d.ok()) {
      std::cerr << "laneway down: --timeout: " << d.status().message() << "\n";
      return kExitUsage;
    }
    timeout = *d;
  }
  Value data;
  if (int rc = CallData("down", common::NewMessage(common::msg::kShutdown), &data); rc >= 0)
    return rc;
  auto paths = common::ResolvePaths();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto holder = common::LockHolder(paths->instance_lock);
  while (holder.ok() && *holder > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    holder = common::LockHolder(paths->instance_lock);
  }
  if (holder.ok() && *holder > 0) {
    std::cerr << "laneway down: the supervisor (pid " << *holder << ") is still draining after "
              << common::FormatDuration(timeout) << "\n";
    return kExitFailed;
  }
  std::cout << "laneway: supervisor stopped\n";
  return kExitOk;
}

int CmdStatus(int argc, char** argv) {
  Args args;
  if (int rc = Simple(argc, argv, kStatusHelp, 0, &args); rc >= 0) return rc;
  Value s;
  if (int rc = CallData("status", common::NewMessage(common::msg::kStatus), &s); rc >= 0) return rc;
  const bool healthy = s.GetBoolOr("healthy", false).value();
  if (args.Has("--json")) {
    std::cout << common::ToJson(s) << "\n";
    return healthy ? kExitOk : kExitFailed;
  }
  std::cout << "supervisor pid " << Str(s, "pid") << ", up " << Age(s, "uptime_ms") << ", "
            << (healthy ? "healthy" : "UNHEALTHY")
            << (s.GetBoolOr("shutting_down", false).value() ? ", shutting down" : "") << "\n";
  std::cout << "workers " << Str(s, "workers") << "/" << Str(s, "max_workers") << " (busy "
            << Str(s, "busy") << ", idle " << Str(s, "idle") << ", starting " << Str(s, "starting")
            << ", stopping " << Str(s, "stopping") << "), queued " << Str(s, "queued")
            << ", waiting for a worker " << Str(s, "waiting_for_worker") << ", sessions "
            << Str(s, "sessions") << "\n";
  if (const Value* j = s.Find("journal")) {
    std::cout << "journal "
              << (j->GetBoolOr("ok", false).value() ? "ok" : "FAILING: " + Str(*j, "error")) << ", "
              << Str(*j, "bytes") << " bytes\n";
  }
  if (const Value* st = s.Find("stuck"); st && st->is_array()) {
    for (const Value& e : st->as_array()) {
      std::cout << "stuck: " << Str(e, "session") << " turn " << Str(e, "turn_id")
                << " running for " << Age(e, "turn_age_ms") << " (pid " << Str(e, "pid") << ")\n";
    }
  }
  if (const Value* p = s.Find("parked"); p && p->is_array()) {
    for (const Value& e : p->as_array()) {
      std::cout << "parked: " << e.as_string() << " (laneway restart " << e.as_string() << ")\n";
    }
  }
  if (const Value* c = s.Find("counters")) {
    std::cout << "turns: accepted " << Str(*c, "turns_accepted") << ", replied "
              << Str(*c, "turns_replied") << ", failed " << Str(*c, "turns_failed")
              << ", timed out " << Str(*c, "turns_timed_out") << ", cancelled "
              << Str(*c, "turns_cancelled") << ", rejected " << Str(*c, "turns_rejected")
              << ", interrupted " << Str(*c, "turns_interrupted")
              << "; unfinished in the journal at start " << Str(*c, "recovered_unfinished") << "\n";
  }
  return healthy ? kExitOk : kExitFailed;
}

int CmdWorkers(int argc, char** argv) {
  Args args;
  if (int rc = Simple(argc, argv, kWorkersHelp, 0, &args); rc >= 0) return rc;
  Value rows;
  if (int rc = CallData("workers", common::NewMessage(common::msg::kWorkers), &rows); rc >= 0)
    return rc;
  if (args.Has("--json")) {
    std::cout << common::ToJson(rows) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table = {
      {"SESSION", "PID", "STATE", "TURN", "TURN_AGE", "QUEUE", "RESTARTS", "RSS"}};
  for (const Value& r : rows.as_array()) {
    const Value* rss = r.Find("rss_kb");
    table.push_back({Str(r, "session"), Str(r, "pid"), Str(r, "state"), Str(r, "turn_id"),
                     Age(r, "turn_age_ms"), Str(r, "queue_depth"), Str(r, "restarts"),
                     rss && rss->is_int() ? std::to_string(rss->as_int() / 1024) + "MB" : "-"});
  }
  if (table.size() == 1) {
    std::cout << "no workers running\n";
    return kExitOk;
  }
  PrintTable(table);
  return kExitOk;
}

int CmdSessions(int argc, char** argv) {
  Args args;
  if (int rc = Simple(argc, argv, kSessionsHelp, 0, &args); rc >= 0) return rc;
  Value rows;
  if (int rc = CallData("sessions", common::NewMessage(common::msg::kSessions), &rows); rc >= 0)
    return rc;
  if (args.Has("--json")) {
    std::cout << common::ToJson(rows) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table = {
      {"SESSION", "AGENT", "STATE", "PID", "QUEUE", "TURNS", "RESTARTS"}};
  for (const Value& r : rows.as_array()) {
    table.push_back({Str(r, "session"), Str(r, "agent"), Str(r, "state"), Str(r, "pid"),
                     Str(r, "queue_depth"), Str(r, "turns_total"), Str(r, "restarts")});
  }
  if (table.size() == 1) {
    std::cout << "no sessions yet\n";
    return kExitOk;
  }
  PrintTable(table);
  return kExitOk;
}

int CmdOperator(int argc, char** argv) {
  const std::string cmd = argv[1];
  const char* help = cmd == "kill" ? kKillHelp : cmd == "restart" ? kRestartHelp : kCancelHelp;
  Args args;
  if (int rc = Simple(argc, argv, help, 1, &args); rc >= 0) return rc;
  Value req = common::NewMessage(cmd);
  req.Set("session", args.positional[0]);
  Value data;
  if (int rc = CallData(cmd, std::move(req), &data); rc >= 0) return rc;
  if (args.Has("--json")) {
    std::cout << common::ToJson(data) << "\n";
    return kExitOk;
  }
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

int CmdReload(int argc, char** argv) {
  Args args;
  if (int rc = Simple(argc, argv, kReloadHelp, 0, &args); rc >= 0) return rc;
  Value data;
  if (int rc = CallData("reload", common::NewMessage(common::msg::kReload), &data); rc >= 0)
    return rc;
  if (args.Has("--json")) {
    std::cout << common::ToJson(data) << "\n";
    return kExitOk;
  }
  std::cout << "config reloaded from " << Str(data, "source") << "\n";
  if (const Value* n = data.Find("needs_restart"); n && n->is_array() && !n->as_array().empty()) {
    std::cout << "changed but needing a restart: " << common::ToJson(*n) << "\n";
  }
  return kExitOk;
}

}  // namespace laneway::cli
