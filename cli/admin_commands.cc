// Supervisor-wide commands: up, down, status, workers.
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>

#include "cli/access_check.h"
#include "cli/args.h"
#include "cli/call.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "common/config.h"
#include "common/duration.h"
#include "common/file_lock.h"
#include "common/protocol.h"

namespace laneway::cli {

using common::Value;

namespace {

// The supervisor's exit code for a start-up failure (docs/operations.md); `laneway
// up` exits with the supervisor's codes, so its own start-up checks use it too.
constexpr int kExitBadConfig = 3;
constexpr int kExitAlreadyRunning = 4;
constexpr int kExitStartupFailure = 5;

std::string ExeDir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

constexpr const char* kUpHelp =
    "usage: laneway up [--config FILE]\n"
    "\n"
    "Runs the supervisor in the foreground (Ctrl-C or `laneway down` stops it gracefully).\n"
    "Without --config it reads $LANEWAY_HOME/laneway.toml if present, else runs the\n"
    "built-in default: agent 'main' with the echo runner.\n"
    "\n"
    "Exit codes: 0 stopped cleanly; 2 usage; 3 bad config; 4 another supervisor runs on\n"
    "this LANEWAY_HOME; 5 start-up failure (permissions on LANEWAY_HOME, socket, journal,\n"
    "worker binary; the message names the path).\n";
constexpr const char* kDownHelp =
    "usage: laneway down [--timeout DUR] [--strict] [--json]\n"
    "\n"
    "Graceful shutdown: the supervisor stops accepting turns, lets running turns finish\n"
    "within drain_timeout, keeps queued turns in its journal for the next start, stops\n"
    "its workers and exits. Waits until it is gone (default --timeout 2m).\n"
    "\n"
    "With no supervisor running it says so and exits 0, as there is nothing to stop;\n"
    "with --strict it exits 3 instead. Exit code 1 if the supervisor is still draining\n"
    "when --timeout passes.\n";
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

}  // namespace

int ParseCommand(int argc, char** argv, const char* help, const std::set<std::string>& values,
                 const std::set<std::string>& switches, size_t min_positional,
                 size_t max_positional, const Output& out, Args* args) {
  std::set<std::string> all_switches = switches;
  all_switches.insert("--help");
  std::string error;
  if (!ParseArgs(argc, argv, 2, values, all_switches, args, &error)) {
    return out.Usage(error, help);
  }
  if (args->Has("--help")) {
    std::cout << help;
    return kExitOk;
  }
  if (args->positional.size() < min_positional || args->positional.size() > max_positional) {
    if (args->positional.size() > max_positional) {
      return out.Usage("unexpected argument '" + args->positional[max_positional] + "'", help);
    }
    return out.Usage("wrong number of arguments", help);
  }
  return -1;
}

int CmdUp(int argc, char** argv) {
  Output out("up", false);
  Args args;
  if (int rc = ParseCommand(argc, argv, kUpHelp, {"--config"}, {}, 0, 0, out, &args); rc >= 0) {
    return rc;
  }
  auto paths = common::ResolvePaths();
  if (!paths.ok()) return out.Fail(kExitUsage, code::kNoHome, paths.status().message());
  // The supervisor would fail on its first mkdir or open with a bare errno; say
  // here which path refused which permission, and to whom.
  if (auto problem = HomeProblem(paths->home)) {
    return out.Fail(kExitStartupFailure, code::kPermissionDenied, *problem);
  }
  // The supervisor checks all of this again; checking here first means the errors
  // an operator meets most name what they ran, `laneway up`.
  if (auto holder = common::LockHolder(paths->instance_lock); holder.ok() && *holder > 0) {
    return out.Fail(kExitAlreadyRunning, code::kAlreadyRunning,
                    "a supervisor (pid " + std::to_string(*holder) + ") is already running on " +
                        paths->home + "; stop it with `laneway down`");
  }
  std::string config_path = args.Get("--config").value_or("");
  if (config_path.empty() && ::access(paths->config_file.c_str(), F_OK) == 0) {
    config_path = paths->config_file;
  }
  if (!config_path.empty()) {
    if (auto config = common::LoadConfigFile(config_path); !config.ok()) {
      return out.Fail(kExitBadConfig, code::kBadConfig,
                      "refusing to start: " + config.status().message());
    }
  }
  std::string exe = ExeDir() + "/laneway-supervisor";
  if (const char* env = std::getenv("LANEWAY_SUPERVISOR_BIN"); env && *env) exe = env;
  // argv[0] "laneway up": the supervisor prefixes its messages with its argv[0],
  // so what the user ran is what the errors name.
  std::vector<std::string> argv_s = {"laneway up"};
  if (auto c = args.Get("--config")) {
    argv_s.push_back("--config");
    argv_s.push_back(*c);
  }
  std::vector<char*> cargv;
  for (auto& s : argv_s) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  ::execv(exe.c_str(), cargv.data());
  return out.Fail(kExitStartupFailure, code::kStartFailed,
                  "cannot run " + exe + ": " + std::strerror(errno));
}

int CmdDown(int argc, char** argv) {
  Output out("down", WantsJson(argc, argv, 2));
  Args args;
  if (int rc = ParseCommand(argc, argv, kDownHelp, {"--timeout"}, {"--json", "--strict"}, 0, 0, out,
                            &args);
      rc >= 0) {
    return rc;
  }
  auto timeout = common::Millis(std::chrono::minutes(2));
  if (auto t = args.Get("--timeout")) {
    auto d = common::ParseDuration(*t);
    if (!d.ok()) return out.Usage("--timeout: " + d.status().message(), nullptr);
    timeout = *d;
  }
  auto paths = common::ResolvePaths();
  if (!paths.ok()) return out.Fail(kExitUsage, code::kNoHome, paths.status().message());
  auto client = Client::Connect(*paths);
  if (!client.ok()) {
    Failure f = ConnectFailure(client.status());
    if (f.code != code::kUnreachable || args.Has("--strict")) return out.Fail(f);
    // Like `systemctl stop` of a stopped unit: the wanted state holds already.
    if (out.json()) {
      Value o = Value::MakeMap();
      o.Set("stopped", true);
      o.Set("was_running", false);
      o.Set("home", paths->home);
      out.Json(o);
    } else {
      std::cout << "laneway: no supervisor was running on " << paths->home << "; nothing to stop\n";
    }
    return kExitOk;
  }
  Value data;
  if (int rc = CallOn(**client, out, common::NewMessage(common::msg::kShutdown), &data); rc >= 0) {
    return rc;
  }
  const int64_t pid = data.GetIntOr("pid", 0).value();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto holder = common::LockHolder(paths->instance_lock);
  while (holder.ok() && *holder > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    holder = common::LockHolder(paths->instance_lock);
  }
  if (holder.ok() && *holder > 0) {
    return out.Fail(kExitFailed, code::kStillDraining,
                    "the supervisor (pid " + std::to_string(*holder) +
                        ") is still draining after " + common::FormatDuration(timeout));
  }
  if (out.json()) {
    Value o = Value::MakeMap();
    o.Set("stopped", true);
    o.Set("was_running", true);
    o.Set("home", paths->home);
    o.Set("pid", pid);
    out.Json(o);
  } else {
    std::cout << "laneway: supervisor stopped\n";
  }
  return kExitOk;
}

int CmdStatus(int argc, char** argv) {
  Output out("status", WantsJson(argc, argv, 2));
  Args args;
  if (int rc = ParseCommand(argc, argv, kStatusHelp, {}, {"--json"}, 0, 0, out, &args); rc >= 0) {
    return rc;
  }
  Value s;
  if (int rc = CallData(out, common::NewMessage(common::msg::kStatus), &s); rc >= 0) return rc;
  const bool healthy = s.GetBoolOr("healthy", false).value();
  if (out.json()) {
    out.Json(s);
    return healthy ? kExitOk : kExitFailed;
  }
  std::cout << "supervisor pid " << Str(s, "pid") << ", up " << Age(s, "uptime_ms") << ", "
            << (healthy ? "healthy" : "UNHEALTHY")
            << (s.GetBoolOr("shutting_down", false).value() ? ", shutting down" : "") << "\n";
  std::cout << "workers " << Str(s, "workers") << "/" << Str(s, "max_workers") << " (busy "
            << s.GetIntOr("busy", 0).value() + s.GetIntOr("dispatched", 0).value() << ", idle "
            << Str(s, "idle") << ", starting " << Str(s, "starting") << ", spare "
            << Str(s, "spare") << ", stopping " << Str(s, "stopping") << "), queued "
            << Str(s, "queued")
            << ", waiting for a worker " << Str(s, "waiting_for_worker") << ", sessions "
            << Str(s, "sessions") << "\n";
  if (const Value* j = s.Find("journal")) {
    std::cout << "journal "
              << (j->GetBoolOr("ok", false).value() ? "ok" : "FAILING: " + Str(*j, "error")) << ", "
              << Str(*j, "bytes") << " bytes"
              << (j->GetBoolOr("refusing_submits", false).value() ? ", refusing submits" : "");
    if (const Value* c = s.Find("counters"); c && Str(*c, "journal_errors") != "0") {
      std::cout << ", " << Str(*c, "journal_errors") << " errors since start";
    }
    std::cout << "\n";
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
              << Str(*c, "turns_cancelled") << ", rejected " << Str(*c, "turns_rejected") << " (+ "
              << Str(*c, "submits_rejected") << " refused at submit)"
              << ", interrupted " << Str(*c, "turns_interrupted")
              << "; unfinished in the journal at start " << Str(*c, "recovered_unfinished") << "\n";
  }
  return healthy ? kExitOk : kExitFailed;
}

int CmdWorkers(int argc, char** argv) {
  Output out("workers", WantsJson(argc, argv, 2));
  Args args;
  if (int rc = ParseCommand(argc, argv, kWorkersHelp, {}, {"--json"}, 0, 0, out, &args); rc >= 0) {
    return rc;
  }
  Value rows;
  if (int rc = CallData(out, common::NewMessage(common::msg::kWorkers), &rows); rc >= 0) return rc;
  if (out.json()) {
    out.Json(rows);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table = {
      {"SESSION", "PID", "STATE", "TURN", "TURN_AGE", "QUEUE", "RESTARTS", "RSS"}};
  for (const Value& r : rows.is_array() ? rows.as_array() : Value::Array{}) {
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

}  // namespace laneway::cli
