// Running a qrexec service: the command line the broker sends, the lookup in
// the RPC directories (SERVICE+ARG before SERVICE), and the process, with
// its argument as argv[1] and Qubes' QREXEC_* environment, as another user
// when asked and allowed.
#ifndef QMIN_LIB_QRX_SERVICE_H_
#define QMIN_LIB_QRX_SERVICE_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "error.h"

namespace qmin::qrx {

struct ServiceCall {
  std::string user;     ///< "" for the agent's own user
  std::string service;  ///< "svc+arg" as called
  std::string source;   ///< the calling domain's name
};

/// "USER:QUBESRPC SERVICE+ARG SOURCE", as EXEC_CMDLINE carries it.
Result<ServiceCall> ParseServiceCommand(std::string_view cmdline);
std::string FormatServiceCommand(const ServiceCall& call);

struct FoundService {
  std::string path;
  bool is_socket = false;
};

/// SERVICE+ARG, then SERVICE, in each directory in turn.
std::optional<FoundService> FindService(const std::vector<std::string>& dirs,
                                        const std::string& service);

struct Spawned {
  pid_t pid = -1;
  int stdin_fd = -1;  ///< the parent's ends, non-blocking
  int stdout_fd = -1;
  int stderr_fd = -1;
};

/// Starts the service. Switches to `call.user` when running as root and the
/// user is another one; refuses (exit 126 in spirit) when not root.
Result<Spawned> SpawnService(const FoundService& found, const ServiceCall& call);

/// A socket service: connects, sends "SERVICE+ARG SOURCE\0"; returns the
/// socket, non-blocking, which carries the call's data both ways.
Result<int> ConnectSocketService(const FoundService& found, const ServiceCall& call);

}  // namespace qmin::qrx

#endif  // QMIN_LIB_QRX_SERVICE_H_
