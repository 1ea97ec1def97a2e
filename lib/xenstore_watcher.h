// Xenstore watches on a connection of their own that the event loop polls.
// Debian's static libxenstore has no reader thread: on its connections a
// watch event that arrives while a request waits for its reply breaks the
// request, and there is no fd to poll. This speaks xenstore's wire protocol
// (xen/io/xs_wire.h) for watches only: WATCH and UNWATCH may go out at any
// time, and their replies and the events come back in any order.
#ifndef QMIN_LIB_XENSTORE_WATCHER_H_
#define QMIN_LIB_XENSTORE_WATCHER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "error.h"
#include "xenstore.h"

namespace qmin {

class XenstoreWatcher {
 public:
  /// Connects where libxenstore would: $XENSTORED_PATH, xenstored's socket,
  /// or the xenbus device.
  static Result<XenstoreWatcher> Open();
  XenstoreWatcher(XenstoreWatcher&& other) noexcept;
  XenstoreWatcher& operator=(XenstoreWatcher&&) = delete;
  XenstoreWatcher(const XenstoreWatcher&) = delete;
  ~XenstoreWatcher();

  /// Polls readable when events or replies are there: call Drain().
  int fd() const { return fd_; }
  /// Each watch fires once at once, then on every change at or below `path`.
  Status Watch(const std::string& path, const std::string& token);
  Status Unwatch(const std::string& path, const std::string& token);

  struct Drained {
    std::vector<WatchEvent> events;
    std::vector<std::string> refusals;  ///< xenstored's errors for our requests
  };
  /// Everything that has arrived; an error means the connection is unusable.
  Result<Drained> Drain();

 private:
  explicit XenstoreWatcher(int fd) : fd_(fd) {}
  Status Send(std::uint32_t type, const std::string& path, const std::string& token);

  int fd_;
  std::vector<std::uint8_t> in_;
};

}  // namespace qmin

#endif  // QMIN_LIB_XENSTORE_WATCHER_H_
