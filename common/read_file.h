// ReadWholeFile: the one reader of small whole files (a config, a token, a prompt,
// a channel's state), errno turned into a Status here, at the OS boundary.
#ifndef LANEWAY_COMMON_READ_FILE_H_
#define LANEWAY_COMMON_READ_FILE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace laneway::common {

// The file's bytes, at most `max_bytes` of them. Errors name `what` and the path:
// "cannot read <what> <path>: <strerror>" (kIoError) and "<what> <path> is larger
// than <max_bytes> bytes" (kInvalidArgument). `what` may be empty. With `missing`, a
// file that does not exist is no error: *missing is set and "" returned.
Result<std::string> ReadWholeFile(const std::string& path, size_t max_bytes, std::string_view what,
                                  bool* missing = nullptr);

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_READ_FILE_H_
