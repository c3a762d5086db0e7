#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace agentbudget {

// The kind of a failure, chosen by what the caller should do next (as absl::StatusCode).
enum class ErrorCode {
  kInvalidArgument,     // the input is wrong: stop and report; retrying cannot help
  kNotFound,            // the object does not exist
  kAlreadyExists,       // a create collided with an existing object
  kConflict,            // a precondition (resourceVersion, idempotency body) failed: re-read, redo
  kGone,                // a watch or list position expired: relist
  kUnauthenticated,     // credentials missing or rejected
  kPermissionDenied,    // authenticated but not allowed: stop and report
  kResourceExhausted,   // throttled (429) or over a limit: retry after `retry_after` if set
  kUnavailable,         // transient (connection refused, 5xx, not the leader): retry with backoff
  kDeadlineExceeded,    // timed out: retry with backoff if the call is safe to repeat
  kFailedPrecondition,  // the system is not in a state to do this (e.g. not yet synced)
  kInternal,            // a bug or an unexpected answer: report
};

// The lower-case name of a code, as used in logs and metrics labels ("not_found").
std::string_view ErrorCodeName(ErrorCode code);

// True for the codes where repeating the same call later may succeed.
bool IsRetryable(ErrorCode code);

// The code for an HTTP error status: 400/422 invalid, 401, 403, 404, 409 conflict, 410 gone,
// 429 exhausted, 504 deadline, other 5xx unavailable, anything else internal.
ErrorCode ErrorCodeForHttpStatus(int status);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // Server-suggested wait before retrying; zero when the server gave none.
  std::chrono::milliseconds retry_after{0};

  // "<code name>: <message>", for logs and error bodies.
  std::string ToString() const;
};

// A value or an Error. Never both, never neither. Not thread-safe; a value type.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok().
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // REQUIRES: !ok().
  const Error& error() const& { return std::get<Error>(state_); }
  Error&& error() && { return std::get<Error>(std::move(state_)); }

 private:
  std::variant<T, Error> state_;
};

// Success with no value, or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  // REQUIRES: !ok().
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status OkStatus() { return {}; }
inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message), std::chrono::milliseconds{0}};
}
inline Error InvalidArgument(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}
inline Error NotFound(std::string message) {
  return MakeError(ErrorCode::kNotFound, std::move(message));
}
inline Error Unavailable(std::string message) {
  return MakeError(ErrorCode::kUnavailable, std::move(message));
}
inline Error Internal(std::string message) {
  return MakeError(ErrorCode::kInternal, std::move(message));
}

}  // namespace agentbudget
