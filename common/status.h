// Status and Result<T>: how every fallible operation in laneway reports failure.
//
// No exception crosses a module boundary (STYLE.md): library exceptions are
// caught in the adapter that wraps the library and turned into a Status here.
// A Status is cheap to copy when ok (no allocation).
#ifndef LANEWAY_COMMON_STATUS_H_
#define LANEWAY_COMMON_STATUS_H_

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace laneway::common {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // bad input from outside: malformed message, bad config
    kNotFound,         // unknown session, turn, agent
    kIoError,          // the OS said no (errno is in the message)
    kUnavailable,      // try again later (queue full, disk full, busy)
    kFailedPrecondition,
    kInternal,
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status IoError(std::string msg) { return Status(Code::kIoError, std::move(msg)); }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status FailedPrecondition(std::string msg) {
    return Status(Code::kFailedPrecondition, std::move(msg));
  }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }
  // errno turned into a Status once, at the OS boundary: "what: strerror(err)".
  static Status FromErrno(const std::string& what, int err);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a value or a non-ok Status.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  // The error; Status::Ok() when this holds a value.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace laneway::common

#endif  // LANEWAY_COMMON_STATUS_H_
