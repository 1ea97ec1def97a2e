#include "xenstore_watcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <utility>

extern "C" {
#include <xen/io/xs_wire.h>
}

#include "text.h"
#include "unix_socket.h"

namespace qmin {
namespace {

constexpr std::size_t kHeader = sizeof(xsd_sockmsg);

// Where libxenstore connects, in its order.
Result<int> Connect() {
  std::string path = "/var/run/xenstored/socket";
  if (const char* env = std::getenv("XENSTORED_PATH"); env != nullptr) path = env;
  struct stat st {};
  Result<int> fd = stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)
                       ? ConnectUnix(path)
                       : Result<int>(SystemError("connect to " + path, ENOENT));
  if (!fd) {
    const int device = open("/dev/xen/xenbus", O_RDWR | O_CLOEXEC);
    if (device < 0) return SystemError(kConnectXenstore, errno);
    fd = device;
  }
  const int flags = fcntl(*fd, F_GETFL);
  if (flags < 0 || fcntl(*fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    const int saved = errno;
    close(*fd);
    return SystemError(kConnectXenstore, saved);
  }
  return fd;
}

}  // namespace

Result<XenstoreWatcher> XenstoreWatcher::Open() {
  Result<int> fd = Connect();
  if (!fd) return fd.error();
  return XenstoreWatcher(*fd);
}

XenstoreWatcher::XenstoreWatcher(XenstoreWatcher&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), in_(std::move(other.in_)) {}

XenstoreWatcher::~XenstoreWatcher() {
  if (fd_ >= 0) close(fd_);
}

Status XenstoreWatcher::Watch(const std::string& path, const std::string& token) {
  return Send(XS_WATCH, path, token);
}

Status XenstoreWatcher::Unwatch(const std::string& path, const std::string& token) {
  return Send(XS_UNWATCH, path, token);
}

Status XenstoreWatcher::Send(std::uint32_t type, const std::string& path,
                             const std::string& token) {
  const std::size_t length = path.size() + token.size() + 2;
  if (length > XENSTORE_PAYLOAD_MAX) return InvalidError("watch " + path, "the path is too long");
  xsd_sockmsg header{};
  header.type = type;
  header.len = static_cast<std::uint32_t>(length);
  std::vector<std::uint8_t> message(kHeader + length, 0);
  std::memcpy(message.data(), &header, kHeader);
  std::memcpy(message.data() + kHeader, path.data(), path.size());
  std::memcpy(message.data() + kHeader + path.size() + 1, token.data(), token.size());
  std::size_t sent = 0;
  while (sent < message.size()) {
    const ssize_t wrote = write(fd_, message.data() + sent, message.size() - sent);
    if (wrote > 0) {
      sent += static_cast<std::size_t>(wrote);
      continue;
    }
    pollfd writable{fd_, POLLOUT, 0};
    // A few hundred bytes to a daemon that reads: waiting at all is rare.
    if (wrote < 0 && errno == EAGAIN && poll(&writable, 1, 1000) == 1) continue;
    return SystemError("watch " + path, wrote < 0 && errno != EAGAIN ? errno : EIO);
  }
  return {};
}

Result<XenstoreWatcher::Drained> XenstoreWatcher::Drain() {
  std::uint8_t buffer[4096];
  for (;;) {
    const ssize_t got = read(fd_, buffer, sizeof buffer);
    if (got > 0) {
      in_.insert(in_.end(), buffer, buffer + got);
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno == EAGAIN) break;
    return SystemError("read xenstore watch events", got == 0 ? EPIPE : errno);
  }
  Drained drained;
  std::size_t at = 0;
  while (in_.size() - at >= kHeader) {
    xsd_sockmsg header{};
    std::memcpy(&header, in_.data() + at, kHeader);
    if (header.len > XENSTORE_PAYLOAD_MAX)
      return InvalidError("read xenstore watch events", "a message longer than xenstore allows");
    if (in_.size() - at < kHeader + header.len) break;
    const auto body = std::span(in_).subspan(at + kHeader, header.len);
    at += kHeader + header.len;
    // Each string of a body ends in a NUL, so the last field is empty.
    const std::vector<std::string_view> strings =
        Split(std::string_view(reinterpret_cast<const char*>(body.data()), body.size()), '\0');
    if (header.type == XS_WATCH_EVENT && strings.size() >= 3) {
      drained.events.push_back({std::string(strings[0]), std::string(strings[1])});
    } else if (header.type == XS_ERROR) {
      drained.refusals.push_back(strings.size() >= 2 ? std::string(strings[0]) : "EINVAL");
    }
  }
  in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(at));
  return drained;
}

}  // namespace qmin
