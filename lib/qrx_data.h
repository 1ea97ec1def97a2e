// The data phase of a qrexec call over one vchan: local descriptors on one
// side, qrexec data messages on the other (DESIGN.md §3, Qubes' EOF rules).
//  - Each side sends HELLO first and nothing else until the peer's HELLO has
//    arrived, and does not finish before it has (Qubes' peers wait for
//    their own handshake and fail if the link is gone by then).
//  - Each outgoing stream (a local fd read into messages of one type) ends
//    with an empty message of that type.
//  - Each incoming stream (messages of one type written to a local fd) is
//    closed on its empty message.
//  - The service side sends EXIT_CODE once every outgoing stream has ended
//    and SetExitCode() was called; the caller side finishes on EXIT_CODE,
//    even when its own writing failed because the service had gone.
// Flow control both ways: a local fd is read only while the ring has room,
// and the vchan only while the local fd takes what was read. The link owns
// every descriptor it is given and closes them all by its end.
#ifndef QMIN_LIB_QRX_DATA_H_
#define QMIN_LIB_QRX_DATA_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "event_loop.h"
#include "qrx_proto.h"
#include "vchan.h"

namespace qmin::qrx {

struct Outgoing {
  int fd;              ///< read until EOF
  std::uint32_t type;  ///< kDataStdin, kDataStdout or kDataStderr
};

struct Incoming {
  std::uint32_t type;
  int fd;                       ///< written to, ended at the stream's end; -1 discards
  bool filter_escapes = false;  ///< bytes a terminal would act on become '_'
  /// A copy of a descriptor we were given (qrx-call's stdout, stderr), which
  /// others may share: ended by closing our copy, never by shutting the socket.
  bool inherited = false;
};

/// Qubes' escape filter: everything but printable ASCII, tab and newline
/// becomes '_' (0x80-0x9f included: C1 controls reach terminals too).
void FilterEscapes(std::span<std::uint8_t> bytes);

class DataLink {
 public:
  enum class Side { kCaller, kService };
  /// With the remote exit code (caller side) or 0 (service side), or an
  /// error when the link broke.
  using Done = std::function<void(Result<int> status)>;

  DataLink(EventLoop& loop, std::unique_ptr<Vchan> vchan, Side side, std::vector<Outgoing> outgoing,
           std::vector<Incoming> incoming, Done done);
  ~DataLink();
  DataLink(const DataLink&) = delete;
  DataLink& operator=(const DataLink&) = delete;

  /// Data to send right after the handshake, before the stream's fd is read
  /// (qrx-call --prefix-data). Call before Start().
  void Prepend(std::uint32_t type, std::vector<std::uint8_t> bytes) {
    prefix_.emplace_back(type, std::move(bytes));
  }
  /// Starts: HELLO, then the streams. Local fds must be non-blocking.
  Status Start();
  /// Service side: the service's exit status, sent after its output ended.
  void SetExitCode(int code);
  /// Called once when every outgoing stream has ended (a socket service's
  /// exit code is 0 then).
  void OnOutputsEnded(std::function<void()> callback) { outputs_ended_ = std::move(callback); }
  /// Qubes' SIGUSR1: the local process now writes its output to the socket
  /// it reads its input from. The outgoing stream `output` is read from the
  /// descriptor of the incoming stream `input` from here on; once only, and
  /// only when that descriptor is a socket. False when nothing changed.
  bool UseInputSocketForOutput(std::uint32_t output, std::uint32_t input);
  /// How long the peer has for its HELLO (default 60 s).
  void set_hello_deadline(std::chrono::milliseconds deadline) { hello_deadline_ = deadline; }

 private:
  /// How a local fd is waited on: by epoll, or from a timer when epoll refuses it.
  struct Arming {
    bool watched = false;
    bool pollable = true;  ///< epoll refuses regular files and /dev/null: those are always ready
    bool scheduled = false;
    bool ready = false;  ///< edge-triggered (outgoing): data may be waiting
  };
  struct Out {
    Outgoing stream;
    bool open = true;
    Arming arming;
  };
  struct In {
    Incoming stream;
    bool open = true;
    std::vector<std::uint8_t> pending;  ///< read from the vchan, not yet taken by the fd
    Arming arming;
  };

  void OnVchan();
  void OnLocal(std::size_t index);
  void OnWritable(std::size_t index);
  void WritePending(std::size_t index);
  void ReadMessages();
  void TakeFrame(const Frame& frame);
  void OnHello(const Frame& frame);
  void CheckPeerGone();
  void Deliver(std::uint32_t type, std::span<const std::uint8_t> body);
  void Flush();
  void OnWriteFailed(const Error& error);
  void Send(const std::vector<std::uint8_t>& message);
  void Rearm();
  void MaybeFinish();
  void Finish(Result<int> status);
  void CloseOutgoing(std::size_t index);
  void CloseIncoming(std::size_t index);
  bool CarriesOutgoing(int fd) const;
  void CloseAll();
  /// Keeps outgoing stream `index` in epoll and reads it when `room`.
  void ArmOutgoing(std::size_t index, bool room);
  /// Waits for `events` on `fd` while `want`, calling `step` when ready.
  void Arm(int fd, Arming& arming, bool want, std::uint32_t events,
           const std::function<void()>& step);
  /// Puts `fd` in epoll, calling `on_event` on its events, unless epoll
  /// refused it before; one that epoll refuses (EPERM: a regular file,
  /// /dev/null) is marked never pollable. True when it is watched now.
  bool Watch(int fd, Arming& arming, std::uint32_t events, const std::function<void()>& on_event);
  /// Takes `fd` out of epoll if it is there.
  void Unwatch(int fd, Arming& arming);
  /// Runs `step` from the loop soon, unless this link is gone by then.
  void Later(std::function<void()> step);

  EventLoop& loop_;
  std::unique_ptr<Vchan> vchan_;
  Side side_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::vector<Out> out_;
  std::vector<In> in_;
  std::vector<int> owned_;  ///< every fd handed to us, closed at the end
  Done done_;
  std::function<void()> outputs_ended_;
  std::vector<std::pair<std::uint32_t, std::vector<std::uint8_t>>> prefix_;
  RingBytes to_vchan_;            ///< framed, waiting for ring space
  std::size_t hello_unsent_ = 0;  ///< bytes of our HELLO still in to_vchan_
  FrameReader from_vchan_;        ///< read from the ring, not yet taken
  std::chrono::milliseconds hello_deadline_{60000};
  EventLoop::TimerId hello_timer_ = 0;
  bool hello_received_ = false;
  bool writing_failed_ = false;  ///< the peer is gone for what we send
  bool switched_ = false;
  std::optional<int> exit_code_;
  bool exit_sent_ = false;
  bool finished_ = false;
};

}  // namespace qmin::qrx

#endif  // QMIN_LIB_QRX_DATA_H_
