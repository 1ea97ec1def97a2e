// Running one service call on our side of a data vchan: look the service up,
// start it (a process, or a socket service), and join it to the vchan with a
// service-side DataLink. Used by qrx-agent in VMs and by qrx-broker for
// dom0's own services. The owner reaps children and reports their status
// through Reaped().
#ifndef QMIN_LIB_QRX_RUNNER_H_
#define QMIN_LIB_QRX_RUNNER_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "event_loop.h"
#include "log.h"
#include "qrx_data.h"
#include "qrx_service.h"

namespace qmin::qrx {

class ServiceRunner {
 public:
  using Finished = std::function<void(std::uint32_t domain, std::uint32_t port)>;
  ServiceRunner(EventLoop& loop, std::vector<std::string> rpc_dirs, Log& log, Finished finished);

  /// Connects to the caller's data vchan (retrying while the caller has not
  /// served it yet) and runs the call there.
  void Start(std::uint32_t domain, std::uint32_t port, Result<ServiceCall> call);
  /// A child exited with `status` (from waitpid); false if it was not ours.
  bool Reaped(pid_t pid, int status);
  std::size_t running() const { return calls_.size(); }

 private:
  struct Call {
    std::unique_ptr<DataLink> link;
    pid_t pid = -1;
    std::uint32_t domain = 0;
    std::uint32_t port = 0;
  };
  void Connect(std::uint64_t id, Result<ServiceCall> call, int attempt);
  void Run(std::uint64_t id, std::unique_ptr<Vchan> vchan, const Result<ServiceCall>& call);
  void End(std::uint64_t id);

  EventLoop& loop_;
  std::vector<std::string> rpc_dirs_;
  Log& log_;
  Finished finished_;
  std::map<std::uint64_t, Call> calls_;
  std::uint64_t next_ = 1;
};

}  // namespace qmin::qrx

#endif  // QMIN_LIB_QRX_RUNNER_H_
