// Errors in lib/ are values: returned, never printed, never fatal. main()
// turns them into one message of the shape
//   TOOL: fatal: unable to ACTION: REASON
// and the exit code they carry.
#ifndef QMIN_LIB_ERROR_H_
#define QMIN_LIB_ERROR_H_

#include <string>
#include <utility>
#include <variant>

#include "exit.h"

namespace qmin {

struct Error {
  ExitCode exit = ExitCode::kTemporary;
  std::string action;  ///< what could not be done: "create /dev/xen/evtchn"
  std::string reason;  ///< why: strerror(errnum) or a description
  int errnum = 0;      ///< errno behind the failure, 0 when there is none
  bool usage = false;  ///< a usage error: reported as "usage:", not "fatal:"

  /// "ACTION: REASON", the part of a message after "unable to ".
  std::string Text() const { return action + ": " + reason; }
};

/// A failed system call: the reason is strerror(errnum).
Error SystemError(std::string action, int errnum, ExitCode exit = ExitCode::kTemporary);
/// Bad input or configuration: exit 100, no errno.
Error InvalidError(std::string action, std::string reason);
/// A command line a tool cannot take: "TOOL: usage: REASON", exit 100.
Error UsageError(std::string reason);

/// A value or an Error. The small subset of std::expected (C++23) we need.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : data_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(data_); }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<Error>(data_); }

 private:
  std::variant<T, Error> data_;
};

/// Success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace qmin

#endif  // QMIN_LIB_ERROR_H_
