// Quote: untrusted text (from config files, the command line, peers) made safe to
// put in an error message or a log line: in double quotes, with quotes and
// backslashes escaped and control bytes as \xHH.
#ifndef LANEWAY_COMMON_QUOTE_H_
#define LANEWAY_COMMON_QUOTE_H_

#include <string>
#include <string_view>

namespace laneway::common {

std::string Quote(std::string_view text);

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_QUOTE_H_
