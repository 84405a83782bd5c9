// Fuzz target: the journal reader and recovery (supervisor/journal.cc,
// recovery.cc). The input is written as a journal file and opened, as a
// restarting supervisor would; what is read is then recovered and compacted.
//
// First byte even: the rest is the file as is. Odd: the rest is a list of
// payloads (len u16 LE | bytes) framed with correct magic, length and CRC, so
// that the fuzzer reaches the msgpack decoding behind the checksum.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "supervisor/crc32.h"
#include "supervisor/journal.h"
#include "supervisor/recovery.h"

namespace {

std::string Dir() {
  static const std::string dir = [] {
    const char* base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    return std::string(base) + "/laneway-journal-fuzz-" + std::to_string(::getpid());
  }();
  return dir;
}

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::string Framed(const uint8_t* data, size_t size) {
  std::string out;
  size_t pos = 0;
  while (pos + 2 <= size) {
    size_t len = data[pos] | (size_t{data[pos + 1]} << 8);
    pos += 2;
    if (len > size - pos) len = size - pos;
    out += "NRJL";
    PutU32(&out, static_cast<uint32_t>(len));
    PutU32(&out, laneway::supervisor::Crc32c(data + pos, len));
    out.append(reinterpret_cast<const char*>(data + pos), len);
    pos += len;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace laneway::supervisor;
  if (size == 0) return 0;
  const std::string file = (data[0] & 1)
                               ? Framed(data + 1, size - 1)
                               : std::string(reinterpret_cast<const char*>(data + 1), size - 1);
  std::filesystem::create_directories(Dir());
  const std::string path = Dir() + "/journal.log";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) std::abort();
  if (::write(fd, file.data(), file.size()) != static_cast<ssize_t>(file.size())) std::abort();
  ::close(fd);

  JournalRecovery rec;
  Journal::Options o;
  o.dir = Dir();
  o.sync = false;
  auto j = Journal::Open(o, &rec);
  if (!j.ok()) return 0;
  // What survived the scan is whole: its size is what was kept.
  if ((*j)->size_bytes() + rec.truncated_bytes != file.size()) std::abort();
  RecoveredState state = Recover(rec.records);
  (void)CompactionSet(state, 16);
  // Compaction writes what recovery keeps; reading it back must give the same.
  if ((*j)->Compact(CompactionSet(state, 1000000)).ok()) {
    j->reset();
    JournalRecovery again;
    auto j2 = Journal::Open(o, &again);
    if (!j2.ok() || again.corrupt_records != 0 || again.truncated_bytes != 0) std::abort();
  }
  return 0;
}
