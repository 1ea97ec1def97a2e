// DataLink's local ends: which descriptors epoll watches, and when, and how
// each stream is closed when it ends.
#include "qrx_data.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "files.h"

namespace qmin::qrx {

void DataLink::Later(std::function<void()> step) {
  loop_.AddTimer(std::chrono::milliseconds(0),
                 [alive = std::weak_ptr<bool>(alive_), step = std::move(step)] {
                   if (alive.lock()) step();
                 });
}

// Watches each incoming fd only while it has something to write, and each
// outgoing one all along (ArmOutgoing). Descriptors epoll refuses (regular
// files, /dev/null) never block: they are served from the loop's timer
// instead.
void DataLink::Rearm() {
  if (finished_) return;
  const bool room = hello_received_ && !writing_failed_ && to_vchan_.empty() &&
                    vchan_->BufferSpace() > kHeaderSize;
  for (std::size_t i = 0; i < out_.size(); ++i) ArmOutgoing(i, room);
  for (std::size_t i = 0; i < in_.size(); ++i) {
    In& in = in_[i];
    Arm(in.stream.fd, in.arming, in.open && !in.pending.empty(), EPOLLOUT, [this, i] {
      in_[i].arming.scheduled = false;
      OnWritable(i);
    });
  }
}

// An outgoing fd stays in epoll, edge-triggered, for as long as it is open:
// while the ring is full, reading only pauses. Taking it out of epoll and
// back each time the ring filled cost two epoll_ctl per fd per ring-full,
// and a syscall is a trip through Xen on a PV guest (about 55 us under
// emulation). Reading resumes from here when there is room and the fd may
// hold data.
void DataLink::ArmOutgoing(std::size_t index, bool room) {
  Out& out = out_[index];
  Arming& arming = out.arming;
  if (!out.open) return;
  if (!arming.watched) {
    const auto on_data = [this, index] {
      out_[index].arming.ready = true;
      OnLocal(index);
    };
    // Until a read says otherwise: one EAGAIN at most.
    if (Watch(out.stream.fd, arming, EPOLLIN | EPOLLET, on_data)) arming.ready = true;
  }
  if (room && (arming.ready || !arming.pollable) && !arming.scheduled) {
    arming.scheduled = true;
    Later([this, index] {
      out_[index].arming.scheduled = false;
      OnLocal(index);
    });
  }
}

void DataLink::Arm(int fd, Arming& arming, bool want, std::uint32_t events,
                   const std::function<void()>& step) {
  if (want && !arming.watched) Watch(fd, arming, events, step);
  if (want && !arming.pollable && !arming.scheduled) {
    arming.scheduled = true;
    Later(step);
  } else if (!want) {
    Unwatch(fd, arming);
  }
}

bool DataLink::Watch(int fd, Arming& arming, std::uint32_t events,
                     const std::function<void()>& on_event) {
  if (!arming.pollable) return false;
  Status added = loop_.Add(fd, events, [on_event](std::uint32_t) { on_event(); });
  arming.watched = static_cast<bool>(added);
  arming.pollable = added || added.error().errnum != EPERM;
  return arming.watched;
}

void DataLink::Unwatch(int fd, Arming& arming) {
  if (arming.watched) loop_.Remove(fd);
  arming.watched = false;
}

void DataLink::CloseOutgoing(std::size_t index) {
  Out& out = out_[index];
  if (!out.open) return;
  Unwatch(out.stream.fd, out.arming);
  out.open = false;
}

// The end of an incoming stream. A socket of our own has its write side shut
// down: its reader sees EOF, and the other way stays open (a service may have
// switched its output onto it). An inherited socket is only closed — a
// service's shell that runs qrx-call and then prints more shares it, and
// shutdown would end it for all — unless it is one bidirectional socket
// whose other way we carry.
void DataLink::CloseIncoming(std::size_t index) {
  In& in = in_[index];
  if (!in.open) return;
  Unwatch(in.stream.fd, in.arming);
  in.open = false;
  const int fd = in.stream.fd;
  if (fd < 0) return;
  const bool shut = IsSocket(fd) && (!in.stream.inherited || CarriesOutgoing(fd));
  if (shut && shutdown(fd, SHUT_WR) == 0) return;
  close(fd);
  std::erase(owned_, fd);
}

bool DataLink::CarriesOutgoing(int fd) const {
  return std::any_of(out_.begin(), out_.end(), [fd](const Out& out) {
    return out.stream.fd >= 0 && SameOpenFile(out.stream.fd, fd);
  });
}

void DataLink::CloseAll() {
  for (std::size_t i = 0; i < out_.size(); ++i) CloseOutgoing(i);
  for (std::size_t i = 0; i < in_.size(); ++i) CloseIncoming(i);
  for (int fd : owned_) close(fd);
  owned_.clear();
}

}  // namespace qmin::qrx
