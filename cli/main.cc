// laneway: the command-line client. Talks to the supervisor's control socket only.
#include <cstring>
#include <iostream>
#include <string>

#include "cli/client.h"
#include "cli/commands.h"

namespace {

constexpr const char* kHelp =
    "usage: laneway COMMAND [ARGS] [--help]\n"
    "\n"
    "  up [--config FILE]              run the supervisor in the foreground\n"
    "  down [--timeout DUR] [--strict] [--json]\n"
    "                                  graceful shutdown (drain, then stop); exit 0 if\n"
    "                                  nothing was running (3 with --strict)\n"
    "  agent --agent ID --message TEXT [--session KEY] [--timeout DUR] [--stream]\n"
    "        [--deliver] [--json] [--url ws://HOST:PORT --token T]\n"
    "                                  send a turn and wait for its outcome\n"
    "  wait TURN_ID [--timeout DUR] [--stream] [--json]\n"
    "                                  outcome of any accepted turn\n"
    "  turn TURN_ID [--json]           the supervisor's record of a turn, at once\n"
    "  status [--json]                 supervisor health, counts, stuck and parked sessions\n"
    "  workers [--json]                one row per worker\n"
    "  sessions [SESSION] [--agent ID] [--json]\n"
    "                                  one row per session\n"
    "  kill SESSION [--agent ID] [--json]\n"
    "                                  end that session's worker\n"
    "  restart SESSION [--agent ID] [--json]\n"
    "                                  end it, un-park, start a fresh one\n"
    "  cancel SESSION [--agent ID] [--json]\n"
    "                                  cancel the running turn\n"
    "  reload [--json]                 re-read the config\n"
    "  token                           print the gateway port's token\n"
    "  cron add|list|show|rm|enable|disable|run|runs ...\n"
    "                                  manage cron jobs (laneway cron --help)\n"
    "  spawn --message TEXT [--agent ID] [--timeout DUR] [--wait] [--json]\n"
    "                                  start a subagent from a running turn\n"
    "\n"
    "SESSION: agent:<agent>:<name>, <agent>:<name>, or <name> of the default agent.\n"
    "With --json every command prints one JSON object, on failure {\"error\",\"code\"}.\n"
    "\n"
    "State lives under $LANEWAY_HOME (default ~/.laneway).\n"
    "Exit codes: 0 ok; 1 turn failed/timed out/cancelled/rejected or request refused;\n"
    "2 usage; 3 supervisor unreachable; 4 --timeout passed with the turn still pending;\n"
    "6 (wait, turn) the turn is forgotten: it ended outside the remembered window.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace laneway::cli;
  if (argc < 2) {
    std::cerr << kHelp;
    return kExitUsage;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << kHelp;
    return kExitOk;
  }
  if (cmd == "--version") {
    std::cout << "laneway 0.1.0\n";
    return kExitOk;
  }
  if (cmd == "up") return CmdUp(argc, argv);
  if (cmd == "down") return CmdDown(argc, argv);
  if (cmd == "agent") return CmdAgent(argc, argv);
  if (cmd == "wait") return CmdWait(argc, argv);
  if (cmd == "turn") return CmdTurn(argc, argv);
  if (cmd == "status") return CmdStatus(argc, argv);
  if (cmd == "workers") return CmdWorkers(argc, argv);
  if (cmd == "sessions") return CmdSessions(argc, argv);
  if (cmd == "kill" || cmd == "restart" || cmd == "cancel") return CmdOperator(argc, argv);
  if (cmd == "reload") return CmdReload(argc, argv);
  if (cmd == "token") return CmdToken(argc, argv);
  if (cmd == "cron") return CmdCron(argc, argv);
  if (cmd == "spawn") return CmdSpawn(argc, argv);
  std::cerr << "laneway: unknown command '" << cmd << "'\n" << kHelp;
  return kExitUsage;
}
