// The gateway token file: a shared secret kept in a file of mode 0600, generated
// once from the kernel's random source when asked to and missing. Used by the HTTP
// channel (supervisor) and by `laneway token` (CLI) so both agree on one file.
#ifndef LANEWAY_COMMON_TOKEN_FILE_H_
#define LANEWAY_COMMON_TOKEN_FILE_H_

#include <string>

#include "common/status.h"

namespace laneway::common {

// `n` random bytes from getrandom(2), as 2n lowercase hex digits.
Result<std::string> RandomHex(size_t n);

// Reads the token in `path` (surrounding whitespace trimmed; an empty file is an
// error). When the file is missing and `create` is set, writes a new 32-hex-digit
// token with O_EXCL and mode 0600 (a concurrent creator wins; its token is read).
Result<std::string> LoadOrCreateToken(const std::string& path, bool create);

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_TOKEN_FILE_H_
