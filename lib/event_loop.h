// One event loop for qmin's daemons: epoll for descriptors, one-shot timers,
// nothing else. It sleeps in epoll_wait until something is ready or a timer
// is due, so an idle daemon uses no CPU.
#ifndef QMIN_LIB_EVENT_LOOP_H_
#define QMIN_LIB_EVENT_LOOP_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>

#include "error.h"

namespace qmin {

class EventLoop {
 public:
  using Callback = std::function<void(std::uint32_t events)>;
  using TimerId = std::uint64_t;
  using Clock = std::chrono::steady_clock;

  static Result<EventLoop> Create();
  EventLoop(EventLoop&& other) noexcept;
  EventLoop& operator=(EventLoop&&) = delete;
  EventLoop(const EventLoop&) = delete;
  ~EventLoop();

  /// Calls `callback` with the epoll events whenever `fd` is ready for
  /// `events` (EPOLLIN, EPOLLOUT, ...). Level-triggered.
  Status Add(int fd, std::uint32_t events, Callback callback);
  Status Modify(int fd, std::uint32_t events);
  /// Safe from inside any callback, the fd's own included.
  void Remove(int fd);

  /// Blocks `signals` and calls `on_signal` with each one as it arrives,
  /// through a signalfd the loop owns. SIGPIPE is ignored as well: a peer
  /// that goes away is an error to handle, not a reason to die.
  Status OnSignals(std::initializer_list<int> signals, std::function<void(int)> on_signal);

  /// Calls `callback` once after `delay`.
  TimerId AddTimer(std::chrono::milliseconds delay, std::function<void()> callback);
  void CancelTimer(TimerId id);

  /// Dispatches events until Stop(); an error only if epoll itself fails.
  Status Run();
  void Stop() { stopped_ = true; }

 private:
  explicit EventLoop(int epoll) : epoll_(epoll) {}
  struct Watch {
    Callback callback;
    bool removed = false;
  };
  void RunDueTimers();
  int Timeout() const;

  int epoll_;
  int signal_fd_ = -1;
  bool stopped_ = false;
  std::map<int, std::shared_ptr<Watch>> watches_;
  std::multimap<Clock::time_point, std::pair<TimerId, std::function<void()>>> timers_;
  TimerId next_timer_ = 1;
};

}  // namespace qmin

#endif  // QMIN_LIB_EVENT_LOOP_H_
