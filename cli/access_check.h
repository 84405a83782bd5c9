// Permission diagnosis for the CLI: when a path under LANEWAY_HOME cannot be
// reached, say which directory or file refused, which permission was missing,
// its mode and owner, and who we are — instead of "no supervisor running".
//
// Pure file-system inspection (stat/access); never creates or changes anything.
#ifndef LANEWAY_CLI_ACCESS_CHECK_H_
#define LANEWAY_CLI_ACCESS_CHECK_H_

#include <optional>
#include <string>

namespace laneway::cli {

// If `path` (a file or directory) exists but this process lacks `want`
// (R_OK, W_OK, X_OK or a combination) on it, or lacks search permission on a
// directory on the way to it, returns a sentence naming that path and the
// permission. nullopt if the access would succeed or the path does not exist.
std::optional<std::string> AccessProblem(const std::string& path, int want);

// What `laneway up` needs of a home: if it exists, read, write and search
// permission on it and its run/, journal/ and agents/ directories and on the
// files the supervisor opens there; if not, write and search permission on the
// nearest existing ancestor (to create it). nullopt if all is well.
std::optional<std::string> HomeProblem(const std::string& home);

}  // namespace laneway::cli

#endif  // LANEWAY_CLI_ACCESS_CHECK_H_
