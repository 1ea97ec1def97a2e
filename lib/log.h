// The one message shape of qmin, on stderr or syslog:
//   TOOL: fatal: unable to ACTION: REASON    (the tool exits)
//   TOOL: error: unable to ACTION: REASON    (a daemon carries on, degraded)
//   TOOL: warning: TEXT
//   TOOL: notice: TEXT       (a daemon's record of what it decided)
//   TOOL: usage: TEXT
//   TOOL: info: TEXT       (with -v)
//   TOOL: debug: TEXT      (with -vv)
// On syslog the "TOOL: " prefix is the ident. The Log is the only part of lib/
// that writes anything, and only when a main() or a daemon loop asks it to.
#ifndef QMIN_LIB_LOG_H_
#define QMIN_LIB_LOG_H_

#include <string>
#include <string_view>

#include "error.h"

namespace qmin {

class Log {
 public:
  enum Sink : unsigned { kStderr = 1, kSyslog = 2 };

  explicit Log(std::string tool, unsigned sinks = kStderr, int verbosity = 0);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  const std::string& tool() const { return tool_; }
  int verbosity() const { return verbosity_; }
  void set_verbosity(int verbosity) { verbosity_ = verbosity; }
  void set_sinks(unsigned sinks);
  /// In a forked child that is about to close what it inherited: drops the
  /// syslog connection (the next message opens a new one), so that syslog
  /// never writes into a descriptor number the child has reused.
  void AfterFork();

  void Fatal(const qmin::Error& error) const;
  void Error(const qmin::Error& error) const;
  void Warning(const qmin::Error& error) const;
  void Warning(std::string_view text) const;
  void Usage(std::string_view text) const;
  void Notice(std::string_view text) const;
  void Info(std::string_view text) const;
  void Debug(std::string_view text) const;

 private:
  void Emit(int priority, std::string_view level, std::string_view text) const;

  std::string tool_;
  unsigned sinks_;
  int verbosity_;
  bool syslog_open_ = false;
};

}  // namespace qmin

#endif  // QMIN_LIB_LOG_H_
