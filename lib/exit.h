// The one exit-code table of qmin (DESIGN.md §3). Every tool exits with one of
// these, and every man page lists them in EXIT STATUS. Two tools add their
// own meanings, named here too so that no number is spelled twice: qrx-call
// keeps qrexec's 125/126/127 clear of a remote service's status, and
// qrx-broker --evaluate answers allow/ask/deny as 0/2/1.
#ifndef QMIN_LIB_EXIT_H_
#define QMIN_LIB_EXIT_H_

namespace qmin {

enum class ExitCode : int {
  kSuccess = 0,
  kRefused = 1,       ///< negative answer or refused operation
  kUsage = 100,       ///< usage error, invalid input or configuration
  kTemporary = 111,   ///< system failure: xenstore, netlink, vchan, sysfs
  kCannotExec = 126,  ///< found but could not be executed
  kNotFound = 127,    ///< program or service not found
};

inline int ToInt(ExitCode code) { return static_cast<int>(code); }

/// A process killed by signal N reports 128 + N (execline's rule).
inline constexpr int kSignalExitBase = 128;

/// qrexec's own statuses (Qubes' qrexec.h), as qrx-call and the services'
/// side report them.
namespace qrexec_exit {
inline constexpr int kProblem = 125;   ///< the call could not be made
inline constexpr int kRefused = 126;   ///< the policy (or the target) refused it
inline constexpr int kNotFound = 127;  ///< no such service
}  // namespace qrexec_exit

/// qrx-broker --evaluate: the decision as a status.
namespace evaluate_exit {
inline constexpr int kAllow = 0;
inline constexpr int kDeny = 1;
inline constexpr int kAsk = 2;
}  // namespace evaluate_exit

}  // namespace qmin

#endif  // QMIN_LIB_EXIT_H_
