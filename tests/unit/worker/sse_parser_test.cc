#include "worker/runners/sse_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace laneway::worker {
namespace {

std::vector<SseEvent> ParseInPieces(const std::string& stream, const std::vector<size_t>& cuts) {
  SseParser p;
  std::vector<SseEvent> out;
  size_t prev = 0;
  for (size_t cut : cuts) {
    EXPECT_TRUE(p.Feed(std::string_view(stream).substr(prev, cut - prev), &out).ok());
    prev = cut;
  }
  EXPECT_TRUE(p.Feed(std::string_view(stream).substr(prev), &out).ok());
  EXPECT_TRUE(p.Finish(&out).ok());
  return out;
}

// A stream with everything a server may send: comments, CRLF and bare CR line
// ends, a two-line data event, multi-byte UTF-8 (2, 3 and 4 bytes), an event type.
const std::string kStream =
    ": keep-alive\n\n"
    "data: {\"d\":\"caf\xC3\xA9\"}\r\n\r\n"
    "data:{\"d\":\"\xE2\x82\xAC and \xF0\x9F\x98\x80\"}\n\n"
    ":another comment\r"
    "\r"
    "event: ping\n"
    "data: first\n"
    "data: second\n"
    "\n"
    "id: 7\n"
    "retry: 100\n"
    "data: [DONE]\n\n";

const std::vector<SseEvent> kExpected = {
    {"", "{\"d\":\"caf\xC3\xA9\"}"},
    {"", "{\"d\":\"\xE2\x82\xAC and \xF0\x9F\x98\x80\"}"},
    {"ping", "first\nsecond"},
    {"", "[DONE]"},
};

TEST(SseParserTest, WholeStreamGivesEveryEventInOrder) {
  EXPECT_EQ(ParseInPieces(kStream, {}), kExpected);
}

TEST(SseParserTest, EverySingleCutGivesTheSameEvents) {
  // Covers a cut inside "data:", inside each UTF-8 character, between CR and LF.
  for (size_t cut = 1; cut < kStream.size(); ++cut) {
    EXPECT_EQ(ParseInPieces(kStream, {cut}), kExpected) << "cut at " << cut;
  }
}

TEST(SseParserTest, EveryPairOfCutsGivesTheSameEvents) {
  for (size_t a = 1; a < kStream.size(); ++a) {
    for (size_t b = a; b < kStream.size(); b += 3) {
      ASSERT_EQ(ParseInPieces(kStream, {a, b}), kExpected) << "cuts at " << a << "," << b;
    }
  }
}

TEST(SseParserTest, ByteByByteGivesTheSameEvents) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < kStream.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(ParseInPieces(kStream, cuts), kExpected);
}

TEST(SseParserTest, SplitInsideUtf8CharacterKeepsTheBytesWhole) {
  SseParser p;
  std::vector<SseEvent> out;
  ASSERT_TRUE(p.Feed("data: \xE2\x82", &out).ok());
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(p.Feed("\xAC\n\n", &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data, "\xE2\x82\xAC");
}

TEST(SseParserTest, CommentsAndKeepAlivesAreCountedNotDelivered) {
  SseParser p;
  std::vector<SseEvent> out;
  ASSERT_TRUE(p.Feed(": keep-alive\n\n:\n\n: ping\r\n\r\n", &out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(p.comments(), 3u);
}

TEST(SseParserTest, OnlyOneLeadingSpaceIsDropped) {
  SseParser p;
  std::vector<SseEvent> out;
  ASSERT_TRUE(p.Feed("data:x\n\ndata:  two\n\ndata\n\n", &out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].data, "x");
  EXPECT_EQ(out[1].data, " two");
  EXPECT_EQ(out[2].data, "");  // "data" with no colon is a data line with no value
}

TEST(SseParserTest, EventWithoutDataIsNotDispatched) {
  SseParser p;
  std::vector<SseEvent> out;
  ASSERT_TRUE(p.Feed("event: ping\n\nid: 3\n\n", &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(SseParserTest, FinishDeliversAnEventMissingItsBlankLine) {
  SseParser p;
  std::vector<SseEvent> out;
  ASSERT_TRUE(p.Feed("data: [DONE]\n", &out).ok());
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(p.Finish(&out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data, "[DONE]");

  SseParser q;
  std::vector<SseEvent> out2;
  ASSERT_TRUE(q.Feed("data: tail", &out2).ok());
  ASSERT_TRUE(q.Finish(&out2).ok());
  ASSERT_EQ(out2.size(), 1u);
  EXPECT_EQ(out2[0].data, "tail");
}

TEST(SseParserTest, CrLfCutBetweenChunksIsOneLineEnd) {
  SseParser p;
  std::vector<SseEvent> out;
  ASSERT_TRUE(p.Feed("data: a\r", &out).ok());
  ASSERT_TRUE(p.Feed("\n\r", &out).ok());
  ASSERT_EQ(out.size(), 1u);  // "\r\n" ended the line, the next "\r" the event
  ASSERT_TRUE(p.Feed("\ndata: b\r\n\r\n", &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].data, "b");
}

TEST(SseParserTest, OversizedEventFailsAndStaysFailed) {
  SseParser p(16);
  std::vector<SseEvent> out;
  EXPECT_FALSE(p.Feed("data: 0123456789abcdefXYZ", &out).ok());
  EXPECT_FALSE(p.Feed("\n\n", &out).ok());
  EXPECT_TRUE(out.empty());
  SseParser q(16);
  EXPECT_FALSE(q.Feed("data: 0123456789\ndata: 0123456789\n", &out).ok());
}

}  // namespace
}  // namespace laneway::worker
