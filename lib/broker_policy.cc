#include "broker_policy.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

namespace qmin {
namespace {

// Blocks the signals and reads them from a descriptor, so that the loop
// sleeps in poll() and a signal is just another event.
class SignalFd {
 public:
  SignalFd() {
    sigemptyset(&mask_);
    for (int signal : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&mask_, signal);
    sigprocmask(SIG_BLOCK, &mask_, &previous_);
    fd_ = signalfd(-1, &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
  }
  ~SignalFd() {
    if (fd_ >= 0) close(fd_);
    sigprocmask(SIG_SETMASK, &previous_, nullptr);
  }
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;

  int fd() const { return fd_; }
  /// The next pending signal, or 0.
  int Next() const {
    signalfd_siginfo info{};
    return read(fd_, &info, sizeof info) == sizeof info ? static_cast<int>(info.ssi_signo) : 0;
  }

 private:
  sigset_t mask_{};
  sigset_t previous_{};
  int fd_ = -1;
};

void LogLoad(Log& log, const LoadReport& report, const std::string& what) {
  if (report.ok()) {
    log.Info("policy " + what + "ed: " + std::to_string(report.rules) + " rules from " +
             std::to_string(report.files.size()) + " files");
    return;
  }
  for (const std::string& error : report.errors) log.Warning("policy error: " + error);
  const std::size_t count = report.errors.size();
  log.Error(InvalidError(what + " the policy", std::to_string(count) +
                                                   (count == 1 ? " error" : " errors") +
                                                   "; every call is denied until fixed"));
}

}  // namespace

int DecisionExitCode(const Decision& decision) {
  switch (decision.verdict) {
    case Decision::Verdict::kAllow:
      return 0;
    case Decision::Verdict::kAsk:
      return 2;
    case Decision::Verdict::kDeny:
      return 1;
  }
  return 1;
}

Evaluation EvaluateOnce(const PolicySources& sources, const std::string& source,
                        const std::string& target, const std::string& call) {
  Evaluation evaluation;
  Policy policy;
  evaluation.report = LoadPolicySources(sources, policy);
  PolicyRequest request = SplitServiceArgument(call);
  request.source = source;
  request.target = target;
  evaluation.decision = policy.Evaluate(request);
  if (!evaluation.report.ok()) evaluation.decision.reason = "the policy has errors";
  return evaluation;
}

LoadReport CheckPolicy(const PolicySources& sources, std::vector<Rule>& rules) {
  Policy policy;
  return LoadPolicySources(sources, policy, &rules);
}

Status ServePolicy(const PolicySources& sources, Log& log) {
  SignalFd signals;
  if (signals.fd() < 0) return SystemError("receive signals", errno);
  Policy policy;
  LoadReport report = LoadPolicySources(sources, policy);
  LogLoad(log, report, "load");
  Result<PolicyWatch> watch = PolicyWatch::Open(sources, report);
  if (!watch) return watch.error();
  for (;;) {
    pollfd fds[] = {{signals.fd(), POLLIN, 0}, {watch->fd(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return SystemError("wait for events", errno);
    }
    bool reload = (fds[1].revents & POLLIN) != 0 && watch->Drain();
    while (const int signal = signals.Next()) {
      if (signal == SIGHUP) reload = true;
      if (signal == SIGTERM || signal == SIGINT) {
        log.Info("stopping on signal " + std::to_string(signal));
        return {};
      }
    }
    if (!reload) continue;
    report = LoadPolicySources(sources, policy);
    LogLoad(log, report, "reload");
    watch->Rewatch(sources, report);
  }
}

}  // namespace qmin
