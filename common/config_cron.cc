#include "common/config_cron.h"

#include <variant>

#include "common/duration.h"
#include "common/quote.h"

namespace laneway::common {

namespace {

using Millis = std::chrono::milliseconds;
constexpr Millis kMaxDuration = std::chrono::hours(24 * 365);

template <typename Cfg>
struct Key {
  std::string_view name;
  std::variant<uint32_t Cfg::*, Millis Cfg::*, bool Cfg::*> member;
  int64_t min = 0;
  int64_t max = 0;
};

const Key<CronConfig> kCronKeys[] = {
    {"enabled", &CronConfig::enabled},
    {"max_jobs", &CronConfig::max_jobs, 1, 100'000},
    {"runs_kept", &CronConfig::runs_kept, 1, 10'000},
    {"missed_after", &CronConfig::missed_after},
};

const Key<SubagentsConfig> kSubagentKeys[] = {
    {"max_depth", &SubagentsConfig::max_depth, 1, 5},
    {"max_children", &SubagentsConfig::max_children, 1, 1'000},
    {"max_workers", &SubagentsConfig::max_workers, 1, 100'000},
    {"run_timeout", &SubagentsConfig::run_timeout},
    {"kill_cancels_children", &SubagentsConfig::kill_cancels_children},
};

template <typename Cfg, size_t N>
void ReadKeys(const Key<Cfg> (&keys)[N], std::string_view section, const toml::table& t,
              const ConfigFail& fail, Cfg& cfg) {
  for (auto&& [k, node_binding] : t) {
    // A reference, not the binding itself: clang 14 (the fuzz and sanitizer build)
    // cannot capture a structured binding in a lambda.
    const toml::node& node = node_binding;
    const std::string key = std::string(section) + "." + std::string(k.str());
    const Key<Cfg>* found = nullptr;
    for (const Key<Cfg>& candidate : keys) {
      if (candidate.name == k.str()) found = &candidate;
    }
    if (found == nullptr) {
      fail(node, key, "unknown key");
      continue;
    }
    std::visit(
        [&](auto member) {
          using T = std::remove_reference_t<decltype(cfg.*member)>;
          if constexpr (std::is_same_v<T, uint32_t>) {
            const auto* v = node.as_integer();
            if (v == nullptr) return fail(node, key, "expected an integer");
            if (v->get() < found->min || v->get() > found->max) {
              return fail(node, key,
                          std::to_string(v->get()) + " is out of range (expected " +
                              std::to_string(found->min) + ".." + std::to_string(found->max) +
                              ")");
            }
            cfg.*member = static_cast<uint32_t>(v->get());
          } else if constexpr (std::is_same_v<T, Millis>) {
            const auto* v = node.as_string();
            if (v == nullptr) return fail(node, key, "expected a duration string such as \"10s\"");
            auto d = ParseDuration(v->get());
            if (!d.ok()) return fail(node, key, d.status().message());
            if (d->count() <= 0 || *d > kMaxDuration) {
              return fail(node, key, Quote(v->get()) + " is out of range (above 0, at most " +
                                         FormatDuration(kMaxDuration) + ")");
            }
            cfg.*member = *d;
          } else {
            const auto* b = node.as_boolean();
            if (b == nullptr) return fail(node, key, "expected a boolean");
            cfg.*member = b->get();
          }
        },
        found->member);
  }
}

}  // namespace

void ReadCronSection(std::string_view section, const toml::table& t, const ConfigFail& fail,
                     Config& cfg) {
  if (section == "cron") {
    ReadKeys(kCronKeys, section, t, fail, cfg.cron);
  } else {
    ReadKeys(kSubagentKeys, section, t, fail, cfg.subagents);
  }
}

}  // namespace laneway::common
