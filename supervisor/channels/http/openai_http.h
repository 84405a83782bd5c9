// The OpenAI-compatible endpoints on the gateway port: POST /v1/chat/completions
// (one chat.completion object, or server-sent chunks with stream: true) and
// GET /v1/models (the configured agents as models "laneway/<agent>").
//
// A request is one turn: `model` names the agent ("laneway/<agent>" or a bare
// agent id), the last user message is the turn's text, and the session is
// agent:<agent>:openai-user:<user> from the `user` field or the
// x-laneway-session header, else a fresh session per request. Errors use
// OpenAI's body {"error": {"message", "type", "code"}}.
#ifndef LANEWAY_SUPERVISOR_CHANNELS_HTTP_OPENAI_HTTP_H_
#define LANEWAY_SUPERVISOR_CHANNELS_HTTP_OPENAI_HTTP_H_

#include <memory>
#include <optional>
#include <string>

#include "common/config.h"
#include "supervisor/channels/http/gateway.h"
#include "supervisor/channels/http/http_responder.h"

namespace laneway::supervisor::http {

struct HttpError {
  unsigned status = 400;
  std::string type = "invalid_request_error";
  std::string code;
  std::string message;
};

struct ChatRequest {
  std::string agent;
  std::string model;  // as the client named it, echoed in answers
  std::string session;
  std::string message;
  bool stream = false;
};

// Parses and checks a /v1/chat/completions body; `session_header` is the
// x-laneway-session header ("" if absent).
std::optional<HttpError> ParseChatRequest(const std::string& body,
                                          const std::string& session_header,
                                          const common::Config& config, ChatRequest* out);

std::string OpenAiErrorBody(const HttpError& e);
std::string ModelsBody(const common::Config& config);

// Runs the turn through the core and answers on `responder`.
void ServeChatCompletion(Gateway& gw, ChatRequest req,
                         const std::shared_ptr<HttpResponder>& responder);

}  // namespace laneway::supervisor::http

#endif  // LANEWAY_SUPERVISOR_CHANNELS_HTTP_OPENAI_HTTP_H_
