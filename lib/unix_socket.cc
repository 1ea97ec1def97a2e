#include "unix_socket.h"

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

}  // namespace qmin
