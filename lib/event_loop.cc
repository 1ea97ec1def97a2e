#include "event_loop.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

namespace qmin {

Result<EventLoop> EventLoop::Create() {
  const int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (epoll < 0) return SystemError("create an event loop", errno);
  return EventLoop(epoll);
}

EventLoop::EventLoop(EventLoop&& other) noexcept
    : epoll_(other.epoll_),
      signal_fd_(other.signal_fd_),
      stopped_(other.stopped_),
      watches_(std::move(other.watches_)),
      timers_(std::move(other.timers_)),
      next_timer_(other.next_timer_) {
  other.epoll_ = -1;
  other.signal_fd_ = -1;
}

EventLoop::~EventLoop() {
  if (signal_fd_ >= 0) close(signal_fd_);
  if (epoll_ >= 0) close(epoll_);
}

Status EventLoop::OnSignals(std::initializer_list<int> signals,
                            std::function<void(int)> on_signal) {
  sigset_t mask;
  sigemptyset(&mask);
  for (int signal : signals) sigaddset(&mask, signal);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (signal_fd_ >= 0) {
    Remove(signal_fd_);
    close(signal_fd_);
  }
  signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) return SystemError("receive signals", errno);
  return Add(signal_fd_, EPOLLIN,
             [fd = signal_fd_, on_signal = std::move(on_signal)](std::uint32_t) {
               signalfd_siginfo info{};
               while (read(fd, &info, sizeof info) == sizeof info)
                 on_signal(static_cast<int>(info.ssi_signo));
             });
}

Status EventLoop::Add(int fd, std::uint32_t events, Callback callback) {
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) != 0)
    return SystemError("watch descriptor " + std::to_string(fd), errno);
  if (auto old = watches_.find(fd); old != watches_.end()) old->second->removed = true;
  watches_[fd] = std::make_shared<Watch>(Watch{std::move(callback), false});
  return {};
}

Status EventLoop::Modify(int fd, std::uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  if (epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &event) != 0)
    return SystemError("watch descriptor " + std::to_string(fd), errno);
  return {};
}

void EventLoop::Remove(int fd) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return;
  // The dispatch loop may hold this watch for an event of this round: mark it.
  it->second->removed = true;
  watches_.erase(it);
  epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
}

EventLoop::TimerId EventLoop::AddTimer(std::chrono::milliseconds delay,
                                       std::function<void()> callback) {
  const TimerId id = next_timer_++;
  timers_.emplace(Clock::now() + delay, std::make_pair(id, std::move(callback)));
  return id;
}

void EventLoop::CancelTimer(TimerId id) {
  for (auto it = timers_.begin(); it != timers_.end(); ++it) {
    if (it->second.first == id) {
      timers_.erase(it);
      return;
    }
  }
}

int EventLoop::Timeout() const {
  if (timers_.empty()) return -1;
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(timers_.begin()->first - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

void EventLoop::RunDueTimers() {
  const auto now = Clock::now();
  while (!timers_.empty() && timers_.begin()->first <= now && !stopped_) {
    auto callback = std::move(timers_.begin()->second.second);
    timers_.erase(timers_.begin());
    callback();
  }
}

Status EventLoop::Run() {
  stopped_ = false;
  epoll_event events[64];
  while (!stopped_) {
    const int ready = epoll_wait(epoll_, events, 64, Timeout());
    if (ready < 0) {
      if (errno == EINTR) continue;
      return SystemError("wait for events", errno);
    }
    for (int i = 0; i < ready && !stopped_; ++i) {
      auto it = watches_.find(events[i].data.fd);
      if (it == watches_.end()) continue;
      const std::shared_ptr<Watch> watch = it->second;  // survives a Remove() in its callback
      if (!watch->removed) watch->callback(events[i].events);
    }
    RunDueTimers();
  }
  return {};
}

}  // namespace qmin
