// laneway's configuration: one declarative table of keys, loaded whole and
// validated whole before anything uses it (all-or-nothing, like OTP child specs).
//
// Errors name the file, the line and the key: "laneway.toml:7: agents.main.run_timeout:
// bad duration \"ten\" (expected e.g. \"250ms\", \"10s\", \"5m\")". See docs/config.md.
#ifndef LANEWAY_COMMON_CONFIG_H_
#define LANEWAY_COMMON_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace laneway::common {

enum class RunnerKind { kEcho, kExec, kOpenAi };
enum class QueueMode { kQueue, kCollect, kInterrupt };
// How the supervisor's loop thread and libzmq's I/O thread are scheduled
// ([supervisor] loop_scheduling; docs/scaling.md, "CPU priority").
enum class LoopScheduling { kNormal, kShortSlice, kRealtime };

const char* RunnerKindName(RunnerKind k);
const char* QueueModeName(QueueMode m);
const char* LoopSchedulingName(LoopScheduling m);

struct AgentConfig {
  std::string id;  // the key under [agents]
  RunnerKind runner = RunnerKind::kEcho;
  std::vector<std::string> command;  // exec: argv, required non-empty for exec
  std::chrono::milliseconds run_timeout{std::chrono::minutes(10)};
  std::chrono::milliseconds kill_grace{std::chrono::seconds(5)};
  QueueMode queue_mode = QueueMode::kQueue;
  uint32_t max_queue = 100;       // queued turns per session (1..1000000)
  bool retry_on_restart = false;  // re-run a turn that was running when the supervisor died
  uint32_t max_attempts = 3;      // worker-killing failures before a turn is 'poison' (1..100)

  // runner = "openai" only (docs/openai.md). Secrets never live here: api_key_env
  // and api_key_file say where the worker finds the key.
  std::string base_url;     // required, http:// or https://, e.g. "http://127.0.0.1:11434/v1"
  std::string model;        // required
  std::string api_key_env;  // at most one of api_key_env / api_key_file
  std::string api_key_file;
  std::string system_prompt;  // at most one of system_prompt / system_prompt_file
  std::string system_prompt_file;
  uint32_t max_completion_tokens = 0;  // 0 = not sent
  std::optional<double> temperature;   // 0..2, not sent when unset
  uint32_t history_turns = 20;         // exchanges replayed (0..10000)
  uint32_t history_bytes = 256 << 10;  // bytes of replayed text (0..64 MiB)
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};  // no byte this long
  std::vector<std::string> fallback_models;
  std::map<std::string, std::string> headers;  // extra request headers

  bool operator==(const AgentConfig&) const = default;
};

struct SupervisorConfig {
  uint32_t max_workers = 64;  // 1..100000
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds heartbeat_interval{std::chrono::seconds(1)};
  std::chrono::milliseconds heartbeat_timeout{std::chrono::seconds(10)};  // must be > interval
  uint32_t restart_limit = 5;  // deaths in restart_window
  std::chrono::milliseconds restart_window{std::chrono::seconds(30)};
  std::chrono::milliseconds restart_backoff{std::chrono::milliseconds(100)};  // first delay
  std::chrono::milliseconds restart_backoff_max{std::chrono::seconds(5)};     // cap (doubling)
  std::chrono::milliseconds stuck_after{std::chrono::minutes(15)};  // busy longer = 'stuck'
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(30)};
  uint32_t max_message_bytes = 1 << 20;   // control/worker message size cap (1 KiB..64 MiB)
  uint32_t max_turns_in_memory = 100000;  // total queued turns across all sessions
  // Finished turns stay answerable (wait, turn, idempotent retries) until more than
  // remember_turns newer ones have finished or they ended longer than remember_for
  // ago, whichever comes first (docs/config.md, "Remembered outcomes").
  uint32_t remember_turns = 10000;  // 1..10000000
  std::chrono::milliseconds remember_for{std::chrono::hours(24)};
  // Workers started ahead of need, bound to a session on its first turn (0 = none).
  uint32_t spare_workers = 0;
  // Workers launched that have not said hello yet, at most (the rest wait their turn);
  // 0 = four per CPU (EffectiveSpawnConcurrency, supervisor/worker_pool.h).
  uint32_t spawn_concurrency = 0;
  // Launches per second, at most (0 = bounded by spawn_concurrency alone).
  uint32_t spawn_rate = 0;
  // Added to the supervisor's nice value for its workers (and so for the agents
  // they run), 0..19: the supervisor, which must answer `status` and route every
  // turn, outranks the work it supervises (docs/scaling.md, "CPU priority").
  uint32_t worker_nice = 5;
  // The loop thread and libzmq's I/O thread: "realtime" (SCHED_RR priority 1, where
  // the kernel allows it; else as "short-slice"), "short-slice" (the fair
  // scheduler's shortest slice, so a wake-up preempts sooner) or "normal".
  LoopScheduling loop_scheduling = LoopScheduling::kNormal;
  // Bytes of turn text held for turns not yet finished (queued or running): per
  // session and in total. A submit past either is rejected at once (docs/security.md).
  uint32_t max_queued_bytes_per_session = 16u << 20;
  uint32_t max_queued_bytes_total = 1u << 30;
  // Who may connect to the control socket besides the supervisor's own uid and root
  // (common/config_security.cc; checked by supervisor/peer_auth.h).
  std::vector<uint32_t> control_allow_uids;
  std::string control_allow_group;  // a group name; its members and its gid may connect

  bool operator==(const SupervisorConfig&) const = default;
};

// [channels.http]: the gateway port (supervisor/channels/http/).
// The token comes from the environment variable `token_env` if it is set and
// non-empty, else from `token_file`; never from the config itself. The environment
// variable LANEWAY_HTTP_LISTEN, when set, overrides `listen` (and may use port 0).
struct HttpChannelConfig {
  bool enabled = false;
  std::string listen = "127.0.0.1:18789";
  std::string token_env = "LANEWAY_TOKEN";
  std::string token_file;  // absolute, or relative to LANEWAY_HOME
  // Not a TOML key: the built-in config sets it so that a missing token_file is
  // generated once (mode 0600) instead of refused.
  bool generate_token_file = false;
  std::string password_env;                    // optional: accept params.auth.password
  std::string paired_devices_file;             // the old gateway's devices/paired.json (migration)
  uint32_t max_connections = 1024;             // 1..100000
  uint32_t max_connections_per_address = 256;  // of them from one client IP (1..100000)
  uint32_t max_payload = 512 * 1024;           // bytes of one WS frame or HTTP body
  uint32_t max_buffered_bytes = 1536 * 1024;   // unsent bytes per connection before it is cut
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds tick_interval{std::chrono::seconds(30)};

  bool operator==(const HttpChannelConfig&) const = default;
};

// [channels.telegram]: the Telegram channel (supervisor/channels/telegram/).
// Keys are documented in docs/config.md; the behaviour in docs/telegram.md.
struct TelegramChannelConfig {
  bool enabled = false;
  // The bot token comes from exactly one of these (the env variable by default);
  // it is never logged or shown in status.
  std::string bot_token_env = "TELEGRAM_BOT_TOKEN";
  std::string bot_token_file;  // non-empty: read the token from this file instead
  std::string api_base = "https://api.telegram.org";  // tests point it at a local double
  std::string agent = "main";                         // the agent that answers
  std::vector<int64_t> allow_from;  // Telegram user ids; empty = everyone may talk
  bool allow_everyone = true;       // false once allow_from is given
  bool groups = false;              // answer in groups (only when mentioned or replied to)
  std::chrono::milliseconds poll_timeout{std::chrono::seconds(30)};     // getUpdates long poll
  std::chrono::milliseconds watchdog_margin{std::chrono::seconds(15)};  // + poll_timeout
  std::chrono::milliseconds typing_interval{std::chrono::seconds(4)};
  std::chrono::milliseconds retry_backoff{std::chrono::seconds(1)};       // first delay
  std::chrono::milliseconds retry_backoff_max{std::chrono::seconds(60)};  // cap (doubling)
  std::string parse_mode;  // "" plain text, or MarkdownV2 | HTML | Markdown

  bool operator==(const TelegramChannelConfig&) const = default;
};

// One table per channel kind; config.cc's kChannelKinds lists the readers.
struct ChannelsConfig {
  HttpChannelConfig http;
  TelegramChannelConfig telegram;

  bool operator==(const ChannelsConfig&) const = default;
};

// [cron] (common/config_cron.cc; docs/cron.md).
struct CronConfig {
  bool enabled = true;       // false: jobs are kept but none fires on schedule
  uint32_t max_jobs = 1000;  // 1..100000
  uint32_t runs_kept = 50;   // run history entries per job (1..10000)
  // A firing found due more than this late (downtime, a forward clock jump) is
  // "missed" and follows the job's catch_up; a later one just fires.
  std::chrono::milliseconds missed_after{std::chrono::minutes(1)};

  bool operator==(const CronConfig&) const = default;
};

// [subagents] (common/config_cron.cc; docs/subagents.md).
struct SubagentsConfig {
  uint32_t max_depth = 1;     // 1 = a subagent cannot spawn (1..5)
  uint32_t max_children = 5;  // unfinished children per parent session (1..1000)
  uint32_t max_workers = 8;   // subagent workers, their own share (1..100000)
  std::chrono::milliseconds run_timeout{std::chrono::minutes(5)};  // default per child
  bool kill_cancels_children = true;  // `laneway kill` of a parent cancels its children

  bool operator==(const SubagentsConfig&) const = default;
};

struct Config {
  std::string source;  // file path it was loaded from, or "<built-in>"
  SupervisorConfig supervisor;
  std::map<std::string, AgentConfig> agents;  // at least one
  ChannelsConfig channels;
  CronConfig cron;
  SubagentsConfig subagents;

  const AgentConfig* FindAgent(const std::string& id) const;
};

// The built-in default: one agent "main" with the echo runner.
Config DefaultConfig();

// What `laneway up` runs without a config file: DefaultConfig() plus the HTTP
// channel on 127.0.0.1:18789 with the token from LANEWAY_TOKEN or else
// $LANEWAY_HOME/token (generated once).
Config BuiltInConfig();

// Parses TOML text; `source_name` is used in error messages.
Result<Config> ParseConfig(const std::string& toml_text, const std::string& source_name);

// Reads and parses a file. A missing file is an IoError naming the path.
Result<Config> LoadConfigFile(const std::string& path);

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_CONFIG_H_
