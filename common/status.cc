#include "common/status.h"

#include <cstring>

namespace laneway::common {

Status Status::FromErrno(const std::string& what, int err) {
  return Status(Code::kIoError, what + ": " + std::strerror(err));
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return message_;
}

}  // namespace laneway::common
