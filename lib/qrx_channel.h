// A qrexec control channel over a vchan: the HELLO handshake, framed
// messages in (each checked by qrx_proto before its body is read) and out
// (queued while the ring is full). Used by the agent (from the broker) and
// the broker (from each agent).
#ifndef QMIN_LIB_QRX_CHANNEL_H_
#define QMIN_LIB_QRX_CHANNEL_H_

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "event_loop.h"
#include "qrx_proto.h"
#include "vchan.h"

namespace qmin::qrx {

class ControlChannel {
 public:
  /// `on_message` gets each message after the handshake; `on_close` once,
  /// with the reason (the peer left, or broke the protocol).
  ControlChannel(EventLoop& loop, std::unique_ptr<Vchan> vchan, Link incoming,
                 std::function<void(const Message&)> on_message,
                 std::function<void(const Error&)> on_close);
  ~ControlChannel();
  ControlChannel(const ControlChannel&) = delete;
  ControlChannel& operator=(const ControlChannel&) = delete;

  /// Watches the vchan and greets: the vchan server speaks first (qrexec's rule).
  Status Start(bool server);
  void Send(const std::vector<std::uint8_t>& message);
  /// Called once, when the peer's HELLO has arrived.
  void OnReady(std::function<void()> callback) { on_ready_ = std::move(callback); }
  /// Takes no message for `duration`: the peer's ring fills and it waits.
  /// How the broker caps what one domain can cost; costs nothing meanwhile.
  void Pause(std::chrono::milliseconds duration);
  bool ready() const { return open_ && greeted_; }
  bool open() const { return open_; }
  std::uint32_t version() const { return version_; }
  Vchan& vchan() { return *vchan_; }

 private:
  void OnEvent();
  void TakeFrame(const Frame& frame);
  void Close(const Error& why);
  EventLoop::TimerId hello_timer_ = 0;
  EventLoop::TimerId pause_timer_ = 0;

  EventLoop& loop_;
  std::unique_ptr<Vchan> vchan_;
  Link incoming_;
  std::function<void(const Message&)> on_message_;
  std::function<void(const Error&)> on_close_;
  std::function<void()> on_ready_;
  FrameReader in_;
  std::vector<std::uint8_t> out_;
  bool server_ = false;
  bool greeted_ = false;  ///< we have received the peer's HELLO
  bool open_ = true;
  std::uint32_t version_ = 0;
};

}  // namespace qmin::qrx

#endif  // QMIN_LIB_QRX_CHANNEL_H_
