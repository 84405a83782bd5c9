#include "common/transcript.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/temp_dir.h"

namespace laneway::common {
namespace {

using ::laneway::testing_util::TempDir;

constexpr size_t kBlock = 64 * 1024;  // the repair scans backwards in blocks of this size

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> Lines(const std::string& content) {
  std::vector<std::string> lines;
  std::istringstream in(content);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

Value Entry(int n) {
  Value v = Value::MakeMap();
  v.Set("n", n);
  v.Set("text", "line \"" + std::to_string(n) + "\"\nwith newline");
  return v;
}

// Opens `path`, expecting success, and returns the bytes the repair cut.
uint64_t OpenAndRepair(const std::string& path, std::unique_ptr<Transcript>* out = nullptr) {
  Transcript::OpenInfo info;
  info.repaired_bytes = 12345;  // must be overwritten
  Result<std::unique_ptr<Transcript>> t = Transcript::Open(path, &info);
  EXPECT_TRUE(t.ok()) << t.status().message();
  if (!t.ok()) return ~uint64_t{0};
  if (out != nullptr) *out = std::move(t).value();
  return info.repaired_bytes;
}

TEST(TranscriptTest, OpenCreatesANewEmptyFile) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.jsonl";
  std::unique_ptr<Transcript> t;
  EXPECT_EQ(OpenAndRepair(path, &t), 0u);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->path(), path);
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(std::filesystem::file_size(path), 0u);
}

TEST(TranscriptTest, OpenAcceptsNullInfo) {
  TempDir tmp;
  Result<std::unique_ptr<Transcript>> t = Transcript::Open(tmp.path() + "/s.jsonl", nullptr);
  EXPECT_TRUE(t.ok());
}

TEST(TranscriptTest, OpenFailsInAMissingDirectory) {
  TempDir tmp;
  Transcript::OpenInfo info;
  Result<std::unique_ptr<Transcript>> t = Transcript::Open(tmp.path() + "/no/s.jsonl", &info);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Status::Code::kIoError);
}

TEST(TranscriptTest, AppendWritesOneJsonLinePerEntry) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.jsonl";
  std::unique_ptr<Transcript> t;
  OpenAndRepair(path, &t);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(t->Append(Entry(i)).ok());
  const std::string content = ReadFile(path);
  EXPECT_EQ(content, ToJson(Entry(0)) + "\n" + ToJson(Entry(1)) + "\n" + ToJson(Entry(2)) + "\n");
  // Newlines inside strings are escaped, so every entry is exactly one line.
  EXPECT_EQ(Lines(content).size(), 3u);
}

TEST(TranscriptTest, AppendAfterReopenContinuesAtTheEnd) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.jsonl";
  {
    std::unique_ptr<Transcript> t;
    OpenAndRepair(path, &t);
    ASSERT_TRUE(t->Append(Entry(1)).ok());
  }
  std::unique_ptr<Transcript> t;
  EXPECT_EQ(OpenAndRepair(path, &t), 0u);
  ASSERT_TRUE(t->Append(Entry(2)).ok());
  EXPECT_EQ(ReadFile(path), ToJson(Entry(1)) + "\n" + ToJson(Entry(2)) + "\n");
}

TEST(TranscriptTest, ReopeningACleanFileCutsNothing) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.jsonl";
  const std::string clean = "{\"a\":1}\n{\"b\":2}\n";
  WriteFile(path, clean);
  EXPECT_EQ(OpenAndRepair(path), 0u);
  EXPECT_EQ(ReadFile(path), clean);
  EXPECT_EQ(OpenAndRepair(path), 0u);
  EXPECT_EQ(ReadFile(path), clean);
}

TEST(TranscriptTest, ReopeningAnEmptyFileCutsNothing) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.jsonl";
  WriteFile(path, "");
  EXPECT_EQ(OpenAndRepair(path), 0u);
  EXPECT_EQ(ReadFile(path), "");
}

TEST(TranscriptTest, TornLastLineIsCutBackToTheLastCompleteLine) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.jsonl";
  const std::string good = "{\"a\":1}\n{\"b\":2}\n";
  const std::string torn = "{\"c\":\"half";
  WriteFile(path, good + torn);
  std::unique_ptr<Transcript> t;
  EXPECT_EQ(OpenAndRepair(path, &t), torn.size());
  EXPECT_EQ(ReadFile(path), good);
  // New entries start on a line of their own.
  ASSERT_TRUE(t->Append(Entry(7)).ok());
  EXPECT_EQ(ReadFile(path), good + ToJson(Entry(7)) + "\n");
}

TEST(TranscriptTest, TornSingleByteAfterLastLineIsCut) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.jsonl";
  WriteFile(path, "{}\n{");
  EXPECT_EQ(OpenAndRepair(path), 1u);
  EXPECT_EQ(ReadFile(path), "{}\n");
}

TEST(TranscriptTest, FileWithNoNewlineAtAllIsEmptied) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.jsonl";
  const std::string torn = "{\"only\":\"torn";
  WriteFile(path, torn);
  EXPECT_EQ(OpenAndRepair(path), torn.size());
  EXPECT_EQ(ReadFile(path), "");
}

TEST(TranscriptTest, LargeFileWithShortTornTailKeepsAllCompleteLines) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.jsonl";
  std::string good;
  while (good.size() < 3 * kBlock) good += "{\"pad\":\"" + std::string(100, 'p') + "\"}\n";
  WriteFile(path, good + "{\"torn\":");
  EXPECT_EQ(OpenAndRepair(path), 8u);
  EXPECT_EQ(ReadFile(path), good);
}

TEST(TranscriptTest, TornLineStraddlingABlockBoundaryIsCutWhole) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.jsonl";
  // The last newline lies before the final 64 KiB block, so the scan must read a
  // second block to find it.
  const std::string good = "{\"a\":1}\n{\"b\":2}\n";
  const std::string torn = "{\"big\":\"" + std::string(kBlock + 5000, 'x');
  WriteFile(path, good + torn);
  EXPECT_EQ(OpenAndRepair(path), torn.size());
  EXPECT_EQ(ReadFile(path), good);
}

TEST(TranscriptTest, TornLineOfExactlyOneBlockIsCut) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.jsonl";
  const std::string good = "{}\n";
  const std::string torn(kBlock, 'y');
  WriteFile(path, good + torn);
  EXPECT_EQ(OpenAndRepair(path), torn.size());
  EXPECT_EQ(ReadFile(path), good);
}

TEST(TranscriptTest, NewlineAsFirstByteOfTheLastBlockIsFound) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.jsonl";
  const std::string good = std::string(1000, 'g') + "\n";  // its '\n' starts the last block
  const std::string torn(kBlock - 1, 'z');
  WriteFile(path, good + torn);
  EXPECT_EQ(OpenAndRepair(path), torn.size());
  EXPECT_EQ(ReadFile(path), good);
}

TEST(TranscriptTest, TornLineSpanningSeveralBlocksAfterManyLinesIsCut) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.jsonl";
  std::string good;
  while (good.size() < 2 * kBlock + 123) good += "{\"k\":\"" + std::string(77, 'k') + "\"}\n";
  const std::string torn = "{\"t\":\"" + std::string(3 * kBlock + 17, 't');
  WriteFile(path, good + torn);
  EXPECT_EQ(OpenAndRepair(path), torn.size());
  EXPECT_EQ(ReadFile(path), good);
}

TEST(TranscriptTest, LargeFileWithNoNewlineAtAllIsEmptied) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.jsonl";
  const std::string torn(2 * kBlock + 999, 'n');
  WriteFile(path, torn);
  EXPECT_EQ(OpenAndRepair(path), torn.size());
  EXPECT_EQ(std::filesystem::file_size(path), 0u);
}

TEST(TranscriptTest, RepairedFileReopensClean) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.jsonl";
  WriteFile(path, "{\"a\":1}\n" + std::string(kBlock + 1, 'r'));
  EXPECT_EQ(OpenAndRepair(path), kBlock + 1);
  EXPECT_EQ(OpenAndRepair(path), 0u);
  EXPECT_EQ(ReadFile(path), "{\"a\":1}\n");
}

}  // namespace
}  // namespace laneway::common
