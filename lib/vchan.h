// A vchan: a bidirectional byte channel between two domains, named by the
// peer's domain ID and a port. The transport is chosen at link time
// (DESIGN.md §4): build/bin links vchan_xen.cc (libxenvchan), build/sim/bin
// links vchan_socket.cc (UNIX sockets named
// $VCHAN_SOCKET_DIR/vchan.<server>.<client>.<port>.sock, own domain from
// $VCHAN_DOMAIN). Nothing else in lib/ knows which one it got.
//
// Both behave like libxenvchan: the server publishes and waits for its
// client; reads and writes are partial and never block; the ring is finite
// (BufferSpace); and fd() is edge-like: after it polls readable, call Wait()
// and then take everything that is ready, or the rest waits for the next
// event. Forgetting Wait() spins; not draining stalls.
#ifndef QMIN_LIB_VCHAN_H_
#define QMIN_LIB_VCHAN_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "error.h"

namespace qmin {

class Vchan {
 public:
  enum class State { kWaiting, kOpen, kClosed };

  virtual ~Vchan() = default;
  /// Polls readable when the channel may have changed.
  virtual int fd() const = 0;
  /// Consumes the event behind fd(); call it each time fd() polls readable.
  /// Never blocks: with no event pending it returns at once.
  virtual Status Wait() = 0;
  /// kWaiting until a server's client connects; kClosed once the peer went
  /// (data it sent before may still be readable).
  virtual State state() = 0;
  virtual std::size_t DataReady() = 0;
  virtual std::size_t BufferSpace() = 0;
  /// Up to bytes.size() bytes, 0 when none is ready.
  virtual Result<std::size_t> Read(std::span<std::uint8_t> bytes) = 0;
  /// Up to bytes.size() bytes, 0 when the ring is full.
  virtual Result<std::size_t> Write(std::span<const std::uint8_t> bytes) = 0;
};

/// Publishes a channel for `peer` on `port` with rings of at least `buffer`
/// bytes, and returns at once in state kWaiting.
Result<std::unique_ptr<Vchan>> ServeVchan(unsigned peer, unsigned port, std::size_t buffer);

/// Our own domain ID, as the transport names it. On Xen it costs a xenstore
/// round trip: a process that connects more than once keeps it.
Result<unsigned> OwnVchanDomain();

/// Connects to the channel `peer` serves for `own` (our domain) on `port`;
/// fails (ENOENT) while the server is not there yet.
Result<std::unique_ptr<Vchan>> ConnectVchan(unsigned peer, unsigned port, unsigned own);

/// The same, looking our own domain up first.
inline Result<std::unique_ptr<Vchan>> ConnectVchan(unsigned peer, unsigned port) {
  Result<unsigned> own = OwnVchanDomain();
  if (!own) return own.error();
  return ConnectVchan(peer, port, *own);
}

/// The xenstore key that appears when `server` serves `client` on `port`
/// (libxenvchan writes it last, and the client may read it but not its
/// directory), for a client to watch while it waits; none for transports
/// that do not go through xenstore.
std::optional<std::string> VchanServerKey(unsigned server, unsigned client, unsigned port);

/// "xen" or "socket": printed by --version so a test can tell the builds apart.
std::string_view VchanTransportName();

}  // namespace qmin

#endif  // QMIN_LIB_VCHAN_H_
