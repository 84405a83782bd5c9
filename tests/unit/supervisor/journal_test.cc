#include "supervisor/journal.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <msgpack.hpp>
#include <string>
#include <vector>

#include "supervisor/crc32.h"
#include "tests/unit/supervisor/journal_records.h"
#include "tests/unit/temp_dir.h"

namespace laneway::supervisor {
namespace {

using namespace ::laneway::supervisor::test_records;

using ::laneway::testing_util::TempDir;

using common::Status;
using Type = JournalRecord::Type;
using namespace std::string_literals;
using Packer = msgpack::packer<msgpack::sbuffer>;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string LogPath(const TempDir& dir) { return dir.path() + "/journal.log"; }

Journal::Options MakeOptions(const TempDir& dir) {
  Journal::Options options;
  options.dir = dir.path();
  options.sync = true;
  return options;
}

std::unique_ptr<Journal> OpenOrDie(const Journal::Options& options, JournalRecovery* recovery) {
  auto journal = Journal::Open(options, recovery);
  EXPECT_TRUE(journal.ok()) << journal.status().ToString();
  if (!journal.ok()) return nullptr;
  return std::move(journal).value();
}

JournalRecovery Reopen(const Journal::Options& options) {
  JournalRecovery recovery;
  OpenOrDie(options, &recovery);
  return recovery;
}

// Writes `records` in one batch and returns the file offset where each frame ends.
std::vector<size_t> WriteRecords(const Journal::Options& options,
                                 const std::vector<JournalRecord>& records) {
  JournalRecovery recovery;
  auto journal = OpenOrDie(options, &recovery);
  std::vector<size_t> ends;
  size_t end = journal->size_bytes();
  for (const JournalRecord& r : records) {
    journal->Append(r);
    end += EncodeJournalFrame(r).size();
    ends.push_back(end);
  }
  EXPECT_TRUE(journal->Commit().ok());
  return ends;
}

// A frame around an arbitrary payload, with a correct checksum.
std::string FrameAround(const std::string& payload) {
  std::string frame = "NRJL";
  for (uint32_t v :
       {static_cast<uint32_t>(payload.size()), Crc32c(payload.data(), payload.size())}) {
    for (int i = 0; i < 4; ++i) frame.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  return frame + payload;
}

// Builds a msgpack payload by hand, for frames our encoder would never write.
template <typename F>
std::string Pack(F build) {
  msgpack::sbuffer buffer;
  Packer pk(buffer);
  build(pk);
  return std::string(buffer.data(), buffer.size());
}

template <typename V>
void Kv(Packer& pk, const std::string& key, const V& value) {
  pk.pack(key);
  pk.pack(value);
}

const std::vector<JournalRecord> kThree = {Accept(1), Start(1, 1), Outcome(1, "replied", "ok")};

TEST(JournalTest, Crc32cMatchesKnownVector) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32c("", 0), 0u);
  EXPECT_EQ(Crc32cExtend(Crc32c("1234", 4), "56789", 5), 0xE3069283u);
}

TEST(JournalTest, FrameStartsWithMagicLengthAndChecksum) {
  const std::string frame = EncodeJournalFrame(Accept(7));
  ASSERT_GT(frame.size(), 12u);
  EXPECT_EQ(frame.substr(0, 4), "NRJL");  // 0x4C4A524E little-endian
  EXPECT_EQ(FrameAround(frame.substr(12)), frame);
}

TEST(JournalTest, RoundTripsEveryRecordTypeIncludingEmptyAndBinaryStrings) {
  TempDir dir;
  const std::string binary("a\0b\xff\xfe\x00z", 7);
  JournalRecord empty_accept;
  empty_accept.turn_id = 0;
  JournalRecord negative_time = Accept(UINT64_MAX, binary);
  negative_time.accepted_unix_ms = -5;
  JournalRecord start_with_extras = Start(3, UINT32_MAX);
  start_with_extras.session = "kept too";
  const std::vector<JournalRecord> records = {Accept(1),
                                              empty_accept,
                                              negative_time,
                                              Start(1, 1),
                                              start_with_extras,
                                              Outcome(1, "", ""),
                                              Outcome(2, "failed", binary),
                                              Outcome(3, "replied", "done")};
  WriteRecords(MakeOptions(dir), records);
  JournalRecovery recovery = Reopen(MakeOptions(dir));
  EXPECT_EQ(recovery.records, records);
  EXPECT_EQ(recovery.corrupt_records, 0u);
  EXPECT_EQ(recovery.truncated_bytes, 0u);
}

TEST(JournalTest, RoundTripsOneMebibyteMessage) {
  TempDir dir;
  std::string big(1 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4099) big[i] = static_cast<char>(i % 256);
  WriteRecords(MakeOptions(dir), {Accept(1, big), Accept(2)});
  JournalRecovery recovery = Reopen(MakeOptions(dir));
  ASSERT_EQ(recovery.records.size(), 2u);
  EXPECT_EQ(recovery.records[0].message, big);
  EXPECT_EQ(recovery.records[1], Accept(2));
}

TEST(JournalTest, ReopenSeesEveryCommittedBatch) {
  TempDir dir;
  JournalRecovery recovery;
  {
    auto journal = OpenOrDie(MakeOptions(dir), &recovery);
    EXPECT_TRUE(journal->Commit().ok());  // nothing pending
    journal->Append(kThree[0]);
    journal->Append(kThree[1]);
    EXPECT_EQ(journal->pending(), 2u);
    ASSERT_TRUE(journal->Commit().ok());
    EXPECT_EQ(journal->pending(), 0u);
    journal->Append(kThree[2]);
    ASSERT_TRUE(journal->Commit().ok());
    EXPECT_EQ(journal->size_bytes(), std::filesystem::file_size(journal->path()));
    EXPECT_EQ(journal->path(), LogPath(dir));
  }
  recovery = Reopen(MakeOptions(dir));
  EXPECT_EQ(recovery.records, kThree);
}

TEST(JournalTest, DropsRecordsAppendedButNeverCommitted) {
  TempDir dir;
  {
    JournalRecovery recovery;
    auto journal = OpenOrDie(MakeOptions(dir), &recovery);
    journal->Append(Accept(1));
    ASSERT_TRUE(journal->Commit().ok());
    journal->Append(Accept(2));
  }
  JournalRecovery recovery = Reopen(MakeOptions(dir));
  EXPECT_EQ(recovery.records, std::vector<JournalRecord>{Accept(1)});
}

TEST(JournalTest, CreatesMissingDirectoriesWithMode0700) {
  TempDir dir;
  Journal::Options options = MakeOptions(dir);
  options.dir = dir.path() + "/home/journal";
  JournalRecovery recovery;
  auto journal = OpenOrDie(options, &recovery);
  ASSERT_NE(journal, nullptr);
  EXPECT_TRUE(recovery.records.empty());
  struct stat st;
  ASSERT_EQ(stat(options.dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((dir.path() + "/home").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(std::filesystem::exists(options.dir + "/journal.log"));
}

TEST(JournalTest, OpensEmptyFile) {
  TempDir dir;
  WriteFile(LogPath(dir), "");
  JournalRecovery recovery = Reopen(MakeOptions(dir));
  EXPECT_TRUE(recovery.records.empty());
  EXPECT_EQ(recovery.corrupt_records, 0u);
  EXPECT_EQ(recovery.truncated_bytes, 0u);
}

TEST(JournalTest, CutsFileOfOnlyGarbage) {
  TempDir dir;
  const std::string garbage = std::string(300, '\x5a') + "NRJL\x10\0\0\0junk"s + "NRJ";
  WriteFile(LogPath(dir), garbage);
  JournalRecovery recovery = Reopen(MakeOptions(dir));
  EXPECT_TRUE(recovery.records.empty());
  EXPECT_EQ(recovery.corrupt_records, 0u);
  EXPECT_EQ(recovery.truncated_bytes, garbage.size());
  EXPECT_EQ(std::filesystem::file_size(LogPath(dir)), 0u);
}

TEST(JournalTest, CutsTornTailAndKeepsEarlierRecords) {
  TempDir dir;
  const std::vector<size_t> ends = WriteRecords(MakeOptions(dir), kThree);
  const std::string full = ReadFile(LogPath(dir));
  const size_t good_end = ends[1];
  const size_t last_end = ends[2];
  // Inside the last frame's header (magic, length, checksum) and its payload.
  for (size_t cut : {good_end + 1, good_end + 3, good_end + 4, good_end + 6, good_end + 11,
                     good_end + 12, good_end + 13, last_end - 1}) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    WriteFile(LogPath(dir), full.substr(0, cut));
    JournalRecovery recovery;
    {
      auto journal = OpenOrDie(MakeOptions(dir), &recovery);
      EXPECT_EQ(recovery.records, std::vector<JournalRecord>(kThree.begin(), kThree.begin() + 2));
      EXPECT_EQ(recovery.truncated_bytes, cut - good_end);
      EXPECT_EQ(recovery.corrupt_records, 0u);
      EXPECT_EQ(std::filesystem::file_size(LogPath(dir)), good_end);
      EXPECT_EQ(journal->size_bytes(), good_end);
      journal->Append(Outcome(1, "failed", "again"));
      ASSERT_TRUE(journal->Commit().ok());
    }
    recovery = Reopen(MakeOptions(dir));
    EXPECT_EQ(recovery.records,
              (std::vector<JournalRecord>{kThree[0], kThree[1], Outcome(1, "failed", "again")}));
    EXPECT_EQ(recovery.truncated_bytes, 0u);
  }
}

TEST(JournalTest, SkipsRecordWithFlippedPayloadByteAndKeepsTheOthers) {
  TempDir dir;
  const std::vector<size_t> ends = WriteRecords(MakeOptions(dir), kThree);
  std::string data = ReadFile(LogPath(dir));
  data[ends[0] + 12 + 3] ^= 0x20;  // inside the second record's payload
  WriteFile(LogPath(dir), data);
  JournalRecovery recovery = Reopen(MakeOptions(dir));
  EXPECT_EQ(recovery.records, (std::vector<JournalRecord>{kThree[0], kThree[2]}));
  EXPECT_EQ(recovery.corrupt_records, 1u);
  EXPECT_EQ(recovery.truncated_bytes, 0u);
  EXPECT_EQ(std::filesystem::file_size(LogPath(dir)), ends[2]);
}

TEST(JournalTest, SkipsRecordWithFlippedLengthByteAndKeepsTheOthers) {
  // Low byte: a slightly wrong length. High byte: past the 64 MiB limit. Middle byte:
  // runs past the end of the file, yet must not be taken for a torn tail.
  for (auto [byte, mask] : {std::pair<size_t, char>{0, 0x01}, {1, 0x01}, {3, '\x80'}}) {
    SCOPED_TRACE("length byte " + std::to_string(byte));
    TempDir dir;
    const std::vector<size_t> ends = WriteRecords(MakeOptions(dir), kThree);
    std::string data = ReadFile(LogPath(dir));
    data[ends[0] + 4 + byte] ^= mask;
    WriteFile(LogPath(dir), data);
    JournalRecovery recovery = Reopen(MakeOptions(dir));
    EXPECT_EQ(recovery.records, (std::vector<JournalRecord>{kThree[0], kThree[2]}));
    EXPECT_EQ(recovery.corrupt_records, 1u);
    EXPECT_EQ(recovery.truncated_bytes, 0u);
  }
}

TEST(JournalTest, LosesOnlyTheRecordHoldingAFlippedByteWherever) {
  TempDir dir;
  Journal::Options options = MakeOptions(dir);
  options.sync = false;
  const std::vector<size_t> ends = WriteRecords(options, kThree);
  const std::string good = ReadFile(LogPath(dir));
  for (size_t pos = 0; pos < good.size(); ++pos) {
    SCOPED_TRACE("flipped byte " + std::to_string(pos));
    std::string data = good;
    data[pos] ^= 0x04;
    WriteFile(LogPath(dir), data);
    const size_t hit = pos < ends[0] ? 0 : pos < ends[1] ? 1 : 2;
    std::vector<JournalRecord> expected = kThree;
    expected.erase(expected.begin() + hit);
    JournalRecovery recovery = Reopen(options);
    EXPECT_EQ(recovery.records, expected);
    EXPECT_EQ(recovery.corrupt_records, hit == 2 ? 0u : 1u);
    EXPECT_EQ(recovery.truncated_bytes, hit == 2 ? ends[2] - ends[1] : 0u);
  }
}

TEST(JournalTest, CountsFramesWithValidChecksumButBadPayloadAsCorrupt) {
  const std::vector<std::string> bad_payloads = {
      "\xc1",  // not msgpack
      Pack([](Packer& pk) {
        pk.pack(std::vector<int>{1, 2});
      }),  // not a map
      Pack([](Packer& pk) {
        pk.pack(std::map<std::string, int>{{"t", 2}});
      }),  // no id, n
      Pack([](Packer& pk) {
        pk.pack(std::map<std::string, int>{{"t", 9}, {"id", 1}});
      }),
      Pack([](Packer& pk) {  // id of the wrong type
        pk.pack_map(3);
        Kv(pk, "t", 2);
        Kv(pk, "id", "one"s);
        Kv(pk, "n", 1);
      }),
      Pack([](Packer& pk) {  // negative attempt
        pk.pack_map(3);
        Kv(pk, "t", 2);
        Kv(pk, "id", 1);
        Kv(pk, "n", -1);
      }),
      Pack([](Packer& pk) {  // duplicate key
        pk.pack_map(4);
        Kv(pk, "t", 2);
        Kv(pk, "id", 1);
        Kv(pk, "n", 1);
        Kv(pk, "n", 2);
      }),
      EncodeJournalFrame(Start(1, 1)).substr(12) + "x",  // trailing bytes
  };
  for (size_t i = 0; i < bad_payloads.size(); ++i) {
    SCOPED_TRACE("payload " + std::to_string(i));
    TempDir dir;
    WriteFile(LogPath(dir), EncodeJournalFrame(Accept(1)) + FrameAround(bad_payloads[i]) +
                                EncodeJournalFrame(Accept(2)));
    JournalRecovery recovery = Reopen(MakeOptions(dir));
    EXPECT_EQ(recovery.records, (std::vector<JournalRecord>{Accept(1), Accept(2)}));
    EXPECT_EQ(recovery.corrupt_records, 1u);
  }
}

TEST(JournalTest, IgnoresUnknownKeysInPayload) {
  TempDir dir;
  const std::string payload = Pack([](Packer& pk) {
    pk.pack_map(4);
    Kv(pk, "t", 2);
    Kv(pk, "id", 5);
    Kv(pk, "n", 3);
    Kv(pk, "future", std::vector<int>{1, 2});
  });
  WriteFile(LogPath(dir), FrameAround(payload));
  JournalRecovery recovery = Reopen(MakeOptions(dir));
  EXPECT_EQ(recovery.records, std::vector<JournalRecord>{Start(5, 3)});
}

TEST(JournalTest, CutsGarbageAppendedAfterLastRecord) {
  TempDir dir;
  const std::vector<size_t> ends = WriteRecords(MakeOptions(dir), kThree);
  // Includes a magic with a bogus frame and a partial magic at the very end.
  const std::string garbage = "\0\0\xff"s + "NRJL\x05\0\0\0abcd12345"s + "NR";
  WriteFile(LogPath(dir), ReadFile(LogPath(dir)) + garbage);
  JournalRecovery recovery = Reopen(MakeOptions(dir));
  EXPECT_EQ(recovery.records, kThree);
  EXPECT_EQ(recovery.corrupt_records, 0u);
  EXPECT_EQ(recovery.truncated_bytes, garbage.size());
  EXPECT_EQ(std::filesystem::file_size(LogPath(dir)), ends[2]);
}

TEST(JournalTest, FailedWriteLeavesFileUnchangedAndNextCommitSucceeds) {
  TempDir dir;
  bool fail = false;
  std::vector<size_t> hook_sizes;
  Journal::Options options = MakeOptions(dir);
  options.write_hook = [&](size_t bytes) {
    hook_sizes.push_back(bytes);
    return fail ? Status::Unavailable("journal write: No space left on device") : Status::Ok();
  };
  JournalRecovery recovery;
  auto journal = OpenOrDie(options, &recovery);
  journal->Append(Accept(1));
  ASSERT_TRUE(journal->Commit().ok());
  const uint64_t size_before = journal->size_bytes();

  fail = true;
  journal->Append(Accept(2));
  journal->Append(Start(1, 1));
  Status s = journal->Commit();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_EQ(s.message(), "journal write: No space left on device");
  EXPECT_EQ(journal->pending(), 0u);
  EXPECT_EQ(journal->size_bytes(), size_before);
  EXPECT_EQ(std::filesystem::file_size(LogPath(dir)), size_before);

  fail = false;
  journal->Append(Accept(3));
  ASSERT_TRUE(journal->Commit().ok());
  EXPECT_EQ(hook_sizes.size(), 3u);
  EXPECT_EQ(hook_sizes[2], EncodeJournalFrame(Accept(3)).size());
  journal.reset();

  recovery = Reopen(MakeOptions(dir));
  EXPECT_EQ(recovery.records, (std::vector<JournalRecord>{Accept(1), Accept(3)}));
}

// A real short write: the file size limit (RLIMIT_FSIZE) lets part of the batch
// reach the file before write(2) fails with EFBIG; that part must be cut again.
TEST(JournalTest, CutsPartiallyWrittenBatchWhenTheDiskSaysNo) {
  TempDir dir;
  JournalRecovery recovery;
  auto journal = OpenOrDie(MakeOptions(dir), &recovery);
  journal->Append(Accept(1));
  ASSERT_TRUE(journal->Commit().ok());
  const uint64_t size_before = journal->size_bytes();

  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct sigaction ignore = {}, old_action = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &old_action), 0);
  struct rlimit limit = old_limit;
  limit.rlim_cur = size_before + 100;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  journal->Append(Accept(2, std::string(4096, 'y')));
  Status s = journal->Commit();
  setrlimit(RLIMIT_FSIZE, &old_limit);
  sigaction(SIGXFSZ, &old_action, nullptr);

  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_EQ(s.message().rfind("journal write: ", 0), 0u) << s.message();
  EXPECT_EQ(std::filesystem::file_size(LogPath(dir)), size_before);
  journal->Append(Accept(3));
  ASSERT_TRUE(journal->Commit().ok());
  journal.reset();
  recovery = Reopen(MakeOptions(dir));
  EXPECT_EQ(recovery.records, (std::vector<JournalRecord>{Accept(1), Accept(3)}));
}

TEST(JournalTest, RefusesBatchWithRecordOverSixtyFourMebibytes) {
  TempDir dir;
  JournalRecovery recovery;
  auto journal = OpenOrDie(MakeOptions(dir), &recovery);
  journal->Append(Accept(1, std::string(64u << 20, 'z')));
  Status s = journal->Commit();
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(std::filesystem::file_size(LogPath(dir)), 0u);
  journal->Append(Accept(2));
  ASSERT_TRUE(journal->Commit().ok());
  journal.reset();
  EXPECT_EQ(Reopen(MakeOptions(dir)).records, std::vector<JournalRecord>{Accept(2)});
}

TEST(JournalTest, CompactKeepsExactlyLiveRecordsThenAcceptsAppends) {
  TempDir dir;
  JournalRecovery recovery;
  auto journal = OpenOrDie(MakeOptions(dir), &recovery);
  for (uint64_t id = 1; id <= 5; ++id) journal->Append(Accept(id));
  journal->Append(Outcome(1, "replied", "one"));
  ASSERT_TRUE(journal->Commit().ok());

  const std::vector<JournalRecord> live = {Accept(1), Outcome(1, "replied", "one"), Accept(5)};
  ASSERT_TRUE(journal->Compact(live).ok());
  size_t live_size = 0;
  for (const JournalRecord& r : live) live_size += EncodeJournalFrame(r).size();
  EXPECT_EQ(journal->size_bytes(), live_size);
  EXPECT_EQ(std::filesystem::file_size(LogPath(dir)), live_size);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/journal.log.tmp"));

  journal->Append(Start(5, 1));
  ASSERT_TRUE(journal->Commit().ok());
  journal.reset();
  recovery = Reopen(MakeOptions(dir));
  std::vector<JournalRecord> expected = live;
  expected.push_back(Start(5, 1));
  EXPECT_EQ(recovery.records, expected);
  EXPECT_EQ(recovery.corrupt_records, 0u);
  EXPECT_EQ(recovery.truncated_bytes, 0u);
}

TEST(JournalTest, FailedCompactionKeepsOldJournalInUse) {
  TempDir dir;
  bool fail = false;
  Journal::Options options = MakeOptions(dir);
  options.write_hook = [&](size_t) {
    return fail ? Status::Unavailable("journal write: No space left on device") : Status::Ok();
  };
  JournalRecovery recovery;
  auto journal = OpenOrDie(options, &recovery);
  journal->Append(Accept(1));
  journal->Append(Accept(2));
  ASSERT_TRUE(journal->Commit().ok());
  const std::string before = ReadFile(LogPath(dir));

  fail = true;
  EXPECT_FALSE(journal->Compact({Accept(2)}).ok());
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/journal.log.tmp"));
  EXPECT_EQ(ReadFile(LogPath(dir)), before);
  EXPECT_EQ(journal->size_bytes(), before.size());

  fail = false;
  journal->Append(Accept(3));
  ASSERT_TRUE(journal->Commit().ok());
  journal.reset();
  EXPECT_EQ(Reopen(MakeOptions(dir)).records,
            (std::vector<JournalRecord>{Accept(1), Accept(2), Accept(3)}));
}

TEST(JournalTest, RemovesTempFileOfInterruptedCompaction) {
  TempDir dir;
  WriteRecords(MakeOptions(dir), {Accept(1)});
  WriteFile(dir.path() + "/journal.log.tmp", EncodeJournalFrame(Accept(2)));
  JournalRecovery recovery = Reopen(MakeOptions(dir));
  EXPECT_EQ(recovery.records, std::vector<JournalRecord>{Accept(1)});
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/journal.log.tmp"));
}

TEST(JournalTest, OpenFailsWhenDirectoryIsAFile) {
  TempDir dir;
  WriteFile(dir.path() + "/file", "x");
  Journal::Options options = MakeOptions(dir);
  options.dir = dir.path() + "/file";
  JournalRecovery recovery;
  auto journal = Journal::Open(options, &recovery);
  EXPECT_FALSE(journal.ok());
}

}  // namespace
}  // namespace laneway::supervisor
