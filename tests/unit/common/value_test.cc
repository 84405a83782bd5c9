#include "common/value.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <msgpack.hpp>
#include <random>
#include <string>
#include <vector>

namespace laneway::common {
namespace {

using namespace std::string_literals;
using Packer = msgpack::packer<msgpack::sbuffer>;

// The bytes that `pack` writes with a msgpack-c packer.
template <typename F>
std::string Packed(F pack) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pack(pk);
  return std::string(buf.data(), buf.size());
}

Result<Value> Decode(const std::string& bytes) { return DecodeMsgpack(bytes.data(), bytes.size()); }

// Decodes and checks that decoding failed with InvalidArgument and did not throw.
void ExpectRejected(const std::string& bytes) {
  Result<Value> r = Value();
  EXPECT_NO_THROW(r = Decode(bytes));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(r.status().message().empty());
}

void ExpectRoundTrip(const Value& v) {
  std::string bytes = EncodeMsgpack(v);
  Result<Value> back = Decode(bytes);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, v) << ToJson(v);
}

// A message that uses every kind, nested.
Value SampleMessage() {
  Value m = Value::MakeMap();
  m.Set("v", 1);
  m.Set("type", "submit");
  m.Set("flag", true);
  m.Set("nothing", nullptr);
  m.Set("pi", 3.25);
  Value arr = Value::MakeArray();
  arr.Push(-5);
  arr.Push("x");
  Value inner = Value::MakeMap();
  inner.Set("k", std::numeric_limits<int64_t>::max());
  arr.Push(inner);
  m.Set("list", arr);
  return m;
}

// ---- round trips -------------------------------------------------------------

TEST(ValueMsgpackTest, RoundTripsNullAndBools) {
  ExpectRoundTrip(Value());
  ExpectRoundTrip(Value(nullptr));
  ExpectRoundTrip(Value(true));
  ExpectRoundTrip(Value(false));
}

TEST(ValueMsgpackTest, RoundTripsIntegersAcrossEveryEncodingWidth) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  // Around every boundary of fixint, (u)int8/16/32/64.
  // clang-format off
  const std::vector<int64_t> ints = {
      0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295LL, 4294967296LL,
      -1, -32, -33, -128, -129, -32768, -32769, -2147483648LL, -2147483649LL, kMax, kMin};
  // clang-format on
  for (int64_t i : ints) {
    SCOPED_TRACE(i);
    ExpectRoundTrip(Value(i));
    Result<Value> back = Decode(EncodeMsgpack(Value(i)));
    ASSERT_TRUE(back.ok());
    ASSERT_TRUE(back->is_int());
    EXPECT_EQ(back->as_int(), i);
  }
}

TEST(ValueMsgpackTest, RoundTripsDoubles) {
  for (double d :
       {1.5, -2.75, 0.1, 1e308, -1e-308, 4.9e-324, 1e300 + 0.5,
        std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
    SCOPED_TRACE(d);
    Result<Value> back = Decode(EncodeMsgpack(Value(d)));
    ASSERT_TRUE(back.ok()) << back.status().message();
    ASSERT_EQ(back->kind(), Value::Kind::kDouble);
    EXPECT_EQ(back->as_double(), d);
  }
}

TEST(ValueMsgpackTest, RoundTripsIntegralDoublesAsDoubles) {
  for (double d : {0.0, -0.0, 2.0, -3.0, 1e15, 9.3e18, 1e19}) {
    SCOPED_TRACE(d);
    Result<Value> back = Decode(EncodeMsgpack(Value(d)));
    ASSERT_TRUE(back.ok()) << back.status().message();
    ASSERT_EQ(back->kind(), Value::Kind::kDouble);
    EXPECT_EQ(back->as_double(), d);
    EXPECT_EQ(std::signbit(back->as_double()), std::signbit(d));
  }
}

TEST(ValueMsgpackTest, DecodesFloat64WireValueAsDouble) {
  // 0xcb + big-endian IEEE 754 of 2.0: an integral value sent as a float stays a double.
  Result<Value> r = Decode("\xcb\x40\x00\x00\x00\x00\x00\x00\x00"s);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->kind(), Value::Kind::kDouble);
  EXPECT_EQ(r->as_double(), 2.0);
}

TEST(ValueMsgpackTest, RoundTripsStringsWithNulAndHighBytes) {
  ExpectRoundTrip(Value(""s));
  ExpectRoundTrip(Value("a\0b"s));
  ExpectRoundTrip(Value("\xff\xfe\x00\x80"s));
  ExpectRoundTrip(Value("h\xc3\xa9llo \xe2\x9c\x93"s));
  ExpectRoundTrip(Value(std::string(70000, 'z')));  // str32
  Result<Value> back = Decode(EncodeMsgpack(Value("a\0b\xff"s)));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->as_string().size(), 4u);
}

TEST(ValueMsgpackTest, RoundTripsEmptyAndNestedContainers) {
  ExpectRoundTrip(Value::MakeArray());
  ExpectRoundTrip(Value::MakeMap());
  Value nested = Value::MakeArray();
  nested.Push(Value::MakeArray());
  nested.Push(Value::MakeMap());
  ExpectRoundTrip(nested);
  ExpectRoundTrip(SampleMessage());
}

TEST(ValueMsgpackTest, RoundTripKeepsMapKeyOrder) {
  Value m = Value::MakeMap();
  m.Set("z", 1);
  m.Set("a", 2);
  m.Set("m", 3);
  Result<Value> back = Decode(EncodeMsgpack(m));
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->as_map().size(), 3u);
  EXPECT_EQ(back->as_map()[0].first, "z");
  EXPECT_EQ(back->as_map()[1].first, "a");
  EXPECT_EQ(back->as_map()[2].first, "m");
}

TEST(ValueMsgpackTest, DecodesBinAsString) {
  Result<Value> r = Decode(Packed([](Packer& pk) { pk.pack_bin(3).pack_bin_body("a\0b", 3); }));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->as_string(), "a\0b"s);
}

TEST(ValueMsgpackTest, DecodesFloat32AsDouble) {
  Result<Value> r = Decode(Packed([](Packer& pk) { pk.pack_float(0.5f); }));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->kind(), Value::Kind::kDouble);
  EXPECT_EQ(r->as_double(), 0.5);
}

TEST(ValueMsgpackTest, AcceptsInt64MaxSentAsUint64) {
  const uint64_t max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  Result<Value> r = Decode(Packed([&](Packer& pk) { pk.pack_uint64(max); }));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->as_int(), std::numeric_limits<int64_t>::max());
}

// ---- malformed input ---------------------------------------------------------

TEST(ValueMsgpackTest, RejectsEmptyInput) {
  ExpectRejected("");
  Result<Value> r = DecodeMsgpack(nullptr, 0);
  EXPECT_FALSE(r.ok());
}

TEST(ValueMsgpackTest, RejectsEveryStrictPrefixOfAValidMessage) {
  Value m = SampleMessage();
  m.Set("long", std::string(300, 'q'));  // str16 header
  m.Set("big", int64_t{1} << 40);        // int64 body
  const std::string bytes = EncodeMsgpack(m);
  ASSERT_TRUE(Decode(bytes).ok());
  for (size_t len = 1; len < bytes.size(); ++len) {
    SCOPED_TRACE(len);
    ExpectRejected(bytes.substr(0, len));
  }
}

TEST(ValueMsgpackTest, RejectsTrailingBytes) {
  std::string bytes = EncodeMsgpack(SampleMessage());
  ExpectRejected(bytes + '\xc0');
  ExpectRejected(bytes + bytes);
  ExpectRejected(EncodeMsgpack(Value(1)) + EncodeMsgpack(Value(2)));
}

// `levels` nested arrays around one integer.
std::string NestedArrays(int levels, bool innermost_empty = false) {
  return Packed([&](Packer& pk) {
    for (int i = 0; i < levels - 1; ++i) pk.pack_array(1);
    if (innermost_empty) {
      pk.pack_array(0);
    } else {
      pk.pack_array(1).pack_int(7);
    }
  });
}

// `levels` nested maps {"k": {"k": ... nil}}.
std::string NestedMaps(int levels) {
  return Packed([&](Packer& pk) {
    for (int i = 0; i < levels; ++i) pk.pack_map(1).pack_str(1).pack_str_body("k", 1);
    pk.pack_nil();
  });
}

TEST(ValueMsgpackTest, AcceptsNestingOfThirtyTwoContainers) {
  EXPECT_TRUE(Decode(NestedArrays(32)).ok());
  EXPECT_TRUE(Decode(NestedArrays(32, /*innermost_empty=*/true)).ok());
  EXPECT_TRUE(Decode(NestedMaps(32)).ok());
}

TEST(ValueMsgpackTest, RejectsNestingDeeperThanThirtyTwo) {
  ExpectRejected(NestedArrays(33));
  ExpectRejected(NestedArrays(34));
  ExpectRejected(NestedArrays(1000));
  ExpectRejected(NestedMaps(33));
  ExpectRejected(NestedMaps(500));
}

TEST(ValueMsgpackTest, RejectsThirtyThreeNestedContainersEvenWhenInnermostIsEmpty) {
  ExpectRejected(NestedArrays(33, /*innermost_empty=*/true));
}

TEST(ValueMsgpackTest, RejectsNonStringMapKeys) {
  // {1: "a"}
  ExpectRejected(
      Packed([](Packer& pk) { pk.pack_map(1).pack_int(1).pack_str(1).pack_str_body("a", 1); }));
  // [{nil: 2}]: nested inside an array
  ExpectRejected(Packed([](Packer& pk) { pk.pack_array(1).pack_map(1).pack_nil().pack_int(2); }));
  // {[]: 2}
  ExpectRejected(Packed([](Packer& pk) { pk.pack_map(1).pack_array(0).pack_int(2); }));
  // {bin "k": 2}
  ExpectRejected(
      Packed([](Packer& pk) { pk.pack_map(1).pack_bin(1).pack_bin_body("k", 1).pack_int(2); }));
}

TEST(ValueMsgpackTest, RejectsUint64AboveInt64Max) {
  for (uint64_t u : {static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1,
                     std::numeric_limits<uint64_t>::max()}) {
    ExpectRejected(Packed([&](Packer& pk) { pk.pack_uint64(u); }));
    ExpectRejected(Packed([&](Packer& pk) { pk.pack_array(1).pack_uint64(u); }));
  }
}

TEST(ValueMsgpackTest, RejectsExtTypes) {
  // fixext1
  ExpectRejected(Packed([](Packer& pk) { pk.pack_ext(1, 5).pack_ext_body("x", 1); }));
  // ext8 inside a map
  ExpectRejected(Packed([](Packer& pk) {
    pk.pack_map(1).pack_str(1).pack_str_body("e", 1).pack_ext(3, -1).pack_ext_body("abc", 3);
  }));
  // timestamp (ext -1, fixext4)
  ExpectRejected(Packed([](Packer& pk) { pk.pack_ext(4, -1).pack_ext_body("\0\0\0\1", 4); }));
}

TEST(ValueMsgpackTest, RejectsReservedByteAndOversizeHeaders) {
  ExpectRejected("\xc1"s);                  // never used
  ExpectRejected("\xdb\xff\xff\xff\xff"s);  // str32 claiming 4 GiB
  ExpectRejected("\xdd\xff\xff\xff\xff"s);  // array32 claiming 4 G elements
  ExpectRejected("\xdf\xff\xff\xff\xff"s);  // map32 claiming 4 G entries
  ExpectRejected(
      "\xc6\x00\x00\x10\x00"
      "ab"s);  // bin32 longer than the input
}

TEST(ValueMsgpackTest, RandomGarbageNeverThrowsOrCrashes) {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> len_dist(1, 48);
  std::uniform_int_distribution<int> byte_dist(0, 255);
  int decoded = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string bytes(static_cast<size_t>(len_dist(rng)), '\0');
    for (char& c : bytes) c = static_cast<char>(byte_dist(rng));
    Result<Value> r = Value();
    ASSERT_NO_THROW(r = Decode(bytes)) << "input #" << i;
    if (r.ok()) {
      ++decoded;
      // Whatever decoded is a usable value.
      EXPECT_FALSE(ToJson(*r).empty());
      EXPECT_FALSE(EncodeMsgpack(*r).empty());
    } else {
      EXPECT_FALSE(r.status().message().empty());
    }
  }
  // Mutations of a valid message: flip one byte at a time.
  const std::string valid = EncodeMsgpack(SampleMessage());
  for (size_t pos = 0; pos < valid.size(); ++pos) {
    for (int b : {0x00, 0x7f, 0x80, 0xc1, 0xd9, 0xdc, 0xde, 0xff}) {
      std::string bytes = valid;
      bytes[pos] = static_cast<char>(b);
      ASSERT_NO_THROW((void)Decode(bytes)) << "pos " << pos << " byte " << b;
    }
  }
  EXPECT_LT(decoded, 4000);
}

// ---- map helpers -------------------------------------------------------------

TEST(ValueMapTest, SetReplacesExistingKeyInPlace) {
  Value m = Value::MakeMap();
  m.Set("a", 1);
  m.Set("b", 2);
  m.Set("a", "one");
  ASSERT_EQ(m.as_map().size(), 2u);
  EXPECT_EQ(m.as_map()[0].first, "a");
  EXPECT_EQ(m.as_map()[0].second, Value("one"));
  EXPECT_EQ(m.as_map()[1].second, Value(2));
}

TEST(ValueMapTest, FindReturnsValueOrNull) {
  Value m = Value::MakeMap();
  m.Set("a", 1);
  ASSERT_NE(m.Find("a"), nullptr);
  EXPECT_EQ(*m.Find("a"), Value(1));
  EXPECT_EQ(m.Find("b"), nullptr);
  EXPECT_EQ(m.Find(""), nullptr);
  EXPECT_EQ(Value(5).Find("a"), nullptr);
  EXPECT_EQ(Value::MakeArray().Find("a"), nullptr);
  EXPECT_EQ(Value().Find("a"), nullptr);
}

Value TypedFields() {
  Value m = Value::MakeMap();
  m.Set("s", "text");
  m.Set("i", -42);
  m.Set("b", true);
  m.Set("n", nullptr);
  return m;
}

TEST(ValueMapTest, TypedGettersReturnValues) {
  Value m = TypedFields();
  ASSERT_TRUE(m.GetString("s").ok());
  EXPECT_EQ(*m.GetString("s"), "text");
  ASSERT_TRUE(m.GetInt("i").ok());
  EXPECT_EQ(*m.GetInt("i"), -42);
  ASSERT_TRUE(m.GetBool("b").ok());
  EXPECT_TRUE(*m.GetBool("b"));
}

void ExpectFieldError(const Status& s, const std::string& field) {
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find(field), std::string::npos) << s.message();
}

TEST(ValueMapTest, TypedGetterErrorsNameTheField) {
  Value m = TypedFields();
  ExpectFieldError(m.GetString("missing_str").status(), "missing_str");
  ExpectFieldError(m.GetString("i").status(), "'i'");
  ExpectFieldError(m.GetInt("missing_int").status(), "missing_int");
  ExpectFieldError(m.GetInt("s").status(), "'s'");
  ExpectFieldError(m.GetInt("b").status(), "'b'");
  ExpectFieldError(m.GetBool("missing_bool").status(), "missing_bool");
  ExpectFieldError(m.GetBool("i").status(), "'i'");
  ExpectFieldError(m.GetString("n").status(), "'n'");
  // Not a map at all: every field is missing.
  ExpectFieldError(Value(3).GetString("who").status(), "who");
}

TEST(ValueMapTest, GetIntRejectsDouble) {
  Value m = Value::MakeMap();
  m.Set("d", 1.0);
  ExpectFieldError(m.GetInt("d").status(), "'d'");
}

TEST(ValueMapTest, OrVariantsDefaultWhenAbsentOrNull) {
  Value m = TypedFields();
  EXPECT_EQ(*m.GetStringOr("absent", "dflt"), "dflt");
  EXPECT_EQ(*m.GetStringOr("n", "dflt"), "dflt");
  EXPECT_EQ(*m.GetStringOr("s", "dflt"), "text");
  EXPECT_EQ(*m.GetIntOr("absent", 9), 9);
  EXPECT_EQ(*m.GetIntOr("n", 9), 9);
  EXPECT_EQ(*m.GetIntOr("i", 9), -42);
  EXPECT_FALSE(*m.GetBoolOr("absent", false));
  EXPECT_TRUE(*m.GetBoolOr("n", true));
  EXPECT_TRUE(*m.GetBoolOr("b", false));
}

TEST(ValueMapTest, OrVariantsRejectPresentFieldOfWrongType) {
  Value m = TypedFields();
  ExpectFieldError(m.GetStringOr("i", "d").status(), "'i'");
  ExpectFieldError(m.GetIntOr("s", 0).status(), "'s'");
  ExpectFieldError(m.GetBoolOr("s", false).status(), "'s'");
}

// ---- JSON --------------------------------------------------------------------

TEST(ValueJsonTest, WritesScalars) {
  EXPECT_EQ(ToJson(Value()), "null");
  EXPECT_EQ(ToJson(Value(true)), "true");
  EXPECT_EQ(ToJson(Value(false)), "false");
  EXPECT_EQ(ToJson(Value(-17)), "-17");
  EXPECT_EQ(ToJson(Value(std::numeric_limits<int64_t>::min())), "-9223372036854775808");
  EXPECT_EQ(ToJson(Value(1.5)), "1.5");
  EXPECT_EQ(ToJson(Value(std::numeric_limits<double>::infinity())), "null");
  EXPECT_EQ(ToJson(Value(std::numeric_limits<double>::quiet_NaN())), "null");
}

TEST(ValueJsonTest, EscapesQuotesBackslashesAndNewlines) {
  EXPECT_EQ(ToJson(Value("say \"hi\"")), R"("say \"hi\"")");
  EXPECT_EQ(ToJson(Value("C:\\dir\\")), R"("C:\\dir\\")");
  EXPECT_EQ(ToJson(Value("a\nb\r\tc")), R"("a\nb\r\tc")");
  EXPECT_EQ(ToJson(Value("\b\f")), R"("\b\f")");
}

TEST(ValueJsonTest, EscapesOtherControlCharactersAsUnicode) {
  EXPECT_EQ(ToJson(Value("\x01")), R"("\u0001")");
  EXPECT_EQ(ToJson(Value("a\0b"s)), R"("a\u0000b")");
  std::string esc = ToJson(Value("\x1f\x1b"));
  std::transform(esc.begin(), esc.end(), esc.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  EXPECT_EQ(esc, R"("\u001f\u001b")");
  // No raw control byte is left in the output.
  std::string all;
  for (int c = 0; c < 0x20; ++c) all.push_back(static_cast<char>(c));
  for (char c : ToJson(Value(all))) EXPECT_GE(static_cast<unsigned char>(c), 0x20);
}

TEST(ValueJsonTest, PassesUtf8Through) { EXPECT_EQ(ToJson(Value("h\xc3\xa9")), "\"h\xc3\xa9\""); }

TEST(ValueJsonTest, EscapesMapKeys) {
  Value m = Value::MakeMap();
  m.Set("a\"b\n", 1);
  EXPECT_EQ(ToJson(m), R"({"a\"b\n":1})");
}

Value JsonSample() {
  Value m = Value::MakeMap();
  m.Set("a", 1);
  Value arr = Value::MakeArray();
  arr.Push(1);
  arr.Push("x");
  m.Set("b", arr);
  m.Set("c", Value::MakeMap());
  m.Set("d", Value::MakeArray());
  return m;
}

TEST(ValueJsonTest, CompactOutputHasNoWhitespace) {
  EXPECT_EQ(ToJson(JsonSample()), R"({"a":1,"b":[1,"x"],"c":{},"d":[]})");
  EXPECT_EQ(ToJson(Value::MakeMap()), "{}");
  EXPECT_EQ(ToJson(Value::MakeArray()), "[]");
}

TEST(ValueJsonTest, IndentedOutputPutsOneMemberPerLine) {
  const std::string expected =
      "{\n"
      "  \"a\": 1,\n"
      "  \"b\": [\n"
      "    1,\n"
      "    \"x\"\n"
      "  ],\n"
      "  \"c\": {},\n"
      "  \"d\": []\n"
      "}";
  EXPECT_EQ(ToJson(JsonSample(), 2), expected);
  EXPECT_EQ(ToJson(Value::MakeMap(), 4), "{}");
}

}  // namespace
}  // namespace laneway::common
