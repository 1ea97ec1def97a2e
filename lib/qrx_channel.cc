#include "qrx_channel.h"

#include <sys/epoll.h>

#include <algorithm>
#include <utility>

namespace qmin::qrx {
namespace {
// What a peer that stops reading may make us hold: two of the largest
// messages, so that an honest peer's burst always fits.
constexpr std::size_t kMaxQueued = 2 * kMaxFrameSize;
constexpr auto kHelloPatience = std::chrono::seconds(10);
}  // namespace

ControlChannel::ControlChannel(EventLoop& loop, std::unique_ptr<Vchan> vchan, Link incoming,
                               std::function<void(const Message&)> on_message,
                               std::function<void(const Error&)> on_close)
    : loop_(loop),
      vchan_(std::move(vchan)),
      incoming_(incoming),
      on_message_(std::move(on_message)),
      on_close_(std::move(on_close)),
      in_(incoming, 2 * kMaxFrameSize) {}

ControlChannel::~ControlChannel() {
  if (vchan_) loop_.Remove(vchan_->fd());
  if (hello_timer_ != 0) loop_.CancelTimer(hello_timer_);
  if (pause_timer_ != 0) loop_.CancelTimer(pause_timer_);
}

Status ControlChannel::Start(bool server) {
  server_ = server;
  if (Status status = loop_.Add(vchan_->fd(), EPOLLIN, [this](std::uint32_t) { OnEvent(); });
      !status)
    return status;
  if (server_) Send(EncodeHello(kProtocolVersion));
  // A peer that never greets is cut off rather than kept forever.
  hello_timer_ = loop_.AddTimer(kHelloPatience, [this] {
    hello_timer_ = 0;
    if (!greeted_) Close(InvalidError("talk to the peer", "no HELLO within 10 s"));
  });
  OnEvent();  // an edge may have come before we watched
  return {};
}

void ControlChannel::Send(const std::vector<std::uint8_t>& message) {
  if (!open_) return;
  // A peer that stops reading must not make us hold its messages forever.
  if (out_.size() + message.size() > kMaxQueued)
    return Close(InvalidError("talk to the peer", "it stopped reading"));
  out_.insert(out_.end(), message.begin(), message.end());
  while (!out_.empty()) {
    Result<std::size_t> wrote = vchan_->Write(out_);
    if (!wrote) return Close(wrote.error());
    if (*wrote == 0) return;  // the ring is full: the peer's reading wakes OnEvent
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(*wrote));
  }
}

void ControlChannel::Pause(std::chrono::milliseconds duration) {
  if (!open_ || pause_timer_ != 0) return;
  loop_.Remove(vchan_->fd());
  pause_timer_ = loop_.AddTimer(duration, [this] {
    pause_timer_ = 0;
    if (!open_) return;
    if (Status watched = loop_.Add(vchan_->fd(), EPOLLIN, [this](std::uint32_t) { OnEvent(); });
        !watched)
      return Close(watched.error());
    OnEvent();  // what waited in the ring raised no new event
  });
}

void ControlChannel::OnEvent() {
  if (!open_ || pause_timer_ != 0) return;
  if (Status waited = vchan_->Wait(); !waited) return Close(waited.error());
  Send({});  // flush what waited for room
  // Edge-like: take every whole message that is ready now.
  while (open_ && pause_timer_ == 0) {
    if (const std::optional<Frame> frame = in_.Next()) {
      TakeFrame(*frame);
      continue;
    }
    const std::size_t ready = vchan_->DataReady();
    if (ready == 0) break;
    // Checked before a single byte of a body is taken: FrameReader checks
    // each header as it completes.
    const std::span<std::uint8_t> room = in_.Space(ready);
    Result<std::size_t> got = vchan_->Read(room);
    if (!got) return Close(got.error());
    if (Status checked = in_.Commit(*got); !checked) return Close(checked.error());
  }
  if (open_ && pause_timer_ == 0 && vchan_->state() == Vchan::State::kClosed &&
      vchan_->DataReady() == 0)
    Close(InvalidError("talk to the peer", "the channel closed"));
}

void ControlChannel::TakeFrame(const Frame& frame) {
  Result<Message> message = DecodeBody(incoming_, frame.header, frame.body);
  if (!message) return Close(message.error());
  if (const auto* hello = std::get_if<Hello>(&*message)) {
    if (greeted_) return Close(InvalidError("talk to the peer", "a second HELLO"));
    if (hello->version < kMinProtocolVersion)
      return Close(
          InvalidError("talk to the peer", "protocol version " + std::to_string(hello->version)));
    version_ = std::min(hello->version, kProtocolVersion);
    greeted_ = true;
    // An idle channel must not wake anyone: the deadline has served its purpose.
    if (hello_timer_ != 0) loop_.CancelTimer(std::exchange(hello_timer_, 0));
    if (!server_) Send(EncodeHello(version_));
    if (on_ready_) loop_.AddTimer(std::chrono::milliseconds(0), std::exchange(on_ready_, nullptr));
    return;
  }
  if (!greeted_) return Close(InvalidError("talk to the peer", "a message before HELLO"));
  on_message_(*message);
}

void ControlChannel::Close(const Error& why) {
  if (!open_) return;
  open_ = false;
  loop_.Remove(vchan_->fd());
  // Reported from the loop: the owner may destroy this channel in the callback.
  loop_.AddTimer(std::chrono::milliseconds(0), [callback = on_close_, why] { callback(why); });
}

}  // namespace qmin::qrx
