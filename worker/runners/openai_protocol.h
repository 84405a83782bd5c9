// The OpenAI chat-completions wire format, as far as the openai runner speaks it:
// the request body, streamed chunks ("chat.completion.chunk"), a whole answer
// ("chat.completion"), and the error bodies servers send. Pure functions over
// JSON text; nlohmann-json stays inside the .cc, and no exception leaves it.
//
// Dialects: OpenAI sends usage in a last chunk with no choices when asked with
// stream_options.include_usage; llama.cpp's server adds "timings" (prompt_n,
// predicted_n) and Ollama may send no usage at all: usage is then absent. An
// in-stream {"error": ...} chunk is an error. Content deltas may be null or
// missing (role-only and finish chunks).
#ifndef LANEWAY_WORKER_RUNNERS_OPENAI_PROTOCOL_H_
#define LANEWAY_WORKER_RUNNERS_OPENAI_PROTOCOL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "worker/runners/chat_history.h"

namespace laneway::worker {

struct ChatRequest {
  std::string model;
  std::vector<ChatMessage> messages;   // system first, then history, then the new message
  uint32_t max_completion_tokens = 0;  // 0 = not sent
  std::optional<double> temperature;
  bool stream = true;
};

std::string ChatRequestJson(const ChatRequest& request);

struct ChatUsage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// What one chunk (or a whole answer) said.
struct ChatPiece {
  std::string delta;          // content text, possibly empty
  std::string model;          // as the server names it, if it did
  std::string finish_reason;  // set on the choice's last chunk
  std::optional<ChatUsage> usage;
};

// One SSE data payload of a streamed answer. An error chunk or anything that is
// not a chunk object is an InvalidArgument naming what was wrong.
common::Result<ChatPiece> ParseChatChunk(std::string_view data);
// A non-streamed answer body ("chat.completion").
common::Result<ChatPiece> ParseChatCompletion(std::string_view body);

// The server's own words from an error body: error.message (OpenAI, vLLM,
// llama.cpp), a string "error" (Ollama), else the body's start, cleaned of control
// characters. `code` gets error.code or error.type when there is one.
std::string ServerErrorMessage(std::string_view body, std::string* code);

}  // namespace laneway::worker

#endif  // LANEWAY_WORKER_RUNNERS_OPENAI_PROTOCOL_H_
