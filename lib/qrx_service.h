// A qrexec service on the side that runs it: the command the broker sends
// (Qubes' "USER:[nogui:]QUBESRPC SERVICE+ARG SOURCE [TYPE TARGET]", or a
// shell command from dom0), the lookup in the RPC directories, the
// environment Qubes gives a service, and its process or socket.
#ifndef QMIN_LIB_QRX_SERVICE_H_
#define QMIN_LIB_QRX_SERVICE_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "process.h"

namespace qmin::qrx {

/// Qubes' QREXEC_SERVICE_PATH: /usr/local first, so that a VM's own service
/// overrides the one its template ships.
std::vector<std::string> DefaultRpcDirs();

struct ServiceCommand {
  std::string user;         ///< who runs it; the broker has resolved DEFAULT
  std::string shell;        ///< a shell command (qvm-run from dom0); "" for a service
  std::string service;      ///< "svc+arg" (or "svc" from dom0's own calls)
  std::string source;       ///< the calling domain's name
  std::string target_type;  ///< services in dom0: "name" or "keyword"; "" in a VM
  std::string target;       ///< services in dom0: what the caller asked for, without '@'
};

/// Parses what EXEC_CMDLINE carries. Rejects rather than repairs: a user,
/// service or source outside the name rule, or a malformed QUBESRPC line.
Result<ServiceCommand> ParseServiceCommand(std::string_view cmdline);
/// The QUBESRPC form, for a call to a VM.
std::string FormatServiceCommand(const ServiceCommand& command);

struct FoundService {
  enum class Kind { kExecutable, kSocket, kUnusable };
  std::string path;
  Kind kind = Kind::kExecutable;
};

/// Qubes' search: SERVICE+ARG in each directory in turn, then SERVICE; the
/// first entry that exists decides, usable or not.
std::optional<FoundService> FindService(const std::vector<std::string>& dirs,
                                        const std::string& service);

/// The whole environment of a service, as Qubes sets it: the account's
/// HOME, USER, LOGNAME and SHELL, a plain PATH, and the QREXEC_* variables
/// (QREXEC_AGENT_PID names `call_pid`, the process that relays the call);
/// nothing of the daemon's own environment.
std::vector<std::string> ServiceEnvironment(const ServiceCommand& command, const Account& account,
                                            const std::vector<std::string>& rpc_dirs,
                                            pid_t call_pid);

/// The argv that runs `command`: the service with its argument as argv[1],
/// or /bin/sh -c for a shell command.
std::vector<std::string> ServiceArgv(const ServiceCommand& command, const FoundService* found);

struct ServiceProcess {
  pid_t pid = -1;
  int stdin_fd = -1;   ///< our ends, non-blocking sockets: stdin_fd can carry
  int stdout_fd = -1;  ///< the output too once the service asks (SIGUSR1)
  int stderr_fd = -1;
};

/// Starts the service on socket pairs (Qubes' do_fork_exec): a socket on its
/// fd 0 lets a service switch to one bidirectional stream.
Result<ServiceProcess> StartService(const std::vector<std::string>& argv,
                                    const std::vector<std::string>& env);

/// A socket service: connects, sends "SERVICE+ARG SOURCE\0"; returns the
/// socket, non-blocking, which carries the call's data both ways.
Result<int> ConnectSocketService(const FoundService& found, const ServiceCommand& command);

}  // namespace qmin::qrx

#endif  // QMIN_LIB_QRX_SERVICE_H_
