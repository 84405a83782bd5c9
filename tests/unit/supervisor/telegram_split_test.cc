#include <gtest/gtest.h>

#include <string>

#include "supervisor/channels/telegram/message_split.h"

namespace laneway::supervisor::telegram {
namespace {

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

TEST(TelegramSplitTest, CountsUtf16CodeUnitsTheWayTelegramDoes) {
  EXPECT_EQ(Utf16Length("abc"), 3u);
  EXPECT_EQ(Utf16Length("é"), 1u);  // 2 bytes, 1 unit
  EXPECT_EQ(Utf16Length("€"), 1u);  // 3 bytes, 1 unit
  EXPECT_EQ(Utf16Length("😀"), 2u);  // 4 bytes, a surrogate pair
  EXPECT_EQ(Utf16Length("a😀b"), 4u);
  EXPECT_EQ(Utf16Length(std::string("\xff", 1)), 1u);  // invalid byte counts 1
}

TEST(TelegramSplitTest, ShortTextIsOnePieceAndEmptyTextNone) {
  EXPECT_EQ(SplitMessage("hello"), std::vector<std::string>{"hello"});
  EXPECT_TRUE(SplitMessage("").empty());
  std::string exact(4096, 'x');
  EXPECT_EQ(SplitMessage(exact).size(), 1u);
}

TEST(TelegramSplitTest, TenThousandCharactersBecomeThreePiecesInOrder) {
  // 100 paragraphs of 99 characters + "\n\n" = 10,100 characters.
  std::string text;
  for (int i = 0; i < 100; ++i) {
    std::string para = "p" + std::to_string(i) + " ";
    para += std::string(99 - para.size(), 'w');
    text += para + (i + 1 < 100 ? "\n\n" : "");
  }
  auto pieces = SplitMessage(text);
  ASSERT_EQ(pieces.size(), 3u);
  std::string joined;
  for (size_t i = 0; i < pieces.size(); ++i) {
    EXPECT_LE(Utf16Length(pieces[i]), 4096u);
    // Cut at a paragraph break: every piece starts with a paragraph's head.
    EXPECT_EQ(pieces[i][0], 'p') << i;
    joined += (i ? "\n\n" : "") + pieces[i];
  }
  EXPECT_EQ(joined, text);
}

TEST(TelegramSplitTest, PrefersParagraphThenLineThenWord) {
  // Limit 20: "aaaa aaaa\nbbbb bbbb\n\ncccc".
  auto p = SplitMessage("aaaaaaaaaaaa\n\nbbbb bbbb\ncccc", 20);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0], "aaaaaaaaaaaa");
  EXPECT_EQ(p[1], "bbbb bbbb\ncccc");

  p = SplitMessage("aaaaaaaaaaaa bbbb\ncccc dddd", 20);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0], "aaaaaaaaaaaa bbbb");
  EXPECT_EQ(p[1], "cccc dddd");

  p = SplitMessage("aaaaaaaaaaaa bbbbbbbbbbbb", 20);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0], "aaaaaaaaaaaa");
  EXPECT_EQ(p[1], "bbbbbbbbbbbb");
}

TEST(TelegramSplitTest, AnEarlyBlankLineDoesNotShredTheMessage) {
  // A paragraph break in the first half loses to a line break in the second half.
  std::string text = "ab\n\n" + std::string(10, 'c') + "\n" + std::string(10, 'd');
  auto p = SplitMessage(text, 20);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0], "ab\n\n" + std::string(10, 'c'));
}

TEST(TelegramSplitTest, ALongWordIsCutButNeverInsideACharacter) {
  std::string word = Repeat("😀", 5000);  // 10,000 units, no separator
  auto p = SplitMessage(word);
  ASSERT_EQ(p.size(), 3u);
  std::string joined;
  for (const auto& piece : p) {
    EXPECT_LE(Utf16Length(piece), 4096u);
    EXPECT_EQ(piece.size() % 4, 0u);  // whole emoji only
    joined += piece;
  }
  EXPECT_EQ(joined, word);
  EXPECT_EQ(Utf16Length(p[0]), 4096u);
}

TEST(TelegramSplitTest, EmojiCountTwiceTowardsTheLimit) {
  // 2,100 emoji = 4,200 UTF-16 units: too long for one message although it is
  // only 2,100 characters.
  std::string text = Repeat("😀 ", 2100);
  auto p = SplitMessage(text);
  EXPECT_EQ(p.size(), 2u);
  for (const auto& piece : p) EXPECT_LE(Utf16Length(piece), 4096u);
}

}  // namespace
}  // namespace laneway::supervisor::telegram
