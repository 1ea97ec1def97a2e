#include "rate_limit.h"

#include <algorithm>
#include <cmath>

namespace qmin {

TokenBucket::TokenBucket(double per_second, double burst)
    : per_second_(per_second), burst_(burst), tokens_(burst), last_(Clock::now()) {}

void TokenBucket::Refill(Clock::time_point now) {
  const double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + std::max(0.0, seconds) * per_second_);
  last_ = now;
}

bool TokenBucket::Take(Clock::time_point now) {
  Refill(now);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

std::chrono::milliseconds TokenBucket::UntilNext(Clock::time_point now) {
  Refill(now);
  if (tokens_ >= 1.0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(
      static_cast<long>(std::ceil((1.0 - tokens_) / per_second_ * 1000.0)));
}

LogLimiter::LogLimiter(EventLoop& loop, Log& log, std::size_t burst, std::chrono::seconds interval)
    : loop_(loop), log_(log), burst_(burst), interval_(interval) {}

LogLimiter::~LogLimiter() {
  for (auto& [subject, window] : windows_)
    if (window.timer != 0) loop_.CancelTimer(window.timer);
}

void LogLimiter::Notice(const std::string& subject, const std::string& text) {
  const auto now = EventLoop::Clock::now();
  auto [it, added] = windows_.try_emplace(subject);
  Window& window = it->second;
  if (added || (window.timer == 0 && now - window.start >= interval_)) window = Window{now};
  if (window.said < burst_) {
    ++window.said;
    return log_.Notice(text);
  }
  if (window.dropped++ == 0)
    window.timer = loop_.AddTimer(
        std::chrono::duration_cast<std::chrono::milliseconds>(window.start + interval_ - now),
        [this, subject] { Close(subject); });
}

// The end of a window that dropped lines: say how many, once.
void LogLimiter::Close(const std::string& subject) {
  auto it = windows_.find(subject);
  if (it == windows_.end()) return;
  log_.Notice(std::to_string(it->second.dropped) + " more messages about " + subject +
              " dropped in " + std::to_string(interval_.count()) + " s");
  windows_.erase(it);
}

}  // namespace qmin
