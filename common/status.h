// Status and Result<T>: how murmur reports errors across module boundaries.
//
// A Status is OK or carries a code (the same numbering as gRPC's, so the
// service edge maps it 1:1) and a message that says what was wrong in words a
// user understands. Result<T> holds either a T or a non-OK Status.
// Both are plain values: safe to copy and move between threads; a single
// object is not synchronized.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace murmur {

enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message);

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "INVALID_ARGUMENT: tensor 'w' has shape [3] but the model expects [4]".
  std::string ToString() const;

  // Same code, message prefixed with "context: " (no-op for OK).
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

Status InvalidArgumentError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status FailedPreconditionError(std::string message);
Status OutOfRangeError(std::string message);
Status ResourceExhaustedError(std::string message);
Status DataLossError(std::string message);
Status InternalError(std::string message);
Status UnavailableError(std::string message);
Status UnimplementedError(std::string message);
Status PermissionDeniedError(std::string message);
Status AbortedError(std::string message);

// Prints the status and aborts; used when a Result's value is taken on error.
[[noreturn]] void DieWithStatus(const Status& status, const char* what);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) {
      v_ = InternalError("Result constructed from an OK status without a value");
    }
  }

  bool ok() const { return std::holds_alternative<T>(v_); }

  // OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  T& value() & { Check(); return std::get<T>(v_); }
  const T& value() const& { Check(); return std::get<T>(v_); }
  T&& value() && { Check(); return std::get<T>(std::move(v_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void Check() const {
    if (!ok()) DieWithStatus(std::get<Status>(v_), "Result::value() on error");
  }
  std::variant<T, Status> v_;
};

}  // namespace murmur

#define MURMUR_CONCAT_INNER(a, b) a##b
#define MURMUR_CONCAT(a, b) MURMUR_CONCAT_INNER(a, b)

// Returns from the enclosing function when `expr` (a Status) is not OK.
#define MURMUR_RETURN_IF_ERROR(expr)                \
  do {                                              \
    ::murmur::Status murmur_status_ = (expr);       \
    if (!murmur_status_.ok()) return murmur_status_; \
  } while (0)

// `lhs = value of expr` (a Result<T>), or return its error.
#define MURMUR_ASSIGN_OR_RETURN(lhs, expr) \
  MURMUR_ASSIGN_OR_RETURN_IMPL(MURMUR_CONCAT(murmur_result_, __LINE__), lhs, expr)
#define MURMUR_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
