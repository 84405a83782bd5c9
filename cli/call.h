// Helpers shared by the operator commands: one request/reply call with every
// failure reported through Output, and the text formatting of rows.
#ifndef LANEWAY_CLI_CALL_H_
#define LANEWAY_CLI_CALL_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/client.h"
#include "cli/output.h"
#include "common/value.h"

namespace laneway::cli {

inline constexpr auto kCallTimeout = std::chrono::seconds(10);

// Parses argv from the word after the command on; handles --help (always a
// switch). Returns -1 to go on, else the exit code (usage errors reported).
int ParseCommand(int argc, char** argv, const char* help, const std::set<std::string>& values,
                 const std::set<std::string>& switches, size_t min_positional,
                 size_t max_positional, const Output& out, Args* args);

// Makes one call on `client`. Returns -1 with the reply's data in *data, or the
// exit code after reporting the failure (no_answer exit 3; a supervisor error
// exit 1 with its code, but `forgotten` exit 6).
int CallOn(Client& client, const Output& out, common::Value request, common::Value* data);
// Connects, then CallOn.
int CallData(const Output& out, common::Value request, common::Value* data);

// A field as text ("-" when absent or null).
std::string Str(const common::Value& v, const char* key);
// A millisecond field as a short age ("312ms", "4.2s", "3m07s", "1h02m").
std::string Age(const common::Value& v, const char* key);
void PrintTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace laneway::cli

#endif  // LANEWAY_CLI_CALL_H_
