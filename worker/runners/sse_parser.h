// SseParser: an incremental parser of server-sent events (the WHATWG
// "text/event-stream" format), as model servers stream chat completions.
//
// Bytes go in as they arrive, cut anywhere: inside a line, inside "data:", inside
// a UTF-8 character, between the CR and LF of a line end. Complete events come
// out. Lines end with LF, CRLF or CR; a blank line ends an event. "data:" lines
// are joined with "\n" (one leading space after the colon dropped); "event:" sets
// the event's type; lines starting with ':' are comments (keep-alives) and only
// counted; "id:", "retry:" and unknown fields are ignored. An event with no data
// line is not dispatched.
//
// Thread-safety: none; one parser per stream. Memory is bounded by max_event_bytes:
// a line or an event longer than that is an error and the parser stays failed.
#ifndef LANEWAY_WORKER_RUNNERS_SSE_PARSER_H_
#define LANEWAY_WORKER_RUNNERS_SSE_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace laneway::worker {

struct SseEvent {
  std::string type;  // "event:" field; empty means "message"
  std::string data;

  bool operator==(const SseEvent&) const = default;
};

class SseParser {
 public:
  explicit SseParser(size_t max_event_bytes = 4 << 20) : max_event_bytes_(max_event_bytes) {}

  // Parses `bytes`; every event completed by them is appended to `out`.
  common::Status Feed(std::string_view bytes, std::vector<SseEvent>* out);
  // End of the stream: an event whose data arrived without its closing blank
  // line is delivered too (some servers end with "data: [DONE]\n").
  common::Status Finish(std::vector<SseEvent>* out);

  uint64_t comments() const { return comments_; }
  uint64_t events() const { return events_; }

 private:
  void Line(std::string_view line, std::vector<SseEvent>* out);
  void Dispatch(std::vector<SseEvent>* out);

  size_t max_event_bytes_;
  std::string line_;       // the current line, not yet ended
  bool after_cr_ = false;  // the last byte fed was a CR: a following LF belongs to it
  bool has_data_ = false;
  SseEvent pending_;
  common::Status failed_;
  uint64_t comments_ = 0;
  uint64_t events_ = 0;
};

}  // namespace laneway::worker

#endif  // LANEWAY_WORKER_RUNNERS_SSE_PARSER_H_
