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

/// A daemon's listening socket, claimed for the daemon's life. A lock on
/// PATH.lock says who owns the name: a second daemon refuses to start rather
/// than take the socket over (and delete it when it exits), and on exit the
/// owner removes the socket only if it is still the one it made. The
/// directory is created (0755) when it is missing.
class UnixListener {
 public:
  static Result<UnixListener> Open(const std::string& path, mode_t mode);
  UnixListener(UnixListener&& other) noexcept;
  UnixListener& operator=(UnixListener&&) = delete;
  UnixListener(const UnixListener&) = delete;
  ~UnixListener();

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  UnixListener(std::string path, int fd, int lock, ino_t inode)
      : path_(std::move(path)), fd_(fd), lock_(lock), inode_(inode) {}
  std::string path_;
  int fd_;
  int lock_;
  ino_t inode_;
};

/// Creates `dir` and its missing parents with `mode`.
Status MakeDirectories(const std::string& dir, mode_t mode);

}  // namespace qmin

#endif  // QMIN_LIB_UNIX_SOCKET_H_
