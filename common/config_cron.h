// The [cron] and [subagents] sections of laneway.toml (docs/config.md), read
// apart from config.cc so that each section's keys sit beside their checks.
// Private to the config reader: config.cc calls ReadCronSection for either table
// and passes its error collector as `fail`.
#ifndef LANEWAY_COMMON_CONFIG_CRON_H_
#define LANEWAY_COMMON_CONFIG_CRON_H_

#include <functional>
#include <string>
#include <string_view>

#include "common/config.h"
#include "common/toml_import.h"

namespace laneway::common {

// Records one error at `node` for the dotted `key`.
using ConfigFail =
    std::function<void(const toml::node& node, const std::string& key, const std::string& what)>;

// `section` is "cron" or "subagents"; unknown keys and bad values go to `fail`.
void ReadCronSection(std::string_view section, const toml::table& t, const ConfigFail& fail,
                     Config& cfg);

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_CONFIG_CRON_H_
