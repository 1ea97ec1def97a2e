#include "error.h"

#include <cstring>

namespace qmin {

Error SystemError(std::string action, int errnum, ExitCode exit) {
  return Error{exit, std::move(action), std::strerror(errnum), errnum};
}

Error InvalidError(std::string action, std::string reason) {
  return Error{ExitCode::kUsage, std::move(action), std::move(reason), 0};
}

}  // namespace qmin
