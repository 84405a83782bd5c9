#include "supervisor/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <msgpack.hpp>
#include <string_view>
#include <utility>

#include "supervisor/crc32.h"

namespace laneway::supervisor {
namespace {

using common::Result;
using common::Status;
using Type = JournalRecord::Type;

constexpr uint32_t kMagic = 0x4C4A524E;  // bytes on disk: "NRJL"
constexpr std::string_view kMagicBytes("NRJL", 4);
constexpr size_t kHeaderSize = 12;         // magic, length, crc32c
constexpr size_t kMaxPayload = 64u << 20;  // larger lengths are corruption

// Bounds on what the msgpack parser will build from a payload, so that a
// damaged payload that happens to pass its checksum cannot make it allocate
// wildly. A record is one flat map of a dozen keys.
const msgpack::unpack_limit kUnpackLimit(/*array=*/16, /*map=*/32, /*str=*/kMaxPayload,
                                         /*bin=*/kMaxPayload, /*ext=*/0, /*depth=*/4);

void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

// errno -> Status, once, here. A full disk or quota is kUnavailable: the
// supervisor refuses new turns until space returns, rather than failing hard.
Status OsError(const std::string& what, int err) {
  if (err == ENOSPC || err == EDQUOT) return Status::Unavailable(what + ": " + std::strerror(err));
  return Status::FromErrno(what, err);
}

// ---- Payload encoding -------------------------------------------------------

// Key bits, used to check a decoded map for duplicates and required keys.
enum KeyBit : unsigned {
  kKeyType = 1u << 0,     // "t"
  kKeyId = 1u << 1,       // "id"
  kKeySession = 1u << 2,  // "s"
  kKeyAgent = 1u << 3,    // "a"
  kKeyMessage = 1u << 4,  // "m"
  kKeyAt = 1u << 5,       // "at"
  kKeyAttempt = 1u << 6,  // "n"
  kKeyStatus = 1u << 7,   // "st"
  kKeyText = 1u << 8,     // "x"
  kKeyOrigin = 1u << 9,   // "o"
  kKeyIdem = 1u << 10,    // "k"
  kKeyEnded = 1u << 11,   // "e"
};

unsigned RequiredKeys(Type type) {
  switch (type) {
    case Type::kAccept:
      return kKeyType | kKeyId | kKeySession | kKeyAgent | kKeyMessage | kKeyAt;
    case Type::kStart:
      return kKeyType | kKeyId | kKeyAttempt;
    case Type::kOutcome:
      return kKeyType | kKeyId | kKeyStatus | kKeyText;
    case Type::kDelivered:
    case Type::kHighWater:
      return kKeyType | kKeyId;
  }
  return ~0u;
}

// msgpack packer sink that appends to a std::string.
struct StringSink {
  std::string* out;
  void write(const char* data, size_t n) { out->append(data, n); }
};
using Packer = msgpack::packer<StringSink>;

void PackKey(Packer& pk, std::string_view key) {
  pk.pack_str(static_cast<uint32_t>(key.size()));
  pk.pack_str_body(key.data(), static_cast<uint32_t>(key.size()));
}

void PackString(Packer& pk, std::string_view key, const std::string& value) {
  PackKey(pk, key);
  pk.pack_str(static_cast<uint32_t>(value.size()));
  pk.pack_str_body(value.data(), static_cast<uint32_t>(value.size()));
}

// Appends one frame for `r` to *out and returns its payload size. A field is
// written when its record type requires it or when it is set, so every record
// decodes to exactly what was encoded (operator== holds) while the common ones
// stay small.
size_t AppendFrame(const JournalRecord& r, std::string* out) {
  const size_t frame_start = out->size();
  out->append(kHeaderSize, '\0');
  const unsigned required = RequiredKeys(r.type);
  const bool s = (required & kKeySession) || !r.session.empty();
  const bool a = (required & kKeyAgent) || !r.agent.empty();
  const bool m = (required & kKeyMessage) || !r.message.empty();
  const bool at = (required & kKeyAt) || r.accepted_unix_ms != 0;
  const bool n = (required & kKeyAttempt) || r.attempt != 0;
  const bool st = (required & kKeyStatus) || !r.status.empty();
  const bool x = (required & kKeyText) || !r.text.empty();
  const bool o = !r.origin.empty();
  const bool k = !r.idempotency_key.empty();
  const bool e = r.ended_unix_ms != 0;

  StringSink sink{out};
  Packer pk(sink);
  pk.pack_map(2 + s + a + m + at + n + st + x + o + k + e);
  PackKey(pk, "t");
  pk.pack(static_cast<uint8_t>(r.type));
  PackKey(pk, "id");
  pk.pack(r.turn_id);
  if (s) PackString(pk, "s", r.session);
  if (a) PackString(pk, "a", r.agent);
  if (m) PackString(pk, "m", r.message);
  if (at) {
    PackKey(pk, "at");
    pk.pack(r.accepted_unix_ms);
  }
  if (n) {
    PackKey(pk, "n");
    pk.pack(r.attempt);
  }
  if (st) PackString(pk, "st", r.status);
  if (x) PackString(pk, "x", r.text);
  if (o) PackString(pk, "o", r.origin);
  if (k) PackString(pk, "k", r.idempotency_key);
  if (e) {
    PackKey(pk, "e");
    pk.pack(r.ended_unix_ms);
  }

  const size_t payload_size = out->size() - frame_start - kHeaderSize;
  char* header = out->data() + frame_start;
  PutU32(header, kMagic);
  PutU32(header + 4, static_cast<uint32_t>(payload_size));
  PutU32(header + 8, Crc32c(header + kHeaderSize, payload_size));
  return payload_size;
}

// ---- Payload decoding -------------------------------------------------------

bool GetString(const msgpack::object& o, std::string* out) {
  if (o.type == msgpack::type::STR) {
    out->assign(o.via.str.ptr, o.via.str.size);
    return true;
  }
  if (o.type == msgpack::type::BIN) {
    out->assign(o.via.bin.ptr, o.via.bin.size);
    return true;
  }
  return false;
}

bool GetUint(const msgpack::object& o, uint64_t max, uint64_t* out) {
  if (o.type != msgpack::type::POSITIVE_INTEGER || o.via.u64 > max) return false;
  *out = o.via.u64;
  return true;
}

bool GetInt64(const msgpack::object& o, int64_t* out) {
  if (o.type == msgpack::type::NEGATIVE_INTEGER) {
    *out = o.via.i64;
    return true;
  }
  uint64_t u = 0;
  if (!GetUint(o, INT64_MAX, &u)) return false;
  *out = static_cast<int64_t>(u);
  return true;
}

// Fills *r from a decoded map. Unknown keys are ignored, so that a newer writer's
// extra fields do not make its records unreadable; a duplicate key, a wrong type,
// an unknown record type or a missing required key rejects the record.
bool FromObject(const msgpack::object& obj, JournalRecord* r) {
  if (obj.type != msgpack::type::MAP) return false;
  JournalRecord rec;
  unsigned seen = 0;
  for (uint32_t i = 0; i < obj.via.map.size; ++i) {
    const msgpack::object_kv& kv = obj.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR) return false;
    const std::string_view key(kv.key.via.str.ptr, kv.key.via.str.size);
    const msgpack::object& v = kv.val;
    unsigned bit = 0;
    bool ok = false;
    uint64_t u = 0;
    if (key == "t") {
      bit = kKeyType;
      ok = GetUint(v, 5, &u) && u >= 1;
      rec.type = static_cast<Type>(u);
    } else if (key == "id") {
      bit = kKeyId;
      ok = GetUint(v, UINT64_MAX, &rec.turn_id);
    } else if (key == "s") {
      bit = kKeySession;
      ok = GetString(v, &rec.session);
    } else if (key == "a") {
      bit = kKeyAgent;
      ok = GetString(v, &rec.agent);
    } else if (key == "m") {
      bit = kKeyMessage;
      ok = GetString(v, &rec.message);
    } else if (key == "at") {
      bit = kKeyAt;
      ok = GetInt64(v, &rec.accepted_unix_ms);
    } else if (key == "n") {
      bit = kKeyAttempt;
      ok = GetUint(v, UINT32_MAX, &u);
      rec.attempt = static_cast<uint32_t>(u);
    } else if (key == "st") {
      bit = kKeyStatus;
      ok = GetString(v, &rec.status);
    } else if (key == "x") {
      bit = kKeyText;
      ok = GetString(v, &rec.text);
    } else if (key == "o") {
      bit = kKeyOrigin;
      ok = GetString(v, &rec.origin);
    } else if (key == "k") {
      bit = kKeyIdem;
      ok = GetString(v, &rec.idempotency_key);
    } else if (key == "e") {
      bit = kKeyEnded;
      ok = GetInt64(v, &rec.ended_unix_ms);
    } else {
      continue;
    }
    if (!ok || (seen & bit)) return false;
    seen |= bit;
  }
  if (!(seen & kKeyType)) return false;
  const unsigned required = RequiredKeys(rec.type);
  if ((seen & required) != required) return false;
  *r = std::move(rec);
  return true;
}

// The msgpack adapter: its exceptions (malformed input, limits, bad_alloc) stop here.
bool DecodePayload(const char* data, size_t size, JournalRecord* r) {
  try {
    size_t offset = 0;
    msgpack::object_handle oh = msgpack::unpack(data, size, offset, nullptr, nullptr, kUnpackLimit);
    if (offset != size) return false;  // trailing bytes: not what we wrote
    return FromObject(oh.get(), r);
  } catch (...) {
    return false;
  }
}

// ---- Reading ----------------------------------------------------------------

enum class FrameCheck { kValid, kNoMagic, kBad };

// Examines the frame starting at data[pos]. On kValid fills *r and *frame_size.
FrameCheck CheckFrame(std::string_view data, size_t pos, JournalRecord* r, size_t* frame_size) {
  const size_t avail = data.size() - pos;
  if (avail < 4 || data.substr(pos, 4) != kMagicBytes) return FrameCheck::kNoMagic;
  if (avail < kHeaderSize) return FrameCheck::kBad;
  const char* header = data.data() + pos;
  const size_t length = GetU32(header + 4);
  if (length > kMaxPayload || length > avail - kHeaderSize) return FrameCheck::kBad;
  const char* payload = header + kHeaderSize;
  if (Crc32c(payload, length) != GetU32(header + 8)) return FrameCheck::kBad;
  if (!DecodePayload(payload, length, r)) return FrameCheck::kBad;
  *frame_size = kHeaderSize + length;
  return FrameCheck::kValid;
}

// Walks the frames of `data` into *recovery and returns the end of the last valid
// frame. A damaged stretch followed by a valid frame is skipped and counted: one
// per frame header (magic) in it, at least one. A damaged stretch with no valid
// frame after it is the torn or corrupt tail; the caller cuts it.
size_t ScanFrames(std::string_view data, JournalRecovery* recovery) {
  size_t pos = 0;
  size_t valid_end = 0;
  while (pos < data.size()) {
    JournalRecord record;
    size_t frame_size = 0;
    const FrameCheck check = CheckFrame(data, pos, &record, &frame_size);
    if (check == FrameCheck::kValid) {
      recovery->records.push_back(std::move(record));
      pos += frame_size;
      valid_end = pos;
      continue;
    }
    // Resynchronise: the next magic whose whole frame validates. The frame length
    // we just read may itself be the damaged field, so it cannot be trusted to skip.
    uint64_t headers_seen = check == FrameCheck::kBad ? 1 : 0;
    size_t next = pos + 1;
    bool found = false;
    while ((next = data.find(kMagicBytes, next)) != std::string_view::npos) {
      if (CheckFrame(data, next, &record, &frame_size) == FrameCheck::kValid) {
        found = true;
        break;
      }
      ++headers_seen;
      ++next;
    }
    if (!found) break;
    recovery->corrupt_records += headers_seen > 0 ? headers_seen : 1;
    pos = next;
  }
  return valid_end;
}

Status ReadAll(int fd, const std::string& path, std::string* out) {
  struct stat st;
  if (fstat(fd, &st) != 0) return OsError("journal stat " + path, errno);
  out->clear();
  out->reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof(buf), static_cast<off_t>(out->size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return OsError("journal read " + path, errno);
    if (n == 0) return Status::Ok();
    out->append(buf, static_cast<size_t>(n));
  }
}

// ---- Writing ----------------------------------------------------------------

// mkdir -p: every missing component is created 0700 (the journal holds messages).
Status MakeDirs(const std::string& dir) {
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    const std::string prefix = dir.substr(0, slash);
    if (!prefix.empty() && prefix.back() != '/' && mkdir(prefix.c_str(), 0700) != 0 &&
        errno != EEXIST) {
      return OsError("journal mkdir " + prefix, errno);
    }
    if (slash == std::string::npos) break;
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return OsError("journal stat " + dir, errno);
  if (!S_ISDIR(st.st_mode)) return OsError("journal dir " + dir, ENOTDIR);
  return Status::Ok();
}

// Makes renames and file creations in `dir` durable.
Status SyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return OsError("journal open dir " + dir, errno);
  Status s;
  if (fsync(fd) != 0) s = OsError("journal sync dir " + dir, errno);
  close(fd);
  return s;
}

Status WriteAt(int fd, uint64_t offset, std::string_view data, const char* what) {
  while (!data.empty()) {
    ssize_t n = pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return OsError(what, errno);
    if (n == 0) return OsError(what, EIO);
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status TooLarge() {
  return Status::InvalidArgument("journal write: record larger than the 64 MiB limit");
}

}  // namespace

std::string EncodeJournalFrame(const JournalRecord& record) {
  std::string frame;
  AppendFrame(record, &frame);
  return frame;
}

Result<std::unique_ptr<Journal>> Journal::Open(const Options& options, JournalRecovery* recovery) {
  *recovery = JournalRecovery();
  if (options.dir.empty()) return Status::InvalidArgument("journal: empty directory");
  Status s = MakeDirs(options.dir);
  if (!s.ok()) return s;
  // A temp file left by a compaction that crashed before its rename is never the
  // journal: journal.log still holds every record.
  const std::string tmp_path = options.dir + "/journal.log.tmp";
  if (unlink(tmp_path.c_str()) != 0 && errno != ENOENT) {
    return OsError("journal unlink " + tmp_path, errno);
  }
  std::string path = options.dir + "/journal.log";
  // No O_APPEND: writes go to an explicit offset (pwrite), which O_APPEND would
  // override on Linux, and a failed batch is cut back to that offset.
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return OsError("journal open " + path, errno);

  std::string data;
  s = ReadAll(fd, path, &data);
  size_t valid_end = 0;
  if (s.ok()) valid_end = ScanFrames(data, recovery);
  if (s.ok() && valid_end < data.size()) {
    // Cut the torn tail now: the next Commit writes at valid_end, and stale bytes
    // left beyond a shorter batch could later be mistaken for records.
    if (ftruncate(fd, static_cast<off_t>(valid_end)) != 0) {
      s = OsError("journal truncate " + path, errno);
    } else if (options.sync && fdatasync(fd) != 0) {
      s = OsError("journal sync " + path, errno);
    }
    recovery->truncated_bytes = data.size() - valid_end;
  }
  // The directory entry of a journal created just now must survive a crash too.
  if (s.ok() && options.sync) s = SyncDir(options.dir);
  if (!s.ok()) {
    close(fd);
    *recovery = JournalRecovery();
    return s;
  }
  return std::unique_ptr<Journal>(new Journal(options, std::move(path), fd, valid_end));
}

Journal::Journal(Options options, std::string path, int fd, uint64_t size)
    : options_(std::move(options)), path_(std::move(path)), fd_(fd), committed_size_(size) {}

Journal::~Journal() {
  if (fd_ >= 0) close(fd_);
}

void Journal::Append(const JournalRecord& record) {
  if (AppendFrame(record, &batch_) > kMaxPayload) batch_oversize_ = true;
  ++pending_count_;
}

Status Journal::Commit() { return WriteBatch(options_.sync); }

Status Journal::Write() { return WriteBatch(false); }

Status Journal::Sync() {
  if (options_.sync_hook) {
    if (Status st = options_.sync_hook(); !st.ok()) return st;
  }
  if (options_.sync && fdatasync(fd_) != 0) return OsError("journal sync", errno);
  return Status::Ok();
}

Status Journal::WriteBatch(bool sync) {
  if (batch_.empty()) return Status::Ok();
  Status s;
  // An earlier failed batch whose bytes could not be cut off: cut them first, or
  // bytes beyond this (possibly shorter) batch could be recovered as records.
  if (tail_dirty_) {
    if (ftruncate(fd_, static_cast<off_t>(committed_size_)) != 0) {
      s = OsError("journal truncate", errno);
    } else {
      tail_dirty_ = false;
    }
  }
  if (s.ok() && batch_oversize_) s = TooLarge();
  if (s.ok() && options_.write_hook) s = options_.write_hook(batch_.size());
  if (s.ok()) s = WriteAt(fd_, committed_size_, batch_, "journal write");
  if (s.ok() && sync && fdatasync(fd_) != 0) s = OsError("journal sync", errno);

  if (s.ok()) {
    committed_size_ += batch_.size();
  } else if (!tail_dirty_) {
    // None of this batch is acknowledged, so none of it may come back at recovery:
    // cut whatever part reached the file. Best effort; if the cut fails, the next
    // Commit retries it before writing.
    if (ftruncate(fd_, static_cast<off_t>(committed_size_)) != 0) {
      tail_dirty_ = true;
    } else if (options_.sync) {
      (void)fdatasync(fd_);
    }
  }
  batch_.clear();
  pending_count_ = 0;
  batch_oversize_ = false;
  return s;
}

Status Journal::Compact(const std::vector<JournalRecord>& live) {
  std::string data;
  for (const JournalRecord& record : live) {
    if (AppendFrame(record, &data) > kMaxPayload) return TooLarge();
  }
  const std::string tmp_path = options_.dir + "/journal.log.tmp";
  int fd = open(tmp_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return OsError("journal compact open " + tmp_path, errno);
  Status s;
  if (options_.write_hook) s = options_.write_hook(data.size());
  if (s.ok()) s = WriteAt(fd, 0, data, "journal compact write");
  // The new file's contents must be on disk before its name replaces the old one,
  // or a crash right after the rename could leave an empty journal.
  if (s.ok() && options_.sync && fdatasync(fd) != 0) {
    s = OsError("journal compact sync " + tmp_path, errno);
  }
  if (s.ok() && rename(tmp_path.c_str(), path_.c_str()) != 0) {
    s = OsError("journal compact rename " + tmp_path, errno);
  }
  if (!s.ok()) {
    close(fd);
    unlink(tmp_path.c_str());
    return s;
  }
  // fd now refers to the file named journal.log, so it becomes the journal; there is
  // no reopen that could fail. From here there is no way back: a failed directory
  // sync is reported, but the new file stays in use (it holds every live record).
  close(fd_);
  fd_ = fd;
  committed_size_ = data.size();
  tail_dirty_ = false;
  if (options_.sync) return SyncDir(options_.dir);
  return Status::Ok();
}

}  // namespace laneway::supervisor
