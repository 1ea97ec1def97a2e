// Starting programs, once for all of qmin: the accounts they run as, the
// signal state and descriptors a child starts with, how a failed exec is
// reported (as an error here, not as a status later), and how a child's end
// becomes an exit status.
#ifndef QMIN_LIB_PROCESS_H_
#define QMIN_LIB_PROCESS_H_

#include <sys/types.h>

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "error.h"

namespace qmin {

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::string shell;
  std::vector<gid_t> groups;  ///< the primary group first
};

/// A user from `root`/etc/passwd and its groups from `root`/etc/group, read
/// directly: glibc's getpwnam() in a static binary needs NSS modules at run
/// time, which a musl VM does not have. Not found is exit 1.
Result<Account> LookUpAccount(const std::string& name, const std::string& root = "");

/// Becomes `account` (groups, gid, uid, then its home or /) unless we are
/// it already; only root may become someone else (EPERM otherwise).
Status BecomeAccount(const Account& account);

struct SpawnOptions {
  std::vector<std::string> argv;  ///< argv[0] is the program's path
  /// The whole environment ("KEY=VALUE"); nullopt inherits ours.
  std::optional<std::vector<std::string>> env;
  /// What the child gets as 0, 1 and 2; -1 is /dev/null.
  std::array<int, 3> fds = {-1, -1, -1};
  bool new_session = false;  ///< setsid(): detached from our terminal and group
  bool search_path = false;  ///< argv[0] without a '/' is looked up in $PATH
};

/// Starts a program with every signal unblocked and at its default, as our
/// own user (a call's process becomes its user before it starts the
/// service). An exec that fails comes back here as an error: exit 127 when
/// the program does not exist, 126 when it cannot run.
Result<pid_t> Spawn(const SpawnOptions& options);

/// A child's end as an exit status: its code, or 128 + the signal that
/// killed it.
int ExitStatusOf(int wait_status);

/// For a forked child of a daemon that goes on without exec: unblocks every
/// signal, in one call. Handlers stay as the daemon left them (a daemon here
/// handles signals through a signalfd and only ignores SIGPIPE); a program
/// it then starts gets a fresh signal state from Spawn.
void UnblockSignals();

/// For a forked child that goes on without exec: closes every descriptor
/// from `first` up, so that nothing of the parent's (sockets, channels) is
/// kept open, or answered, by the child.
void CloseDescriptorsFrom(int first);

/// How a program run by RunBounded ended.
struct Finished {
  int status = 0;       ///< its exit status (ExitStatusOf)
  bool killed = false;  ///< it had not ended at its limit, and was killed
  std::string printed;  ///< what it wrote to standard output (the first 64 KiB)
};

/// Runs a program to its end, for at most `limit`, in a process group of
/// its own (options.new_session is set): one that has not ended by then is
/// killed with its group. Its standard output is read into `printed`
/// (options.fds[1] is replaced). Only a failure to start it is an error.
Result<Finished> RunBounded(SpawnOptions options, std::chrono::milliseconds limit);

}  // namespace qmin

#endif  // QMIN_LIB_PROCESS_H_
