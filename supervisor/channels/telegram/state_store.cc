// File format: one JSON object {"offset", "epoch", "refused": [...], "sent":
// {"<turn_id>": n}}. JSON rather than binary because an operator may need to read
// it (or delete it to start over) and it is tiny.
#include "supervisor/channels/telegram/state_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "common/paths.h"
#include "common/read_file.h"

namespace laneway::supervisor::telegram {

namespace {

using common::Status;
using nlohmann::json;

Status WriteAll(int fd, const std::string& data, const std::string& what) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(what, errno);
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

common::Result<StateStore> StateStore::Open(const std::string& dir, int64_t bot_id) {
  Status made = common::MakeDirs(dir, 0700);
  if (!made.ok()) return made;
  StateStore store(dir, dir + "/bot-" + std::to_string(bot_id) + ".json");
  // The channel's own small file; 1 MiB is far above what it writes.
  bool missing = false;
  auto text = common::ReadWholeFile(store.path_, 1 << 20, "", &missing);
  if (!text.ok()) return text.status();
  if (missing) return store;
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  const std::string bad = store.path_ + ": malformed channel state (delete it to start over)";
  if (!j.is_object()) return Status::InvalidArgument(bad);
  auto offset = j.find("offset");
  if (offset == j.end() || !offset->is_number_integer()) return Status::InvalidArgument(bad);
  store.state_.offset = offset->get<int64_t>();
  if (auto e = j.find("epoch"); e != j.end() && e->is_number_integer()) {
    store.state_.epoch = e->get<int64_t>();
  }
  if (auto r = j.find("refused"); r != j.end() && r->is_array()) {
    for (const json& id : *r) {
      if (id.is_number_integer()) store.state_.refused.insert(id.get<int64_t>());
    }
  }
  if (auto s = j.find("sent"); s != j.end() && s->is_object()) {
    for (auto it = s->begin(); it != s->end(); ++it) {
      char* end = nullptr;
      long long turn = std::strtoll(it.key().c_str(), &end, 10);
      if (*end == '\0' && turn > 0 && it.value().is_number_integer()) {
        store.state_.sent[turn] = it.value().get<int64_t>();
      }
    }
  }
  return store;
}

Status StateStore::Save() {
  json j = json::object();
  j["offset"] = state_.offset;
  j["epoch"] = state_.epoch;
  j["refused"] = json::array();
  for (int64_t id : state_.refused) j["refused"].push_back(id);
  j["sent"] = json::object();
  for (const auto& [turn, n] : state_.sent) j["sent"][std::to_string(turn)] = n;
  const std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("cannot write " + tmp, errno);
  Status st = WriteAll(fd, j.dump() + "\n", "cannot write " + tmp);
  // fsync before rename: otherwise the rename can reach the disk before the data,
  // and a crash leaves an empty file under the real name.
  if (st.ok() && ::fsync(fd) != 0) st = Status::FromErrno("fsync " + tmp, errno);
  ::close(fd);
  if (!st.ok()) return st;
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    return Status::FromErrno("cannot rename " + tmp, errno);
  }
  int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Status::FromErrno("cannot open " + dir_, errno);
  int rc = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  if (rc != 0) return Status::FromErrno("fsync " + dir_, err);
  return Status::Ok();
}

BatchPlan PlanBatch(int64_t stored_offset, const std::vector<int64_t>& ids) {
  BatchPlan plan;
  bool any_current = false;
  for (int64_t id : ids) any_current = any_current || id >= stored_offset;
  plan.reset = !ids.empty() && !any_current && stored_offset > 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (plan.reset || ids[i] >= stored_offset) plan.process.push_back(i);
  }
  return plan;
}

std::string IdempotencyKey(int64_t bot_id, int64_t update_id, int64_t epoch) {
  std::string key = "tg:" + std::to_string(bot_id) + ":" + std::to_string(update_id);
  if (epoch > 0) key += ":r" + std::to_string(epoch);
  return key;
}

}  // namespace laneway::supervisor::telegram
