// The openai figure: turns per second through 100 sessions of an openai agent
// against the OpenAI double (tests/doubles/openai_double.py), beside the floor of
// 100 raw libcurl clients posting the same request to the same double. The double
// is the bottleneck of both; the ratio says how much of its capacity laneway's
// path (supervisor, journal, workers, runner) keeps.
//
// History is off (history_turns = 0) so that both sides send the same body.
#include <curl/curl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

#include "bench/figures.h"
#include "bench/harness.h"

namespace laneway::bench {

namespace {

constexpr int kSessions = 100;
constexpr auto kRun = std::chrono::seconds(5);

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

// 100 threads, one kept-alive connection each, for `run`; turns per second.
double FloorRate(const std::string& url, const std::string& body, std::chrono::seconds run) {
  std::atomic<int64_t> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kSessions; ++i) {
    threads.emplace_back([&] {
      CURL* easy = curl_easy_init();
      curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/json");
      h = curl_slist_append(h, "Expect:");
      curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
      curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, Discard);
      curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
      while (!stop.load()) {
        if (curl_easy_perform(easy) == CURLE_OK) done.fetch_add(1);
      }
      curl_slist_free_all(h);
      curl_easy_cleanup(easy);
    });
  }
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(run);
  const int64_t n = done.load();
  const double secs = MicrosSince(t0) / 1e6;
  stop = true;
  for (auto& t : threads) t.join();
  return static_cast<double>(n) / secs;
}

}  // namespace

void RunOpenAi() {
  Log("openai: 100 sessions of an openai agent vs 100 raw libcurl clients, same double");
  curl_global_init(CURL_GLOBAL_DEFAULT);
  TempDir dir;
  const std::string port_file = dir.path() + "/port";
  pid_t py = Spawn({"/usr/bin/python3",
                    std::string(LANEWAY_SOURCE_DIR) + "/tests/doubles/openai_double.py",
                    "--port-file", port_file});
  int port = 0;
  for (int i = 0; i < 500 && port == 0; ++i) {  // bounded: 10 s
    std::ifstream(port_file) >> port;
    if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (py < 0 || port == 0) {
    EmitRow("openai turns/s, 100 sessions", "double did not start", "", "n/a", "");
    if (py > 0) KillGroup(py, SIGKILL);
    return;
  }
  const std::string base = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  Laneway lw(
      "[supervisor]\nmax_workers = 128\ndrain_timeout = \"2s\"\n\n[agents.main]\n"
      "runner = \"openai\"\nbase_url = \"" +
      base + "\"\nmodel = \"bench\"\nhistory_turns = 0\n");
  if (!lw.Start()) {
    EmitRow("openai turns/s, 100 sessions", "failed", "", "n/a", "");
    KillGroup(py, SIGKILL);
    return;
  }
  Dealer lc(Context(), lw.control_endpoint());
  auto is_outcome = [](const std::string& f) {
    auto r = ParseReply(f);
    return r && r->type == "outcome";
  };
  int64_t id_base = 0;
  auto req = [&](int64_t seq) {
    return SubmitBytes(id_base + seq, "main", "s" + std::to_string(seq % kSessions), Payload());
  };
  Log("openai: warm-up, every session gets its worker");
  PipelineResult warm =
      RunPipeline(lc, kSessions, kSessions * 2, std::chrono::seconds(60), req, is_outcome);
  id_base += 1000000;
  if (warm.completed < kSessions * 2) {
    EmitRow("openai turns/s, 100 sessions", "warm-up failed", "", "n/a", "");
    KillGroup(py, SIGKILL);
    return;
  }
  const std::string body = "{\"model\":\"bench\",\"messages\":[{\"role\":\"user\",\"content\":\"" +
                           Payload() +
                           "\"}],\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
  // Alternating rounds: laneway, floor, laneway, floor.
  double lsum = 0, fsum = 0;
  for (int round = 0; round < 2; ++round) {
    Log("openai: round " + std::to_string(round + 1));
    PipelineResult r = RunPipeline(lc, kSessions, 1'000'000, kRun, req, is_outcome);
    id_base += 2000000;
    lsum += r.rate();
    fsum += FloorRate(base + "/chat/completions", body, kRun);
  }
  const double l = lsum / 2, f = fsum / 2;
  EmitRow("openai turns/s, 100 sessions (double-bound)", FormatRate(l), FormatRate(f),
          FormatRatio(l, f), "");
  EmitNote(
      "openai: both sides are bound by the Python double; the ratio is the share of its "
      "capacity that laneway's whole path keeps");
  lw.Stop();
  KillGroup(py, SIGKILL);
  Reap(py);
}

}  // namespace laneway::bench
