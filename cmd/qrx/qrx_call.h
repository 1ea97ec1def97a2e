// qrx-call: qrexec-client-vm's replacement. Asks the local agent (in a VM)
// or the broker (in dom0) for a call, and on success serves the data vchan
// for the service's side, connecting it to the terminal, to a local program,
// or to one bidirectional socket on stdin. In phases: check the names, ask,
// set up the local ends, run the data phase, report the status.
#ifndef QMIN_CMD_QRX_CALL_H_
#define QMIN_CMD_QRX_CALL_H_

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "qrx_proto.h"

namespace qmin::qrx {

/// The data ring a call asks for by default. A 256 KiB ring carries 1.5-1.9x
/// the bytes per second of Qubes' 64 KiB one between two PV guests (the
/// writer stalls less often on a slower reader), and a call starts as fast.
/// Any libxenvchan client maps the size the server offers.
inline constexpr std::size_t kRoomyRing = 256 * 1024;
/// Qubes' size, and the fallback: a guest's gntalloc shares at most 1024
/// pages (4 MiB) across every ring it serves, so each call at 256 KiB each
/// way takes an eighth of it.
inline constexpr std::size_t kQubesRing = 64 * 1024;

/// The socket to call through when none is named: in dom0 the broker's
/// exists, in a VM only the agent's.
std::string DefaultCallSocket();

struct CallOptions {
  std::string socket = kAgentSocket;
  std::string target;   ///< "" or @default for the policy's choice; '$' is read as '@'
  std::string service;  ///< "svc+arg"
  std::vector<std::string> local_program;  ///< empty: the terminal
  /// The data ring's size each way; nullopt: kRoomyRing, or Qubes' 64 KiB
  /// where the domain's grant budget has no room for it.
  std::optional<std::size_t> buffer_size;
  std::string prefix_data;
  bool use_stdin_socket = false;  ///< fd 0 is a socket carrying both ways
  int filter_stdout = -1;         ///< -1: when stdout is a terminal (and no local program)
  int filter_stderr = -1;         ///< -1: when stderr is a terminal
};

/// The names, checked before anything is sent: a usage error when the
/// target or service cannot be a qrexec name. Normalises the target.
Status CheckCallNames(CallOptions& options);

struct CallOutcome {
  int status = 0;        ///< the remote status, or the local program's, 128+signal
  bool refused = false;  ///< refused (status 126)
};

/// Runs the call; an error means qrx-call exits 125.
Result<CallOutcome> RunCall(const CallOptions& options);

/// The local descriptors of a call, made non-blocking for the event loop
/// and put back as they were when the call ends. Not copyable: a copy's end
/// would put them back too early (a slow reader then stalled the loop).
class NonBlockingFds {
 public:
  explicit NonBlockingFds(std::array<int, 3> fds);
  ~NonBlockingFds();
  NonBlockingFds(const NonBlockingFds&) = delete;
  NonBlockingFds& operator=(const NonBlockingFds&) = delete;

 private:
  std::array<int, 3> fds_;
  std::array<int, 3> flags_;
};

}  // namespace qmin::qrx

#endif  // QMIN_CMD_QRX_CALL_H_
