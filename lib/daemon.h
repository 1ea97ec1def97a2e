// The life of a daemon once its options are read, the same for qrx-broker
// and qrx-agent: while it starts, what goes wrong is said on the terminal
// too (unless -d already sends everything there); then it runs on its event
// loop, logging to syslog only, until a signal stops it.
#ifndef QMIN_LIB_DAEMON_H_
#define QMIN_LIB_DAEMON_H_

#include <utility>

#include "cli.h"
#include "error.h"
#include "event_loop.h"
#include "log.h"

namespace qmin {

/// `Daemon` is built as Daemon(EventLoop&, Options, Log&) and has Start().
template <typename Daemon, typename Options>
Result<int> RunDaemon(const Args& args, Log& log, Options options) {
  const bool foreground = args.Has("debug");
  if (!foreground) log.set_sinks(Log::kSyslog | Log::kStderr);
  Result<EventLoop> loop = EventLoop::Create();
  if (!loop) return loop.error();
  Daemon daemon(*loop, std::move(options), log);
  if (Status started = daemon.Start(); !started) return started.error();
  if (!foreground) log.set_sinks(Log::kSyslog);
  if (Status ran = loop->Run(); !ran) return ran.error();
  return 0;
}

}  // namespace qmin

#endif  // QMIN_LIB_DAEMON_H_
