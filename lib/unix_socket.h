// UNIX stream sockets for local clients: a listener whose name appears only
// once it listens, and a plain connect.
#ifndef QMIN_LIB_UNIX_SOCKET_H_
#define QMIN_LIB_UNIX_SOCKET_H_

#include <sys/types.h>

#include <string>

#include "error.h"

namespace qmin {

/// Binds under a temporary name, listens, sets `mode`, then renames into
/// place: a client that sees the socket can connect. Non-blocking.
Result<int> ListenUnix(const std::string& path, mode_t mode);

/// A blocking connection to `path`.
Result<int> ConnectUnix(const std::string& path);

}  // namespace qmin

#endif  // QMIN_LIB_UNIX_SOCKET_H_
