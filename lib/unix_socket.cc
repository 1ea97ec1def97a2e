#include "unix_socket.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace qmin {
namespace {

Result<sockaddr_un> Address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path)
    return SystemError("use socket " + path, ENAMETOOLONG);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

}  // namespace

Result<int> ListenUnix(const std::string& path, mode_t mode) {
  const std::string temporary = path + ".new";
  Result<sockaddr_un> address = Address(temporary);
  if (!address) return address.error();
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return SystemError("listen on " + path, errno);
  unlink(temporary.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&*address), sizeof *address) != 0 ||
      chmod(temporary.c_str(), mode) != 0 || listen(fd, 128) != 0 ||
      rename(temporary.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    close(fd);
    unlink(temporary.c_str());
    return SystemError("listen on " + path, saved);
  }
  return fd;
}

Result<int> ConnectUnix(const std::string& path) {
  Result<sockaddr_un> address = Address(path);
  if (!address) return address.error();
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return SystemError("connect to " + path, errno);
  if (connect(fd, reinterpret_cast<sockaddr*>(&*address), sizeof *address) != 0) {
    const int saved = errno;
    close(fd);
    return SystemError("connect to " + path, saved);
  }
  return fd;
}

Status MakeDirectories(const std::string& dir, mode_t mode) {
  for (std::size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    const std::string part = dir.substr(0, slash);
    if (!part.empty() && mkdir(part.c_str(), mode) != 0) {
      struct stat st {};
      if (errno != EEXIST) return SystemError("create " + part, errno);
      if (stat(part.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return SystemError("create " + part, ENOTDIR);
    }
    if (slash == std::string::npos) return {};
  }
}

Result<UnixListener> UnixListener::Open(const std::string& path, mode_t mode) {
  const std::size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0)
    if (Status made = MakeDirectories(path.substr(0, slash), 0755); !made) return made.error();
  const std::string lock_path = path + ".lock";
  const int lock = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock < 0) return SystemError("lock " + lock_path, errno);
  if (flock(lock, LOCK_EX | LOCK_NB) != 0) {
    const int saved = errno;
    close(lock);
    if (saved == EWOULDBLOCK)
      return Error{ExitCode::kRefused, "listen on " + path,
                   "a running daemon serves it (" + lock_path + " is held)", EADDRINUSE};
    return SystemError("lock " + lock_path, saved);
  }
  Result<int> fd = ListenUnix(path, mode);
  if (!fd) {
    close(lock);
    return fd.error();
  }
  struct stat st {};
  stat(path.c_str(), &st);
  return UnixListener(path, *fd, lock, st.st_ino);
}

UnixListener::UnixListener(UnixListener&& other) noexcept
    : path_(std::move(other.path_)), fd_(other.fd_), lock_(other.lock_), inode_(other.inode_) {
  other.fd_ = -1;
  other.lock_ = -1;
}

UnixListener::~UnixListener() {
  if (fd_ < 0) return;
  // Only our own socket goes: another may have taken the name since.
  struct stat st {};
  if (stat(path_.c_str(), &st) == 0 && st.st_ino == inode_) unlink(path_.c_str());
  close(fd_);
  close(lock_);
}

}  // namespace qmin
