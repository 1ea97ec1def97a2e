// One call's own process on the side that runs the service, as Qubes' agent
// forks one per call: it connects the caller's data vchan, becomes the
// call's user, starts the service, relays its data and reports its status.
// QREXEC_AGENT_PID names this process, so a service that asks for one
// bidirectional socket (SIGUSR1) signals it, never the daemon; a call that
// fails or is killed takes only itself down; and the code that handles the
// peer's data runs as the call's user, not as root.
#ifndef QMIN_CMD_QRX_RUNNER_H_
#define QMIN_CMD_QRX_RUNNER_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "log.h"
#include "qrx_service.h"

namespace qmin::qrx {

struct CallRequest {
  bool just_exec = false;    ///< JUST_EXEC: run detached on /dev/null, answer 0 at once
  std::uint32_t domain = 0;  ///< the caller's domain, which serves the data vchan
  std::uint32_t port = 0;
  Result<ServiceCommand> command = InvalidError("run a call", "no command");
  bool allow_shell = false;  ///< shell commands are dom0's alone
};

struct RunnerConfig {
  std::vector<std::string> rpc_dirs = DefaultRpcDirs();
  std::string accounts_root;  ///< where etc/passwd is read ("" for /)
  /// Our domain ID, when the daemon looked it up once (OwnVchanDomain);
  /// otherwise each call looks it up.
  std::optional<unsigned> own_domain;
};

/// Looks our domain up once for all the calls to come, where each call
/// would otherwise pay a xenstore round trip for it; on failure each call
/// looks it up itself.
void LearnOwnDomain(RunnerConfig& config);

/// Forks the call's process and returns its pid at once. The owner reaps it
/// (SIGCHLD) and only then frees the call's port.
Result<pid_t> StartCall(const CallRequest& request, const RunnerConfig& config, Log& log);

}  // namespace qmin::qrx

#endif  // QMIN_CMD_QRX_RUNNER_H_
