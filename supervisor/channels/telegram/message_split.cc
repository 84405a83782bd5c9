// Splitting works on byte offsets of code-point starts: for each piece it finds
// the longest prefix within the limit (in UTF-16 units), then looks back inside
// that prefix for the best separator. A separator in the first half of the
// window is skipped in favour of the next kind, so a reply is not shredded
// into tiny messages by an early blank line (except that any paragraph break is
// better than cutting a word).
#include "supervisor/channels/telegram/message_split.h"

namespace laneway::supervisor::telegram {

namespace {

// Length in bytes of the UTF-8 sequence that starts with `lead` (1 for invalid bytes),
// and how many UTF-16 units it stands for.
void SeqInfo(std::string_view s, size_t i, size_t* bytes, size_t* units) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = 1;
  if (c >= 0xF0 && c < 0xF8) {
    n = 4;
  } else if (c >= 0xE0) {
    n = c < 0xF0 ? 3 : 1;
  } else if (c >= 0xC0) {
    n = 2;
  }
  if (i + n > s.size()) n = 1;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
      n = 1;
      break;
    }
  }
  *bytes = n;
  *units = n == 4 ? 2 : 1;
}

// Bytes of the longest prefix of `s` with at most `limit` UTF-16 units.
size_t PrefixWithin(std::string_view s, size_t limit) {
  size_t i = 0, units = 0;
  while (i < s.size()) {
    size_t b, u;
    SeqInfo(s, i, &b, &u);
    if (units + u > limit) break;
    units += u;
    i += b;
  }
  return i;
}

// The best cut in s[0, window): returns the piece length and the separator length.
void BestCut(std::string_view s, size_t window, size_t* piece, size_t* sep) {
  std::string_view w = s.substr(0, window);
  // A separator right after the window also counts (the piece ends before it).
  auto search = [&](std::string_view needle, size_t min_pos) -> size_t {
    std::string_view ext = s.substr(0, std::min(s.size(), window + needle.size()));
    size_t pos = ext.rfind(needle);
    if (pos == std::string_view::npos || pos > window || pos < min_pos)
      return std::string_view::npos;
    return pos;
  };
  const size_t half = w.size() / 2;
  struct Try {
    std::string_view needle;
    size_t min_pos;
  };
  const Try tries[] = {{"\n\n", half}, {"\n", half}, {" ", half}, {"\n\n", 1}, {"\n", 1}, {" ", 1}};
  for (const Try& t : tries) {
    size_t pos = search(t.needle, t.min_pos);
    if (pos != std::string_view::npos && pos > 0) {
      *piece = pos;
      *sep = t.needle.size();
      return;
    }
  }
  *piece = window;
  *sep = 0;
}

}  // namespace

size_t Utf16Length(std::string_view s) {
  size_t i = 0, units = 0;
  while (i < s.size()) {
    size_t b, u;
    SeqInfo(s, i, &b, &u);
    units += u;
    i += b;
  }
  return units;
}

std::vector<std::string> SplitMessage(std::string_view text, size_t limit) {
  std::vector<std::string> out;
  if (limit < 2) limit = 2;  // room for one surrogate pair
  while (!text.empty()) {
    size_t window = PrefixWithin(text, limit);
    if (window == text.size()) {
      out.emplace_back(text);
      break;
    }
    size_t piece = 0, sep = 0;
    BestCut(text, window, &piece, &sep);
    out.emplace_back(text.substr(0, piece));
    text.remove_prefix(piece + sep);
  }
  return out;
}

}  // namespace laneway::supervisor::telegram
