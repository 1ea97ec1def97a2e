#include "qrx_data.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "files.h"

namespace qmin::qrx {

void FilterEscapes(std::span<std::uint8_t> bytes) {
  for (std::uint8_t& c : bytes)
    if ((c < 0x20 && c != '\t' && c != '\n') || c >= 0x7f) c = '_';
}

DataLink::DataLink(EventLoop& loop, std::unique_ptr<Vchan> vchan, Side side,
                   std::vector<Outgoing> outgoing, std::vector<Incoming> incoming, Done done)
    : loop_(loop),
      vchan_(std::move(vchan)),
      side_(side),
      done_(std::move(done)),
      from_vchan_(Link::kData, 2 * kMaxFrameSize) {
  const auto own = [this](int fd) {
    if (fd >= 0 && std::find(owned_.begin(), owned_.end(), fd) == owned_.end())
      owned_.push_back(fd);
  };
  for (const Outgoing& stream : outgoing) {
    out_.push_back(Out{stream, true, {}});
    own(stream.fd);
  }
  for (const Incoming& stream : incoming) {
    in_.push_back(In{stream, true, {}, {}});
    own(stream.fd);
  }
}

DataLink::~DataLink() {
  if (vchan_) loop_.Remove(vchan_->fd());
  if (hello_timer_ != 0) loop_.CancelTimer(hello_timer_);
  CloseAll();
}

Status DataLink::Start() {
  if (Status status = loop_.Add(vchan_->fd(), EPOLLIN, [this](std::uint32_t) { OnVchan(); });
      !status)
    return status;
  const std::vector<std::uint8_t> hello = EncodeHello(kProtocolVersion);
  hello_unsent_ = hello.size();
  to_vchan_.assign(hello.begin(), hello.end());
  for (const auto& [type, bytes] : prefix_) {
    const std::vector<std::uint8_t> message = EncodeData(static_cast<MsgType>(type), bytes);
    to_vchan_.insert(to_vchan_.end(), message.begin(), message.end());
  }
  // A peer that never greets (or never connects) does not hold us forever.
  hello_timer_ = loop_.AddTimer(hello_deadline_, [this] {
    hello_timer_ = 0;
    if (!hello_received_) Finish(InvalidError("talk to the peer", "no HELLO in time"));
  });
  Flush();
  Rearm();
  OnVchan();  // an edge may have come before we watched: look once
  return {};
}

void DataLink::SetExitCode(int code) {
  exit_code_ = code;
  MaybeFinish();
}

bool DataLink::UseInputSocketForOutput(std::uint32_t output, std::uint32_t input) {
  if (switched_ || finished_) return false;
  auto out = std::find_if(out_.begin(), out_.end(),
                          [&](const Out& o) { return o.stream.type == output && o.open; });
  auto in =
      std::find_if(in_.begin(), in_.end(), [&](const In& i) { return i.stream.type == input; });
  if (out == out_.end() || in == in_.end() || in->stream.fd < 0 || !IsSocket(in->stream.fd))
    return false;
  const int both = fcntl(in->stream.fd, F_DUPFD_CLOEXEC, 3);
  if (both < 0) return false;
  switched_ = true;
  if (out->arming.watched) loop_.Remove(out->stream.fd);
  shutdown(out->stream.fd, SHUT_RD);  // the old output is done with, as in Qubes
  out->stream.fd = both;
  out->arming = {};
  owned_.push_back(both);
  Rearm();
  return true;
}

void DataLink::OnVchan() {
  if (finished_) return;
  if (Status waited = vchan_->Wait(); !waited) return Finish(waited.error());
  // Edge-like: take everything that is ready now, or it waits for the next event.
  ReadMessages();
  Flush();
  Rearm();
  MaybeFinish();
  CheckPeerGone();
}

// A peer that closed is only done with us once what it sent is used up:
// whole messages may wait in our buffer for a local fd to take their data,
// and a caller that has the exit code only waits to write the output out.
void DataLink::CheckPeerGone() {
  if (finished_) return;
  const bool closed = writing_failed_ || vchan_->state() == Vchan::State::kClosed;
  if (!closed || vchan_->DataReady() != 0 || from_vchan_.HasWholeFrame()) return;
  if (side_ == Side::kCaller && exit_code_) return;
  Finish(InvalidError("finish the call", "the peer closed the channel before the end"));
}

// Takes what the ring holds in as few reads as it can: every read may wake
// the writer (an event channel interrupt on Xen), so reading header and body
// apart, or in small pieces, costs a round trip each. The reader holds at
// most two whole messages; each header is checked before its body is used.
void DataLink::ReadMessages() {
  // Stop taking data while a local fd has not taken what we gave it.
  const auto blocked = [&] {
    return std::any_of(in_.begin(), in_.end(), [](const In& in) { return !in.pending.empty(); });
  };
  while (!finished_ && !blocked()) {
    if (const std::optional<Frame> frame = from_vchan_.Next()) {
      TakeFrame(*frame);
      continue;
    }
    const std::size_t ready = vchan_->DataReady();
    if (ready == 0) return;
    const std::span<std::uint8_t> room = from_vchan_.Space(ready);
    if (room.empty()) return;
    Result<std::size_t> got = vchan_->Read(room);
    if (!got) return Finish(got.error());
    if (Status checked = from_vchan_.Commit(*got); !checked) return Finish(checked.error());
  }
}

void DataLink::TakeFrame(const Frame& frame) {
  if (frame.header.type == kHello) return OnHello(frame);
  if (!hello_received_) return Finish(InvalidError("read the call's data", "data before HELLO"));
  Result<Message> message = DecodeBody(Link::kData, frame.header, frame.body);
  if (!message) return Finish(message.error());
  if (const auto* exit = std::get_if<ExitStatus>(&*message)) {
    if (side_ != Side::kCaller)
      return Finish(InvalidError("read the call's data", "an exit code from the caller"));
    exit_code_ = exit->code;
  } else if (const auto* data = std::get_if<Data>(&*message)) {
    Deliver(data->stream, data->bytes);
  }
}

void DataLink::OnHello(const Frame& frame) {
  Result<Message> message = DecodeBody(Link::kData, frame.header, frame.body);
  if (!message) return Finish(message.error());
  if (hello_received_) return Finish(InvalidError("greet the peer", "a second HELLO"));
  if (std::get<Hello>(*message).version < kMinProtocolVersion)
    return Finish(InvalidError("greet the peer", "protocol too old"));
  hello_received_ = true;
  // An idle call must not wake anyone: the deadline has served its purpose.
  if (hello_timer_ != 0) loop_.CancelTimer(std::exchange(hello_timer_, 0));
  Flush();
  Rearm();
}

void DataLink::Deliver(std::uint32_t type, std::span<const std::uint8_t> body) {
  for (std::size_t i = 0; i < in_.size(); ++i) {
    In& in = in_[i];
    if (in.stream.type != type) continue;
    if (body.empty()) return CloseIncoming(i);
    if (!in.open || in.stream.fd < 0) return;
    if (in.pending.empty() && !in.stream.filter_escapes) {
      // The common case: the fd takes it straight from the frame.
      const ssize_t wrote = write(in.stream.fd, body.data(), body.size());
      if (wrote < 0 && errno != EAGAIN) return CloseIncoming(i);
      body = body.subspan(wrote > 0 ? static_cast<std::size_t>(wrote) : 0);
    }
    const std::size_t start = in.pending.size();
    in.pending.insert(in.pending.end(), body.begin(), body.end());
    if (in.stream.filter_escapes) FilterEscapes(std::span(in.pending).subspan(start));
    return WritePending(i);
  }
  Finish(InvalidError("read the call's data",
                      "a stream this side does not receive: " + std::to_string(type)));
}

// Gives the local fd what it will take now; never blocks, never recurses.
void DataLink::WritePending(std::size_t index) {
  In& in = in_[index];
  while (!in.pending.empty() && in.open) {
    const ssize_t wrote = write(in.stream.fd, in.pending.data(), in.pending.size());
    if (wrote < 0 && errno == EAGAIN) return;
    if (wrote <= 0) {
      // The reader went away (EPIPE): what it would have read is dropped, as in Qubes.
      in.pending.clear();
      return CloseIncoming(index);
    }
    in.pending.erase(in.pending.begin(), in.pending.begin() + wrote);
  }
}

void DataLink::OnWritable(std::size_t index) {
  if (finished_) return;
  WritePending(index);
  // Room in the local fd may unblock data waiting in the ring.
  if (in_[index].pending.empty()) ReadMessages();
  Flush();
  Rearm();
  MaybeFinish();
  CheckPeerGone();
}

// Reads chunks straight behind a header in the send queue (which is empty
// whenever we read), so the data is copied once, into the ring; and reads on
// while the ring has room, since an edge-triggered fd says nothing more
// until a read finds it empty.
void DataLink::OnLocal(std::size_t index) {
  while (!finished_ && out_[index].open) {
    const std::size_t space = vchan_->BufferSpace();
    if (!to_vchan_.empty() || space <= kHeaderSize || !hello_received_) break;
    const std::size_t chunk = std::min(space - kHeaderSize, kMaxDataChunk);
    to_vchan_.resize(kHeaderSize + chunk);
    const ssize_t got = read(out_[index].stream.fd, to_vchan_.data() + kHeaderSize, chunk);
    if (got < 0 && errno == EAGAIN) {
      to_vchan_.clear();
      out_[index].arming.ready = false;
      break;
    }
    const std::size_t size = got > 0 ? static_cast<std::size_t>(got) : 0;
    to_vchan_.resize(kHeaderSize + size);
    PutHeader(to_vchan_, out_[index].stream.type, static_cast<std::uint32_t>(size));
    if (size == 0) CloseOutgoing(index);  // the empty message ends the stream
    Flush();
  }
  Rearm();
  MaybeFinish();
}

void DataLink::Send(const std::vector<std::uint8_t>& message) {
  if (writing_failed_) return;
  to_vchan_.insert(to_vchan_.end(), message.begin(), message.end());
  Flush();
}

void DataLink::Flush() {
  while (!to_vchan_.empty() && !finished_ && !writing_failed_) {
    // Nothing but our HELLO goes out before the peer's HELLO is in.
    const std::size_t allowed = hello_received_ ? to_vchan_.size() : hello_unsent_;
    if (allowed == 0) return;
    Result<std::size_t> wrote = vchan_->Write(std::span(to_vchan_).first(allowed));
    if (!wrote) return OnWriteFailed(wrote.error());
    if (*wrote == 0) return;  // the ring is full: the peer's reading wakes us
    hello_unsent_ -= std::min(hello_unsent_, *wrote);
    to_vchan_.erase(to_vchan_.begin(), to_vchan_.begin() + static_cast<std::ptrdiff_t>(*wrote));
  }
}

// A caller whose writing fails has lost only its input: the service may have
// finished and closed, its output and exit code still in the ring. Read on,
// as Qubes' client does; the loop looks again at once.
void DataLink::OnWriteFailed(const Error& error) {
  if (side_ != Side::kCaller) return Finish(error);
  writing_failed_ = true;
  to_vchan_.clear();
  for (std::size_t i = 0; i < out_.size(); ++i) CloseOutgoing(i);
  Later([this] { OnVchan(); });
}

void DataLink::MaybeFinish() {
  if (finished_) return;
  const bool outputs_done =
      std::none_of(out_.begin(), out_.end(), [](const Out& out) { return out.open; });
  if (outputs_done && outputs_ended_) std::exchange(outputs_ended_, nullptr)();
  if (side_ == Side::kService) {
    if (outputs_done && exit_code_ && !exit_sent_) {
      Send(EncodeExitCode(*exit_code_));
      exit_sent_ = true;
    }
    if (exit_sent_ && to_vchan_.empty()) Finish(0);
    return;
  }
  // Caller: the remote status ends the call once what came before it is written out.
  const bool delivered =
      std::all_of(in_.begin(), in_.end(), [](const In& in) { return in.pending.empty(); });
  if (exit_code_ && delivered) {
    // The service is gone: input it did not read is dropped, and the end of
    // our stdin is sent if the ring takes it whole (Qubes does the same),
    // but nothing waits for a reader that will never come.
    if (!outputs_done && to_vchan_.empty()) Send(EncodeData(kDataStdin, {}));
    Finish(*exit_code_);
  }
}

void DataLink::Finish(Result<int> status) {
  if (finished_) return;
  finished_ = true;
  loop_.Remove(vchan_->fd());
  if (hello_timer_ != 0) loop_.CancelTimer(std::exchange(hello_timer_, 0));
  CloseAll();
  // Reported from the loop, not from here: the owner may destroy this link
  // in the callback, and we are still inside its member functions.
  if (done_)
    loop_.AddTimer(std::chrono::milliseconds(0),
                   [done = std::move(done_), status]() mutable { done(status); });
}

}  // namespace qmin::qrx
