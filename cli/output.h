// Output: how a CLI command reports success and failure, as text or as JSON.
//
// With --json every command prints exactly one JSON object on stdout, also on
// failure: {"error": <text for a person>, "code": <stable code>} (agent and wait
// print their outcome object instead, which carries "status"). Without --json a
// failure is one line "laneway <command>: <text>" on stderr. The exit code is
// the same either way (client.h). The codes are part of the CLI's interface and
// are listed in docs/operations.md; never rename one.
#ifndef LANEWAY_CLI_OUTPUT_H_
#define LANEWAY_CLI_OUTPUT_H_

#include <string>
#include <string_view>

#include "common/value.h"

namespace laneway::cli {

// Stable error codes of the CLI itself. Errors the supervisor sends carry its own
// codes (docs/protocol.md: bad_request, too_large, unknown_session, ...), passed on.
namespace code {
inline constexpr const char* kUsage = "usage";                         // exit 2
inline constexpr const char* kNoHome = "no_home";                      // exit 2
inline constexpr const char* kAmbiguousSession = "ambiguous_session";  // exit 2
inline constexpr const char* kUnreachable = "unreachable";             // exit 3
inline constexpr const char* kPermissionDenied = "permission_denied";  // exit 3
inline constexpr const char* kNoAnswer = "no_answer";                  // exit 3
inline constexpr const char* kStillDraining = "still_draining";        // exit 1
inline constexpr const char* kTooLarge = "too_large";                  // exit 1
inline constexpr const char* kStartFailed = "start_failed";            // exit 5 (up)
inline constexpr const char* kBadConfig = "bad_config";                // exit 3 (up)
inline constexpr const char* kAlreadyRunning = "already_running";      // exit 4 (up)
}  // namespace code

// A failure on its way to the user.
struct Failure {
  int exit_code;
  std::string code;
  std::string message;  // one line, no trailing newline
};

class Output {
 public:
  // `command` is the word after "laneway" ("kill", "agent", ...).
  Output(std::string command, bool json) : command_(std::move(command)), json_(json) {}

  bool json() const { return json_; }
  const std::string& command() const { return command_; }

  // Prints the failure and returns its exit code.
  int Fail(const Failure& f) const;
  int Fail(int exit_code, std::string_view code, std::string_view message) const {
    return Fail(Failure{exit_code, std::string(code), std::string(message)});
  }
  // A usage error: the message, then (text mode only) the command's help on stderr.
  int Usage(std::string_view message, const char* help) const;
  // Prints a JSON object on stdout (json mode).
  void Json(const common::Value& v) const;
  // A note for a person on stderr ("laneway <command>: <text>"), text mode only.
  void Note(std::string_view message) const;

 private:
  std::string command_;
  bool json_;
};

// Whether argv (from argv[first] on) holds the switch --json, before parsing: a
// usage error is reported as JSON too when the user asked for JSON.
bool WantsJson(int argc, char** argv, int first);

// The text for a supervisor's `error` reply. `sent_bytes` is the size of the
// request the error answers: a too_large error reads
// "message too large (N bytes > max_message_bytes M)".
std::string DescribeSupervisorError(const common::Value& error, size_t sent_bytes);

}  // namespace laneway::cli

#endif  // LANEWAY_CLI_OUTPUT_H_
