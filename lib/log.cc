#include "log.h"

#include <syslog.h>
#include <unistd.h>

#include <cerrno>

namespace qmin {

Log::Log(std::string tool, unsigned sinks, int verbosity)
    : tool_(std::move(tool)), sinks_(0), verbosity_(verbosity) {
  set_sinks(sinks);
}

Log::~Log() {
  if (syslog_open_) closelog();
}

void Log::set_sinks(unsigned sinks) {
  sinks_ = sinks;
  if ((sinks_ & kSyslog) != 0 && !syslog_open_) {
    // tool_ outlives the syslog connection: closelog() runs in ~Log().
    openlog(tool_.c_str(), LOG_PID, LOG_DAEMON);
    syslog_open_ = true;
  }
}

void Log::AfterFork() {
  if (syslog_open_) closelog();
  syslog_open_ = false;
  if ((sinks_ & kSyslog) != 0) set_sinks(sinks_);
}

void Log::Fatal(const qmin::Error& error) const {
  Emit(LOG_ERR, "fatal", "unable to " + error.Text());
}

void Log::Error(const qmin::Error& error) const {
  Emit(LOG_ERR, "error", "unable to " + error.Text());
}

void Log::Warning(const qmin::Error& error) const {
  Emit(LOG_WARNING, "warning", "unable to " + error.Text());
}

void Log::Warning(std::string_view text) const { Emit(LOG_WARNING, "warning", text); }

void Log::Notice(std::string_view text) const { Emit(LOG_NOTICE, "notice", text); }

void Log::Usage(std::string_view text) const { Emit(LOG_ERR, "usage", text); }

void Log::Info(std::string_view text) const {
  if (verbosity_ >= 1) Emit(LOG_INFO, "info", text);
}

void Log::Debug(std::string_view text) const {
  if (verbosity_ >= 2) Emit(LOG_DEBUG, "debug", text);
}

void Log::Emit(int priority, std::string_view level, std::string_view text) const {
  const int saved_errno = errno;  // callers may still want the errno they had
  if ((sinks_ & kStderr) != 0) {
    std::string line = tool_;
    line.append(": ").append(level).append(": ").append(text).append("\n");
    // One write() per message so that lines of concurrent processes do not mix.
    ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
  }
  if ((sinks_ & kSyslog) != 0) {
    syslog(priority, "%.*s: %.*s", static_cast<int>(level.size()), level.data(),
           static_cast<int>(text.size()), text.data());
  }
  errno = saved_errno;
}

}  // namespace qmin
