#include "qrx_data.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace qmin::qrx {
namespace {

// Keep the ring from holding more than this much of our own framing backlog.
constexpr std::size_t kReadChunk = kMaxDataChunk;

// A socket's write side is shut down (its reader sees EOF, the other way
// stays open); anything else is closed.
void EndWriting(int fd) {
  struct stat st {};
  if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && shutdown(fd, SHUT_WR) == 0) return;
  close(fd);
}

}  // namespace

DataLink::DataLink(EventLoop& loop, std::unique_ptr<Vchan> vchan, Side side,
                   std::vector<Outgoing> outgoing, std::vector<Incoming> incoming, Done done)
    : loop_(loop), vchan_(std::move(vchan)), side_(side), done_(std::move(done)) {
  for (const Outgoing& stream : outgoing) out_.push_back(Out{stream, true, false, true, false});
  for (const Incoming& stream : incoming) in_.push_back(In{stream, true, {}, false, true, false});
}

DataLink::~DataLink() {
  if (vchan_) loop_.Remove(vchan_->fd());
  for (std::size_t i = 0; i < out_.size(); ++i) CloseOutgoing(i);
  for (std::size_t i = 0; i < in_.size(); ++i) CloseIncoming(i);
}

Status DataLink::Start() {
  if (Status status = loop_.Add(vchan_->fd(), EPOLLIN, [this](std::uint32_t) { OnVchan(); });
      !status)
    return status;
  Send(EncodeHello(kProtocolVersion));
  for (const auto& [type, bytes] : prefix_) Send(EncodeData(static_cast<MsgType>(type), bytes));
  Rearm();
  // An edge may have come before we watched: look once.
  OnVchan();
  return {};
}

void DataLink::SetExitCode(int code) {
  exit_code_ = code;
  MaybeFinish();
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
  if (finished_ || vchan_->state() != Vchan::State::kClosed || vchan_->DataReady() != 0) return;
  const bool whole_message_held = from_vchan_.size() >= kHeaderSize &&
                                  from_vchan_.size() >= kHeaderSize + DecodeHeader(from_vchan_).len;
  if (whole_message_held || (side_ == Side::kCaller && exit_code_)) return;
  Finish(InvalidError("finish the call", "the peer closed the channel before the end"));
}

// Takes what the ring holds in as few reads as it can: every read may wake
// the writer (an event channel interrupt on Xen), so reading header and body
// apart, or in small pieces, costs a round trip each. The buffer holds at
// most two whole messages; each header is checked before its body is used.
void DataLink::ReadMessages() {
  // Stop taking data while a local fd has not taken what we gave it.
  const auto blocked = [&] {
    return std::any_of(in_.begin(), in_.end(), [](const In& in) { return !in.pending.empty(); });
  };
  constexpr std::size_t kCapacity = 2 * (kHeaderSize + kMaxDataChunk);
  while (!finished_ && !blocked()) {
    if (from_vchan_.size() >= kHeaderSize) {
      const Header header = DecodeHeader(from_vchan_);
      if (Status checked = CheckHeader(Link::kData, header); !checked)
        return Finish(checked.error());
      if (from_vchan_.size() >= kHeaderSize + header.len) {
        TakeMessage(header);
        continue;
      }
    }
    const std::size_t ready = vchan_->DataReady();
    if (ready == 0) return;
    const std::size_t start = from_vchan_.size();
    from_vchan_.resize(start + std::min(ready, kCapacity - start));
    Result<std::size_t> got = vchan_->Read(std::span(from_vchan_).subspan(start));
    if (!got) return Finish(got.error());
    from_vchan_.resize(start + *got);
  }
}

// One whole message at the front of the buffer, its header already checked.
void DataLink::TakeMessage(const Header& header) {
  const std::size_t size = kHeaderSize + header.len;
  Result<Message> message =
      DecodeBody(Link::kData, header, std::span(from_vchan_).subspan(kHeaderSize, header.len));
  from_vchan_.erase(from_vchan_.begin(), from_vchan_.begin() + static_cast<std::ptrdiff_t>(size));
  if (!message) return Finish(message.error());
  if (const auto* hello = std::get_if<Hello>(&*message)) {
    if (hello->version < kMinProtocolVersion)
      return Finish(InvalidError("greet the peer", "protocol too old"));
    hello_received_ = true;
  } else if (!hello_received_) {
    return Finish(InvalidError("read the call's data", "data before HELLO"));
  } else if (const auto* exit = std::get_if<ExitStatus>(&*message)) {
    if (side_ != Side::kCaller)
      return Finish(InvalidError("read the call's data", "an exit code from the caller"));
    exit_code_ = exit->code;
  } else if (const auto* data = std::get_if<Data>(&*message)) {
    Deliver(data->stream, data->bytes);
  }
}

bool DataLink::Deliver(std::uint32_t type, std::span<const std::uint8_t> body) {
  for (std::size_t i = 0; i < in_.size(); ++i) {
    In& in = in_[i];
    if (in.stream.type != type) continue;
    if (body.empty()) {
      CloseIncoming(i);
    } else if (in.open && in.stream.fd >= 0) {
      const std::size_t start = in.pending.size();
      in.pending.insert(in.pending.end(), body.begin(), body.end());
      if (in.stream.filter_escapes)
        for (std::size_t at = start; at < in.pending.size(); ++at) {
          const std::uint8_t c = in.pending[at];
          if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) in.pending[at] = '_';
        }
      WritePending(i);
    }
    return true;
  }
  Finish(InvalidError("read the call's data",
                      "a stream this side does not receive: " + std::to_string(type)));
  return false;
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
      CloseIncoming(index);
      return;
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

void DataLink::OnLocal(std::size_t index) {
  Out& out = out_[index];
  const std::size_t space = vchan_->BufferSpace();
  if (!to_vchan_.empty() || space <= kHeaderSize) return Rearm();
  std::vector<std::uint8_t> buffer(std::min(space - kHeaderSize, kReadChunk));
  const ssize_t got = read(out.stream.fd, buffer.data(), buffer.size());
  if (got < 0 && errno == EAGAIN) return;
  if (got <= 0) {
    Send(EncodeData(static_cast<MsgType>(out.stream.type), {}));
    CloseOutgoing(index);
  } else {
    Send(EncodeData(static_cast<MsgType>(out.stream.type),
                    std::span(buffer.data(), static_cast<std::size_t>(got))));
  }
  Rearm();
  MaybeFinish();
}

void DataLink::Send(std::vector<std::uint8_t> message) {
  to_vchan_.insert(to_vchan_.end(), message.begin(), message.end());
  Flush();
}

void DataLink::Flush() {
  while (!to_vchan_.empty() && !finished_) {
    Result<std::size_t> wrote = vchan_->Write(to_vchan_);
    if (!wrote) return Finish(wrote.error());
    if (*wrote == 0) return;  // the ring is full: the peer's reading wakes us
    to_vchan_.erase(to_vchan_.begin(), to_vchan_.begin() + static_cast<std::ptrdiff_t>(*wrote));
  }
}

void DataLink::Later(std::function<void()> step) {
  loop_.AddTimer(std::chrono::milliseconds(0),
                 [alive = std::weak_ptr<bool>(alive_), step = std::move(step)] {
                   if (alive.lock()) step();
                 });
}

// Watches each local fd only while it can make progress. Descriptors epoll
// refuses (regular files, /dev/null) never block: they are served from the
// loop's timer instead, one step at a time.
void DataLink::Rearm() {
  if (finished_) return;
  const bool room = to_vchan_.empty() && vchan_->BufferSpace() > kHeaderSize;
  for (std::size_t i = 0; i < out_.size(); ++i) {
    Out& out = out_[i];
    Arm(out.stream.fd, out.arming, room && out.open, EPOLLIN, [this, i] {
      out_[i].arming.scheduled = false;
      OnLocal(i);
    });
  }
  for (std::size_t i = 0; i < in_.size(); ++i) {
    In& in = in_[i];
    Arm(in.stream.fd, in.arming, in.open && !in.pending.empty(), EPOLLOUT, [this, i] {
      in_[i].arming.scheduled = false;
      OnWritable(i);
    });
  }
}

void DataLink::Arm(int fd, Arming& arming, bool want, std::uint32_t events,
                   const std::function<void()>& step) {
  if (want && arming.pollable && !arming.watched) {
    Status added = loop_.Add(fd, events, [step](std::uint32_t) { step(); });
    arming.watched = static_cast<bool>(added);
    arming.pollable = added || added.error().errnum != EPERM;
  }
  if (want && !arming.pollable && !arming.scheduled) {
    arming.scheduled = true;
    Later(step);
  } else if (!want && arming.watched) {
    loop_.Remove(fd);
    arming.watched = false;
  }
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
    // our stdin is sent if the ring takes it (Qubes does the same), but
    // nothing waits for a reader that will never come.
    if (!outputs_done) {
      to_vchan_.clear();
      Send(EncodeData(kDataStdin, {}));
    }
    Finish(*exit_code_);
  }
}

void DataLink::Finish(Result<int> status) {
  if (finished_) return;
  finished_ = true;
  loop_.Remove(vchan_->fd());
  for (std::size_t i = 0; i < out_.size(); ++i) CloseOutgoing(i);
  for (std::size_t i = 0; i < in_.size(); ++i) CloseIncoming(i);
  // Reported from the loop, not from here: the owner may destroy this link
  // in the callback, and we are still inside its member functions.
  if (done_)
    loop_.AddTimer(std::chrono::milliseconds(0),
                   [done = std::move(done_), status]() mutable { done(status); });
}

void DataLink::CloseOutgoing(std::size_t index) {
  Out& out = out_[index];
  if (!out.open) return;
  if (out.arming.watched) loop_.Remove(out.stream.fd);
  out.arming.watched = false;
  out.open = false;
  close(out.stream.fd);
}

void DataLink::CloseIncoming(std::size_t index) {
  In& in = in_[index];
  if (!in.open) return;
  if (in.arming.watched) loop_.Remove(in.stream.fd);
  in.arming.watched = false;
  in.open = false;
  if (in.stream.fd >= 0) EndWriting(in.stream.fd);
}

}  // namespace qmin::qrx
