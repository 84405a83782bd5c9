// openai-bench: the openai runner's own cost per turn, against a raw floor
// measured in the same run (docs/openai.md, "Benchmarks").
//
// Both talk to tests/doubles/openai_double.py on loopback over a kept-alive
// connection, turn by turn, alternating. The floor is plain libcurl posting the
// same precomputed request body and reading the stream without parsing it; the
// runner does a whole turn: key and prompt, the history rebuilt from a transcript
// of 20 exchanges, the request built, the stream parsed and each delta emitted.
// The difference of the medians is what the runner adds to a turn; the same for
// the first content byte (floor) vs the first Emit (runner).
//
//   openai-bench [TURNS]     prints a markdown table
#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/doubles/openai_double.h"
#include "worker/runners/chat_history.h"
#include "worker/runners/openai_protocol.h"
#include "worker/runners/openai_runner.h"

namespace {

using Clock = std::chrono::steady_clock;
using laneway::worker::RunContext;

double Us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double P90(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() * 9 / 10];
}

class FirstEmit : public RunContext {
 public:
  void Emit(std::string_view) override {
    if (first == Clock::time_point{}) first = Clock::now();
  }
  bool Cancelled() const override { return false; }
  Clock::time_point first{};
};

struct Floor {
  CURL* easy = curl_easy_init();
  curl_slist* headers = nullptr;
  std::string body;
  std::string got;
  Clock::time_point first{};

  static size_t Write(char* data, size_t size, size_t n, void* user) {
    auto* f = static_cast<Floor*>(user);
    std::string_view chunk(data, size * n);
    // The first byte of content: the first chunk that carries a content delta.
    if (f->first == Clock::time_point{} &&
        chunk.find("\"content\": \"e") != std::string_view::npos) {
      f->first = Clock::now();
    }
    f->got.append(chunk);
    return size * n;
  }
  Floor(const std::string& url, std::string b) : body(std::move(b)) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, Write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  }
  ~Floor() {
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
  }
  bool Turn() {
    got.clear();
    first = {};
    return curl_easy_perform(easy) == CURLE_OK && got.find("[DONE]") != std::string::npos;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int turns = argc > 1 ? std::atoi(argv[1]) : 300;
  char tmpl[] = "/tmp/laneway_openai_bench_XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;
  laneway::testing_util::OpenAiDouble server(dir);
  if (!server.ok()) {
    std::fprintf(stderr, "openai-bench: the double did not start\n");
    return 1;
  }
  // A session with 20 earlier exchanges of about 200 bytes each.
  const std::string transcript = dir + "/t.jsonl";
  {
    std::ofstream t(transcript);
    const std::string text(190, 'x');
    for (int i = 1; i <= 20; ++i) {
      t << "{\"ts\":1,\"turn_id\":" << i << ",\"role\":\"user\",\"text\":\"q" << i << text
        << "\"}\n{\"ts\":2,\"turn_id\":" << i << ",\"role\":\"assistant\",\"text\":\"a" << i << text
        << "\",\"model\":\"m\",\"latency_ms\":3}\n";
    }
  }
  laneway::common::AgentConfig agent;
  agent.id = "bench";
  agent.runner = laneway::common::RunnerKind::kOpenAi;
  agent.base_url = server.base_url();
  agent.model = "bench-model";
  agent.system_prompt = "You are a benchmark.";
  auto runner = laneway::worker::OpenAiRunner::Create(agent, 1 << 20);
  if (!runner.ok()) return 1;
  laneway::worker::TurnInput in;
  in.agent = "bench";
  in.session = "agent:bench:main";
  in.message = "ping with a few words in it";
  in.transcript_path = transcript;
  in.turn_id = 1000;

  // The floor sends what the runner sends, precomputed.
  laneway::worker::ChatRequest request;
  request.model = agent.model;
  request.messages.push_back({"system", agent.system_prompt});
  auto history = laneway::worker::LoadHistory(transcript, in.turn_id, {}, nullptr);
  for (auto& m : *history) request.messages.push_back(m);
  request.messages.push_back({"user", in.message});
  Floor floor(server.base_url() + "/chat/completions", laneway::worker::ChatRequestJson(request));

  std::vector<double> floor_total, floor_first, runner_total, runner_first;
  for (int i = 0; i < turns + 20; ++i) {
    const bool warm = i < 20;
    auto t0 = Clock::now();
    if (!floor.Turn()) {
      std::fprintf(stderr, "openai-bench: floor request failed\n");
      return 1;
    }
    auto t1 = Clock::now();
    if (!warm) {
      floor_total.push_back(Us(t1 - t0));
      floor_first.push_back(Us(floor.first - t0));
    }
    FirstEmit ctx;
    auto r0 = Clock::now();
    auto out = (*runner)->Run(in, ctx);
    auto r1 = Clock::now();
    if (!out.ok) {
      std::fprintf(stderr, "openai-bench: runner turn failed: %s\n", out.text.c_str());
      return 1;
    }
    if (!warm) {
      runner_total.push_back(Us(r1 - r0));
      runner_first.push_back(Us(ctx.first - r0));
    }
  }
  // The part of the runner's cost that comes before the request: the history
  // rebuilt from the transcript and the body built, by themselves.
  std::vector<double> prepare;
  for (int i = 0; i < turns; ++i) {
    auto p0 = Clock::now();
    laneway::worker::ChatRequest r;
    r.model = agent.model;
    r.messages.push_back({"system", agent.system_prompt});
    auto h = laneway::worker::LoadHistory(transcript, in.turn_id, {}, nullptr);
    for (auto& m : *h) r.messages.push_back(std::move(m));
    r.messages.push_back({"user", in.message});
    std::string body = laneway::worker::ChatRequestJson(r);
    prepare.push_back(Us(Clock::now() - p0));
    if (body.empty()) return 1;
  }
  std::printf(
      "| figure (%d turns, median) | runner | raw libcurl floor | added by the runner | target |\n",
      turns);
  std::printf("|---|---|---|---|---|\n");
  std::printf("| turn, 20 exchanges of history | %.0f us | %.0f us | %.0f us | < 1000 us |\n",
              Median(runner_total), Median(floor_total),
              Median(runner_total) - Median(floor_total));
  std::printf("| first token | %.0f us | %.0f us | %.0f us | < 200 us |\n", Median(runner_first),
              Median(floor_first), Median(runner_first) - Median(floor_first));
  std::printf("| turn, p90 | %.0f us | %.0f us | %.0f us | |\n", P90(runner_total),
              P90(floor_total), P90(runner_total) - P90(floor_total));
  std::printf("| history read afresh + request body (first turn of a worker) | %.0f us | | | |\n",
              Median(prepare));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
