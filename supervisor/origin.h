// Origins: where a turn came from and where its outcome goes (docs/protocol.md,
// "Origins"). An origin is a small map journaled with the turn's accept record, so
// a turn recovered after a crash is still delivered to its channel chat.
#ifndef LANEWAY_SUPERVISOR_ORIGIN_H_
#define LANEWAY_SUPERVISOR_ORIGIN_H_

#include <cstddef>
#include <string>

#include "common/status.h"
#include "common/value.h"

namespace laneway::supervisor {

inline constexpr size_t kMaxIdempotencyKeyBytes = 256;

// Validates a submit's "origin" (nullptr or null = {"kind": "control"}): a map with
// a known "kind" and string/int fields only, at most 16 of them, each value at
// most 256 bytes. Returns the origin to keep.
common::Result<common::Value> ParseOrigin(const common::Value* origin);

// True for {"kind": "control"} alone (not written to the journal).
bool OriginIsDefault(const common::Value& origin);

// The channel kind of a `channel` origin, "" for every other kind.
std::string OriginChannel(const common::Value& origin);

// "control", "ws", ...; "control" for anything unreadable.
std::string OriginKind(const common::Value& origin);

}  // namespace laneway::supervisor

#endif  // LANEWAY_SUPERVISOR_ORIGIN_H_
