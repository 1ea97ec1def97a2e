// Stopper: a VM shuts down once nothing running depends on it; a clean
// shutdown (xl shutdown -w) that takes longer than the timeout, or fails,
// ends in xl destroy.
#include <signal.h>

#include <algorithm>

#include "xen_host.h"
#include "xvm_run.h"

namespace qmin {

Stopper::Stopper(EventLoop& loop, Log& log, const XvmOptions& options, const VmMap& vms,
                 std::vector<std::string> plan)
    : XvmRun(loop, log, options, vms), plan_(std::move(plan)) {
  for (const std::string& name : plan_) state_[name] = Vm{};
}

void Stopper::OnDomainsChanged() {
  const std::map<unsigned, std::string> names = DomainNames();
  for (auto& [name, vm] : state_) {
    const bool running = FindDomain(names, name).has_value();
    if (vm.running && !running) Gone(name);
    vm.running = running;
  }
  Launch();
}

void Stopper::Launch() {
  for (const std::string& name : plan_) {
    Vm& vm = state_[name];
    if (!vm.running || vm.stopping) continue;
    const std::vector<std::string> dependents = Dependents(vms_, name);
    const bool waits =
        std::any_of(dependents.begin(), dependents.end(), [&](const std::string& other) {
          return state_.count(other) != 0 && state_[other].running;
        });
    if (!waits) Stop(name);
  }
}

void Stopper::Stop(const std::string& name) {
  Vm& vm = state_[name];
  vm.stopping = true;
  log_.Notice("shutting " + name + " down");
  Result<pid_t> pid =
      xl_.Run({"shutdown", "-w", name}, [this, name](int status, const std::string&) {
        Vm& stopped = state_[name];
        stopped.shutdown = -1;
        if (stopped.deadline != 0) loop_.CancelTimer(stopped.deadline);
        stopped.deadline = 0;
        if (status != 0 && stopped.running) return Destroy(name);
        OnDomainsChanged();
        MaybeDone();
      });
  if (!pid) return Destroy(name);
  vm.shutdown = *pid;
  vm.deadline = loop_.AddTimer(std::chrono::seconds(options_.stop_timeout), [this, name] {
    Vm& late = state_[name];
    late.deadline = 0;
    log_.Warning(name + " did not shut down within " + std::to_string(options_.stop_timeout) +
                 " s: destroying it");
    if (late.shutdown > 0) kill(late.shutdown, SIGTERM);
  });
}

void Stopper::Destroy(const std::string& name) {
  Result<pid_t> pid = xl_.Run({"destroy", name}, [this, name](int status, const std::string& said) {
    if (status != 0) {
      failed_ = true;
      log_.Error(InvalidError("destroy " + name, said.empty() ? "xl destroy failed" : said));
    }
    OnDomainsChanged();
    MaybeDone();
  });
  if (!pid) {
    failed_ = true;
    log_.Error(pid.error());
  }
}

void Stopper::Gone(const std::string& name) { log_.Notice(name + " is down"); }

bool Stopper::Done() const {
  return std::none_of(state_.begin(), state_.end(),
                      [](const auto& entry) { return entry.second.running; });
}

}  // namespace qmin
