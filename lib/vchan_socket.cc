// Simulation vchan transport: UNIX stream sockets standing in for Xen's
// shared rings, with the same semantics (see vchan.h). Linked only into
// build/sim/bin and the tests.
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <linux/sockios.h>

#include "domid.h"
#include "text.h"
#include "unix_socket.h"
#include "vchan.h"

namespace qmin {
namespace {

constexpr std::size_t kDefaultRing = 65536;

unsigned OwnDomain() {
  const char* text = std::getenv("VCHAN_DOMAIN");
  const auto domid = text == nullptr ? std::optional<unsigned>(0) : ParseDomainId(text);
  return domid.value_or(0);
}

std::string SocketPath(unsigned server, unsigned client, unsigned port) {
  const char* dir = std::getenv("VCHAN_SOCKET_DIR");
  return std::string(dir == nullptr ? "/tmp" : dir) + "/vchan." + std::to_string(server) + "." +
         std::to_string(client) + "." + std::to_string(port) + ".sock";
}

class SocketVchan : public Vchan {
 public:
  SocketVchan(int epoll, std::size_t capacity) : epoll_(epoll), capacity_(capacity) {}
  ~SocketVchan() override {
    if (listen_ >= 0) {
      close(listen_);
      unlink(path_.c_str());
    }
    if (conn_ >= 0) close(conn_);
    close(epoll_);
  }
  SocketVchan(const SocketVchan&) = delete;
  SocketVchan& operator=(const SocketVchan&) = delete;

  Status Listen(const std::string& path) {
    // Owner-only, as xenstore guards a real vchan's grant references.
    Result<int> fd = ListenUnix(path, 0600);
    if (!fd) return fd.error();
    listen_ = *fd;
    path_ = path;
    return Watch(listen_);
  }

  Status Connect(const std::string& path) {
    Result<int> fd = ConnectUnix(path);
    // A server that has gone reads as one that is not there yet, as on Xen.
    if (!fd && fd.error().errnum == ECONNREFUSED)
      return SystemError("connect a vchan at " + path, ENOENT);
    if (!fd) return fd.error();
    return Adopt(*fd);
  }

  int fd() const override { return epoll_; }

  Status Wait() override {
    epoll_event events[4];
    // Consuming the edge is what makes fd() quiet again, as libxenvchan_wait does.
    while (epoll_wait(epoll_, events, 4, 0) > 0) {
    }
    if (listen_ >= 0 && conn_ < 0) {
      const int fd = accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        epoll_ctl(epoll_, EPOLL_CTL_DEL, listen_, nullptr);
        close(listen_);
        listen_ = -1;
        unlink(path_.c_str());
        return Adopt(fd);
      }
    }
    Pull();
    return {};
  }

  State state() override {
    if (conn_ < 0) return peer_closed_ ? State::kClosed : State::kWaiting;
    Pull();
    return peer_closed_ || write_broken_ ? State::kClosed : State::kOpen;
  }

  std::size_t DataReady() override {
    Pull();
    return held_;
  }

  std::size_t BufferSpace() override {
    if (conn_ < 0 || peer_closed_ || write_broken_) return 0;
    int queued = 0;
    if (ioctl(conn_, SIOCOUTQ, &queued) != 0) return 0;
    return queued >= static_cast<int>(capacity_) ? 0 : capacity_ - static_cast<std::size_t>(queued);
  }

  Result<std::size_t> Read(std::span<std::uint8_t> bytes) override {
    Pull();
    const std::size_t count = std::min(bytes.size(), held_);
    std::copy_n(ring_.get(), count, bytes.begin());
    held_ -= count;
    std::memmove(ring_.get(), ring_.get() + count, held_);
    return count;
  }

  Result<std::size_t> Write(std::span<const std::uint8_t> bytes) override {
    const std::size_t room = std::min(bytes.size(), BufferSpace());
    if (room == 0) return std::size_t{0};
    const ssize_t sent = send(conn_, bytes.data(), room, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EAGAIN) return std::size_t{0};
      // The peer is gone for writing; what it sent before may still be read.
      if (errno == EPIPE || errno == ECONNRESET) write_broken_ = true;
      return SystemError("write to a vchan", errno);
    }
    return static_cast<std::size_t>(sent);
  }

 private:
  Status Watch(int fd) {
    epoll_event event{};
    // Edge-triggered inside: the outer fd fires once per arrival, like an event channel.
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    event.data.fd = fd;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) != 0)
      return SystemError("watch a vchan", errno);
    return {};
  }

  Status Adopt(int fd) {
    conn_ = fd;
    const int size = static_cast<int>(capacity_);
    setsockopt(conn_, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    return Watch(conn_);
  }

  // Moves what the socket holds into the ring, up to its capacity, straight
  // from the socket. A short read means the socket is empty: no second call.
  void Pull() {
    if (conn_ < 0 || peer_closed_ || held_ == capacity_) return;
    const ssize_t got = recv(conn_, ring_.get() + held_, capacity_ - held_, MSG_DONTWAIT);
    if (got > 0) {
      held_ += static_cast<std::size_t>(got);
    } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
      peer_closed_ = true;
    }
  }

  int epoll_;
  int listen_ = -1;
  int conn_ = -1;
  std::string path_;
  std::size_t capacity_;
  /// What has arrived and is not read yet, from the start: ring_[0, held_).
  std::unique_ptr<std::uint8_t[]> ring_ = std::make_unique_for_overwrite<std::uint8_t[]>(capacity_);
  std::size_t held_ = 0;
  bool peer_closed_ = false;   ///< reading reached the end
  bool write_broken_ = false;  ///< writing failed: the peer closed
};

Result<std::unique_ptr<SocketVchan>> Make(std::size_t capacity) {
  const int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (epoll < 0) return SystemError("create a vchan", errno);
  return std::make_unique<SocketVchan>(epoll, capacity == 0 ? kDefaultRing : capacity);
}

}  // namespace

Result<std::unique_ptr<Vchan>> ServeVchan(unsigned peer, unsigned port, std::size_t buffer) {
  Result<std::unique_ptr<SocketVchan>> vchan = Make(buffer);
  if (!vchan) return vchan.error();
  if (Status status = (*vchan)->Listen(SocketPath(OwnDomain(), peer, port)); !status)
    return status.error();
  return std::unique_ptr<Vchan>(std::move(*vchan));
}

Result<unsigned> OwnVchanDomain() { return OwnDomain(); }

Result<std::unique_ptr<Vchan>> ConnectVchan(unsigned peer, unsigned port, unsigned own) {
  Result<std::unique_ptr<SocketVchan>> vchan = Make(kDefaultRing);
  if (!vchan) return vchan.error();
  if (Status status = (*vchan)->Connect(SocketPath(peer, own, port)); !status)
    return status.error();
  return std::unique_ptr<Vchan>(std::move(*vchan));
}

// Sockets appear in a directory, not in xenstore: clients poll for them.
std::optional<std::string> VchanServerKey(unsigned, unsigned, unsigned) { return std::nullopt; }

std::string_view VchanTransportName() { return "socket"; }

}  // namespace qmin
