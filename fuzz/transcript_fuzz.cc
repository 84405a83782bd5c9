// Fuzz target: the transcript readers — the chat history a worker rebuilds
// from a session's JSONL transcript (worker/runners/chat_history.cc), fed whole
// and in two pieces cut anywhere, and Transcript::Open's torn-line repair
// (common/transcript.cc).
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/transcript.h"
#include "worker/runners/chat_history.h"

namespace {

std::string Path() {
  static const std::string path = [] {
    const char* base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    return std::string(base) + "/laneway-transcript-fuzz-" + std::to_string(::getpid()) + ".jsonl";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace laneway;
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  worker::HistoryBudget budget;
  budget.max_turns = 1 + data[0] % 8;
  budget.max_bytes = 64u << (data[0] % 8);
  worker::HistoryStats stats;
  auto whole = worker::BuildHistory(text, data[0] % 4, budget, &stats);
  if (stats.bytes > budget.max_bytes || stats.exchanges > budget.max_turns) std::abort();

  // Incremental parsing, cut at a point the input chooses, gives the same turns.
  worker::HistoryState inc;
  const size_t cut = text.empty() ? 0 : data[0] % (text.size() + 1);
  size_t used = inc.Parse(text.substr(0, cut));
  used += inc.Parse(text.substr(used));
  worker::HistoryState one;
  one.Parse(text);
  if (inc.turns.size() != one.turns.size()) std::abort();

  const std::string path = Path();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) std::abort();
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) std::abort();
  ::close(fd);
  common::Transcript::OpenInfo info;
  auto t = common::Transcript::Open(path, &info);
  if (t.ok()) {
    // After the repair the file ends at a line end (or is empty).
    std::error_code ec;
    const auto left = std::filesystem::file_size(path, ec);
    if (ec || left + info.repaired_bytes != text.size()) std::abort();
    if (left > 0 && text[left - 1] != '\n') std::abort();
  }
  return 0;
}
