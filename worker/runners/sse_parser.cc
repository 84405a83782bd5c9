#include "worker/runners/sse_parser.h"

namespace laneway::worker {

using common::Status;

Status SseParser::Feed(std::string_view bytes, std::vector<SseEvent>* out) {
  if (!failed_.ok()) return failed_;
  size_t i = 0;
  if (after_cr_ && !bytes.empty()) {
    after_cr_ = false;
    if (bytes[0] == '\n') i = 1;  // the LF of a CRLF cut between two chunks
  }
  while (i < bytes.size()) {
    // Scan to the next line end in one step: most bytes are inside a data line.
    size_t end = bytes.find_first_of("\r\n", i);
    if (end == std::string_view::npos) {
      line_.append(bytes.substr(i));
      break;
    }
    std::string_view piece = bytes.substr(i, end - i);
    if (line_.empty()) {
      Line(piece, out);
    } else {
      line_.append(piece);
      Line(line_, out);
      line_.clear();
    }
    i = end + 1;
    if (bytes[end] == '\r') {
      if (i < bytes.size()) {
        if (bytes[i] == '\n') ++i;
      } else {
        after_cr_ = true;
      }
    }
    if (!failed_.ok()) return failed_;
  }
  if (line_.size() + pending_.data.size() > max_event_bytes_) {
    failed_ = Status::InvalidArgument("server-sent event longer than " +
                                      std::to_string(max_event_bytes_) + " bytes");
  }
  return failed_;
}

Status SseParser::Finish(std::vector<SseEvent>* out) {
  if (!failed_.ok()) return failed_;
  if (!line_.empty()) {
    std::string last = std::move(line_);
    line_.clear();
    Line(last, out);
  }
  Dispatch(out);
  return failed_;
}

void SseParser::Line(std::string_view line, std::vector<SseEvent>* out) {
  if (line.empty()) {
    Dispatch(out);
    return;
  }
  if (line.front() == ':') {
    ++comments_;
    return;
  }
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) pending_.data.push_back('\n');
    pending_.data.append(value);
    has_data_ = true;
    if (pending_.data.size() > max_event_bytes_) {
      failed_ = Status::InvalidArgument("server-sent event longer than " +
                                        std::to_string(max_event_bytes_) + " bytes");
    }
  } else if (field == "event") {
    pending_.type = std::string(value);
  }
}

void SseParser::Dispatch(std::vector<SseEvent>* out) {
  if (has_data_) {
    out->push_back(std::move(pending_));
    ++events_;
  }
  pending_ = SseEvent{};
  has_data_ = false;
}

}  // namespace laneway::worker
