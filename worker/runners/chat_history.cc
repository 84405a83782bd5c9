#include "worker/runners/chat_history.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <nlohmann/json.hpp>

namespace laneway::worker {

namespace {

using nlohmann::json;

struct TurnLines {
  std::string user;
  std::string assistant;
  bool has_user = false;
  bool has_assistant = false;
  bool failed = false;
};

// How much of the file's tail LoadHistory reads: the text budget, doubled for JSON
// escaping and the fields around it, plus room for lines of left-out turns.
constexpr uint64_t kTailSlack = 256 << 10;
constexpr uint64_t kMaxTail = 256ull << 20;

const std::string* StringField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

}  // namespace

std::vector<ChatMessage> BuildHistory(std::string_view jsonl, uint64_t exclude_turn,
                                      const HistoryBudget& budget, HistoryStats* stats) {
  HistoryStats local;
  HistoryStats& st = stats != nullptr ? *stats : local;
  st = HistoryStats{};
  std::map<uint64_t, TurnLines> turns;
  std::vector<uint64_t> order;  // turn ids by first appearance
  size_t pos = 0;
  while (pos < jsonl.size()) {
    size_t nl = jsonl.find('\n', pos);
    if (nl == std::string_view::npos) {
      ++st.bad_lines;  // torn: written without its newline
      break;
    }
    std::string_view line = jsonl.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      ++st.bad_lines;
      continue;
    }
    auto id_it = j.find("turn_id");
    const std::string* role = StringField(j, "role");
    if (id_it == j.end() || !id_it->is_number_unsigned() || role == nullptr) {
      ++st.bad_lines;
      continue;
    }
    uint64_t id = id_it->get<uint64_t>();
    if (id == exclude_turn) continue;
    auto [it, inserted] = turns.try_emplace(id);
    if (inserted) order.push_back(id);
    TurnLines& t = it->second;
    const std::string* text = StringField(j, "text");
    if (*role == "user" && text != nullptr) {
      t.user = *text;  // a turn re-run after a restart writes its user line again
      t.has_user = true;
    } else if (*role == "assistant" && text != nullptr) {
      t.assistant = *text;
      t.has_assistant = true;
    } else if (*role == "error") {
      t.failed = true;
    } else if (*role == "outcome") {
      const std::string* status = StringField(j, "status");
      if (status == nullptr || *status != "replied") t.failed = true;
    }
  }
  // Newest first, within the budget, then reversed.
  std::vector<const TurnLines*> kept;
  uint64_t bytes = 0;
  bool full = false;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const TurnLines& t = turns[*it];
    if (t.failed || !t.has_user || !t.has_assistant) {
      ++st.left_out;
      continue;
    }
    uint64_t size = t.user.size() + t.assistant.size();
    if (full || kept.size() >= budget.max_turns || bytes + size > budget.max_bytes) {
      full = true;
      ++st.over_budget;
      continue;
    }
    bytes += size;
    kept.push_back(&t);
  }
  std::vector<ChatMessage> messages;
  messages.reserve(kept.size() * 2);
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
    messages.push_back({"user", (*it)->user});
    messages.push_back({"assistant", (*it)->assistant});
  }
  st.exchanges = kept.size();
  st.bytes = bytes;
  return messages;
}

common::Result<std::vector<ChatMessage>> LoadHistory(const std::string& path, uint64_t exclude_turn,
                                                     const HistoryBudget& budget,
                                                     HistoryStats* stats) {
  if (budget.max_turns == 0 || budget.max_bytes == 0) {
    if (stats != nullptr) *stats = HistoryStats{};
    return std::vector<ChatMessage>{};
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::vector<ChatMessage>{};
    return common::Status::FromErrno("open transcript " + path, errno);
  }
  struct stat sb;
  if (::fstat(fd, &sb) != 0) {
    int err = errno;
    ::close(fd);
    return common::Status::FromErrno("stat transcript " + path, err);
  }
  const uint64_t size = static_cast<uint64_t>(sb.st_size);
  uint64_t want = budget.max_bytes * 2 + kTailSlack;
  if (want > kMaxTail) want = kMaxTail;
  const uint64_t start = size > want ? size - want : 0;
  std::string text(size - start, '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(start + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return common::Status::FromErrno("read transcript " + path, err);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  std::string_view view(text);
  if (start > 0) {
    // The read began inside a line: start at the next whole one.
    size_t nl = view.find('\n');
    view = nl == std::string_view::npos ? std::string_view() : view.substr(nl + 1);
  }
  return BuildHistory(view, exclude_turn, budget, stats);
}

}  // namespace laneway::worker
