// A small argument parser for the laneway CLI: flags with values, boolean
// switches and positional arguments, with errors a person can act on.
#ifndef LANEWAY_CLI_ARGS_H_
#define LANEWAY_CLI_ARGS_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace laneway::cli {

struct Args {
  std::map<std::string, std::string> values;  // --flag VALUE or --flag=VALUE
  std::set<std::string> switches;             // --json, --help
  std::vector<std::string> positional;

  bool Has(const std::string& s) const { return switches.count(s) > 0; }
  std::optional<std::string> Get(const std::string& k) const {
    auto it = values.find(k);
    if (it == values.end()) return std::nullopt;
    return it->second;
  }
};

// `with_value`: flags that take a value; `switches`: flags that do not. Anything
// else starting with "-" is an error (returned in *error).
bool ParseArgs(int argc, char** argv, int first, const std::set<std::string>& with_value,
               const std::set<std::string>& switches, Args* out, std::string* error);

}  // namespace laneway::cli

#endif  // LANEWAY_CLI_ARGS_H_
