// What one misbehaving domain may cost dom0, which runs from RAM: how many
// requests it may make (a token bucket) and how much it may write to the log
// (a limit per subject, with one line saying how much was dropped).
#ifndef QMIN_LIB_RATE_LIMIT_H_
#define QMIN_LIB_RATE_LIMIT_H_

#include <chrono>
#include <map>
#include <string>

#include "event_loop.h"
#include "log.h"

namespace qmin {

/// `burst` at once, then `per_second`.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(double per_second, double burst);
  /// Takes one token if there is one.
  bool Take(Clock::time_point now);
  /// How long until a token is there again.
  std::chrono::milliseconds UntilNext(Clock::time_point now);

 private:
  void Refill(Clock::time_point now);
  double per_second_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

/// Notices about one subject (a domain): at most `burst` per `interval`.
/// What is dropped is counted, and said in one line when the interval ends.
class LogLimiter {
 public:
  LogLimiter(EventLoop& loop, Log& log, std::size_t burst, std::chrono::seconds interval);
  ~LogLimiter();
  LogLimiter(const LogLimiter&) = delete;
  LogLimiter& operator=(const LogLimiter&) = delete;

  void Notice(const std::string& subject, const std::string& text);

 private:
  struct Window {
    EventLoop::Clock::time_point start;
    std::size_t said = 0;
    std::size_t dropped = 0;
    EventLoop::TimerId timer = 0;
  };
  void Close(const std::string& subject);

  EventLoop& loop_;
  Log& log_;
  std::size_t burst_;
  std::chrono::seconds interval_;
  std::map<std::string, Window> windows_;
};

}  // namespace qmin

#endif  // QMIN_LIB_RATE_LIMIT_H_
