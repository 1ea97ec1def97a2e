// Running the host's own xl beside an event loop: xvm-start creates,
// destroys and shuts down domains with it (never through libxenlight: xl's
// configuration parser lives only in xl, and the host's xl matches the
// hypervisor's domctl version). What xl says on stderr is kept for the
// error message; nothing waits for xl but its callback.
#ifndef QMIN_LIB_XL_JOBS_H_
#define QMIN_LIB_XL_JOBS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "error.h"
#include "event_loop.h"

namespace qmin {

class XlJobs {
 public:
  /// xl's exit status and what it wrote to stderr (the first 64 KiB).
  using Done = std::function<void(int status, const std::string& said)>;
  XlJobs(EventLoop& loop, std::string xl) : loop_(loop), xl_(std::move(xl)) {}
  ~XlJobs();
  XlJobs(const XlJobs&) = delete;
  XlJobs& operator=(const XlJobs&) = delete;

  /// Runs `xl ARGS...`; a failure to start it is the error.
  Result<pid_t> Run(const std::vector<std::string>& args, Done done);
  /// A child ended: true if it was one of ours (its Done is called).
  bool Reaped(pid_t pid, int status);
  std::size_t running() const { return jobs_.size(); }

 private:
  struct Job {
    int fd = -1;
    std::string said;
    Done done;
  };
  void Read(pid_t pid);

  EventLoop& loop_;
  std::string xl_;
  std::map<pid_t, Job> jobs_;
};

}  // namespace qmin

#endif  // QMIN_LIB_XL_JOBS_H_
