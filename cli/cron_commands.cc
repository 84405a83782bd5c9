// `laneway cron ...`: manage the supervisor's cron jobs (docs/cron.md) over the
// control socket's cron.* methods. Nothing here reads the jobs file.
#include <ctime>
#include <iostream>

#include "cli/args.h"
#include "cli/call.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "common/protocol.h"

namespace laneway::cli {

using common::Value;

namespace {

constexpr const char* kCronHelp =
    "usage: laneway cron COMMAND ...\n"
    "\n"
    "  add NAME --agent ID (--every DUR | --at TIME | --cron EXPR [--tz ZONE])\n"
    "      --message TEXT [--session KEY] [--deliver --channel KIND --to CHAT_ID]\n"
    "      [--catch-up once|none] [--overlap queue|skip] [--disabled] [--json]\n"
    "                      add a job; TIME is YYYY-MM-DDTHH:MM[:SS] in --tz (default:\n"
    "                      the host's zone) or with Z / +HH:MM; EXPR has five fields\n"
    "  list [--json]       every job: schedule, next firing, last run\n"
    "  show NAME [--json]  one job\n"
    "  rm NAME             remove a job (its running turn, if any, goes on)\n"
    "  enable NAME | disable NAME\n"
    "  run NAME [--json]   fire the job now (a manual run)\n"
    "  runs NAME [--json]  its history: fired at, turn id, outcome\n"
    "\n"
    "A firing is a turn on the job's session (default agent:<ID>:cron:NAME): a busy\n"
    "session means it runs later, never that it is skipped. --overlap skip skips a\n"
    "firing while the job's previous turn is unfinished (recorded in runs).\n"
    "--catch-up: what happens to firings missed while the supervisor was down:\n"
    "once (default) runs one at start, none records them as skipped.\n";

std::string When(const Value& v, const char* key) {
  const Value* f = v.Find(key);
  if (f == nullptr || !f->is_int() || f->as_int() <= 0) return "-";
  const std::time_t secs = static_cast<std::time_t>(f->as_int() / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string ScheduleText(const Value& job) {
  std::string s = "--" + Str(job, "kind") + " " + Str(job, "spec");
  if (Str(job, "tz") != "-" && Str(job, "kind") != "every") s += " (" + Str(job, "tz") + ")";
  return s;
}

int Call(const Output& out, Value req, Value* data) { return CallData(out, std::move(req), data); }

int Add(int argc, char** argv, const Output& out) {
  Args args;
  if (int rc = ParseCommand(argc, argv, kCronHelp,
                            {"--agent", "--session", "--every", "--at", "--cron", "--tz",
                             "--message", "--channel", "--to", "--catch-up", "--overlap"},
                            {"--deliver", "--disabled", "--json"}, 2, 2, out, &args);
      rc >= 0) {
    return rc;
  }
  Value req = common::NewMessage("cron.add");
  req.Set("name", args.positional[1]);
  int kinds = 0;
  for (const char* k : {"every", "at", "cron"}) {
    if (auto v = args.Get(std::string("--") + k)) {
      ++kinds;
      req.Set("kind", k);
      req.Set("spec", *v);
    }
  }
  if (kinds != 1) return out.Usage("give exactly one of --every, --at, --cron", kCronHelp);
  if (!args.Get("--agent")) return out.Usage("--agent ID is required", kCronHelp);
  if (!args.Get("--message")) return out.Usage("--message TEXT is required", kCronHelp);
  const std::pair<const char*, const char*> fields[] = {
      {"--agent", "agent"}, {"--session", "session"},   {"--tz", "tz"},
      {"--message", "message"}, {"--channel", "channel"}, {"--to", "to"},
      {"--catch-up", "catch_up"}, {"--overlap", "overlap"}};
  for (const auto& [flag, key] : fields) {
    if (auto v = args.Get(flag)) req.Set(key, *v);
  }
  if (args.Has("--deliver")) req.Set("deliver", true);
  if (args.Has("--disabled")) req.Set("enabled", false);
  Value data;
  if (int rc = Call(out, std::move(req), &data); rc >= 0) return rc;
  const Value* job = data.Find("job");
  if (out.json()) {
    out.Json(data);
  } else if (job) {
    std::cout << "added cron job " << Str(*job, "name") << ": " << ScheduleText(*job)
              << ", next " << When(*job, "next_unix_ms") << "\n";
  }
  return kExitOk;
}

int List(int argc, char** argv, const Output& out) {
  Args args;
  if (int rc = ParseCommand(argc, argv, kCronHelp, {}, {"--json"}, 1, 1, out, &args); rc >= 0) {
    return rc;
  }
  Value data;
  if (int rc = Call(out, common::NewMessage("cron.list"), &data); rc >= 0) return rc;
  if (out.json()) {
    out.Json(data);
    return kExitOk;
  }
  const Value* jobs = data.Find("jobs");
  if (jobs == nullptr || !jobs->is_array() || jobs->as_array().empty()) {
    std::cout << "no cron jobs\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table = {
      {"NAME", "AGENT", "SESSION", "SCHEDULE", "ENABLED", "NEXT", "LAST", "LAST_STATUS"}};
  for (const Value& j : jobs->as_array()) {
    const Value* last = j.Find("last_run");
    table.push_back({Str(j, "name"), Str(j, "agent"), Str(j, "session"), ScheduleText(j),
                     Str(j, "enabled"), When(j, "next_unix_ms"),
                     last && last->is_map() ? When(*last, "fired_unix_ms") : "-",
                     last && last->is_map() ? Str(*last, "status") : "-"});
  }
  PrintTable(table);
  return kExitOk;
}

// show, rm, enable, disable, run, runs: one job by name.
int OnJob(int argc, char** argv, const Output& out, const std::string& sub) {
  Args args;
  if (int rc = ParseCommand(argc, argv, kCronHelp, {}, {"--json"}, 2, 2, out, &args); rc >= 0) {
    return rc;
  }
  const std::string name = args.positional[1];
  Value req;
  if (sub == "show") {
    req = common::NewMessage("cron.list");
  } else if (sub == "rm" || sub == "remove") {
    req = common::NewMessage("cron.remove");
  } else if (sub == "enable" || sub == "disable") {
    req = common::NewMessage("cron.update");
    Value patch = Value::MakeMap();
    patch.Set("enabled", sub == "enable");
    req.Set("patch", std::move(patch));
  } else if (sub == "run") {
    req = common::NewMessage("cron.run");
  } else {
    req = common::NewMessage("cron.runs");
  }
  if (sub != "show") req.Set("name", name);
  Value data;
  if (int rc = Call(out, std::move(req), &data); rc >= 0) return rc;
  if (sub == "show") {
    const Value* jobs = data.Find("jobs");
    const Value* found = nullptr;
    if (jobs && jobs->is_array()) {
      for (const Value& j : jobs->as_array()) {
        if (Str(j, "name") == name) found = &j;
      }
    }
    if (found == nullptr) {
      return out.Fail(kExitFailed, "unknown_job",
                      "no cron job named '" + name + "' (see `laneway cron list`)");
    }
    if (out.json()) {
      out.Json(*found);
    } else {
      for (const auto& [k, v] : found->as_map()) {
        std::string text = k.find("unix_ms") != std::string::npos ? When(*found, k.c_str())
                                                                   : Str(*found, k.c_str());
        if (k == "last_run" && v.is_map()) {
          text = When(v, "fired_unix_ms") + " " + Str(v, "status") + " turn " + Str(v, "turn_id");
        }
        std::cout << k << ": " << text << "\n";
      }
    }
    return kExitOk;
  }
  if (out.json()) {
    out.Json(data);
    return kExitOk;
  }
  if (sub == "rm" || sub == "remove") {
    std::cout << "removed cron job " << name << "\n";
  } else if (sub == "enable" || sub == "disable") {
    const Value* job = data.Find("job");
    std::cout << (sub == "enable" ? "enabled" : "disabled") << " cron job " << name;
    if (job && sub == "enable") std::cout << ", next " << When(*job, "next_unix_ms");
    std::cout << "\n";
  } else if (sub == "run") {
    const Value* run = data.Find("run");
    std::cout << "cron job " << name << " fired: turn " << (run ? Str(*run, "turn_id") : "-")
              << " (laneway wait " << (run ? Str(*run, "turn_id") : "-") << ")\n";
  } else {
    const Value* runs = data.Find("runs");
    std::vector<std::vector<std::string>> table = {
        {"FIRED", "SCHEDULED", "TURN", "STATUS", "MANUAL", "TEXT"}};
    if (runs && runs->is_array()) {
      for (const Value& r : runs->as_array()) {
        std::string text = Str(r, "text");
        for (char& c : text) {
          if (c == '\n') c = ' ';
        }
        if (text.size() > 60) text = text.substr(0, 57) + "...";
        table.push_back({When(r, "fired_unix_ms"), When(r, "scheduled_unix_ms"),
                         Str(r, "turn_id"), Str(r, "status"), Str(r, "manual"), text});
      }
    }
    if (table.size() == 1) {
      std::cout << "no runs yet\n";
    } else {
      PrintTable(table);
    }
  }
  return kExitOk;
}

}  // namespace

int CmdCron(int argc, char** argv) {
  Output out("cron", WantsJson(argc, argv, 2));
  if (argc < 3) return out.Usage("a cron command is required", kCronHelp);
  const std::string sub = argv[2];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::cout << kCronHelp;
    return kExitOk;
  }
  if (sub == "add") return Add(argc, argv, out);
  if (sub == "list" || sub == "ls") return List(argc, argv, out);
  for (const char* s : {"show", "rm", "remove", "enable", "disable", "run", "runs"}) {
    if (sub == s) return OnJob(argc, argv, out, sub);
  }
  return out.Usage("unknown cron command '" + sub + "'", kCronHelp);
}

}  // namespace laneway::cli
