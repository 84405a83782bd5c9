#include "cli/args.h"

namespace laneway::cli {

bool ParseArgs(int argc, char** argv, int first, const std::set<std::string>& with_value,
               const std::set<std::string>& switches, Args* out, std::string* error) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h") a = "--help";
    if (a.size() < 2 || a[0] != '-' || a == "-") {
      out->positional.push_back(a);
      continue;
    }
    std::string name = a;
    std::optional<std::string> inline_value;
    if (size_t eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      inline_value = a.substr(eq + 1);
    }
    if (switches.count(name)) {
      if (inline_value) {
        *error = name + " takes no value";
        return false;
      }
      out->switches.insert(name);
    } else if (with_value.count(name)) {
      if (inline_value) {
        out->values[name] = *inline_value;
      } else if (i + 1 < argc) {
        out->values[name] = argv[++i];
      } else {
        *error = name + " needs a value";
        return false;
      }
    } else {
      *error = "unknown option " + name;
      return false;
    }
  }
  return true;
}

}  // namespace laneway::cli
