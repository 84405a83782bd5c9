// One parser and one selection serve the three entry points: BuildHistory (text),
// LoadHistory (a file's tail, once) and TranscriptHistory (a file followed turn
// after turn). Parsing is most of the cost of a history, so the follower parses
// each line once, when it first appears, and keeps only the newest turns.
#include "worker/runners/chat_history.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

namespace laneway::worker {

namespace {

using nlohmann::json;

// How much of the file's tail is read at first: the text budget, doubled for JSON
// escaping and the fields around it, plus room for lines of left-out turns.
constexpr uint64_t kTailSlack = 256 << 10;
constexpr uint64_t kMaxTail = 256ull << 20;

const std::string* StringField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

// `n` bytes at `offset`, or fewer at the end of the file.
common::Result<std::string> ReadAt(int fd, uint64_t offset, uint64_t n, const std::string& path) {
  std::string text(n, '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t r = ::pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return common::Status::FromErrno("read transcript " + path, errno);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  text.resize(got);
  return text;
}

}  // namespace

size_t HistoryState::Parse(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) break;  // not whole yet (or torn)
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      ++bad_lines;
      continue;
    }
    auto id_it = j.find("turn_id");
    const std::string* role = StringField(j, "role");
    if (id_it == j.end() || !id_it->is_number_unsigned() || role == nullptr) {
      ++bad_lines;
      continue;
    }
    const uint64_t id = id_it->get<uint64_t>();
    auto [it, inserted] = turns.try_emplace(id);
    if (inserted) order.push_back(id);
    Turn& t = it->second;
    const std::string* line_text = StringField(j, "text");
    if (*role == "user" && line_text != nullptr) {
      t.user = *line_text;  // a turn re-run after a restart writes its user line again
      t.has_user = true;
    } else if (*role == "assistant" && line_text != nullptr) {
      t.assistant = *line_text;
      t.has_assistant = true;
    } else if (*role == "error") {
      t.failed = true;
    } else if (*role == "outcome") {
      const std::string* status = StringField(j, "status");
      if (status == nullptr || *status != "replied") t.failed = true;
    }
  }
  return pos;
}

void HistoryState::KeepNewest(size_t n) {
  while (order.size() > n) {
    turns.erase(order.front());
    order.pop_front();
  }
}

std::vector<ChatMessage> HistoryState::Select(uint64_t exclude_turn, const HistoryBudget& budget,
                                              HistoryStats* stats) const {
  HistoryStats local;
  HistoryStats& st = stats != nullptr ? *stats : local;
  st = HistoryStats{};
  st.bad_lines = bad_lines;
  // Newest first, within the budget, then reversed.
  std::vector<const Turn*> kept;
  uint64_t bytes = 0;
  bool full = false;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (*it == exclude_turn) continue;
    const Turn& t = turns.at(*it);
    if (t.failed || !t.has_user || !t.has_assistant) {
      ++st.left_out;
      continue;
    }
    const uint64_t size = t.user.size() + t.assistant.size();
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

std::vector<ChatMessage> BuildHistory(std::string_view jsonl, uint64_t exclude_turn,
                                      const HistoryBudget& budget, HistoryStats* stats) {
  HistoryState state;
  if (state.Parse(jsonl) < jsonl.size()) ++state.bad_lines;  // torn: no newline
  return state.Select(exclude_turn, budget, stats);
}

common::Result<std::vector<ChatMessage>> LoadHistory(const std::string& path, uint64_t exclude_turn,
                                                     const HistoryBudget& budget,
                                                     HistoryStats* stats) {
  TranscriptHistory follower(path, budget);
  return follower.Load(exclude_turn, stats);
}

common::Result<std::vector<ChatMessage>> TranscriptHistory::Load(uint64_t exclude_turn,
                                                                 HistoryStats* stats) {
  if (budget_.max_turns == 0 || budget_.max_bytes == 0) {
    if (stats != nullptr) *stats = HistoryStats{};
    return std::vector<ChatMessage>{};
  }
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      state_ = HistoryState{};
      offset_ = 0;
      return state_.Select(exclude_turn, budget_, stats);
    }
    return common::Status::FromErrno("open transcript " + path_, errno);
  }
  struct stat sb;
  if (::fstat(fd, &sb) != 0) {
    int err = errno;
    ::close(fd);
    return common::Status::FromErrno("stat transcript " + path_, err);
  }
  const uint64_t size = static_cast<uint64_t>(sb.st_size);
  const bool fresh = !started_ || sb.st_ino != inode_ || size < offset_;
  uint64_t start = offset_;
  if (fresh) {
    state_ = HistoryState{};
    uint64_t want = budget_.max_bytes * 2 + kTailSlack;
    if (want > kMaxTail) want = kMaxTail;
    start = size > want ? size - want : 0;
  }
  auto text = ReadAt(fd, start, size - start, path_);
  ::close(fd);
  if (!text.ok()) return text.status();
  std::string_view view(*text);
  uint64_t skipped = 0;
  if (fresh && start > 0) {
    // The read began inside a line: start at the next whole one.
    size_t nl = view.find('\n');
    skipped = nl == std::string_view::npos ? view.size() : nl + 1;
    view.remove_prefix(skipped);
  }
  const size_t used = state_.Parse(view);
  offset_ = start + skipped + used;
  inode_ = sb.st_ino;
  started_ = true;
  // Room for the budget's exchanges and for the left-out turns among them.
  state_.KeepNewest(static_cast<size_t>(budget_.max_turns) * 2 + 64);
  return state_.Select(exclude_turn, budget_, stats);
}

}  // namespace laneway::worker
