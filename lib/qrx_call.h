// qrx-call: qrexec-client-vm's replacement. Asks the local agent (in a VM)
// or the broker (in dom0) for a call, and on success serves the data vchan
// for the service's side, connecting it to the terminal or a local program.
#ifndef QMIN_LIB_QRX_CALL_H_
#define QMIN_LIB_QRX_CALL_H_

#include <string>
#include <vector>

#include "error.h"

namespace qmin::qrx {

/// qrexec's own exit codes, kept clear of a service's status.
inline constexpr int kExitProblem = 125;
inline constexpr int kExitRefused = 126;
inline constexpr int kExitNotFound = 127;

struct CallOptions {
  std::string socket = "/var/run/qubes/qrexec-agent";
  std::string target;   ///< "" or @default for the policy's choice; '$' is read as '@'
  std::string service;  ///< "svc+arg"
  std::vector<std::string> local_program;  ///< empty: the terminal
  std::size_t buffer_size = 65536;
  std::string prefix_data;
  int filter_stdout = -1;  ///< -1: when stdout is a terminal
  int filter_stderr = -1;
};

struct CallOutcome {
  int status = 0;        ///< the remote status, or the local program's, 128+signal
  bool refused = false;  ///< the policy said no (status 126)
};

/// Runs the call; an error means qrx-call exits 125.
Result<CallOutcome> RunCall(const CallOptions& options);

}  // namespace qmin::qrx

#endif  // QMIN_LIB_QRX_CALL_H_
