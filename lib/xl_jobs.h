// Running the host's own xl beside an event loop: xvm-start creates,
// destroys and shuts down domains with it (never through libxenlight: xl's
// configuration parser lives only in xl, and the host's xl matches the
// hypervisor's domctl version). What xl says on stderr is kept for the
// error message; nothing waits for xl but its callback, and no xl runs
// without a deadline: one that has not ended by then is killed, with its
// process group, and ends as a failure that says so.
#ifndef QMIN_LIB_XL_JOBS_H_
#define QMIN_LIB_XL_JOBS_H_

#include <sys/types.h>

#include <chrono>
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

  /// Runs `xl ARGS...`, for at most `limit`; a failure to start it is the
  /// error. One killed at its limit ends with status 137.
  Result<pid_t> Run(const std::vector<std::string>& args, Done done,
                    std::chrono::seconds limit = kDefaultLimit);
  /// Kills a job now, as its limit would.
  void Kill(pid_t pid);
  /// What an xl command that only asks Xen (destroy, list) may take.
  static constexpr std::chrono::seconds kDefaultLimit{60};
  /// A child ended: true if it was one of ours (its Done is called).
  bool Reaped(pid_t pid, int status);
  std::size_t running() const { return jobs_.size(); }

 private:
  struct Job {
    int fd = -1;
    std::string said;
    Done done;
    EventLoop::TimerId deadline = 0;
    std::chrono::seconds limit{0};
    bool killed = false;
  };
  void Read(pid_t pid);

  EventLoop& loop_;
  std::string xl_;
  std::map<pid_t, Job> jobs_;
};

}  // namespace qmin

#endif  // QMIN_LIB_XL_JOBS_H_
