// The one exit-code table of qmin (DESIGN.md §3). Every tool exits with one of
// these, and every man page lists them in EXIT STATUS.
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

}  // namespace qmin

#endif  // QMIN_LIB_EXIT_H_
