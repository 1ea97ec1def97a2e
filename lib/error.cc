#include "error.h"

#include <cstring>

namespace qmin {

Error SystemError(std::string action, int errnum, ExitCode exit) {
  return Error{exit, std::move(action), std::strerror(errnum), errnum};
}

Error InvalidError(std::string action, std::string reason) {
  return Error{ExitCode::kUsage, std::move(action), std::move(reason), 0};
}

Error UsageError(std::string reason) {
  Error error = InvalidError("parse the command line", std::move(reason));
  error.usage = true;
  return error;
}

}  // namespace qmin
