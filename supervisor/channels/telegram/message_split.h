// SplitMessage: cuts a reply into Telegram messages of at most `limit` UTF-16
// code units each (the way Telegram counts a message's 4096), preferring to cut
// at a paragraph break ("\n\n"), then a line break, then a space, and only then
// inside a word (never inside a UTF-8 sequence or a surrogate pair).
//
// Pure function, no I/O. The pieces, concatenated with the separators that were
// cut at, give back the text: a cut at a separator drops that separator (the
// break between two messages stands for it), and nothing else is dropped. Empty
// text gives no pieces.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_MESSAGE_SPLIT_H_
#define LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_MESSAGE_SPLIT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace laneway::supervisor::telegram {

inline constexpr size_t kTelegramMessageLimit = 4096;

// UTF-16 code units of UTF-8 text (4-byte sequences count 2; invalid bytes count 1).
size_t Utf16Length(std::string_view utf8);

std::vector<std::string> SplitMessage(std::string_view text, size_t limit = kTelegramMessageLimit);

}  // namespace laneway::supervisor::telegram

#endif  // LANEWAY_SUPERVISOR_CHANNELS_TELEGRAM_MESSAGE_SPLIT_H_
