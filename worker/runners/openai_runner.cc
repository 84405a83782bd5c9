// Order of a turn: read the key and the system prompt (cheap, and their errors
// are the clearest), rebuild the history, then attempts: each model in turn
// (primary, then fallback_models), each with retries as RetryPolicy decides.
// Once a stream has delivered content the turn is never retried: its deltas have
// already reached live readers, and a second answer would contradict them.
#include "worker/runners/openai_runner.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <thread>

#include "common/log.h"
#include "common/read_file.h"
#include "worker/runners/chat_history.h"
#include "worker/runners/openai_protocol.h"
#include "worker/runners/sse_parser.h"

namespace laneway::worker {

namespace {

using common::LogLevel;
using common::LogLine;
using common::Status;
using common::Value;
using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr size_t kMaxErrorBody = 64 << 10;
constexpr size_t kMaxSecretFile = 64 << 10;

class RealClock : public RunnerClock {
 public:
  SteadyTime Now() override { return std::chrono::steady_clock::now(); }
  void Sleep(milliseconds d, RunContext& context) override {
    const auto until = Now() + d;
    while (!context.Cancelled()) {
      auto left = until - Now();
      if (left <= SteadyTime::duration::zero()) return;
      std::this_thread::sleep_for(std::min<SteadyTime::duration>(left, milliseconds(50)));
    }
  }
  int64_t UnixSeconds() override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  double Random() override { return dist_(rng_); }

 private:
  std::mt19937_64 rng_{std::random_device{}()};
  std::uniform_real_distribution<double> dist_{0.0, 1.0};
};

int64_t MsBetween(SteadyTime a, SteadyTime b) {
  return std::chrono::duration_cast<milliseconds>(b - a).count();
}

std::string TrimSpace(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool HasPrefixNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// Receives one response: an error body, a whole JSON answer, or an SSE stream
// whose deltas are emitted as they are parsed.
class ChatSink : public HttpSink {
 public:
  ChatSink(RunContext& context, RunnerClock& clock, size_t max_reply)
      : context_(context), clock_(clock), max_reply_(max_reply) {}

  bool OnHead(const HttpHead& head) override {
    status_ = head.status;
    std::string type = head.Header("content-type");
    plain_ = status_ != 200 || HasPrefixNoCase(type, "application/json");
    if (auto ra = head.headers.find("retry-after-ms"); ra != head.headers.end()) {
      retry_after_ = ParseRetryAfter(ra->second, true, clock_.UnixSeconds());
    }
    if (auto ra = head.headers.find("retry-after"); !retry_after_ && ra != head.headers.end()) {
      retry_after_ = ParseRetryAfter(ra->second, false, clock_.UnixSeconds());
    }
    return true;
  }

  bool OnBody(std::string_view bytes) override {
    if (plain_) {
      const size_t cap = status_ == 200 ? max_reply_ * 2 + kMaxErrorBody : kMaxErrorBody;
      body_.append(bytes.substr(0, cap > body_.size() ? cap - body_.size() : 0));
      return true;
    }
    events_.clear();
    Status s = parser_.Feed(bytes, &events_);
    if (!s.ok()) return Fail("malformed event stream: " + s.message());
    return HandleEvents();
  }

  // After a complete transfer: the last event, or the whole plain answer.
  void Finish() {
    if (status_ != 200 || !failure_.empty()) return;
    if (plain_) {
      auto piece = ParseChatCompletion(body_);
      if (!piece.ok()) {
        Fail(piece.status().message());
        return;
      }
      Take(*piece);
      finished_ = true;
      return;
    }
    events_.clear();
    Status s = parser_.Finish(&events_);
    if (!s.ok()) {
      Fail("malformed event stream: " + s.message());
      return;
    }
    HandleEvents();
  }

  long status() const { return status_; }
  const std::string& body() const { return body_; }
  const std::string& text() const { return text_; }
  const std::string& failure() const { return failure_; }
  // The answer is whole: [DONE], a finish_reason, or a plain body.
  bool complete() const { return finished_ || !finish_reason_.empty(); }
  const std::string& model() const { return model_; }
  const std::string& finish_reason() const { return finish_reason_; }
  const std::optional<ChatUsage>& usage() const { return usage_; }
  std::optional<SteadyTime> first_token() const { return first_token_; }
  std::optional<milliseconds> retry_after() const { return retry_after_; }

 private:
  bool Fail(std::string why) {
    if (failure_.empty()) failure_ = std::move(why);
    return false;
  }

  bool HandleEvents() {
    for (const SseEvent& ev : events_) {
      if (finished_) break;  // nothing counts after [DONE]
      if (ev.data == "[DONE]") {
        finished_ = true;
        break;
      }
      auto piece = ParseChatChunk(ev.data);
      if (!piece.ok()) return Fail(piece.status().message());
      if (!Take(*piece)) return false;
    }
    return true;
  }

  bool Take(const ChatPiece& p) {
    if (!p.model.empty()) model_ = p.model;
    if (!p.finish_reason.empty()) finish_reason_ = p.finish_reason;
    if (p.usage) usage_ = p.usage;
    if (p.delta.empty()) return true;
    if (text_.size() + p.delta.size() > max_reply_) {
      return Fail("reply exceeds " + std::to_string(max_reply_) + " bytes");
    }
    if (!first_token_) first_token_ = clock_.Now();
    text_ += p.delta;
    context_.Emit(p.delta);
    return true;
  }

  RunContext& context_;
  RunnerClock& clock_;
  size_t max_reply_;
  long status_ = 0;
  bool plain_ = false;
  bool finished_ = false;
  SseParser parser_;
  std::vector<SseEvent> events_;
  std::string body_;
  std::string text_;
  std::string failure_;
  std::string model_;
  std::string finish_reason_;
  std::optional<ChatUsage> usage_;
  std::optional<SteadyTime> first_token_;
  std::optional<milliseconds> retry_after_;
};

}  // namespace

std::shared_ptr<RunnerClock> RealRunnerClock() { return std::make_shared<RealClock>(); }

common::Result<std::unique_ptr<OpenAiRunner>> OpenAiRunner::Create(
    const common::AgentConfig& agent, size_t max_reply_bytes, std::shared_ptr<RunnerClock> clock,
    RetryPolicy policy) {
  if (agent.base_url.empty() || agent.model.empty()) {
    return Status::InvalidArgument("the openai runner needs base_url and model");
  }
  auto http = HttpClient::Create();
  if (!http.ok()) return http.status();
  if (clock == nullptr) clock = RealRunnerClock();
  return std::unique_ptr<OpenAiRunner>(
      new OpenAiRunner(agent, max_reply_bytes, std::move(clock), policy, std::move(http).value()));
}

OpenAiRunner::OpenAiRunner(const common::AgentConfig& agent, size_t max_reply_bytes,
                           std::shared_ptr<RunnerClock> clock, RetryPolicy policy,
                           std::unique_ptr<HttpClient> http)
    : agent_(agent),
      max_reply_bytes_(max_reply_bytes),
      clock_(std::move(clock)),
      policy_(policy),
      http_(std::move(http)) {
  url_ = agent_.base_url;
  while (!url_.empty() && url_.back() == '/') url_.pop_back();
  url_ += "/chat/completions";
}

common::Result<std::string> OpenAiRunner::ReadApiKey() const {
  if (!agent_.api_key_env.empty()) {
    const char* v = std::getenv(agent_.api_key_env.c_str());
    if (v == nullptr || *v == '\0') {
      return Status::FailedPrecondition("api_key_env " + agent_.api_key_env +
                                        " is not set in the worker's environment");
    }
    return std::string(v);
  }
  if (!agent_.api_key_file.empty()) {
    auto text = common::ReadWholeFile(agent_.api_key_file, kMaxSecretFile * 16, "api_key_file");
    if (!text.ok()) return text.status();
    std::string key = TrimSpace(std::move(text).value());
    if (key.empty())
      return Status::FailedPrecondition("api_key_file " + agent_.api_key_file + " is empty");
    if (key.find_first_of("\r\n") != std::string::npos) {
      return Status::FailedPrecondition("api_key_file " + agent_.api_key_file +
                                        " holds more than one line");
    }
    return key;
  }
  return std::string();  // local servers need none
}

common::Result<std::string> OpenAiRunner::ReadSystemPrompt() const {
  if (agent_.system_prompt_file.empty()) return agent_.system_prompt;
  auto text =
      common::ReadWholeFile(agent_.system_prompt_file, kMaxSecretFile * 16, "system_prompt_file");
  if (!text.ok()) return text.status();
  return TrimSpace(std::move(text).value());
}

HttpRequest OpenAiRunner::MakeRequest(const std::string& body, const std::string& key,
                                      SteadyTime deadline) const {
  HttpRequest r;
  r.url = url_;
  r.body = body;
  r.connect_timeout = agent_.connect_timeout;
  r.idle_timeout = agent_.idle_timeout;
  // The runner's clock may be a test's; the transfer runs on the real one.
  r.deadline = std::chrono::steady_clock::now() + (deadline - clock_->Now());
  r.headers = {"Content-Type: application/json", "Accept: text/event-stream",
               "Expect:",  // no 100-continue round trip for larger bodies
               "User-Agent: laneway"};
  if (!key.empty()) r.headers.push_back("Authorization: Bearer " + key);
  for (const auto& [name, value] : agent_.headers) r.headers.push_back(name + ": " + value);
  return r;
}

TurnOutput OpenAiRunner::Run(const TurnInput& in, RunContext& context) {
  const SteadyTime start = clock_->Now();
  const SteadyTime deadline = start + agent_.run_timeout;
  TurnOutput out;
  out.meta = Value::MakeMap();
  int attempts = 0;
  auto finish = [&](bool ok, std::string text, const std::string& model) {
    out.ok = ok;
    out.text = std::move(text);
    out.meta.Set("model", model);
    out.meta.Set("attempts", attempts);
    out.meta.Set("latency_ms", MsBetween(start, clock_->Now()));
    return std::move(out);
  };

  auto key = ReadApiKey();
  if (!key.ok()) return finish(false, "openai: " + key.status().message(), agent_.model);
  auto system = ReadSystemPrompt();
  if (!system.ok()) return finish(false, "openai: " + system.status().message(), agent_.model);

  ChatRequest request;
  request.max_completion_tokens = agent_.max_completion_tokens;
  request.temperature = agent_.temperature;
  if (!system->empty()) request.messages.push_back({"system", *system});
  HistoryStats stats;
  if (history_ == nullptr || history_->path() != in.transcript_path) {
    history_ = std::make_unique<TranscriptHistory>(
        in.transcript_path, HistoryBudget{agent_.history_turns, agent_.history_bytes});
  }
  auto history = history_->Load(in.turn_id, &stats);
  if (!history.ok()) {
    LogLine(LogLevel::kWarn, "history_unreadable")
        .Kv("session", in.session)
        .Kv("error", history.status().message());
  } else {
    for (ChatMessage& m : *history) request.messages.push_back(std::move(m));
  }
  request.messages.push_back({"user", in.message});

  std::vector<std::string> models = {agent_.model};
  models.insert(models.end(), agent_.fallback_models.begin(), agent_.fallback_models.end());
  for (size_t mi = 0; mi < models.size(); ++mi) {
    const std::string& model = models[mi];
    request.model = model;
    const std::string body = ChatRequestJson(request);
    for (int attempt = 1;; ++attempt) {
      ++attempts;
      ChatSink sink(context, *clock_, max_reply_bytes_);
      HttpResult r = http_->Post(MakeRequest(body, *key, deadline), sink,
                                 [&context] { return context.Cancelled(); });
      if (r.end == HttpEnd::kComplete) sink.Finish();
      const std::string answered_by = sink.model().empty() ? model : sink.model();
      auto with_facts = [&](bool ok) {
        if (sink.usage()) {
          Value usage = Value::MakeMap();
          usage.Set("prompt_tokens", sink.usage()->prompt_tokens);
          usage.Set("completion_tokens", sink.usage()->completion_tokens);
          out.meta.Set("usage", std::move(usage));
        }
        if (sink.first_token()) {
          out.meta.Set("first_token_ms", MsBetween(start, *sink.first_token()));
        }
        if (!sink.finish_reason().empty()) out.meta.Set("finish_reason", sink.finish_reason());
        if (!ok && !sink.text().empty()) out.meta.Set("partial", sink.text());
        if (!ok && sink.status() != 0)
          out.meta.Set("http_status", static_cast<int64_t>(sink.status()));
      };
      const std::string where = "openai: model " + model + ": ";
      if (sink.status() == 200) {
        // The answer began; whatever happens now ends the turn.
        std::string why;
        if (!sink.failure().empty()) {
          why = sink.failure();
        } else if (r.end == HttpEnd::kComplete && sink.complete()) {
          with_facts(true);
          return finish(true, sink.text(), answered_by);
        } else if (r.end == HttpEnd::kComplete) {
          why = "the stream ended before the reply was complete (no [DONE])";
        } else {
          why = "the stream broke off: " + r.error;
        }
        with_facts(false);
        return finish(false, where + why, answered_by);
      }
      if (r.end == HttpEnd::kCancelled || r.end == HttpEnd::kDeadline || r.end == HttpEnd::kIdle ||
          r.end == HttpEnd::kUnavailable) {  // no libcurl: no retry can help
        with_facts(false);
        return finish(false, where + r.error, model);
      }
      AttemptFailure f;
      f.http_status = sink.status();
      if (f.http_status == 0) {
        f.message = "cannot reach " + url_ + ": " + r.error;
      } else {
        f.message = ServerErrorMessage(sink.body(), &f.error_code);
        f.retry_after = sink.retry_after();
      }
      const auto remaining = std::chrono::duration_cast<milliseconds>(deadline - clock_->Now());
      RetryDecision d = policy_.Decide(f, attempt, remaining, clock_->Random());
      const std::string what = f.http_status == 0
                                   ? f.message
                                   : "HTTP " + std::to_string(f.http_status) + ": " + f.message;
      if (d.action == RetryAction::kRetry) {
        LogLine(LogLevel::kInfo, "openai_retry")
            .Kv("session", in.session)
            .Kv("turn", in.turn_id)
            .Kv("model", model)
            .Kv("status", static_cast<int64_t>(f.http_status))
            .Kv("attempt", attempt)
            .Kv("delay_ms", static_cast<int64_t>(d.delay.count()));
        clock_->Sleep(d.delay, context);
        if (context.Cancelled()) return finish(false, where + "cancelled", model);
        continue;
      }
      if (d.action == RetryAction::kFallback && mi + 1 < models.size()) {
        LogLine(LogLevel::kInfo, "openai_fallback")
            .Kv("session", in.session)
            .Kv("turn", in.turn_id)
            .Kv("model", model)
            .Kv("status", static_cast<int64_t>(f.http_status))
            .Kv("next", models[mi + 1]);
        break;
      }
      if (d.action == RetryAction::kFallback) {
        d.why = mi == 0 ? "no fallback_models" : "no fallback model left";
      }
      with_facts(false);
      return finish(false, where + what + " (" + d.why + ")", model);
    }
  }
  return finish(false, "openai: no model to ask", agent_.model);  // models is never empty
}

}  // namespace laneway::worker
