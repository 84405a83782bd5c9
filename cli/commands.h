// The laneway CLI's commands. Each takes argv from the command word on and
// returns the process exit code (client.h); each has --help.
#ifndef LANEWAY_CLI_COMMANDS_H_
#define LANEWAY_CLI_COMMANDS_H_

namespace laneway::cli {

int CmdUp(int argc, char** argv);
int CmdDown(int argc, char** argv);
int CmdAgent(int argc, char** argv);
int CmdWait(int argc, char** argv);
int CmdTurn(int argc, char** argv);
int CmdStatus(int argc, char** argv);
int CmdWorkers(int argc, char** argv);
int CmdSessions(int argc, char** argv);
int CmdOperator(int argc, char** argv);  // kill | restart | cancel
int CmdReload(int argc, char** argv);
int CmdToken(int argc, char** argv);  // cli/token_command.cc
int CmdCron(int argc, char** argv);   // cli/cron_commands.cc
int CmdSpawn(int argc, char** argv);  // cli/spawn_command.cc

}  // namespace laneway::cli

#endif  // LANEWAY_CLI_COMMANDS_H_
