// Production vchan transport: libxenvchan over grant tables and event
// channels. Its traps, each handled where it bites:
//  - ctrl->blocking is left to the caller: set it, to 0 here (never block).
//  - The event channel fd is edge-like: after poll, libxenvchan_wait() must
//    consume the notification, or poll() keeps waking (a 100% CPU loop).
//  - libxenvchan_wait() reads that fd, which xenevtchn opens blocking: with
//    no event pending it would stall the whole event loop. The fd is made
//    non-blocking here, and "nothing pending" (EAGAIN) is not an error.
//  - xenstore paths are cut at 64 bytes by the library: keep them short.
//  - is_open() does not see a destroyed peer: owners also watch @releaseDomain.
//  - A client waiting for its server cannot read the server's directory: it
//    watches the event-channel key, which server_init writes last
//    (VchanServerKey).
//  - libxenvchan grants the peer read access to ring-ref/event-channel itself.
#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

extern "C" {
#include <libxenvchan.h>
}

#include "domid.h"
#include "text.h"
#include "vchan.h"
#include "xenstore.h"

namespace qmin {
namespace {

// Where a server publishes: relative to its own home, which the client
// reads as /local/domain/<server>/data/vchan/<client>/<port>.
std::string ServerPath(unsigned client, unsigned port) {
  return "data/vchan/" + std::to_string(client) + "/" + std::to_string(port);
}

class XenVchan : public Vchan {
 public:
  explicit XenVchan(libxenvchan* channel) : channel_(channel) {
    // Reads and writes return what they can at once instead of sleeping in the library.
    channel_->blocking = 0;
  }
  ~XenVchan() override { libxenvchan_close(channel_); }
  XenVchan(const XenVchan&) = delete;
  XenVchan& operator=(const XenVchan&) = delete;

  int fd() const override { return libxenvchan_fd_for_select(channel_); }

  Status Wait() override {
    errno = 0;
    if (libxenvchan_wait(channel_) < 0 && errno != EAGAIN)
      return SystemError("wait on a vchan", errno != 0 ? errno : EIO);
    return {};
  }

  State state() override {
    switch (libxenvchan_is_open(channel_)) {
      case 2:
        return State::kWaiting;
      case 1:
        return State::kOpen;
      default:
        return State::kClosed;
    }
  }

  std::size_t DataReady() override {
    return static_cast<std::size_t>(libxenvchan_data_ready(channel_));
  }
  std::size_t BufferSpace() override {
    return static_cast<std::size_t>(libxenvchan_buffer_space(channel_));
  }

  Result<std::size_t> Read(std::span<std::uint8_t> bytes) override {
    const int got = libxenvchan_read(channel_, bytes.data(), bytes.size());
    if (got < 0) return SystemError("read from a vchan", errno != 0 ? errno : EIO);
    return static_cast<std::size_t>(got);
  }

  Result<std::size_t> Write(std::span<const std::uint8_t> bytes) override {
    const int sent = libxenvchan_write(channel_, bytes.data(), bytes.size());
    if (sent < 0) return SystemError("write to a vchan", errno != 0 ? errno : EIO);
    return static_cast<std::size_t>(sent);
  }

 private:
  libxenvchan* channel_;
};

Result<std::unique_ptr<Vchan>> Wrap(libxenvchan* channel) {
  const int fd = libxenvchan_fd_for_select(channel);
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    const int error = errno;
    libxenvchan_close(channel);
    return SystemError("make a vchan's event channel non-blocking", error);
  }
  return std::unique_ptr<Vchan>(std::make_unique<XenVchan>(channel));
}

}  // namespace

Result<std::unique_ptr<Vchan>> ServeVchan(unsigned peer, unsigned port, std::size_t buffer) {
  errno = 0;
  libxenvchan* channel = libxenvchan_server_init(nullptr, static_cast<int>(peer),
                                                 ServerPath(peer, port).c_str(), buffer, buffer);
  if (channel == nullptr)
    return SystemError("serve a vchan for domain " + std::to_string(peer),
                       errno != 0 ? errno : EIO);
  return Wrap(channel);
}

Result<unsigned> OwnVchanDomain() {
  Result<Xenstore> xs = Xenstore::Open();
  if (!xs) return xs.error();
  Result<std::string> text = xs->Read("domid");
  if (!text) return text.error();
  const auto domid = ParseDomainId(*text);
  if (!domid) return InvalidError("read my domain ID", "domid is not a number");
  return *domid;
}

Result<std::unique_ptr<Vchan>> ConnectVchan(unsigned peer, unsigned port, unsigned own) {
  const std::string path = "/local/domain/" + std::to_string(peer) + "/" + ServerPath(own, port);
  errno = 0;
  libxenvchan* channel = libxenvchan_client_init(nullptr, static_cast<int>(peer), path.c_str());
  if (channel == nullptr)
    return SystemError("connect a vchan of domain " + std::to_string(peer),
                       errno != 0 ? errno : ENOENT);
  return Wrap(channel);
}

std::optional<std::string> VchanServerKey(unsigned server, unsigned client, unsigned port) {
  return "/local/domain/" + std::to_string(server) + "/" + ServerPath(client, port) +
         "/event-channel";
}

std::string_view VchanTransportName() { return "xen"; }

}  // namespace qmin
