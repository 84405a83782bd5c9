#include "common/protocol.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace laneway::common {
namespace {

using namespace std::string_literals;

constexpr size_t kMax = 1 << 20;

Result<Value> DecodeValue(const Value& v, size_t max_bytes = kMax) {
  std::string bytes = EncodeMsgpack(v);
  return DecodeMessage(bytes.data(), bytes.size(), max_bytes);
}

void ExpectInvalid(const Result<Value>& r, const std::string& needle = "") {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  if (!needle.empty()) {
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  }
}

TEST(ProtocolTest, NewMessageCarriesVersionAndType) {
  Value m = NewMessage(msg::kPing);
  ASSERT_TRUE(m.is_map());
  EXPECT_EQ(*m.GetInt("v"), kProtocolVersion);
  EXPECT_EQ(*m.GetString("type"), "ping");
}

TEST(ProtocolTest, DecodeAcceptsValidMessageAndKeepsFields) {
  Value m = NewMessage(msg::kSubmit);
  m.Set("agent", "main");
  m.Set("message", "hello");
  m.Set("id", 7);
  std::string bytes = EncodeMessage(m);
  Result<Value> r = DecodeMessage(bytes.data(), bytes.size(), kMax);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, m);
  EXPECT_EQ(MessageType(*r), "submit");
  EXPECT_EQ(*r->GetString("agent"), "main");
  EXPECT_EQ(*r->GetInt("id"), 7);
}

TEST(ProtocolTest, DecodeAcceptsMessageOfExactlyMaxBytes) {
  std::string bytes = EncodeMessage(NewMessage(msg::kStatus));
  Result<Value> r = DecodeMessage(bytes.data(), bytes.size(), bytes.size());
  EXPECT_TRUE(r.ok()) << r.status().message();
}

TEST(ProtocolTest, DecodeRejectsOversizeMessageNamingTheLimit) {
  std::string bytes = EncodeMessage(NewMessage(msg::kStatus));
  const size_t limit = bytes.size() - 1;
  Result<Value> r = DecodeMessage(bytes.data(), bytes.size(), limit);
  ExpectInvalid(r, std::to_string(limit));
  EXPECT_NE(r.status().message().find(std::to_string(bytes.size())), std::string::npos)
      << r.status().message();
}

TEST(ProtocolTest, DecodeRejectsOversizeBeforeLookingAtTheBytes) {
  // Garbage that would fail to decode still reports the size first.
  std::string garbage(5000, '\xc1');
  Result<Value> r = DecodeMessage(garbage.data(), garbage.size(), 4096);
  ExpectInvalid(r, "4096");
}

TEST(ProtocolTest, DecodeRejectsMalformedMsgpack) {
  std::string bytes = EncodeMessage(NewMessage(msg::kPing));
  ExpectInvalid(DecodeMessage(bytes.data(), bytes.size() - 1, kMax));
  ExpectInvalid(DecodeMessage(bytes.data(), 0, kMax));
}

TEST(ProtocolTest, DecodeRejectsNonMapMessages) {
  Value arr = Value::MakeArray();
  arr.Push(1);
  arr.Push("ping");
  ExpectInvalid(DecodeValue(arr), "not a map");
  ExpectInvalid(DecodeValue(Value("ping")), "not a map");
  ExpectInvalid(DecodeValue(Value(1)), "not a map");
  ExpectInvalid(DecodeValue(Value()), "not a map");
}

TEST(ProtocolTest, DecodeRejectsMissingVersion) {
  Value m = Value::MakeMap();
  m.Set("type", "ping");
  ExpectInvalid(DecodeValue(m), "'v'");
}

TEST(ProtocolTest, DecodeRejectsNonIntegerVersion) {
  for (Value v : {Value("1"), Value(1.5), Value(true), Value(), Value::MakeArray()}) {
    Value m = Value::MakeMap();
    m.Set("v", v);
    m.Set("type", "ping");
    ExpectInvalid(DecodeValue(m), "'v'");
  }
}

TEST(ProtocolTest, DecodeRejectsVersionSentAsFloat) {
  // {"v": 1.0 (float64), "type": "ping"}, built byte by byte.
  const std::string bytes =
      "\x82"
      "\xa1v\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"
      "\xa4type\xa4ping"s;
  ExpectInvalid(DecodeMessage(bytes.data(), bytes.size(), kMax), "'v'");
}

TEST(ProtocolTest, DecodeRejectsWrongVersionNamingBothVersions) {
  for (int64_t wrong : {int64_t{0}, int64_t{2}, int64_t{-1}, int64_t{99}}) {
    SCOPED_TRACE(wrong);
    Value m = NewMessage(msg::kPing);
    m.Set("v", wrong);
    Result<Value> r = DecodeValue(m);
    ExpectInvalid(r, std::to_string(wrong));
    EXPECT_NE(r.status().message().find(std::to_string(kProtocolVersion)), std::string::npos)
        << r.status().message();
  }
}

TEST(ProtocolTest, DecodeRejectsMissingType) {
  Value m = Value::MakeMap();
  m.Set("v", kProtocolVersion);
  ExpectInvalid(DecodeValue(m), "type");
}

TEST(ProtocolTest, DecodeRejectsEmptyType) {
  Value m = NewMessage("");
  ExpectInvalid(DecodeValue(m), "type");
}

TEST(ProtocolTest, DecodeRejectsNonStringType) {
  for (Value t : {Value(1), Value(), Value(false), Value::MakeArray(), Value::MakeMap()}) {
    Value m = Value::MakeMap();
    m.Set("v", kProtocolVersion);
    m.Set("type", t);
    ExpectInvalid(DecodeValue(m), "type");
  }
}

const std::vector<TurnStatus>& AllStatuses() {
  static const std::vector<TurnStatus> all = {
      TurnStatus::kPending,   TurnStatus::kReplied,  TurnStatus::kFailed,     TurnStatus::kTimedOut,
      TurnStatus::kCancelled, TurnStatus::kRejected, TurnStatus::kInterrupted};
  return all;
}

TEST(TurnStatusTest, NamesMatchTheCliContract) {
  EXPECT_STREQ(TurnStatusName(TurnStatus::kPending), "pending");
  EXPECT_STREQ(TurnStatusName(TurnStatus::kReplied), "replied");
  EXPECT_STREQ(TurnStatusName(TurnStatus::kFailed), "failed");
  EXPECT_STREQ(TurnStatusName(TurnStatus::kTimedOut), "timed_out");
  EXPECT_STREQ(TurnStatusName(TurnStatus::kCancelled), "cancelled");
  EXPECT_STREQ(TurnStatusName(TurnStatus::kRejected), "rejected");
  EXPECT_STREQ(TurnStatusName(TurnStatus::kInterrupted), "interrupted");
}

TEST(TurnStatusTest, NameAndParseRoundTripForEveryStatus) {
  std::set<std::string> names;
  for (TurnStatus s : AllStatuses()) {
    const char* name = TurnStatusName(s);
    ASSERT_NE(name, nullptr);
    names.insert(name);
    std::optional<TurnStatus> parsed = ParseTurnStatus(name);
    ASSERT_TRUE(parsed.has_value()) << name;
    EXPECT_EQ(*parsed, s) << name;
  }
  EXPECT_EQ(names.size(), AllStatuses().size());
}

TEST(TurnStatusTest, ParseRejectsUnknownNames) {
  for (const char* bad : {"", "unknown", "Replied", "REPLIED", "timed-out", "timedout", " replied",
                          "replied ", "cancel", "pending\n"}) {
    EXPECT_FALSE(ParseTurnStatus(bad).has_value()) << '"' << bad << '"';
  }
}

}  // namespace
}  // namespace laneway::common
